//! The civil calendar: dates, times of day and date-times without a time zone.
//!
//! Every amikit protocol carries local civil time (the meter's clock, the terminal's clock, the
//! tariff's periods, the STS token identifier's minutes): no zone, no daylight saving, no leap
//! seconds. The types here are that time, validated on construction (private fields, so a value
//! that exists is a real date), years 1–9999 of the proleptic Gregorian calendar.
//!
//! The day-count arithmetic lives here once: [`Date::days_since_epoch`] (days from a civil
//! date) and [`Date::from_days_since_epoch`] (the civil date of a day count) are Howard
//! Hinnant's `days_from_civil`/`civil_from_days`; weekdays, adding seconds or days and the
//! seconds since 1970-01-01 are built on them. Wire formats (DL/T 645 `YYMMDDhhmmss`,
//! Q/GDW 1376.1 formats 01/15, the STS TID) stay in their crates and convert with `TryFrom`.
//!
//! ```
//! use amikit_core::calendar::{Date, DateTime, Weekday};
//! let t: DateTime = "2024-02-29T22:30".parse()?;
//! assert_eq!(t.date().weekday(), Weekday::Thursday);
//! assert_eq!(t.add_days(1)?.to_string(), "2024-03-01T22:30:00");
//! assert_eq!(Date::new(1970, 1, 2)?.days_since_epoch(), 1);
//! # Ok::<(), amikit_core::CalendarError>(())
//! ```

use core::fmt;
use core::str::FromStr;

/// A date or time that does not exist, is out of range or is malformed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    /// No such date (year 0 means "any year", for month-day values).
    #[error("invalid date {year:04}-{month:02}-{day:02}")]
    InvalidDate {
        /// Year.
        year: u16,
        /// Month.
        month: u8,
        /// Day.
        day: u8,
    },
    /// No such time of day.
    #[error("invalid time {hour:02}:{minute:02}:{second:02}")]
    InvalidTime {
        /// Hour.
        hour: u8,
        /// Minute.
        minute: u8,
        /// Second.
        second: u8,
    },
    /// Outside the years 1–9999.
    #[error("date out of range (years 1-9999)")]
    OutOfRange,
    /// The text does not have the expected form; the byte offset of the first problem.
    #[error("malformed date/time text at byte {0}")]
    Syntax(usize),
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl Weekday {
    /// 0 for Monday … 6 for Sunday (ISO 8601 order).
    #[must_use]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The weekday with [`Self::index`] `i % 7`.
    #[must_use]
    pub const fn from_index(i: usize) -> Self {
        match i % 7 {
            0 => Self::Monday,
            1 => Self::Tuesday,
            2 => Self::Wednesday,
            3 => Self::Thursday,
            4 => Self::Friday,
            5 => Self::Saturday,
            _ => Self::Sunday,
        }
    }

    /// 1 for Monday … 7 for Sunday (ISO 8601 numbering; Q/GDW 1376.1 format 01's week field).
    #[must_use]
    pub const fn number_from_monday(self) -> u8 {
        self as u8 + 1
    }

    /// 0 for Sunday, 1 for Monday … 6 for Saturday (DL/T 645-2007 `WW`).
    #[must_use]
    pub const fn number_from_sunday(self) -> u8 {
        (self as u8 + 1) % 7
    }

    /// The weekday of a day count from 1970-01-01 (a Thursday), for any count.
    #[must_use]
    pub const fn from_days_since_epoch(days: i64) -> Self {
        // rem_euclid(7) is 0..=6, so the sum is below 10.
        Self::from_index((days.rem_euclid(7) + 3) as usize)
    }
}

/// True if `year` is a Gregorian leap year.
#[must_use]
pub const fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days in `month` (1–12) of `year`; 0 for an invalid month.
#[must_use]
pub const fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Seconds in a day.
const DAY_SECONDS: i64 = 86_400;
/// The day count of 0001-01-01.
const FIRST_DAY: i32 = -719_162;
/// The day count of 9999-12-31.
const LAST_DAY: i32 = 2_932_896;

