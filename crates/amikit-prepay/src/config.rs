//! Profiles, policy and parameters: one engine, configured, not forked.

use amikit_tariff::Money;

use amikit_tariff::{Date, Weekday};

use crate::time::Timestamp;

/// Maximum number of holiday dates in a [`FriendlyCalendar`].
pub const MAX_HOLIDAYS: usize = 8;

/// The three ways the engine is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Profile {
    /// State Grid local fee control (本地费控): the meter keeps the wallet and drives its own
    /// relay. Alarm 1 warns, alarm 2 cuts (the customer restores it with the button or any
    /// card), zero cuts until the customer selects the overdraft, the overdraft limit cuts hard
    /// until a top-up passes the reconnect threshold; a card top-up closes the relay, a remote
    /// one only allows closing (`payment-domain.md` §2.3).
    StateGridLocal,
    /// State Grid remote fee control (远程费控), master-station side: the same thresholds, but
    /// decisions become [`Command`](crate::Command)s for the customer's meter (trip, allow close,
    /// reminder alarm, guard) instead of relay actions. The overdraft, if set, is used without
    /// selection; a payment that lifts a cut issues an allow-close.
    StateGridRemote,
    /// IEC 62055-31 / UK-style prepayment: low-credit warning, emergency credit offered at a
    /// threshold and selected by the customer, friendly-credit calendar, hard cut when emergency
    /// credit is exhausted until the debt is repaid, and **manual reconnection** always
    /// (never closes on a top-up by itself; `payment-domain.md` §3.2).
    Iec62055,
}

named!(Profile);

/// A profile name that is none of [`Profile::ALL`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile (expected state-grid-local, state-grid-remote or iec62055)")]
pub struct UnknownProfile;

impl core::str::FromStr for Profile {
    type Err = UnknownProfile;

    /// The profile of that name (its `Display` form, as used on the command line).
    fn from_str(name: &str) -> Result<Self, UnknownProfile> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or(UnknownProfile)
    }
}

impl Profile {
    /// All profiles.
    pub const ALL: [Self; 3] = [Self::StateGridLocal, Self::StateGridRemote, Self::Iec62055];

    /// The profile's name as used on the command line (its `Display` form).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::StateGridLocal => "state-grid-local",
            Self::StateGridRemote => "state-grid-remote",
            Self::Iec62055 => "iec62055",
        }
    }

    /// The policy of this profile.
    #[must_use]
    pub const fn policy(self) -> Policy {
        match self {
            Self::StateGridLocal => Policy {
                actuation: Actuation::Relay,
                reconnect: Reconnect::Manual,
                local_top_up_closes: true,
                overdraft_needs_selection: true,
                persist_every: 120,
                debt_recovery: DebtRecovery::All,
            },
            Self::StateGridRemote => Policy {
                actuation: Actuation::Commands,
                reconnect: Reconnect::Manual,
                local_top_up_closes: false,
                overdraft_needs_selection: false,
                persist_every: 120,
                debt_recovery: DebtRecovery::All,
            },
            Self::Iec62055 => Policy {
                actuation: Actuation::Relay,
                reconnect: Reconnect::Manual,
                local_top_up_closes: false,
                overdraft_needs_selection: true,
                persist_every: 120,
                debt_recovery: DebtRecovery::All,
            },
        }
    }

    /// A configuration with this profile's policy and typical parameters, to adjust:
    ///
    /// | profile | alarm 1 | alarm 2 | overdraft | EC threshold | reconnect | hoarding | overload |
    /// |---|---|---|---|---|---|---|---|
    /// | State Grid local | 10.00 | 2.00 | 10.00 | — | 2.00 | 9999.99 | 6 kW, 10 s, reclose 60 s |
    /// | State Grid remote | 10.00 | — | — | — | 0.00 | — | — |
    /// | IEC 62055 / UK | 2.00 | — | 5.00 (EC) | 1.00 | 0.00 | 250.00 | — |
    ///
    /// Defaults seen in State Grid tooling: alarm 1 10 元, hoarding 9999.99 or 10 000, overdraft
    /// 10.00, reconnect threshold 2.00 (合闸允许金额限值, DL/T 645-2007 DI 04001005; it must not be
    /// below alarm 2, see [`Config::validate`]); UK amounts are illustrative (E470-style EC of £5 at a
    /// £1 threshold). The UK profile has a friendly-credit calendar of 16:00–08:00, Saturday
    /// and Sunday.
    #[must_use]
    pub fn config(self) -> Config {
        let m = |raw: i64| Some(Money::from_raw(raw));
        let limits = match self {
            Self::StateGridLocal => Limits {
                alarm1: m(100_000),
                alarm2: m(20_000),
                overdraft: m(100_000),
                emergency_threshold: None,
                reconnect: Money::from_raw(20_000),
                hoarding: m(99_999_900),
            },
            Self::StateGridRemote => Limits {
                alarm1: m(100_000),
                alarm2: None,
                overdraft: None,
                emergency_threshold: None,
                reconnect: Money::ZERO,
                hoarding: None,
            },
            Self::Iec62055 => Limits {
                alarm1: m(20_000),
                alarm2: None,
                overdraft: m(50_000),
                emergency_threshold: m(10_000),
                reconnect: Money::ZERO,
                hoarding: m(2_500_000),
            },
        };
        let overload = match self {
            Self::StateGridLocal => Some(Overload {
                limit_w: 6000,
                sustain_s: 10,
                reclose_s: 60,
            }),
            _ => None,
        };
        let friendly = match self {
            Self::Iec62055 => Some(FriendlyCalendar {
                daily: Some(Window {
                    start: 16 * 60,
                    end: 8 * 60,
                }),
                days: weekday_bit(Weekday::Saturday) | weekday_bit(Weekday::Sunday),
                holidays: heapless::Vec::new(),
            }),
            _ => None,
        };
        Config {
            policy: self.policy(),
            limits,
            overload,
            friendly,
        }
    }
}

