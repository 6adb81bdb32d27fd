//! An exact decimal number and the named rounding rules.
//!
//! [`Decimal`] is `mantissa × 10^-scale` with an `i64` mantissa: the wire crates decode BCD
//! readings into it (DL/T 645 `XXXXXX.XX`, Q/GDW 1376.1 Appendix A formats) and `amikit-tariff`
//! converts it into money, energy and prices. It never holds a float. Every step that could lose
//! a digit either fails ([`Decimal::rescale_exact`]) or names its [`Rounding`]
//! ([`Decimal::rescale`]). With the `serde` feature it serializes as a decimal string
//! (`"229.70"`), which keeps its scale and is exact in every JSON reader.
//!
//! ```
//! use amikit_core::{Decimal, Rounding};
//! let v: Decimal = "-12.345".parse()?;
//! assert_eq!(v, Decimal::new(-12_345, 3));
//! assert_eq!(v.rescale(2, Rounding::HalfUp)?.to_string(), "-12.35");
//! assert_eq!(v.rescale(2, Rounding::HalfEven)?.to_string(), "-12.34");
//! assert_eq!(v.rescale(5, Rounding::Down)?.to_string(), "-12.34500");
//! assert!(v.rescale_exact(2).is_err());
//! # Ok::<(), amikit_core::DecimalError>(())
//! ```

use core::fmt;
use core::str::FromStr;

/// A decimal operation that would be wrong: malformed text, overflow, lost digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DecimalError {
    /// The text is not `[-]digits[.digits]`; the byte offset of the first problem.
    #[error("malformed decimal text at byte {0}")]
    Syntax(usize),
    /// The result does not fit the 64-bit mantissa.
    #[error("decimal overflow")]
    Overflow,
    /// Rescaling would drop non-zero digits.
    #[error("rescaling would drop non-zero digits")]
    Inexact,
    /// A division by zero.
    #[error("division by zero")]
    DivisionByZero,
}

/// How to round when digits are dropped.
///
/// | rule | meaning | 2.5 | 2.6 | −2.5 | −2.4 | `rust_decimal` |
/// |---|---|---|---|---|---|---|
/// | `HalfUp` | nearest, ties away from zero | 3 | 3 | −3 | −2 | `MidpointAwayFromZero` |
/// | `HalfEven` | nearest, ties to even (banker's) | 2 | 3 | −2 | −2 | `MidpointNearestEven` |
/// | `Up` | away from zero | 3 | 3 | −3 | −3 | `AwayFromZero` |
/// | `Down` | toward zero (truncate) | 2 | 2 | −2 | −2 | `ToZero` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Rounding {
    /// Round to the nearest value; a tie goes away from zero.
    HalfUp,
    /// Round to the nearest value; a tie goes to the even neighbour.
    HalfEven,
    /// Round away from zero (ceiling for positive amounts).
    Up,
    /// Round toward zero (floor for positive amounts, truncation).
    Down,
}

impl Rounding {
    /// Divides `num` by `den` and rounds the quotient with this rule.
    ///
    /// # Errors
    /// [`DecimalError::DivisionByZero`] if `den` is zero, [`DecimalError::Overflow`] if the
    /// quotient does not fit (only `i128::MIN / -1`).
    pub fn divide(self, num: i128, den: i128) -> Result<i128, DecimalError> {
        if den == 0 {
            return Err(DecimalError::DivisionByZero);
        }
        let q = num.checked_div(den).ok_or(DecimalError::Overflow)?;
        let r = num.checked_rem(den).ok_or(DecimalError::Overflow)?;
        if r == 0 {
            return Ok(q);
        }
        // The exact quotient is negative when num and den have opposite signs.
        let away = if (num < 0) != (den < 0) { -1 } else { 1 };
        let twice = r.unsigned_abs().saturating_mul(2);
        let den_abs = den.unsigned_abs();
        let go_away = match self {
            Rounding::Down => false,
            Rounding::Up => true,
            Rounding::HalfUp => twice >= den_abs,
            Rounding::HalfEven => twice > den_abs || (twice == den_abs && q % 2 != 0),
        };
        if go_away {
            q.checked_add(away).ok_or(DecimalError::Overflow)
        } else {
            Ok(q)
        }
    }
}

/// An exact decimal number: `mantissa × 10^-scale`.
///
/// Equality compares the representation: `0.50` and `0.5` differ (the scale is part of what a
/// meter sent); [`Decimal::same_value`] compares numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Decimal {
    /// The digits as an integer (negative for negative values).
    pub mantissa: i64,
    /// Digits after the decimal point.
    pub scale: u8,
}

