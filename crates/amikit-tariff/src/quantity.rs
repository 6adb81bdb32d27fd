//! Money, energy and price as checked integer fixed-point numbers, and the rounding rules that
//! name every place where precision is lost.
//!
//! | type | representation | unit of the integer | text form |
//! |---|---|---|---|
//! | [`Money`] | `i64` | 1e-4 currency unit (0.0001 yuan, shilling, pound) | `"12.3456"` |
//! | [`Energy`] | `i64` | 1 Wh (0.001 kWh) | `"12.345"` (kWh) |
//! | [`Price`] | `i64` | 1e-4 currency unit per kWh (`XXXX.XXXX` 元/kWh as in State Grid meters) | `"0.5283"` |
//! | [`Remainder`] | `i64` in `0..1e9` | 1e-9 of one money quantum (1e-13 currency unit) | — |
//! | [`ExactMoney`] | `i128` | 1e-9 of one money quantum | — |
//!
//! Energy times price is exact in [`ExactMoney`]: one Wh at one price quantum is
//! 1e-3 kWh × 1e-4 currency/kWh = 1e-7 currency = 1e-3 money quantum = 10⁶ units of
//! [`ExactMoney`]; a levy rate in parts per million adds six more decimals, which is why the
//! sub-quantum unit is 1e-9 of a money quantum. Converting an exact amount to [`Money`] either
//! names a [`Rounding`] ([`ExactMoney::round`]) or carries the fraction into a [`Remainder`]
//! ([`Remainder::carry`]), so that charging a million small deltas gives exactly the money of
//! charging their sum.
//!
//! Every operation is checked: an overflow is [`QuantityError::Overflow`], never a wrap or a
//! panic.

use core::fmt;
use core::str::FromStr;

use crate::error::{ParseError, QuantityError};

/// How to drop digits when a result has more precision than its type (`amikit-core`'s; the
/// directions are relative to zero, as `rust_decimal::RoundingStrategy`'s).
pub use amikit_core::Rounding;

const MONEY_SCALE: i64 = 10_000;
const ENERGY_SCALE: i64 = 1_000;
const PRICE_SCALE: i64 = 10_000;
/// ExactMoney units in one Money quantum.
const NANO: i64 = 1_000_000_000;
/// ExactMoney units in one Wh at one price quantum (1e-7 currency).
const WH_PRICE_TO_EXACT: i128 = 1_000_000;

fn to_i64(v: i128) -> Result<i64, QuantityError> {
    i64::try_from(v).map_err(|_| QuantityError::Overflow)
}