/// How decisions reach the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Actuation {
    /// The engine drives its own relay: [`Output::Relay`](crate::Output::Relay) (a meter).
    Relay,
    /// The engine drives a remote meter: [`Output::Command`](crate::Output::Command) (a master
    /// station): open → trip, arm → allow close, close → direct close, alarm on/off → reminder
    /// alarm on/off, operator guard on/off → guard on/off.
    Commands,
}

/// What happens when a fee cut is lifted (by a top-up, a parameter change or a friendly window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Reconnect {
    /// The relay closes by itself (DL/T 645 `1C` direct close).
    Automatic,
    /// The relay is only allowed to close; the customer closes it (DL/T 645 `1B`).
    Manual,
}

/// The behaviour that distinguishes the profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Policy {
    /// Own relay, or commands to a remote meter.
    pub actuation: Actuation,
    /// Closing after a fee cut is lifted.
    pub reconnect: Reconnect,
    /// A top-up made at the meter (card, keypad) is itself the customer's reconnect action.
    pub local_top_up_closes: bool,
    /// Below zero the overdraft / emergency credit must be selected by the customer (button);
    /// otherwise it is used automatically down to its limit.
    pub overdraft_needs_selection: bool,
    /// Seconds between periodic snapshots while money changes (CHINT saves every 2 min).
    pub persist_every: u32,
    /// How much of each top-up repays debt, and so which figure the thresholds apply to.
    #[cfg_attr(feature = "serde", serde(default))]
    pub debt_recovery: DebtRecovery,
}

/// How a top-up repays debt (usage the wallet could not take: guard, friendly credit, the last
/// quantum before a trip, a master station's late readings).
///
/// * [`All`](DebtRecovery::All) (the default; State Grid: a top-up first repays the overdraft,
///   only the excess reaches the remaining-money register): the debt is owed now, so the
///   thresholds apply to the credit **net of debt** (`balance − debt`).
/// * [`PercentOfTopUp`](DebtRecovery::PercentOfTopUp) and
///   [`FixedPerTopUp`](DebtRecovery::FixedPerTopUp) (UK practice, the ZigBee SE 1.2
///   Prepayment cluster's debt-recovery "balance percentage"): the debt is arrears collected a
///   share at a time; the rest of every top-up reaches the wallet, and the thresholds apply to
///   the **wallet** alone. A customer in debt who pays gets credit (and supply) at once.
///
/// [`Status::available`](crate::Status::available) is the figure the thresholds apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum DebtRecovery {
    /// Every top-up repays the whole debt before anything reaches the wallet.
    #[default]
    All,
    /// Every top-up repays at most this percentage of its amount (1–100), rounded **down** to
    /// the money quantum (in the customer's favour), and never more than the debt.
    PercentOfTopUp(u8),
    /// Every top-up repays at most this amount (positive), and never more than the debt.
    FixedPerTopUp(Money),
}