/// A calendar date (year 1–9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// 1970-01-01, day 0 of [`Self::days_since_epoch`].
    pub const EPOCH: Self = Self {
        year: 1970,
        month: 1,
        day: 1,
    };

    /// The date `year-month-day`.
    ///
    /// # Errors
    /// [`CalendarError::InvalidDate`] if the date does not exist or the year is not 1–9999.
    pub const fn new(year: u16, month: u8, day: u8) -> Result<Self, CalendarError> {
        if year == 0 || year > 9999 || day == 0 || day > days_in_month(year, month) {
            return Err(CalendarError::InvalidDate { year, month, day });
        }
        Ok(Self { year, month, day })
    }

    /// The year.
    #[must_use]
    pub const fn year(self) -> u16 {
        self.year
    }

    /// The month, 1–12.
    #[must_use]
    pub const fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, 1–31.
    #[must_use]
    pub const fn day(self) -> u8 {
        self.day
    }

    /// The month and day (for recurring dates and seasons).
    #[must_use]
    pub const fn month_day(self) -> MonthDay {
        MonthDay {
            month: self.month,
            day: self.day,
        }
    }

    /// Days since 1970-01-01 (negative before), by Howard Hinnant's `days_from_civil`.
    #[must_use]
    pub const fn days_since_epoch(self) -> i32 {
        // Years 1..=9999 keep every intermediate far inside i32, and y >= 0.
        let y = self.year as i32 - if self.month <= 2 { 1 } else { 0 };
        let era = y / 400;
        let yoe = y - era * 400;
        let m = self.month as i32;
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + self.day as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days after 1970-01-01 (Hinnant's `civil_from_days`).
    ///
    /// # Errors
    /// [`CalendarError::OutOfRange`] outside years 1–9999.
    pub const fn from_days_since_epoch(days: i32) -> Result<Self, CalendarError> {
        if days < FIRST_DAY || days > LAST_DAY {
            return Err(CalendarError::OutOfRange);
        }
        let z = days + 719_468;
        // z > 0 in range, so the era is z / 146_097.
        let era = z / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = if m <= 2 { y + 1 } else { y };
        // In range: 1 <= y <= 9999, 1 <= m <= 12, 1 <= d <= 31.
        Ok(Self {
            year: y as u16,
            month: m as u8,
            day: d as u8,
        })
    }

    /// The day of the week.
    #[must_use]
    pub const fn weekday(self) -> Weekday {
        Weekday::from_days_since_epoch(self.days_since_epoch() as i64)
    }

    /// The date `days` days later (earlier when negative).
    ///
    /// # Errors
    /// [`CalendarError::OutOfRange`] outside years 1–9999.
    pub const fn add_days(self, days: i32) -> Result<Self, CalendarError> {
        match self.days_since_epoch().checked_add(days) {
            Some(d) => Self::from_days_since_epoch(d),
            None => Err(CalendarError::OutOfRange),
        }
    }

    /// The next day.
    ///
    /// # Errors
    /// [`CalendarError::OutOfRange`] after 9999-12-31.
    pub const fn next_day(self) -> Result<Self, CalendarError> {
        if self.day < days_in_month(self.year, self.month) {
            return Ok(Self {
                day: self.day + 1,
                ..self
            });
        }
        if self.month < 12 {
            return Ok(Self {
                month: self.month + 1,
                day: 1,
                ..self
            });
        }
        if self.year >= 9999 {
            return Err(CalendarError::OutOfRange);
        }
        Ok(Self {
            year: self.year + 1,
            month: 1,
            day: 1,
        })
    }

    /// Midnight at the start of this date.
    #[must_use]
    pub const fn midnight(self) -> DateTime {
        DateTime {
            date: self,
            hour: 0,
            minute: 0,
            second: 0,
        }
    }
}

/// A month and day without a year (recurring holidays, season starts). 02-29 is allowed and
/// matches only in leap years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonthDay {
    month: u8,
    day: u8,
}

impl MonthDay {
    /// `month-day`.
    ///
    /// # Errors
    /// [`CalendarError::InvalidDate`] if no year has this date.
    pub const fn new(month: u8, day: u8) -> Result<Self, CalendarError> {
        if day == 0 || day > days_in_month(2000, month) {
            return Err(CalendarError::InvalidDate {
                year: 0,
                month,
                day,
            });
        }
        Ok(Self { month, day })
    }

