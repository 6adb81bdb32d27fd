//! Simulated time: a civil clock that runs `speed` times faster than the wall clock.
//!
//! The crates are sans-IO and take time as an argument; this is where the examples get it.
//! Time is local civil time (no zone, no DST), kept as whole seconds since 2000-01-01 00:00.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// Seconds since 2000-01-01 00:00:00 local civil time.
pub type SimSeconds = i64;

/// A civil date and time (proleptic Gregorian), second resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Civil {
    /// Year, e.g. 2026.
    pub year: i32,
    /// Month 1–12.
    pub month: u8,
    /// Day of month 1–31.
    pub day: u8,
    /// Hour 0–23.
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
    /// Second 0–59.
    pub second: u8,
}

const EPOCH_DAYS: i64 = 10_957; // days from 1970-01-01 to 2000-01-01

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

impl Civil {
    /// A civil time from its parts (not validated beyond what the arithmetic needs).
    pub const fn new(year: i32, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Self {
        Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
        }
    }

    /// Seconds since 2000-01-01 00:00.
    pub fn to_sim(self) -> SimSeconds {
        (days_from_civil(self.year, self.month, self.day) - EPOCH_DAYS) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// The civil time of a count of seconds since 2000-01-01 00:00.
    pub fn from_sim(t: SimSeconds) -> Self {
        let days = t.div_euclid(86_400);
        let secs = t.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days + EPOCH_DAYS);
        Self {
            year,
            month,
            day,
            hour: (secs / 3600) as u8,
            minute: (secs / 60 % 60) as u8,
            second: (secs % 60) as u8,
        }
    }

    /// Day of the week, 1 = Monday … 7 = Sunday.
    pub fn weekday(self) -> u8 {
        // 1970-01-01 was a Thursday (4).
        ((days_from_civil(self.year, self.month, self.day) + 3).rem_euclid(7) + 1) as u8
    }
}

impl std::fmt::Display for Civil {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// A shared simulated clock: `speed` simulated seconds pass per real second.
#[derive(Debug, Clone)]
pub struct SimClock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    real_start: Instant,
    sim_start: SimSeconds,
    speed: u32,
}

impl SimClock {
    /// A clock that starts at `start` and runs `speed` times faster than real time.
    pub fn new(start: Civil, speed: u32) -> Self {
        Self {
            inner: Arc::new(Inner {
                real_start: Instant::now(),
                sim_start: start.to_sim(),
                speed: speed.max(1),
            }),
        }
    }

    /// A clock that read `start` at the wall-clock instant `epoch_ms` (milliseconds since
    /// 1970) and has run `speed` times faster since: processes given the same start, speed and
    /// epoch share the simulated time (to the millisecond), as Tp between them needs.
    pub fn since_epoch(start: Civil, speed: u32, epoch_ms: u64) -> Self {
        let elapsed = Duration::from_millis(Self::epoch_now_ms().saturating_sub(epoch_ms));
        let real_start = Instant::now()
            .checked_sub(elapsed)
            .unwrap_or_else(Instant::now);
        Self {
            inner: Arc::new(Inner {
                real_start,
                sim_start: start.to_sim(),
                speed: speed.max(1),
            }),
        }
    }

    /// Milliseconds since 1970 now: the epoch to give [`SimClock::since_epoch`] in another
    /// process for a clock started now.
    pub fn epoch_now_ms() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// The current simulated time.
    pub fn now(&self) -> SimSeconds {
        let real_ms = self.inner.real_start.elapsed().as_millis();
        let sim_ms = real_ms.saturating_mul(u128::from(self.inner.speed));
        self.inner.sim_start + i64::try_from(sim_ms / 1000).unwrap_or(i64::MAX / 2)
    }

    /// The current simulated civil time.
    pub fn civil(&self) -> Civil {
        Civil::from_sim(self.now())
    }

    /// How many simulated seconds pass per real second.
    pub fn speed(&self) -> u32 {
        self.inner.speed
    }

    /// The real duration that `sim_seconds` of simulated time take.
    pub fn real(&self, sim_seconds: u64) -> Duration {
        Duration::from_millis(sim_seconds.saturating_mul(1000) / u64::from(self.inner.speed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_with_the_same_epoch_agree() {
        let start = Civil::new(2026, 3, 2, 6, 0, 0);
        let epoch = SimClock::epoch_now_ms() - 60_000;
        let a = SimClock::since_epoch(start, 60, epoch);
        let b = SimClock::since_epoch(start, 60, epoch);
        // A real minute ago at 60×: an hour of simulated time has passed.
        let ahead = a.now() - start.to_sim();
        assert!((3600..3600 + 60).contains(&ahead), "{ahead}");
        assert!((a.now() - b.now()).abs() <= 1);
    }

    #[test]
    fn civil_round_trip_and_weekday() {
        let t = Civil::new(2026, 11, 25, 17, 37, 27);
        assert_eq!(Civil::from_sim(t.to_sim()), t);
        assert_eq!(Civil::new(2000, 1, 1, 0, 0, 0).to_sim(), 0);
        // 2026-11-25 is a Wednesday (3); 2000-01-01 was a Saturday (6).
        assert_eq!(t.weekday(), 3);
        assert_eq!(Civil::new(2000, 1, 1, 0, 0, 0).weekday(), 6);
        // Leap day.
        let leap = Civil::new(2024, 2, 29, 23, 59, 59);
        assert_eq!(
            Civil::from_sim(leap.to_sim() + 1),
            Civil::new(2024, 3, 1, 0, 0, 0)
        );
    }
}