macro_rules! fixed_common {
    ($t:ident, $scale:expr, $decimals:expr, $unit:literal, $from_raw:ident, $raw:ident) => {
        impl $t {
            /// Zero.
            pub const ZERO: Self = Self(0);
            /// The largest representable value.
            pub const MAX: Self = Self(i64::MAX);
            /// The smallest representable value.
            pub const MIN: Self = Self(i64::MIN);
            /// Number of integer units in one whole
            #[doc = $unit]
            pub const SCALE: i64 = $scale;
            /// Number of decimal places held exactly.
            pub const DECIMALS: u32 = $decimals;

            /// The value whose integer representation is `raw` (see the module table for the
            /// unit: `Energy::from_wh`, `Money::from_raw`, `Price::from_raw`).
            #[must_use]
            pub const fn $from_raw(raw: i64) -> Self {
                Self(raw)
            }

            /// The integer representation (see the module table for the unit: `Energy::wh`,
            /// `Money::raw`, `Price::raw`).
            #[must_use]
            pub const fn $raw(self) -> i64 {
                self.0
            }

            /// `self + rhs`.
            ///
            /// # Errors
            /// [`QuantityError::Overflow`].
            pub const fn checked_add(self, rhs: Self) -> Result<Self, QuantityError> {
                match self.0.checked_add(rhs.0) {
                    Some(v) => Ok(Self(v)),
                    None => Err(QuantityError::Overflow),
                }
            }

            /// `self - rhs`.
            ///
            /// # Errors
            /// [`QuantityError::Overflow`].
            pub const fn checked_sub(self, rhs: Self) -> Result<Self, QuantityError> {
                match self.0.checked_sub(rhs.0) {
                    Some(v) => Ok(Self(v)),
                    None => Err(QuantityError::Overflow),
                }
            }

            /// `-self`.
            ///
            /// # Errors
            /// [`QuantityError::Overflow`] for [`Self::MIN`].
            pub const fn checked_neg(self) -> Result<Self, QuantityError> {
                match self.0.checked_neg() {
                    Some(v) => Ok(Self(v)),
                    None => Err(QuantityError::Overflow),
                }
            }

            /// `|self|`.
            ///
            /// # Errors
            /// [`QuantityError::Overflow`] for [`Self::MIN`].
            pub const fn checked_abs(self) -> Result<Self, QuantityError> {
                match self.0.checked_abs() {
                    Some(v) => Ok(Self(v)),
                    None => Err(QuantityError::Overflow),
                }
            }

            /// `self × factor` for an integer factor (exact).
            ///
            /// # Errors
            /// [`QuantityError::Overflow`].
            pub const fn checked_mul(self, factor: i64) -> Result<Self, QuantityError> {
                match self.0.checked_mul(factor) {
                    Some(v) => Ok(Self(v)),
                    None => Err(QuantityError::Overflow),
                }
            }

            /// `self × num / den`, rounded with `rounding` (the product is exact in 128 bits).
            /// Useful for percentages: `x.mul_ratio(16, 100, Rounding::HalfUp)`.
            ///
            /// # Errors
            /// [`QuantityError::DivisionByZero`] if `den` is zero, [`QuantityError::Overflow`]
            /// if the result does not fit.
            pub fn mul_ratio(
                self,
                num: i64,
                den: i64,
                rounding: Rounding,
            ) -> Result<Self, QuantityError> {
                let p = i128::from(self.0)
                    .checked_mul(i128::from(num))
                    .ok_or(QuantityError::Overflow)?;
                Ok(Self(to_i64(rounding.divide(p, i128::from(den))?)?))
            }

            /// Rounds to `decimals` decimal places (fewer than [`Self::DECIMALS`]) with
            /// `rounding`; e.g. money to whole cents with `round_to(2, …)`. `decimals` at or
            /// above [`Self::DECIMALS`] returns `self` unchanged.
            ///
            /// # Errors
            /// [`QuantityError::Overflow`] if the rounded value does not fit.
            pub fn round_to(
                self,
                decimals: u32,
                rounding: Rounding,
            ) -> Result<Self, QuantityError> {
                if decimals >= Self::DECIMALS {
                    return Ok(self);
                }
                let step = pow10(Self::DECIMALS - decimals);
                let q = rounding.divide(i128::from(self.0), i128::from(step))?;
                let v = q
                    .checked_mul(i128::from(step))
                    .ok_or(QuantityError::Overflow)?;
                Ok(Self(to_i64(v)?))
            }

            /// Whole units
            #[doc = $unit]
            /// (e.g. `from_units(12)` is 12.000…).
            ///
            /// # Errors
            /// [`QuantityError::Overflow`].
            pub const fn from_units(units: i64) -> Result<Self, QuantityError> {
                match units.checked_mul($scale) {
                    Some(v) => Ok(Self(v)),
                    None => Err(QuantityError::Overflow),
                }
            }

            /// True if the value is below zero.
            #[must_use]
            pub const fn is_negative(self) -> bool {
                self.0 < 0
            }

            /// True if the value is above zero.
            #[must_use]
            pub const fn is_positive(self) -> bool {
                self.0 > 0
            }

            /// True if the value is zero.
            #[must_use]
            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }

            /// Reads a decimal string exactly (`"-12.5"`, `"0.0001"`, `"+3"`); digits beyond
            /// [`Self::DECIMALS`] are accepted only if they are zeros.
            ///
            /// # Errors
            /// [`ParseError`].
            pub fn parse(s: &str) -> Result<Self, ParseError> {
                parse_fixed(s, $decimals, None).map(Self)
            }

            /// Reads a decimal string, rounding digits beyond [`Self::DECIMALS`] with
            /// `rounding`.
            ///
            /// # Errors
            /// [`ParseError`] (never [`ParseError::TooPrecise`]).
            pub fn parse_rounded(s: &str, rounding: Rounding) -> Result<Self, ParseError> {
                parse_fixed(s, $decimals, Some(rounding)).map(Self)
            }
        }

        impl fmt::Display for $t {
            /// Writes the exact decimal value with all
            #[doc = stringify!($decimals)]
            /// decimals, e.g. `-12.3400`.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_fixed(f, self.0, $decimals)
            }
        }

        impl FromStr for $t {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                Self::parse(s)
            }
        }
    };
}

/// An amount of money in 1e-4 currency units (the `i64` representation of State Grid meters:
/// 剩余金额 in 0.0001 yuan). Signed: negative amounts are debts, refunds and overdrafts.
///
/// ```
/// use amikit_tariff::{Money, Rounding};
/// let a = Money::parse("12.50")?;
/// let b = a.checked_add(Money::from_raw(1))?; // + 0.0001
/// assert_eq!(b.to_string(), "12.5001");
/// // 16 % VAT on 12.5001, half-up to the quantum: 2.000016 -> 2.0000
/// assert_eq!(b.mul_ratio(16, 100, Rounding::HalfUp)?.to_string(), "2.0000");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

fixed_common!(Money, MONEY_SCALE, 4, "currency unit.", from_raw, raw);

impl From<Money> for ExactMoney {
    /// The exact value of an amount, for sums with sub-quantum parts.
    fn from(m: Money) -> ExactMoney {
        // i64 * 1e9 always fits in i128.
        ExactMoney(i128::from(m.0) * i128::from(NANO))
    }
}