impl DebtRecovery {
    /// The part of a top-up of `amount` (positive) that repays `debt` (not negative):
    /// `min(share, amount, debt)`.
    #[must_use]
    pub fn repayment(self, amount: Money, debt: Money) -> Money {
        let share = match self {
            Self::All => amount,
            Self::PercentOfTopUp(p) => {
                // amount × p / 100, rounded down: |amount| < 2^63 and p ≤ 255 fit in i128.
                let raw = i128::from(amount.raw()) * i128::from(p) / 100;
                Money::from_raw(i64::try_from(raw).unwrap_or(i64::MAX))
            }
            Self::FixedPerTopUp(m) => m,
        };
        share.min(amount).min(debt).max(Money::ZERO)
    }

    /// Whether the debt counts against the credit the thresholds apply to (only with
    /// [`All`](DebtRecovery::All)).
    #[must_use]
    pub(crate) const fn debt_counts_against_credit(self) -> bool {
        matches!(self, Self::All)
    }
}

/// Money thresholds. "Disabled" is `None`, never a magic zero (`payment-domain.md` §2.2).
///
/// With `net` = balance − debt, the credit state is
/// [`Exhausted`](crate::CreditState::Exhausted) at `net ≤ −overdraft` (`net ≤ 0` without an
/// overdraft), [`Zero`](crate::CreditState::Zero) at `−overdraft < net ≤ 0`,
/// [`Alarm2`](crate::CreditState::Alarm2) at `0 < net ≤ alarm2`,
/// [`Low`](crate::CreditState::Low) at `alarm2 < net ≤ alarm1`, else
/// [`Normal`](crate::CreditState::Normal). Leaving `Exhausted` needs a top-up or parameter
/// change that makes `net > reconnect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Limits {
    /// Alarm 1 / low-credit warning (报警金额1).
    pub alarm1: Option<Money>,
    /// Alarm 2: cut the customer can restore (报警金额2).
    pub alarm2: Option<Money>,
    /// Overdraft limit / emergency-credit amount (透支金额限值): how far below zero credit goes.
    pub overdraft: Option<Money>,
    /// Emergency credit may be selected once `net` is at or below this (UK EC threshold);
    /// `None`: only at or below zero. Needs `overdraft`.
    pub emergency_threshold: Option<Money>,
    /// Reconnect threshold (合闸允许金额限值 / clearance threshold): leaving the hard cut needs
    /// `net > reconnect`.
    pub reconnect: Money,
    /// Hoarding limit (囤积金额限值): a top-up that would take `net` above it is refused.
    pub hoarding: Option<Money>,
}

/// Overload protection: power at or above `limit_w` in every sample for at least `sustain_s`
/// seconds opens the relay; it recloses by itself `reclose_s` seconds later. Not suppressed by
/// guard. (State Grid: 过载功率 04090B01, 10 consecutive 1-s samples, automatic reclose.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Overload {
    /// Limit in watts (> 0).
    pub limit_w: u32,
    /// Seconds the overload must last: the first sample at or above the limit at `t0`, the
    /// tripping one at `t ≥ t0 + sustain_s`, none below in between.
    pub sustain_s: u32,
    /// Seconds until the automatic reclose.
    pub reclose_s: u32,
}

/// A daily window in minutes since midnight; `start > end` wraps past midnight
/// (16:00–08:00 is `start = 960, end = 480`). `start == end` is the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Window {
    /// First minute inside the window, 0..1440.
    pub start: u16,
    /// First minute after the window, 0..1440.
    pub end: u16,
}

impl Window {
    /// Whether `minute` (since midnight) is inside.
    #[must_use]
    pub const fn contains(self, minute: u16) -> bool {
        if self.start == self.end {
            true
        } else if self.start < self.end {
            self.start <= minute && minute < self.end
        } else {
            minute >= self.start || minute < self.end
        }
    }
}