    /// The month, 1–12.
    #[must_use]
    pub const fn month(self) -> u8 {
        self.month
    }

    /// The day, 1–31.
    #[must_use]
    pub const fn day(self) -> u8 {
        self.day
    }
}

/// A time of day at minute resolution, `00:00`–`23:59` (tariff period boundaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// Midnight, `00:00`.
    pub const MIDNIGHT: Self = Self(0);

    /// `hour:minute`.
    ///
    /// # Errors
    /// [`CalendarError::InvalidTime`] unless `hour < 24` and `minute < 60`.
    pub const fn new(hour: u8, minute: u8) -> Result<Self, CalendarError> {
        if hour >= 24 || minute >= 60 {
            return Err(CalendarError::InvalidTime {
                hour,
                minute,
                second: 0,
            });
        }
        Ok(Self(hour as u16 * 60 + minute as u16))
    }

    /// Minutes since midnight, 0–1439.
    #[must_use]
    pub const fn minutes(self) -> u16 {
        self.0
    }

    /// The hour.
    #[must_use]
    pub const fn hour(self) -> u8 {
        (self.0 / 60) as u8
    }

    /// The minute.
    #[must_use]
    pub const fn minute(self) -> u8 {
        (self.0 % 60) as u8
    }
}

/// A local civil date and time, second resolution.
///
/// ```
/// use amikit_core::{DateTime, Weekday};
/// let t: DateTime = "2024-02-29T22:30".parse()?;
/// assert_eq!(t.date().weekday(), Weekday::Thursday);
/// assert_eq!(t.to_string(), "2024-02-29T22:30:00");
/// # Ok::<(), amikit_core::CalendarError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    date: Date,
    hour: u8,
    minute: u8,
    second: u8,
}

impl DateTime {
    /// `year-month-day hour:minute:second`.
    ///
    /// # Errors
    /// [`CalendarError`] for a date or time that does not exist (no leap seconds).
    pub const fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Result<Self, CalendarError> {
        let date = match Date::new(year, month, day) {
            Ok(d) => d,
            Err(e) => return Err(e),
        };
        if hour >= 24 || minute >= 60 || second >= 60 {
            return Err(CalendarError::InvalidTime {
                hour,
                minute,
                second,
            });
        }
        Ok(Self {
            date,
            hour,
            minute,
            second,
        })
    }

    /// The date.
    #[must_use]
    pub const fn date(self) -> Date {
        self.date
    }

    /// The year.
    #[must_use]
    pub const fn year(self) -> u16 {
        self.date.year
    }

    /// The month, 1–12.
    #[must_use]
    pub const fn month(self) -> u8 {
        self.date.month
    }

    /// The day of the month, 1–31.
    #[must_use]
    pub const fn day(self) -> u8 {
        self.date.day
    }

    /// The hour, 0–23.
    #[must_use]
    pub const fn hour(self) -> u8 {
        self.hour
    }

    /// The minute, 0–59.
    #[must_use]
    pub const fn minute(self) -> u8 {
        self.minute
    }

    /// The second, 0–59.
    #[must_use]
    pub const fn second(self) -> u8 {
        self.second
    }

    /// The day of the week.
    #[must_use]
    pub const fn weekday(self) -> Weekday {
        self.date.weekday()
    }

    /// The time of day, truncated to the minute.
    #[must_use]
    pub const fn time_of_day(self) -> TimeOfDay {
        TimeOfDay(self.hour as u16 * 60 + self.minute as u16)
    }

    /// `date` at `time`:00.
    #[must_use]
    pub const fn at(date: Date, time: TimeOfDay) -> Self {
        Self {
            date,
            hour: time.hour(),
            minute: time.minute(),
            second: 0,
        }
    }

    /// A monotone integer key with the same order as the date-times (cheap comparisons in hot
    /// paths). Not a duration: consecutive keys are not one second apart.
    #[must_use]
    #[inline]
    pub const fn key(self) -> u64 {
        ((self.date.year as u64) << 40)
            | ((self.date.month as u64) << 32)
            | ((self.date.day as u64) << 24)
            | ((self.hour as u64) << 16)
            | ((self.minute as u64) << 8)
            | (self.second as u64)
    }