/// An amount of energy in watt-hours (0.001 kWh). Signed so that registers, deltas and energy
/// wallets share one type; consumption is checked to be non-negative where it is charged.
///
/// ```
/// use amikit_tariff::Energy;
/// let e = Energy::parse("2160.5")?; // kWh
/// assert_eq!(e.wh(), 2_160_500);
/// assert_eq!(e.to_string(), "2160.500");
/// # Ok::<(), amikit_tariff::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Energy(i64);

fixed_common!(Energy, ENERGY_SCALE, 3, "kWh.", from_wh, wh);

/// A unit price in 1e-4 currency units per kWh (`XXXX.XXXX` 元/kWh, the format of DL/T 645 rate
/// and step prices).
///
/// ```
/// use amikit_tariff::{Energy, Money, Price, Remainder, Rounding};
/// let p = Price::parse("0.5283")?;
/// // 1.234 kWh × 0.5283 /kWh = 0.6519222 exactly
/// let cost = p.cost(Energy::from_wh(1234))?;
/// assert_eq!(cost.round(Rounding::HalfUp)?, Money::parse("0.6519")?);
/// // carried: the 0.0000222 is kept for the next charge instead of being dropped
/// let mut carry = Remainder::ZERO;
/// assert_eq!(carry.carry(p.exact_cost(Energy::from_wh(1234))?)?, Money::parse("0.6519")?);
/// assert_eq!(i64::from(carry), 222_000_000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price(i64);

fixed_common!(
    Price,
    PRICE_SCALE,
    4,
    "currency unit per kWh.",
    from_raw,
    raw
);

impl Price {
    /// The exact money for `energy` at this price (no rounding): round it with
    /// [`ExactMoney::round`], or carry its sub-quantum part into the next charge with
    /// [`Remainder::carry`].
    ///
    /// # Errors
    /// [`QuantityError::Overflow`] (only for products beyond ±1.7e29 money quanta).
    pub fn exact_cost(self, energy: Energy) -> Result<ExactMoney, QuantityError> {
        let p = i128::from(self.0)
            .checked_mul(i128::from(energy.0))
            .and_then(|p| p.checked_mul(WH_PRICE_TO_EXACT))
            .ok_or(QuantityError::Overflow)?;
        Ok(ExactMoney(p))
    }

    /// The money for `energy` at this price split into whole quanta and the sub-quantum
    /// remainder (floor division: the remainder is never negative).
    ///
    /// # Errors
    /// [`QuantityError::Overflow`].
    pub fn cost(self, energy: Energy) -> Result<Cost, QuantityError> {
        self.exact_cost(energy)?.split()
    }

    /// The energy that `money` buys at this price, rounded to the Wh with `rounding`
    /// (vending uses [`Rounding::Down`] so that the energy never costs more than the money).
    ///
    /// # Errors
    /// [`QuantityError::DivisionByZero`] for a zero price, [`QuantityError::Overflow`].
    pub fn energy_for(self, money: Money, rounding: Rounding) -> Result<Energy, QuantityError> {
        // money_raw [1e-4 cur] / price_raw [1e-4 cur/kWh] = kWh; × 1000 = Wh.
        let num = i128::from(money.0)
            .checked_mul(i128::from(ENERGY_SCALE))
            .ok_or(QuantityError::Overflow)?;
        Ok(Energy(to_i64(rounding.divide(num, i128::from(self.0))?)?))
    }
}

/// An exact amount of money in 1e-9 of a money quantum (1e-13 currency unit), wide enough for
/// energy × price × CT/PT multiplier × levy rate without rounding. Convert to [`Money`] with a
/// named [`Rounding`] ([`Self::round`]) or by carrying the fraction ([`Remainder::carry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ExactMoney(i128);

impl From<i128> for ExactMoney {
    /// The amount whose representation is `nanos` (1e-9 money quantum each).
    fn from(nanos: i128) -> ExactMoney {
        ExactMoney(nanos)
    }
}

impl From<ExactMoney> for i128 {
    /// The representation in 1e-9 money quantum.
    fn from(m: ExactMoney) -> i128 {
        m.0
    }
}

impl ExactMoney {
    /// Zero.
    pub const ZERO: Self = Self(0);
    /// Units of this type in one money quantum (1e-4 currency).
    pub const PER_QUANTUM: i64 = NANO;

    /// `self + rhs`.
    ///
    /// # Errors
    /// [`QuantityError::Overflow`].
    pub fn checked_add(self, rhs: Self) -> Result<Self, QuantityError> {
        self.0
            .checked_add(rhs.0)
            .map(Self)
            .ok_or(QuantityError::Overflow)
    }

    /// `self - rhs`.
    ///
    /// # Errors
    /// [`QuantityError::Overflow`].
    pub fn checked_sub(self, rhs: Self) -> Result<Self, QuantityError> {
        self.0
            .checked_sub(rhs.0)
            .map(Self)
            .ok_or(QuantityError::Overflow)
    }

