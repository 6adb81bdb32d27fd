//! Streaming deframer for TCP/GPRS byte streams (Q/GDW 1376.1-2013, link layer: frame format).
//!
//! Feed it whatever the socket returned; it finds frames in partial and concatenated reads,
//! skips garbage (`FE` wake-up bytes, gateway prefixes such as the 13-byte FEP header or the
//! `55 … 55` channel wrapper of some front-end processors are skipped as garbage), and resynchronises on the
//! next `68` after a bad candidate (wrong L pair, second `68`, CS or end byte).
//!
//! Complete frames inside one read are returned as slices of the input (zero copy); only a
//! frame split across reads is copied into the internal buffer of `N` bytes, which also bounds
//! the largest frame accepted (longer candidates are skipped).
//!
//! ```
//! use amikit_gdw376::deframer::Deframer;
//!
//! let login = [0x68, 0x32, 0x00, 0x32, 0x00, 0x68, 0xC9, 0x71, 0x01, 0x22, 0x08, 0x00, 0x02,
//!     0x78, 0x00, 0x00, 0x01, 0x00, 0xE0, 0x16];
//! let mut d = Deframer::<512>::default();
//! let mut frames = 0;
//! // Garbage, then the frame split over two reads.
//! for read in [&[0xFE, 0xFE, 0x68, 0x00][..], &login[..7], &login[7..]] {
//!     let mut rest = read;
//!     loop {
//!         let out = d.push(rest);
//!         if let Some(frame) = out.frame {
//!             assert_eq!(frame, &login[..]);
//!             frames += 1;
//!         }
//!         rest = rest.get(out.consumed..).unwrap_or(&[]);
//!         if out.frame.is_none() { break; }
//!     }
//! }
//! assert_eq!(frames, 1);
//! ```

use crate::error::FrameError;
use crate::frame::{OVERHEAD, checksum, split_l};
use crate::profile::Profile;

/// Counters kept by the deframer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames returned.
    pub frames: u64,
    /// Bytes skipped while looking for a frame start.
    pub skipped: u64,
    /// Candidates rejected (bad L pair, second `68`, CS, end byte, too long).
    pub rejected: u64,
    /// The last rejection.
    pub last_error: Option<FrameError>,
    /// Bytes looked at (scans for `68`, header checks, checksums, running sums): a
    /// deterministic measure of the deframer's work, for tests and benches.
    pub examined: u64,
}

/// The result of one [`Deframer::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output<'a> {
    /// Input bytes used; pass the rest to the next call.
    pub consumed: usize,
    /// A complete, checked frame, if one ended in the consumed bytes.
    pub frame: Option<&'a [u8]>,
}

/// A streaming deframer with an `N`-byte buffer for frames split across reads.
///
/// # Work bound
///
/// Resynchronisation is linear: every input byte is looked at a bounded number of times
/// whatever the stream holds ([`Stats::examined`] counts them). A candidate's header and end
/// byte are checked before its checksum; after the first candidate that fails only on its
/// checksum, checksums come from running sums kept in the buffer (one addition per byte), so
/// a stream of `68 L L 68` headers whose lengths point far ahead costs no more per byte than
/// random garbage. Held bytes of a frame split across reads are kept the same way, as a ring
/// of running sums.
#[derive(Debug, Clone)]
pub struct Deframer<const N: usize = 2048> {
    /// Held bytes as a ring of running sums mod 256: `buf[(head + i) % N]` is `base` plus held
    /// bytes `0..=i`. While nothing is held, the fast path's running-sum scratch.
    buf: [u8; N],
    head: usize,
    len: usize,
    base: u8,
    /// Held bytes at the front that were returned as a frame (turned back into raw bytes);
    /// dropped on the next push, after which `returned_base` is the base.
    returned: usize,
    returned_base: u8,
    /// The held candidate's validated length, 0 while unknown.
    held_total: usize,
    profile: Profile,
    stats: Stats,
}

/// What a candidate's first bytes say.
enum Header {
    /// Not a frame start.
    Bad(FrameError),
    /// More header bytes needed.
    More,
    /// A valid header announcing a frame of this many bytes (≤ N).
    Total(usize),
}

/// Running sums over the fast path's input, kept in the deframer's buffer as a ring:
/// `ring[p % N]` is the sum of `input[origin..p]` mod 256 for `p` in `(filled − N, filled]`.
struct Sums {
    filled: usize,
}

