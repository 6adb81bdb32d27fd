//! A tariff: a flat price or a time-of-use table, optionally with steps added on top, standing
//! charges, percentage levies and a CT/PT multiplier; and a tariff set with a current and a
//! passive (backup, 备用套) tariff that takes over at its activation time.
//!
//! # Units and order of operations
//!
//! * The CT × PT multiplier turns metered (secondary) energy into billed (primary) energy:
//!   `billed = metered × CT × PT`. Step boundaries and period-to-date usage are billed energy.
//!   (This equals multiplying the price by CT × PT, as State Grid meters do, for every tariff
//!   without steps.)
//! * The unit price of billed energy is `rate price + step price` (flat price + step price for
//!   a flat tariff).
//! * Each levy is a percentage of the consumption charge (and of standing charges if the levy
//!   says so). Levies are not compounded: VAT on top of another levy is two levies on the same
//!   base.

use core::hash::{Hash, Hasher};

use heapless::Vec;

use crate::calendar::{self, DateTime};
use crate::error::{Table, TariffError};
use crate::quantity::{Energy, Money, Price};
use crate::step::StepTable;
use crate::tou::{Rate, TouTable};

/// Most levies per tariff.
pub const MAX_LEVIES: usize = 4;

/// A percentage levy (VAT, fund surcharges) in parts per million of its base:
/// 16 % is 160 000 ppm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Levy {
    ppm: u32,
    on_standing_charge: bool,
}

impl Levy {
    /// Largest levy rate: 1000 % (10 000 000 ppm).
    pub const MAX_PPM: u32 = 10_000_000;

    /// A levy of `ppm` parts per million on the consumption charge, and on standing charges
    /// too if `on_standing_charge`.
    ///
    /// # Errors
    /// [`TariffError::BadLevy`] above [`Self::MAX_PPM`].
    pub const fn new(ppm: u32, on_standing_charge: bool) -> Result<Self, TariffError> {
        if ppm > Self::MAX_PPM {
            return Err(TariffError::BadLevy { index: 0 });
        }
        Ok(Self {
            ppm,
            on_standing_charge,
        })
    }

    /// The rate in parts per million.
    #[must_use]
    pub const fn ppm(self) -> u32 {
        self.ppm
    }

    /// True if the levy also applies to standing charges.
    #[must_use]
    pub const fn on_standing_charge(self) -> bool {
        self.on_standing_charge
    }
}

/// A fixed charge per calendar period, due at the start of each period (00:00 of each day,
/// each Monday, or each 1st of the month).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum StandingCharge {
    /// Due every day.
    PerDay(Money),
    /// Due every week (Monday 00:00).
    PerWeek(Money),
    /// Due every month (1st, 00:00).
    PerMonth(Money),
}

impl StandingCharge {
    /// The amount per period.
    #[must_use]
    pub const fn amount(self) -> Money {
        match self {
            Self::PerDay(m) | Self::PerWeek(m) | Self::PerMonth(m) => m,
        }
    }

    /// Number of periods that start in `(from, to]`.
    #[must_use]
    pub(crate) fn periods_between(self, from: DateTime, to: DateTime) -> u32 {
        match self {
            Self::PerDay(_) => calendar::days_started(from, to),
            Self::PerWeek(_) => calendar::weeks_started(from, to),
            Self::PerMonth(_) => calendar::months_started(from, to),
        }
    }
}

/// Current and voltage transformer ratios of a transformer-connected meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Multiplier {
    ct: u32,
    pt: u32,
}

impl Multiplier {
    /// CT ratio `ct` (e.g. 200 for 1000/5 A) and PT ratio `pt` (e.g. 100 for 10 kV/100 V).
    ///
    /// # Errors
    /// [`TariffError::BadMultiplier`] for a zero ratio.
    pub const fn new(ct: u32, pt: u32) -> Result<Self, TariffError> {
        if ct == 0 || pt == 0 {
            return Err(TariffError::BadMultiplier);
        }
        Ok(Self { ct, pt })
    }

    /// The CT ratio.
    #[must_use]
    pub const fn ct(self) -> u32 {
        self.ct
    }

    /// The PT ratio.
    #[must_use]
    pub const fn pt(self) -> u32 {
        self.pt
    }