impl Decimal {
    /// Zero with no fractional digits.
    pub const ZERO: Decimal = Decimal::new(0, 0);

    /// `mantissa × 10^-scale`.
    #[must_use]
    pub const fn new(mantissa: i64, scale: u8) -> Self {
        Decimal { mantissa, scale }
    }

    /// Parses `-12.345` / `220` / `0.02` exactly (the same as `str::parse`).
    ///
    /// # Errors
    /// [`DecimalError::Syntax`] for anything but `[-]digits[.digits]`,
    /// [`DecimalError::Overflow`] if the digits do not fit an `i64`.
    pub fn parse(text: &str) -> Result<Decimal, DecimalError> {
        text.parse()
    }

    /// The same value with trailing fractional zeros removed (`0.020` → `0.02`).
    #[must_use]
    pub const fn normalize(self) -> Self {
        let mut m = self.mantissa;
        let mut s = self.scale;
        while s > 0 && m % 10 == 0 {
            m /= 10;
            s -= 1;
        }
        Decimal {
            mantissa: m,
            scale: s,
        }
    }

    /// Numeric equality regardless of scale (`0.0 == 0.00`).
    #[must_use]
    pub const fn same_value(self, other: Decimal) -> bool {
        let (a, b) = (self.normalize(), other.normalize());
        a.mantissa == b.mantissa && (a.scale == b.scale || a.mantissa == 0)
    }

    /// The same number with `scale` fractional digits; dropped digits are rounded with
    /// `rounding`, added digits are zeros.
    ///
    /// # Errors
    /// [`DecimalError::Overflow`] if the mantissa does not fit an `i64` at the new scale.
    pub fn rescale(self, scale: u8, rounding: Rounding) -> Result<Decimal, DecimalError> {
        if self.mantissa == 0 {
            return Ok(Decimal::new(0, scale));
        }
        if scale >= self.scale {
            let factor = pow10(scale - self.scale).ok_or(DecimalError::Overflow)?;
            let m = i128::from(self.mantissa)
                .checked_mul(factor)
                .ok_or(DecimalError::Overflow)?;
            return Ok(Decimal::new(to_i64(m)?, scale));
        }
        let m = match pow10(self.scale - scale) {
            Some(den) => rounding.divide(i128::from(self.mantissa), den)?,
            // 10^39 and more: |mantissa| < 10^19 is below half of it, so only `Up` leaves a
            // unit (away from zero) behind.
            None => match rounding {
                Rounding::Up => i128::from(self.mantissa.signum()),
                Rounding::Down | Rounding::HalfUp | Rounding::HalfEven => 0,
            },
        };
        Ok(Decimal::new(to_i64(m)?, scale))
    }

    /// The same number with `scale` fractional digits, only if no non-zero digit is dropped.
    ///
    /// # Errors
    /// [`DecimalError::Inexact`] if a non-zero digit would be dropped,
    /// [`DecimalError::Overflow`] if the mantissa does not fit an `i64` at the new scale.
    pub fn rescale_exact(self, scale: u8) -> Result<Decimal, DecimalError> {
        let r = self.rescale(scale, Rounding::Down)?;
        if r.same_value(self) {
            Ok(r)
        } else {
            Err(DecimalError::Inexact)
        }
    }
}

/// 10^`n` as an `i128`, `None` from 10^39 on.
fn pow10(n: u8) -> Option<i128> {
    10i128.checked_pow(u32::from(n))
}

fn to_i64(v: i128) -> Result<i64, DecimalError> {
    i64::try_from(v).map_err(|_| DecimalError::Overflow)
}

impl FromStr for Decimal {
    type Err = DecimalError;

    /// `[-]digits[.digits]`: `-12.345`, `220`, `0.02` (at most 255 fractional digits, and the
    /// digits together must fit an `i64`). No exponent, no `+`, no grouping.
    fn from_str(text: &str) -> Result<Decimal, DecimalError> {
        let b = text.as_bytes();
        let (neg, start) = match b.first() {
            Some(b'-') => (true, 1),
            _ => (false, 0),
        };
        let mut m: i64 = 0;
        let mut scale: Option<u8> = None;
        let mut int_digits = 0usize;
        for (i, &c) in b.iter().enumerate().skip(start) {
            match (c, scale) {
                (b'.', None) if int_digits > 0 => scale = Some(0),
                (b'0'..=b'9', _) => {
                    let digit = i64::from(c - b'0');
                    m = m
                        .checked_mul(10)
                        .and_then(|m| {
                            if neg {
                                m.checked_sub(digit)
                            } else {
                                m.checked_add(digit)
                            }
                        })
                        .ok_or(DecimalError::Overflow)?;
                    match scale.as_mut() {
                        Some(s) => *s = s.checked_add(1).ok_or(DecimalError::Overflow)?,
                        None => int_digits += 1,
                    }
                }
                _ => return Err(DecimalError::Syntax(i)),
            }
        }
        match scale {
            _ if int_digits == 0 => Err(DecimalError::Syntax(b.len())),
            Some(0) => Err(DecimalError::Syntax(b.len())),
            s => Ok(Decimal::new(m, s.unwrap_or(0))),
        }
    }
}

