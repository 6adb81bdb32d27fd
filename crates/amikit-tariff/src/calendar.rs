//! A small civil calendar: dates, times of day and date-times in the tariff's local time, with
//! weekday computation and the boundary counting that standing charges and settlements need.
//!
//! There is no clock and no time zone here: the caller passes the local civil time of the
//! meter or the customer (the time the tariff's periods are written in). Years 1–9999,
//! proleptic Gregorian calendar, minute resolution for tariff boundaries; date-times carry
//! seconds so that readings keep their exact timestamp.

use core::fmt;
use core::str::FromStr;

use crate::error::CalendarError;

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

/// A calendar date (year 1–9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// The date `year-month-day`.
    ///
    /// # Errors
    /// [`CalendarError::InvalidDate`] if the date does not exist.
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
        let y = self.year as i32 - if self.month <= 2 { 1 } else { 0 };
        let era = if y >= 0 { y } else { y - 399 } / 400;
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
        // 0001-01-01 is day -719162, 9999-12-31 is day 2932896.
        if days < -719_162 || days > 2_932_896 {
            return Err(CalendarError::OutOfRange);
        }
        let z = days + 719_468;
        let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = if m <= 2 { y + 1 } else { y };
        Ok(Self {
            year: y as u16,
            month: m as u8,
            day: d as u8,
        })
    }

    /// The day of the week.
    #[must_use]
    pub const fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday (index 3).
        Weekday::from_index((self.days_since_epoch() + 3).rem_euclid(7) as usize)
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
/// use amikit_tariff::{DateTime, Weekday};
/// let t: DateTime = "2024-02-29T22:30".parse()?;
/// assert_eq!(t.date().weekday(), Weekday::Thursday);
/// assert_eq!(t.to_string(), "2024-02-29T22:30:00");
/// # Ok::<(), amikit_tariff::CalendarError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
        self.date.days_since_epoch() as i64 * 86_400
            + self.hour as i64 * 3600
            + self.minute as i64 * 60
            + self.second as i64
    }
}

/// Number of midnights (starts of days) in `(from, to]`; 0 if `to <= from`.
#[must_use]
pub fn days_started(from: DateTime, to: DateTime) -> u32 {
    if to <= from {
        return 0;
    }
    let d = to
        .date
        .days_since_epoch()
        .saturating_sub(from.date.days_since_epoch());
    u32::try_from(d).unwrap_or(0)
}

/// Number of Monday midnights in `(from, to]`; 0 if `to <= from`.
#[must_use]
pub fn weeks_started(from: DateTime, to: DateTime) -> u32 {
    if to <= from {
        return 0;
    }
    // 1970-01-05 (day 4) was a Monday: week number floor((d - 4) / 7) steps at each Monday.
    let w = |d: Date| (d.days_since_epoch() - 4).div_euclid(7);
    u32::try_from(w(to.date).saturating_sub(w(from.date))).unwrap_or(0)
}

