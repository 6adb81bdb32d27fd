//! What the front end and the terminal driver share: the sessions' millisecond clock.

use amikit_gdw376::{DateTime, Instant};

/// Milliseconds since `base` as the sessions' monotonic [`Instant`].
pub(crate) fn instant_since(base: tokio::time::Instant) -> Instant {
    Instant(u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX))
}

/// The tokio instant at which session instant `at` falls.
pub(crate) fn tokio_instant(base: tokio::time::Instant, at: Instant) -> tokio::time::Instant {
    base + std::time::Duration::from_millis(at.0)
}

/// Calendar time for Tp (`None`: no valid time; requests with Tp are then refused, failing
/// closed).
pub(crate) fn wall(clock: &crate::clock::WallClock) -> Option<DateTime> {
    clock()
}