    /// `self × factor` (exact), e.g. a CT × PT multiplier.
    ///
    /// # Errors
    /// [`QuantityError::Overflow`].
    pub fn checked_mul(self, factor: i64) -> Result<Self, QuantityError> {
        self.0
            .checked_mul(i128::from(factor))
            .map(Self)
            .ok_or(QuantityError::Overflow)
    }

    /// `self × ppm / 1 000 000` for a rate in parts per million, rounded with `rounding` to
    /// the 1e-9 money quantum. Exact (no rounding happens) when `self` is a whole number of
    /// 1e-3 money quanta, which is the case for every energy × price product.
    ///
    /// # Errors
    /// [`QuantityError::Overflow`].
    pub fn mul_ppm(self, ppm: i64, rounding: Rounding) -> Result<Self, QuantityError> {
        let p = self
            .0
            .checked_mul(i128::from(ppm))
            .ok_or(QuantityError::Overflow)?;
        Ok(Self(rounding.divide(p, 1_000_000)?))
    }

    /// Splits into whole money quanta (floor) and a non-negative sub-quantum remainder.
    ///
    /// # Errors
    /// [`QuantityError::Overflow`] if the whole part does not fit [`Money`].
    pub fn split(self) -> Result<Cost, QuantityError> {
        let den = i128::from(NANO);
        let q = self.0.div_euclid(den);
        let r = self.0.rem_euclid(den);
        Ok(Cost {
            money: Money(to_i64(q)?),
            remainder: Remainder(to_i64(r)?),
        })
    }

    /// Rounds to the money quantum with `rounding`.
    ///
    /// # Errors
    /// [`QuantityError::Overflow`].
    pub fn round(self, rounding: Rounding) -> Result<Money, QuantityError> {
        Ok(Money(to_i64(rounding.divide(self.0, i128::from(NANO))?)?))
    }
}

/// The sub-quantum part of a money amount that has not been charged yet, in 1e-9 of a money
/// quantum, always in `0..1_000_000_000`: the carry register of per-quantum charging
/// (Blue Book charge collection "carries the un-billed fractional remainder into the next
/// period"; State Grid meters keep 4 tail digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "i64", into = "i64")
)]
pub struct Remainder(i64);

impl TryFrom<i64> for Remainder {
    type Error = QuantityError;
    /// A remainder of `nanos` (1e-9 money quantum each): [`QuantityError::Overflow`] unless
    /// `0 <= nanos < Remainder::PER_QUANTUM`.
    fn try_from(nanos: i64) -> Result<Self, QuantityError> {
        if (0..NANO).contains(&nanos) {
            Ok(Self(nanos))
        } else {
            Err(QuantityError::Overflow)
        }
    }
}

impl From<Remainder> for i64 {
    /// The remainder in 1e-9 money quantum.
    fn from(r: Remainder) -> i64 {
        r.0
    }
}

impl Remainder {
    /// No carried fraction.
    pub const ZERO: Self = Self(0);
    /// Units of this type in one money quantum: the remainder is always below this.
    pub const PER_QUANTUM: i64 = NANO;

    /// True if nothing is carried.
    #[must_use]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Adds `amount` to the carried fraction, returns the whole quanta (floor) and keeps the
    /// new fraction. `self` is unchanged on error.
    ///
    /// # Errors
    /// [`QuantityError::Overflow`] if the whole part does not fit [`Money`].
    #[inline]
    pub fn carry(&mut self, amount: ExactMoney) -> Result<Money, QuantityError> {
        // Fast path: everything fits in i64 (amounts below ~9.2e9 money quanta).
        if let Some(t) = i64::try_from(amount.0)
            .ok()
            .and_then(|a| a.checked_add(self.0))
        {
            let q = t.div_euclid(NANO);
            self.0 = t.rem_euclid(NANO);
            return Ok(Money(q));
        }
        let total = amount.checked_add(ExactMoney(i128::from(self.0)))?;
        let Cost { money, remainder } = total.split()?;
        *self = remainder;
        Ok(money)
    }

    /// Ends the carry (e.g. at account closure or bill close): the fraction rounded to zero or
    /// one quantum with `rounding`.
    #[must_use]
    pub fn settle(self, rounding: Rounding) -> Money {
        // 0 <= self.0 < NANO, so the quotient is 0 or 1 and cannot fail.
        Money(
            match rounding.divide(i128::from(self.0), i128::from(NANO)) {
                Ok(q) => i64::from(q != 0),
                Err(_) => 0,
            },
        )
    }
}

/// A money amount split into whole quanta and a carried sub-quantum remainder:
/// the exact value is `money + remainder / 1e9` quanta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Cost {
    /// Whole money quanta (floor of the exact value).
    pub money: Money,
    /// The fraction below one quantum (never negative).
    pub remainder: Remainder,
}

