//! Token identifier (TID): whole minutes since 00:00 of the base date, in 24 bits.
//!
//! * Base dates (BDT): 1993-01-01, 2014-01-01, 2035-01-01 ([`BaseDate`]).
//! * The TID is computed on a plain civil date-time ([`DateTime`], `amikit-core`'s, re-exported
//!   here) in whatever fixed zone the system uses; no clock and no time-zone rules are involved,
//!   so daylight saving cannot creep in. Seconds are truncated (IEC 62055-41 §6.3.5: the TID
//!   counts whole minutes since the base date).
//! * 24 bits roll over after 2^24 minutes: 2024-11-24 20:16 for base 1993 (the last valid
//!   minute is 20:15), 2045-11-24 20:16 for base 2014, 2066-11-24 20:16 for base 2035.
//! * **Reserved minute**: vending never issues a TID with `TID mod 1440 == 1` (00:01 of a day);
//!   [`Tid::for_issue`] moves such a time to the next minute (STS 531 CTSA09 step 2 expects
//!   the 00:02 TID for an issue time of 00:01).

use core::fmt;

pub use amikit_core::DateTime;
use amikit_core::TimeOfDay;

use crate::error::{KeyError, TidError};

/// A token identifier: minutes since the base date, below 2^24.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tid(u32);

/// Minutes in a day.
const DAY_MINUTES: u32 = 1440;

impl Tid {
    /// The largest TID (2^24 − 1).
    pub const MAX: u32 = (1 << 24) - 1;

    /// The TID with this value; [`TidError::TooLarge`] at 2^24 or more.
    pub(crate) const fn new(value: u32) -> Result<Tid, TidError> {
        if value > Tid::MAX {
            Err(TidError::TooLarge(value))
        } else {
            Ok(Tid(value))
        }
    }

    /// The TID of the low 24 bits of `bits` (the upper bits are ignored).
    pub const fn from_bits(bits: u32) -> Tid {
        Tid(bits & Tid::MAX)
    }

    /// The TID's value (minutes since the base date).
    pub(crate) const fn value(self) -> u32 {
        self.0
    }

    /// The TID of a date-time (seconds truncated), without the reserved-minute rule.
    pub const fn from_datetime(at: &DateTime, base: BaseDate) -> Result<Tid, TidError> {
        let minutes = epoch_minutes(at) - base.epoch_minutes();
        if minutes < 0 {
            return Err(TidError::BeforeBase { base: base.year() });
        }
        if minutes > Tid::MAX as i64 {
            return Err(TidError::Rollover {
                minutes: minutes as u64,
            });
        }
        Ok(Tid(minutes as u32))
    }

    /// The TID vending issues at a date-time: as [`Tid::from_datetime`], but the reserved
    /// minute (00:01 of a day, `TID mod 1440 == 1`) moves to the next minute.
    pub const fn for_issue(at: &DateTime, base: BaseDate) -> Result<Tid, TidError> {
        match Tid::from_datetime(at, base) {
            Ok(tid) if tid.is_reserved() => {
                // TID mod 1440 == 1, so TID + 1 ≤ 2^24 − 1 cannot overflow 24 bits
                // (2^24 − 1 mod 1440 is 1215).
                Tid::new(tid.0 + 1)
            }
            other => other,
        }
    }

    /// Whether this is the reserved minute (`TID mod 1440 == 1`).
    pub const fn is_reserved(self) -> bool {
        self.0 % DAY_MINUTES == 1
    }

    /// The date-time this TID stands for.
    pub const fn to_datetime(self, base: BaseDate) -> DateTime {
        // 32-bit arithmetic: whole days after the base date, then the minute of that day.
        let days = (self.0 / DAY_MINUTES) as i32; // < 2^24 / 1440 = 11 651
        let minute = self.0 % DAY_MINUTES; // < 1440
        let start = base.midnight();
        // minute < 1440: hour < 24 and minute of the hour < 60, so the time of day exists.
        let time = TimeOfDay::new((minute / 60) as u8, (minute % 60) as u8);
        match (start.date().add_days(days), time) {
            (Ok(day), Ok(time)) => DateTime::at(day, time),
            // 2^24 minutes after 2035-01-01 is in 2066: always inside the calendar, so this
            // arm is never taken; it answers the base date rather than panic.
            _ => start,
        }
    }

