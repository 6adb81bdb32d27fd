//! Packed binary-coded decimal: two decimal digits per byte, high nibble first.
//!
//! DL/T 645-2007 (§4, data formats) and Q/GDW 1376.1-2013 (Appendix A) send numbers, addresses
//! and times as packed BCD. A nibble above 9 is never a digit: the checked helpers here say so
//! with `None` or a [`BcdError`] naming the byte, instead of reading a wrong number.
//!
//! ```
//! use amikit_core::bcd;
//! assert_eq!(bcd::to_bcd(42), Some(0x42));
//! assert_eq!(bcd::from_bcd(0x42), Some(42));
//! assert_eq!(bcd::from_bcd(0x4A), None);
//! // 1520.37 kWh as DL/T 645 sends it (least significant byte first): 37 20 15 00.
//! assert_eq!(bcd::decode_le(&[0x37, 0x20, 0x15, 0x00]), Ok(152_037));
//! let mut out = [0u8; 4];
//! bcd::encode_le(152_037, &mut out)?;
//! assert_eq!(out, [0x37, 0x20, 0x15, 0x00]);
//! # Ok::<(), amikit_core::BcdError>(())
//! ```

/// A byte that is not two BCD digits, or a number that does not fit its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum BcdError {
    /// A nibble above 9 in byte `offset` (counted from the start of the slice).
    #[error("byte {offset} ({byte:#04x}) is not packed BCD")]
    NotBcd {
        /// Offset of the byte in the input.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// The number has more digits than the bytes hold, or more than 9 bytes were given to
    /// decode (a `u64` holds 18 decimal digits in full).
    #[error("the number does not fit {bytes} BCD bytes")]
    TooLarge {
        /// Number of bytes.
        bytes: usize,
    },
}

/// Whether both nibbles of `b` are decimal digits.
#[inline]
#[must_use]
pub const fn is_bcd_byte(b: u8) -> bool {
    (b & 0x0F) <= 9 && (b >> 4) <= 9
}

/// Packs 0..=99 into one BCD byte (`None` above 99).
#[inline]
#[must_use]
pub const fn to_bcd(v: u8) -> Option<u8> {
    if v > 99 {
        None
    } else {
        Some(((v / 10) << 4) | (v % 10))
    }
}

/// Unpacks one BCD byte (`None` if a nibble is above 9).
#[inline]
#[must_use]
pub const fn from_bcd(b: u8) -> Option<u8> {
    if is_bcd_byte(b) {
        Some((b >> 4) * 10 + (b & 0x0F))
    } else {
        None
    }
}

/// The number in `bytes`, least significant byte first (at most 9 bytes, 18 digits).
///
/// # Errors
/// [`BcdError::NotBcd`] for a non-decimal nibble, [`BcdError::TooLarge`] for more than 9 bytes.
pub fn decode_le(bytes: &[u8]) -> Result<u64, BcdError> {
    if bytes.len() > 9 {
        return Err(BcdError::TooLarge { bytes: bytes.len() });
    }
    let mut v: u64 = 0;
    for (offset, &byte) in bytes.iter().enumerate().rev() {
        let d = from_bcd(byte).ok_or(BcdError::NotBcd { offset, byte })?;
        // at most 9 bytes: v < 10^16 before this step, so v * 100 + 99 < 2^64
        v = v * 100 + u64::from(d);
    }
    Ok(v)
}

/// Writes `value` into all of `out` as packed BCD, least significant byte first (leading
/// zero bytes fill the rest).
///
/// # Errors
/// [`BcdError::TooLarge`] if `value` has more digits than `out` holds; `out` is unchanged then.
pub fn encode_le(value: u64, out: &mut [u8]) -> Result<(), BcdError> {
    let mut rest = value;
    for _ in 0..out.len() {
        rest /= 100;
    }
    if rest != 0 {
        return Err(BcdError::TooLarge { bytes: out.len() });
    }
    let mut rest = value;
    for slot in out.iter_mut() {
        // rest % 100 < 100: both digits fit a nibble
        *slot = (((rest % 100 / 10) as u8) << 4) | (rest % 10) as u8;
        rest /= 100;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        for v in 0..=99u8 {
            assert_eq!(to_bcd(v).and_then(from_bcd), Some(v));
        }
        assert_eq!(to_bcd(100), None);
        let bad = (0..=255u8).filter(|&b| !is_bcd_byte(b)).count();
        assert_eq!(bad, 256 - 100);
        assert!((0..=255u8).all(|b| is_bcd_byte(b) == from_bcd(b).is_some()));
    }

    #[test]
    fn numbers() {
        assert_eq!(decode_le(&[]), Ok(0));
        assert_eq!(decode_le(&[0x99; 9]), Ok(999_999_999_999_999_999));
        assert_eq!(decode_le(&[0; 10]), Err(BcdError::TooLarge { bytes: 10 }));
        assert_eq!(
            decode_le(&[0x12, 0x3F]),
            Err(BcdError::NotBcd {
                offset: 1,
                byte: 0x3F
            })
        );
        let mut out = [0xAA; 2];
        assert_eq!(
            encode_le(10_000, &mut out),
            Err(BcdError::TooLarge { bytes: 2 })
        );
        assert_eq!(out, [0xAA; 2]);
        encode_le(9_999, &mut out).unwrap();
        assert_eq!(out, [0x99, 0x99]);
        let mut wide = [0u8; 10];
        encode_le(u64::MAX, &mut wide).unwrap();
        assert_eq!(
            wide,
            [0x15, 0x16, 0x55, 0x09, 0x37, 0x07, 0x44, 0x67, 0x44, 0x18]
        );
    }

    proptest! {
        #[test]
        fn round_trip(v in 0u64..1_000_000_000_000_000_000, n in 0usize..=9) {
            let mut buf = [0u8; 9];
            let out = &mut buf[..n];
            let fits = n == 9 || v < 100u64.pow(n as u32);
            prop_assert_eq!(encode_le(v, out).is_ok(), fits);
            if fits {
                prop_assert!(out.iter().all(|&b| is_bcd_byte(b)));
                prop_assert_eq!(decode_le(out), Ok(v));
            }
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            if let Ok(v) = decode_le(&bytes) {
                let mut back = [0u8; 9];
                let back = &mut back[..bytes.len()];
                encode_le(v, back).unwrap();
                prop_assert_eq!(&back[..], &bytes[..]);
            }
        }
    }
}
