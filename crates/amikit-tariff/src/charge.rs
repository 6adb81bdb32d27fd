//! Charging consumption.
//!
//! * **Meter side, per quantum**: [`Tariff::charge`] prices an energy delta at a time and
//!   carries the sub-quantum remainder of every money line in the [`ChargeState`], so that
//!   charging a million 1 Wh deltas debits exactly what charging 1000 kWh at once does.
//!   The unit price is cached in the state until the next time it can change (the next
//!   time-of-use period start or midnight, the next step settlement); a charge inside that
//!   window is a few integer operations and never allocates.
//! * **Head-end side, from register readings**: [`Register::delta`] turns two readings into
//!   consumption with rollover at the register's width and a clear error for a register that
//!   went backwards; [`delta_across_change`] handles a meter replacement (closing reading of
//!   the old meter, opening reading of the new one); [`TariffSet::charge_interval`] prices the
//!   interval and refuses an interval whose price changes inside it,
//!   [`TariffSet::charge_apportioned`] splits it at the price changes.
//! * **Standing charges**: [`Tariff::accrue_standing`] charges the periods started since the
//!   last accrual, with levies.
//!
//! Every operation is all-or-nothing: on error the state is unchanged.

use crate::calendar::DateTime;
use crate::error::{ChargeError, QuantityError};
use crate::quantity::{Energy, ExactMoney, Money, Price, Remainder, Rounding};
use crate::tariff::{MAX_LEVIES, Pricing, StandingCharge, Tariff, TariffSet};
use crate::tou::Rate;

/// The cached unit price of a charge state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Cache {
    /// Fingerprint of the tariff this was computed for; 0 = nothing cached.
    fingerprint: u64,
    /// `DateTime::key` until which (exclusive) rate and settlement hold.
    until: u64,
    rate: Option<Rate>,
    rate_price: Price,
    step: Option<u8>,
    step_price: Price,
    /// Billed Wh left in the current step (`i64::MAX` without a next step).
    room: i64,
}

/// Per-customer (or per-meter) charging state: period-to-date billed energy for the steps, the
/// carried sub-quantum remainders of every money line, the standing-charge mark and a cached
/// unit price. 120 bytes on x86-64, cheap to clone; serializable (the cache is not serialized
/// and is rebuilt on the next charge).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ChargeState {
    period_energy: Energy,
    as_of: Option<DateTime>,
    carry: Remainder,
    levy_carry: [Remainder; MAX_LEVIES],
    standing_mark: Option<DateTime>,
    #[cfg_attr(feature = "serde", serde(skip))]
    cache: Cache,
}

impl ChargeState {
    /// A fresh state: no period energy, nothing carried, no charge yet.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            period_energy: Energy::ZERO,
            as_of: None,
            carry: Remainder::ZERO,
            levy_carry: [Remainder::ZERO; MAX_LEVIES],
            standing_mark: None,
            cache: Cache {
                fingerprint: 0,
                until: 0,
                rate: None,
                rate_price: Price::ZERO,
                step: None,
                step_price: Price::ZERO,
                room: 0,
            },
        }
    }

    /// A state whose step period already holds `period_energy` of billed energy as of
    /// `as_of` (the customer's period-to-date usage when a head-end takes over an account).
    /// A settlement after `as_of` clears it on the next charge.
    #[must_use]
    pub const fn with_period_energy(period_energy: Energy, as_of: DateTime) -> Self {
        let mut s = Self::new();
        s.period_energy = period_energy;
        s.as_of = Some(as_of);
        s
    }

    /// Billed energy in the current step period.
    #[must_use]
    pub const fn period_energy(&self) -> Energy {
        self.period_energy
    }

    /// The persistent part of this state (what a power-fail snapshot must keep); restore it
    /// with `ChargeState::from(snapshot)`.
    #[must_use]
    pub const fn snapshot(&self) -> ChargeSnapshot {
        ChargeSnapshot {
            period_energy: self.period_energy,
            as_of: self.as_of,
            carry: self.carry,
            levy_carries: self.levy_carry,
            standing_mark: self.standing_mark,
        }
    }

    /// Sets the standing-charge mark (e.g. the account's start): standing charges accrue for
    /// periods starting after it.
    pub fn set_standing_mark(&mut self, at: DateTime) {
        self.standing_mark = Some(at);
    }

    /// Forgets the cached price. Charges re-price automatically when the tariff changes (its
    /// fingerprint differs) or a boundary passes.
    fn invalidate(&mut self) {
        self.cache.fingerprint = 0;
    }

    /// Accepts a clock that went backwards: the next charge may be earlier than the last one
    /// (time checks restart from `at`, the cached price is dropped; period energy and carries
    /// are kept).
    pub fn resync(&mut self, at: DateTime) {
        self.as_of = Some(at);
        self.invalidate();
    }

    /// Ends all carries (account closure, final bill): the sum of the carried fractions on all
    /// lines, rounded with `rounding` (0 or a few quanta), and resets them to zero.
    pub fn settle_carries(&mut self, rounding: Rounding) -> Money {
        let mut total: i128 = i128::from(i64::from(self.carry));
        for c in &self.levy_carry {
            total = total.saturating_add(i128::from(i64::from(*c)));
        }
        self.carry = Remainder::ZERO;
        self.levy_carry = [Remainder::ZERO; MAX_LEVIES];
        // At most 5e9 nanos: always representable.
        ExactMoney::from(total)
            .round(rounding)
            .unwrap_or(Money::ZERO)
    }
}

/// The persistent part of a [`ChargeState`] ([`ChargeState::snapshot`]): period energy,
/// carries and marks, without the price cache (rebuilt on the next charge). For a power-fail
/// snapshot that cannot hold the serde form of the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ChargeSnapshot {
    /// Billed energy in the current step period.
    pub period_energy: Energy,
    /// Time of the last charge (or the `as_of` given at creation).
    pub as_of: Option<DateTime>,
    /// The sub-quantum remainder carried on the consumption line.
    pub carry: Remainder,
    /// The sub-quantum remainders carried on the levy lines.
    pub levy_carries: [Remainder; MAX_LEVIES],
    /// When standing charges were last accrued.
    pub standing_mark: Option<DateTime>,
}

impl From<ChargeSnapshot> for ChargeState {
    /// A state restored from its persistent part (the price cache is rebuilt on the next
    /// charge).
    fn from(s: ChargeSnapshot) -> Self {
        let mut state = Self::new();
        state.period_energy = s.period_energy;
        state.as_of = s.as_of;
        state.carry = s.carry;
        state.levy_carry = s.levy_carries;
        state.standing_mark = s.standing_mark;
        state
    }
}