    /// The top 8 bits, compared with the key expiry number (`TID >> 16 > KEN` is expired).
    pub(crate) const fn expiry_byte(self) -> u8 {
        (self.0 >> 16) as u8
    }
}

impl fmt::Display for Tid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The base date of the TID (BDT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum BaseDate {
    /// 1993-01-01 (code "93"), the original base date.
    #[default]
    Y1993,
    /// 2014-01-01 (code "14").
    Y2014,
    /// 2035-01-01 (code "35").
    Y2035,
}

impl BaseDate {
    /// The base date of this year (1993, 2014 or 2035).
    pub const fn from_year(year: u16) -> Result<BaseDate, KeyError> {
        match year {
            1993 => Ok(BaseDate::Y1993),
            2014 => Ok(BaseDate::Y2014),
            2035 => Ok(BaseDate::Y2035),
            other => Err(KeyError::BaseDate(other)),
        }
    }

    /// The year.
    pub const fn year(self) -> u16 {
        match self {
            BaseDate::Y1993 => 1993,
            BaseDate::Y2014 => 2014,
            BaseDate::Y2035 => 2035,
        }
    }

    /// The two-digit code used in DKGA04 ("93", "14", "35").
    pub const fn code(self) -> &'static str {
        match self {
            BaseDate::Y1993 => "93",
            BaseDate::Y2014 => "14",
            BaseDate::Y2035 => "35",
        }
    }

    /// The base date after a TID rollover (1993 → 2014 → 2035); `None` after 2035.
    pub const fn next(self) -> Option<BaseDate> {
        match self {
            BaseDate::Y1993 => Some(BaseDate::Y2014),
            BaseDate::Y2014 => Some(BaseDate::Y2035),
            BaseDate::Y2035 => None,
        }
    }

    /// 00:00 on 1 January of the base year.
    const fn midnight(self) -> DateTime {
        match DateTime::new(self.year(), 1, 1, 0, 0, 0) {
            Ok(t) => t,
            // 1993, 2014 and 2035 are valid years: never taken.
            Err(_) => amikit_core::Date::EPOCH.midnight(),
        }
    }

    /// Whole minutes from 1970-01-01 00:00 to the base date.
    const fn epoch_minutes(self) -> i64 {
        epoch_minutes(&self.midnight())
    }
}

impl fmt::Display for BaseDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.year())
    }
}

/// Whole minutes from 1970-01-01 00:00 to `at` (seconds truncated), without a 64-bit division.
const fn epoch_minutes(at: &DateTime) -> i64 {
    at.date().days_since_epoch() as i64 * DAY_MINUTES as i64
        + at.hour() as i64 * 60
        + at.minute() as i64
}

impl TryFrom<u32> for Tid {
    type Error = TidError;

    /// The TID with this value; [`TidError::TooLarge`] at 2^24 or more.
    fn try_from(value: u32) -> Result<Self, TidError> {
        Self::new(value)
    }
}

