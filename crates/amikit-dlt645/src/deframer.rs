//! A sans-IO push deframer for noisy serial lines.
//!
//! Feed byte chunks of any size with [`Deframer::push`], then call [`Deframer::next`] until it
//! returns `None`: it yields every complete frame in order (borrowed from its fixed-capacity
//! buffer, no allocation) and a [`Event::Skipped`] for every run of bytes it dropped, with the
//! reason. It resynchronises after garbage, stray or duplicated `68`, truncated frames and bad
//! checksums: a rejected candidate costs only its first `68` and the scan restarts right after
//! it, so a real frame hidden behind a false start is still found. Lengths come from `L`, so a
//! checksum of `0x16` or `FE` bytes inside the data do not confuse it.
//!
//! On a half-duplex RS-485 line the master hears its own request: [`Deframer::accept_only`]
//! drops frames of the other direction (reason [`DropReason::OtherDirection`]). When the line
//! falls silent (a timeout the caller measures), [`Deframer::idle`] declares a pending partial
//! frame truncated so that bytes behind it are not held back.
//!
//! ```
//! use amikit_dlt645::deframer::{Deframer, Event};
//! // garbage, then the read reply of unsurper/dlt645go's test (forward active energy 0.02 kWh)
//! let stream = [0x01, 0x68, 0xFE, 0xFE, 0x68, 0x76, 0x02, 0x02, 0x47, 0x02, 0x02, 0x68, 0x91,
//!               0x08, 0x33, 0x33, 0x34, 0x33, 0x35, 0x33, 0x33, 0x33, 0xC9, 0x16];
//! let mut d = Deframer::<256>::new();
//! let mut frames = 0;
//! let mut skipped = 0;
//! for byte in stream.chunks(1) {
//!     assert_eq!(d.push(byte), 1);
//!     while let Some(event) = d.next() {
//!         match event {
//!             Event::Frame(f) => { frames += 1; assert_eq!(f.preamble_len(), 2); }
//!             Event::Skipped { len, .. } => skipped += len,
//!         }
//!     }
//! }
//! assert_eq!((frames, skipped), (1, 2));
//! ```

use crate::control::Direction;
use crate::frame::{END, Frame, OVERHEAD, PREAMBLE, START, checksum, field};
use crate::value::is_bcd_byte;

/// Why the deframer dropped bytes.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DropReason {
    /// Bytes before any `68` (not a preamble).
    Garbage,
    /// A `68` not followed by a second `68` seven bytes later.
    NoSecondStart,
    /// A candidate whose address bytes are neither BCD nor `AA`.
    BadAddress,
    /// A candidate whose `L` exceeds the configured maximum.
    TooLong,
    /// A candidate whose checksum does not match.
    Checksum,
    /// A candidate whose end byte is not `16`.
    BadEnd,
    /// A partial frame declared truncated by [`Deframer::idle`].
    Truncated,
    /// A frame longer than the buffer capacity.
    Overflow,
    /// A valid frame of the direction filtered out by [`Deframer::accept_only`] (an echo).
    OtherDirection,
}

impl DropReason {
    /// snake_case name.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::Garbage => "garbage",
            DropReason::NoSecondStart => "no_second_start",
            DropReason::BadAddress => "bad_address",
            DropReason::TooLong => "too_long",
            DropReason::Checksum => "checksum",
            DropReason::BadEnd => "bad_end",
            DropReason::Truncated => "truncated",
            DropReason::Overflow => "overflow",
            DropReason::OtherDirection => "other_direction",
        }
    }
}

/// What [`Deframer::next`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A complete, checked frame (preamble included, see [`Frame::preamble_len`]).
    Frame(Frame<&'a [u8]>),
    /// `len` bytes were dropped.
    Skipped {
        /// How many bytes.
        len: usize,
        /// Why.
        reason: DropReason,
    },
}

