//! The zero-copy frame view `[FE…] 68 A0..A5 68 C L DATA CS 16`.
//!
//! [`Frame::new_checked`] validates a complete frame once (preamble, both start bytes, length,
//! address digits, checksum, end byte, no trailing bytes); afterwards no accessor can panic or
//! fail. [`Frame::new_unchecked`] + [`Frame::check_len`] give a view of a frame whose checksum
//! or end byte is wrong (for diagnostics): the accessors still cannot panic after `check_len`.

use crate::address::Address;
use crate::control::{Control, Edition};
use crate::data::{Data, descramble};
use crate::di::DataId;
use crate::error::FrameError;

/// Byte offsets within a frame, counted from the first `0x68` (after any `FE` preamble).
pub mod field {
    use core::ops::Range;
    /// First start byte `0x68`.
    pub const START1: usize = 0;
    /// Address `A0..A5`.
    pub const ADDRESS: Range<usize> = 1..7;
    /// Second start byte `0x68`.
    pub const START2: usize = 7;
    /// Control byte.
    pub const CONTROL: usize = 8;
    /// Data length `L`.
    pub const LEN: usize = 9;
    /// First data byte.
    pub const DATA: usize = 10;
    /// The data field of a frame with `L = len`.
    pub const fn data(len: u8) -> Range<usize> {
        DATA..DATA + len as usize
    }
    /// Offset of the checksum for `L = len`.
    pub const fn checksum(len: u8) -> usize {
        DATA + len as usize
    }
    /// Offset of the end byte for `L = len`.
    pub const fn end(len: u8) -> usize {
        DATA + len as usize + 1
    }
}

/// The start byte `0x68`.
pub const START: u8 = 0x68;
/// The end byte `0x16`.
pub const END: u8 = 0x16;
/// The preamble (wake-up) byte `0xFE`.
pub const PREAMBLE: u8 = 0xFE;
/// Bytes of a frame without data or preamble: `68 A×6 68 C L CS 16`.
pub const OVERHEAD: usize = 12;
/// The longest frame without preamble (`L = 255`).
pub const MAX_FRAME_LEN: usize = OVERHEAD + 255;

/// Sum mod 256 of `bytes` (the DL/T 645 checksum when given `68 … last data byte`). A plain
/// fold: the compiler unrolls it for the header and vectorises it for long data fields.
#[inline]
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b))
}

/// Whether all six bytes are packed BCD (both nibbles 0..=9), eight nibbles at a time.
#[inline]
fn all_bcd(a: [u8; 6]) -> bool {
    const NIBBLES: u64 = 0x0F0F_0F0F_0F0F;
    const SIX: u64 = 0x0606_0606_0606;
    const CARRY: u64 = 0x1010_1010_1010;
    let x = u64::from_le_bytes([a[0], a[1], a[2], a[3], a[4], a[5], 0, 0]);
    let lo = x & NIBBLES;
    let hi = (x >> 4) & NIBBLES;
    // a nibble above 9 carries into bit 4 when 6 is added
    ((lo + SIX) | (hi + SIX)) & CARRY == 0
}

/// Number of leading `FE` bytes.
#[inline]
pub fn preamble_len(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|&&b| b == PREAMBLE).count()
}