/// The money for one charge of consumption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Charge {
    /// Billed energy (metered × CT × PT).
    pub energy: Energy,
    /// Energy charge (rate + step prices), whole quanta after carrying.
    pub consumption: Money,
    /// Each levy of the tariff, in order (zero beyond the tariff's levies).
    pub levies: [Money; MAX_LEVIES],
    /// Sum of the levies.
    pub levy_total: Money,
    /// `consumption + levy_total`: the amount to debit.
    pub total: Money,
    /// The time-of-use rate (`None` for a flat tariff).
    pub rate: Option<Rate>,
    /// The step of the last Wh charged (1-based; `None` without steps).
    pub step: Option<u8>,
    /// Unit price of the last Wh charged (rate + step), per billed kWh.
    pub unit_price: Price,
    /// True if a step settlement happened before this charge (the period energy was cleared).
    pub settled: bool,
}

impl Charge {
    /// The sum of two consecutive charges: energies and money add; rate, step and unit price
    /// are `later`'s; `settled` if either settled.
    ///
    /// # Errors
    /// [`QuantityError::Overflow`].
    pub fn plus(&self, later: &Charge) -> Result<Charge, QuantityError> {
        let mut levies = self.levies;
        for (a, b) in levies.iter_mut().zip(later.levies.iter()) {
            *a = a.checked_add(*b)?;
        }
        Ok(Charge {
            energy: self.energy.checked_add(later.energy)?,
            consumption: self.consumption.checked_add(later.consumption)?,
            levies,
            levy_total: self.levy_total.checked_add(later.levy_total)?,
            total: self.total.checked_add(later.total)?,
            rate: later.rate,
            step: later.step,
            unit_price: later.unit_price,
            settled: self.settled || later.settled,
        })
    }
}

/// Standing charges accrued over some periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct StandingCharges {
    /// Number of periods (days, weeks or months) that started.
    pub periods: u32,
    /// Periods × standing charge.
    pub charge: Money,
    /// Each levy that applies to standing charges (zero for the others).
    pub levies: [Money; MAX_LEVIES],
    /// Sum of the levies.
    pub levy_total: Money,
    /// `charge + levy_total`.
    pub total: Money,
}

const NANOS_PER_FINE: i128 = 1_000_000; // ExactMoney units per (Wh × price unit)

impl Tariff {
    /// Charges `energy` (metered, Wh, not negative) consumed at `at`.
    ///
    /// # Errors
    /// [`ChargeError::NegativeEnergy`], [`ChargeError::OutOfOrder`] if `at` is before the
    /// state's last charge, [`ChargeError::Quantity`] on overflow. The state is unchanged on
    /// error.
    ///
    /// ```
    /// use amikit_tariff::{ChargeState, Energy, Money, Price, Tariff};
    /// let t = Tariff::flat(Price::parse("0.5283")?)?;
    /// let mut st = ChargeState::new();
    /// let at = "2024-05-01T12:00".parse()?;
    /// let mut total = Money::ZERO;
    /// for _ in 0..1000 {
    ///     total = total.checked_add(t.charge(&mut st, at, Energy::from_wh(1))?.total)?;
    /// }
    /// assert_eq!(total, Money::parse("0.5283")?); // 1 kWh, not 1000 × 0.0005
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn charge(
        &self,
        state: &mut ChargeState,
        at: DateTime,
        energy: Energy,
    ) -> Result<Charge, ChargeError> {
        self.charge_inner(state, at, energy, None)
    }

    /// Charges `energy` read from the register of one time-of-use `rate` (per-rate registers
    /// 尖/峰/平/谷 of a meter): the rate's price plus the step price at `at`. A flat tariff
    /// charges its flat price for every rate.
    ///
    /// # Errors
    /// As [`Self::charge`], and [`ChargeError::UnknownRate`] if the table has no such rate.
    pub fn charge_rated(
        &self,
        state: &mut ChargeState,
        at: DateTime,
        rate: Rate,
        energy: Energy,
    ) -> Result<Charge, ChargeError> {
        self.charge_inner(state, at, energy, Some(rate))
    }

    /// Charges `energy` consumed during `[from, to)`, priced at `from`. The price must not
    /// change inside the interval (no time-of-use boundary with a different price, no step
    /// settlement strictly inside it); a step boundary crossed by the energy is fine.
    ///
    /// # Errors
    /// As [`Self::charge`], [`ChargeError::BadInterval`] if `to < from`,
    /// [`ChargeError::CrossesPriceChange`].
    pub fn charge_interval(
        &self,
        state: &mut ChargeState,
        from: DateTime,
        to: DateTime,
        energy: Energy,
    ) -> Result<Charge, ChargeError> {
        self.check_constant_price(from, to, None)?;
        self.charge_inner(state, from, energy, None)
    }

    /// Standing charges for the periods started since the state's mark, up to `at`, with the
    /// levies that apply to them (carried like consumption levies). The first call on a state
    /// without a mark only sets it. No standing charge in the tariff: zero.
    ///
    /// # Errors
    /// [`ChargeError::Quantity`] on overflow; the state is unchanged on error.
    pub fn accrue_standing(
        &self,
        state: &mut ChargeState,
        at: DateTime,
    ) -> Result<StandingCharges, ChargeError> {
        let Some(mark) = state.standing_mark else {
            state.standing_mark = Some(at);
            return Ok(StandingCharges::default());
        };
        let Some(sc) = self.standing_charge() else {
            if at > mark {
                state.standing_mark = Some(at);
            }
            return Ok(StandingCharges::default());
        };
        let periods = sc.periods_between(mark, at);
        let mut carries = state.levy_carry;
        let out = self.standing_lines(sc, periods, |i, exact| {
            carries
                .get_mut(i)
                .ok_or(QuantityError::Overflow)?
                .carry(exact)
        })?;
        state.levy_carry = carries;
        if at > mark {
            state.standing_mark = Some(at);
        }
        Ok(out)
    }