impl Sums {
    fn sum<const N: usize>(
        &mut self,
        ring: &mut [u8; N],
        input: &[u8],
        from: usize,
        to: usize,
        examined: &mut u64,
    ) -> u8 {
        while self.filled < to {
            let p = self.filled;
            let prev = ring.get(p % N).copied().unwrap_or(0);
            let b = input.get(p).copied().unwrap_or(0);
            if let Some(slot) = ring.get_mut((p + 1) % N) {
                *slot = prev.wrapping_add(b);
            }
            self.filled += 1;
            *examined += 1;
        }
        let at = |p: usize| ring.get(p % N).copied().unwrap_or(0);
        at(to).wrapping_sub(at(from))
    }
}

impl<const N: usize> Default for Deframer<N> {
    /// A deframer for protocol id 2 (Q/GDW 376.1, [`Profile::STRICT_2013`]).
    fn default() -> Self {
        Self::with_profile(Profile::STRICT_2013)
    }
}

impl<const N: usize> Deframer<N> {
    /// A deframer accepting the protocol ids the profile accepts (`Deframer::default()` is
    /// the one for [`Profile::STRICT_2013`]: protocol id 2 only).
    #[must_use]
    pub const fn with_profile(profile: Profile) -> Self {
        Deframer {
            buf: [0; N],
            head: 0,
            len: 0,
            base: 0,
            returned: 0,
            returned_base: 0,
            held_total: 0,
            profile,
            stats: Stats {
                frames: 0,
                skipped: 0,
                rejected: 0,
                last_error: None,
                examined: 0,
            },
        }
    }
    /// Counters.
    #[must_use]
    pub const fn stats(&self) -> &Stats {
        &self.stats
    }
    /// Bytes held from an incomplete frame.
    #[must_use]
    pub const fn pending(&self) -> usize {
        self.len - self.returned
    }
    /// Drops any partial frame (e.g. on reconnect).
    pub fn reset(&mut self) {
        self.head = 0;
        self.len = 0;
        self.base = 0;
        self.returned = 0;
        self.held_total = 0;
    }

    /// Checks the link header (Q/GDW 1376.1-2013 §4.3.2: `68 L L 68`, both L copies, protocol
    /// id, user-data length ≥ 8) from whatever of its six bytes are present.
    #[inline(always)]
    fn header(&self, h: [u8; 6], avail: usize) -> Header {
        let [s1, l0, l1, c0, c1, s2] = h;
        if avail == 0 {
            return Header::More;
        }
        if s1 != 0x68 {
            return Header::Bad(FrameError::BadStart(s1));
        }
        if avail >= 3 {
            let (user_len, pid) = split_l(u16::from_le_bytes([l0, l1]));
            if !self.profile.accepts_protocol_id(pid) {
                return Header::Bad(FrameError::ProtocolId(pid));
            }
            if user_len < 8 {
                return Header::Bad(FrameError::TooShort(user_len));
            }
        }
        if (avail >= 4 && c0 != l0) || (avail >= 5 && c1 != l1) {
            return Header::Bad(FrameError::LengthMismatch {
                first: u16::from_le_bytes([l0, l1]),
                second: u16::from_le_bytes([c0, if avail >= 5 { c1 } else { 0 }]),
            });
        }
        if avail >= 3 {
            let total = split_l(u16::from_le_bytes([l0, l1])).0 + OVERHEAD;
            if total > N {
                return Header::Bad(FrameError::TooLong {
                    length: total,
                    limit: N,
                });
            }
        }
        if avail < 6 {
            return Header::More;
        }
        if s2 != 0x68 {
            return Header::Bad(FrameError::BadSecondStart(s2));
        }
        Header::Total(split_l(u16::from_le_bytes([l0, l1])).0 + OVERHEAD)
    }

    fn reject(&mut self, e: FrameError) {
        self.stats.rejected += 1;
        self.stats.last_error = Some(e);
    }

    // --- the held ring --------------------------------------------------------------------

