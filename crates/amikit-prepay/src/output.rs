//! What the engine decides: relay actions, commands, alarms, notifications, event records,
//! persistence requests and rejections.

use amikit_tariff::Money;

use crate::command::{Command, CommandKind};
use crate::input::{InputKind, PurchaseId, TopUpSource};
use crate::snapshot::Snapshot;
use crate::state::CreditState;
use crate::time::Timestamp;

/// A reason for the relay to be open.
///
/// **Precedence** (highest first): [`Overload`](Cause::Overload) > [`Remote`](Cause::Remote) >
/// [`Fee`](Cause::Fee). The relay is open while *any* active cause requires it; the precedence
/// only decides which cause an open action and a cut notification name. Guard (保电) suppresses
/// `Remote` and `Fee` but never `Overload`; a friendly-credit window suppresses `Fee` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Cause {
    /// Power at or above the overload limit for the sustain time; recloses by itself.
    Overload,
    /// A remote trip command (DL/T 645 `1A`, AFN 05 F1) not yet lifted.
    Remote,
    /// Credit: alarm 2 (user-restorable), zero / overdraft not selected, or exhausted (hard cut).
    Fee,
}

impl Cause {
    const fn bit(self) -> u8 {
        match self {
            Self::Overload => 1,
            Self::Remote => 2,
            Self::Fee => 4,
        }
    }

    /// A short lower-case name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Overload => "overload",
            Self::Remote => "remote",
            Self::Fee => "fee",
        }
    }
}

named!(Cause, RelayState, CloseReason, AlarmLevel);

/// A set of [`Cause`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Causes(u8);

impl Causes {
    /// No cause.
    pub const NONE: Self = Self(0);

    /// Whether the set is empty.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `cause` is in the set.
    #[must_use]
    pub const fn contains(self, cause: Cause) -> bool {
        self.0 & cause.bit() != 0
    }

    /// The set with `cause` added or removed.
    #[must_use]
    pub const fn with(self, cause: Cause, present: bool) -> Self {
        if present {
            Self(self.0 | cause.bit())
        } else {
            Self(self.0 & !cause.bit())
        }
    }

    /// The cause with the highest precedence, if any.
    #[must_use]
    pub const fn primary(self) -> Option<Cause> {
        if self.contains(Cause::Overload) {
            Some(Cause::Overload)
        } else if self.contains(Cause::Remote) {
            Some(Cause::Remote)
        } else if self.contains(Cause::Fee) {
            Some(Cause::Fee)
        } else {
            None
        }
    }

    /// The causes, highest precedence first.
    pub fn iter(self) -> impl Iterator<Item = Cause> {
        [Cause::Overload, Cause::Remote, Cause::Fee]
            .into_iter()
            .filter(move |c| self.contains(*c))
    }
}

impl core::ops::Sub for Causes {
    type Output = Self;

    /// The causes in `self` that are not in `rhs`.
    fn sub(self, rhs: Self) -> Self {
        Self(self.0 & !rhs.0)
    }
}

impl core::ops::BitAnd for Causes {
    type Output = Self;

    /// The causes in both `self` and `rhs`.
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

/// The relay as the engine knows it.
///
/// "Allowed to close" ([`Armed`](RelayState::Armed)) is distinct from "closed": after a cut is
/// lifted in a profile with manual reconnection the relay stays open until the customer acts
/// (button, card), as DL/T 645 `1B` 合闸允许 and UK practice require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum RelayState {
    /// Supply on.
    #[default]
    Closed,
    /// Supply off, and some cause keeps it off (or the engine has not yet allowed it back).
    Open,
    /// Supply off, no cause left: the customer may close it (button or card).
    Armed,
}

impl RelayState {
    /// A short lower-case name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::Armed => "armed",
        }
    }
}

/// Why an open relay may close (or closes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum CloseReason {
    /// A top-up lifted the fee cut.
    Payment,
    /// The customer pressed the button or inserted a card.
    User,
    /// A remote allow-close or direct-close command.
    Remote,
    /// Guard (保电) was switched on: an open relay is actively closed.
    Guard,
    /// The overload reclose time elapsed.
    Overload,
    /// A friendly-credit window began.
    Friendly,
    /// A parameter change lifted the fee cut.
    Parameter,
    /// State restored at power-up.
    PowerUp,
    /// The relay was seen open although the engine had closed it: the close is re-issued once
    /// ([`Output::RelayMismatch`]).
    Reconcile,
}

