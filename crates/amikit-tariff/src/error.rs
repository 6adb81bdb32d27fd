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
    /// An exact conversion would lose digits beyond the quantity's decimals.
    #[error("value has more decimals than the quantity holds")]
    Inexact,
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

/// A date or time that does not exist, or text that is not one (`amikit-core`'s).
pub use amikit_core::CalendarError;

impl From<amikit_core::DecimalError> for QuantityError {
    fn from(e: amikit_core::DecimalError) -> Self {
        match e {
            amikit_core::DecimalError::DivisionByZero => QuantityError::DivisionByZero,
            amikit_core::DecimalError::Inexact => QuantityError::Inexact,
            _ => QuantityError::Overflow,
        }
    }
}

/// Which table of a tariff an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Table {
    /// Time-of-use rate prices.
    Rates,
    /// Periods of one day table.
    Periods,
    /// Day tables.
    DayTables,
    /// Seasons (year zones).
    Seasons,
    /// Special days (holidays).
    SpecialDays,
    /// Step boundaries.
    StepBoundaries,
    /// Step prices.
    StepPrices,
    /// Step settlement dates.
    SettlementDates,
    /// Percentage levies.
    Levies,
}

/// A tariff definition is inconsistent. Every constructor of a tariff table validates its
/// input and returns one of these; a constructed tariff is always consistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TariffError {
    /// Two periods of a day table cover the same minute (`minute` after midnight).
    #[error("day table {day_table}: periods overlap at minute {minute}")]
    OverlappingPeriods {
        /// Day table id (1-based).
        day_table: u8,
        /// First minute of the day covered twice.
        minute: u16,
    },
    /// No period of a day table covers this minute.
    #[error("day table {day_table}: no period covers minute {minute}")]
    MissingPeriod {
        /// Day table id (1-based).
        day_table: u8,
        /// First uncovered minute of the day.
        minute: u16,
    },
    /// Period start times of a day table are not strictly increasing.
    #[error("day table {day_table}: period {index} does not start after the one before")]
    UnsortedPeriods {
        /// Day table id (1-based).
        day_table: u8,
        /// Index of the offending period (0-based).
        index: u8,
    },
    /// A table is empty that needs at least one entry.
    #[error("{0:?}: at least one entry is needed")]
    Empty(Table),
    /// A table has more entries than its fixed capacity.
    #[error("{table:?}: more than {max} entries")]
    TooMany {
        /// The table.
        table: Table,
        /// Its capacity.
        max: u16,
    },
    /// A period refers to a rate that has no price.
    #[error("unknown rate {rate}")]
    UnknownRate {
        /// The rate number (1-based).
        rate: u8,
    },
    /// A season or special day refers to a day table that does not exist.
    #[error("unknown day table {day_table}")]
    UnknownDayTable {
        /// The day table id (1-based).
        day_table: u8,
    },
    /// An id appears twice (rate or day table ids in a definition).
    #[error("{table:?}: id {id} appears twice")]
    DuplicateId {
        /// The table.
        table: Table,
        /// The id.
        id: u8,
    },
    /// Step boundaries are not strictly increasing and positive.
    #[error("step boundary {index} is not above the one before")]
    UnsortedSteps {
        /// Index of the offending boundary (0-based).
        index: u8,
    },
    /// Step prices must number one more than step boundaries.
    #[error("{boundaries} step boundaries need {} prices, got {prices}", boundaries + 1)]
    StepPriceCount {
        /// Number of boundaries.
        boundaries: u8,
        /// Number of prices.
        prices: u8,
    },
    /// A price (rate, step, or standing charge) is negative.
    #[error("{0:?}: negative price")]
    NegativePrice(Table),
    /// A standing charge is negative.
    #[error("negative standing charge")]
    NegativeStandingCharge,
    /// A settlement date is not month 1–12, day 1–28, hour 0–23 (day ≤ 28 so that every
    /// month has it, as in State Grid meters).
    #[error("bad settlement date: month {month}, day {day}, hour {hour}")]
    BadSettlementDate {
        /// Month (0 for monthly settlement).
        month: u8,
        /// Day.
        day: u8,
        /// Hour.
        hour: u8,
    },
    /// Season start dates are not strictly increasing.
    #[error("season {index} does not start after the one before")]
    UnsortedSeasons {
        /// Index of the offending season (0-based).
        index: u8,
    },
    /// The same special day is listed twice.
    #[error("special day {index} repeats an earlier date")]
    DuplicateSpecialDay {
        /// Index of the repeated entry (0-based).
        index: u8,
    },
    /// A CT or PT ratio of zero.
    #[error("CT and PT ratios must be at least 1")]
    BadMultiplier,
    /// A levy rate outside 0–1000 %.
    #[error("levy {index}: rate must be 0-1000 %")]
    BadLevy {
        /// Index of the levy (0-based).
        index: u8,
    },
    /// Neither a flat price nor a time-of-use table, or both.
    #[error("a tariff needs exactly one of a flat price and a time-of-use table")]
    PricingChoice,
    /// A passive tariff inside a passive tariff.
    #[error("a passive tariff cannot have its own passive tariff")]
    NestedPassive,
    /// A number in the definition is out of range.
    #[error("value out of range: {0}")]
    Quantity(#[from] QuantityError),
    /// A date or time in the definition is invalid.
    #[error("{0}")]
    Calendar(#[from] CalendarError),
}

/// Charging consumption failed; the charge state is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChargeError {
    /// An energy delta below zero (`wh`): consumption never decreases.
    #[error("negative energy delta: {wh} Wh")]
    NegativeEnergy {
        /// The delta in Wh.
        wh: i64,
    },
    /// The current register reading is below the previous one and is not a rollover.
    #[error(
        "register went backwards from {previous_wh} Wh to {current_wh} Wh (not a rollover): check the meter or declare a meter change"
    )]
    NegativeDelta {
        /// Previous reading, Wh.
        previous_wh: i64,
        /// Current reading, Wh.
        current_wh: i64,
    },
    /// A reading is outside the register's range (negative, or at/above its rollover).
    #[error("reading {wh} Wh is outside the register range")]
    ReadingOutOfRange {
        /// The reading in Wh.
        wh: i64,
    },
    /// A charge earlier than the last one charged on this state.
    #[error("charge time is before the last charge on this state")]
    OutOfOrder,
    /// An interval ends before it starts.
    #[error("interval ends before it starts")]
    BadInterval,
    /// An interval spans a change of price (a time-of-use boundary with a different rate, a
    /// step settlement, or a tariff activation): the split of its energy is unknown. Use
    /// shorter intervals or per-rate registers ([`crate::Tariff::charge_rated`]).
    #[error("interval crosses a price change at {0}")]
    CrossesPriceChange(crate::calendar::DateTime),
    /// The rate given to a per-rate charge has no price in this tariff.
    #[error("rate {0} has no price in this tariff")]
    UnknownRate(u8),
    /// Arithmetic overflow.
    #[error("{0}")]
    Quantity(#[from] QuantityError),
}

