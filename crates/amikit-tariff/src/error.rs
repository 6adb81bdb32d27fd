//! Error types, one small `Copy` enum per layer.
//!
//! * [`QuantityError`]: arithmetic on [`Money`](crate::Money), [`Energy`](crate::Energy),
//!   [`Price`](crate::Price) left the representable range or divided by zero.
//! * [`ParseError`]: a decimal string could not be read as a quantity.

/// Arithmetic on a quantity failed. Never a wrap, never a panic: the operation returns this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuantityError {
    /// The exact result does not fit the 64-bit representation of the quantity.
    #[error("arithmetic overflow")]
    Overflow,
    /// A division by zero (for example energy purchasable at a price of zero).
    #[error("division by zero")]
    DivisionByZero,
}

/// A decimal string could not be read as a quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The string holds no digits.
    #[error("empty number")]
    Empty,
    /// A character that is not a digit, a leading sign or one decimal point, at this byte offset.
    #[error("invalid character at byte {0}")]
    InvalidCharacter(usize),
    /// More fractional digits than the quantity holds, and the extra ones are not all zero.
    /// Use a parse function that names a [`Rounding`](crate::Rounding) to accept them.
    #[error("{got} fractional digits, at most {max} are exact")]
    TooPrecise {
        /// Fractional digits the quantity holds exactly.
        max: u32,
        /// Fractional digits in the string.
        got: u32,
    },
    /// The value does not fit the quantity's 64-bit representation.
    #[error("number out of range")]
    Overflow,
}