    /// Running sum up to and including held byte `i` (`base` for `i = -1`, written `None`).
    fn held_sum(&self, i: Option<usize>) -> u8 {
        match i {
            None => self.base,
            Some(i) => self
                .buf
                .get((self.head + i) % N.max(1))
                .copied()
                .unwrap_or(0),
        }
    }
    /// Held byte `i`.
    fn held_byte(&self, i: usize) -> u8 {
        self.held_sum(Some(i))
            .wrapping_sub(self.held_sum(i.checked_sub(1)))
    }
    /// Appends a byte to the held ring (the caller checks `len < N`).
    fn hold(&mut self, b: u8) {
        let prev = self.held_sum(self.len.checked_sub(1));
        if let Some(slot) = self.buf.get_mut((self.head + self.len) % N.max(1)) {
            *slot = prev.wrapping_add(b);
        }
        self.len += 1;
    }
    /// Drops the first `k` held bytes.
    fn drop_held(&mut self, k: usize) {
        let k = k.min(self.len);
        if k == 0 {
            return;
        }
        self.held_total = 0;
        self.base = self.held_sum(Some(k - 1));
        self.head = (self.head + k) % N.max(1);
        self.len -= k;
        if self.len == 0 {
            self.head = 0;
            self.base = 0;
        }
    }
    /// Turns held bytes `0..n` back into raw bytes at `buf[head..head + n]` (rotating the ring
    /// first when they wrap); the bytes after them stay running sums over `returned_base`.
    fn linearise(&mut self, n: usize) {
        if self.head + n > N {
            self.buf.rotate_left(self.head);
            self.stats.examined += N as u64;
            self.head = 0;
        }
        self.returned_base = self.held_sum(n.checked_sub(1));
        for i in (0..n).rev() {
            let b = self.held_byte(i);
            if let Some(slot) = self.buf.get_mut(self.head + i) {
                *slot = b;
            }
        }
        self.stats.examined += n as u64;
        self.returned = n;
    }

    /// Classifies the candidate at held byte 0: `Ok(Ok(n))` a frame of `n` bytes, `Ok(Err(want))`
    /// more bytes needed (`want` in all), `Err` not a frame.
    fn held_candidate(&mut self) -> Result<Result<usize, usize>, FrameError> {
        if self.held_total > self.len {
            return Ok(Err(self.held_total));
        }
        let mut h = [0u8; 6];
        let avail = self.len.min(6);
        for (i, b) in h.iter_mut().enumerate().take(avail) {
            *b = self.held_byte(i);
        }
        self.stats.examined += avail as u64;
        let total = match self.header(h, avail) {
            Header::Bad(e) => return Err(e),
            Header::More => return Ok(Err(6)),
            Header::Total(t) => t,
        };
        self.held_total = total;
        if self.len < total {
            return Ok(Err(total));
        }
        self.stats.examined += 2;
        let end = self.held_byte(total - 1);
        if end != 0x16 {
            return Err(FrameError::BadEnd(end));
        }
        let found = self.held_byte(total - 2);
        // User data: held bytes 6 .. total − 2.
        let computed = self
            .held_sum(Some(total - 3))
            .wrapping_sub(self.held_sum(Some(5)));
        if found != computed {
            return Err(FrameError::Checksum { found, computed });
        }
        Ok(Ok(total))
    }