/// A view of one frame in a buffer that may start with `FE` preamble bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
    preamble: usize,
    /// `L`, read once (0 when the buffer is too short to hold it).
    len: u8,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// A view without any check (counts the `FE` preamble). Call [`Frame::check_len`] before
    /// the accessors if the buffer is untrusted; they return zeros/empty data otherwise.
    pub fn new_unchecked(buffer: T) -> Self {
        let bytes = buffer.as_ref();
        let preamble = preamble_len(bytes);
        let len = bytes.get(preamble + field::LEN).copied().unwrap_or(0);
        Frame {
            buffer,
            preamble,
            len,
        }
    }

    /// A fully validated frame: start bytes, length, address (BCD or `AA`), checksum, end byte,
    /// and no bytes after the end byte.
    pub fn new_checked(buffer: T) -> Result<Self, FrameError> {
        let bytes = buffer.as_ref();
        let preamble = preamble_len(bytes);
        let body = bytes.get(preamble..).unwrap_or(&[]);
        // Fast path: one pass over a complete frame.
        if let Some((header, rest)) = body.split_first_chunk::<{ field::DATA }>()
            && header[field::START1] == START
            && header[field::START2] == START
            && let Some((data, tail)) = rest.split_at_checked(usize::from(header[field::LEN]))
            && let [cs, end, extra @ ..] = tail
        {
            let computed = checksum(header).wrapping_add(checksum(data));
            if computed != *cs {
                return Err(FrameError::Checksum {
                    computed,
                    found: *cs,
                });
            }
            if *end != END {
                return Err(FrameError::BadEnd(*end));
            }
            let address = [
                header[1], header[2], header[3], header[4], header[5], header[6],
            ];
            if !all_bcd(address)
                && let Some(index) = crate::address::first_invalid(&address)
            {
                return Err(FrameError::BadAddress {
                    index,
                    byte: header.get(1 + usize::from(index)).copied().unwrap_or(0),
                });
            }
            if !extra.is_empty() {
                return Err(FrameError::Trailing(extra.len()));
            }
            return Ok(Frame {
                len: header[field::LEN],
                buffer,
                preamble,
            });
        }
        // Slow path: say exactly what is wrong.
        let frame = Self::new_unchecked(buffer);
        frame.check()?;
        let extra = frame.buffer.as_ref().len() - frame.total_len();
        if extra != 0 {
            return Err(FrameError::Trailing(extra));
        }
        Ok(frame)
    }

    /// Checks that the buffer is long enough for the header and the declared data field and
    /// that both start bytes are `0x68`. After this, accessors are exact.
    pub fn check_len(&self) -> Result<(), FrameError> {
        let body = self.body_all();
        let available = self.buffer.as_ref().len();
        match body.first() {
            None => {
                return Err(FrameError::Truncated {
                    needed: self.preamble + OVERHEAD,
                    available,
                });
            }
            Some(&b) if b != START => {
                return Err(FrameError::BadStart {
                    offset: self.preamble,
                    found: b,
                });
            }
            Some(_) => {}
        }
        if let Some(&b) = body.get(field::START2)
            && b != START
        {
            return Err(FrameError::BadSecondStart(b));
        }
        let needed = match body.get(field::LEN) {
            Some(&len) => self.preamble + OVERHEAD + usize::from(len),
            None => self.preamble + OVERHEAD,
        };
        if available < needed {
            return Err(FrameError::Truncated { needed, available });
        }
        Ok(())
    }

    /// [`Frame::check_len`], then checksum, end byte and address digits (trailing bytes allowed).
    pub fn check(&self) -> Result<(), FrameError> {
        self.check_len()?;
        let computed = self.computed_checksum();
        let found = self.checksum();
        if computed != found {
            return Err(FrameError::Checksum { computed, found });
        }
        if self.end() != END {
            return Err(FrameError::BadEnd(self.end()));
        }
        let a = self.address_bytes();
        if let Some(index) = crate::address::first_invalid(&a) {
            return Err(FrameError::BadAddress {
                index,
                byte: a.get(usize::from(index)).copied().unwrap_or(0),
            });
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn body_all(&self) -> &[u8] {
        self.buffer.as_ref().get(self.preamble..).unwrap_or(&[])
    }

    fn byte(&self, offset: usize) -> u8 {
        self.body_all().get(offset).copied().unwrap_or(0)
    }

    /// Number of `FE` preamble bytes.
    pub fn preamble_len(&self) -> usize {
        self.preamble
    }

    /// Bytes from the first `68` through the end byte (no preamble).
    pub(crate) fn frame_len(&self) -> usize {
        OVERHEAD + usize::from(self.data_len())
    }

    /// Preamble plus frame.
    pub fn total_len(&self) -> usize {
        self.preamble + self.frame_len()
    }

    /// Address bytes as on the wire (A0 first).
    pub(crate) fn address_bytes(&self) -> [u8; 6] {
        self.body_all()
            .get(field::ADDRESS)
            .and_then(|s| s.first_chunk::<6>())
            .copied()
            .unwrap_or([0; 6])
    }

    /// The address (digits were checked by [`Frame::check`]).
    pub fn address(&self) -> Address {
        Address::from_wire_unchecked(self.address_bytes())
    }

    /// The control byte.
    pub fn control(&self) -> Control {
        Control(self.byte(field::CONTROL))
    }

    /// `L`, the data field length.
    pub fn data_len(&self) -> u8 {
        self.len
    }

    /// The data field as on the wire (+0x33).
    pub fn data_raw(&self) -> &[u8] {
        self.body_all()
            .get(field::data(self.data_len()))
            .unwrap_or(&[])
    }

    /// The checksum byte of the frame.
    pub fn checksum(&self) -> u8 {
        self.byte(field::checksum(self.data_len()))
    }

    /// The checksum computed over `68 … last data byte`.
    pub(crate) fn computed_checksum(&self) -> u8 {
        checksum(
            self.body_all()
                .get(..field::DATA + usize::from(self.data_len()))
                .unwrap_or(&[]),
        )
    }

    /// Whether the checksum byte matches.
    pub fn checksum_valid(&self) -> bool {
        self.checksum() == self.computed_checksum()
    }

    /// The end byte (`0x16` in a valid frame).
    pub(crate) fn end(&self) -> u8 {
        self.byte(field::end(self.data_len()))
    }

    /// Whether the end byte is `0x16`.
    pub fn end_valid(&self) -> bool {
        self.end() == END
    }

    /// The data identifier at the start of the data field, if the field is long enough.
    /// (Only meaningful for functions that carry one.)
    pub fn data_id(&self, edition: Edition) -> Option<DataId> {
        let raw = self.data_raw();
        let mut plain = [0u8; 4];
        for (p, &w) in plain.iter_mut().zip(raw) {
            *p = descramble(w);
        }
        DataId::from_plain(edition, plain.get(..raw.len().min(4))?)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Frame<&'a T> {
    /// The data field (borrowed for the buffer's lifetime).
    pub fn data(&self) -> Data<'a> {
        let buf: &'a [u8] = self.buffer.as_ref();
        let start = self.preamble + field::DATA;
        Data::wire(buf.get(start..start + usize::from(self.len)).unwrap_or(&[]))
    }

    /// The frame's bytes from the first `68` through the end byte.
    pub fn frame_bytes(&self) -> &'a [u8] {
        let buf: &'a [u8] = self.buffer.as_ref();
        buf.get(self.preamble..self.preamble + OVERHEAD + usize::from(self.len))
            .unwrap_or(&[])
    }

    /// Preamble plus frame.
    pub fn bytes(&self) -> &'a [u8] {
        let buf: &'a [u8] = self.buffer.as_ref();
        buf.get(..self.total_len()).unwrap_or(buf)
    }
}