impl fmt::Display for Decimal {
    /// `229.7`, `-0.5000`, `0.02`: exactly `scale` fractional digits (any scale).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // digits of |mantissa|, least significant first (u64::MAX has 20 digits)
        let mut buf = [0u8; 20];
        let mut n = self.mantissa.unsigned_abs();
        let mut len = 0usize;
        for slot in buf.iter_mut() {
            // n % 10 < 10 fits a u8
            *slot = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let digits = buf.get(..len).unwrap_or(&[]);
        let scale = usize::from(self.scale);
        if self.mantissa < 0 {
            f.write_str("-")?;
        }
        let write_rev = |f: &mut fmt::Formatter<'_>, d: &[u8]| -> fmt::Result {
            for &c in d.iter().rev() {
                fmt::Write::write_char(f, char::from(c))?;
            }
            Ok(())
        };
        if len <= scale {
            f.write_str("0.")?;
            for _ in len..scale {
                f.write_str("0")?;
            }
            write_rev(f, digits)
        } else {
            let (frac, int) = digits.split_at(scale);
            write_rev(f, int)?;
            if scale > 0 {
                f.write_str(".")?;
                write_rev(f, frac)?;
            }
            Ok(())
        }
    }
}

impl From<i64> for Decimal {
    /// An integer, scale 0.
    fn from(v: i64) -> Self {
        Decimal::new(v, 0)
    }
}

#[cfg(feature = "serde")]
mod serde_impls {
    //! A decimal serializes as its exact text (`"229.70"`).
    use super::Decimal;
    use crate::text::serde_as_text;

    serde_as_text!(Decimal, "a decimal string such as \"-12.345\"");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    #[test]
    fn text() {
        assert_eq!(Decimal::parse("0.02"), Ok(Decimal::new(2, 2)));
        assert_eq!(Decimal::parse("-229.70").unwrap().to_string(), "-229.70");
        assert!(
            Decimal::parse("220.0")
                .unwrap()
                .same_value(Decimal::new(220, 0))
        );
        assert!(
            !Decimal::parse("220.1")
                .unwrap()
                .same_value(Decimal::new(220, 0))
        );
        assert_eq!(Decimal::parse("1e5"), Err(DecimalError::Syntax(1)));
        assert_eq!(Decimal::parse(""), Err(DecimalError::Syntax(0)));
        assert_eq!(Decimal::parse("-"), Err(DecimalError::Syntax(1)));
        assert_eq!(Decimal::parse("12."), Err(DecimalError::Syntax(3)));
        assert_eq!(Decimal::parse(".5"), Err(DecimalError::Syntax(0)));
        assert_eq!(Decimal::parse("1.2.3"), Err(DecimalError::Syntax(3)));
        assert_eq!(Decimal::parse("+1"), Err(DecimalError::Syntax(0)));
        assert_eq!(
            Decimal::parse("9223372036854775807"),
            Ok(Decimal::new(i64::MAX, 0))
        );
        assert_eq!(
            Decimal::parse("-9223372036854775808"),
            Ok(Decimal::new(i64::MIN, 0))
        );
        assert_eq!(
            Decimal::parse("9223372036854775808"),
            Err(DecimalError::Overflow)
        );
        assert_eq!(Decimal::new(-5, 3).to_string(), "-0.005");
        assert_eq!(Decimal::new(0, 2).to_string(), "0.00");
        assert_eq!(Decimal::new(120, 0).to_string(), "120");
        assert_eq!(
            Decimal::new(i64::MIN, 0).to_string(),
            "-9223372036854775808"
        );
        assert_eq!(
            Decimal::new(7, 25).to_string(),
            "0.0000000000000000000000007"
        );
        assert_eq!(Decimal::new(1_234_567, 2).to_string(), "12345.67");
        assert_eq!(
            Decimal::new(i64::MIN, 255).to_string().parse::<Decimal>(),
            Ok(Decimal::new(i64::MIN, 255))
        );
    }