/// Number of first-of-month midnights in `(from, to]`; 0 if `to <= from`.
#[must_use]
pub fn months_started(from: DateTime, to: DateTime) -> u32 {
    if to <= from {
        return 0;
    }
    let m = |d: Date| i32::from(d.year) * 12 + i32::from(d.month);
    u32::try_from(m(to.date).saturating_sub(m(from.date))).unwrap_or(0)
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
    /// `T`). No time zone suffix: the time is the tariff's local civil time.
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Display for MonthDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl fmt::Display for DateTime {
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
    use core::fmt;
    use core::marker::PhantomData;
    use core::str::FromStr;

    struct TextVisitor<T>(PhantomData<T>, &'static str);

    impl<T: FromStr> serde::de::Visitor<'_> for TextVisitor<T>
    where
        T::Err: fmt::Display,
    {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.1)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            v.parse().map_err(E::custom)
        }
    }

    macro_rules! serde_text {
        ($t:ident, $what:literal) => {
            impl serde::Serialize for $t {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.collect_str(self)
                }
            }
            impl<'de> serde::Deserialize<'de> for $t {
                fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    d.deserialize_str(TextVisitor(PhantomData, $what))
                }
            }
        };
    }

    serde_text!(Date, "a date YYYY-MM-DD");
    serde_text!(MonthDay, "a month and day MM-DD");
    serde_text!(TimeOfDay, "a time of day HH:MM");
    serde_text!(DateTime, "a date-time YYYY-MM-DDTHH:MM[:SS]");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn epoch_days_and_weekdays() {
        // Known anchors: 1970-01-01 Thursday = day 0; 2000-01-01 Saturday = day 10957;
        // 2024-02-29 Thursday = day 19782; 0001-01-01 Monday = day -719162.
        let d = Date::new(1970, 1, 1).unwrap();
        assert_eq!(d.days_since_epoch(), 0);
        assert_eq!(d.weekday(), Weekday::Thursday);
        let d = Date::new(2000, 1, 1).unwrap();
        assert_eq!(d.days_since_epoch(), 10_957);
        assert_eq!(d.weekday(), Weekday::Saturday);
        let d = Date::new(2024, 2, 29).unwrap();
        assert_eq!(d.days_since_epoch(), 19_782);
        assert_eq!(d.weekday(), Weekday::Thursday);
        let d = Date::new(1, 1, 1).unwrap();
        assert_eq!(d.days_since_epoch(), -719_162);
        assert_eq!(d.weekday(), Weekday::Monday);
        assert_eq!(
            Date::new(9999, 12, 31).unwrap().days_since_epoch(),
            2_932_896
        );
        // round trip over every day of 1999-2101
        let mut d = Date::new(1999, 1, 1).unwrap();
        let mut n = d.days_since_epoch();
        while d.year() < 2102 {
            assert_eq!(Date::from_days_since_epoch(n).unwrap(), d);
            d = d.next_day().unwrap();
            n += 1;
            assert_eq!(d.days_since_epoch(), n);
        }
        assert!(Date::from_days_since_epoch(2_932_897).is_err());
        assert!(Date::new(9999, 12, 31).unwrap().next_day().is_err());
    }

    #[test]
    fn validation() {
        assert!(Date::new(2023, 2, 29).is_err());
        assert!(Date::new(2024, 2, 29).is_ok());
        assert!(Date::new(1900, 2, 29).is_err());
        assert!(Date::new(2000, 2, 29).is_ok());
        assert!(Date::new(2024, 13, 1).is_err());
        assert!(Date::new(2024, 4, 31).is_err());
        assert!(Date::new(0, 1, 1).is_err());
        assert!(MonthDay::new(2, 29).is_ok());
        assert!(MonthDay::new(2, 30).is_err());
        assert!(TimeOfDay::new(24, 0).is_err());
        assert!(DateTime::new(2024, 1, 1, 23, 59, 60).is_err());
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
        assert_eq!(b.seconds_since_epoch() - a.seconds_since_epoch(), 1);
    }

    #[test]
    fn boundary_counting() {
        let t = |s: &str| s.parse::<DateTime>().unwrap();
        // (2024-01-31T10:00, 2024-03-01T00:00]: midnights of Feb 1..Mar 1 = 29 + 1 = 30 days
        assert_eq!(days_started(t("2024-01-31T10:00"), t("2024-03-01")), 30);
        assert_eq!(months_started(t("2024-01-31T10:00"), t("2024-03-01")), 2);
        assert_eq!(days_started(t("2024-01-01"), t("2024-01-01T23:59")), 0);
        assert_eq!(days_started(t("2024-01-02"), t("2024-01-01")), 0);
        // 2024-01-01 was a Monday: (Mon 00:00, next Mon 00:00] holds one Monday midnight.
        assert_eq!(weeks_started(t("2024-01-01"), t("2024-01-08")), 1);
        assert_eq!(weeks_started(t("2024-01-01"), t("2024-01-07T23:59")), 0);
        assert_eq!(weeks_started(t("2023-12-31"), t("2024-01-01")), 1);
        assert_eq!(months_started(t("2023-12-31T23:59"), t("2024-01-01")), 1);
    }
}