/// Counters since creation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Stats {
    /// Frames delivered.
    pub frames: u64,
    /// Bytes delivered in frames (preambles included).
    pub frame_bytes: u64,
    /// Bytes dropped.
    pub skipped_bytes: u64,
}

/// Result of looking at a candidate starting with `68`.
enum Candidate {
    Need(usize),
    Bad(DropReason),
    Complete(usize),
}

/// A push deframer with an `N`-byte buffer (at least [`OVERHEAD`] + the longest frame you
/// accept; 268 holds any frame with `L` up to 255 plus a short preamble).
#[derive(Debug, Clone)]
pub struct Deframer<const N: usize> {
    buf: [u8; N],
    start: usize,
    end: usize,
    max_len: u8,
    accept: Option<Direction>,
    flush: bool,
    stats: Stats,
}

impl<const N: usize> Default for Deframer<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Deframer<N> {
    const MIN_CAPACITY: () = assert!(N >= OVERHEAD, "Deframer capacity below 12 bytes");

    /// An empty deframer accepting `L` up to 255 and both directions.
    pub const fn new() -> Self {
        let () = Self::MIN_CAPACITY;
        Deframer {
            buf: [0; N],
            start: 0,
            end: 0,
            max_len: u8::MAX,
            accept: None,
            flush: false,
            stats: Stats {
                frames: 0,
                frame_bytes: 0,
                skipped_bytes: 0,
            },
        }
    }

    /// Rejects candidates with `L` above `max` (e.g. 200, the longest data field of either edition),
    /// which lets it resynchronise sooner after a false start.
    pub const fn with_max_data_len(mut self, max: u8) -> Self {
        self.max_len = max;
        self
    }

    /// Delivers only frames of `direction`; the others (e.g. the master's own echoed request)
    /// are dropped as [`DropReason::OtherDirection`].
    pub const fn accept_only(mut self, direction: Direction) -> Self {
        self.accept = Some(direction);
        self
    }

    /// Counters.
    pub const fn stats(&self) -> Stats {
        self.stats
    }

    /// Bytes buffered and not yet delivered or dropped.
    pub const fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Forgets every buffered byte.
    pub fn reset(&mut self) {
        self.start = 0;
        self.end = 0;
        self.flush = false;
    }

    /// Copies as much of `input` as fits; returns how many bytes were taken. Call
    /// [`Deframer::next`] until `None` before pushing the rest.
    pub fn push(&mut self, input: &[u8]) -> usize {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if N - self.end < input.len() && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let take = input.len().min(N - self.end);
        if let (Some(dst), Some(src)) = (
            self.buf.get_mut(self.end..self.end + take),
            input.get(..take),
        ) {
            dst.copy_from_slice(src);
            self.end += take;
            self.flush = false;
            take
        } else {
            0
        }
    }

    /// The line fell silent: a partial frame at the head of the buffer will not be completed.
    /// The following [`Deframer::next`] calls drop it and scan what is behind it.
    pub fn idle(&mut self) {
        self.flush = true;
    }