/// When the engine does not disconnect for lack of credit (friendly credit: evenings and
/// nights, weekends, public holidays; `payment-domain.md` §3.2). Usage in these windows is
/// charged as usual; once the balance is at its floor it accrues as debt, repaid from the next
/// top-up. Remote trips and overload are not affected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FriendlyCalendar {
    /// A window every day (e.g. 16:00–08:00).
    pub daily: Option<Window>,
    /// Whole days of the week ([`weekday_bit`] mask; Saturday | Sunday for weekends).
    pub days: u8,
    /// Whole dates (public holidays).
    pub holidays: heapless::Vec<Date, MAX_HOLIDAYS>,
}

impl FriendlyCalendar {
    /// A calendar from its parts.
    ///
    /// # Errors
    ///
    /// [`ConfigError::TooManyHolidays`] beyond [`MAX_HOLIDAYS`] dates.
    pub fn new(daily: Option<Window>, days: u8, holidays: &[Date]) -> Result<Self, ConfigError> {
        let holidays = heapless::Vec::from_slice(holidays)
            .map_err(|_| ConfigError::TooManyHolidays(holidays.len()))?;
        Ok(Self {
            daily,
            days,
            holidays,
        })
    }

    /// Whether `t` is inside a friendly window.
    #[must_use]
    pub fn contains(&self, t: Timestamp) -> bool {
        if self.daily.is_some_and(|w| w.contains(t.minute_of_day())) {
            return true;
        }
        if self.days & weekday_bit(t.weekday()) != 0 {
            return true;
        }
        if self.holidays.is_empty() {
            return false;
        }
        t.date().is_some_and(|d| self.holidays.contains(&d))
    }
}

/// The bit of `day` in [`FriendlyCalendar::days`] (Monday = bit 0 … Sunday = bit 6).
#[must_use]
pub const fn weekday_bit(day: Weekday) -> u8 {
    1 << day.index()
}

/// Everything that configures an [`Engine`](crate::Engine).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Config {
    /// Profile behaviour.
    pub policy: Policy,
    /// Money thresholds.
    pub limits: Limits,
    /// Overload protection.
    pub overload: Option<Overload>,
    /// Friendly-credit calendar.
    pub friendly: Option<FriendlyCalendar>,
}

/// A field of [`Limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[allow(missing_docs)]
pub enum LimitField {
    Alarm1,
    Alarm2,
    Overdraft,
    EmergencyThreshold,
    Reconnect,
    Hoarding,
}

/// Why a configuration is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum ConfigError {
    /// A threshold or limit that must not be negative is.
    #[error("{0:?} must not be negative")]
    Negative(LimitField),
    /// Alarm 2 is above alarm 1.
    #[error("alarm 2 is above alarm 1")]
    AlarmOrder,
    /// An emergency-credit threshold without an overdraft / emergency-credit amount.
    #[error("emergency threshold without an overdraft amount")]
    ThresholdWithoutOverdraft,
    /// Overload limit of zero watts.
    #[error("overload limit must be positive")]
    OverloadLimit,
    /// More holiday dates than [`MAX_HOLIDAYS`].
    #[error("{0} holidays, at most {MAX_HOLIDAYS}")]
    TooManyHolidays(usize),
    /// A friendly window minute outside 0..1440.
    #[error("friendly window minute {0} out of range")]
    WindowMinute(u16),
    /// The emergency-credit threshold is above alarm 1: emergency credit would be offered to a
    /// customer who has not even been warned of low credit.
    #[error("emergency threshold {threshold} is above alarm 1 {alarm1}")]
    EmergencyAboveAlarm1 {
        /// The emergency-credit threshold.
        threshold: Money,
        /// Alarm 1.
        alarm1: Money,
    },
    /// The reconnect threshold is below alarm 2: a top-up that passes the reconnect threshold
    /// would leave the customer in the alarm-2 cut (which a master station cannot lift for the
    /// customer at all).
    #[error("reconnect threshold {reconnect} is below alarm 2 {alarm2}")]
    ReconnectBelowAlarm2 {
        /// The reconnect threshold.
        reconnect: Money,
        /// Alarm 2.
        alarm2: Money,
    },
    /// The reconnect threshold is at or above the hoarding limit: no top-up can ever take the
    /// credit above it, so a customer in the hard cut could never reconnect by paying.
    #[error("reconnect threshold {reconnect} is not below the hoarding limit {hoarding}")]
    ReconnectNotBelowHoarding {
        /// The reconnect threshold.
        reconnect: Money,
        /// The hoarding limit.
        hoarding: Money,
    },
    /// An overdraft that must be selected by the customer at the meter, in the master-station
    /// profile: the station never sees that button, so the overdraft could never be used and
    /// zero would cut like the hard cut.
    #[error("an overdraft that needs the customer's selection cannot be used by a master station")]
    OverdraftNotSelectable,
    /// A debt-recovery policy that never recovers debt (0 %, more than 100 %, or a fixed
    /// amount that is not positive).
    #[error("invalid debt recovery {0:?}")]
    DebtRecovery(DebtRecovery),
}