    /// Seconds since 1970-01-01T00:00:00 of this civil time (no time zone is involved).
    #[must_use]
    pub const fn seconds_since_epoch(self) -> i64 {
        self.date.days_since_epoch() as i64 * DAY_SECONDS
            + self.hour as i64 * 3600
            + self.minute as i64 * 60
            + self.second as i64
    }

    /// The civil time `seconds` seconds after 1970-01-01T00:00:00 (before it when negative).
    ///
    /// # Errors
    /// [`CalendarError::OutOfRange`] outside years 1–9999.
    pub const fn from_seconds_since_epoch(seconds: i64) -> Result<Self, CalendarError> {
        // One 64-bit division (a library call on 32-bit targets); the rest is 32-bit.
        let days = seconds.div_euclid(DAY_SECONDS);
        if days < FIRST_DAY as i64 || days > LAST_DAY as i64 {
            return Err(CalendarError::OutOfRange);
        }
        let date = match Date::from_days_since_epoch(days as i32) {
            Ok(d) => d,
            Err(e) => return Err(e),
        };
        // 0 <= rem < 86 400: hour < 24, minute < 60, second < 60.
        let rem = (seconds - days * DAY_SECONDS) as u32;
        Ok(Self {
            date,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
        })
    }

    /// The civil time `seconds` seconds later (earlier when negative).
    ///
    /// # Errors
    /// [`CalendarError::OutOfRange`] outside years 1–9999.
    pub const fn add_seconds(self, seconds: i64) -> Result<Self, CalendarError> {
        match self.seconds_since_epoch().checked_add(seconds) {
            Some(s) => Self::from_seconds_since_epoch(s),
            None => Err(CalendarError::OutOfRange),
        }
    }

    /// The same time of day `days` days later (earlier when negative).
    ///
    /// # Errors
    /// [`CalendarError::OutOfRange`] outside years 1–9999.
    pub const fn add_days(self, days: i32) -> Result<Self, CalendarError> {
        match self.date.add_days(days) {
            Ok(date) => Ok(Self { date, ..self }),
            Err(e) => Err(e),
        }
    }

    /// Seconds from `earlier` to `self` (negative when `earlier` is later).
    #[must_use]
    pub const fn seconds_since(self, earlier: Self) -> i64 {
        // Both lie within years 1–9999: the difference is far inside i64.
        self.seconds_since_epoch() - earlier.seconds_since_epoch()
    }
}

