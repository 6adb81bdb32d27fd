//! Time as an input: a calendar [`DateTime`] for Tp checks and a monotonic [`Instant`] for the
//! session timers. Nothing here reads a clock.

use crate::format::{Format01, Format16};

/// A monotonic instant in milliseconds (from any origin the caller chooses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Instant(pub u64);

impl Instant {
    /// This instant plus `ms` milliseconds (saturating).
    #[must_use]
    pub const fn add_ms(self, ms: u64) -> Instant {
        Instant(self.0.saturating_add(ms))
    }
    /// Milliseconds since `earlier` (0 when `earlier` is later).
    #[must_use]
    pub const fn since(self, earlier: Instant) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// A local calendar date and time (China time, no zone), as the protocol uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DateTime {
    /// Year, e.g. 2024.
    pub year: u16,
    /// Month 1–12.
    pub month: u8,
    /// Day 1–31.
    pub day: u8,
    /// Hour 0–23.
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
    /// Second 0–59.
    pub second: u8,
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
#[must_use]
pub const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days in a month of the proleptic Gregorian calendar (0 for a month outside 1–12).
#[must_use]
pub const fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// The date of a day count from 1970-01-01: `(year, month, day)`.
#[must_use]
pub const fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl DateTime {
    /// Seconds since 1970-01-01T00:00:00 of this local time.
    #[must_use]
    pub const fn to_seconds(&self) -> i64 {
        days_from_civil(self.year as i64, self.month as i64, self.day as i64) * 86_400
            + self.hour as i64 * 3600
            + self.minute as i64 * 60
            + self.second as i64
    }
    /// The local time `s` seconds after 1970-01-01T00:00:00.
    #[must_use]
    pub const fn from_seconds(s: i64) -> DateTime {
        let days = s.div_euclid(86_400);
        let rem = s.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        DateTime {
            year: y as u16,
            month: m,
            day: d,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
        }
    }
    /// Weekday, 1 = Monday … 7 = Sunday.
    #[must_use]
    pub const fn weekday(&self) -> u8 {
        let d = days_from_civil(self.year as i64, self.month as i64, self.day as i64);
        // 1970-01-01 was a Thursday (4).
        ((d + 3).rem_euclid(7) + 1) as u8
    }
    /// As format 01 (terminal clock, with weekday).
    #[must_use]
    pub const fn to_format01(&self) -> Format01 {
        Format01 {
            second: self.second,
            minute: self.minute,
            hour: self.hour,
            day: self.day,
            weekday: self.weekday(),
            month: self.month,
            year: (self.year % 100) as u8,
        }
    }
    /// As format 16 (Tp send time `ss mm hh DD`).
    #[must_use]
    pub const fn to_format16(&self) -> Format16 {
        Format16 {
            second: self.second,
            minute: self.minute,
            hour: self.hour,
            day: self.day,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        let t = DateTime {
            year: 2015,
            month: 3,
            day: 17,
            hour: 7,
            minute: 39,
            second: 0,
        };
        // gdw376-062 says 2015-03-17 was a Tuesday (weekday 2).
        assert_eq!(t.weekday(), 2);
        assert_eq!(DateTime::from_seconds(t.to_seconds()), t);
        assert_eq!(
            DateTime {
                year: 1970,
                month: 1,
                day: 1,
                ..t
            }
            .to_seconds(),
            7 * 3600 + 39 * 60
        );
        for s in (0..4_000_000_000i64).step_by(86_399 * 17) {
            assert_eq!(DateTime::from_seconds(s).to_seconds(), s);
        }
    }
}
