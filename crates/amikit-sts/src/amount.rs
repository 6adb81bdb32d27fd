//! The 16-bit amount code: 2-bit exponent, 14-bit mantissa, integer values only.
//!
//! `e = bits 15..14`, `m = bits 13..0`, value `V = m·10^e + Σ_{i<e} 16384·10^i`. For credit
//! the unit is 0.1 kWh (or 0.1 m³, …): the value is in *tenths*. Maximum power limits use the
//! same code with unit 1 W.
//!
//! | e | value range | step |
//! |---|---|---|
//! | 0 | 0 … 16 383 | 1 |
//! | 1 | 16 384 … 180 214 | 10 |
//! | 2 | 180 224 … 1 818 524 | 100 |
//! | 3 | 1 818 624 … 18 201 624 | 1000 |
//!
//! Encoding rounds **up** to the least representable value (in the customer's favour), as the
//! STS 531 compliance tokens do. No floating point is used anywhere.

use core::fmt;

use crate::error::AmountError;

/// Largest value the code carries (e = 3, m = 16383).
pub const MAX_VALUE: u32 = 18_201_624;

const MANTISSA_MAX: u32 = 0x3FFF;

/// First value and step of exponent `e`'s range.
const fn range(e: u8) -> (u32, u32) {
    match e {
        0 => (0, 1),
        1 => (16_384, 10),
        2 => (180_224, 100),
        _ => (1_818_624, 1000),
    }
}

/// A 16-bit amount code (any 16-bit value is a valid code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Amount(u16);

impl Amount {
    /// The amount with this raw 16-bit code.
    pub(crate) const fn from_raw(raw: u16) -> Amount {
        Amount(raw)
    }

    /// The raw 16-bit code.
    pub(crate) const fn raw(self) -> u16 {
        self.0
    }

    /// The exponent (0–3).
    pub const fn exponent(self) -> u8 {
        (self.0 >> 14) as u8
    }

    /// The mantissa (0–16383).
    pub const fn mantissa(self) -> u16 {
        self.0 & 0x3FFF
    }

    /// The value in the field's unit (tenths for credit, watts for power limits).
    pub const fn value(self) -> u32 {
        let (base, step) = range(self.exponent());
        // At most 1 818 624 + 16 383 · 1000: no overflow.
        base + self.mantissa() as u32 * step
    }

    /// The least representable amount that is at least `value` (rounding up);
    /// [`AmountError::TooLarge`] above [`MAX_VALUE`].
    pub const fn from_value_ceil(value: u64) -> Result<Amount, AmountError> {
        if value > MAX_VALUE as u64 {
            return Err(AmountError::TooLarge(value));
        }
        let v = value as u32;
        let mut e = 0u8;
        while e < 4 {
            let (base, step) = range(e);
            let m = if v <= base {
                0
            } else {
                (v - base).div_ceil(step)
            };
            if m <= MANTISSA_MAX {
                return Ok(Amount(((e as u16) << 14) | m as u16));
            }
            e += 1;
        }
        // Unreachable: MAX_VALUE is representable with e = 3.
        Err(AmountError::TooLarge(value))
    }

    /// The exact amount for `value`, or `None` when `value` is not representable.
    pub const fn from_value_exact(value: u64) -> Option<Amount> {
        match Amount::from_value_ceil(value) {
            Ok(a) if a.value() as u64 == value => Some(a),
            _ => None,
        }
    }
}

/// A value in tenths shown with one decimal, e.g. `Tenths(256)` shows as `25.6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tenths(pub u64);

impl fmt::Display for Tenths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 / 10, self.0 % 10)
    }
}

/// Parses a non-negative decimal (`25.6`, `0.1`, `1000`, `0.15`) into tenths, rounding any
/// further fraction digits **up** (`0.15` → 2 tenths). No floating point.
pub fn parse_tenths(text: &str) -> Result<u64, AmountError> {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return Err(AmountError::Syntax);
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AmountError::Syntax);
    }
    let mut tenths: u64 = 0;
    for b in int.bytes() {
        tenths = tenths
            .checked_mul(10)
            .and_then(|t| t.checked_add(u64::from(b - b'0')))
            .ok_or(AmountError::TooLarge(u64::MAX))?;
    }
    tenths = tenths
        .checked_mul(10)
        .ok_or(AmountError::TooLarge(u64::MAX))?;
    let mut digits = frac.bytes();
    if let Some(first) = digits.next() {
        tenths = tenths
            .checked_add(u64::from(first - b'0'))
            .ok_or(AmountError::TooLarge(u64::MAX))?;
    }
    if digits.any(|b| b != b'0') {
        tenths = tenths
            .checked_add(1)
            .ok_or(AmountError::TooLarge(u64::MAX))?;
    }
    Ok(tenths)
}

impl From<u16> for Amount {
    /// The amount with this raw 16-bit code (any code is valid).
    fn from(value: u16) -> Self {
        Self::from_raw(value)
    }
}

impl From<Amount> for u16 {
    /// The value of a [`Amount`].
    fn from(value: Amount) -> Self {
        value.raw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_boundaries() {
        // IEC 62055-41 transfer amount (exponent and mantissa) range table and the STS 531 boundary amounts.
        for (raw, value) in [
            (0x0000u16, 0u32),
            (0x3FFF, 16_383),
            (0x4000, 16_384),
            (0x7FFF, 180_214),
            (0x8000, 180_224),
            (0xBFFF, 1_818_524),
            (0xC000, 1_818_624),
            (0xFFFF, 18_201_624),
            (0x0100, 256),
        ] {
            assert_eq!(Amount::from_raw(raw).value(), value, "raw {raw:04X}");
            assert_eq!(Amount::from_value_ceil(value.into()).unwrap().raw(), raw);
        }
    }

    #[test]
    fn rounds_up() {
        // STS 531: 2000.0 kWh is carried as 2000.4; 18022.3 as 18022.4; 181862.3 as 181862.4.
        assert_eq!(Amount::from_value_ceil(20_000).unwrap().value(), 20_004);
        assert_eq!(Amount::from_value_ceil(180_223).unwrap().value(), 180_224);
        assert_eq!(
            Amount::from_value_ceil(1_818_623).unwrap().value(),
            1_818_624
        );
        assert_eq!(Amount::from_value_ceil(180_215).unwrap().value(), 180_224);
        assert_eq!(Amount::from_value_exact(20_000), None);
        assert_eq!(
            Amount::from_value_ceil(18_201_625),
            Err(AmountError::TooLarge(18_201_625))
        );
    }

    #[test]
    fn decimal_text() {
        assert_eq!(parse_tenths("25.6"), Ok(256));
        assert_eq!(parse_tenths("0.1"), Ok(1));
        assert_eq!(parse_tenths("1000"), Ok(10_000));
        assert_eq!(parse_tenths("2000.0"), Ok(20_000));
        assert_eq!(parse_tenths("0.15"), Ok(2));
        assert_eq!(parse_tenths("0.10"), Ok(1));
        assert_eq!(parse_tenths(".5"), Ok(5));
        assert_eq!(parse_tenths("7."), Ok(70));
        assert_eq!(parse_tenths(""), Err(AmountError::Syntax));
        assert_eq!(parse_tenths("."), Err(AmountError::Syntax));
        assert_eq!(parse_tenths("-1"), Err(AmountError::Syntax));
        assert_eq!(parse_tenths("1e3"), Err(AmountError::Syntax));
        assert_eq!(
            std::format!("{}", Tenths(u64::from(Amount::from_raw(0x0100).value()))),
            "25.6"
        );
        assert_eq!(std::format!("{}", Tenths(0)), "0.0");
    }
}
