//! The civil calendar the tariff is written in: dates, times of day and date-times in local
//! time, with the boundary counting that standing charges and settlements need.
//!
//! The calendar types are `amikit-core`'s ([`amikit_core::calendar`]), re-exported here so
//! that `amikit_tariff::DateTime` and `amikit_tariff::calendar::Date` keep working: there is
//! no clock and no time zone, the caller passes the local civil time of the meter or the
//! customer (the time the tariff's periods are written in), years 1–9999, proleptic
//! Gregorian calendar. This module adds what only billing needs: how many days, weeks and
//! months start in an interval.

pub use amikit_core::calendar::{
    CalendarError, Date, DateTime, MonthDay, TimeOfDay, Weekday, days_in_month, is_leap_year,
};

/// Number of midnights (starts of days) in `(from, to]`; 0 if `to <= from`.
#[must_use]
pub(crate) fn days_started(from: DateTime, to: DateTime) -> u32 {
    if to <= from {
        return 0;
    }
    let d = to
        .date()
        .days_since_epoch()
        .saturating_sub(from.date().days_since_epoch());
    u32::try_from(d).unwrap_or(0)
}

/// Number of Monday midnights in `(from, to]`; 0 if `to <= from`.
#[must_use]
pub(crate) fn weeks_started(from: DateTime, to: DateTime) -> u32 {
    if to <= from {
        return 0;
    }
    // 1970-01-05 (day 4) was a Monday: week number floor((d - 4) / 7) steps at each Monday.
    let w = |d: Date| (d.days_since_epoch() - 4).div_euclid(7);
    u32::try_from(w(to.date()).saturating_sub(w(from.date()))).unwrap_or(0)
}

/// Number of first-of-month midnights in `(from, to]`; 0 if `to <= from`.
#[must_use]
pub(crate) fn months_started(from: DateTime, to: DateTime) -> u32 {
    if to <= from {
        return 0;
    }
    let m = |d: Date| i32::from(d.year()) * 12 + i32::from(d.month());
    u32::try_from(m(to.date()).saturating_sub(m(from.date()))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

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
