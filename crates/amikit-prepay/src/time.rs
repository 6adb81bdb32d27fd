//! Time as the engine sees it: a count of seconds, passed in by the caller.
//!
//! The engine never reads a clock. Every input comes with `now`, a [`Timestamp`] in **local
//! civil time** (seconds since 1970-01-01 00:00:00 local time, no time zone, no leap seconds),
//! because that is what meters run on, what tariffs are written in and what friendly-credit
//! windows ("no disconnection between 16:00 and 08:00, at weekends and on public holidays")
//! mean. `From<DateTime>` and `TryFrom<Timestamp>` (for [`DateTime`] and [`Date`]) convert to
//! and from the civil types of `amikit-core` (the calendar arithmetic is that crate's; the
//! tariff re-exports the same types).

use amikit_core::{CalendarError, Date, DateTime, Weekday};

/// Seconds since 1970-01-01 00:00:00 local civil time (proleptic Gregorian calendar).
///
/// Arithmetic on timestamps saturates: a time far in the future stays far in the future
/// instead of wrapping into the past.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Timestamp(pub i64);

/// Seconds in a day.
const DAY: i64 = 86_400;

impl Timestamp {
    /// The civil date-time, or `None` outside the years 1–9999.
    pub(crate) fn to_datetime(self) -> Option<DateTime> {
        let date = self.date()?;
        let s = self.0.rem_euclid(DAY);
        // s < 86 400: hour < 24, minute < 60, second < 60.
        DateTime::new(
            date.year(),
            date.month(),
            date.day(),
            (s / 3600) as u8,
            ((s / 60) % 60) as u8,
            (s % 60) as u8,
        )
        .ok()
    }

    /// The timestamp `secs` seconds after this one (saturating).
    #[must_use]
    pub const fn plus(self, secs: u32) -> Self {
        Self(self.0.saturating_add(secs as i64))
    }

    /// Seconds from `earlier` to `self`, or 0 when `earlier` is not earlier (saturating).
    #[must_use]
    pub const fn seconds_since(self, earlier: Self) -> u64 {
        let d = self.0.saturating_sub(earlier.0);
        if d < 0 { 0 } else { d as u64 }
    }

    /// Days since 1970-01-01 (negative before).
    const fn days(self) -> i64 {
        self.0.div_euclid(DAY)
    }

    /// The calendar date, or `None` outside the years 1–9999.
    pub(crate) fn date(self) -> Option<Date> {
        let days = i32::try_from(self.days()).ok()?;
        Date::from_days_since_epoch(days).ok()
    }

    /// Minutes since local midnight, 0..=1439.
    pub(crate) const fn minute_of_day(self) -> u16 {
        // rem_euclid(86_400) / 60 < 1440: fits in u16.
        (self.0.rem_euclid(DAY) / 60) as u16
    }

    /// Day of the week (for any timestamp, also outside the years 1–9999).
    #[must_use]
    pub const fn weekday(self) -> Weekday {
        Weekday::from_days_since_epoch(self.days())
    }
}

impl From<DateTime> for Timestamp {
    /// The timestamp of a civil date-time.
    fn from(t: DateTime) -> Self {
        Self(t.seconds_since_epoch())
    }
}

impl TryFrom<Timestamp> for DateTime {
    type Error = CalendarError;

    /// The civil date-time of a timestamp.
    ///
    /// # Errors
    ///
    /// [`CalendarError::OutOfRange`] outside the years 1–9999.
    fn try_from(t: Timestamp) -> Result<Self, CalendarError> {
        t.to_datetime().ok_or(CalendarError::OutOfRange)
    }
}

impl TryFrom<Timestamp> for Date {
    type Error = CalendarError;

    /// The calendar date of a timestamp.
    ///
    /// # Errors
    ///
    /// [`CalendarError::OutOfRange`] outside the years 1–9999.
    fn try_from(t: Timestamp) -> Result<Self, CalendarError> {
        t.date().ok_or(CalendarError::OutOfRange)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        // 2026-01-09 is a Friday (any calendar).
        let dt: DateTime = "2026-01-09T18:30:15".parse().unwrap();
        let t = Timestamp::from(dt);
        assert_eq!(t.to_datetime(), Some(dt));
        assert_eq!(t.weekday(), Weekday::Friday);
        assert_eq!(t.weekday(), dt.date().weekday());
        assert_eq!(t.minute_of_day(), 18 * 60 + 30);
        assert_eq!(Timestamp(0).weekday(), Weekday::Thursday);
        // Before the epoch.
        assert_eq!(Timestamp(-1).date(), Date::new(1969, 12, 31).ok());
        assert_eq!(Timestamp(-1).minute_of_day(), 1439);
        assert_eq!(Timestamp(-1).weekday(), Weekday::Wednesday);
    }

    #[test]
    fn weekday_agrees_with_the_tariff_calendar() {
        for days in (-700_000i64..2_900_000).step_by(997) {
            let t = Timestamp(days * DAY + 5);
            assert_eq!(Some(t.weekday()), t.date().map(Date::weekday));
        }
    }

    #[test]
    fn saturating_and_out_of_range() {
        assert_eq!(Timestamp(i64::MAX).plus(10), Timestamp(i64::MAX));
        assert_eq!(Timestamp(5).seconds_since(Timestamp(10)), 0);
        assert_eq!(
            Timestamp(i64::MAX).seconds_since(Timestamp(i64::MIN)),
            i64::MAX as u64
        );
        assert_eq!(Timestamp(i64::MIN).date(), None);
        assert_eq!(Timestamp(i64::MAX).to_datetime(), None);
        assert_eq!(
            DateTime::try_from(Timestamp(i64::MAX)),
            Err(CalendarError::OutOfRange)
        );
        assert_eq!(Date::try_from(Timestamp(-1)), Date::new(1969, 12, 31));
        let _ = Timestamp(i64::MIN).weekday();
    }
}