impl From<Cost> for ExactMoney {
    /// The exact value of a split amount.
    fn from(c: Cost) -> ExactMoney {
        ExactMoney(i128::from(c.money.0) * i128::from(NANO) + i128::from(c.remainder.0))
    }
}

impl Cost {
    /// Rounds the exact value to the money quantum with `rounding`.
    ///
    /// # Errors
    /// [`QuantityError::Overflow`].
    pub fn round(self, rounding: Rounding) -> Result<Money, QuantityError> {
        ExactMoney::from(self).round(rounding)
    }
}

const fn pow10(n: u32) -> i64 {
    let mut v: i64 = 1;
    let mut i = 0;
    while i < n {
        v = v.saturating_mul(10);
        i += 1;
    }
    v
}

/// Parses a decimal string into an integer with `decimals` implied decimal places.
fn parse_fixed(s: &str, decimals: u32, rounding: Option<Rounding>) -> Result<i64, ParseError> {
    let bytes = s.as_bytes();
    let (negative, digits_start) = match bytes.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        Some(_) => (false, 0),
        None => return Err(ParseError::Empty),
    };
    // Accumulate every digit into an i128 (at most 36 significant digits), counting
    // fractional digits.
    let mut acc: i128 = 0;
    let mut frac_digits: u32 = 0;
    let mut seen_point = false;
    let mut seen_digit = false;
    for (i, &b) in bytes.iter().enumerate().skip(digits_start) {
        match b {
            b'0'..=b'9' => {
                seen_digit = true;
                acc = acc
                    .checked_mul(10)
                    .and_then(|a| a.checked_add(i128::from(b - b'0')))
                    .ok_or(ParseError::Overflow)?;
                if acc > 10i128.pow(36) {
                    return Err(ParseError::Overflow);
                }
                if seen_point {
                    frac_digits = frac_digits.saturating_add(1);
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => return Err(ParseError::InvalidCharacter(i)),
        }
    }
    if !seen_digit {
        return Err(ParseError::Empty);
    }
    if negative {
        acc = -acc;
    }
    let value = if frac_digits <= decimals {
        acc.checked_mul(10i128.pow(decimals - frac_digits))
            .ok_or(ParseError::Overflow)?
    } else {
        let extra = frac_digits - decimals;
        if extra > 36 {
            return Err(ParseError::Overflow);
        }
        let den = 10i128.pow(extra);
        match rounding {
            None => {
                if acc % den != 0 {
                    return Err(ParseError::TooPrecise {
                        max: decimals,
                        got: frac_digits,
                    });
                }
                acc / den
            }
            Some(r) => r.divide(acc, den).map_err(|_| ParseError::Overflow)?,
        }
    };
    i64::try_from(value).map_err(|_| ParseError::Overflow)
}

/// Writes `raw` with `decimals` implied decimal places.
fn write_fixed<W: fmt::Write>(w: &mut W, raw: i64, decimals: u32) -> fmt::Result {
    let scale = pow10(decimals).unsigned_abs();
    let abs = raw.unsigned_abs();
    if raw < 0 {
        w.write_char('-')?;
    }
    write!(
        w,
        "{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = decimals as usize
    )
}

#[cfg(feature = "serde")]
mod serde_impls {
    //! Quantities serialize as exact decimal strings (`"12.3456"`) and deserialize from
    //! decimal strings or integers (whole units). Floating-point numbers are rejected: they
    //! cannot hold money exactly.
    use super::{Energy, Money, Price, write_fixed};
    use core::fmt;

    /// A fixed buffer for formatting without a heap.
    struct Buf {
        bytes: [u8; 32],
        len: usize,
    }

    impl fmt::Write for Buf {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
            let dst = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
            dst.copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }

    macro_rules! serde_fixed {
        ($t:ident, $what:literal) => {
            impl serde::Serialize for $t {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    let mut buf = Buf {
                        bytes: [0; 32],
                        len: 0,
                    };
                    write_fixed(&mut buf, self.0, Self::DECIMALS)
                        .map_err(|_| serde::ser::Error::custom("format"))?;
                    let text = buf
                        .bytes
                        .get(..buf.len)
                        .and_then(|b| core::str::from_utf8(b).ok())
                        .ok_or_else(|| serde::ser::Error::custom("format"))?;
                    s.serialize_str(text)
                }
            }

            impl<'de> serde::Deserialize<'de> for $t {
                fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    struct V;
                    impl serde::de::Visitor<'_> for V {
                        type Value = $t;
                        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                            f.write_str(concat!(
                                $what,
                                " as a decimal string such as \"12.34\" or an integer"
                            ))
                        }
                        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$t, E> {
                            $t::parse(v).map_err(E::custom)
                        }
                        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$t, E> {
                            $t::from_units(v).map_err(E::custom)
                        }
                        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$t, E> {
                            let v = i64::try_from(v).map_err(E::custom)?;
                            $t::from_units(v).map_err(E::custom)
                        }
                        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<$t, E> {
                            let _ = v;
                            Err(E::custom(concat!(
                                $what,
                                ": floating-point numbers are not exact; write it as a string, e.g. \"0.5283\""
                            )))
                        }
                    }
                    d.deserialize_any(V)
                }
            }
        };
    }

    serde_fixed!(Money, "money");
    serde_fixed!(Energy, "energy in kWh");
    serde_fixed!(Price, "price per kWh");
}

