//! Field readers and writers shared by the typed units.

use core::fmt;
use core::marker::PhantomData;

use crate::error::{EncodeError, FormatError, UnitError};
use crate::format::{DataFormat, ReadOptions, read, write};

/// A typed data-unit layout of Q/GDW 1376.1-2013 Appendix B: read from a unit's data with
/// [`UnitLayout::parse`] and written back with [`UnitLayout::emit`] (the crate's `parse` / `emit`
/// verb pair; [`Value::parse`](crate::units::Value::parse) picks the layout from AFN, Fn and
/// direction).
///
/// ```
/// use amikit_gdw376::units::{Reader, RemoteTrip, UnitLayout, Writer};
/// use amikit_gdw376::format::ReadOptions;
/// let trip = RemoteTrip { alarm_delay_min: 5, ..RemoteTrip::default() };
/// let mut buf = [0u8; 8];
/// let mut w = Writer::new(&mut buf);
/// trip.emit(&mut w)?;
/// let n = w.pos();
/// let mut r = Reader::new(&buf[..n], ReadOptions::default());
/// assert_eq!(RemoteTrip::parse(&mut r)?, trip);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait UnitLayout<'a>: Sized {
    /// Reads the layout from `r`, leaving `r` after it.
    ///
    /// # Errors
    ///
    /// [`UnitError`] for too few bytes or a field that does not fit its data format.
    fn parse(r: &mut Reader<'a>) -> Result<Self, UnitError>;

    /// Writes the layout to `w`.
    ///
    /// # Errors
    ///
    /// [`EncodeError`] for a full buffer or a value its data format cannot hold.
    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;
}

/// Reads fields from a unit's bytes, tracking the offset for error reports.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    data: &'a [u8],
    off: usize,
    opts: ReadOptions,
}

impl<'a> Reader<'a> {
    /// A reader over a unit's data.
    #[must_use]
    pub const fn new(data: &'a [u8], opts: ReadOptions) -> Self {
        Reader { data, off: 0, opts }
    }
    /// The read options.
    #[must_use]
    pub(crate) const fn options(&self) -> ReadOptions {
        self.opts
    }
    /// Bytes not read yet.
    #[must_use]
    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.data.get(self.off..).unwrap_or(&[])
    }
    /// Takes `n` bytes.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`].
    #[inline]
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], UnitError> {
        let end = self.off + n;
        let b = self.data.get(self.off..end).ok_or(UnitError::Length {
            needed: end,
            available: self.data.len(),
        })?;
        self.off = end;
        Ok(b)
    }
    /// Takes `N` bytes as an array.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`].
    #[inline]
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], UnitError> {
        let b = self.bytes(N)?;
        b.first_chunk::<N>().copied().ok_or(UnitError::Length {
            needed: N,
            available: b.len(),
        })
    }
    /// One byte.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`].
    #[inline]
    pub fn u8(&mut self) -> Result<u8, UnitError> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }
    /// A little-endian u16.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`].
    pub fn u16(&mut self) -> Result<u16, UnitError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    /// A little-endian u32.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`].
    pub fn u32(&mut self) -> Result<u32, UnitError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    /// A data format; `None` when absent (`EE`).
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`], [`UnitError::Format`].
    #[inline]
    pub fn fmt<F: DataFormat>(&mut self) -> Result<Option<F>, UnitError> {
        let at = self.off;
        let b = self.bytes(F::LEN)?;
        read::<F>(b, self.opts).map_err(|error| UnitError::Format { offset: at, error })
    }
    /// Skips a field of format `F` after checking it (absent or valid).
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`], [`UnitError::Format`].
    #[inline]
    pub fn check<F: DataFormat>(&mut self) -> Result<(), UnitError> {
        let at = self.off;
        let b = self.bytes(F::LEN)?;
        if crate::format::is_absent(b) || (self.opts.ef_absent && b.iter().all(|&x| x == 0xEF)) {
            return Ok(());
        }
        F::validate(b).map_err(|error| UnitError::Format { offset: at, error })
    }
    /// `count` consecutive fields of format `F`, checked now and read lazily.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`], [`UnitError::Format`].
    pub fn seq<F: DataFormat>(&mut self, count: usize) -> Result<FormatSeq<'a, F>, UnitError> {
        let at = self.off;
        let b = self.bytes(count * F::LEN)?;
        for (i, c) in b.chunks_exact(F::LEN).enumerate() {
            read::<F>(c, self.opts).map_err(|error| UnitError::Format {
                offset: at + i * F::LEN,
                error,
            })?;
        }
        Ok(FormatSeq {
            bytes: b,
            _f: PhantomData,
        })
    }
    /// Fails unless every byte was read.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`].
    pub fn end(&self) -> Result<(), UnitError> {
        if self.off == self.data.len() {
            Ok(())
        } else {
            Err(UnitError::Length {
                needed: self.off,
                available: self.data.len(),
            })
        }
    }
}

