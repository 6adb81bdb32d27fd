//! A monotonic instant for sans-IO timers.
//!
//! The libraries never read a clock: the caller passes "now" as an [`Instant`], milliseconds
//! since any origin it chooses (boot, the start of the process), and timeouts, periods and
//! back-offs as `core::time::Duration`. Arithmetic is checked (`None`) or saturating by name;
//! it never wraps and never panics.
//!
//! ```
//! use amikit_core::Instant;
//! use core::time::Duration;
//! let sent = Instant::from_millis(1_000);
//! let deadline = sent.saturating_add(Duration::from_secs(30));
//! assert_eq!(deadline, Instant::from_millis(31_000));
//! assert_eq!(deadline.saturating_duration_since(sent), Duration::from_secs(30));
//! assert_eq!(sent.checked_duration_since(deadline), None);
//! ```

use core::time::Duration;

/// A monotonic instant: milliseconds since an origin the caller chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Instant(pub u64);

/// Whole milliseconds of `d`, or `None` above `u64::MAX` (64-bit arithmetic only: no `u128`
/// on 32-bit targets).
const fn checked_millis(d: Duration) -> Option<u64> {
    match d.as_secs().checked_mul(1000) {
        // subsec_millis() < 1000
        Some(ms) => ms.checked_add(d.subsec_millis() as u64),
        None => None,
    }
}

impl Instant {
    /// The origin (0 ms).
    pub const ZERO: Instant = Instant(0);

    /// The instant `ms` milliseconds after the origin.
    #[must_use]
    pub const fn from_millis(ms: u64) -> Instant {
        Instant(ms)
    }

    /// Milliseconds since the origin.
    #[must_use]
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// This instant plus `d` (whole milliseconds), or `None` past `u64::MAX` ms.
    #[must_use]
    pub const fn checked_add(self, d: Duration) -> Option<Instant> {
        match checked_millis(d) {
            Some(ms) => match self.0.checked_add(ms) {
                Some(t) => Some(Instant(t)),
                None => None,
            },
            None => None,
        }
    }

    /// This instant plus `d` (whole milliseconds), saturating at the largest instant.
    #[must_use]
    #[inline(never)] // one copy in firmware: sessions add timeouts in many places
    pub const fn saturating_add(self, d: Duration) -> Instant {
        match self.checked_add(d) {
            Some(t) => t,
            None => Instant(u64::MAX),
        }
    }

    /// This instant minus `d` (whole milliseconds), or `None` before the origin.
    #[must_use]
    pub const fn checked_sub(self, d: Duration) -> Option<Instant> {
        match checked_millis(d) {
            Some(ms) => match self.0.checked_sub(ms) {
                Some(t) => Some(Instant(t)),
                None => None,
            },
            None => None,
        }
    }

    /// The time from `earlier` to `self`, or `None` when `earlier` is later.
    #[must_use]
    pub const fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        match self.0.checked_sub(earlier.0) {
            Some(ms) => Some(Duration::from_millis(ms)),
            None => None,
        }
    }

    /// The time from `earlier` to `self`, zero when `earlier` is later.
    #[must_use]
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        let max = Instant(u64::MAX);
        assert_eq!(max.checked_add(Duration::from_millis(1)), None);
        assert_eq!(max.saturating_add(Duration::MAX), max);
        assert_eq!(Instant::ZERO.checked_add(Duration::MAX), None);
        assert_eq!(Instant::ZERO.checked_sub(Duration::from_millis(1)), None);
        assert_eq!(
            Instant(5).checked_sub(Duration::from_millis(5)),
            Some(Instant::ZERO)
        );
        // Sub-millisecond parts are dropped, never rounded up.
        assert_eq!(
            Instant(1).checked_add(Duration::from_micros(1_999)),
            Some(Instant(2))
        );
        assert_eq!(
            Instant(5).saturating_duration_since(Instant(10)),
            Duration::ZERO
        );
        assert_eq!(
            max.saturating_duration_since(Instant::ZERO),
            Duration::from_millis(u64::MAX)
        );
    }

    proptest! {
        #[test]
        fn add_then_since(t in any::<u64>(), ms in any::<u64>()) {
            let d = Duration::from_millis(ms);
            match Instant(t).checked_add(d) {
                Some(u) => {
                    prop_assert_eq!(u.checked_duration_since(Instant(t)), Some(d));
                    prop_assert_eq!(u.checked_sub(d), Some(Instant(t)));
                    prop_assert_eq!(Instant(t).saturating_add(d), u);
                }
                None => prop_assert_eq!(Instant(t).saturating_add(d), Instant(u64::MAX)),
            }
        }
    }
}