impl PartialOrd for DateTime {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DateTime {
    /// Chronological order (one integer comparison of [`DateTime::key`]).
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

// ---- text forms -------------------------------------------------------------------------

fn digits(s: &[u8], at: usize, n: usize) -> Result<u16, CalendarError> {
    let end = at.checked_add(n).ok_or(CalendarError::Syntax(at))?;
    let part = s.get(at..end).ok_or(CalendarError::Syntax(at))?;
    let mut v: u16 = 0;
    for (i, b) in part.iter().enumerate() {
        if !b.is_ascii_digit() {
            return Err(CalendarError::Syntax(at.saturating_add(i)));
        }
        v = v.saturating_mul(10).saturating_add(u16::from(b - b'0'));
    }
    Ok(v)
}

fn expect(s: &[u8], at: usize, c: &[u8]) -> Result<(), CalendarError> {
    match s.get(at) {
        Some(b) if c.contains(b) => Ok(()),
        _ => Err(CalendarError::Syntax(at)),
    }
}

fn small(v: u16) -> u8 {
    u8::try_from(v).unwrap_or(u8::MAX)
}

impl FromStr for Date {
    type Err = CalendarError;
    /// `YYYY-MM-DD`.
    fn from_str(s: &str) -> Result<Self, CalendarError> {
        let b = s.as_bytes();
        if b.len() != 10 {
            return Err(CalendarError::Syntax(b.len().min(10)));
        }
        let y = digits(b, 0, 4)?;
        expect(b, 4, b"-")?;
        let m = digits(b, 5, 2)?;
        expect(b, 7, b"-")?;
        let d = digits(b, 8, 2)?;
        Date::new(y, small(m), small(d))
    }
}

impl FromStr for MonthDay {
    type Err = CalendarError;
    /// `MM-DD`.
    fn from_str(s: &str) -> Result<Self, CalendarError> {
        let b = s.as_bytes();
        if b.len() != 5 {
            return Err(CalendarError::Syntax(b.len().min(5)));
        }
        let m = digits(b, 0, 2)?;
        expect(b, 2, b"-")?;
        let d = digits(b, 3, 2)?;
        MonthDay::new(small(m), small(d))
    }
}

impl FromStr for TimeOfDay {
    type Err = CalendarError;
    /// `HH:MM`.
    fn from_str(s: &str) -> Result<Self, CalendarError> {
        let b = s.as_bytes();
        if b.len() != 5 {
            return Err(CalendarError::Syntax(b.len().min(5)));
        }
        let h = digits(b, 0, 2)?;
        expect(b, 2, b":")?;
        let m = digits(b, 3, 2)?;
        TimeOfDay::new(small(h), small(m))
    }
}

impl FromStr for DateTime {
    type Err = CalendarError;
    /// `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS` (a space may replace the
    /// `T`). No time zone suffix: the time is local civil time.
    fn from_str(s: &str) -> Result<Self, CalendarError> {
        let b = s.as_bytes();
        let date: Date = s.get(..10).ok_or(CalendarError::Syntax(b.len()))?.parse()?;
        if b.len() == 10 {
            return Ok(date.midnight());
        }
        expect(b, 10, b"T ")?;
        let h = digits(b, 11, 2)?;
        expect(b, 13, b":")?;
        let mi = digits(b, 14, 2)?;
        let sec = match b.len() {
            16 => 0,
            19 => {
                expect(b, 16, b":")?;
                digits(b, 17, 2)?
            }
            n => return Err(CalendarError::Syntax(n.min(19))),
        };
        DateTime::new(
            date.year,
            date.month,
            date.day,
            small(h),
            small(mi),
            small(sec),
        )
    }
}

impl fmt::Display for Date {
    /// `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Display for MonthDay {
    /// `MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

impl fmt::Display for TimeOfDay {
    /// `HH:MM`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl fmt::Display for DateTime {
    /// `YYYY-MM-DDTHH:MM:SS`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}T{:02}:{:02}:{:02}",
            self.date, self.hour, self.minute, self.second
        )
    }
}

#[cfg(feature = "serde")]
mod serde_impls {
    //! Calendar values serialize as their ISO-style text forms.
    use super::{Date, DateTime, MonthDay, TimeOfDay};
    use crate::text::serde_as_text;

    serde_as_text!(Date, "a date YYYY-MM-DD");
    serde_as_text!(MonthDay, "a month and day MM-DD");
    serde_as_text!(TimeOfDay, "a time of day HH:MM");
    serde_as_text!(DateTime, "a date-time YYYY-MM-DDTHH:MM[:SS]");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    #[test]
    fn epoch_days_and_weekdays() {
        // Known anchors: 1970-01-01 Thursday = day 0; 2000-01-01 Saturday = day 10957;
        // 2024-02-29 Thursday = day 19782; 0001-01-01 Monday = day -719162.
        let d = Date::new(1970, 1, 1).unwrap();
        assert_eq!(d, Date::EPOCH);
        assert_eq!(d.days_since_epoch(), 0);
        assert_eq!(d.weekday(), Weekday::Thursday);
        let d = Date::new(2000, 1, 1).unwrap();
        assert_eq!(d.days_since_epoch(), 10_957);
        assert_eq!(d.weekday(), Weekday::Saturday);
        let d = Date::new(2024, 2, 29).unwrap();
        assert_eq!(d.days_since_epoch(), 19_782);
        assert_eq!(d.weekday(), Weekday::Thursday);
        let d = Date::new(1, 1, 1).unwrap();
        assert_eq!(d.days_since_epoch(), FIRST_DAY);
        assert_eq!(d.weekday(), Weekday::Monday);
        assert_eq!(
            Date::new(9999, 12, 31).unwrap().days_since_epoch(),
            LAST_DAY
        );
        // Every day of 1999-2101 against the month-by-month successor.
        let mut d = Date::new(1999, 1, 1).unwrap();
        let mut n = d.days_since_epoch();
        while d.year() < 2102 {
            assert_eq!(Date::from_days_since_epoch(n).unwrap(), d);
            d = d.next_day().unwrap();
            n += 1;
            assert_eq!(d.days_since_epoch(), n);
        }
        assert_eq!(
            Date::from_days_since_epoch(LAST_DAY + 1),
            Err(CalendarError::OutOfRange)
        );
        assert_eq!(
            Date::from_days_since_epoch(FIRST_DAY - 1),
            Err(CalendarError::OutOfRange)
        );
        assert!(Date::new(9999, 12, 31).unwrap().next_day().is_err());
    }