/// Writes fields into a buffer.
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Writer<'b> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }
    /// Bytes written.
    #[must_use]
    pub const fn pos(&self) -> usize {
        self.pos
    }
    fn slot(&mut self, n: usize) -> Result<&mut [u8], EncodeError> {
        let end = self.pos + n;
        let got = self.buf.len();
        let s = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(EncodeError::BufferTooSmall { needed: end, got })?;
        self.pos = end;
        Ok(s)
    }
    /// Raw bytes.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`].
    pub fn bytes(&mut self, b: &[u8]) -> Result<(), EncodeError> {
        self.slot(b.len())?.copy_from_slice(b);
        Ok(())
    }
    /// One byte.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`].
    pub fn u8(&mut self, v: u8) -> Result<(), EncodeError> {
        self.bytes(&[v])
    }
    /// A little-endian u16.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`].
    pub fn u16(&mut self, v: u16) -> Result<(), EncodeError> {
        self.bytes(&v.to_le_bytes())
    }
    /// A little-endian u32.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`].
    pub fn u32(&mut self, v: u32) -> Result<(), EncodeError> {
        self.bytes(&v.to_le_bytes())
    }
    /// A data format, or `EE` bytes for `None`.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`], [`EncodeError::Format`].
    pub fn fmt<F: DataFormat>(&mut self, v: Option<&F>) -> Result<(), EncodeError> {
        let s = self.slot(F::LEN)?;
        write(v, s).map_err(EncodeError::from)
    }
}

/// Options for re-reading fields that were validated when their unit was parsed: a field that
/// passed a strict check is `EE` or BCD, so reading `EF` as absent changes nothing; one that
/// passed a lenient check may be all `EF`, which is absent.
pub(crate) const VALIDATED: ReadOptions = ReadOptions { ef_absent: true };

/// A run of fields of one format, validated when the unit was parsed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FormatSeq<'a, F> {
    bytes: &'a [u8],
    _f: PhantomData<F>,
}

impl<'a, F: DataFormat> FormatSeq<'a, F> {
    /// Wraps bytes that hold whole fields (checked: every field must decode).
    ///
    /// # Errors
    ///
    /// [`FormatError`] of the first bad field, or [`FormatError::Truncated`] for a partial one.
    pub fn new(bytes: &'a [u8], opts: ReadOptions) -> Result<Self, FormatError> {
        if !bytes.len().is_multiple_of(F::LEN) {
            return Err(FormatError::Truncated {
                needed: F::LEN,
                available: bytes.len() % F::LEN,
            });
        }
        for c in bytes.chunks_exact(F::LEN) {
            read::<F>(c, opts)?;
        }
        Ok(FormatSeq {
            bytes,
            _f: PhantomData,
        })
    }
    /// Number of fields.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len() / F::LEN
    }
    /// True when there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    /// Field `i` (`None` when absent or out of range).
    #[must_use]
    pub fn get(&self, i: usize) -> Option<F> {
        let c = self.bytes.get(i * F::LEN..(i + 1) * F::LEN)?;
        read::<F>(c, VALIDATED).ok().flatten()
    }
    /// The fields (absent ones as `None`).
    pub fn iter(&self) -> impl Iterator<Item = Option<F>> + 'a {
        self.bytes
            .chunks_exact(F::LEN)
            .map(move |c| read::<F>(c, VALIDATED).ok().flatten())
    }
    /// The raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl<F> fmt::Debug for FormatSeq<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FormatSeq({})", super::common::HexBytes(self.bytes))
    }
}

#[cfg(feature = "serde")]
impl<F: DataFormat + serde::Serialize> serde::Serialize for FormatSeq<'_, F> {
    /// As a list (absent fields as null).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl Writer<'_> {
    /// Overwrites an already written byte.
    ///
    /// # Errors
    ///
    /// [`EncodeError::OutOfRange`] when `at` was not written yet.
    pub(crate) fn patch(&mut self, at: usize, v: u8) -> Result<(), EncodeError> {
        if at >= self.pos {
            return Err(EncodeError::OutOfRange("patch position"));
        }
        let b = self
            .buf
            .get_mut(at)
            .ok_or(EncodeError::OutOfRange("patch position"))?;
        *b = v;
        Ok(())
    }
}