    /// Standing charges for the periods starting in `(from, to]`, levies rounded with
    /// `rounding` (no state, no carry: a bill or an estimate).
    ///
    /// # Errors
    /// [`ChargeError::Quantity`] on overflow.
    pub fn standing_between(
        &self,
        from: DateTime,
        to: DateTime,
        rounding: Rounding,
    ) -> Result<StandingCharges, ChargeError> {
        let Some(sc) = self.standing_charge() else {
            return Ok(StandingCharges::default());
        };
        self.standing_lines(sc, sc.periods_between(from, to), |_, exact| {
            exact.round(rounding)
        })
    }

    fn standing_lines(
        &self,
        sc: StandingCharge,
        periods: u32,
        mut to_money: impl FnMut(usize, ExactMoney) -> Result<Money, QuantityError>,
    ) -> Result<StandingCharges, ChargeError> {
        let charge = sc.amount().checked_mul(i64::from(periods))?;
        let mut out = StandingCharges {
            periods,
            charge,
            ..StandingCharges::default()
        };
        for (i, levy) in self.levies().iter().enumerate() {
            if !levy.on_standing_charge() {
                continue;
            }
            // charge nanos × ppm / 1e6 = raw × ppm × 1000: exact.
            let exact = ExactMoney::from(charge).mul_ppm(i64::from(levy.ppm()), Rounding::Down)?;
            let m = to_money(i, exact)?;
            if let Some(slot) = out.levies.get_mut(i) {
                *slot = m;
            }
            out.levy_total = out.levy_total.checked_add(m)?;
        }
        out.total = charge.checked_add(out.levy_total)?;
        Ok(out)
    }

    /// Checks that the price does not change strictly inside `(from, to)`.
    fn check_constant_price(
        &self,
        from: DateTime,
        to: DateTime,
        activation: Option<DateTime>,
    ) -> Result<(), ChargeError> {
        if to < from {
            return Err(ChargeError::BadInterval);
        }
        if let Some(a) = activation
            && a > from
            && a < to
        {
            return Err(ChargeError::CrossesPriceChange(a));
        }
        if let Some(next) = self.steps().and_then(|s| s.settlement().next_after(from))
            && next < to
        {
            return Err(ChargeError::CrossesPriceChange(next));
        }
        let Some((rate, price, mut until)) = self.rate_segment(from) else {
            return Ok(());
        };
        // Walk segment ends inside the interval; a boundary where the same rate continues
        // (e.g. a valley period through midnight) is not a change.
        for _ in 0..4096 {
            let Some(u) = until else { return Ok(()) };
            if u >= to {
                return Ok(());
            }
            let (r2, p2, u2) = self
                .rate_segment(u)
                .ok_or(ChargeError::CrossesPriceChange(u))?;
            if r2 != rate || p2 != price {
                return Err(ChargeError::CrossesPriceChange(u));
            }
            until = u2;
        }
        Err(ChargeError::CrossesPriceChange(to))
    }

    fn compute_cache(&self, at: DateTime, period: Energy) -> Result<Cache, ChargeError> {
        let (rate, rate_price, tou_until) =
            self.rate_segment(at).ok_or(ChargeError::UnknownRate(0))?;
        let mut until = tou_until.map_or(u64::MAX, DateTime::key);
        let (step, step_price, room) = match self.steps() {
            Some(s) => {
                if let Some(next) = s.settlement().next_after(at) {
                    until = until.min(next.key());
                }
                let pos = s.position(period);
                (
                    Some(pos.step),
                    pos.price,
                    pos.room.map_or(i64::MAX, Energy::wh),
                )
            }
            None => (None, Price::ZERO, i64::MAX),
        };
        Ok(Cache {
            fingerprint: self.fingerprint(),
            until,
            rate,
            rate_price,
            step,
            step_price,
            room,
        })
    }

    #[inline]
    fn charge_inner(
        &self,
        state: &mut ChargeState,
        at: DateTime,
        energy: Energy,
        rate_override: Option<Rate>,
    ) -> Result<Charge, ChargeError> {
        if energy.is_negative() {
            return Err(ChargeError::NegativeEnergy { wh: energy.wh() });
        }
        let key = at.key();
        if let Some(a) = state.as_of
            && key < a.key()
        {
            return Err(ChargeError::OutOfOrder);
        }
        let mut cache = state.cache;
        let mut period = state.period_energy;
        let mut settled = false;
        if cache.fingerprint != self.fingerprint() || key >= cache.until {
            if let (Some(steps), Some(as_of)) = (self.steps(), state.as_of)
                && steps
                    .settlement()
                    .next_after(as_of)
                    .is_some_and(|n| at >= n)
            {
                period = Energy::ZERO;
                settled = true;
            }
            cache = self.compute_cache(at, period)?;
        }
        let (rate, rate_price) = match (rate_override, self.pricing()) {
            (None, _) | (Some(_), Pricing::Flat(_)) => (cache.rate, cache.rate_price),
            (Some(r), Pricing::Tou(t)) => (
                Some(r),
                t.rate_price(r)
                    .ok_or(ChargeError::UnknownRate(u8::from(r)))?,
            ),
        };
        let billed = energy.checked_mul(self.multiplier_factor())?;

        // Price the billed energy, splitting it at step boundaries. `fine` is in
        // Wh × 1e-4 currency/kWh = 1e-7 currency.
        let mut left = billed.wh();
        let mut fine: i128 = 0;
        let mut unit = rate_price.checked_add(cache.step_price)?;
        loop {
            let take = left.min(cache.room);
            fine = fine
                .checked_add(i128::from(take).saturating_mul(i128::from(unit.raw())))
                .ok_or(QuantityError::Overflow)?;
            left = left.saturating_sub(take);
            period = period.checked_add(Energy::from_wh(take))?;
            if cache.room != i64::MAX {
                cache.room = cache.room.saturating_sub(take);
            }
            if left == 0 {
                break;
            }
            // Crossed into the next step (room is only finite with steps).
            let Some(steps) = self.steps() else { break };
            let pos = steps.position(period);
            cache.step = Some(pos.step);
            cache.step_price = pos.price;
            cache.room = pos.room.map_or(i64::MAX, Energy::wh);
            unit = rate_price.checked_add(cache.step_price)?;
        }

        let base = ExactMoney::from(
            fine.checked_mul(NANOS_PER_FINE)
                .ok_or(QuantityError::Overflow)?,
        );
        let mut carry = state.carry;
        let consumption = carry.carry(base)?;
        let mut levy_carry = state.levy_carry;
        let mut levies = [Money::ZERO; MAX_LEVIES];
        let mut levy_total = Money::ZERO;
        for ((levy, c), out) in self
            .levies()
            .iter()
            .zip(levy_carry.iter_mut())
            .zip(levies.iter_mut())
        {
            // fine × 1e6 nanos × ppm / 1e6 = fine × ppm nanos: exact.
            let exact = ExactMoney::from(
                fine.checked_mul(i128::from(levy.ppm()))
                    .ok_or(QuantityError::Overflow)?,
            );
            *out = c.carry(exact)?;
            levy_total = levy_total.checked_add(*out)?;
        }
        let total = consumption.checked_add(levy_total)?;

        state.cache = cache;
        state.period_energy = period;
        state.carry = carry;
        state.levy_carry = levy_carry;
        state.as_of = Some(at);
        Ok(Charge {
            energy: billed,
            consumption,
            levies,
            levy_total,
            total,
            rate,
            step: cache.step,
            unit_price: unit,
            settled,
        })
    }
}