    #[test]
    fn rescaling() {
        let d = Decimal::new(200_005, 5); // 2.00005
        assert_eq!(d.rescale(4, Rounding::HalfUp), Ok(Decimal::new(20_001, 4)));
        assert_eq!(
            d.rescale(4, Rounding::HalfEven),
            Ok(Decimal::new(20_000, 4))
        );
        assert_eq!(d.rescale(4, Rounding::Up), Ok(Decimal::new(20_001, 4)));
        assert_eq!(d.rescale(4, Rounding::Down), Ok(Decimal::new(20_000, 4)));
        assert_eq!(d.rescale_exact(4), Err(DecimalError::Inexact));
        assert_eq!(
            Decimal::new(-250, 2).rescale(0, Rounding::HalfUp),
            Ok(Decimal::new(-3, 0))
        );
        assert_eq!(
            Decimal::new(-250, 2).rescale(0, Rounding::HalfEven),
            Ok(Decimal::new(-2, 0))
        );
        assert_eq!(
            Decimal::new(-240, 2).rescale(0, Rounding::Up),
            Ok(Decimal::new(-3, 0))
        );
        assert_eq!(
            Decimal::new(15, 1).rescale_exact(3),
            Ok(Decimal::new(1500, 3))
        );
        assert_eq!(
            Decimal::new(1500, 3).rescale_exact(1),
            Ok(Decimal::new(15, 1))
        );
        assert_eq!(
            Decimal::new(i64::MAX, 0).rescale(1, Rounding::Down),
            Err(DecimalError::Overflow)
        );
        assert_eq!(
            Decimal::new(1, 0).rescale(200, Rounding::Down),
            Err(DecimalError::Overflow)
        );
        assert_eq!(
            Decimal::new(0, 0).rescale(200, Rounding::Down),
            Ok(Decimal::new(0, 200))
        );
        assert_eq!(
            Decimal::new(-7, 200).rescale(0, Rounding::Up),
            Ok(Decimal::new(-1, 0))
        );
        assert_eq!(
            Decimal::new(7, 200).rescale(0, Rounding::HalfUp),
            Ok(Decimal::ZERO)
        );
        assert_eq!(
            Rounding::Down.divide(1, 0),
            Err(DecimalError::DivisionByZero)
        );
        assert_eq!(
            Rounding::Down.divide(i128::MIN, -1),
            Err(DecimalError::Overflow)
        );
    }

    #[test]
    fn rounding_table() {
        // The table in `Rounding`'s documentation, in tenths.
        let cases = [
            (Rounding::HalfUp, [3, 3, -3, -2]),
            (Rounding::HalfEven, [2, 3, -2, -2]),
            (Rounding::Up, [3, 3, -3, -3]),
            (Rounding::Down, [2, 2, -2, -2]),
        ];
        for (r, want) in cases {
            let got = [25, 26, -25, -24].map(|n| r.divide(n, 10).unwrap());
            assert_eq!(got, want.map(i128::from), "{r:?}");
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_as_text() {
        let d = Decimal::new(-22_970, 2);
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"-229.70\"");
        assert_eq!(serde_json::from_str::<Decimal>("\"-229.70\"").unwrap(), d);
        assert!(serde_json::from_str::<Decimal>("\"1e3\"").is_err());
    }

    proptest! {
        #[test]
        fn text_round_trip(m in any::<i64>(), s in any::<u8>()) {
            let d = Decimal::new(m, s);
            prop_assert_eq!(d.to_string().parse::<Decimal>(), Ok(d));
        }

        #[test]
        fn rescale_up_then_down_is_identity(m in -1_000_000_000i64..1_000_000_000, s in 0u8..6, k in 0u8..9) {
            let d = Decimal::new(m, s);
            let up = d.rescale(s + k, Rounding::HalfEven).unwrap();
            prop_assert!(up.same_value(d));
            prop_assert_eq!(up.rescale_exact(s), Ok(d));
        }

        #[test]
        fn rounded_result_is_within_one_unit(m in any::<i64>(), s in 1u8..20, k in 0u8..20) {
            let d = Decimal::new(m, s);
            let to = s.saturating_sub(k.max(1));
            for r in [Rounding::HalfUp, Rounding::HalfEven, Rounding::Up, Rounding::Down] {
                let Ok(x) = d.rescale(to, r) else { continue };
                // |x - d| < 10^-to, compared at scale s in i128 (10^19 * 10^19 < 2^127).
                let back = i128::from(x.mantissa) * 10i128.pow(u32::from(s - to));
                let diff = (back - i128::from(m)).unsigned_abs();
                prop_assert!(diff < 10u128.pow(u32::from(s - to)));
            }
        }

        #[test]
        fn any_text_never_panics(t in "\\PC{0,40}") {
            let _ = t.parse::<Decimal>();
        }
    }
}
