//! Wall-clock time for the sessions and the meter simulator (the sans-IO crates take time as
//! an input; this is where it is read).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use amikit_core::DateTime;

/// China Standard Time (UTC+8), the local time DL/T 645 meters and Q/GDW 376.1 terminals
/// keep.
pub const CHINA_STANDARD_TIME: i32 = 8 * 3600;

/// Where a session reads the calendar time (Tp send times and their checks): the system clock
/// at an offset ([`system_clock`]), or a simulated calendar (a compressed day in a test).
/// `None` stands for "no valid time": requests with Tp are then refused (failing closed).
pub type WallClock = Arc<dyn Fn() -> Option<DateTime> + Send + Sync>;

/// The system clock at `utc_offset` seconds east of UTC.
pub fn system_clock(utc_offset: i32) -> WallClock {
    Arc::new(move || local_now(utc_offset))
}

/// The local civil time now at `utc_offset` seconds east of UTC (`None` outside years
/// 1–9999, i.e. a broken system clock).
pub fn local_now(utc_offset: i32) -> Option<DateTime> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())?;
    DateTime::from_seconds_since_epoch(secs.saturating_add(i64::from(utc_offset))).ok()
}