    /// CT × PT (saturating at `i64::MAX`; any charge then reports an overflow).
    #[must_use]
    pub const fn factor(self) -> i64 {
        (self.ct as i64).saturating_mul(self.pt as i64)
    }
}

/// How energy is priced before steps.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
// A boxed table would need a heap; tariffs are built once and passed by reference.
#[allow(clippy::large_enum_variant)]
pub enum Pricing {
    /// One price at all times.
    Flat(Price),
    /// Time-of-use rates.
    Tou(TouTable),
}

/// The unit price in force at one moment for one period-to-date usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct UnitPrice {
    /// The time-of-use rate (`None` for a flat tariff).
    pub rate: Option<Rate>,
    /// The rate price (or the flat price).
    pub rate_price: Price,
    /// The step (1-based; `None` without steps).
    pub step: Option<u8>,
    /// The step price added to the rate price (zero without steps).
    pub step_price: Price,
    /// `rate_price + step_price`, per kWh of billed energy.
    pub total: Price,
}

/// A validated tariff. Built from a [`Pricing`] and then extended with `with_*` methods;
/// every component is checked when it is added.
///
/// ```
/// use amikit_tariff::{Energy, Levy, Money, Price, Tariff};
/// let t = Tariff::flat(Price::parse("25.0")?)?.with_levy(Levy::new(160_000, true)?)?;
/// let q = t.quote_energy(None, Energy::ZERO, Energy::from_units(10)?, amikit_tariff::Rounding::HalfUp)?;
/// // 10 kWh × 25.00 = 250.00, VAT 16 % = 40.00
/// assert_eq!(q.total, Money::parse("290")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tariff {
    pricing: Pricing,
    steps: Option<StepTable>,
    standing_charge: Option<StandingCharge>,
    levies: Vec<Levy, MAX_LEVIES>,
    multiplier: Option<Multiplier>,
    fingerprint: u64,
}

impl Hash for Tariff {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.pricing.hash(state);
        self.steps.hash(state);
        self.standing_charge.hash(state);
        self.levies.hash(state);
        self.multiplier.hash(state);
    }
}

/// 64-bit FNV-1a, for tariff fingerprints.
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    // Out of line: a derived `Hash` calls this for every field, and inlining it each time
    // costs kilobytes of firmware.
    #[inline(never)]
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

impl Tariff {
    fn build(
        pricing: Pricing,
        steps: Option<StepTable>,
        standing_charge: Option<StandingCharge>,
        levies: Vec<Levy, MAX_LEVIES>,
        multiplier: Option<Multiplier>,
    ) -> Self {
        let mut t = Self {
            pricing,
            steps,
            standing_charge,
            levies,
            multiplier,
            fingerprint: 0,
        };
        t.refresh_fingerprint();
        t
    }

    fn refresh_fingerprint(&mut self) {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        self.hash(&mut h);
        // 0 is reserved for "no tariff" in charge caches.
        self.fingerprint = h.finish().max(1);
    }

    /// A flat tariff at `price` per kWh.
    ///
    /// # Errors
    /// [`TariffError::NegativePrice`].
    pub fn flat(price: Price) -> Result<Self, TariffError> {
        if price.is_negative() {
            return Err(TariffError::NegativePrice(Table::Rates));
        }
        Ok(Self::build(
            Pricing::Flat(price),
            None,
            None,
            Vec::new(),
            None,
        ))
    }

    /// A time-of-use tariff.
    #[must_use]
    pub fn tou(table: TouTable) -> Self {
        Self::build(Pricing::Tou(table), None, None, Vec::new(), None)
    }

    /// Adds stepped pricing (replacing any steps already set).
    #[must_use]
    pub fn with_steps(mut self, steps: StepTable) -> Self {
        self.steps = Some(steps);
        self.refresh_fingerprint();
        self
    }

    /// Adds a standing charge (replacing any already set).
    ///
    /// # Errors
    /// [`TariffError::NegativeStandingCharge`].
    pub fn with_standing_charge(mut self, charge: StandingCharge) -> Result<Self, TariffError> {
        if charge.amount().is_negative() {
            return Err(TariffError::NegativeStandingCharge);
        }
        self.standing_charge = Some(charge);
        self.refresh_fingerprint();
        Ok(self)
    }