impl TariffSet {
    /// Charges `energy` consumed at `at` with the tariff in force at `at`
    /// ([`Tariff::charge`]). Period energy and carries continue across a tariff switch.
    ///
    /// # Errors
    /// As [`Tariff::charge`].
    #[inline]
    pub fn charge(
        &self,
        state: &mut ChargeState,
        at: DateTime,
        energy: Energy,
    ) -> Result<Charge, ChargeError> {
        self.active(at).charge(state, at, energy)
    }

    /// [`Tariff::charge_interval`] with the tariff in force at `from`; an activation strictly
    /// inside the interval is a price change.
    ///
    /// # Errors
    /// As [`Tariff::charge_interval`].
    pub fn charge_interval(
        &self,
        state: &mut ChargeState,
        from: DateTime,
        to: DateTime,
        energy: Energy,
    ) -> Result<Charge, ChargeError> {
        let t = self.active(from);
        t.check_constant_price(from, to, self.pending_activation(from))?;
        t.charge_inner(state, from, energy, None)
    }

    /// Charges `energy` consumed during `[from, to)` across any price changes inside the
    /// interval (time-of-use boundaries, step settlements, a passive tariff's activation): the
    /// energy is apportioned to the pieces between changes in proportion to their duration
    /// (rounded down to the Wh, the last piece takes the rest) and the pieces are charged in
    /// time order. This is what a head-end does with two register readings that straddle a
    /// price change; the result sums the pieces (rate, step and unit price are the last
    /// piece's). Use per-rate registers and [`Tariff::charge_rated`] (on [`Self::active`]) when the meter has them:
    /// apportioning by time assumes a constant load.
    ///
    /// # Errors
    /// As [`Self::charge_interval`] (never [`ChargeError::CrossesPriceChange`]). The state is
    /// unchanged on error.
    ///
    /// ```
    /// use amikit_tariff::{
    ///     ChargeState, DayTable, DayTableId, Energy, Money, MonthDay, Period, Price, Rate,
    ///     Season, Tariff, TariffSet, TouTable,
    /// };
    ///
    /// // Peak 0.568 from 08:00, valley 0.288 from 22:00.
    /// let day = DayTable::new(&[
    ///     Period { start: "08:00".parse()?, rate: Rate::PEAK },
    ///     Period { start: "22:00".parse()?, rate: Rate::VALLEY },
    /// ])?;
    /// let tou = TouTable::new(
    ///     &[None, Some(Price::parse("0.568")?), None, Some(Price::parse("0.288")?)],
    ///     &[day],
    ///     &[Season::every_day(MonthDay::new(1, 1)?, DayTableId::try_from(1).unwrap())],
    ///     &[],
    /// )?;
    /// let tariff = TariffSet::new(Tariff::tou(tou));
    /// let mut state = ChargeState::new();
    /// // 10 kWh read at 21:00 and 23:00: 5 kWh peak + 5 kWh valley = 2.84 + 1.44.
    /// let c = tariff.charge_apportioned(
    ///     &mut state,
    ///     "2024-03-01T21:00".parse()?,
    ///     "2024-03-01T23:00".parse()?,
    ///     Energy::parse("10")?,
    /// )?;
    /// assert_eq!(c.total, Money::parse("4.28")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn charge_apportioned(
        &self,
        state: &mut ChargeState,
        from: DateTime,
        to: DateTime,
        energy: Energy,
    ) -> Result<Charge, ChargeError> {
        if to < from {
            return Err(ChargeError::BadInterval);
        }
        let saved = state.clone();
        let result = self.charge_pieces(state, from, to, energy);
        if result.is_err() {
            *state = saved;
        }
        result
    }

    fn charge_pieces(
        &self,
        state: &mut ChargeState,
        from: DateTime,
        to: DateTime,
        energy: Energy,
    ) -> Result<Charge, ChargeError> {
        let span = to.seconds_since_epoch() - from.seconds_since_epoch();
        let mut sum: Option<Charge> = None;
        let mut start = from;
        let mut left = energy;
        loop {
            // The first price change after `start` (each probe reports some change inside
            // [start, end); narrowing to it converges on the first one).
            let mut end = to;
            for _ in 0..64 {
                let t = self.active(start);
                match t.check_constant_price(start, end, self.pending_activation(start)) {
                    Err(ChargeError::CrossesPriceChange(at)) if start < at && at < end => end = at,
                    Err(e) => return Err(e),
                    Ok(()) => break,
                }
            }
            let piece = if end >= to {
                left
            } else {
                // The share of the whole interval's energy that falls in [start, end).
                let part = end.seconds_since_epoch() - start.seconds_since_epoch();
                let wh = i128::from(energy.wh()) * i128::from(part) / i128::from(span.max(1));
                let wh = i64::try_from(wh).map_err(|_| QuantityError::Overflow)?;
                Energy::from_wh(wh).min(left)
            };
            let c = self.charge_interval(state, start, end, piece)?;
            sum = Some(match sum {
                None => c,
                Some(acc) => acc.plus(&c)?,
            });
            left = left.checked_sub(piece)?;
            if end >= to {
                return sum.ok_or(ChargeError::BadInterval);
            }
            start = end;
        }
    }

    /// [`Tariff::accrue_standing`] with the tariff in force at `at`.
    ///
    /// # Errors
    /// As [`Tariff::accrue_standing`].
    pub fn accrue_standing(
        &self,
        state: &mut ChargeState,
        at: DateTime,
    ) -> Result<StandingCharges, ChargeError> {
        self.active(at).accrue_standing(state, at)
    }
}