    #[test]
    fn weekday_numbers() {
        // gdw376 vector: 2015-03-17 was a Tuesday, format 01 week 2.
        let tue = Date::new(2015, 3, 17).unwrap().weekday();
        assert_eq!(tue, Weekday::Tuesday);
        assert_eq!(tue.number_from_monday(), 2);
        assert_eq!(tue.number_from_sunday(), 2);
        assert_eq!(Weekday::Sunday.number_from_monday(), 7);
        assert_eq!(Weekday::Sunday.number_from_sunday(), 0);
        assert_eq!(Weekday::Saturday.number_from_sunday(), 6);
        assert_eq!(Weekday::from_days_since_epoch(-1), Weekday::Wednesday);
        // 2^63 ≡ 1 (mod 7): i64::MIN is 6 mod 7, i64::MAX is 0 mod 7.
        assert_eq!(Weekday::from_days_since_epoch(i64::MIN), Weekday::Wednesday);
        assert_eq!(Weekday::from_days_since_epoch(i64::MAX), Weekday::Thursday);
    }

    #[test]
    fn validation() {
        assert!(Date::new(2023, 2, 29).is_err());
        assert!(Date::new(2024, 2, 29).is_ok());
        assert!(Date::new(1900, 2, 29).is_err());
        assert!(Date::new(2000, 2, 29).is_ok());
        assert!(Date::new(2024, 13, 1).is_err());
        assert!(Date::new(2024, 0, 1).is_err());
        assert!(Date::new(2024, 4, 31).is_err());
        assert!(Date::new(0, 1, 1).is_err());
        assert!(Date::new(10_000, 1, 1).is_err());
        assert!(MonthDay::new(2, 29).is_ok());
        assert!(MonthDay::new(2, 30).is_err());
        assert!(TimeOfDay::new(24, 0).is_err());
        assert!(DateTime::new(2024, 1, 1, 23, 59, 60).is_err());
        assert!(DateTime::new(2024, 1, 1, 23, 60, 0).is_err());
    }

