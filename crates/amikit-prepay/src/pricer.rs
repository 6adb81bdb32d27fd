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
//! remainder carried ([`Price::exact_cost`] carried by [`Remainder::carry`]).
//!
//! **Pricing is transactional.** The engine may still refuse an input after pricing it (a
//! charge that overflows the account, a negative price). So every successful
//! [`Pricer::price`] or [`Pricer::standing`] is tentative, and the engine ends the step with
//! exactly one [`Pricer::commit`] (the input was accepted) or [`Pricer::rollback`] (it was
//! refused: the pricer's state must be exactly as before the step). Both pricers here keep a
//! copy of the persistent charging state ([`Charging`]) from the first tentative charge of a
//! step until then; a rollback of [`TariffPricer`] also drops the cached unit price of the
//! `ChargeState`, which the next charge rebuilds (charges are the same either way).
//!
//! **Charging state and power failures.** [`Pricer::charging`] hands the engine the persistent
//! part of the pricer's state ([`Charging`]), which goes into every
//! [`Snapshot`](crate::Snapshot) the engine asks to persist; at
//! [`Input::PowerUp`](crate::Input::PowerUp) the engine gives it back with
//! [`Pricer::restore`].

use amikit_tariff::{
    ChargeError, ChargeState, Energy, Money, Price, QuantityError, Remainder, Tariff, TariffSet,
};

use crate::snapshot::Charging;
use crate::time::Timestamp;

/// Prices consumption, transactionally (see the [module documentation](self)).
///
/// The defaults of [`commit`](Pricer::commit), [`rollback`](Pricer::rollback),
/// [`charging`](Pricer::charging) and [`restore`](Pricer::restore) suit a pricer **without
/// state**; a pricer that carries remainders or period energy must implement all four, or a
/// refused input may leave a charge behind and a power failure may lose one.
pub trait Pricer {
    /// The money for `energy` (≥ 0) consumed up to `at`, **tentatively**: it becomes permanent
    /// at the next [`Pricer::commit`] and is undone by [`Pricer::rollback`]. Implementations
    /// carry sub-quantum remainders so that charging many small deltas equals charging their
    /// sum.
    ///
    /// # Errors
    ///
    /// When the consumption cannot be priced; the engine then refuses the input (the pricer
    /// must leave its own state unchanged on error).
    fn price(&mut self, at: Timestamp, energy: Energy) -> Result<Money, PriceError>;

    /// Time-based charges (standing charge) due for the periods started up to `at`, tentatively
    /// as for [`Pricer::price`]; the engine asks on every [`Input::Tick`](crate::Input::Tick)
    /// and charges the amount like consumption. The default is none.
    ///
    /// # Errors
    ///
    /// As for [`Pricer::price`].
    fn standing(&mut self, at: Timestamp) -> Result<Money, PriceError> {
        let _ = at;
        Ok(Money::ZERO)
    }

    /// The engine accepted the input: make the charges priced since the last commit or
    /// rollback permanent. Called once at the end of every accepted step.
    fn commit(&mut self) {}

    /// The engine refused the input: undo the charges priced since the last commit or
    /// rollback, so that the state is exactly as it was. Called once at the end of every
    /// refused step.
    fn rollback(&mut self) {}

    /// The persistent part of the pricer's charging state, for the snapshots the engine asks to
    /// persist; `None` for a pricer without state.
    fn charging(&self) -> Option<Charging> {
        None
    }

