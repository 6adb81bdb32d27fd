#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod balance;
pub mod calendar;
pub mod charge;
#[cfg(feature = "decimal")]
pub mod decimal;
#[cfg(all(feature = "serde", feature = "alloc"))]
pub mod def;
pub mod error;
pub mod quantity;
pub mod quote;
pub mod step;
pub mod tariff;
pub mod tou;
#[cfg(all(feature = "serde", feature = "alloc"))]
pub mod validate;

pub use balance::{Applied, Balance, DebtRecovery, OrderNo, RecoveryPeriod, TopUpReceipt};
pub use calendar::{Date, DateTime, MonthDay, TimeOfDay, Weekday};
pub use charge::{
    Charge, ChargeSnapshot, ChargeState, MeterChange, Reading, Register, StandingCharges,
    delta_across_change,
};
pub use error::{
    BalanceError, CalendarError, ChargeError, ParseError, QuantityError, QuoteError, Table,
    TariffError,
};
pub use quantity::{Cost, Energy, ExactMoney, Money, Price, Remainder, Rounding};
pub use quote::{LineKind, Quote, QuoteLine};
pub use step::{InvalidDates, Settlement, SettlementDate, StepPosition, StepTable};
pub use tariff::{
    Levy, Multiplier, PassiveTariff, Pricing, StandingCharge, Tariff, TariffSet, UnitPrice,
};
pub use tou::{DayTable, DayTableId, Period, Rate, Season, SpecialDate, SpecialDay, TouTable};

/// The version of this crate, as published.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
