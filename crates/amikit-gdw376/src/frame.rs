//! The link layer: a checked zero-copy [`Frame`] view and the parsed [`Repr`] (Q/GDW 1376.1-2013, link layer: frame format).
//!
//! ```text
//! 68 | L(2) | L(2) | 68 | C | A | AFN | SEQ | {DA DT data}* | [PW] [EC] [Tp] | CS | 16
//!                        \_________ user data: L >> 2 bytes ________________/
//! ```
//!
//! L is little-endian, sent twice: D1–D0 the protocol id (`10` = 376.1, `01` = Q/GDW 130-2005),
//! D15–D2 the user-data length (14 bits). CS is the sum of the user data modulo 256.
//!
//! If [`Frame::new_checked`] returned `Ok`, no accessor of the view can panic.

use crate::address::{Address, AddressWidth};
use crate::afn::Afn;
use crate::auxiliary::{Ec, Tp};
use crate::control::{Control, Direction};
use crate::error::{EncodeError, FrameError, ParseError};
use crate::profile::{Leniency, Profile};
use crate::seq::Seq;
use crate::walker::Units;

/// Bytes around the user data: `68 L L 68` before, `CS 16` after.
pub const OVERHEAD: usize = 8;
/// Largest user-data length the 14-bit L field can carry.
pub const MAX_USER_LEN: usize = 0x3FFF;
/// Largest frame.
pub const MAX_FRAME_LEN: usize = MAX_USER_LEN + OVERHEAD;
/// Protocol id of Q/GDW 376.1 in L (binary `10`).
pub const PROTOCOL_ID_376: u8 = 2;

/// Sum of bytes modulo 256.
#[must_use]
#[inline]
pub fn checksum(bytes: &[u8]) -> u8 {
    // Summing in u32 lanes lets the compiler vectorise; the low byte is the mod-256 sum.
    let mut acc: u32 = 0;
    for chunk in bytes.chunks(1 << 16) {
        acc = acc.wrapping_add(chunk.iter().map(|&b| u32::from(b)).sum::<u32>());
    }
    acc as u8
}

/// Reads L: `(user-data length, protocol id)`.
#[must_use]
pub(crate) const fn split_l(l: u16) -> (usize, u8) {
    ((l >> 2) as usize, (l & 3) as u8)
}

/// Builds L from a user-data length (≤ 16 383) and a protocol id.
#[must_use]
pub(crate) const fn make_l(user_len: usize, protocol_id: u8) -> u16 {
    (((user_len & MAX_USER_LEN) as u16) << 2) | (protocol_id & 3) as u16
}

/// A checked view over one complete frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps a buffer without checking it; accessors may then return defaults.
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    /// Checks the whole link layer (start bytes, both L copies, a protocol id the profile
    /// accepts — 2, or also 1 with [`Leniency::PROTOCOL_130`](crate::Leniency::PROTOCOL_130) —,
    /// CS, end byte, exact length) and wraps the buffer.
    ///
    /// # Errors
    ///
    /// The first [`FrameError`] found.
    pub fn new_checked(buffer: T, profile: &Profile) -> Result<Self, FrameError> {
        let len = check_link(buffer.as_ref(), profile)?;
        let available = buffer.as_ref().len();
        if available > len {
            return Err(FrameError::TrailingBytes(available - len));
        }
        Ok(Frame { buffer })
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// All bytes of the frame.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    /// The raw L field.
    pub(crate) fn l_field(&self) -> u16 {
        match self.buffer.as_ref() {
            [_, l0, l1, ..] => u16::from_le_bytes([*l0, *l1]),
            _ => 0,
        }
    }
    /// User-data length (L bits D15–D2).
    pub fn user_len(&self) -> usize {
        split_l(self.l_field()).0
    }
    /// Protocol id (L bits D1–D0).
    pub fn protocol_id(&self) -> u8 {
        split_l(self.l_field()).1
    }
    /// The user data (C through AUX).
    pub fn user_data(&self) -> &[u8] {
        let n = self.user_len();
        self.buffer.as_ref().get(6..6 + n).unwrap_or(&[])
    }
    /// The control field.
    pub fn control(&self) -> Control {
        Control(self.buffer.as_ref().get(6).copied().unwrap_or(0))
    }
    /// The CS byte.
    pub fn checksum(&self) -> u8 {
        self.buffer
            .as_ref()
            .get(6 + self.user_len())
            .copied()
            .unwrap_or(0)
    }
}

