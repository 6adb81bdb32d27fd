//! Encoding frames into a caller's `&mut [u8]`, without allocation.
//!
//! [`FrameBuilder`] holds the header (C, A, AFN, SEQ) and the AUX choices (EC, Tp);
//! [`FrameBuilder::begin`] returns a [`FrameWriter`] that appends data units and finally writes
//! PW (through a [`MacProvider`]), EC, Tp, L, CS and the end byte.
//!
//! ```
//! use amikit_gdw376::{Address, Afn, Control, FrameBuilder, InfoClass, Pn, Profile, Seq, security::ZeroPw};
//!
//! // A read of AFN 0C F25 for p1 (as gdw376-050, without Tp).
//! let b = FrameBuilder::new(&Profile::default(), Control::MASTER_READ,
//!     Address::new(0x0171, 2082).with_msa(1), Afn::CLASS1, Seq::single(false, false, 11));
//! let mut out = [0u8; 64];
//! let mut w = b.begin(&mut out).unwrap();
//! w.unit(Pn(1), InfoClass(25), &[]).unwrap();
//! let n = w.finish(&mut ZeroPw).unwrap();
//! assert_eq!(&out[..n], &[0x68, 0x32, 0, 0x32, 0, 0x68, 0x4B, 0x71, 0x01, 0x22, 0x08, 0x02,
//!     0x0C, 0x6B, 0x01, 0x01, 0x01, 0x03, 0x66, 0x16]);
//! ```

use crate::address::{Address, AddressWidth};
use crate::afn::Afn;
use crate::auxiliary::{Ec, Tp};
use crate::control::Control;
use crate::dadt::{DaDt, InfoClass, Pn};
use crate::error::EncodeError;
use crate::frame::{MAX_USER_LEN, PROTOCOL_ID_376, checksum, make_l};
use crate::profile::Profile;
use crate::security::MacProvider;
use crate::seq::Seq;

/// A write position over a byte slice; every write is checked.
#[derive(Debug)]
pub(crate) struct Cursor<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Cursor<'b> {
    /// A cursor at the start of `buf`.
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }
    /// Bytes written so far.
    #[must_use]
    pub(crate) const fn pos(&self) -> usize {
        self.pos
    }
    /// Appends bytes.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`].
    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let end = self.pos + bytes.len();
        let got = self.buf.len();
        self.buf
            .get_mut(self.pos..end)
            .ok_or(EncodeError::BufferTooSmall { needed: end, got })?
            .copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }
    /// The unwritten rest of the buffer.
    pub(crate) fn rest(&mut self) -> &mut [u8] {
        self.buf.get_mut(self.pos..).unwrap_or(&mut [])
    }
    /// Marks `n` bytes of [`Cursor::rest`] as written (saturating at the end).
    pub(crate) fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
    /// The bytes written so far.
    #[must_use]
    pub(crate) fn written(&self) -> &[u8] {
        self.buf.get(..self.pos).unwrap_or(&[])
    }
}

/// The header and AUX choices of a frame to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameBuilder {
    /// Control field.
    pub control: Control,
    /// Address (MSA included).
    pub address: Address,
    /// Address width.
    pub address_width: AddressWidth,
    /// Application function.
    pub afn: Afn,
    /// Sequence field; TpV is set from [`FrameBuilder::tp`] when writing.
    pub seq: Seq,
    /// PW length for this AFN and direction (from the profile).
    pub pw_len: usize,
    /// EC to append (uplink with ACD; set ACD in `control` too).
    pub ec: Option<Ec>,
    /// Tp to append.
    pub tp: Option<Tp>,
    /// L protocol id (2).
    pub protocol_id: u8,
}

impl FrameBuilder {
    /// A builder; PW length and address width come from the profile.
    #[must_use]
    pub fn new(profile: &Profile, control: Control, address: Address, afn: Afn, seq: Seq) -> Self {
        FrameBuilder {
            control,
            address,
            address_width: profile.address,
            afn,
            seq,
            pw_len: profile.pw_len(afn, control.dir()),
            ec: None,
            tp: None,
            protocol_id: PROTOCOL_ID_376,
        }
    }
    /// With a Tp (sets TpV).
    #[must_use]
    pub const fn with_tp(mut self, tp: Option<Tp>) -> Self {
        self.tp = tp;
        self
    }
    /// With EC (and ACD set in C when `Some`).
    #[must_use]
    pub const fn with_ec(mut self, ec: Option<Ec>) -> Self {
        self.ec = ec;
        self.control = self.control.with_fcb_acd(ec.is_some());
        self
    }

