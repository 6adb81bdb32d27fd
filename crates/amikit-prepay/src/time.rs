//! Time as the engine sees it: a count of seconds, passed in by the caller.
//!
//! The engine never reads a clock. Every input comes with `now`, a [`Timestamp`] in **local
//! civil time** (seconds since 1970-01-01 00:00:00 local time, no time zone, no leap seconds),
//! because that is what meters run on, what tariffs are written in and what friendly-credit
//! windows ("no disconnection between 16:00 and 08:00, at weekends and on public holidays")
//! mean. [`Timestamp::from_datetime`] and [`Timestamp::to_datetime`] convert to and from the
//! civil [`DateTime`] of `amikit-core` (the calendar arithmetic is that crate's; the tariff
//! re-exports the same types).

use amikit_core::{Date, DateTime, Weekday};

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
    /// The timestamp of a civil date-time.
    #[must_use]
    pub const fn from_datetime(t: DateTime) -> Self {
        Self(t.seconds_since_epoch())
    }

    /// The civil date-time, or `None` outside the years 1–9999.
    #[must_use]
    pub fn to_datetime(self) -> Option<DateTime> {
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
    #[must_use]
    pub const fn days(self) -> i64 {
        self.0.div_euclid(DAY)
    }

    /// The calendar date, or `None` outside the years 1–9999.
    #[must_use]
    pub fn date(self) -> Option<Date> {
        let days = i32::try_from(self.days()).ok()?;
        Date::from_days_since_epoch(days).ok()
    }

    /// Minutes since local midnight, 0..=1439.
    #[must_use]
    pub const fn minute_of_day(self) -> u16 {
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
    fn from(t: DateTime) -> Self {
        Self::from_datetime(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        // 2026-01-09 is a Friday (any calendar).
        let dt: DateTime = "2026-01-09T18:30:15".parse().unwrap();
        let t = Timestamp::from_datetime(dt);
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
        let _ = Timestamp(i64::MIN).weekday();
    }
}