impl<'a> Frame<&'a [u8]> {
    /// Parses the frame at the start of `bytes` (after any `FE` preamble) and returns it with
    /// the number of bytes it used; bytes after it are left to the caller.
    pub fn parse_prefix(bytes: &'a [u8]) -> Result<(Frame<&'a [u8]>, usize), FrameError> {
        let frame = Frame::new_unchecked(bytes);
        frame.check()?;
        let used = frame.total_len();
        let view = Frame {
            buffer: bytes.get(..used).unwrap_or(bytes),
            preamble: frame.preamble,
            len: frame.len,
        };
        Ok((view, used))
    }
}

/// Writes a frame: `fe` preamble bytes, header, the data field produced by `fill` (plain bytes;
/// the offset is added here), checksum and end byte. `fill` gets exactly `data_len` bytes.
pub(crate) fn write_frame(
    out: &mut [u8],
    fe: usize,
    address: Address,
    control: Control,
    data_len: usize,
    fill: impl FnOnce(&mut [u8]) -> Result<(), crate::error::EncodeError>,
) -> Result<usize, crate::error::EncodeError> {
    use crate::error::EncodeError;
    let len = u8::try_from(data_len).map_err(|_| EncodeError::TooLong {
        len: data_len,
        max: u8::MAX,
    })?;
    let needed = fe + OVERHEAD + data_len;
    let got = out.len();
    let out = out
        .get_mut(..needed)
        .ok_or(EncodeError::BufferTooSmall { needed, got })?;
    let (pre, frame) = out.split_at_mut(fe);
    if fe > 0 {
        pre.fill(PREAMBLE);
    }
    let (header, rest) = frame
        .split_first_chunk_mut::<10>()
        .ok_or(EncodeError::BufferTooSmall { needed, got })?;
    let a = address.to_wire();
    *header = [
        START, a[0], a[1], a[2], a[3], a[4], a[5], START, control.0, len,
    ];
    let (data, tail) = rest.split_at_mut(data_len);
    fill(data)?;
    for b in data.iter_mut() {
        *b = crate::data::scramble(*b);
    }
    let cs = checksum(header).wrapping_add(checksum(data));
    if let [c, e] = tail {
        *c = cs;
        *e = END;
    }
    Ok(needed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::di::Di;
    use crate::error::EncodeError;

    /// unsurper/dlt645go test/dlt645_0x33333433_test.go: read reply, forward active energy 0.02.
    const REPLY: [u8; 20] = [
        0x68, // start
        0x76, 0x02, 0x02, 0x47, 0x02, 0x02, // A0..A5 = 020247020276
        0x68, // start
        0x91, // C: normal reply to read
        0x08, // L
        0x33, 0x33, 0x34, 0x33, // DI 00010000 (+0x33)
        0x35, 0x33, 0x33, 0x33, // 00000002 -> 0.02 kWh
        0xC9, // CS
        0x16, // end
    ];

    #[test]
    fn deconstruct() {
        let f = Frame::new_checked(&REPLY[..]).unwrap();
        assert_eq!(f.preamble_len(), 0);
        assert_eq!(f.address(), Address::parse("020247020276").unwrap());
        assert_eq!(f.control(), Control(0x91));
        assert_eq!(f.data_len(), 8);
        assert_eq!(
            f.data_id(Edition::V2007),
            Some(DataId::V2007(Di(0x0001_0000)))
        );
        assert_eq!(f.data(), Data::plain(&[0, 0, 1, 0, 2, 0, 0, 0]));
        assert_eq!(f.checksum(), 0xC9);
        assert!(f.checksum_valid() && f.end_valid());
    }

    #[test]
    fn construct() {
        let mut out = [0u8; 20];
        let n = write_frame(
            &mut out,
            0,
            Address::parse("020247020276").unwrap(),
            Control(0x91),
            8,
            |d| {
                d.copy_from_slice(&[0, 0, 1, 0, 2, 0, 0, 0]);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(n, 20);
        assert_eq!(out, REPLY);
        let mut small = [0u8; 19];
        assert_eq!(
            write_frame(&mut small, 0, Address::WILDCARD, Control(0x11), 8, |_| Ok(
                ()
            )),
            Err(EncodeError::BufferTooSmall {
                needed: 20,
                got: 19
            })
        );
    }

    #[test]
    fn preamble_not_summed() {
        // DL/T 645-2007 check code CS: the FE wake-up bytes are not part of the checksum.
        let mut v = [0xFE; 24];
        v[4..].copy_from_slice(&REPLY);
        let f = Frame::new_checked(&v[..]).unwrap();
        assert_eq!(f.preamble_len(), 4);
        assert_eq!(f.frame_bytes(), &REPLY[..]);
        assert_eq!(f.bytes(), &v[..]);
    }

    #[test]
    fn errors() {
        let mut bad = REPLY;
        bad[18] = 0xCA;
        assert_eq!(
            Frame::new_checked(&bad[..]),
            Err(FrameError::Checksum {
                computed: 0xC9,
                found: 0xCA
            })
        );
        // the view still works for diagnostics
        let f = Frame::new_unchecked(&bad[..]);
        assert!(f.check_len().is_ok());
        assert!(!f.checksum_valid());
        let mut bad = REPLY;
        bad[19] = 0x17;
        assert_eq!(Frame::new_checked(&bad[..]), Err(FrameError::BadEnd(0x17)));
        let mut bad = REPLY;
        bad[7] = 0x67;
        assert_eq!(
            Frame::new_checked(&bad[..]),
            Err(FrameError::BadSecondStart(0x67))
        );
        let mut long = [0u8; 21];
        long[..20].copy_from_slice(&REPLY);
        assert_eq!(Frame::new_checked(&long[..]), Err(FrameError::Trailing(1)));
        let (f, used) = Frame::parse_prefix(&long).unwrap();
        assert_eq!((used, f.bytes().len()), (20, 20));
        assert_eq!(
            Frame::new_checked(&[0xFEu8, 0xFE][..]),
            Err(FrameError::Truncated {
                needed: 14,
                available: 2
            })
        );
        assert_eq!(
            Frame::new_checked(&[0x00u8][..]),
            Err(FrameError::BadStart {
                offset: 0,
                found: 0
            })
        );
        // non-BCD address byte with a correct checksum
        let mut bad = REPLY;
        bad[1] = 0x7B;
        bad[18] = bad[18].wrapping_add(0x7B - 0x76);
        assert_eq!(
            Frame::new_checked(&bad[..]),
            Err(FrameError::BadAddress {
                index: 0,
                byte: 0x7B
            })
        );
    }

    #[test]
    fn swar_bcd_check_matches_bytewise() {
        for b in 0..=255u8 {
            for pos in 0..6 {
                let mut a = [0x12u8; 6];
                a[pos] = b;
                let bytewise = a.iter().all(|&x| crate::value::is_bcd_byte(x));
                assert_eq!(all_bcd(a), bytewise, "{b:02X} at {pos}");
            }
        }
    }

    #[test]
    fn every_prefix_is_truncated_never_panics() {
        for n in 0..REPLY.len() {
            let r = Frame::new_checked(&REPLY[..n]);
            assert!(matches!(r, Err(FrameError::Truncated { .. })), "{n}: {r:?}");
        }
    }
}