    fn skip(&mut self, len: usize, reason: DropReason) -> Event<'_> {
        self.start += len;
        self.stats.skipped_bytes += len as u64;
        Event::Skipped { len, reason }
    }

    /// The next frame or dropped run, or `None` when more input is needed.
    #[allow(clippy::should_implement_trait)] // borrows from self: not an Iterator
    pub fn next(&mut self) -> Option<Event<'_>> {
        let avail = self.buf.get(self.start..self.end).unwrap_or(&[]);
        if avail.is_empty() {
            self.flush = false;
            return None;
        }
        let Some(at) = find_start(avail) else {
            // Keep a trailing FE run: it may be the preamble of the next frame.
            let fe = trailing_preamble(avail);
            let garbage = avail.len() - fe;
            if garbage > 0 {
                return Some(self.skip(garbage, DropReason::Garbage));
            }
            if self.flush || fe == N {
                return Some(self.skip(fe, DropReason::Garbage));
            }
            return None;
        };
        let fe = trailing_preamble(avail.get(..at).unwrap_or(&[]));
        let garbage = at - fe;
        if garbage > 0 {
            return Some(self.skip(garbage, DropReason::Garbage));
        }
        let cand = avail.get(fe..).unwrap_or(&[]);
        match candidate(cand, self.max_len) {
            Candidate::Need(total) => {
                if self.flush {
                    Some(self.skip(fe + 1, DropReason::Truncated))
                } else if fe + total > N {
                    if total <= N && fe > 0 {
                        // make room by dropping the preamble
                        Some(self.skip(fe, DropReason::Garbage))
                    } else if total > N {
                        Some(self.skip(fe + 1, DropReason::Overflow))
                    } else {
                        None
                    }
                } else {
                    None
                }
            }
            Candidate::Bad(reason) => Some(self.skip(fe + 1, reason)),
            Candidate::Complete(total) => {
                let len = fe + total;
                let begin = self.start;
                self.start += len;
                let control = cand.get(field::CONTROL).copied().unwrap_or(0);
                let direction = crate::control::Control(control).direction();
                if self.accept.is_some_and(|d| d != direction) {
                    self.stats.skipped_bytes += len as u64;
                    return Some(Event::Skipped {
                        len,
                        reason: DropReason::OtherDirection,
                    });
                }
                self.stats.frames += 1;
                self.stats.frame_bytes += len as u64;
                let bytes = self.buf.get(begin..begin + len).unwrap_or(&[]);
                Some(Event::Frame(Frame::new_unchecked(bytes)))
            }
        }
    }
}

#[inline]
fn trailing_preamble(bytes: &[u8]) -> usize {
    bytes.iter().rev().take_while(|&&b| b == PREAMBLE).count()
}

/// Checks a candidate that starts with `68`.
#[inline]
fn candidate(c: &[u8], max_len: u8) -> Candidate {
    let Some(head) = c.first_chunk::<8>() else {
        return Candidate::Need(OVERHEAD);
    };
    if head[field::START2] != START {
        return Candidate::Bad(DropReason::NoSecondStart);
    }
    if !head[1..7].iter().all(|&b| b == 0xAA || is_bcd_byte(b)) {
        return Candidate::Bad(DropReason::BadAddress);
    }
    let Some(&len) = c.get(field::LEN) else {
        return Candidate::Need(OVERHEAD);
    };
    if len > max_len {
        return Candidate::Bad(DropReason::TooLong);
    }
    let total = OVERHEAD + usize::from(len);
    let Some(frame) = c.get(..total) else {
        return Candidate::Need(total);
    };
    let (summed, tail) = frame.split_at(field::checksum(len));
    match tail {
        [cs, end] if *cs == checksum(summed) => {
            if *end == END {
                Candidate::Complete(total)
            } else {
                Candidate::Bad(DropReason::BadEnd)
            }
        }
        _ => Candidate::Bad(DropReason::Checksum),
    }
}

