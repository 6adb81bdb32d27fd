//! Token identifier (TID): whole minutes since 00:00 of the base date, in 24 bits.
//!
//! * Base dates (BDT): 1993-01-01, 2014-01-01, 2035-01-01 ([`BaseDate`]).
//! * The TID is computed on a plain civil date-time ([`DateTime`]) in whatever fixed zone the
//!   system uses; no clock and no time-zone rules are involved, so daylight saving cannot creep
//!   in. Seconds are truncated.
//! * 24 bits roll over after 2^24 minutes: 2024-11-24 20:16 for base 1993 (the last valid
//!   minute is 20:15), 2045-11-24 20:16 for base 2014, 2066-11-24 20:16 for base 2035.
//! * **Reserved minute**: vending never issues a TID with `TID mod 1440 == 1` (00:01 of a day);
//!   [`Tid::for_issue`] moves such a time to the next minute (STS 531 CTSA09 step 2 expects
//!   the 00:02 TID for an issue time of 00:01).

use core::fmt;
use core::str::FromStr;

use crate::error::{DateTimeError, KeyError, TidError};

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
    pub const fn new(value: u32) -> Result<Tid, TidError> {
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
    pub const fn value(self) -> u32 {
        self.0
    }

    /// The TID of a date-time (seconds truncated), without the reserved-minute rule.
    pub const fn from_datetime(at: &DateTime, base: BaseDate) -> Result<Tid, TidError> {
        let minutes = at.minutes_since_1900() as i64 - base.minutes_since_1900() as i64;
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
        DateTime::from_minutes_since_1900(base.minutes_since_1900() + self.0 as u64)
    }

    /// The top 8 bits, compared with the key expiry number (`TID >> 16 > KEN` is expired).
    pub const fn expiry_byte(self) -> u8 {
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

    const fn minutes_since_1900(self) -> u64 {
        DateTime::midnight_jan1(self.year()).minutes_since_1900()
    }
}

impl fmt::Display for BaseDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.year())
    }
}

/// A civil date-time (proleptic Gregorian, no zone), years 1900–9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DateTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

const fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

const fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days from 1970-01-01 to a civil date (H. Hinnant's `days_from_civil`).
const fn days_from_civil(year: u16, month: u8, day: u8) -> i64 {
    let y = if month <= 2 {
        year as i64 - 1
    } else {
        year as i64
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date of a day count from 1970-01-01 (H. Hinnant's `civil_from_days`).
const fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

/// Days from 1970-01-01 back to 1900-01-01.
const DAYS_1900: i64 = days_from_civil(1900, 1, 1);

impl DateTime {
    /// A validated date-time.
    pub const fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Result<DateTime, DateTimeError> {
        if year < 1900 || year > 9999 {
            return Err(DateTimeError::Year(year));
        }
        if month < 1 || month > 12 {
            return Err(DateTimeError::Month(month));
        }
        if day < 1 || day > days_in_month(year, month) {
            return Err(DateTimeError::Day(day));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(DateTimeError::Time {
                hour,
                minute,
                second,
            });
        }
        Ok(DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    const fn midnight_jan1(year: u16) -> DateTime {
        DateTime {
            year,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
        }
    }

    /// Year.
    pub const fn year(&self) -> u16 {
        self.year
    }
    /// Month (1–12).
    pub const fn month(&self) -> u8 {
        self.month
    }
    /// Day of the month (1–31).
    pub const fn day(&self) -> u8 {
        self.day
    }
    /// Hour (0–23).
    pub const fn hour(&self) -> u8 {
        self.hour
    }
    /// Minute (0–59).
    pub const fn minute(&self) -> u8 {
        self.minute
    }
    /// Second (0–59).
    pub const fn second(&self) -> u8 {
        self.second
    }

    /// Whole minutes since 1900-01-01 00:00 (seconds truncated).
    const fn minutes_since_1900(&self) -> u64 {
        let days = days_from_civil(self.year, self.month, self.day) - DAYS_1900;
        days as u64 * 1440 + self.hour as u64 * 60 + self.minute as u64
    }

    /// The date-time this many minutes after 1900-01-01 00:00 (saturating at 9999-12-31 23:59).
    const fn from_minutes_since_1900(minutes: u64) -> DateTime {
        let days = (minutes / 1440) as i64 + DAYS_1900;
        let rem = (minutes % 1440) as u32;
        let (year, month, day) = civil_from_days(days);
        if year > 9999 {
            return DateTime {
                year: 9999,
                month: 12,
                day: 31,
                hour: 23,
                minute: 59,
                second: 0,
            };
        }
        DateTime {
            year: year as u16,
            month,
            day,
            hour: (rem / 60) as u8,
            minute: (rem % 60) as u8,
            second: 0,
        }
    }
}

impl fmt::Display for DateTime {
    /// ISO 8601 without zone: `2004-03-01T13:55` (`:SS` only when the seconds are not zero).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )?;
        if self.second != 0 {
            write!(f, ":{:02}", self.second)?;
        }
        Ok(())
    }
}

fn number(text: &str) -> Result<u16, DateTimeError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DateTimeError::Syntax);
    }
    text.parse().map_err(|_| DateTimeError::Syntax)
}

fn number_u8(text: &str, width: usize) -> Result<u8, DateTimeError> {
    if text.len() != width {
        return Err(DateTimeError::Syntax);
    }
    u8::try_from(number(text)?).map_err(|_| DateTimeError::Syntax)
}

impl FromStr for DateTime {
    type Err = DateTimeError;

    /// Parses `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS` (a space may replace the `T`).
    fn from_str(s: &str) -> Result<DateTime, DateTimeError> {
        let (date, time) = s.split_once(['T', ' ']).ok_or(DateTimeError::Syntax)?;
        let mut d = date.split('-');
        let (Some(y), Some(mo), Some(da), None) = (d.next(), d.next(), d.next(), d.next()) else {
            return Err(DateTimeError::Syntax);
        };
        if y.len() != 4 {
            return Err(DateTimeError::Syntax);
        }
        let mut t = time.split(':');
        let (Some(h), Some(mi), sec, None) = (t.next(), t.next(), t.next(), t.next()) else {
            return Err(DateTimeError::Syntax);
        };
        let second = match sec {
            Some(sec) => number_u8(sec, 2)?,
            None => 0,
        };
        DateTime::new(
            number(y)?,
            number_u8(mo, 2)?,
            number_u8(da, 2)?,
            number_u8(h, 2)?,
            number_u8(mi, 2)?,
            second,
        )
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
            Err(DateTimeError::Day(30))
        );
        assert_eq!(
            "2000-02-29T00:00".parse::<DateTime>().map(|d| d.day()),
            Ok(29)
        );
        assert_eq!(
            "1900-02-29T00:00".parse::<DateTime>(),
            Err(DateTimeError::Day(29))
        );
        assert!("2004-03-01".parse::<DateTime>().is_err());
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