    /// Feeds bytes. Returns how many were consumed and, when a frame completed, the frame
    /// (borrowed from `input` or from the internal buffer). Call again with the unconsumed rest
    /// until no frame comes back.
    pub fn push<'a>(&'a mut self, input: &'a [u8]) -> Output<'a> {
        let mut pos = 0usize;
        if self.returned > 0 {
            // The last frame came from the buffer; keep what followed it.
            let r = self.returned.min(self.len);
            self.head = (self.head + r) % N.max(1);
            self.len -= r;
            self.base = self.returned_base;
            self.returned = 0;
            self.held_total = 0;
            if self.len == 0 {
                self.head = 0;
                self.base = 0;
            }
        }
        // Finish a held partial frame first.
        while self.len > 0 {
            // Take input up to what the candidate needs (its header, then its whole length).
            let want = match self.held_candidate() {
                Ok(Ok(n)) => {
                    self.stats.frames += 1;
                    self.linearise(n);
                    let frame = self.buf.get(self.head..self.head + n);
                    return Output {
                        consumed: pos,
                        frame,
                    };
                }
                Ok(Err(want)) => want,
                Err(e) => {
                    // Resync inside the held bytes: drop the first byte, keep from the next 68.
                    if !matches!(e, FrameError::BadStart(_)) {
                        self.reject(e);
                    }
                    let mut next = self.len;
                    for i in 1..self.len {
                        if self.held_byte(i) == 0x68 {
                            next = i;
                            break;
                        }
                    }
                    self.stats.examined += next as u64;
                    self.stats.skipped += next as u64;
                    self.drop_held(next);
                    continue;
                }
            };
            let take = want
                .saturating_sub(self.len)
                .min(N.saturating_sub(self.len))
                .min(input.len() - pos);
            if take == 0 {
                return Output {
                    consumed: pos,
                    frame: None,
                };
            }
            for &b in input.get(pos..pos + take).unwrap_or(&[]) {
                self.hold(b);
            }
            pos += take;
        }
        // Fast path: frames inside the input need no copy.
        let mut sums: Option<Sums> = None;
        // Counted locally, added to the stats on return (keeps the hot loop in registers).
        let mut work = 0u64;
        loop {
            let rest = input.get(pos..).unwrap_or(&[]);
            let found = rest.iter().position(|&b| b == 0x68);
            work += found.map_or(rest.len(), |i| i + 1) as u64;
            let Some(start) = found else {
                self.stats.skipped += rest.len() as u64;
                self.stats.examined += work;
                return Output {
                    consumed: input.len(),
                    frame: None,
                };
            };
            self.stats.skipped += start as u64;
            pos += start;
            let cand = input.get(pos..).unwrap_or(&[]);
            let avail = cand.len().min(6);
            let h = match cand.first_chunk::<6>() {
                Some(h) => *h,
                None => {
                    let mut h = [0u8; 6];
                    if let (Some(dst), Some(src)) = (h.get_mut(..avail), cand.get(..avail)) {
                        dst.copy_from_slice(src);
                    }
                    h
                }
            };
            work += avail as u64;
            let verdict = match self.header(h, avail) {
                Header::Bad(e) => Err(e),
                Header::More => Ok(None),
                Header::Total(t) if cand.len() < t => Ok(None),
                Header::Total(t) => {
                    work += 2;
                    let end = cand.get(t - 1).copied().unwrap_or(0);
                    let found = cand.get(t - 2).copied().unwrap_or(0);
                    if end != 0x16 {
                        Err(FrameError::BadEnd(end))
                    } else {
                        let computed = match sums.as_mut() {
                            Some(s) => s.sum(&mut self.buf, input, pos + 6, pos + t - 2, &mut work),
                            None => {
                                work += (t - OVERHEAD) as u64;
                                checksum(cand.get(6..t - 2).unwrap_or(&[]))
                            }
                        };
                        if found == computed {
                            Ok(Some(t))
                        } else {
                            Err(FrameError::Checksum { found, computed })
                        }
                    }
                }
            };
            match verdict {
                Ok(Some(n)) => {
                    self.stats.frames += 1;
                    self.stats.examined += work;
                    return Output {
                        consumed: pos + n,
                        frame: cand.get(..n),
                    };
                }
                Ok(None) => {
                    // A partial frame at the end of the read (header valid so far, ≤ N).
                    self.head = 0;
                    self.len = 0;
                    self.base = 0;
                    self.held_total = 0;
                    for &b in cand {
                        self.hold(b);
                    }
                    self.stats.examined += work;
                    return Output {
                        consumed: input.len(),
                        frame: None,
                    };
                }
                Err(e) => {
                    if matches!(e, FrameError::Checksum { .. }) && sums.is_none() {
                        // From here on candidates may overlap this one's user data: checksums
                        // come from running sums, one addition per byte.
                        sums = Some(Sums { filled: pos + 1 });
                        if let Some(slot) = self.buf.get_mut((pos + 1) % N.max(1)) {
                            *slot = 0;
                        }
                    }
                    self.reject(e);
                    self.stats.skipped += 1;
                    pos += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{vec, vec::Vec};

    const LOGIN: [u8; 20] = [
        0x68, 0x32, 0x00, 0x32, 0x00, 0x68, 0xC9, 0x71, 0x01, 0x22, 0x08, 0x00, 0x02, 0x78, 0x00,
        0x00, 0x01, 0x00, 0xE0, 0x16,
    ];
    const HEARTBEAT: [u8; 20] = [
        0x68, 0x32, 0x00, 0x32, 0x00, 0x68, 0xC9, 0x71, 0x01, 0x22, 0x08, 0x00, 0x02, 0x79, 0x00,
        0x00, 0x04, 0x00, 0xE4, 0x16,
    ];

    fn all_frames<const N: usize>(d: &mut Deframer<N>, reads: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for read in reads {
            let mut rest = *read;
            loop {
                let o = d.push(rest);
                let got = o.frame.map(<[u8]>::to_vec);
                rest = &rest[o.consumed..];
                match got {
                    Some(f) => out.push(f),
                    None => break,
                }
            }
            assert!(rest.is_empty());
        }
        out
    }

    #[test]
    fn byte_by_byte_and_concatenated() {
        let mut stream = vec![0xFE, 0xFE, 0x55];
        stream.extend_from_slice(&LOGIN);
        stream.extend_from_slice(&[0x68, 0x11, 0x22]); // a false start
        stream.extend_from_slice(&HEARTBEAT);
        stream.extend_from_slice(&LOGIN);
        for chunk in [1usize, 2, 3, 7, 19, 20, 21, 64] {
            let mut d = Deframer::<256>::default();
            let reads: Vec<&[u8]> = stream.chunks(chunk).collect();
            let frames = all_frames(&mut d, &reads);
            assert_eq!(
                frames,
                vec![LOGIN.to_vec(), HEARTBEAT.to_vec(), LOGIN.to_vec()],
                "chunk {chunk}"
            );
            assert_eq!(d.stats().frames, 3);
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn resync_after_bad_checksum() {
        let mut bad = LOGIN;
        bad[18] ^= 0xFF;
        let mut stream = bad.to_vec();
        stream.extend_from_slice(&HEARTBEAT);
        for chunk in [1usize, 5, 40] {
            let mut d = Deframer::<64>::default();
            let reads: Vec<&[u8]> = stream.chunks(chunk).collect();
            assert_eq!(
                all_frames(&mut d, &reads),
                vec![HEARTBEAT.to_vec()],
                "chunk {chunk}"
            );
            assert!(d.stats().rejected >= 1);
        }
    }

    #[test]
    fn too_long_for_buffer_is_skipped() {
        // L announces 200 bytes of user data; the buffer holds 64.
        let mut stream = vec![0x68, 0x22, 0x03, 0x22, 0x03, 0x68, 0x00];
        stream.extend_from_slice(&LOGIN);
        let mut d = Deframer::<64>::default();
        let reads: Vec<&[u8]> = stream.chunks(3).collect();
        assert_eq!(all_frames(&mut d, &reads), vec![LOGIN.to_vec()]);
        assert!(d.stats().rejected >= 1);
        let mut d = Deframer::<64>::default();
        let o = d.push(&stream[..7]);
        assert_eq!((o.consumed, o.frame), (7, None));
        assert!(matches!(
            d.stats().last_error,
            Some(FrameError::TooLong {
                length: 208,
                limit: 64
            })
        ));
    }

    #[test]
    fn frame_longer_than_buffer_is_refused_whole_or_cut() {
        // A valid 20-byte frame, a deframer bounded to 19 bytes: refused in one read exactly as
        // when it arrives in pieces (before, the one-read path returned it).
        for chunk in [1usize, 5, 20] {
            let mut d = Deframer::<19>::default();
            let reads: Vec<&[u8]> = LOGIN.chunks(chunk).collect();
            assert!(all_frames(&mut d, &reads).is_empty(), "chunk {chunk}");
            assert!(d.stats().rejected >= 1);
        }
    }

    #[test]
    fn valid_frame_after_crafted_headers_is_found() {
        // Crafted headers, then a real frame inside their declared spans.
        let mut stream: Vec<u8> = [0x68u8, 0x16, 0x04, 0x16, 0x04].repeat(40);
        stream.extend_from_slice(&LOGIN);
        stream.extend_from_slice(&[0x00; 300]);
        stream.extend_from_slice(&HEARTBEAT);
        for chunk in [1usize, 3, 7, 64, 1000] {
            let mut d = Deframer::<512>::default();
            let reads: Vec<&[u8]> = stream.chunks(chunk).collect();
            assert_eq!(
                all_frames(&mut d, &reads),
                vec![LOGIN.to_vec(), HEARTBEAT.to_vec()],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn every_prefix_is_partial() {
        for n in 1..LOGIN.len() {
            let mut d = Deframer::<64>::default();
            let o = d.push(&LOGIN[..n]);
            assert_eq!(o.consumed, n);
            assert!(o.frame.is_none());
            assert_eq!(d.pending(), n);
        }
    }
}

#[cfg(test)]
mod work_tests {
    use super::*;
    use std::{eprintln, vec::Vec};

    /// `68 16 1F 16 1F` repeated: every `68` starts a header whose L (user length 1989,
    /// protocol id 2) passes the link-header checks and whose declared end byte lands on a
    /// `16` of the pattern, so each candidate reaches the checksum — the crafted resync
    /// pattern of issue 11.
    fn crafted(len: usize) -> Vec<u8> {
        [0x68u8, 0x16, 0x1F, 0x16, 0x1F]
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect()
    }

    fn garbage(len: usize) -> Vec<u8> {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn run(stream: &[u8], chunk: usize) -> (usize, Stats) {
        let mut d = Deframer::<2048>::default();
        let mut frames = 0;
        for read in stream.chunks(chunk) {
            let mut rest = read;
            loop {
                let o = d.push(rest);
                rest = rest.get(o.consumed..).unwrap_or(&[]);
                if o.frame.is_none() {
                    break;
                }
                frames += 1;
            }
        }
        (frames, *d.stats())
    }

    #[test]
    fn resync_work_is_linear() {
        let n = 64 * 1024;
        for chunk in [n, 4096, 7, 1] {
            let (f, c) = run(&crafted(n), chunk);
            let (_, g) = run(&garbage(n), chunk);
            assert_eq!(f, 0);
            assert!(
                c.rejected > (n / 5 - 500) as u64,
                "chunk {chunk}: {}",
                c.rejected
            );
            eprintln!(
                "chunk {chunk}: crafted {} garbage {} per {n}",
                c.examined, g.examined
            );
            // Per input byte, a bounded number of bytes looked at, crafted or random, however
            // the stream is cut (before the fix: ~390 per byte for the crafted pattern).
            assert!(
                c.examined <= 6 * n as u64,
                "crafted, chunk {chunk}: {}",
                c.examined
            );
            assert!(
                g.examined <= 3 * n as u64,
                "garbage, chunk {chunk}: {}",
                g.examined
            );
        }
    }

    #[test]
    fn same_frames_however_cut() {
        let login = [
            0x68, 0x32, 0x00, 0x32, 0x00, 0x68, 0xC9, 0x71, 0x01, 0x22, 0x08, 0x00, 0x02, 0x78,
            0x00, 0x00, 0x01, 0x00, 0xE0, 0x16,
        ];
        let g = garbage(4000);
        let c = crafted(600);
        for seed in 0..40usize {
            let mut stream = Vec::new();
            let mut want = 0;
            for k in 0..12 {
                match (seed * 7 + k * 3) % 4 {
                    0 => {
                        stream.extend_from_slice(&login);
                        want += 1;
                    }
                    1 => stream.extend_from_slice(&g[(seed * 13 + k) % 3000..][..(seed + k) % 97]),
                    2 => stream.extend_from_slice(&c[..(seed * 5 + k) % 600]),
                    _ => stream.extend_from_slice(&[0x68, 0x32, 0x00, 0x32]),
                }
            }
            let mut d = Deframer::<256>::default();
            let mut whole = Vec::new();
            let mut rest = &stream[..];
            loop {
                let o = d.push(rest);
                let f = o.frame.map(<[u8]>::to_vec);
                rest = &rest[o.consumed..];
                match f {
                    Some(f) => whole.push(f),
                    None => break,
                }
            }
            assert!(whole.len() >= want.min(1), "seed {seed}");
            for chunk in [1usize, 2, 5, 19, 64] {
                let mut d = Deframer::<256>::default();
                let mut got = Vec::new();
                for read in stream.chunks(chunk) {
                    let mut rest = read;
                    loop {
                        let o = d.push(rest);
                        let f = o.frame.map(<[u8]>::to_vec);
                        rest = &rest[o.consumed..];
                        match f {
                            Some(f) => got.push(f),
                            None => break,
                        }
                    }
                }
                assert_eq!(got, whole, "seed {seed} chunk {chunk}");
                for f in &got {
                    assert_eq!(
                        crate::frame::check_link(f, &Profile::default()),
                        Ok(f.len())
                    );
                }
            }
        }
    }
}
