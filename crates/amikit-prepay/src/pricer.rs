//! The seam to `amikit-tariff`: the engine asks a [`Pricer`] what consumption costs.
//!
//! The engine never multiplies energy by a price itself. A pricer owns or borrows whatever
//! per-customer charging state the tariff needs (the carried sub-quantum remainders, the
//! period-to-date energy of a stepped tariff: `amikit-tariff`'s [`ChargeState`]) and is passed
//! to every [`Engine::handle`](crate::Engine::handle) call, so one tariff definition serves many
//! customers in a master station and the engine state stays small in a meter.
//!
//! [`TariffPricer`] prices through [`Tariff::charge`] / [`TariffSet::charge`] and accrues
//! standing charges through `accrue_standing`; [`FlatPricer`] is a flat price with the
//! remainder carried ([`Price::cost_carried`]).

use amikit_tariff::{
    ChargeError, ChargeState, Energy, Money, Price, QuantityError, Remainder, Tariff, TariffSet,
};

use crate::time::Timestamp;

/// Prices consumption.
pub trait Pricer {
    /// The money for `energy` (≥ 0) consumed up to `at`. Implementations carry sub-quantum
    /// remainders so that charging many small deltas equals charging their sum.
    ///
    /// # Errors
    ///
    /// When the consumption cannot be priced; the engine then refuses the input (the pricer
    /// must leave its own state unchanged on error).
    fn price(&mut self, at: Timestamp, energy: Energy) -> Result<Money, PriceError>;

    /// Time-based charges (standing charge) due for the periods started up to `at`; the engine
    /// asks on every [`Input::Tick`](crate::Input::Tick) and charges the amount like
    /// consumption. The default is none.
    ///
    /// # Errors
    ///
    /// As for [`Pricer::price`].
    fn standing(&mut self, at: Timestamp) -> Result<Money, PriceError> {
        let _ = at;
        Ok(Money::ZERO)
    }
}

/// Why consumption could not be priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum PriceError {
    /// The amount does not fit the money representation.
    #[error("overflow")]
    Overflow,
    /// The time is before the last one priced on this charging state.
    #[error("consumption out of time order")]
    OutOfOrder,
    /// The time is outside the tariff calendar (years 1–9999).
    #[error("time outside the calendar")]
    Time,
    /// The tariff has no valid price for this consumption.
    #[error("no valid price")]
    NoPrice,
    /// The tariff returned a negative amount for consumption.
    #[error("negative charge")]
    Negative,
}

impl From<QuantityError> for PriceError {
    fn from(e: QuantityError) -> Self {
        match e {
            QuantityError::Overflow => Self::Overflow,
            _ => Self::NoPrice,
        }
    }
}

impl From<ChargeError> for PriceError {
    fn from(e: ChargeError) -> Self {
        match e {
            ChargeError::OutOfOrder => Self::OutOfOrder,
            ChargeError::Quantity(q) => q.into(),
            _ => Self::NoPrice,
        }
    }
}

/// A tariff (or tariff set) that charges consumption with a per-customer [`ChargeState`]:
/// implemented for `amikit-tariff`'s [`Tariff`] and [`TariffSet`].
pub trait ChargeWith {
    /// [`Tariff::charge`]: the total money (consumption + levies) for `energy` at `at`.
    ///
    /// # Errors
    ///
    /// The tariff's charge error; the state is unchanged.
    fn charge_total(
        &self,
        state: &mut ChargeState,
        at: amikit_tariff::DateTime,
        energy: Energy,
    ) -> Result<Money, ChargeError>;

    /// [`Tariff::accrue_standing`]: standing charges (with levies) up to `at`.
    ///
    /// # Errors
    ///
    /// The tariff's charge error; the state is unchanged.
    fn standing_total(
        &self,
        state: &mut ChargeState,
        at: amikit_tariff::DateTime,
    ) -> Result<Money, ChargeError>;
}

impl ChargeWith for Tariff {
    fn charge_total(
        &self,
        state: &mut ChargeState,
        at: amikit_tariff::DateTime,
        energy: Energy,
    ) -> Result<Money, ChargeError> {
        Ok(self.charge(state, at, energy)?.total)
    }

    fn standing_total(
        &self,
        state: &mut ChargeState,
        at: amikit_tariff::DateTime,
    ) -> Result<Money, ChargeError> {
        Ok(self.accrue_standing(state, at)?.total)
    }
}

impl ChargeWith for TariffSet {
    fn charge_total(
        &self,
        state: &mut ChargeState,
        at: amikit_tariff::DateTime,
        energy: Energy,
    ) -> Result<Money, ChargeError> {
        Ok(self.charge(state, at, energy)?.total)
    }

    fn standing_total(
        &self,
        state: &mut ChargeState,
        at: amikit_tariff::DateTime,
    ) -> Result<Money, ChargeError> {
        Ok(self.accrue_standing(state, at)?.total)
    }
}

/// Prices through an `amikit-tariff` [`Tariff`] or [`TariffSet`] with the customer's
/// [`ChargeState`] (time-of-use, steps, levies, CT/PT multiplier, standing charges, remainders
/// carried).
#[derive(Debug)]
pub struct TariffPricer<'a, T: ?Sized> {
    /// The tariff.
    pub tariff: &'a T,
    /// The customer's charging state.
    pub state: &'a mut ChargeState,
}

impl<'a, T: ChargeWith + ?Sized> TariffPricer<'a, T> {
    /// A pricer for `tariff` charging into `state`.
    pub const fn new(tariff: &'a T, state: &'a mut ChargeState) -> Self {
        Self { tariff, state }
    }
}

impl<T: ChargeWith + ?Sized> Pricer for TariffPricer<'_, T> {
    fn price(&mut self, at: Timestamp, energy: Energy) -> Result<Money, PriceError> {
        let at = at.to_datetime().ok_or(PriceError::Time)?;
        Ok(self.tariff.charge_total(self.state, at, energy)?)
    }

    fn standing(&mut self, at: Timestamp) -> Result<Money, PriceError> {
        let at = at.to_datetime().ok_or(PriceError::Time)?;
        Ok(self.tariff.standing_total(self.state, at)?)
    }
}

/// A flat price with the sub-quantum remainder carried between charges
/// ([`Price::cost_carried`]); no standing charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FlatPricer {
    /// The unit price.
    pub price: Price,
    /// The fraction of a money quantum not yet charged.
    pub carry: Remainder,
}

impl FlatPricer {
    /// A flat pricer with nothing carried.
    #[must_use]
    pub const fn new(price: Price) -> Self {
        Self {
            price,
            carry: Remainder::ZERO,
        }
    }
}

impl Pricer for FlatPricer {
    fn price(&mut self, _at: Timestamp, energy: Energy) -> Result<Money, PriceError> {
        Ok(self.price.cost_carried(energy, &mut self.carry)?)
    }
}

impl<P: Pricer + ?Sized> Pricer for &mut P {
    fn price(&mut self, at: Timestamp, energy: Energy) -> Result<Money, PriceError> {
        (**self).price(at, energy)
    }

    fn standing(&mut self, at: Timestamp) -> Result<Money, PriceError> {
        (**self).standing(at)
    }
}

/// A pricer that charges nothing (for inputs that never consume, and for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NoCharge;

impl Pricer for NoCharge {
    fn price(&mut self, _at: Timestamp, _energy: Energy) -> Result<Money, PriceError> {
        Ok(Money::ZERO)
    }
}