    /// Restores the charging state of a snapshot at power-up (only called with a snapshot that
    /// carries one). The default (a pricer without state) ignores it.
    fn restore(&mut self, charging: &Charging) {
        let _ = charging;
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
/// carried), transactionally: the persistent state before the first tentative charge of a step
/// is kept until [`Pricer::commit`] or restored by [`Pricer::rollback`].
#[derive(Debug)]
pub struct TariffPricer<'a, T: ?Sized> {
    /// The tariff.
    pub tariff: &'a T,
    /// The customer's charging state.
    pub state: &'a mut ChargeState,
    /// The persistent part of the state before the first uncommitted charge (a rollback
    /// drops the cached price, rebuilt on the next charge).
    saved: Option<Charging>,
}

impl<'a, T: ChargeWith + ?Sized> TariffPricer<'a, T> {
    /// A pricer for `tariff` charging into `state`.
    pub const fn new(tariff: &'a T, state: &'a mut ChargeState) -> Self {
        Self {
            tariff,
            state,
            saved: None,
        }
    }

    fn save(&mut self) {
        if self.saved.is_none() {
            self.saved = Some(Charging::from(&*self.state));
        }
    }
}

impl<T: ChargeWith + ?Sized> Pricer for TariffPricer<'_, T> {
    fn price(&mut self, at: Timestamp, energy: Energy) -> Result<Money, PriceError> {
        let at = at.to_datetime().ok_or(PriceError::Time)?;
        self.save();
        Ok(self.tariff.charge_total(self.state, at, energy)?)
    }

    fn standing(&mut self, at: Timestamp) -> Result<Money, PriceError> {
        let at = at.to_datetime().ok_or(PriceError::Time)?;
        self.save();
        Ok(self.tariff.standing_total(self.state, at)?)
    }

    fn commit(&mut self) {
        self.saved = None;
    }

    fn rollback(&mut self) {
        if let Some(saved) = self.saved.take() {
            *self.state = ChargeState::from(&saved);
        }
    }

    fn charging(&self) -> Option<Charging> {
        Some(Charging::from(&*self.state))
    }

    fn restore(&mut self, charging: &Charging) {
        *self.state = ChargeState::from(charging);
        self.saved = None;
    }
}

/// A flat price with the sub-quantum remainder carried between charges
/// ([`Price::exact_cost`] carried by [`Remainder::carry`]); no standing charge. Transactional; its charging state is the
/// carry alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FlatPricer {
    /// The unit price.
    pub price: Price,
    /// The fraction of a money quantum not yet charged.
    pub carry: Remainder,
    /// The carry before the first uncommitted charge.
    #[cfg_attr(feature = "serde", serde(skip))]
    committed: Option<Remainder>,
}

impl FlatPricer {
    /// A flat pricer with nothing carried.
    #[must_use]
    pub const fn new(price: Price) -> Self {
        Self {
            price,
            carry: Remainder::ZERO,
            committed: None,
        }
    }
}

impl Pricer for FlatPricer {
    fn price(&mut self, _at: Timestamp, energy: Energy) -> Result<Money, PriceError> {
        let mut carry = self.carry;
        let cost = carry.carry(self.price.exact_cost(energy)?)?;
        self.committed.get_or_insert(self.carry);
        self.carry = carry;
        Ok(cost)
    }

    fn commit(&mut self) {
        self.committed = None;
    }

    fn rollback(&mut self) {
        if let Some(c) = self.committed.take() {
            self.carry = c;
        }
    }

    fn charging(&self) -> Option<Charging> {
        Some(Charging {
            carry: self.carry,
            ..Charging::default()
        })
    }

    fn restore(&mut self, charging: &Charging) {
        self.carry = charging.carry;
        self.committed = None;
    }
}

impl<P: Pricer + ?Sized> Pricer for &mut P {
    fn price(&mut self, at: Timestamp, energy: Energy) -> Result<Money, PriceError> {
        (**self).price(at, energy)
    }

    fn standing(&mut self, at: Timestamp) -> Result<Money, PriceError> {
        (**self).standing(at)
    }

    fn commit(&mut self) {
        (**self).commit();
    }

    fn rollback(&mut self) {
        (**self).rollback();
    }

    fn charging(&self) -> Option<Charging> {
        (**self).charging()
    }

    fn restore(&mut self, charging: &Charging) {
        (**self).restore(charging);
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