/// An energy register as read by a head-end: its value rolls over to zero at `modulus`
/// (e.g. 1 000 000 kWh for DL/T 645's `XXXXXX.XX` kWh registers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Register {
    modulus: Option<Energy>,
}

impl Register {
    /// A register that never rolls over: a decrease is always an error.
    pub const UNBOUNDED: Self = Self { modulus: None };

    /// A register that rolls over to zero when it reaches `modulus`.
    ///
    /// # Errors
    /// [`ChargeError::ReadingOutOfRange`] for a modulus that is not positive.
    pub const fn with_modulus(modulus: Energy) -> Result<Self, ChargeError> {
        if !modulus.is_positive() {
            return Err(ChargeError::ReadingOutOfRange { wh: modulus.wh() });
        }
        Ok(Self {
            modulus: Some(modulus),
        })
    }

    /// A register with `integer_digits` digits of kWh before the decimal point (6 for
    /// `XXXXXX.XX`): it rolls over at 10^`integer_digits` kWh. 1–15 digits.
    ///
    /// # Errors
    /// [`ChargeError::ReadingOutOfRange`] outside 1–15 digits.
    pub fn with_kwh_digits(integer_digits: u8) -> Result<Self, ChargeError> {
        if !(1..=15).contains(&integer_digits) {
            return Err(ChargeError::ReadingOutOfRange {
                wh: i64::from(integer_digits),
            });
        }
        let kwh = 10i64.pow(u32::from(integer_digits));
        Self::with_modulus(Energy::from_units(kwh)?)
    }

    /// The rollover modulus.
    #[must_use]
    pub const fn modulus(self) -> Option<Energy> {
        self.modulus
    }

    /// Consumption between two readings. `current < previous` is a rollover if the register
    /// has a modulus and the wrapped delta (`modulus - previous + current`) is less than half
    /// the modulus; otherwise the register went backwards and the delta is refused.
    ///
    /// # Errors
    /// [`ChargeError::ReadingOutOfRange`] for a negative reading or one at/above the modulus,
    /// [`ChargeError::NegativeDelta`].
    pub fn delta(self, previous: Energy, current: Energy) -> Result<Energy, ChargeError> {
        for r in [previous, current] {
            if r.is_negative() || self.modulus.is_some_and(|m| r >= m) {
                return Err(ChargeError::ReadingOutOfRange { wh: r.wh() });
            }
        }
        if current >= previous {
            return Ok(current.checked_sub(previous)?);
        }
        let backwards = ChargeError::NegativeDelta {
            previous_wh: previous.wh(),
            current_wh: current.wh(),
        };
        let Some(m) = self.modulus else {
            return Err(backwards);
        };
        let wrapped = m.checked_sub(previous)?.checked_add(current)?;
        if wrapped.wh() < m.wh() / 2 {
            Ok(wrapped)
        } else {
            Err(backwards)
        }
    }
}

/// A register reading at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Reading {
    /// When the register was read.
    pub at: DateTime,
    /// The register value.
    pub value: Energy,
}

/// A meter replacement between two readings: the old meter's closing reading and the new
/// meter's opening reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MeterChange {
    /// The old meter's register when it was removed.
    pub closing: Energy,
    /// The new meter's register when it was installed.
    pub opening: Energy,
}

