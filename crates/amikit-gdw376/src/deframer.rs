//! Streaming deframer for TCP/GPRS byte streams (notes §2.10).
//!
//! Feed it whatever the socket returned; it finds frames in partial and concatenated reads,
//! skips garbage (`FE` wake-up bytes, gateway prefixes such as the 13-byte FEP header or the
//! `55 … 55` channel wrapper of notes §2.10 are skipped as garbage), and resynchronises on the
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
//! let mut d = Deframer::<512>::new();
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
use crate::frame::{OVERHEAD, check_link, split_l};
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
#[derive(Debug, Clone)]
pub struct Deframer<const N: usize = 2048> {
    buf: [u8; N],
    len: usize,
    /// Bytes at the start of `buf` that were returned as a frame; dropped on the next push.
    returned: usize,
    profile: Profile,
    stats: Stats,
}

impl<const N: usize> Default for Deframer<N> {
    fn default() -> Self {
        Self::new()
    }
}

enum Candidate {
    Complete(usize),
    Partial,
    Bad(FrameError),
}

impl<const N: usize> Deframer<N> {
    /// A deframer for protocol id 2 (Q/GDW 376.1).
    #[must_use]
    pub const fn new() -> Self {
        Self::with_profile(Profile::STRICT_2013)
    }
    /// A deframer accepting the protocol ids the profile accepts.
    #[must_use]
    pub const fn with_profile(profile: Profile) -> Self {
        Deframer {
            buf: [0; N],
            len: 0,
            returned: 0,
            profile,
            stats: Stats {
                frames: 0,
                skipped: 0,
                rejected: 0,
                last_error: None,
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
        self.len = 0;
        self.returned = 0;
    }

    fn classify(&self, bytes: &[u8]) -> Candidate {
        match check_link(bytes, &self.profile) {
            Ok(n) => Candidate::Complete(n),
            Err(FrameError::Truncated { .. }) => {
                // Too long for the buffer: give up on this candidate now.
                if let Some(&[_, l0, l1]) = bytes.first_chunk::<3>() {
                    let total = split_l(u16::from_le_bytes([l0, l1])).0 + OVERHEAD;
                    if total > N {
                        return Candidate::Bad(FrameError::TooLong {
                            length: total,
                            limit: N,
                        });
                    }
                }
                Candidate::Partial
            }
            Err(e) => Candidate::Bad(e),
        }
    }

    fn reject(&mut self, e: FrameError) {
        self.stats.rejected += 1;
        self.stats.last_error = Some(e);
    }

    /// Feeds bytes. Returns how many were consumed and, when a frame completed, the frame
    /// (borrowed from `input` or from the internal buffer). Call again with the unconsumed rest
    /// until no frame comes back.
    pub fn push<'a>(&'a mut self, input: &'a [u8]) -> Output<'a> {
        let mut pos = 0usize;
        if self.returned > 0 {
            // The last frame came from the buffer; keep what followed it.
            let r = self.returned.min(self.len);
            self.buf.copy_within(r..self.len, 0);
            self.len -= r;
            self.returned = 0;
        }
        // Finish a buffered partial frame first.
        while self.len > 0 {
            let held = self.buf.get(..self.len).unwrap_or(&[]);
            let want = match held.first_chunk::<3>() {
                Some(&[_, l0, l1]) => split_l(u16::from_le_bytes([l0, l1])).0 + OVERHEAD,
                None => 3,
            }
            .min(N);
            let take = want.saturating_sub(self.len).min(input.len() - pos);
            if let (Some(dst), Some(src)) = (
                self.buf.get_mut(self.len..self.len + take),
                input.get(pos..pos + take),
            ) {
                dst.copy_from_slice(src);
            }
            self.len += take;
            pos += take;
            let held = self.buf.get(..self.len).unwrap_or(&[]);
            match self.classify(held) {
                Candidate::Complete(n) => {
                    // Bytes held after the frame (after a resync) are kept for the next push.
                    self.returned = n;
                    self.stats.frames += 1;
                    return Output {
                        consumed: pos,
                        frame: self.buf.get(..n),
                    };
                }
                Candidate::Partial => {
                    if pos == input.len() {
                        return Output {
                            consumed: pos,
                            frame: None,
                        };
                    }
                }
                Candidate::Bad(e) => {
                    // Resync inside the held bytes: drop the first byte, keep from the next 68.
                    let next = held.iter().skip(1).position(|&b| b == 0x68).map(|i| i + 1);
                    let from = next.unwrap_or(self.len);
                    // Bytes kept after a frame need not start with 68: skipping them is not a
                    // rejected candidate (as on the fast path).
                    if !matches!(e, FrameError::BadStart(_)) {
                        self.reject(e);
                    }
                    self.stats.skipped += from as u64;
                    self.buf.copy_within(from..self.len, 0);
                    self.len -= from;
                }
            }
        }
        // Fast path: frames inside the input need no copy.
        loop {
            let rest = input.get(pos..).unwrap_or(&[]);
            let Some(start) = rest.iter().position(|&b| b == 0x68) else {
                self.stats.skipped += rest.len() as u64;
                return Output {
                    consumed: input.len(),
                    frame: None,
                };
            };
            self.stats.skipped += start as u64;
            pos += start;
            let cand = input.get(pos..).unwrap_or(&[]);
            match self.classify(cand) {
                Candidate::Complete(n) => {
                    self.stats.frames += 1;
                    return Output {
                        consumed: pos + n,
                        frame: cand.get(..n),
                    };
                }
                Candidate::Partial => {
                    let n = cand.len();
                    if let Some(dst) = self.buf.get_mut(..n) {
                        dst.copy_from_slice(cand);
                        self.len = n;
                    }
                    return Output {
                        consumed: input.len(),
                        frame: None,
                    };
                }
                Candidate::Bad(e) => {
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
            let mut d = Deframer::<256>::new();
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
            let mut d = Deframer::<64>::new();
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
        let mut d = Deframer::<64>::new();
        let reads: Vec<&[u8]> = stream.chunks(3).collect();
        assert_eq!(all_frames(&mut d, &reads), vec![LOGIN.to_vec()]);
        assert!(d.stats().rejected >= 1);
        let mut d = Deframer::<64>::new();
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
    fn every_prefix_is_partial() {
        for n in 1..LOGIN.len() {
            let mut d = Deframer::<64>::new();
            let o = d.push(&LOGIN[..n]);
            assert_eq!(o.consumed, n);
            assert!(o.frame.is_none());
            assert_eq!(d.pending(), n);
        }
    }
}