impl Config {
    /// Sets the parameter `p` if the configuration stays valid ([`Config::validate`]). What
    /// [`Input::SetParam`](crate::Input::SetParam) changes in a running engine.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of the changed configuration; `self` is then unchanged.
    pub fn apply(&mut self, p: crate::input::Param) -> Result<(), ConfigError> {
        let mut next = self.clone();
        next.set(p);
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Sets the parameter `p` without validation.
    fn set(&mut self, p: crate::input::Param) {
        use crate::input::Param;
        let l = &mut self.limits;
        match p {
            Param::Alarm1(v) => l.alarm1 = v,
            Param::Alarm2(v) => l.alarm2 = v,
            Param::Overdraft(v) => l.overdraft = v,
            Param::EmergencyThreshold(v) => l.emergency_threshold = v,
            Param::Reconnect(v) => l.reconnect = v,
            Param::Hoarding(v) => l.hoarding = v,
            Param::Overload(v) => self.overload = v,
            Param::Friendly(v) => self.friendly = v,
            Param::DebtRecovery(v) => self.policy.debt_recovery = v,
        }
    }

    /// Checks the configuration: refuses every combination of thresholds that can trap a
    /// customer or that the engine cannot honour. The rules, in the order they are checked:
    ///
    /// 1. No money threshold or limit is negative ([`ConfigError::Negative`]): alarm 1, alarm 2,
    ///    overdraft, emergency threshold, reconnect, hoarding (DL/T 645-2007 carries them as
    ///    unsigned `XXXXXX.XX`). A negative reconnect threshold would let a top-up "lift" the
    ///    hard cut into a cut at zero.
    /// 2. Alarm 2 ≤ alarm 1 ([`ConfigError::AlarmOrder`]): the warning comes before the cut.
    /// 3. An emergency threshold needs an overdraft ([`ConfigError::ThresholdWithoutOverdraft`]).
    /// 4. Emergency threshold ≤ alarm 1 ([`ConfigError::EmergencyAboveAlarm1`]).
    /// 5. Reconnect ≥ alarm 2 ([`ConfigError::ReconnectBelowAlarm2`]): leaving the hard cut
    ///    (`credit > reconnect`) must also leave every fee cut. Below zero is rule 1, so a
    ///    top-up that lifts the hard cut never lands in the cut at zero either.
    /// 6. Reconnect < hoarding ([`ConfigError::ReconnectNotBelowHoarding`]): a top-up is refused
    ///    when it would take the credit above the hoarding limit, so with reconnect ≥ hoarding
    ///    no payment could ever end the hard cut.
    /// 7. The master-station profile ([`Actuation::Commands`]) cannot use an overdraft that the
    ///    customer must select at the meter ([`ConfigError::OverdraftNotSelectable`]).
    /// 8. A debt-recovery policy recovers something: 1–100 % or a positive amount
    ///    ([`ConfigError::DebtRecovery`]).
    /// 9. An overload limit is positive, friendly-window minutes are inside the day.
    ///
    /// The wallet's floor is minus the overdraft limit by construction, the same level as the
    /// hard cut, so it can never sit above the cut.
    ///
    /// # Errors
    ///
    /// The first problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        for (name, v) in [
            (LimitField::Alarm1, l.alarm1),
            (LimitField::Alarm2, l.alarm2),
            (LimitField::Overdraft, l.overdraft),
            (LimitField::EmergencyThreshold, l.emergency_threshold),
            (LimitField::Reconnect, Some(l.reconnect)),
            (LimitField::Hoarding, l.hoarding),
        ] {
            if v.is_some_and(Money::is_negative) {
                return Err(ConfigError::Negative(name));
            }
        }
        if let (Some(a1), Some(a2)) = (l.alarm1, l.alarm2)
            && a2 > a1
        {
            return Err(ConfigError::AlarmOrder);
        }
        if l.emergency_threshold.is_some() && l.overdraft.is_none() {
            return Err(ConfigError::ThresholdWithoutOverdraft);
        }
        if let (Some(threshold), Some(alarm1)) = (l.emergency_threshold, l.alarm1)
            && threshold > alarm1
        {
            return Err(ConfigError::EmergencyAboveAlarm1 { threshold, alarm1 });
        }
        if let Some(alarm2) = l.alarm2
            && l.reconnect < alarm2
        {
            return Err(ConfigError::ReconnectBelowAlarm2 {
                reconnect: l.reconnect,
                alarm2,
            });
        }
        if let Some(hoarding) = l.hoarding
            && l.reconnect >= hoarding
        {
            return Err(ConfigError::ReconnectNotBelowHoarding {
                reconnect: l.reconnect,
                hoarding,
            });
        }
        if self.policy.actuation == Actuation::Commands
            && self.policy.overdraft_needs_selection
            && l.overdraft.is_some_and(Money::is_positive)
        {
            return Err(ConfigError::OverdraftNotSelectable);
        }
        let recovery = self.policy.debt_recovery;
        let recovers = match recovery {
            DebtRecovery::All => true,
            DebtRecovery::PercentOfTopUp(p) => (1..=100).contains(&p),
            DebtRecovery::FixedPerTopUp(m) => m.is_positive(),
        };
        if !recovers {
            return Err(ConfigError::DebtRecovery(recovery));
        }
        if self.overload.is_some_and(|o| o.limit_w == 0) {
            return Err(ConfigError::OverloadLimit);
        }
        if let Some(w) = self.friendly.as_ref().and_then(|f| f.daily) {
            for m in [w.start, w.end] {
                if m >= 1440 {
                    return Err(ConfigError::WindowMinute(m));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;
    use crate::{Cause, Causes, CreditState, Engine, RelayState};

    #[test]
    fn profile_names_round_trip_and_unknown_is_refused() {
        for p in Profile::ALL {
            assert_eq!(p.to_string().parse::<Profile>(), Ok(p));
            assert_eq!(p.name(), p.to_string());
        }
        assert_eq!("state-grid".parse::<Profile>(), Err(UnknownProfile));
        assert_eq!("".parse::<Profile>(), Err(UnknownProfile));
    }

    #[test]
    fn names_are_the_serde_words() {
        assert_eq!(Cause::Overload.to_string(), "overload");
        assert_eq!(RelayState::Armed.to_string(), "armed");
        assert_eq!(CreditState::Alarm2.to_string(), "alarm2");
    }

    #[test]
    fn cause_set_operators() {
        let all = Causes::NONE
            .with(Cause::Fee, true)
            .with(Cause::Remote, true);
        let fee = Causes::NONE.with(Cause::Fee, true);
        assert_eq!(all - fee, Causes::NONE.with(Cause::Remote, true));
        assert_eq!(all & fee, fee);
        assert_eq!(fee - all, Causes::NONE);
        assert_eq!((all - fee) & fee, Causes::NONE);
    }

    #[test]
    fn status_reports_the_opening_balance() {
        let e = Engine::new(Profile::StateGridLocal.config(), Money::from_raw(-150_000)).unwrap();
        let s = e.status();
        // Overdraft 10.00: the wallet stops at −10.00, the other 5.00 is debt.
        assert_eq!(s.balance, Money::from_raw(-100_000));
        assert_eq!(s.debt, Money::from_raw(50_000));
        assert_eq!(s.net, Money::from_raw(-150_000));
        assert_eq!(s.available, s.net);
        assert_eq!(s.credit, CreditState::Exhausted);
        assert!(!s.powered_down && !s.guarded && s.overload_until.is_none());
    }
}
