//! Sans-IO sessions: time and bytes in, frames and events out (Q/GDW 1376.1-2013: AFN 02H link interface check, AFN 00H confirmation).
//!
//! * [`terminal::Terminal`]: login, heartbeat, retries with back-off, logout, CON confirms,
//!   ACD/EC bookkeeping, requests answered through a [`terminal::RequestHandler`].
//! * [`master::MasterSession`]: one per terminal connection — PFC/PSEQ allocation, RSEQ
//!   matching, retries and timeouts, duplicate suppression, multi-frame reassembly, per-item
//!   confirms, online/offline tracking, event pulls on ACD.
//!
//! Neither reads a clock or touches a socket. The caller passes a monotonic [`Instant`]
//! (milliseconds) to every call, feeds received bytes to `on_bytes`, sends what
//! `poll_transmit` writes, and calls `poll_transmit` again at `poll_at()` at the latest.
//! Events are delivered to a callback, borrowing the received frame (no copies, no heap).
//! All buffers are fixed arrays sized by const generics.

pub mod master;
mod repeat;
pub mod terminal;

use crate::frame::Repr;
use core::time::Duration;

use crate::time::{DateTime, Instant};

/// A byte queue of outgoing frames (fixed capacity `N`).
#[derive(Debug, Clone)]
pub struct Outbox<const N: usize> {
    buf: [u8; N],
    start: usize,
    len: usize,
}

impl<const N: usize> Default for Outbox<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Outbox<N> {
    /// An empty queue.
    #[must_use]
    pub const fn new() -> Self {
        Outbox {
            buf: [0; N],
            start: 0,
            len: 0,
        }
    }
    /// Bytes waiting.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }
    /// True when nothing waits.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Free space.
    #[must_use]
    pub const fn free(&self) -> usize {
        N - self.len
    }
    /// Drops everything.
    pub fn clear(&mut self) {
        self.start = 0;
        self.len = 0;
    }
    /// Appends a whole frame; false (nothing queued) when it does not fit.
    pub fn push(&mut self, frame: &[u8]) -> bool {
        if frame.len() > self.free() {
            return false;
        }
        if self.start + self.len + frame.len() > N {
            self.buf.copy_within(self.start..self.start + self.len, 0);
            self.start = 0;
        }
        let at = self.start + self.len;
        match self.buf.get_mut(at..at + frame.len()) {
            Some(dst) => {
                dst.copy_from_slice(frame);
                self.len += frame.len();
                true
            }
            None => false,
        }
    }
    /// The contiguous free space at the end (after compacting); write a frame there and
    /// [`Outbox::commit`] it.
    pub fn reserve(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.start + self.len, 0);
            self.start = 0;
        }
        self.buf.get_mut(self.len..).unwrap_or(&mut [])
    }
    /// Marks `n` bytes written into [`Outbox::reserve`] as queued.
    pub fn commit(&mut self, n: usize) {
        self.len = (self.len + n).min(N - self.start);
    }
    /// The last `n` queued bytes (fewer when fewer are queued).
    #[must_use]
    pub fn tail(&self, n: usize) -> &[u8] {
        let n = n.min(self.len);
        let end = self.start + self.len;
        self.buf.get(end - n..end).unwrap_or(&[])
    }
    /// Moves up to `out.len()` queued bytes into `out`; returns how many.
    pub fn pop_into(&mut self, out: &mut [u8]) -> usize {
        let n = self.len.min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), self.buf.get(self.start..self.start + n))
        {
            dst.copy_from_slice(src);
        }
        self.start += n;
        self.len -= n;
        if self.len == 0 {
            self.start = 0;
        }
        n
    }
}

/// Calendar time derived from the monotonic instants: set once (and again whenever the caller
/// learns better — it may be set before every call, which makes calendar time a plain input),
/// read as `wall + (now − at) × speed`.
///
/// `speed` lets a simulation run its calendar N× faster than its [`Instant`]s (a day of
/// prepayment in a few real minutes): Tp send times are built, and Tp expiry is checked, in
/// that compressed calendar time on both sides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WallClock {
    base: Option<(Instant, i64, u32)>,
}