impl From<Tid> for u32 {
    /// The value of a [`Tid`].
    fn from(value: Tid) -> Self {
        value.value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    #[test]
    fn vectors() {
        // Nectar TransferElectricityCreditTokenIdentifierTest: 25/03/1996 13:55:22 → 0x19EB23.
        let tid = Tid::from_datetime(&dt("1996-03-25T13:55:22"), BaseDate::Y1993).unwrap();
        assert_eq!(tid.value(), 0x19_EB23);
        assert_eq!(tid.to_datetime(BaseDate::Y1993), dt("1996-03-25T13:55"));
        // STS Association: 2016-12-11 15:49 is 12593749; pre-fill value 2020-01-01 08:00.
        assert_eq!(
            Tid::from_datetime(&dt("2016-12-11T15:49"), BaseDate::Y1993)
                .unwrap()
                .value(),
            12_593_749
        );
        assert_eq!(
            Tid::from_datetime(&dt("2020-01-01T08:00"), BaseDate::Y1993)
                .unwrap()
                .value(),
            14_200_320
        );
        assert_eq!(
            Tid::from_datetime(&dt("2020-01-01T08:00"), BaseDate::Y2014)
                .unwrap()
                .value(),
            3_155_520
        );
    }

    #[test]
    fn rollover() {
        // The last valid minute for base 1993 is 2024-11-24 20:15 (STS Association).
        let last = Tid::from_datetime(&dt("2024-11-24T20:15"), BaseDate::Y1993).unwrap();
        assert_eq!(last.value(), Tid::MAX);
        assert_eq!(
            Tid::from_datetime(&dt("2024-11-24T20:16"), BaseDate::Y1993),
            Err(TidError::Rollover {
                minutes: 16_777_216
            })
        );
        assert_eq!(
            Tid::from_datetime(&dt("2045-11-24T20:16"), BaseDate::Y2014),
            Err(TidError::Rollover {
                minutes: 16_777_216
            })
        );
        assert_eq!(
            Tid::from_datetime(&dt("2066-11-24T20:16"), BaseDate::Y2035),
            Err(TidError::Rollover {
                minutes: 16_777_216
            })
        );
        assert_eq!(
            Tid::from_datetime(&dt("1992-12-31T23:59"), BaseDate::Y1993),
            Err(TidError::BeforeBase { base: 1993 })
        );
        assert_eq!(Tid::MAX % 1440, 1215);
    }

    #[test]
    fn reserved_minute() {
        // STS 531 CTSA09 step 2: issue time 2004-03-29 00:01 → TID 5911202 (naive 5911201).
        let at = dt("2004-03-29T00:01");
        assert_eq!(
            Tid::from_datetime(&at, BaseDate::Y1993).unwrap().value(),
            5_911_201
        );
        assert!(Tid::new(5_911_201).unwrap().is_reserved());
        assert_eq!(
            Tid::for_issue(&at, BaseDate::Y1993).unwrap().value(),
            5_911_202
        );
        let other = dt("2004-03-29T00:02");
        assert_eq!(
            Tid::for_issue(&other, BaseDate::Y1993).unwrap().value(),
            5_911_202
        );
    }

    #[test]
    fn parsing() {
        assert_eq!(dt("2004-03-01 13:55:00"), dt("2004-03-01T13:55"));
        assert_eq!(
            std::format!("{}", dt("2004-03-01T13:55:07")),
            "2004-03-01T13:55:07"
        );
        assert_eq!(
            "2004-02-30T00:00".parse::<DateTime>(),
            Err(amikit_core::CalendarError::InvalidDate {
                year: 2004,
                month: 2,
                day: 30
            })
        );
        assert_eq!(
            "2000-02-29T00:00".parse::<DateTime>().map(|d| d.day()),
            Ok(29)
        );
        assert_eq!(
            "1900-02-29T00:00".parse::<DateTime>(),
            Err(amikit_core::CalendarError::InvalidDate {
                year: 1900,
                month: 2,
                day: 29
            })
        );
        // A date alone is its midnight.
        assert_eq!(dt("2004-03-01"), dt("2004-03-01T00:00"));
        assert!("2004-3-01T10:00".parse::<DateTime>().is_err());
        assert!("2004-03-01T24:00".parse::<DateTime>().is_err());
        assert!("+004-03-01T10:00".parse::<DateTime>().is_err());
    }

    #[test]
    fn round_trip_every_day_boundary() {
        // Every TID that is the first minute of a day, for each base date, converts back.
        for base in [BaseDate::Y1993, BaseDate::Y2014, BaseDate::Y2035] {
            let mut tid = 0;
            while tid <= Tid::MAX {
                let t = Tid::new(tid).unwrap();
                assert_eq!(Tid::from_datetime(&t.to_datetime(base), base), Ok(t));
                tid += 1439;
            }
        }
    }
}