/// Checks the link layer at the start of `bytes`; returns the frame length. Bytes after the
/// frame are ignored.
///
/// # Errors
///
/// The first [`FrameError`] found.
pub fn check_link(bytes: &[u8], profile: &Profile) -> Result<usize, FrameError> {
    // Validate whatever header bytes are present, so that a prefix of a valid frame reports
    // only `Truncated` (the deframer relies on this).
    let b = |i: usize| bytes.get(i).copied();
    match b(0) {
        None => {
            return Err(FrameError::Truncated {
                needed: 6,
                available: 0,
            });
        }
        Some(0x68) => {}
        Some(other) => return Err(FrameError::BadStart(other)),
    }
    if let (Some(l0), Some(l1)) = (b(1), b(2)) {
        let (user_len, pid) = split_l(u16::from_le_bytes([l0, l1]));
        if !profile.accepts_protocol_id(pid) {
            return Err(FrameError::ProtocolId(pid));
        }
        if user_len < 8 {
            return Err(FrameError::TooShort(user_len));
        }
    }
    if let (Some(a), Some(c)) = (b(1), b(3))
        && a != c
    {
        let first = u16::from_le_bytes([a, b(2).unwrap_or(0)]);
        return Err(FrameError::LengthMismatch {
            first,
            second: u16::from_le_bytes([c, b(4).unwrap_or(0)]),
        });
    }
    if let (Some(a), Some(c)) = (b(2), b(4))
        && a != c
    {
        let first = u16::from_le_bytes([b(1).unwrap_or(0), a]);
        return Err(FrameError::LengthMismatch {
            first,
            second: u16::from_le_bytes([b(3).unwrap_or(0), c]),
        });
    }
    let Some(&[_, l0, l1, _, _, s2]) = bytes.first_chunk::<6>() else {
        return Err(FrameError::Truncated {
            needed: 6,
            available: bytes.len(),
        });
    };
    if s2 != 0x68 {
        return Err(FrameError::BadSecondStart(s2));
    }
    let first = u16::from_le_bytes([l0, l1]);
    let (user_len, _) = split_l(first);
    let total = user_len + OVERHEAD;
    let Some(frame) = bytes.get(..total) else {
        return Err(FrameError::Truncated {
            needed: total,
            available: bytes.len(),
        });
    };
    let user = frame.get(6..6 + user_len).unwrap_or(&[]);
    let computed = checksum(user);
    let (found, end) = match frame.last_chunk::<2>() {
        Some(&[cs, end]) => (cs, end),
        None => (0, 0),
    };
    if found != computed {
        return Err(FrameError::Checksum { found, computed });
    }
    if end != 0x16 {
        return Err(FrameError::BadEnd(end));
    }
    Ok(total)
}

/// A parsed frame: the header fields, the data-unit region and the AUX fields, borrowing the
/// frame's bytes. [`Repr::emit`] writes it back byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Repr<'a> {
    /// L protocol id (2 for 376.1).
    pub protocol_id: u8,
    /// Control field.
    pub control: Control,
    /// Address.
    pub address: Address,
    /// Address width on the wire.
    pub address_width: AddressWidth,
    /// Application function.
    pub afn: Afn,
    /// Sequence field.
    pub seq: Seq,
    /// The data-unit region: `{DA DT data}*`, walk it with [`Repr::units`] (serialised as hex).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::units::common::ser_hex")
    )]
    pub units: &'a [u8],
    /// PW, when the profile says this AFN and direction carry one (serialised as hex).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::units::common::ser_opt_hex")
    )]
    pub pw: Option<&'a [u8]>,
    /// EC (uplink, ACD = 1).
    pub ec: Option<Ec>,
    /// Tp (TpV = 1).
    pub tp: Option<Tp>,
}

