//! Remote control commands: what a master station sends to a meter or terminal, and what a
//! meter receives.
//!
//! The kinds are the functions shared by DL/T 645-2007 control frames (control code `0x1C`,
//! control type byte) and Q/GDW 376.1 AFN 05 control commands. This crate does not encode
//! frames; the table says how a caller maps them (the mapping code lives in the examples):
//!
//! | [`CommandKind`] | DL/T 645 `1C` type | Q/GDW 376.1 AFN 05 |
//! |---|---|---|
//! | [`Trip`](CommandKind::Trip) | `1A` 跳闸 | F1 遥控跳闸 |
//! | [`AllowClose`](CommandKind::AllowClose) | `1B` 合闸允许 | F2 允许合闸 |
//! | [`DirectClose`](CommandKind::DirectClose) | `1C` 直接合闸 | — (F2, then the customer closes) |
//! | [`Alarm`](CommandKind::Alarm) | `2A` 报警 | F26 催费告警投入 |
//! | [`AlarmRelease`](CommandKind::AlarmRelease) | `2B` 报警解除 | F34 催费告警解除 |
//! | [`GuardOn`](CommandKind::GuardOn) | `3A` 保电 | F25 终端保电投入 |
//! | [`GuardOff`](CommandKind::GuardOff) | `3B` 保电解除 | F33 终端保电解除 |
//!
//! Sources: DL/T 645-2007 control command (control code 1C: the control types, with an expiry
//! time after each command) and the AFN 05H control commands of Q/GDW 1376.1-2013.

use crate::output::{Cause, CloseReason};

/// A remote control function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum CommandKind {
    /// Open the relay (645 `1A`, AFN 05 F1).
    Trip,
    /// Lift a remote trip; the customer closes the relay (645 `1B`, AFN 05 F2).
    AllowClose,
    /// Lift a remote trip and close the relay at once (645 `1C`).
    DirectClose,
    /// Switch the payment-reminder alarm on (645 `2A`, AFN 05 F26).
    Alarm,
    /// Switch the payment-reminder alarm off (645 `2B`, AFN 05 F34).
    AlarmRelease,
    /// Guard (保电): no fee or remote trip until lifted (645 `3A`, AFN 05 F25).
    GuardOn,
    /// Lift the guard (645 `3B`, AFN 05 F33).
    GuardOff,
}

/// The function a command belongs to; a later command supersedes an earlier pending one of the
/// same group for the same meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum CommandGroup {
    /// Trip, allow close, direct close.
    Relay,
    /// Alarm, alarm release.
    Alarm,
    /// Guard on, guard off.
    Guard,
}

named!(CommandKind);

impl CommandKind {
    /// The group this command belongs to.
    #[must_use]
    pub const fn group(self) -> CommandGroup {
        match self {
            Self::Trip | Self::AllowClose | Self::DirectClose => CommandGroup::Relay,
            Self::Alarm | Self::AlarmRelease => CommandGroup::Alarm,
            Self::GuardOn | Self::GuardOff => CommandGroup::Guard,
        }
    }

    /// A short lower-case name (`"trip"`, `"allow_close"`, …), as in the serde form.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Trip => "trip",
            Self::AllowClose => "allow_close",
            Self::DirectClose => "direct_close",
            Self::Alarm => "alarm",
            Self::AlarmRelease => "alarm_release",
            Self::GuardOn => "guard_on",
            Self::GuardOff => "guard_off",
        }
    }
}

/// Why the master-station engine issued a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum CommandReason {
    /// A trip, for this cause (the highest-precedence active one).
    Open(Cause),
    /// An allow-close or direct-close, for this reason.
    Close(CloseReason),
    /// A payment reminder (alarm on/off following the credit state).
    Reminder,
    /// An operator asked for it (guard on/off, or a remote command passed through the engine).
    Operator,
}

/// A command the master-station engine wants sent to the customer's meter; hand it to the
/// [`Tracker`](crate::Tracker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Command {
    /// What to do.
    pub kind: CommandKind,
    /// Why.
    pub reason: CommandReason,
}

impl Command {
    /// Whether this command restores supply after a payment (an allow-close or direct-close
    /// with reason [`CloseReason::Payment`]); the tracker gives such commands a deadline.
    #[must_use]
    pub const fn is_restoring(&self) -> bool {
        matches!(
            (self.kind, self.reason),
            (
                CommandKind::AllowClose | CommandKind::DirectClose,
                CommandReason::Close(CloseReason::Payment)
            )
        )
    }
}