/// A vending quote could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuoteError {
    /// A time-of-use tariff needs the time of the quote to know the rate.
    #[error("a time-of-use tariff needs the time of the quote")]
    NeedsTime,
    /// Negative money or energy.
    #[error("the amount to quote must not be negative")]
    Negative,
    /// The price from the period-to-date usage on is zero (any money buys unlimited energy), or
    /// so small that the energy would exceed 2.3e15 kWh.
    #[error("the price is zero: energy for money is unbounded")]
    ZeroPrice,
    /// Arithmetic overflow.
    #[error("{0}")]
    Quantity(#[from] QuantityError),
}

/// A balance operation was refused; the balance is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BalanceError {
    /// Top-ups, refunds, charges and debts must be positive (zero for charges is allowed).
    #[error("amount must be positive")]
    NonPositive,
    /// A refund larger than the credit.
    #[error("refund exceeds the available credit")]
    InsufficientCredit,
    /// The order number was already applied with a different amount or operation.
    #[error("order {0} was already applied with different content")]
    OrderConflict(u64),
    /// A debt-recovery percentage outside 0–100 %.
    #[error("debt recovery percentage must be 0-100 %")]
    BadRecovery,
    /// Arithmetic overflow.
    #[error("{0}")]
    Quantity(#[from] QuantityError),
}
