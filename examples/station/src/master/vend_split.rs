//! How money paid for an STS token becomes the token's amount, exactly.
//!
//! The station vends **currency** tokens (IEC 62055-41 token class 0, subclass 4: currency
//! transfer for electricity): the token carries money, counted in the site's
//! `[sts] currency_unit` (default 0.01, the fen), and a local-fee-control meter, whose wallet
//! is money, tops up its wallet with exactly that. No price converts the token on either side,
//! so a token bought in valley hours and typed in peak hours (or the reverse) credits the
//! money paid, not more, not less.
//!
//! The 16-bit amount code cannot carry every value (steps of 1, 10, 100, 1000 units, see
//! [`amikit_sts::amount`]), and money finer than the unit cannot be carried at all. What the
//! token cannot carry is the customer's **vend remainder** (`customers.vend_remainder`): it is
//! added to the next vend. For every vend:
//!
//! `paid + remainder before = credit on the token + remainder after`,
//!
//! with `credit = code value × unit` and `0 ≤ remainder after < step × unit`.

use amikit_sts::amount::Amount;
use amikit_tariff::Money;

/// What one vend puts on the token and what it carries to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrencyVend {
    /// The token's amount code (a count of currency units).
    pub amount: Amount,
    /// The money the meter credits: `amount.value() × unit`.
    pub credit: Money,
    /// What the token could not carry, for the customer's next vend.
    pub remainder: Money,
}

/// Why no token can be vended for an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VendSplitError {
    /// The currency unit is not positive.
    #[error("the currency unit must be positive")]
    BadUnit,
    /// Paid and carried money together buy less than one currency unit.
    #[error("the amount is less than one currency unit of the token")]
    TooSmall,
    /// More than one token can carry.
    #[error("the amount is more than one token can carry")]
    TooLarge,
    /// The sum overflows money's range.
    #[error("the amount is out of range")]
    Overflow,
}

/// Splits `paid` plus the customer's `carried` remainder into a token amount (rounded down to
/// a representable code) and the new remainder; `unit` is the money one unit of the code is.
///
/// # Errors
/// [`VendSplitError`]; nothing is vended then and the remainder stays as it was.
pub fn split(paid: Money, carried: Money, unit: Money) -> Result<CurrencyVend, VendSplitError> {
    if !unit.is_positive() {
        return Err(VendSplitError::BadUnit);
    }
    let total = paid
        .raw()
        .checked_add(carried.raw())
        .ok_or(VendSplitError::Overflow)?;
    if total < 0 {
        return Err(VendSplitError::TooSmall);
    }
    let units = u64::try_from(total / unit.raw()).map_err(|_| VendSplitError::TooSmall)?;
    if units == 0 {
        return Err(VendSplitError::TooSmall);
    }
    let ceil = Amount::from_value_ceil(units).map_err(|_| VendSplitError::TooLarge)?;
    // Round down: the code below the least one at or above `units` (codes are monotone, the
    // raw code one lower is the next lower value, across exponents too).
    let amount = if u64::from(ceil.value()) <= units {
        ceil
    } else {
        Amount::from(u16::from(ceil).saturating_sub(1))
    };
    let credit_raw = i64::from(amount.value())
        .checked_mul(unit.raw())
        .ok_or(VendSplitError::Overflow)?;
    let credit = Money::from_raw(credit_raw);
    let remainder = Money::from_raw(total - credit_raw);
    Ok(CurrencyVend {
        amount,
        credit,
        remainder,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn small_amounts_are_exact_and_large_ones_carry_a_remainder() {
        let v = split(m("20.00"), Money::ZERO, m("0.01")).unwrap();
        assert_eq!(v.amount.value(), 2000);
        assert_eq!(v.credit, m("20.00"));
        assert_eq!(v.remainder, Money::ZERO);
        // 1234.56 = 123 456 fen: 16 384 + steps of 10 → 123 454 fen, 0.02 carried.
        let v = split(m("1234.56"), Money::ZERO, m("0.01")).unwrap();
        assert_eq!(v.credit, m("1234.54"));
        assert_eq!(v.remainder, m("0.02"));
        // The carried 0.02 and 0.04 more: 0.06 exactly.
        let v = split(m("0.04"), v.remainder, m("0.01")).unwrap();
        assert_eq!(v.credit, m("0.06"));
        assert_eq!(v.remainder, Money::ZERO);
        // Money finer than the unit is carried.
        let v = split(m("1.005"), Money::ZERO, m("0.01")).unwrap();
        assert_eq!(v.credit, m("1.00"));
        assert_eq!(v.remainder, m("0.005"));
        assert_eq!(
            split(m("0.004"), Money::ZERO, m("0.01")),
            Err(VendSplitError::TooSmall)
        );
        assert_eq!(
            split(m("1000000"), Money::ZERO, m("0.01")),
            Err(VendSplitError::TooLarge)
        );
        assert_eq!(
            split(m("1"), Money::ZERO, Money::ZERO),
            Err(VendSplitError::BadUnit)
        );
    }
}