    /// Adds a levy.
    ///
    /// # Errors
    /// [`TariffError::TooMany`] beyond [`MAX_LEVIES`].
    pub fn with_levy(mut self, levy: Levy) -> Result<Self, TariffError> {
        self.levies.push(levy).map_err(|_| TariffError::TooMany {
            table: Table::Levies,
            max: MAX_LEVIES as u16,
        })?;
        self.refresh_fingerprint();
        Ok(self)
    }

    /// Sets the CT/PT multiplier (`None`: a direct-connected meter, factor 1).
    #[must_use]
    pub fn with_multiplier(mut self, multiplier: Option<Multiplier>) -> Self {
        self.multiplier = multiplier;
        self.refresh_fingerprint();
        self
    }

    /// The same tariff without its step prices: what a State Grid meter must charge while its
    /// step parameters fail their check (as State Grid local-prepay meter firmware does).
    #[must_use]
    pub fn without_steps(&self) -> Self {
        let mut t = self.clone();
        t.steps = None;
        t.refresh_fingerprint();
        t
    }

    /// The pricing.
    #[must_use]
    pub fn pricing(&self) -> &Pricing {
        &self.pricing
    }

    /// The step table.
    #[must_use]
    pub fn steps(&self) -> Option<&StepTable> {
        self.steps.as_ref()
    }

    /// The standing charge.
    #[must_use]
    pub fn standing_charge(&self) -> Option<StandingCharge> {
        self.standing_charge
    }

    /// The levies.
    #[must_use]
    pub fn levies(&self) -> &[Levy] {
        &self.levies
    }

    /// The CT/PT multiplier.
    #[must_use]
    pub fn multiplier(&self) -> Option<Multiplier> {
        self.multiplier
    }

    /// CT × PT, or 1 without a multiplier.
    #[must_use]
    pub(crate) fn multiplier_factor(&self) -> i64 {
        self.multiplier.map_or(1, Multiplier::factor)
    }

    /// A 64-bit FNV-1a digest of the whole tariff (never 0). Charge states remember it to
    /// notice a parameter change; firmware may store it to detect corrupted parameters.
    #[must_use]
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The rate, its price and the time until which they hold (`None` = forever), at `at`.
    /// For a flat tariff the time is ignored.
    pub(crate) fn rate_segment(
        &self,
        at: DateTime,
    ) -> Option<(Option<Rate>, Price, Option<DateTime>)> {
        match &self.pricing {
            Pricing::Flat(p) => Some((None, *p, None)),
            Pricing::Tou(t) => {
                let (rate, price, next) = t.rate_at(at)?;
                let until = match next {
                    Some(tod) => Some(DateTime::at(at.date(), tod)),
                    None => at.date().next_day().ok().map(|d| d.midnight()),
                };
                Some((Some(rate), price, until))
            }
        }
    }

    /// The unit price at `at` for the next Wh after `period_energy` of billed energy.
    /// `at` is ignored by flat tariffs (pass any time).
    ///
    /// # Errors
    /// [`crate::QuantityError::Overflow`] if rate + step price overflows.
    pub fn unit_price(
        &self,
        at: DateTime,
        period_energy: Energy,
    ) -> Result<UnitPrice, crate::QuantityError> {
        let (rate, rate_price, _) = self.rate_segment(at).unwrap_or((None, Price::ZERO, None));
        let (step, step_price) = match &self.steps {
            Some(s) => {
                let pos = s.position(period_energy);
                (Some(pos.step), pos.price)
            }
            None => (None, Price::ZERO),
        };
        Ok(UnitPrice {
            rate,
            rate_price,
            step,
            step_price,
            total: rate_price.checked_add(step_price)?,
        })
    }
}

/// A passive (backup) tariff waiting for its activation time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PassiveTariff {
    /// From this instant on, the passive tariff is in force.
    pub activation: DateTime,
    /// The tariff.
    pub tariff: Tariff,
}

/// The current tariff and an optional passive one that takes over at its activation time
/// (DLMS `unit_charge_passive` + `unit_charge_activation_time`; State Grid 备用套 with 切换时间).
/// Selection is by time only, so re-pricing history is deterministic; [`Self::activate_due`]
/// makes a due passive tariff the current one for good.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TariffSet {
    current: Tariff,
    passive: Option<PassiveTariff>,
}

impl TariffSet {
    /// A set with only a current tariff.
    #[must_use]
    pub fn new(current: Tariff) -> Self {
        Self {
            current,
            passive: None,
        }
    }