    /// Starts writing into `out`: the link header and C, A, AFN, SEQ.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`], [`EncodeError::OutOfRange`] (address width).
    pub fn begin<'b>(&self, out: &'b mut [u8]) -> Result<FrameWriter<'b>, EncodeError> {
        let mut c = Cursor::new(out);
        c.put(&[0x68, 0, 0, 0, 0, 0x68, self.control.0])?;
        let n = self.address.emit(c.rest(), self.address_width)?;
        c.advance(n);
        c.put(&[self.afn.0, self.seq.with_tpv(self.tp.is_some()).0])?;
        let head_end = c.pos();
        Ok(FrameWriter {
            c,
            head_end,
            b: *self,
        })
    }
}

/// Appends data units to a frame being built; [`FrameWriter::finish`] completes it.
#[derive(Debug)]
pub struct FrameWriter<'b> {
    c: Cursor<'b>,
    head_end: usize,
    b: FrameBuilder,
}

impl FrameWriter<'_> {
    /// Appends one unit for a single (pn, Fn).
    ///
    /// # Errors
    ///
    /// [`EncodeError::DaDt`], [`EncodeError::BufferTooSmall`].
    pub fn unit(&mut self, pn: Pn, fn_: InfoClass, data: &[u8]) -> Result<(), EncodeError> {
        self.c.put(&DaDt::single(pn, fn_)?.to_bytes())?;
        self.c.put(data)
    }
    /// Appends a DA/DT followed by `data` (the units of all its pairs, pn-major).
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`].
    pub fn group(&mut self, dadt: DaDt, data: &[u8]) -> Result<(), EncodeError> {
        self.c.put(&dadt.to_bytes())?;
        self.c.put(data)
    }
    /// Appends a DA/DT and lets `f` write the data in place; `f` returns the bytes it wrote.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`] or `f`'s error.
    pub fn group_with(
        &mut self,
        dadt: DaDt,
        f: impl FnOnce(&mut [u8]) -> Result<usize, EncodeError>,
    ) -> Result<(), EncodeError> {
        self.c.put(&dadt.to_bytes())?;
        let n = f(self.c.rest())?;
        self.c.advance(n);
        Ok(())
    }
    /// Appends raw bytes to the data-unit region.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`].
    pub fn raw(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.c.put(bytes)
    }

    /// Writes PW (computed by `mac` when the profile requires one), EC, Tp, L, CS and `16`;
    /// returns the frame length.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`], [`EncodeError::TooLong`], [`EncodeError::Security`].
    pub fn finish<M: MacProvider + ?Sized>(mut self, mac: &mut M) -> Result<usize, EncodeError> {
        let units_end = self.c.pos();
        let pw_len = self.b.pw_len;
        // Reserve PW, then write EC and Tp so the MAC can cover them.
        let zeros = [0u8; 32];
        let mut left = pw_len;
        while left > 0 {
            let k = left.min(zeros.len());
            self.c.put(zeros.get(..k).unwrap_or(&[]))?;
            left -= k;
        }
        if let Some(ec) = self.b.ec {
            self.c.put(&<[u8; 2]>::from(ec))?;
        }
        if let Some(tp) = self.b.tp {
            self.c.put(&<[u8; 6]>::from(tp))?;
        }
        let end = self.c.pos();
        if pw_len > 0 {
            let (head, rest) = self
                .c
                .buf
                .split_at_mut_checked(units_end)
                .ok_or(EncodeError::OutOfRange("pw"))?;
            let (pw, tail) = rest
                .split_at_mut_checked(pw_len)
                .ok_or(EncodeError::OutOfRange("pw"))?;
            let head = head.get(6..).unwrap_or(&[]);
            let tail = tail.get(..end - units_end - pw_len).unwrap_or(&[]);
            mac.sign(head, tail, pw)?;
        }
        self.close()
    }

    fn close(mut self) -> Result<usize, EncodeError> {
        let end = self.c.pos();
        let user_len = end - 6;
        if user_len > MAX_USER_LEN {
            return Err(EncodeError::TooLong(user_len));
        }
        let cs = checksum(self.c.written().get(6..end).unwrap_or(&[]));
        self.c.put(&[cs, 0x16])?;
        let [l0, l1] = make_l(user_len, self.b.protocol_id).to_le_bytes();
        if let Some(h) = self.c.buf.get_mut(1..5) {
            h.copy_from_slice(&[l0, l1, l0, l1]);
        }
        let _ = self.head_end;
        Ok(self.c.pos())
    }
}