impl<'a> Repr<'a> {
    /// Parses a checked frame under a profile.
    ///
    /// # Errors
    ///
    /// [`ParseError::AuxTooLong`] when the user data cannot hold the header plus the AUX fields
    /// the profile requires; [`ParseError::RegionNotBcd`] when A1 is not BCD and the profile is
    /// strict about it.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        frame: &Frame<&'a T>,
        profile: &Profile,
    ) -> Result<Self, ParseError> {
        let bytes: &'a [u8] = frame.buffer.as_ref();
        let (user_len, protocol_id) = match bytes {
            [_, l0, l1, ..] => split_l(u16::from_le_bytes([*l0, *l1])),
            _ => (0, 0),
        };
        let user = bytes.get(6..6 + user_len).unwrap_or(&[]);
        Self::parse_user_data(user, protocol_id, profile)
    }

    /// Parses a frame from raw bytes (link check, then [`Repr::parse`]). Bytes after the frame
    /// are an error.
    ///
    /// # Errors
    ///
    /// [`ParseError::Frame`] for link-layer errors, others as [`Repr::parse`].
    pub fn parse_bytes(bytes: &'a [u8], profile: &Profile) -> Result<Self, ParseError> {
        let frame = Frame::new_checked(bytes, profile)?;
        Self::parse(&frame, profile)
    }

    /// Parses the user data (C … AUX) of a frame.
    ///
    /// # Errors
    ///
    /// As [`Repr::parse`].
    pub(crate) fn parse_user_data(
        user: &'a [u8],
        protocol_id: u8,
        profile: &Profile,
    ) -> Result<Self, ParseError> {
        let aw = profile.address.len();
        let header = 3 + aw;
        let Some((&c, rest)) = user.split_first() else {
            return Err(FrameError::TooShort(0).into());
        };
        let control = Control(c);
        let address =
            Address::parse(rest, profile.address).ok_or(FrameError::TooShort(user.len()))?;
        if !address.region_is_bcd() && !profile.allows(Leniency::REGION_NOT_BCD) {
            return Err(ParseError::RegionNotBcd(address.a1));
        }
        let (afn, seq) = match user.get(1 + aw..header) {
            Some(&[a, s]) => (Afn(a), Seq(s)),
            _ => return Err(FrameError::TooShort(user.len()).into()),
        };
        let dir = control.dir();
        let pw_len = profile.pw_len(afn, dir);
        let ec_len = if control.acd() { Ec::LEN } else { 0 };
        let tp_len = if seq.tpv() { Tp::LEN } else { 0 };
        let aux = pw_len + ec_len + tp_len;
        let needed = header + aux;
        if user.len() < needed {
            return Err(ParseError::AuxTooLong {
                needed,
                available: user.len(),
            });
        }
        let body = user.get(header..).unwrap_or(&[]);
        let (units, aux_bytes) = body
            .split_at_checked(body.len() - aux)
            .unwrap_or((&[], &[]));
        let (pw_bytes, rest) = aux_bytes.split_at_checked(pw_len).unwrap_or((&[], &[]));
        let (ec_bytes, tp_bytes) = rest.split_at_checked(ec_len).unwrap_or((&[], &[]));
        let pw = (pw_len > 0).then_some(pw_bytes);
        let ec = match ec_bytes {
            [a, b] => Some(Ec {
                important: *a,
                normal: *b,
            }),
            _ => None,
        };
        let tp = tp_bytes.first_chunk::<6>().map(|b| Tp::from_bytes(*b));
        Ok(Repr {
            protocol_id,
            control,
            address,
            address_width: profile.address,
            afn,
            seq,
            units,
            pw,
            ec,
            tp,
        })
    }

    /// The direction (from C).
    #[must_use]
    pub const fn dir(&self) -> Direction {
        self.control.dir()
    }

    /// Walks the data units under a profile.
    #[must_use]
    pub fn units(&self, profile: &Profile) -> Units<'a> {
        Units::new(self.units, self.afn, self.control.dir(), profile)
    }

    /// User-data length: header, units and AUX.
    #[must_use]
    pub fn user_len(&self) -> usize {
        3 + self.address_width.len()
            + self.units.len()
            + self.pw.map_or(0, <[u8]>::len)
            + self.ec.map_or(0, |_| Ec::LEN)
            + self.tp.map_or(0, |_| Tp::LEN)
    }

    /// Whole frame length.
    #[must_use]
    pub fn buffer_len(&self) -> usize {
        self.user_len() + OVERHEAD
    }

    /// Writes the frame into `out`; returns its length.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`], [`EncodeError::TooLong`], or
    /// [`EncodeError::OutOfRange`] for an address that does not fit its width.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let user_len = self.user_len();
        if user_len > MAX_USER_LEN {
            return Err(EncodeError::TooLong(user_len));
        }
        let total = user_len + OVERHEAD;
        let got = out.len();
        let out = out
            .get_mut(..total)
            .ok_or(EncodeError::BufferTooSmall { needed: total, got })?;
        let mut w = crate::builder::Cursor::new(out);
        let [l0, l1] = make_l(user_len, self.protocol_id).to_le_bytes();
        w.put(&[0x68, l0, l1, l0, l1, 0x68, self.control.0])?;
        let n = self.address.emit(w.rest(), self.address_width)?;
        w.advance(n);
        w.put(&[self.afn.0, self.seq.0])?;
        w.put(self.units)?;
        if let Some(pw) = self.pw {
            w.put(pw)?;
        }
        if let Some(ec) = self.ec {
            w.put(&<[u8; 2]>::from(ec))?;
        }
        if let Some(tp) = self.tp {
            w.put(&<[u8; 6]>::from(tp))?;
        }
        let pos = w.pos();
        let cs = checksum(w.written().get(6..pos).unwrap_or(&[]));
        w.put(&[cs, 0x16])?;
        Ok(w.pos())
    }

    /// Emits into a new `Vec` of exactly [`Self::buffer_len`] bytes. Feature `alloc`.
    ///
    /// # Errors
    ///
    /// As [`Self::emit`].
    #[cfg(feature = "alloc")]
    pub fn to_vec(&self) -> Result<alloc::vec::Vec<u8>, EncodeError> {
        let mut v = alloc::vec![0u8; self.buffer_len()];
        let n = self.emit(&mut v)?;
        v.truncate(n);
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every user length and protocol id survives the L field (moved from the proptest suite
    /// when `make_l` / `split_l` became crate-private).
    #[test]
    fn l_field_round_trips() {
        for len in 0..=MAX_USER_LEN {
            for pid in 0u8..4 {
                assert_eq!(split_l(make_l(len, pid)), (len, pid));
            }
        }
    }

    // gdw376-001 (liangminhua/qgdw376.1.ksy packet-sample/login.3761).
    const LOGIN: [u8; 20] = [
        0x68, 0x32, 0x00, 0x32, 0x00, 0x68, // start, L = 0x0032 twice, start
        0xC9, // C: up, PRM, link test
        0x71, 0x01, 0x22, 0x08, 0x00, // A1 0171, A2 0822, A3 00
        0x02, 0x78, // AFN 02, SEQ 78
        0x00, 0x00, 0x01, 0x00, // p0 F1
        0xE0, 0x16, // CS, end
    ];

    #[test]
    fn deconstruct_login() {
        let f = Frame::new_checked(&LOGIN[..], &Profile::default()).unwrap();
        assert_eq!(f.user_len(), 12);
        assert_eq!(f.protocol_id(), 2);
        assert_eq!(f.checksum(), 0xE0);
        let r = Repr::parse(&f, &Profile::default()).unwrap();
        assert_eq!(r.control, Control(0xC9));
        assert_eq!(r.address.a1, 0x0171);
        assert_eq!(r.address.a2, 2082);
        assert_eq!(r.afn, Afn::LINK_TEST);
        assert_eq!(r.seq.seq(), 8);
        assert_eq!(r.units, &[0, 0, 1, 0]);
        assert!(r.pw.is_none() && r.ec.is_none() && r.tp.is_none());
        let mut out = [0u8; 32];
        let n = r.emit(&mut out).unwrap();
        assert_eq!(&out[..n], &LOGIN[..]);
        assert_eq!(r.buffer_len(), 20);
        assert!(r.emit(&mut out[..19]).is_err());
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn to_vec_is_the_emitted_frame() {
        let f = Frame::new_checked(&LOGIN[..], &Profile::default()).unwrap();
        let r = Repr::parse(&f, &Profile::default()).unwrap();
        assert_eq!(r.to_vec().unwrap(), LOGIN.to_vec());
    }

    #[test]
    fn link_errors() {
        let mut bad = LOGIN;
        bad[18] ^= 1;
        assert_eq!(
            Frame::new_checked(&bad[..], &Profile::default()).unwrap_err(),
            FrameError::Checksum {
                found: 0xE1,
                computed: 0xE0
            }
        );
        let mut bad = LOGIN;
        bad[3] = 0x36;
        assert!(matches!(
            Frame::new_checked(&bad[..], &Profile::default()),
            Err(FrameError::LengthMismatch { .. })
        ));
        let mut bad = LOGIN;
        bad[19] = 0x17;
        assert_eq!(
            Frame::new_checked(&bad[..], &Profile::default()).unwrap_err(),
            FrameError::BadEnd(0x17)
        );
        let mut bad = LOGIN;
        bad[1] = 0x31;
        bad[3] = 0x31;
        assert_eq!(
            Frame::new_checked(&bad[..], &Profile::default()).unwrap_err(),
            FrameError::ProtocolId(1)
        );
        assert!(Frame::new_checked(&bad[..], &Profile::LENIENT).is_ok());
        for n in 0..LOGIN.len() {
            assert!(Frame::new_checked(&LOGIN[..n], &Profile::default()).is_err());
        }
        let mut long = [0u8; 21];
        long[..20].copy_from_slice(&LOGIN);
        assert_eq!(
            Frame::new_checked(&long[..], &Profile::default()).unwrap_err(),
            FrameError::TrailingBytes(1)
        );
        assert_eq!(check_link(&long, &Profile::default()), Ok(20));
    }

    #[test]
    fn l_field_all_lengths() {
        for len in 0..=MAX_USER_LEN {
            for pid in 0..4u8 {
                assert_eq!(split_l(make_l(len, pid)), (len, pid));
            }
        }
    }
}

#[cfg(test)]
mod leniency_tests {
    use super::*;
    use crate::builder::FrameBuilder;
    use crate::dadt::{InfoClass, Pn};
    use crate::security::ZeroPw;
    use crate::walker::Item;

    fn login(profile: &Profile, a1: u16, data: &[u8]) -> ([u8; 64], usize) {
        let b = FrameBuilder::new(
            profile,
            Control::TERMINAL_LINK_TEST,
            Address::new(a1, 7),
            Afn::LINK_TEST,
            Seq::single(false, true, 1),
        );
        let mut out = [0u8; 64];
        let mut w = b.begin(&mut out).unwrap();
        w.unit(Pn::P0, InfoClass(1), data).unwrap();
        let n = w.finish(&mut ZeroPw).unwrap();
        (out, n)
    }

    #[test]
    fn region_not_bcd() {
        let strict = Profile::default();
        let (f, n) = login(&strict, 0x0A01, &[]);
        assert_eq!(
            Repr::parse_bytes(&f[..n], &strict),
            Err(ParseError::RegionNotBcd(0x0A01))
        );
        let lenient = Profile {
            leniency: Leniency::REGION_NOT_BCD,
            ..strict
        };
        assert_eq!(
            Repr::parse_bytes(&f[..n], &lenient).unwrap().address.a1,
            0x0A01
        );
    }

    #[test]
    fn link_data() {
        // Notes §3.2: some terminals append a version after the login DA/DT.
        let strict = Profile::default();
        let (f, n) = login(&strict, 0x0171, &[0x01, 0x02]);
        let r = Repr::parse_bytes(&f[..n], &strict).unwrap();
        assert!(matches!(r.units(&strict).next(), Some(Item::Opaque(_))));
        let lenient = Profile {
            leniency: Leniency::LINK_DATA,
            ..strict
        };
        let Some(Item::Unit(u)) = r.units(&lenient).next() else {
            panic!()
        };
        assert_eq!(u.data, &[0x01, 0x02]);
        assert_eq!(
            u.value(&lenient, r.afn, r.dir()).unwrap(),
            Some(crate::units::Value::LinkData(&[0x01, 0x02]))
        );
    }

    #[test]
    fn seven_byte_address() {
        let p = Profile::by_name("addr7").unwrap();
        let b = FrameBuilder::new(
            &p,
            Control::MASTER_READ,
            Address::new(0x4403, 0x0123_4567).with_msa(3),
            Afn::CLASS1,
            Seq::single(false, false, 2),
        );
        let mut out = [0u8; 64];
        let mut w = b.begin(&mut out).unwrap();
        w.unit(Pn(1), InfoClass(25), &[]).unwrap();
        let n = w.finish(&mut ZeroPw).unwrap();
        assert_eq!(n, 22); // two bytes longer than the 5-byte-address frame
        let r = Repr::parse_bytes(&out[..n], &p).unwrap();
        assert_eq!((r.address.a2, r.address.msa), (0x0123_4567, 3));
        // The same bytes under the 5-byte profile do not decode to that request.
        let p5 = Profile::default();
        if let Ok(r5) = Repr::parse_bytes(&out[..n], &p5) {
            assert!(
                !matches!(r5.units(&p5).next(), Some(Item::Unit(u)) if u.fn_ == InfoClass(25) && u.pn == Pn(1))
            );
        }
    }
}

impl core::fmt::Display for Repr<'_> {
    /// One line for logs and consoles: address, direction, link function, AFN, SEQ with its
    /// FIR/FIN/CON bits, the length of the data-unit region and which AUX fields are present;
    /// e.g. `9612-13398 down request class 1 data AFN 0C (class 1 data) SEQ 3 FIR FIN CON, 4 B
    /// units, Tp`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let dir = match self.control.dir() {
            Direction::Down => "down",
            Direction::Up => "up",
        };
        write!(
            f,
            "{} {dir} {} AFN {} ({}) SEQ {}",
            self.address,
            self.control.function().name(),
            self.afn,
            self.afn.name(),
            self.seq.seq()
        )?;
        for (on, bit) in [
            (self.seq.fir(), " FIR"),
            (self.seq.fin(), " FIN"),
            (self.seq.con(), " CON"),
        ] {
            if on {
                f.write_str(bit)?;
            }
        }
        write!(f, ", {} B units", self.units.len())?;
        for (on, field) in [
            (self.pw.is_some(), ", PW"),
            (self.ec.is_some(), ", EC"),
            (self.tp.is_some(), ", Tp"),
        ] {
            if on {
                f.write_str(field)?;
            }
        }
        Ok(())
    }
}