    /// Schedules `tariff` to take over at `activation` (replacing a scheduled one).
    #[must_use]
    pub fn with_passive(mut self, activation: DateTime, tariff: Tariff) -> Self {
        self.passive = Some(PassiveTariff { activation, tariff });
        self
    }

    /// The current tariff.
    #[must_use]
    pub fn current(&self) -> &Tariff {
        &self.current
    }

    /// The passive tariff, if one is scheduled.
    #[must_use]
    pub fn passive(&self) -> Option<&PassiveTariff> {
        self.passive.as_ref()
    }

    /// The tariff in force at `at`.
    #[must_use]
    #[inline]
    pub fn active(&self, at: DateTime) -> &Tariff {
        match &self.passive {
            Some(p) if at >= p.activation => &p.tariff,
            _ => &self.current,
        }
    }

    /// The activation time still ahead of `at`, if any (charges cache prices only until then).
    #[must_use]
    #[inline]
    pub(crate) fn pending_activation(&self, at: DateTime) -> Option<DateTime> {
        match &self.passive {
            Some(p) if at < p.activation => Some(p.activation),
            _ => None,
        }
    }

    /// If the passive tariff is due at `at`, makes it current and returns true.
    pub fn activate_due(&mut self, at: DateTime) -> bool {
        match self.passive.take() {
            Some(p) if at >= p.activation => {
                self.current = p.tariff;
                true
            }
            other => {
                self.passive = other;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::Settlement;

    #[test]
    fn fingerprint_follows_content() {
        let a = Tariff::flat(Price::parse("0.5").unwrap()).unwrap();
        let b = Tariff::flat(Price::parse("0.5").unwrap()).unwrap();
        let c = Tariff::flat(Price::parse("0.5001").unwrap()).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        let d = a.clone().with_levy(Levy::new(1, false).unwrap()).unwrap();
        assert_ne!(a.fingerprint(), d.fingerprint());
        let e = d
            .clone()
            .with_multiplier(Some(Multiplier::new(1, 1).unwrap()));
        assert_ne!(d.fingerprint(), e.fingerprint());
        let steps =
            StepTable::new(&[], &[Price::ZERO], Settlement::monthly(1, 0).unwrap()).unwrap();
        let f = a.clone().with_steps(steps);
        assert_ne!(a.fingerprint(), f.fingerprint());
        assert_eq!(f.without_steps().fingerprint(), a.fingerprint());
    }

    #[test]
    fn components_are_validated() {
        assert_eq!(
            Tariff::flat(Price::from_raw(-1)),
            Err(TariffError::NegativePrice(Table::Rates))
        );
        assert_eq!(Multiplier::new(0, 1), Err(TariffError::BadMultiplier));
        assert_eq!(Multiplier::new(200, 100).unwrap().factor(), 20_000);
        assert!(Levy::new(10_000_001, false).is_err());
        let t = Tariff::flat(Price::ZERO).unwrap();
        assert_eq!(
            t.clone()
                .with_standing_charge(StandingCharge::PerDay(Money::from_raw(-1))),
            Err(TariffError::NegativeStandingCharge)
        );
        let mut t = t;
        for _ in 0..MAX_LEVIES {
            t = t.with_levy(Levy::new(1, false).unwrap()).unwrap();
        }
        assert!(matches!(
            t.with_levy(Levy::new(1, false).unwrap()),
            Err(TariffError::TooMany {
                table: Table::Levies,
                ..
            })
        ));
    }

    #[test]
    fn passive_set_switches_at_activation() {
        let a = Tariff::flat(Price::parse("0.5").unwrap()).unwrap();
        let b = Tariff::flat(Price::parse("0.6").unwrap()).unwrap();
        let when: DateTime = "2025-01-01".parse().unwrap();
        let before: DateTime = "2024-12-31T23:59:59".parse().unwrap();
        let mut set = TariffSet::new(a.clone()).with_passive(when, b.clone());
        assert_eq!(set.active(before), &a);
        assert_eq!(set.active(when), &b);
        assert_eq!(set.pending_activation(before), Some(when));
        assert_eq!(set.pending_activation(when), None);
        assert!(!set.activate_due(before));
        assert!(set.passive().is_some());
        assert!(set.activate_due(when));
        assert_eq!(set.current(), &b);
        assert!(set.passive().is_none());
    }
}
