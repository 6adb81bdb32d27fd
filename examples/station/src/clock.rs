//! Simulated time: a civil clock that runs `speed` times faster than the wall clock.
//!
//! The crates are sans-IO and take time as an argument; this is where the examples get it.
//! Time is local civil time (no zone, no DST), kept as whole seconds since 2000-01-01 00:00.

use std::sync::Arc;
use std::time::{Duration, Instant};

use amikit_core::{CalendarError, Date, DateTime, Weekday};

/// Seconds since 2000-01-01 00:00:00 local civil time.
pub type SimSeconds = i64;

/// A civil date and time of the simulation: an [`amikit_core::DateTime`] (validated, the
/// calendar arithmetic is `amikit-core`'s) that prints as `YYYY-MM-DD hh:mm:ss` in timelines,
/// logs and the operator API. The wire crates convert from its [`Civil::datetime`] with their
/// own `TryFrom` (DL/T 645 `YYMMDDhhmmss`, Q/GDW 1376.1 formats 01 and 15, the STS TID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Civil(DateTime);

/// Seconds from 1970-01-01 00:00 to 2000-01-01 00:00 (10 957 days).
const EPOCH_2000: i64 = 946_684_800;

/// Seconds since 1970-01-01 00:00 of a simulated time: the count of the crates' clocks
/// (`amikit_core::DateTime::seconds_since_epoch`, `amikit_prepay::Timestamp`; local civil time,
/// no zone).
pub const fn unix_of(t: SimSeconds) -> i64 {
    t.saturating_add(EPOCH_2000)
}

/// The simulated time of a count of seconds since 1970-01-01 00:00 (local civil time).
pub const fn sim_of_unix(u: i64) -> SimSeconds {
    u.saturating_sub(EPOCH_2000)
}

/// The charge-control engine's time of a simulated time.
pub const fn timestamp(t: SimSeconds) -> amikit_prepay::Timestamp {
    amikit_prepay::Timestamp(unix_of(t))
}

/// 2026-03-02 06:00:00: where the demo's day starts, and the CLIs' default start.
pub const DEMO_START: Civil = match Civil::new(2026, 3, 2, 6, 0, 0) {
    Ok(c) => c,
    Err(_) => Civil(Date::EPOCH.midnight()),
};

impl Civil {
    /// A civil time from its parts.
    ///
    /// # Errors
    /// A field out of range, or a day the month does not have.
    pub const fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Result<Self, CalendarError> {
        match DateTime::new(year, month, day, hour, minute, second) {
            Ok(t) => Ok(Self(t)),
            Err(e) => Err(e),
        }
    }

    /// Seconds since 2000-01-01 00:00.
    pub const fn to_sim(self) -> SimSeconds {
        sim_of_unix(self.0.seconds_since_epoch())
    }

    /// The civil time of a count of seconds since 2000-01-01 00:00 (outside years 1–9999,
    /// which no simulation reaches, 1970-01-01 00:00).
    pub fn from_sim(t: SimSeconds) -> Self {
        Self(DateTime::from_seconds_since_epoch(unix_of(t)).unwrap_or(Date::EPOCH.midnight()))
    }

    /// The date and time, for the crates.
    pub const fn datetime(self) -> DateTime {
        self.0
    }

    /// Day of the week.
    pub const fn weekday(self) -> Weekday {
        self.0.weekday()
    }
}

impl From<DateTime> for Civil {
    fn from(t: DateTime) -> Self {
        Self(t)
    }
}

impl std::str::FromStr for Civil {
    type Err = CalendarError;

    /// `YYYY-MM-DDThh:mm[:ss]` (a space may replace the `T`), as [`DateTime`] parses it.
    fn from_str(s: &str) -> Result<Self, CalendarError> {
        s.trim().parse().map(Self)
    }
}

impl std::fmt::Display for Civil {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.0;
        write!(
            f,
            "{} {:02}:{:02}:{:02}",
            t.date(),
            t.hour(),
            t.minute(),
            t.second()
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
        let start = DEMO_START;
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
        let t = Civil::new(2026, 11, 25, 17, 37, 27).unwrap();
        assert_eq!(Civil::from_sim(t.to_sim()), t);
        assert_eq!(Civil::new(2000, 1, 1, 0, 0, 0).unwrap().to_sim(), 0);
        assert_eq!(t.weekday(), Weekday::Wednesday);
        assert_eq!(
            Civil::new(2000, 1, 1, 0, 0, 0).unwrap().weekday(),
            Weekday::Saturday
        );
        // Leap day.
        let leap = Civil::new(2024, 2, 29, 23, 59, 59).unwrap();
        assert_eq!(
            Civil::from_sim(leap.to_sim() + 1),
            Civil::new(2024, 3, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(DEMO_START.to_string(), "2026-03-02 06:00:00");
    }

    #[test]
    fn civil_parses_validates_and_prints() {
        let t: Civil = "2026-03-02T06:30".parse().unwrap();
        assert_eq!(t, Civil::new(2026, 3, 2, 6, 30, 0).unwrap());
        assert_eq!(t.to_string(), "2026-03-02 06:30:00");
        assert_eq!(
            "2026-02-28 23:59:59".parse::<Civil>().unwrap(),
            Civil::new(2026, 2, 28, 23, 59, 59).unwrap()
        );
        // A day the month does not have is refused (the hand parsers accepted 2026-02-30).
        assert!("2026-02-30T00:00".parse::<Civil>().is_err());
        assert!(Civil::new(2026, 2, 30, 0, 0, 0).is_err());
        assert!("2026-13-02T00:00".parse::<Civil>().is_err());
        assert!("yesterday".parse::<Civil>().is_err());
    }
}
