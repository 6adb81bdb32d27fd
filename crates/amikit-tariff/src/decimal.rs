//! Conversions between the fixed-point quantities and `rust_decimal::Decimal` (feature
//! `decimal`, which needs a heap because `rust_decimal` always links `alloc`).
//!
//! Into `Decimal` is always exact. From `Decimal` either is exact (`TryFrom`, an error if
//! digits would be lost) or names its [`Rounding`]. Decimal strings need no feature: every
//! quantity has an exact `Display` and `FromStr`/`parse`/`parse_rounded` in the heap-free core.
//!
//! ```
//! use amikit_tariff::{Money, Rounding};
//! use rust_decimal::Decimal;
//! let d: Decimal = "12.34565".parse().unwrap();
//! assert!(Money::try_from(d).is_err()); // 5 decimals do not fit 1e-4
//! assert_eq!(Money::from_decimal(d, Rounding::HalfEven).unwrap().to_string(), "12.3456");
//! assert_eq!(Decimal::from(Money::parse("-0.5").unwrap()).to_string(), "-0.5000");
//! ```

use rust_decimal::{Decimal, RoundingStrategy};

use crate::error::QuantityError;
use crate::quantity::{Energy, Money, Price, Rounding};

/// The `rust_decimal` strategy of a [`Rounding`].
fn strategy(r: Rounding) -> RoundingStrategy {
    {
        match r {
            Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
            Rounding::Up => RoundingStrategy::AwayFromZero,
            Rounding::Down => RoundingStrategy::ToZero,
        }
    }
}

/// `d` as an integer with `decimals` implied decimals, rounded with `rounding`.
fn to_raw(d: Decimal, decimals: u32, rounding: Rounding) -> Result<i64, QuantityError> {
    let mut r = d.round_dp_with_strategy(decimals, strategy(rounding));
    // Rescaling up adds zeros only; at most 28 digits, so it cannot lose anything.
    r.rescale(decimals);
    if r.scale() != decimals {
        return Err(QuantityError::Overflow);
    }
    i64::try_from(r.mantissa()).map_err(|_| QuantityError::Overflow)
}

macro_rules! decimal_conversions {
    ($t:ident, $decimals:expr, $raw:ident, $make:ident) => {
        impl From<$t> for Decimal {
            /// Exact.
            fn from(v: $t) -> Decimal {
                Decimal::new(v.$raw(), $decimals)
            }
        }

        impl TryFrom<Decimal> for $t {
            type Error = QuantityError;
            /// Exact: [`QuantityError::Inexact`] if `d` has non-zero digits beyond the
            /// quantity's decimals, [`QuantityError::Overflow`] if it is out of range.
            fn try_from(d: Decimal) -> Result<Self, QuantityError> {
                let raw = to_raw(d, $decimals, Rounding::Down)?;
                if Decimal::new(raw, $decimals) != d {
                    return Err(QuantityError::Inexact);
                }
                Ok($t::$make(raw))
            }
        }

        impl $t {
            /// `d` rounded to this quantity's decimals with `rounding`.
            ///
            /// # Errors
            /// [`QuantityError::Overflow`] if out of range.
            pub fn from_decimal(d: Decimal, rounding: Rounding) -> Result<Self, QuantityError> {
                Ok($t::$make(to_raw(d, $decimals, rounding)?))
            }
        }
    };
}

decimal_conversions!(Money, 4, raw, from_raw);
decimal_conversions!(Price, 4, raw, from_raw);
decimal_conversions!(Energy, 3, wh, from_wh);

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn round_trips_and_rounding() {
        for raw in [0i64, 1, -1, 123_456, i64::MAX, i64::MIN] {
            let m = Money::from_raw(raw);
            assert_eq!(Money::try_from(Decimal::from(m)).unwrap(), m);
            let e = Energy::from_wh(raw);
            assert_eq!(Energy::try_from(Decimal::from(e)).unwrap(), e);
        }
        let d: Decimal = "2.00005".parse().unwrap();
        assert_eq!(
            Money::from_decimal(d, Rounding::HalfUp).unwrap().raw(),
            20_001
        );
        assert_eq!(
            Money::from_decimal(d, Rounding::HalfEven).unwrap().raw(),
            20_000
        );
        assert_eq!(Money::from_decimal(d, Rounding::Up).unwrap().raw(), 20_001);
        assert_eq!(
            Money::from_decimal(d, Rounding::Down).unwrap().raw(),
            20_000
        );
        assert_eq!(Money::try_from(d), Err(QuantityError::Inexact));
        let big = Decimal::MAX;
        assert_eq!(Money::try_from(big), Err(QuantityError::Overflow));
        assert_eq!(Decimal::from(Energy::from_wh(1500)).to_string(), "1.500");
        assert_eq!(Price::try_from(Decimal::new(5283, 4)).unwrap().raw(), 5283);
    }
}