    #[test]
    fn seconds_arithmetic() {
        let t: DateTime = "2024-02-28T23:59:30".parse().unwrap();
        assert_eq!(
            t.add_seconds(45).unwrap().to_string(),
            "2024-02-29T00:00:15"
        );
        assert_eq!(
            t.add_seconds(-86_400).unwrap().to_string(),
            "2024-02-27T23:59:30"
        );
        assert_eq!(t.add_days(2).unwrap().to_string(), "2024-03-01T23:59:30");
        assert_eq!(t.add_seconds(i64::MAX), Err(CalendarError::OutOfRange));
        assert_eq!(t.add_seconds(i64::MIN), Err(CalendarError::OutOfRange));
        assert_eq!(t.add_days(i32::MAX), Err(CalendarError::OutOfRange));
        let last = DateTime::new(9999, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(last.add_seconds(1), Err(CalendarError::OutOfRange));
        let first = DateTime::new(1, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(first.add_seconds(-1), Err(CalendarError::OutOfRange));
        assert_eq!(
            last.seconds_since(first),
            last.seconds_since_epoch() - first.seconds_since_epoch()
        );
        assert_eq!(
            DateTime::from_seconds_since_epoch(-1).unwrap().to_string(),
            "1969-12-31T23:59:59"
        );
        assert_eq!(
            DateTime::from_seconds_since_epoch(i64::MIN),
            Err(CalendarError::OutOfRange)
        );
    }

    #[test]
    fn text_forms() {
        let t: DateTime = "2024-03-01 07:05".parse().unwrap();
        assert_eq!(t.to_string(), "2024-03-01T07:05:00");
        let t: DateTime = "2024-03-01T07:05:09".parse().unwrap();
        assert_eq!(t.second(), 9);
        let t: DateTime = "2024-03-01".parse().unwrap();
        assert_eq!(t, Date::new(2024, 3, 1).unwrap().midnight());
        assert_eq!(
            "2024-03-01T7:05".parse::<DateTime>(),
            Err(CalendarError::Syntax(12))
        );
        assert!("2024-03-01T07:05Z".parse::<DateTime>().is_err());
        assert!("2024-02-30".parse::<DateTime>().is_err());
        assert_eq!("22:00".parse::<TimeOfDay>().unwrap().minutes(), 1320);
        assert_eq!("10-01".parse::<MonthDay>().unwrap().to_string(), "10-01");
        assert!("".parse::<DateTime>().is_err());
        assert!("２０２４-01-01".parse::<DateTime>().is_err());
    }

    #[test]
    fn key_order_matches_time_order() {
        let a: DateTime = "2024-12-31T23:59:59".parse().unwrap();
        let b: DateTime = "2025-01-01T00:00:00".parse().unwrap();
        assert!(a < b && a.key() < b.key());
        assert_eq!(b.seconds_since(a), 1);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_as_text() {
        let t: DateTime = "2024-03-01T07:05:09".parse().unwrap();
        let j = serde_json::to_string(&t).unwrap();
        assert_eq!(j, "\"2024-03-01T07:05:09\"");
        assert_eq!(serde_json::from_str::<DateTime>(&j).unwrap(), t);
        assert!(serde_json::from_str::<DateTime>("\"2024-02-30\"").is_err());
        assert!(serde_json::from_str::<DateTime>("17").is_err());
    }

    proptest! {
        #[test]
        fn day_count_round_trip(days in FIRST_DAY..=LAST_DAY) {
            let d = Date::from_days_since_epoch(days).unwrap();
            prop_assert_eq!(d.days_since_epoch(), days);
            prop_assert_eq!(Date::new(d.year(), d.month(), d.day()), Ok(d));
            prop_assert_eq!(d.weekday().index() as i64, (i64::from(days) + 3).rem_euclid(7));
        }

        #[test]
        fn seconds_round_trip(s in i64::from(FIRST_DAY) * 86_400..(i64::from(LAST_DAY) + 1) * 86_400) {
            let t = DateTime::from_seconds_since_epoch(s).unwrap();
            prop_assert_eq!(t.seconds_since_epoch(), s);
            prop_assert_eq!(t.to_string().parse::<DateTime>(), Ok(t));
        }

        #[test]
        fn add_seconds_is_ordered(s in 0i64..4_000_000_000, k in -1_000_000_000i64..1_000_000_000) {
            let t = DateTime::from_seconds_since_epoch(s).unwrap();
            let u = t.add_seconds(k).unwrap();
            prop_assert_eq!(u.seconds_since(t), k);
            prop_assert_eq!(u.cmp(&t), k.cmp(&0));
            prop_assert_eq!(u.key().cmp(&t.key()), k.cmp(&0));
        }

        #[test]
        fn order_is_chronological(a in 0i64..250_000_000_000, b in 0i64..250_000_000_000) {
            let (x, y) = (
                DateTime::from_seconds_since_epoch(a).unwrap(),
                DateTime::from_seconds_since_epoch(b).unwrap(),
            );
            prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            prop_assert_eq!(x == y, a == b);
            let fields = |t: DateTime| (t.date(), t.hour(), t.minute(), t.second());
            prop_assert_eq!(x.cmp(&y), fields(x).cmp(&fields(y)));
        }

        #[test]
        fn any_text_never_panics(s in "\\PC{0,24}") {
            let _ = s.parse::<DateTime>();
            let _ = s.parse::<Date>();
            let _ = s.parse::<MonthDay>();
            let _ = s.parse::<TimeOfDay>();
        }
    }
}