// ---- amikit-core `Decimal` ------------------------------------------------------------------

macro_rules! core_decimal_conversions {
    ($t:ident, $from_raw:ident, $raw:ident) => {
        impl From<$t> for amikit_core::Decimal {
            /// Exact: the raw integer with the quantity's decimals as the scale.
            fn from(v: $t) -> amikit_core::Decimal {
                // DECIMALS is 3 or 4.
                amikit_core::Decimal::new(v.$raw(), $t::DECIMALS as u8)
            }
        }

        impl TryFrom<amikit_core::Decimal> for $t {
            type Error = QuantityError;
            /// Exact: [`QuantityError::Inexact`] if `d` has non-zero digits beyond the
            /// quantity's decimals, [`QuantityError::Overflow`] if it is out of range.
            fn try_from(d: amikit_core::Decimal) -> Result<Self, QuantityError> {
                let r = d.rescale_exact($t::DECIMALS as u8)?;
                Ok($t::$from_raw(r.mantissa))
            }
        }

        impl $t {
            /// `d` rounded to this quantity's decimals with `rounding` (a meter's
            /// `XXXXXX.XX` reading, a price with more decimals than the tariff keeps).
            ///
            /// # Errors
            /// [`QuantityError::Overflow`] if out of range.
            pub fn from_decimal_rounded(
                d: amikit_core::Decimal,
                rounding: Rounding,
            ) -> Result<Self, QuantityError> {
                let r = d.rescale($t::DECIMALS as u8, rounding)?;
                Ok($t::$from_raw(r.mantissa))
            }
        }
    };
}

