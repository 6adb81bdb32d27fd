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

impl Profile {
    /// All profiles.
    pub const ALL: [Self; 3] = [Self::StateGridLocal, Self::StateGridRemote, Self::Iec62055];

    /// The profile's name as used on the command line.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::StateGridLocal => "state-grid-local",
            Self::StateGridRemote => "state-grid-remote",
            Self::Iec62055 => "iec62055",
        }
    }

    /// The profile called `name` (see [`Profile::name`]).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
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
            },
            Self::StateGridRemote => Policy {
                actuation: Actuation::Commands,
                reconnect: Reconnect::Manual,
                local_top_up_closes: false,
                overdraft_needs_selection: false,
                persist_every: 120,
            },
            Self::Iec62055 => Policy {
                actuation: Actuation::Relay,
                reconnect: Reconnect::Manual,
                local_top_up_closes: false,
                overdraft_needs_selection: true,
                persist_every: 120,
            },
        }
    }

    /// A configuration with this profile's policy and typical parameters, to adjust:
    ///
    /// | profile | alarm 1 | alarm 2 | overdraft | EC threshold | reconnect | hoarding | overload |
    /// |---|---|---|---|---|---|---|---|
    /// | State Grid local | 10.00 | 2.00 | 10.00 | — | 0.00 | 9999.99 | 6 kW, 10 s, reclose 60 s |
    /// | State Grid remote | 10.00 | — | — | — | 0.00 | — | — |
    /// | IEC 62055 / UK | 2.00 | — | 5.00 (EC) | 1.00 | 0.00 | 250.00 | — |
    ///
    /// Defaults seen in State Grid tooling: alarm 1 10 元, hoarding 9999.99 or 10 000, overdraft
    /// 10.00 (`payment-domain.md` §2.2); UK amounts are illustrative (E470-style EC of £5 at a
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
                reconnect: Money::ZERO,
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
}

impl Config {
    /// Sets the parameter `p` (no validation: see [`Config::validate`]). What
    /// [`Input::SetParam`](crate::Input::SetParam) changes in a running engine.
    pub fn apply(&mut self, p: crate::input::Param) {
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
        }
    }

    /// Checks the configuration.
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