/// Consumption from `previous` (old meter) to `current` (new meter) across a meter change:
/// `(closing - previous) + (current - opening)`, each part with its own register's rollover.
///
/// # Errors
/// As [`Register::delta`] for either part, [`ChargeError::Quantity`] on overflow.
pub fn delta_across_change(
    old: Register,
    previous: Energy,
    change: MeterChange,
    new: Register,
    current: Energy,
) -> Result<Energy, ChargeError> {
    let a = old.delta(previous, change.closing)?;
    let b = new.delta(change.opening, current)?;
    Ok(a.checked_add(b)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{MonthDay, TimeOfDay};
    use crate::step::{Settlement, SettlementDate, StepTable};
    use crate::tariff::{Levy, Multiplier};
    use crate::tou::{DayTable, DayTableId, Period, Season, TouTable};

    fn t(s: &str) -> DateTime {
        s.parse().unwrap()
    }
    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }
    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }
    fn kwh(s: &str) -> Energy {
        Energy::parse(s).unwrap()
    }
    fn tod(s: &str) -> TimeOfDay {
        s.parse().unwrap()
    }

    /// Peak (rate 1) 0.568 from 08:00, valley (rate 2) 0.288 from 22:00; annual steps at
    /// 2760 / 4800 kWh adding 0.05 / 0.30, settled on 01-01 00:00.
    fn zhejiang_like() -> Tariff {
        let dt = DayTable::new(&[
            Period {
                start: tod("08:00"),
                rate: Rate::try_from(1).unwrap(),
            },
            Period {
                start: tod("22:00"),
                rate: Rate::try_from(2).unwrap(),
            },
        ])
        .unwrap();
        let tou = TouTable::new(
            &[Some(p("0.568")), Some(p("0.288"))],
            &[dt],
            &[Season::every_day(
                MonthDay::new(1, 1).unwrap(),
                DayTableId::try_from(1).unwrap(),
            )],
            &[],
        )
        .unwrap();
        let steps = StepTable::new(
            &[kwh("2760"), kwh("4800")],
            &[p("0"), p("0.05"), p("0.3")],
            Settlement::yearly(&[SettlementDate::new(1, 1, 0).unwrap()]).unwrap(),
        )
        .unwrap();
        Tariff::tou(tou).with_steps(steps)
    }

    #[test]
    fn a_state_restored_from_its_parts_charges_as_the_original() {
        let tariff = zhejiang_like();
        let mut st = ChargeState::with_period_energy(kwh("2750"), t("2024-03-01"));
        st.set_standing_mark(t("2024-03-01"));
        // 1 Wh at 0.568 leaves a carried remainder of 0.000568 − 0.0005 = 0.000068.
        tariff
            .charge(&mut st, t("2024-03-01T10:00"), Energy::from_wh(1))
            .unwrap();
        assert_ne!(st.carry, Remainder::ZERO);
        let back = ChargeState::from(st.snapshot());
        assert_eq!(back.snapshot(), st.snapshot());
        assert_ne!(back, st); // the price cache is not part of the snapshot
        // The next charges are the same to the last remainder (the cache is rebuilt).
        let (mut a, mut b) = (st, back);
        for i in 0..50 {
            let at = t("2024-03-01T10:01");
            let e = Energy::from_wh(7 + i);
            assert_eq!(
                tariff.charge(&mut a, at, e).unwrap(),
                tariff.charge(&mut b, at, e).unwrap()
            );
        }
        assert_eq!(a.carry, b.carry);
    }

    #[test]
    fn worked_example_across_both_steps_and_rates() {
        let tariff = zhejiang_like();
        let mut st = ChargeState::with_period_energy(kwh("2750"), t("2024-03-01"));
        // 2024-03-01 10:00 (peak), 20 kWh with 2750 kWh used this year:
        //   10 kWh at step 1: 10 × (0.568 + 0)    = 5.680
        //   10 kWh at step 2: 10 × (0.568 + 0.05) = 6.180
        //   total 11.8600, step 2 afterwards, 2770 kWh used.
        let c = tariff
            .charge(&mut st, t("2024-03-01T10:00"), kwh("20"))
            .unwrap();
        assert_eq!(c.consumption, m("11.86"));
        assert_eq!(c.total, m("11.86"));
        assert_eq!(c.step, Some(2));
        assert_eq!(c.rate, Rate::try_from(1).ok());
        assert_eq!(c.unit_price, p("0.618"));
        assert_eq!(st.period_energy(), kwh("2770"));
        // 23:00 the same day (valley), 2040 kWh: 2030 kWh left in step 2, then 10 in step 3:
        //   2030 × (0.288 + 0.05) = 686.14
        //     10 × (0.288 + 0.30) =   5.88
        //   total 692.0200
        let c = tariff
            .charge(&mut st, t("2024-03-01T23:00"), kwh("2040"))
            .unwrap();
        assert_eq!(c.consumption, m("692.02"));
        assert_eq!(c.step, Some(3));
        assert_eq!(c.unit_price, p("0.588"));
        assert_eq!(st.period_energy(), kwh("4810"));
        // Step settlement on 2025-01-01 00:00 clears the year: 1 kWh at 00:00 on New Year's
        // Day (valley, step 1) = 0.2880.
        let c = tariff
            .charge(&mut st, t("2024-12-31T23:59:59"), Energy::ZERO)
            .unwrap();
        assert!(!c.settled);
        let c = tariff
            .charge(&mut st, t("2025-01-01T00:00"), kwh("1"))
            .unwrap();
        assert!(c.settled);
        assert_eq!(c.consumption, m("0.288"));
        assert_eq!(c.step, Some(1));
        assert_eq!(st.period_energy(), kwh("1"));
    }

    #[test]
    fn rate_boundaries_take_effect_at_the_minute() {
        let tariff = zhejiang_like();
        let mut st = ChargeState::new();
        // 1 kWh just before and at 08:00 and 22:00 (step 1 throughout):
        for (at, price) in [
            ("2024-03-02T07:59:59", "0.288"),
            ("2024-03-02T08:00", "0.568"),
            ("2024-03-02T21:59:59", "0.568"),
            ("2024-03-02T22:00", "0.288"),
            ("2024-03-03T00:00", "0.288"),
        ] {
            let c = tariff.charge(&mut st, t(at), kwh("1")).unwrap();
            assert_eq!(c.consumption, m(price), "{at}");
        }
    }

    #[test]
    fn out_of_order_and_negative_are_refused_without_change() {
        let tariff = zhejiang_like();
        let mut st = ChargeState::new();
        tariff
            .charge(&mut st, t("2024-03-02T10:00"), kwh("1"))
            .unwrap();
        let before = st.clone();
        assert_eq!(
            tariff.charge(&mut st, t("2024-03-02T09:59"), kwh("1")),
            Err(ChargeError::OutOfOrder)
        );
        assert_eq!(
            tariff.charge(&mut st, t("2024-03-02T10:01"), Energy::from_wh(-5)),
            Err(ChargeError::NegativeEnergy { wh: -5 })
        );
        assert_eq!(
            tariff.charge(&mut st, t("2024-03-02T10:01"), Energy::MAX),
            Err(ChargeError::Quantity(QuantityError::Overflow))
        );
        assert_eq!(st, before);
        st.resync(t("2024-03-02T09:00"));
        assert!(
            tariff
                .charge(&mut st, t("2024-03-02T09:30"), kwh("1"))
                .is_ok()
        );
    }

    #[test]
    fn levies_and_multiplier() {
        // 25.00 /kWh, VAT 16 %, REP levy 5 %; CT 40 × PT 1.
        // 0.125 kWh metered × 40 = 5 kWh billed; 5 × 25 = 125.00; VAT 20.00; levy 6.25.
        let tariff = Tariff::flat(p("25"))
            .unwrap()
            .with_levy(Levy::new(160_000, true).unwrap())
            .unwrap()
            .with_levy(Levy::new(50_000, false).unwrap())
            .unwrap()
            .with_multiplier(Some(Multiplier::new(40, 1).unwrap()));
        let mut st = ChargeState::new();
        let c = tariff
            .charge(&mut st, t("2024-01-01"), kwh("0.125"))
            .unwrap();
        assert_eq!(c.energy, kwh("5"));
        assert_eq!(c.consumption, m("125"));
        assert_eq!(c.levies[0], m("20"));
        assert_eq!(c.levies[1], m("6.25"));
        assert_eq!(c.levy_total, m("26.25"));
        assert_eq!(c.total, m("151.25"));
        assert_eq!(c.rate, None);
        assert_eq!(c.step, None);
        // Levy carries: 1 Wh metered = 40 Wh billed = 1.0000 consumption, VAT 0.16 each.
        // 0.16 = 1600 quanta exactly, no carry. With 7 Wh at 0.0003/kWh: 7 × 0.0003 / 1000 =
        // 0.0000021 -> 0.021 quantum, VAT 0.00336 quantum: all carried.
        let small = Tariff::flat(p("0.0003"))
            .unwrap()
            .with_levy(Levy::new(160_000, false).unwrap())
            .unwrap();
        let mut st = ChargeState::new();
        let c = small
            .charge(&mut st, t("2024-01-01"), Energy::from_wh(7))
            .unwrap();
        assert_eq!(c.total, Money::ZERO);
        assert_eq!(i64::from(st.carry), 21_000_000);
        assert_eq!(i64::from(st.levy_carry[0]), 3_360_000);
        assert_eq!(st.settle_carries(Rounding::Up), Money::from_raw(1));
        assert!(st.carry.is_zero());
    }

    #[test]
    fn apportioned_interval_across_rate_boundaries_and_a_settlement() {
        let set = TariffSet::new(zhejiang_like());
        // 2024-12-31 21:00 → 2025-01-01 09:00 (12 h), 12 kWh at 1 kWh per hour, with 4790 kWh
        // used in 2024 (step 2 until 4800 kWh, then step 3):
        //   21:00–22:00 peak,   1 kWh: 1 × (0.568 + 0.05)           = 0.6180
        //   22:00–00:00 valley, 2 kWh: 2 × (0.288 + 0.05)           = 0.6760
        //   00:00 settlement: the year's energy restarts at 0 (step 1)
        //   00:00–08:00 valley, 8 kWh: 8 × 0.288                    = 2.3040
        //   08:00–09:00 peak,   1 kWh: 1 × 0.568                    = 0.5680
        //   total 4.1660, 9 kWh in the new period.
        let mut st = ChargeState::with_period_energy(kwh("4790"), t("2024-01-01"));
        let c = set
            .charge_apportioned(
                &mut st,
                t("2024-12-31T21:00"),
                t("2025-01-01T09:00"),
                kwh("12"),
            )
            .unwrap();
        assert_eq!(c.total, m("4.166"));
        assert_eq!(c.energy, kwh("12"));
        assert!(c.settled);
        assert_eq!(c.rate, Rate::try_from(1).ok());
        assert_eq!(st.period_energy(), kwh("9"));
        // Within one price, it is charge_interval.
        let mut a = ChargeState::new();
        let mut b = ChargeState::new();
        let one = set
            .charge_apportioned(
                &mut a,
                t("2024-03-01T10:00"),
                t("2024-03-01T11:00"),
                kwh("3"),
            )
            .unwrap();
        let two = set
            .charge_interval(
                &mut b,
                t("2024-03-01T10:00"),
                t("2024-03-01T11:00"),
                kwh("3"),
            )
            .unwrap();
        assert_eq!(one, two);
        // A backwards interval is refused and the state is left alone.
        let before = st.clone();
        assert_eq!(
            set.charge_apportioned(&mut st, t("2025-01-02"), t("2025-01-01"), kwh("1")),
            Err(ChargeError::BadInterval)
        );
        assert_eq!(st, before);
    }

    #[test]
    fn charge_rated_uses_the_register_rate() {
        let tariff = zhejiang_like();
        let mut st = ChargeState::new();
        // Valley-register energy read at 12:00 (peak time) is still valley-priced.
        let c = tariff
            .charge_rated(
                &mut st,
                t("2024-03-02T12:00"),
                Rate::try_from(2).unwrap(),
                kwh("10"),
            )
            .unwrap();
        assert_eq!(c.consumption, m("2.88"));
        assert_eq!(c.rate, Rate::try_from(2).ok());
        assert_eq!(
            tariff.charge_rated(
                &mut st,
                t("2024-03-02T12:00"),
                Rate::try_from(3).unwrap(),
                kwh("1")
            ),
            Err(ChargeError::UnknownRate(3))
        );
    }

    #[test]
    fn readings_rollover_replacement_and_backwards() {
        let reg = Register::with_kwh_digits(6).unwrap(); // rolls over at 1 000 000 kWh
        assert_eq!(reg.delta(kwh("999990"), kwh("5.5")).unwrap(), kwh("15.5"));
        assert_eq!(reg.delta(kwh("100"), kwh("100")).unwrap(), Energy::ZERO);
        assert_eq!(
            reg.delta(kwh("100"), kwh("90")),
            Err(ChargeError::NegativeDelta {
                previous_wh: 100_000,
                current_wh: 90_000
            })
        );
        assert_eq!(
            Register::UNBOUNDED.delta(kwh("999990"), kwh("5")),
            Err(ChargeError::NegativeDelta {
                previous_wh: 999_990_000,
                current_wh: 5_000
            })
        );
        assert_eq!(
            reg.delta(kwh("1000000"), kwh("5")),
            Err(ChargeError::ReadingOutOfRange { wh: 1_000_000_000 })
        );
        assert_eq!(
            reg.delta(kwh("-1"), kwh("5")),
            Err(ChargeError::ReadingOutOfRange { wh: -1000 })
        );
        // Old meter read 1234.5, removed at 1240.0; new meter installed at 0.3, read 10.3:
        // 5.5 + 10.0 = 15.5 kWh.
        let d = delta_across_change(
            reg,
            kwh("1234.5"),
            MeterChange {
                closing: kwh("1240"),
                opening: kwh("0.3"),
            },
            Register::with_kwh_digits(8).unwrap(),
            kwh("10.3"),
        )
        .unwrap();
        assert_eq!(d, kwh("15.5"));
        assert!(Register::with_kwh_digits(0).is_err());
        assert!(Register::with_kwh_digits(16).is_err());
    }

    #[test]
    fn intervals_must_not_cross_a_price_change() {
        let tariff = zhejiang_like();
        let mut st = ChargeState::new();
        let reg = Register::UNBOUNDED;
        let r = |at: &str, v: &str| Reading {
            at: t(at),
            value: kwh(v),
        };
        // The head-end's two steps: the register delta, then the interval.
        let readings = |st: &mut ChargeState, prev: Reading, cur: Reading| {
            let delta = reg.delta(prev.value, cur.value)?;
            tariff.charge_interval(st, prev.at, cur.at, delta)
        };
        // 07:45-08:00 ends at the boundary: valley.
        let c = readings(
            &mut st,
            r("2024-03-02T07:45", "100"),
            r("2024-03-02T08:00", "101"),
        )
        .unwrap();
        assert_eq!(c.consumption, m("0.288"));
        // 07:45-08:15 crosses 08:00.
        assert_eq!(
            readings(
                &mut st,
                r("2024-03-02T07:45", "100"),
                r("2024-03-02T08:15", "101")
            ),
            Err(ChargeError::CrossesPriceChange(t("2024-03-02T08:00")))
        );
        // 23:00-02:00 crosses midnight but stays in the valley: fine.
        let c = readings(
            &mut st,
            r("2024-03-02T23:00", "101"),
            r("2024-03-03T02:00", "103"),
        )
        .unwrap();
        assert_eq!(c.consumption, m("0.576"));
        // An interval across the yearly settlement.
        assert_eq!(
            tariff.charge_interval(
                &mut st,
                t("2024-12-31T23:00"),
                t("2025-01-01T01:00"),
                kwh("1")
            ),
            Err(ChargeError::CrossesPriceChange(t("2025-01-01")))
        );
        assert_eq!(
            tariff.charge_interval(
                &mut st,
                t("2024-12-31T23:00"),
                t("2024-12-31T22:00"),
                kwh("1")
            ),
            Err(ChargeError::BadInterval)
        );
        // A flat tariff accepts a month-long interval.
        let flat = Tariff::flat(p("0.5")).unwrap();
        let mut st = ChargeState::new();
        assert!(
            flat.charge_interval(&mut st, t("2024-01-01"), t("2024-02-01"), kwh("300"))
                .is_ok()
        );
    }

    #[test]
    fn passive_tariff_takes_over_at_activation() {
        // Current 0.50, passive 0.60 from 2024-07-01; readings interval across it is refused.
        let set = TariffSet::new(Tariff::flat(p("0.5")).unwrap())
            .with_passive(t("2024-07-01"), Tariff::flat(p("0.6")).unwrap());
        let mut st = ChargeState::new();
        assert_eq!(
            set.charge(&mut st, t("2024-06-30T23:59"), kwh("1"))
                .unwrap()
                .total,
            m("0.5")
        );
        assert_eq!(
            set.charge(&mut st, t("2024-07-01T00:00"), kwh("1"))
                .unwrap()
                .total,
            m("0.6")
        );
        let mut st = ChargeState::new();
        assert_eq!(
            set.charge_interval(
                &mut st,
                t("2024-06-30T12:00"),
                t("2024-07-01T12:00"),
                kwh("1")
            ),
            Err(ChargeError::CrossesPriceChange(t("2024-07-01")))
        );
    }

    #[test]
    fn standing_charges_per_day_and_month() {
        // 5.00 per day with 16 % VAT on it: 2024-01-31 10:00 -> 2024-03-01 00:00 starts 30 days:
        // 150.00 + 24.00 VAT.
        let tariff = Tariff::flat(p("0.5"))
            .unwrap()
            .with_standing_charge(StandingCharge::PerDay(m("5")))
            .unwrap()
            .with_levy(Levy::new(160_000, true).unwrap())
            .unwrap();
        let mut st = ChargeState::new();
        assert_eq!(
            tariff
                .accrue_standing(&mut st, t("2024-01-31T10:00"))
                .unwrap()
                .periods,
            0
        );
        let s = tariff.accrue_standing(&mut st, t("2024-03-01")).unwrap();
        assert_eq!(
            (s.periods, s.charge, s.levy_total, s.total),
            (30, m("150"), m("24"), m("174"))
        );
        // Same instant again: nothing more.
        assert_eq!(
            tariff
                .accrue_standing(&mut st, t("2024-03-01"))
                .unwrap()
                .periods,
            0
        );
        let monthly = Tariff::flat(p("0.5"))
            .unwrap()
            .with_standing_charge(StandingCharge::PerMonth(m("150.5")))
            .unwrap();
        let s = monthly
            .standing_between(t("2024-01-15"), t("2024-04-01"), Rounding::HalfUp)
            .unwrap();
        assert_eq!((s.periods, s.total), (3, m("451.5")));
    }

    #[test]
    fn season_and_special_day_boundaries_reprice() {
        // Winter (from 10-01) all day rate 1 at 0.50; summer (from 05-01) all day rate 2 at
        // 0.80; 2024-05-01 (Labour Day, a special day) uses the winter table.
        // 1 kWh each: 04-30 23:59 winter 0.50; 05-01 00:00 holiday 0.50; 05-02 00:00 summer
        // 0.80; 09-30 23:59 summer 0.80; 10-01 00:00 winter 0.50.
        let (r1, r2) = (Rate::try_from(1).unwrap(), Rate::try_from(2).unwrap());
        let (winter, summer) = (
            DayTableId::try_from(1).unwrap(),
            DayTableId::try_from(2).unwrap(),
        );
        let tou = TouTable::new(
            &[Some(p("0.5")), Some(p("0.8"))],
            &[DayTable::all_day(r1), DayTable::all_day(r2)],
            &[
                Season::every_day(MonthDay::new(5, 1).unwrap(), summer),
                Season::every_day(MonthDay::new(10, 1).unwrap(), winter),
            ],
            &[crate::tou::SpecialDay {
                date: crate::tou::SpecialDate::On(crate::calendar::Date::new(2024, 5, 1).unwrap()),
                day_table: winter,
            }],
        )
        .unwrap();
        let tariff = Tariff::tou(tou);
        let mut st = ChargeState::new();
        for (at, price) in [
            ("2024-04-30T23:59", "0.5"),
            ("2024-05-01T00:00", "0.5"),
            ("2024-05-01T23:59:59", "0.5"),
            ("2024-05-02T00:00", "0.8"),
            ("2024-09-30T23:59", "0.8"),
            ("2024-10-01T00:00", "0.5"),
        ] {
            let c = tariff.charge(&mut st, t(at), kwh("1")).unwrap();
            assert_eq!(c.total, m(price), "{at}");
        }
    }

    #[test]
    fn charge_state_is_small() {
        // amikit-prepay keeps one per meter inside a 512-byte engine state.
        assert!(
            core::mem::size_of::<ChargeState>() <= 128,
            "{}",
            core::mem::size_of::<ChargeState>()
        );
    }

    #[test]
    fn million_small_deltas_equal_their_sum() {
        // 1 000 000 deltas of 1 Wh at 0.5283 + VAT 16 % = 1000 kWh: 528.3000 + 84.5280.
        let tariff = Tariff::flat(p("0.5283"))
            .unwrap()
            .with_levy(Levy::new(160_000, false).unwrap())
            .unwrap();
        let mut st = ChargeState::new();
        let at = t("2024-01-01");
        let (mut cons, mut vat) = (Money::ZERO, Money::ZERO);
        for _ in 0..1_000_000 {
            let c = tariff.charge(&mut st, at, Energy::from_wh(1)).unwrap();
            cons = cons.checked_add(c.consumption).unwrap();
            vat = vat.checked_add(c.levies[0]).unwrap();
        }
        assert_eq!(cons, m("528.3"));
        assert_eq!(vat, m("84.528"));
        let mut one = ChargeState::new();
        let c = tariff.charge(&mut one, at, kwh("1000")).unwrap();
        assert_eq!((c.consumption, c.levies[0]), (cons, vat));
        assert_eq!(one.carry, st.carry);
    }
}