impl WallClock {
    /// Records that `at` corresponds to the local time `wall` (calendar at real speed).
    pub fn set(&mut self, at: Instant, wall: DateTime) {
        self.set_scaled(at, wall, 1);
    }
    /// Records that `at` corresponds to `wall` and that the calendar runs `speed` times faster
    /// than the instants (0 is read as 1).
    pub fn set_scaled(&mut self, at: Instant, wall: DateTime, speed: u32) {
        self.base = Some((at, wall.seconds_since_epoch(), speed.max(1)));
    }
    /// True once set.
    #[must_use]
    pub const fn is_set(&self) -> bool {
        self.base.is_some()
    }
    /// The local time at `now`, when set (and inside the years 1–9999).
    #[must_use]
    pub fn at(&self, now: Instant) -> Option<DateTime> {
        let (at, secs, speed) = self.base?;
        let ms = now.saturating_duration_since(at).as_millis() * u128::from(speed);
        let d = i64::try_from(ms / 1000).unwrap_or(i64::MAX / 2);
        DateTime::from_seconds_since_epoch(secs.saturating_add(d)).ok()
    }
}

/// Exponential back-off: `initial × 2^attempt`, capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Upper bound.
    pub max: Duration,
}

impl Backoff {
    /// The delay before attempt `n` (0-based).
    #[must_use]
    pub const fn delay(&self, n: u32) -> Duration {
        let shift = if n > 20 { 20 } else { n };
        let d = match self.initial.checked_mul(1 << shift) {
            Some(d) => d,
            None => Duration::MAX,
        };
        // `d > self.max` without u128 (Duration's `Ord` is not const).
        let over = d.as_secs() > self.max.as_secs()
            || (d.as_secs() == self.max.as_secs() && d.subsec_nanos() > self.max.subsec_nanos());
        if over { self.max } else { d }
    }
}

/// The (pn, Fn) items of an AFN 00 reply to a request, as `(item AFN or the reply's, confirmed)`:
/// true when the reply is F1 (all confirmed) or an F3 whose items for `afn` are all confirmed.
#[must_use]
pub fn is_confirmation(repr: &Repr<'_>, profile: &crate::Profile, afn: crate::Afn) -> Option<bool> {
    use crate::walker::Item;
    if repr.afn != crate::Afn::CONFIRM {
        return None;
    }
    for item in repr.units(profile) {
        if let Item::Unit(u) = item {
            match u.fn_.0 {
                1 => return Some(true),
                2 => return Some(false),
                3 => {
                    let mut r =
                        crate::units::Reader::new(u.data, crate::units::read_options(profile));
                    let items = crate::units::ItemResults::parse(&mut r).ok()?;
                    if items.afn != afn {
                        return Some(false);
                    }
                    return Some(items.iter().all(|i| i.ok()));
                }
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_and_backoff() {
        let mut o = Outbox::<8>::new();
        assert!(o.push(&[1, 2, 3, 4, 5]));
        assert!(!o.push(&[6, 7, 8, 9]));
        let mut out = [0u8; 3];
        assert_eq!(o.pop_into(&mut out), 3);
        assert!(o.push(&[6, 7, 8, 9]));
        let mut all = [0u8; 16];
        assert_eq!(o.pop_into(&mut all), 6);
        assert_eq!(&all[..6], &[4, 5, 6, 7, 8, 9]);
        let b = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
        };
        assert_eq!(
            (b.delay(0), b.delay(3), b.delay(10), b.delay(99)),
            (
                Duration::from_secs(1),
                Duration::from_secs(8),
                Duration::from_secs(30),
                Duration::from_secs(30)
            )
        );
        let huge = Backoff {
            initial: Duration::MAX,
            max: Duration::from_secs(7),
        };
        assert_eq!(huge.delay(20), Duration::from_secs(7));
        let mut w = WallClock::default();
        assert!(w.at(Instant(5)).is_none());
        let t = DateTime::new(2024, 2, 29, 23, 59, 30).unwrap();
        let mut fast = WallClock::default();
        fast.set_scaled(Instant(1000), t, 60);
        // One real second is a simulated minute.
        assert_eq!(
            fast.at(Instant(2000))
                .map(|d| (d.month(), d.day(), d.minute(), d.second())),
            Some((3, 1, 0, 30))
        );
        w.set(Instant(1000), t);
        assert_eq!(
            w.at(Instant(61_000)),
            Some(DateTime::new(2024, 3, 1, 0, 0, 30).unwrap())
        );
    }
}