impl CloseReason {
    /// A short lower-case name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::User => "user",
            Self::Remote => "remote",
            Self::Guard => "guard",
            Self::Overload => "overload",
            Self::Friendly => "friendly",
            Self::Parameter => "parameter",
            Self::PowerUp => "power_up",
            Self::Reconcile => "reconcile",
        }
    }
}

/// An operation on the meter's own relay (meter profiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum RelayAction {
    /// Open the relay.
    Open {
        /// The highest-precedence active cause.
        cause: Cause,
        /// Every active cause.
        causes: Causes,
    },
    /// Keep the relay open but allow the customer to close it (indicate "press to reconnect").
    Arm {
        /// Why the cut was lifted.
        reason: CloseReason,
    },
    /// Close the relay.
    Close {
        /// Why.
        reason: CloseReason,
    },
}

/// What an alarm indication is about, least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AlarmLevel {
    /// A remote payment-reminder alarm (DL/T 645 `2A`, AFN 05 F26).
    Reminder,
    /// Credit at or below alarm 1 (报警金额1, low credit).
    Low,
    /// Credit at or below alarm 2 (报警金额2): supply cut, the customer may restore it.
    Alarm2,
    /// Credit at or below zero: running on overdraft / emergency credit, or cut until selected.
    Overdraft,
    /// Overdraft / emergency credit exhausted: hard cut until a top-up passes the reconnect
    /// threshold.
    Exhausted,
}

impl AlarmLevel {
    /// A short lower-case name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Reminder => "reminder",
            Self::Low => "low",
            Self::Alarm2 => "alarm2",
            Self::Overdraft => "overdraft",
            Self::Exhausted => "exhausted",
        }
    }
}

/// A message for the customer (what a master station's SMS service sends, what a meter shows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Notification {
    /// Credit fell to alarm 1 (low credit).
    LowCredit {
        /// Credit net of debt.
        net: Money,
    },
    /// Payment needed: credit fell to alarm 2 or zero, or an operator sent a reminder.
    PaymentReminder {
        /// Credit net of debt.
        net: Money,
    },
    /// Emergency credit / overdraft of this amount can now be selected.
    EmergencyCreditAvailable {
        /// The overdraft limit / emergency credit amount.
        amount: Money,
    },
    /// A top-up was accepted.
    PaymentReceived {
        /// The amount.
        amount: Money,
        /// Credit net of debt after it.
        net: Money,
    },
    /// Supply was cut.
    Cut {
        /// The highest-precedence cause.
        cause: Cause,
    },
    /// Supply may be reconnected by the customer (button or card).
    ReconnectAllowed,
    /// Supply is back on.
    Restored,
}

/// An entry for the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Record {
    /// A top-up was accepted.
    TopUp {
        /// The amount.
        amount: Money,
        /// Its purchase count or order number.
        id: PurchaseId,
        /// Where it came from.
        source: TopUpSource,
        /// Debt repaid from it (per the [`DebtRecovery`](crate::DebtRecovery) policy).
        repaid: Money,
        /// The debt left after it.
        debt: Money,
        /// The credit after it, as the thresholds see it ([`Status::available`](crate::Status::available)).
        net: Money,
    },
    /// A refund was accepted.
    Refund {
        /// The amount.
        amount: Money,
        /// Its purchase count or order number.
        id: PurchaseId,
        /// Credit net of debt after it.
        net: Money,
    },
    /// The credit state changed.
    CreditChanged {
        /// Before.
        from: CreditState,
        /// After.
        to: CreditState,
        /// Credit net of debt.
        net: Money,
    },
    /// Consumption could not be taken from the balance (it is at its floor) and became debt.
    DebtAccrued {
        /// The amount added to the debt.
        amount: Money,
        /// The debt after it.
        debt: Money,
    },
    /// The customer restored an alarm-2 cut (button or card).
    Alarm2Restored,
    /// The customer selected emergency credit / overdraft.
    EmergencySelected,
    /// A remote command was accepted.
    Remote {
        /// The command.
        kind: CommandKind,
        /// The operator code it carried (DL/T 645 operator code; `0xFFFF_FFFF` for automatic).
        operator: u32,
    },
    /// A parameter changed.
    Parameter,
    /// Overload detected: the relay opens for the reclose time.
    Overload {
        /// The power sample that completed the sustain time, in watts.
        watts: u32,
        /// When the relay may reclose.
        reclose_at: Timestamp,
    },
    /// A friendly-credit window began (`true`) or ended (`false`).
    Friendly(bool),
    /// State was restored from a snapshot at power-up.
    PoweredUp {
        /// The snapshot's generation.
        generation: u32,
    },
}