/// Position of the first `0x68`, eight bytes at a time.
#[inline]
pub(crate) fn find_start(hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const PAT: u64 = LO * START as u64;
    let mut chunks = hay.chunks_exact(8);
    let mut offset = 0usize;
    for chunk in &mut chunks {
        if let Some(c) = chunk.first_chunk::<8>() {
            let w = u64::from_le_bytes(*c) ^ PAT;
            let zero = w.wrapping_sub(LO) & !w & HI;
            if zero != 0 {
                return Some(offset + (zero.trailing_zeros() / 8) as usize);
            }
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == START)
        .map(|p| offset + p)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    /// unsurper/dlt645go test/dlt645_0x33333433_test.go (read reply, energy 0.02 kWh).
    const A: [u8; 20] = [
        0x68, 0x76, 0x02, 0x02, 0x47, 0x02, 0x02, 0x68, 0x91, 0x08, 0x33, 0x33, 0x34, 0x33, 0x35,
        0x33, 0x33, 0x33, 0xC9, 0x16,
    ];
    /// Jayla630/Dlt645Master: read request 00010000 to the wildcard address.
    const REQ: [u8; 16] = [
        0x68, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0x68, 0x11, 0x04, 0x33, 0x33, 0x34, 0x33, 0xAE,
        0x16,
    ];

    #[derive(Debug, PartialEq, Eq)]
    enum Out {
        F(Vec<u8>),
        S(usize, DropReason),
    }

    fn run<const N: usize>(
        d: &mut Deframer<N>,
        input: &[u8],
        chunk: usize,
        idle: bool,
    ) -> Vec<Out> {
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            let mut rest = piece;
            while !rest.is_empty() {
                let n = d.push(rest);
                rest = &rest[n..];
                while let Some(ev) = d.next() {
                    out.push(match ev {
                        Event::Frame(f) => {
                            assert!(f.check().is_ok());
                            Out::F(f.bytes().to_vec())
                        }
                        Event::Skipped { len, reason } => Out::S(len, reason),
                    });
                }
            }
        }
        if idle {
            d.idle();
            while let Some(ev) = d.next() {
                out.push(match ev {
                    Event::Frame(f) => Out::F(f.bytes().to_vec()),
                    Event::Skipped { len, reason } => Out::S(len, reason),
                });
            }
        }
        out
    }

    fn frames(out: &[Out]) -> Vec<&[u8]> {
        out.iter()
            .filter_map(|o| match o {
                Out::F(b) => Some(b.as_slice()),
                Out::S(..) => None,
            })
            .collect()
    }

    fn skipped(out: &[Out]) -> usize {
        out.iter()
            .map(|o| match o {
                Out::S(n, _) => *n,
                Out::F(_) => 0,
            })
            .sum()
    }

    /// Every chunk size from 1 to the whole input gives the same frames and drop count.
    fn all_chunkings(input: &[u8], idle: bool) -> Vec<Out> {
        let whole = run(&mut Deframer::<512>::new(), input, input.len(), idle);
        for chunk in 1..input.len() {
            let o = run(&mut Deframer::<512>::new(), input, chunk, idle);
            assert_eq!(frames(&o), frames(&whole), "chunk {chunk}");
            assert_eq!(skipped(&o), skipped(&whole), "chunk {chunk}");
        }
        whole
    }

    #[test]
    fn garbage_preamble_and_many_frames_per_chunk() {
        let mut s = vec![0x00, 0x16, 0xFE, 0x33];
        s.extend([0xFE, 0xFE, 0xFE, 0xFE]);
        s.extend(A);
        s.extend(REQ);
        s.extend([0x16, 0x16]);
        s.extend(A);
        let out = all_chunkings(&s, true);
        let mut a4 = vec![0xFE; 4];
        a4.extend(A);
        assert_eq!(frames(&out), vec![&a4[..], &REQ[..], &A[..]]);
        assert_eq!(out.first(), Some(&Out::S(4, DropReason::Garbage)));
        assert_eq!(skipped(&out), 6);
    }

    #[test]
    fn stray_and_duplicated_start() {
        // WKJay #5: a doubled 68 at the frame start.
        let mut s = vec![0x68];
        s.extend(A);
        let out = all_chunkings(&s, false);
        assert_eq!(frames(&out), vec![&A[..]]);
        assert_eq!(skipped(&out), 1);
        // a lone 68 inside garbage followed by a frame
        let mut s = vec![0x68, 0x01, 0x02, 0x68];
        s.extend(A);
        let out = all_chunkings(&s, false);
        assert_eq!(frames(&out), vec![&A[..]]);
    }

    #[test]
    fn truncated_frame_then_frame() {
        let mut s = A[..15].to_vec();
        s.extend(REQ);
        let out = all_chunkings(&s, false);
        assert_eq!(frames(&out), vec![&REQ[..]]);
        assert_eq!(skipped(&out), 15);
        // truncated at the end of the input: idle() drops it
        let out = all_chunkings(&A[..15], true);
        assert!(frames(&out).is_empty());
        assert_eq!(skipped(&out), 15);
        assert!(out.contains(&Out::S(1, DropReason::Truncated)));
    }

    #[test]
    fn bad_checksum_resyncs() {
        // Jayla630 negative vector: E7 -> E8.
        let bad = [
            0x68, 0x01, 0x72, 0x00, 0x72, 0x00, 0x00, 0x68, 0x91, 0x08, 0x33, 0x33, 0x34, 0x33,
            0x33, 0x33, 0x33, 0x33, 0xE8, 0x16,
        ];
        let mut s = bad.to_vec();
        s.extend(A);
        let out = all_chunkings(&s, false);
        assert_eq!(frames(&out), vec![&A[..]]);
        assert_eq!(out.first(), Some(&Out::S(1, DropReason::Checksum)));
    }

    #[test]
    fn checksum_0x16_and_fe_in_data() {
        // gams PR #3: CS = 0x16 must not end the frame; FE inside data must stay.
        let mut f = vec![
            0x68, 0x01, 0, 0, 0, 0, 0, 0x68, 0x91, 0x05, 0x33, 0x33, 0x34, 0x33, 0xFE,
        ];
        let cs = checksum(&f);
        // adjust the last data byte so that CS becomes 0x16
        let last = f.len() - 1;
        f[last] = f[last].wrapping_add(0x16u8.wrapping_sub(cs));
        let cs = checksum(&f);
        assert_eq!(cs, 0x16);
        f.extend([cs, 0x16]);
        let mut g = vec![
            0x68, 0x01, 0, 0, 0, 0, 0, 0x68, 0x91, 0x05, 0x33, 0xFE, 0xFE, 0x33, 0x16,
        ];
        let cs = checksum(&g);
        g.extend([cs, 0x16]);
        let mut s = f.clone();
        s.extend(&g);
        let out = all_chunkings(&s, false);
        assert_eq!(frames(&out), vec![&f[..], &g[..]]);
        assert_eq!(skipped(&out), 0);
    }

    #[test]
    fn echo_filtered() {
        let mut s = REQ.to_vec();
        s.extend(A);
        let mut d = Deframer::<64>::new().accept_only(Direction::SlaveToMaster);
        let out = run(&mut d, &s, 3, false);
        assert_eq!(frames(&out), vec![&A[..]]);
        assert_eq!(out.first(), Some(&Out::S(16, DropReason::OtherDirection)));
    }

    #[test]
    fn small_buffer_overflow_and_limits() {
        // a 20-byte frame in a 16-byte deframer cannot be held
        let mut d = Deframer::<16>::new();
        let out = run(&mut d, &A, 1, true);
        assert!(frames(&out).is_empty());
        let mut s = A.to_vec();
        s.extend(REQ);
        let out = run(&mut Deframer::<16>::new(), &s, 4, true);
        assert_eq!(frames(&out), vec![&REQ[..]]);
        // L above the limit
        let out = run(
            &mut Deframer::<64>::new().with_max_data_len(4),
            &A,
            20,
            true,
        );
        assert!(frames(&out).is_empty());
        assert_eq!(out.first(), Some(&Out::S(1, DropReason::TooLong)));
        // long preamble in a small buffer is trimmed, the frame survives
        let mut s = vec![0xFE; 40];
        s.extend(REQ);
        let out = run(&mut Deframer::<24>::new(), &s, 5, true);
        assert_eq!(frames(&out).len(), 1);
    }

    #[test]
    fn find_start_matches_position() {
        for len in 0..40 {
            for at in 0..len {
                let mut v = vec![0x67u8; len];
                v[at] = 0x68;
                if at + 3 < len {
                    v[at + 3] = 0x68;
                }
                assert_eq!(find_start(&v), Some(at));
            }
            assert_eq!(find_start(&vec![0xE8u8; len]), None);
        }
    }
}
