//! Appendix A data formats (数据格式 01–27) as types with exact decimals.
//!
//! Types are named by *format number*. The standard's table numbers agree for formats 01 and 02
//! (tables A.1, A.2); table A.3 is the power-of-ten code of format 02, so from format 03 on the
//! table number is the format number plus one (format 03 ↔ table A.4 … format 27 ↔ table A.28;
//! Q/GDW 1376.1-2013 Appendix A).
//!
//! Rules (Q/GDW 1376.1-2013 Appendix A; `EF` filler seen in captured traffic):
//! * all bytes `EE` means *absent*: [`read`] returns `Ok(None)`;
//! * a nibble above 9 where a digit belongs is [`FormatError::NotBcd`] — never a number
//!   (`EF` filler included, unless the caller opts into [`Leniency::EF_ABSENT`](crate::Leniency));
//! * signs live in the top byte (D7, or D4 for formats 02 and 03);
//! * values are exact: integer mantissas with a decimal scale ([`Decimal`]), never floats.

mod numeric;
mod time;

pub use numeric::{
    Amount, AmountUnit, Format02, Format03, Format04, Format05, Format06, Format07, Format08,
    Format09, Format10, Format11, Format12, Format13, Format14, Format22, Format23, Format25,
    Format26, Format27,
};
pub use time::{
    Format01, Format15, Format16, Format17, Format18, Format19, Format20, Format21, Format24,
};

use crate::error::FormatError;

/// An exact decimal, `mantissa × 10^-scale` (`amikit-core`'s; serializes as a decimal string).
pub use amikit_core::Decimal;

/// A fixed-size Appendix A data format.
pub trait DataFormat: Sized {
    /// Bytes on the wire.
    const LEN: usize;
    /// The format number (数据格式 NN).
    const NUMBER: u8;
    /// Decodes exactly [`DataFormat::LEN`] bytes (no `EE` handling; see [`read`]).
    ///
    /// # Errors
    ///
    /// [`FormatError::Truncated`] on a short slice, [`FormatError::NotBcd`] on a bad nibble.
    fn parse(bytes: &[u8]) -> Result<Self, FormatError>;
    /// Checks that [`DataFormat::parse`] would succeed, without building the value.
    ///
    /// # Errors
    ///
    /// As [`DataFormat::parse`].
    #[inline]
    fn validate(bytes: &[u8]) -> Result<(), FormatError> {
        Self::parse(bytes).map(|_| ())
    }
    /// Encodes into the first [`DataFormat::LEN`] bytes of `out`.
    ///
    /// # Errors
    ///
    /// [`FormatError::Truncated`] when `out` is short, [`FormatError::OutOfRange`] when the
    /// value does not fit.
    fn emit(&self, out: &mut [u8]) -> Result<(), FormatError>;
}

/// How absent-data markers are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadOptions {
    /// Read an all-`EF` field as absent (leniency `ef-absent`); strict reading reports it as
    /// non-BCD.
    pub ef_absent: bool,
}

/// True when every byte is `EE` (absent data).
#[must_use]
#[inline]
pub(crate) fn is_absent(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| b == 0xEE)
}

/// Reads a format from the start of `bytes`: `Ok(None)` when it is all `EE` (absent).
///
/// # Errors
///
/// As [`DataFormat::parse`].
#[inline]
pub fn read<F: DataFormat>(bytes: &[u8], opts: ReadOptions) -> Result<Option<F>, FormatError> {
    let field = bytes.get(..F::LEN).ok_or(FormatError::Truncated {
        needed: F::LEN,
        available: bytes.len(),
    })?;
    if is_absent(field) || (opts.ef_absent && field.iter().all(|&b| b == 0xEF)) {
        return Ok(None);
    }
    F::parse(field).map(Some)
}

/// Writes `Some(value)` or, for `None`, `EE` bytes (absent).
///
/// # Errors
///
/// As [`DataFormat::emit`].
pub fn write<F: DataFormat>(value: Option<&F>, out: &mut [u8]) -> Result<(), FormatError> {
    match value {
        Some(v) => v.emit(out),
        None => {
            let got = out.len();
            out.get_mut(..F::LEN)
                .ok_or(FormatError::Truncated {
                    needed: F::LEN,
                    available: got,
                })?
                .fill(0xEE);
            Ok(())
        }
    }
}

/// Two BCD digits of a byte; `offset` is reported on error.
#[inline]
pub(crate) const fn bcd2(byte: u8, offset: usize) -> Result<u8, FormatError> {
    match amikit_core::bcd::from_bcd(byte) {
        Some(v) => Ok(v),
        None => Err(FormatError::NotBcd { offset, byte }),
    }
}

/// A byte holding `v` (0–99) as two BCD digits.
pub(crate) const fn to_bcd2(v: u8) -> Result<u8, FormatError> {
    match amikit_core::bcd::to_bcd(v) {
        Some(b) => Ok(b),
        None => Err(FormatError::OutOfRange),
    }
}

/// The first `N` bytes of `bytes`, or [`FormatError::Truncated`].
#[inline]
pub(crate) fn take<const N: usize>(bytes: &[u8]) -> Result<[u8; N], FormatError> {
    bytes
        .first_chunk::<N>()
        .copied()
        .ok_or(FormatError::Truncated {
            needed: N,
            available: bytes.len(),
        })
}

/// Writes `N` bytes at the start of `out`, or [`FormatError::Truncated`].
pub(crate) fn put<const N: usize>(out: &mut [u8], bytes: [u8; N]) -> Result<(), FormatError> {
    let got = out.len();
    out.first_chunk_mut::<N>()
        .ok_or(FormatError::Truncated {
            needed: N,
            available: got,
        })?
        .copy_from_slice(&bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_display() {
        extern crate std;
        use std::string::ToString;
        assert_eq!(Decimal::new(11173, 4).to_string(), "1.1173");
        assert_eq!(Decimal::new(-5, 1).to_string(), "-0.5");
        assert_eq!(Decimal::new(1000, 1).to_string(), "100.0");
        assert_eq!(Decimal::new(42, 0).to_string(), "42");
        assert_eq!(
            Decimal::new(i64::MIN, 3).to_string(),
            "-9223372036854775.808"
        );
    }

    #[test]
    fn absent_and_filler() {
        // Vector gdw376-051: EE = absent; gdw376-052: EF filler is not BCD (strict).
        assert_eq!(
            read::<Format09>(&[0xEE; 3], ReadOptions::default()),
            Ok(None)
        );
        assert!(matches!(
            read::<Format09>(&[0xEF; 3], ReadOptions::default()),
            Err(FormatError::NotBcd { .. })
        ));
        assert_eq!(
            read::<Format09>(&[0xEF; 3], ReadOptions { ef_absent: true }),
            Ok(None)
        );
        let mut out = [0u8; 3];
        write::<Format09>(None, &mut out).unwrap();
        assert_eq!(out, [0xEE; 3]);
        assert!(read::<Format09>(&[0x00; 2], ReadOptions::default()).is_err());
    }
}
