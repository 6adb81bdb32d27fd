//! What the engine is told: consumption, payments, time, the customer, remote commands, load,
//! parameter changes, power-up.

use amikit_tariff::{Energy, Money};

use crate::command::CommandKind;
use crate::config::{DebtRecovery, FriendlyCalendar, Overload};
use crate::snapshot::Snapshot;
use crate::time::Timestamp;

/// Identifies a top-up or refund for anti-replay.
///
/// * [`Sequence`](PurchaseId::Sequence): the State Grid purchase count (购电次数), which must be
///   exactly the meter's count + 1 (`payment-domain.md` §2.4); lower or equal is a replay,
///   higher is a gap and is refused too.
/// * [`Order`](PurchaseId::Order): a purchase order number (购电单号, Q/GDW 376.1 F47), which must
///   be greater than the last one accepted; lower or equal is a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PurchaseId {
    /// Purchase count: must be the last accepted count + 1.
    Sequence(u32),
    /// Order number: must exceed the last accepted order number.
    Order(u64),
}

/// Where a top-up came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum TopUpSource {
    /// A purchase card inserted into the meter (固态介质).
    Card,
    /// A token typed on the meter's keypad (STS).
    Token,
    /// Sent over the network (虚拟介质, master station, remote purchase).
    Remote,
    /// Recorded at a counter or by an operator (master station side).
    Counter,
}

impl TopUpSource {
    /// Whether the customer was at the meter (card, keypad): in profiles with
    /// [`local_top_up_closes`](crate::Policy::local_top_up_closes) that counts as the reconnect
    /// action.
    pub(crate) const fn is_local(self) -> bool {
        matches!(self, Self::Card | Self::Token)
    }
}

/// A customer action at the meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum UserAction {
    /// The button was pressed.
    Button,
    /// A card was inserted (any card restores an alarm-2 cut, `payment-domain.md` §2.3).
    Card,
}

/// A remote control command as received by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Remote {
    /// What to do.
    pub kind: CommandKind,
    /// After this time the command has no effect (DL/T 645 `1C` carries it); a command with
    /// `now > expires` is refused with [`Rejection::Expired`](crate::Rejection::Expired).
    pub expires: Timestamp,
    /// The operator code, for the event record.
    pub operator: u32,
}

/// A parameter change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Param {
    /// Alarm 1 threshold (报警金额1, 04001001); `None` disables it.
    Alarm1(Option<Money>),
    /// Alarm 2 threshold (报警金额2, 04001002); `None` disables it.
    Alarm2(Option<Money>),
    /// Overdraft limit / emergency credit amount (透支金额限值, 04001003); `None` disables it.
    Overdraft(Option<Money>),
    /// Emergency-credit offer threshold; `None`: offered only at zero.
    EmergencyThreshold(Option<Money>),
    /// Reconnect threshold (合闸允许金额限值, 04001005).
    Reconnect(Money),
    /// Hoarding limit (囤积金额限值, 04001004); `None`: unlimited.
    Hoarding(Option<Money>),
    /// Overload protection (过载功率 04090B01 and timing); `None` disables it.
    Overload(Option<Overload>),
    /// Friendly-credit calendar; `None` disables it.
    Friendly(Option<FriendlyCalendar>),
    /// How much of each top-up repays debt ([`DebtRecovery`]).
    DebtRecovery(DebtRecovery),
}

/// One input to [`Engine::handle`](crate::Engine::handle). The time comes separately as `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Input {
    /// Energy consumed since the previous consumption input, priced through the
    /// [`Pricer`](crate::Pricer) at `now`.
    Consume {
        /// The energy (must not be negative).
        energy: Energy,
    },
    /// An amount already priced elsewhere (standing charge, debt instalment), charged like
    /// consumption.
    Charge {
        /// The amount (must not be negative).
        amount: Money,
    },
    /// A payment.
    TopUp {
        /// The amount (positive).
        amount: Money,
        /// Its purchase count or order number (anti-replay).
        id: PurchaseId,
        /// Where it came from.
        source: TopUpSource,
    },
    /// Money given back to the customer (退费), at most the credit.
    Refund {
        /// The amount (positive).
        amount: Money,
        /// Its purchase count or order number (anti-replay, shared with top-ups).
        id: PurchaseId,
    },
    /// Time passed (friendly-credit windows, overload reclose, periodic persistence).
    Tick,
    /// The customer pressed the button or inserted a card. In the master-station profile: the
    /// meter reported that its customer closed a relay the station had allowed to close (the
    /// engine records the relay as closed and sends nothing).
    User(UserAction),
    /// A remote control command.
    Remote(Remote),
    /// A power sample, in watts (overload protection).
    Load {
        /// Active power in watts.
        watts: u32,
    },
    /// A parameter change.
    SetParam(Param),
    /// Power came back (or a master station restarted); restore this snapshot (see
    /// [`recover`](crate::recover) for choosing one among several copies). The relay position
    /// and the alarm in force come back as they were, without outputs: drive the relay and
    /// the alarm indicator from [`Status::relay`](crate::Status::relay) and
    /// [`Status::alarm`](crate::Status::alarm) afterwards. Outputs follow only where the
    /// restored state calls for a change.
    PowerUp(Snapshot),
    /// The supply is failing: the engine answers with a final [`Output::Persist`](crate::Output::Persist)
    /// (with the pricer's charging state) and then refuses every input but
    /// [`Input::PowerUp`] with [`Rejection::PoweredDown`](crate::Rejection::PoweredDown), so
    /// that nothing accepted after the last snapshot can be lost. No relay action: the relay
    /// keeps its position (a latching relay) or opens with the supply; the restored snapshot
    /// says what it should be.
    PowerDown,
    /// The relay position read back from the meter: DL/T 645-2007 status word 3
    /// (DI `04000503`) bit 4 "relay state" (0 closed, 1 open), or the local relay's feedback
    /// contact. The engine compares it with what it commanded: a relay the engine had allowed
    /// to close ([`RelayState::Armed`](crate::RelayState::Armed)) reported closed was closed by
    /// the customer and is recorded as closed; any other disagreement is reported as
    /// [`Output::RelayMismatch`](crate::Output::RelayMismatch) and re-issued once. Feed the
    /// position read after the last relay action was carried out (a master station: after the
    /// command was acknowledged).
    RelayPosition {
        /// Whether the relay is closed (supply on).
        closed: bool,
    },
}

/// Which kind of input was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[allow(missing_docs)]
pub enum InputKind {
    Consume,
    Charge,
    TopUp,
    Refund,
    Tick,
    User,
    Remote,
    Load,
    SetParam,
    PowerUp,
    PowerDown,
    RelayPosition,
}

impl From<&Input> for InputKind {
    /// The kind of an input.
    fn from(input: &Input) -> Self {
        match input {
            Input::Consume { .. } => Self::Consume,
            Input::Charge { .. } => Self::Charge,
            Input::TopUp { .. } => Self::TopUp,
            Input::Refund { .. } => Self::Refund,
            Input::Tick => Self::Tick,
            Input::User(_) => Self::User,
            Input::Remote(_) => Self::Remote,
            Input::Load { .. } => Self::Load,
            Input::SetParam(_) => Self::SetParam,
            Input::PowerUp(_) => Self::PowerUp,
            Input::PowerDown => Self::PowerDown,
            Input::RelayPosition { .. } => Self::RelayPosition,
        }
    }
}
