#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
// The `Arbitrary` derive (feature `arbitrary`, host-only fuzzing) names `::std`.
#[cfg(any(test, feature = "arbitrary"))]
extern crate std;

/// `Display` from a type's `name()` (the short lower-case name also used by its serde form).
macro_rules! named {
    ($($t:ty),* $(,)?) => {$(
        impl core::fmt::Display for $t {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.name())
            }
        }
    )*};
}

pub mod command;
pub mod config;
pub mod engine;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod input;
pub mod output;
pub mod pricer;
pub mod sink;
pub mod snapshot;
pub mod state;
pub mod time;
pub mod tracker;

pub use command::{Command, CommandGroup, CommandKind, CommandReason};
pub use config::{
    Actuation, Config, ConfigError, DebtRecovery, FriendlyCalendar, LimitField, Limits, Overload,
    Policy, Profile, Reconnect, UnknownProfile, Window, weekday_bit,
};
pub use engine::{Engine, MAX_OUTPUTS, Outputs, Status};
pub use input::{Input, InputKind, Param, PurchaseId, Remote, TopUpSource, UserAction};
pub use output::{
    AlarmLevel, Cause, Causes, CloseReason, Notification, Output, Record, Rejection, RelayAction,
    RelayState,
};
pub use pricer::{ChargeWith, FlatPricer, NoCharge, PriceError, Pricer, TariffPricer};
pub use sink::{CountSink, FnSink, Sink};
pub use snapshot::{
    Charging, RecoverError, SNAPSHOT_LEN, SNAPSHOT_V1_LEN, Snapshot, SnapshotError, recover,
};
pub use state::CreditState;
pub use time::Timestamp;
pub use tracker::{
    CommandId, CommandStatus, Job, JobReason, MootReason, Outcome, Tracked, Tracker, TrackerConfig,
    TrackerError, TrackerEvent,
};

/// The tariff crate this engine prices through (same version), for `Tariff`, `ChargeState`, ….
pub use amikit_tariff as tariff;

/// Money, energy, price and the civil calendar, re-exported from `amikit-tariff`.
pub use amikit_tariff::{Date, DateTime, Energy, Money, Price, Weekday};

/// The version of this crate, as published.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