core_decimal_conversions!(Money, from_raw, raw);
core_decimal_conversions!(Energy, from_wh, wh);
core_decimal_conversions!(Price, from_raw, raw);

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn rounding_table_from_the_doc() {
        // (num, den) = 2.5, 2.4, -2.5, -2.6, 3.5 (ties to even go up for odd 3)
        let cases: [(i128, [i128; 4]); 5] = [
            (25, [3, 2, 3, 2]),
            (24, [2, 2, 3, 2]),
            (-25, [-3, -2, -3, -2]),
            (-26, [-3, -3, -3, -2]),
            (35, [4, 4, 4, 3]),
        ];
        for (num, want) in cases {
            let got = [
                Rounding::HalfUp.divide(num, 10).unwrap(),
                Rounding::HalfEven.divide(num, 10).unwrap(),
                Rounding::Up.divide(num, 10).unwrap(),
                Rounding::Down.divide(num, 10).unwrap(),
            ];
            assert_eq!(got, want, "{num}/10");
        }
        // negative denominator: 25 / -10 = -2.5
        assert_eq!(Rounding::HalfUp.divide(25, -10).unwrap(), -3);
        assert_eq!(Rounding::Down.divide(25, -10).unwrap(), -2);
        assert_eq!(Rounding::Up.divide(0, 7).unwrap(), 0);
        assert_eq!(
            Rounding::Down.divide(1, 0).map_err(QuantityError::from),
            Err(QuantityError::DivisionByZero)
        );
        assert_eq!(
            Rounding::Down
                .divide(i128::MIN, -1)
                .map_err(QuantityError::from),
            Err(QuantityError::Overflow)
        );
    }

    #[test]
    fn parse_and_display() {
        assert_eq!(Money::parse("12.5").unwrap().raw(), 125_000);
        assert_eq!(Money::parse("-0.0001").unwrap().raw(), -1);
        assert_eq!(Money::parse("+3").unwrap().raw(), 30_000);
        assert_eq!(Money::parse(".5").unwrap().raw(), 5_000);
        assert_eq!(Money::parse("5.").unwrap().raw(), 50_000);
        assert_eq!(Money::parse("1.230000").unwrap().raw(), 12_300);
        assert_eq!(
            Money::parse("1.23456"),
            Err(ParseError::TooPrecise { max: 4, got: 5 })
        );
        assert_eq!(
            Money::parse_rounded("1.23455", Rounding::HalfEven)
                .unwrap()
                .raw(),
            12_346
        );
        assert_eq!(
            Money::parse_rounded("1.23445", Rounding::HalfEven)
                .unwrap()
                .raw(),
            12_344
        );
        assert_eq!(
            Money::parse_rounded("-1.23441", Rounding::Up)
                .unwrap()
                .raw(),
            -12_345
        );
        assert_eq!(Money::parse(""), Err(ParseError::Empty));
        assert_eq!(Money::parse("-"), Err(ParseError::Empty));
        assert_eq!(Money::parse("."), Err(ParseError::Empty));
        assert_eq!(Money::parse("1.2.3"), Err(ParseError::InvalidCharacter(3)));
        assert_eq!(Money::parse("1e3"), Err(ParseError::InvalidCharacter(1)));
        assert_eq!(Money::parse(" 1"), Err(ParseError::InvalidCharacter(0)));
        assert_eq!(Money::parse("922337203685477.5807").unwrap(), Money::MAX);
        assert_eq!(Money::parse("-922337203685477.5808").unwrap(), Money::MIN);
        assert_eq!(
            Money::parse("922337203685477.5808"),
            Err(ParseError::Overflow)
        );
        assert_eq!(
            Money::parse("99999999999999999999999999999999999999999"),
            Err(ParseError::Overflow)
        );

        assert_eq!(Money::from_raw(-1).to_string(), "-0.0001");
        assert_eq!(Money::MIN.to_string(), "-922337203685477.5808");
        assert_eq!(Energy::from_wh(2_160_000).to_string(), "2160.000");
        assert_eq!(Price::from_raw(5283).to_string(), "0.5283");
        assert_eq!(Energy::parse("0.001").unwrap().wh(), 1);
        assert_eq!("0.5283".parse::<Price>().unwrap().raw(), 5283);
    }

    #[test]
    fn checked_ops_report_overflow() {
        assert_eq!(
            Money::MAX.checked_add(Money::from_raw(1)),
            Err(QuantityError::Overflow)
        );
        assert_eq!(
            Money::MIN.checked_sub(Money::from_raw(1)),
            Err(QuantityError::Overflow)
        );
        assert_eq!(Money::MIN.checked_neg(), Err(QuantityError::Overflow));
        assert_eq!(Money::MIN.checked_abs(), Err(QuantityError::Overflow));
        assert_eq!(Energy::MAX.checked_mul(2), Err(QuantityError::Overflow));
        assert_eq!(Money::from_units(i64::MAX), Err(QuantityError::Overflow));
        assert_eq!(
            Money::from_raw(1).mul_ratio(1, 0, Rounding::Down),
            Err(QuantityError::DivisionByZero)
        );
        // i64::MAX * i64::MAX * 1e6 does not fit i128
        assert_eq!(
            Price::MAX.exact_cost(Energy::MAX),
            Err(QuantityError::Overflow)
        );
        assert_eq!(
            Price::MAX.cost(Energy::from_wh(i64::MAX / 2)),
            Err(QuantityError::Overflow)
        );
    }

    #[test]
    fn round_to_cents() {
        // 12.3450 to cents: half-up 12.35, half-even 12.34, up 12.35, down 12.34
        let m = Money::parse("12.345").unwrap();
        assert_eq!(
            m.round_to(2, Rounding::HalfUp).unwrap().to_string(),
            "12.3500"
        );
        assert_eq!(
            m.round_to(2, Rounding::HalfEven).unwrap().to_string(),
            "12.3400"
        );
        assert_eq!(m.round_to(2, Rounding::Up).unwrap().to_string(), "12.3500");
        assert_eq!(
            m.round_to(2, Rounding::Down).unwrap().to_string(),
            "12.3400"
        );
        assert_eq!(m.round_to(4, Rounding::Up).unwrap(), m);
        assert_eq!(
            Money::MAX.round_to(0, Rounding::Up),
            Err(QuantityError::Overflow)
        );
    }

    #[test]
    fn cost_of_one_quantum_as_in_chint() {
        // CHINT (payment-domain.md §2.4): each 0.01 kWh pulse at 0.4000 元/kWh deducts exactly
        // price/100 = 0.0040 元; 123.1500 - 0.0040 = 123.1460.
        let p = Price::parse("0.4").unwrap();
        let c = p.cost(Energy::parse("0.01").unwrap()).unwrap();
        assert_eq!(c.money, Money::parse("0.004").unwrap());
        assert!(c.remainder.is_zero());
        let left = Money::parse("123.15")
            .unwrap()
            .checked_sub(c.money)
            .unwrap();
        assert_eq!(left.to_string(), "123.1460");
    }

    #[test]
    fn carry_makes_small_deltas_equal_their_sum() {
        // 1 Wh at 0.5283 /kWh = 0.0005283 = 5.283 quanta each; 1000 of them = 1 kWh = 0.5283.
        let p = Price::parse("0.5283").unwrap();
        let mut carry = Remainder::ZERO;
        let mut total = Money::ZERO;
        for _ in 0..1000 {
            let m = carry
                .carry(p.exact_cost(Energy::from_wh(1)).unwrap())
                .unwrap();
            total = total.checked_add(m).unwrap();
        }
        assert_eq!(total, Money::parse("0.5283").unwrap());
        assert!(carry.is_zero());
        // Without the carry, flooring each 5.283 quanta to 5 would lose 0.0283.
        let floored: i64 = (0..1000)
            .map(|_| {
                p.exact_cost(Energy::from_wh(1))
                    .and_then(|e| e.round(Rounding::Down))
                    .unwrap()
                    .raw()
            })
            .sum();
        assert_eq!(floored, 5000);
    }

    #[test]
    fn negative_amounts_carry_with_floor() {
        // -1 Wh at 0.5283: -5.283 quanta = -6 quanta + 0.717 quantum remainder.
        let c = Price::parse("0.5283")
            .unwrap()
            .cost(Energy::from_wh(-1))
            .unwrap();
        assert_eq!(c.money.raw(), -6);
        assert_eq!(i64::from(c.remainder), 717_000_000);
        assert_eq!(i128::from(ExactMoney::from(c)), -5_283_000_000);
        assert_eq!(c.round(Rounding::HalfUp).unwrap().raw(), -5);
        assert_eq!(c.round(Rounding::Up).unwrap().raw(), -6);
    }

    #[test]
    fn carry_wide_path() {
        // An amount beyond the i64 fast path still carries exactly.
        let mut carry = Remainder::try_from(999_999_999).unwrap();
        let big = ExactMoney::from(i128::from(i64::MAX) * 4 + 1);
        let m = carry.carry(big).unwrap();
        let exact = i128::from(i64::MAX) * 4 + 1 + 999_999_999;
        assert_eq!(i128::from(m.raw()), exact.div_euclid(1_000_000_000));
        assert_eq!(
            i128::from(i64::from(carry)),
            exact.rem_euclid(1_000_000_000)
        );
        let mut c2 = Remainder::ZERO;
        assert_eq!(
            c2.carry(ExactMoney::from(i128::MAX)),
            Err(QuantityError::Overflow)
        );
        assert!(c2.is_zero());
        assert!(Remainder::try_from(1_000_000_000).is_err());
        assert!(Remainder::try_from(-1).is_err());
    }

    #[test]
    fn settle_rounds_the_last_fraction() {
        let half = Remainder::try_from(500_000_000).unwrap();
        assert_eq!(half.settle(Rounding::HalfUp).raw(), 1);
        assert_eq!(half.settle(Rounding::HalfEven).raw(), 0);
        assert_eq!(half.settle(Rounding::Down).raw(), 0);
        assert_eq!(
            Remainder::try_from(1).unwrap().settle(Rounding::Up).raw(),
            1
        );
        assert_eq!(Remainder::ZERO.settle(Rounding::Up).raw(), 0);
    }

    #[test]
    fn energy_for_money() {
        // 100.00 at 0.5283 /kWh = 189.2863...kWh -> 189.286 kWh down, 189.287 up
        let p = Price::parse("0.5283").unwrap();
        let m = Money::parse("100").unwrap();
        assert_eq!(p.energy_for(m, Rounding::Down).unwrap().wh(), 189_286);
        assert_eq!(p.energy_for(m, Rounding::Up).unwrap().wh(), 189_287);
        assert_eq!(
            Price::ZERO.energy_for(m, Rounding::Down),
            Err(QuantityError::DivisionByZero)
        );
        // and the energy bought never costs more than the money
        let e = p.energy_for(m, Rounding::Down).unwrap();
        assert!(p.exact_cost(e).unwrap().round(Rounding::Up).unwrap() <= m);
    }

    #[test]
    fn levy_ppm_is_exact_on_products() {
        // 1 Wh at 0.0001 /kWh = 1e6 nanos; 16 % VAT = 160000 ppm -> 160000 nanos exactly.
        let e = Price::from_raw(1).exact_cost(Energy::from_wh(1)).unwrap();
        assert_eq!(i128::from(e), 1_000_000);
        assert_eq!(
            i128::from(e.mul_ppm(160_000, Rounding::Down).unwrap()),
            160_000
        );
    }

    #[test]
    fn core_decimal_conversions() {
        use amikit_core::Decimal;
        // A DL/T 645 energy register 1520.37 kWh (scale 2) is 1 520 370 Wh.
        assert_eq!(
            Energy::try_from(Decimal::new(152_037, 2)),
            Ok(Energy::from_wh(1_520_370))
        );
        assert_eq!(
            Decimal::from(Energy::from_wh(1_520_370)),
            Decimal::new(1_520_370, 3)
        );
        assert_eq!(
            Money::try_from(Decimal::new(-5, 1)).map(Money::raw),
            Ok(-5_000)
        );
        assert_eq!(
            Money::try_from(Decimal::new(123_456, 5)),
            Err(QuantityError::Inexact)
        );
        assert_eq!(
            Money::from_decimal_rounded(Decimal::new(123_455, 5), Rounding::HalfEven)
                .map(Money::raw),
            Ok(12_346)
        );
        assert_eq!(
            Price::try_from(Decimal::new(i64::MAX, 0)),
            Err(QuantityError::Overflow)
        );
        for raw in [0i64, 1, -1, 123_456, i64::MAX, i64::MIN] {
            let m = Money::from_raw(raw);
            assert_eq!(Money::try_from(Decimal::from(m)), Ok(m));
        }
    }
}