/// Why an input was refused. A refused input changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Rejection {
    /// The purchase count or order number was already used (replay).
    #[error("replayed purchase {0:?}")]
    Replayed(PurchaseId),
    /// The purchase count is not the next one.
    #[error("purchase count {got}, expected {expected}")]
    OutOfSequence {
        /// The next count the meter accepts.
        expected: u32,
        /// The count received.
        got: u32,
    },
    /// The top-up would take the credit above the hoarding limit (囤积金额限值).
    #[error("hoarding limit {limit} would be exceeded")]
    Hoarding {
        /// The limit.
        limit: Money,
    },
    /// The remote command expired before it arrived.
    #[error("command expired at {}", .expires.0)]
    Expired {
        /// Its expiry time.
        expires: Timestamp,
    },
    /// A remote trip while guard (保电) is on.
    #[error("guarded: remote trip refused")]
    Guarded,
    /// A refund larger than the credit.
    #[error("refund exceeds the credit")]
    InsufficientCredit,
    /// A top-up or refund that is not positive, or a negative charge.
    #[error("invalid amount")]
    InvalidAmount,
    /// Negative energy in a consumption input.
    #[error("negative energy")]
    NegativeEnergy,
    /// The tariff could not price the consumption.
    #[error("pricing failed: {0}")]
    Price(crate::pricer::PriceError),
    /// The parameter change would make the configuration invalid.
    #[error("invalid parameter: {0}")]
    InvalidParameter(crate::config::ConfigError),
    /// The snapshot's checksum, magic or version is wrong.
    #[error("bad snapshot")]
    BadSnapshot,
    /// The result does not fit the money representation.
    #[error("arithmetic overflow")]
    Overflow,
    /// The engine was powered down ([`Input::PowerDown`](crate::Input::PowerDown)): only
    /// [`Input::PowerUp`](crate::Input::PowerUp) is accepted.
    #[error("powered down: waiting for power-up")]
    PoweredDown,
}

/// One decision of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Output {
    /// Operate the meter's relay (meter profiles).
    Relay(RelayAction),
    /// Send this command to the customer's meter (master-station profile); see
    /// [`Tracker`](crate::Tracker).
    Command(Command),
    /// Switch the alarm indication on at `level`, or off (`level` is then the one switched off).
    Alarm {
        /// On or off.
        on: bool,
        /// The level.
        level: AlarmLevel,
    },
    /// Tell the customer.
    Notify(Notification),
    /// Log this.
    Record(Record),
    /// Persist this snapshot (before carrying out the relay action that follows it).
    Persist(Snapshot),
    /// The relay was observed ([`Input::RelayPosition`](crate::Input::RelayPosition)) in a
    /// position other than the one the engine commanded: it did not act (or something else
    /// moved it). On the first mismatch since the position last agreed the engine re-issues its
    /// action in the same step (`reissued`: an [`Output::Relay`] or [`Output::Command`] follows);
    /// if the position still disagrees at the next report it does not re-issue again
    /// (`reissued` false) and the caller should raise an alarm or a manual job.
    RelayMismatch {
        /// What the engine commanded ([`RelayState::Armed`] never mismatches: open is right,
        /// and closed means the customer closed it).
        commanded: RelayState,
        /// What was observed: [`RelayState::Closed`] or [`RelayState::Open`].
        observed: RelayState,
        /// Whether the engine re-issued its action in this step.
        reissued: bool,
    },
    /// The input was refused and changed nothing.
    Reject {
        /// What was refused.
        input: InputKind,
        /// Why.
        reason: Rejection,
    },
}
