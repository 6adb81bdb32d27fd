//! Vending quotes in both directions: how much energy a sum of money buys, and what an amount
//! of energy costs, across step boundaries from the customer's period-to-date usage, itemised
//! (one line per step and per levy) so that a receipt can be printed.
//!
//! # Rounding and consistency with charging
//!
//! Energy lines are rounded cumulatively: line *i* is `round(cost of lines 1..=i) −
//! round(cost of lines 1..i)`, so the lines add up exactly to the rounded consumption total and
//! each line is within one quantum of its exact value. Each levy line is its percentage of the
//! exact consumption, rounded. With [`Rounding::Down`] a quote equals what
//! [`Tariff::charge`](crate::Tariff::charge) debits from a state with no carried remainder,
//! so money → energy with `Down` followed by charging that energy never exceeds the money,
//! and one more Wh would.
//!
//! Quotes use the time-of-use rate in force at the quote time for all of the energy (the
//! energy will be used later, at prices nobody knows yet); steps are exact.

use heapless::Vec;

use crate::calendar::DateTime;
use crate::error::{QuantityError, QuoteError};
use crate::quantity::{Energy, ExactMoney, Money, Price, Rounding};
use crate::step::MAX_STEP_PRICES;
use crate::tariff::{MAX_LEVIES, Tariff, TariffSet};
use crate::tou::Rate;

/// Most lines of a quote: one per step and one per levy.
pub const MAX_QUOTE_LINES: usize = MAX_STEP_PRICES + MAX_LEVIES;

/// What a quote line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case", tag = "kind"))]
pub enum LineKind {
    /// Energy at one unit price.
    Energy {
        /// The time-of-use rate (`None` for a flat tariff).
        rate: Option<Rate>,
        /// The step (1-based; `None` without steps).
        step: Option<u8>,
    },
    /// A levy on the consumption charge.
    Levy {
        /// Position of the levy in the tariff (0-based).
        index: u8,
        /// Its rate in parts per million.
        ppm: u32,
    },
}

/// One line of an itemised quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct QuoteLine {
    /// What the line is for.
    pub kind: LineKind,
    /// Billed energy of an energy line; the whole billed energy for a levy line.
    pub energy: Energy,
    /// Unit price of an energy line (rate + step price); `None` for a levy line.
    pub unit_price: Option<Price>,
    /// Amount of the line.
    pub amount: Money,
}

/// An itemised quote.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Quote {
    /// Metered energy (what the customer's meter will count).
    pub energy: Energy,
    /// Billed energy (metered × CT × PT).
    pub billed_energy: Energy,
    /// Period-to-date billed energy the quote started from.
    pub period_used: Energy,
    /// Sum of the energy lines.
    pub consumption: Money,
    /// Sum of the levy lines.
    pub levy_total: Money,
    /// `consumption + levy_total`.
    pub total: Money,
    /// For a money → energy quote: the money offered minus `total` (less than the cost of one
    /// more Wh). `None` for an energy → money quote.
    pub unspent: Option<Money>,
    /// The lines: energy lines by step, then levy lines.
    pub lines: Vec<QuoteLine, MAX_QUOTE_LINES>,
}

/// One step segment of the price schedule from the period-to-date usage on.
#[derive(Debug, Clone, Copy)]
struct Segment {
    step: Option<u8>,
    unit: Price,
    /// Billed Wh in this segment (`i64::MAX` for the last).
    room: i64,
}

struct Schedule {
    rate: Option<Rate>,
    segments: Vec<Segment, MAX_STEP_PRICES>,
    multiplier: i64,
    levies: Vec<u32, MAX_LEVIES>,
}

impl Schedule {
    fn new(tariff: &Tariff, at: Option<DateTime>, period_used: Energy) -> Result<Self, QuoteError> {
        if period_used.is_negative() {
            return Err(QuoteError::Negative);
        }
        let (rate, rate_price) = match (tariff.pricing(), at) {
            (crate::tariff::Pricing::Flat(p), _) => (None, *p),
            (crate::tariff::Pricing::Tou(_), None) => return Err(QuoteError::NeedsTime),
            (crate::tariff::Pricing::Tou(_), Some(at)) => {
                let (rate, price, _) = tariff.rate_segment(at).ok_or(QuoteError::NeedsTime)?;
                (rate, price)
            }
        };
        let mut segments = Vec::new();
        match tariff.steps() {
            None => {
                let _ = segments.push(Segment {
                    step: None,
                    unit: rate_price,
                    room: i64::MAX,
                });
            }
            Some(steps) => {
                let mut used = period_used;
                loop {
                    let pos = steps.position(used);
                    let room = pos.room.map_or(i64::MAX, Energy::wh);
                    let seg = Segment {
                        step: Some(pos.step),
                        unit: rate_price.checked_add(pos.price)?,
                        room,
                    };
                    if segments.push(seg).is_err() || room == i64::MAX {
                        break;
                    }
                    used = used.checked_add(Energy::from_wh(room))?;
                }
            }
        }
        Ok(Self {
            rate,
            segments,
            multiplier: tariff.multiplier_factor(),
            levies: tariff.levies().iter().map(|l| l.ppm()).collect(),
        })
    }

    /// Total exact consumption (Wh × price units) for `billed` Wh.
    fn fine(&self, billed: i64) -> Result<i128, QuantityError> {
        let mut left = billed;
        let mut fine: i128 = 0;
        for s in &self.segments {
            let take = left.min(s.room);
            fine = fine
                .checked_add(i128::from(take).saturating_mul(i128::from(s.unit.raw())))
                .ok_or(QuantityError::Overflow)?;
            left = left.saturating_sub(take);
            if left == 0 {
                break;
            }
        }
        Ok(fine)
    }

    #[inline(never)]
    fn total(&self, metered: i64, rounding: Rounding) -> Result<Money, QuantityError> {
        let billed = metered
            .checked_mul(self.multiplier)
            .ok_or(QuantityError::Overflow)?;
        let fine = self.fine(billed)?;
        let mut total = exact(fine, 1_000_000)?.round(rounding)?;
        for ppm in &self.levies {
            total = total.checked_add(exact(fine, i64::from(*ppm))?.round(rounding)?)?;
        }
        Ok(total)
    }

    fn itemise(
        &self,
        metered: Energy,
        period_used: Energy,
        rounding: Rounding,
    ) -> Result<Quote, QuantityError> {
        let billed = metered.checked_mul(self.multiplier)?;
        let mut lines: Vec<QuoteLine, MAX_QUOTE_LINES> = Vec::new();
        let mut left = billed.wh();
        let mut cum_fine: i128 = 0;
        let mut cum_money = Money::ZERO;
        for s in &self.segments {
            let take = left.min(s.room);
            if take == 0 && !lines.is_empty() {
                break;
            }
            cum_fine = cum_fine
                .checked_add(i128::from(take).saturating_mul(i128::from(s.unit.raw())))
                .ok_or(QuantityError::Overflow)?;
            let rounded = exact(cum_fine, 1_000_000)?.round(rounding)?;
            let _ = lines.push(QuoteLine {
                kind: LineKind::Energy {
                    rate: self.rate,
                    step: s.step,
                },
                energy: Energy::from_wh(take),
                unit_price: Some(s.unit),
                amount: rounded.checked_sub(cum_money)?,
            });
            cum_money = rounded;
            left = left.saturating_sub(take);
            if left == 0 {
                break;
            }
        }
        let mut levy_total = Money::ZERO;
        for (i, ppm) in self.levies.iter().enumerate() {
            let amount = exact(cum_fine, i64::from(*ppm))?.round(rounding)?;
            levy_total = levy_total.checked_add(amount)?;
            let _ = lines.push(QuoteLine {
                kind: LineKind::Levy {
                    index: u8::try_from(i).unwrap_or(u8::MAX),
                    ppm: *ppm,
                },
                energy: billed,
                unit_price: None,
                amount,
            });
        }
        Ok(Quote {
            energy: metered,
            billed_energy: billed,
            period_used,
            consumption: cum_money,
            levy_total,
            total: cum_money.checked_add(levy_total)?,
            unspent: None,
            lines,
        })
    }
}

/// `fine × factor` nanos (factor 1e6 for consumption, ppm for a levy).
fn exact(fine: i128, factor: i64) -> Result<ExactMoney, QuantityError> {
    fine.checked_mul(i128::from(factor))
        .map(ExactMoney::from)
        .ok_or(QuantityError::Overflow)
}

impl Tariff {
    /// What `energy` (metered) costs for a customer who has used `period_used` (billed) in the
    /// current step period, at the rate in force at `at` (`None` is allowed for a flat tariff).
    ///
    /// # Errors
    /// [`QuoteError::NeedsTime`] for a time-of-use tariff without `at`,
    /// [`QuoteError::Negative`], [`QuoteError::Quantity`] on overflow.
    pub fn quote_energy(
        &self,
        at: Option<DateTime>,
        period_used: Energy,
        energy: Energy,
        rounding: Rounding,
    ) -> Result<Quote, QuoteError> {
        if energy.is_negative() {
            return Err(QuoteError::Negative);
        }
        let s = Schedule::new(self, at, period_used)?;
        Ok(s.itemise(energy, period_used, rounding)?)
    }

    /// The most metered energy (whole Wh) whose quote is at most `money`, itemised, with the
    /// money left over in [`Quote::unspent`].
    ///
    /// # Errors
    /// As [`Self::quote_energy`], and [`QuoteError::ZeroPrice`] if the price from
    /// `period_used` on is zero (unbounded energy).
    ///
    /// ```
    /// use amikit_tariff::{Energy, Money, Price, Rounding, Tariff};
    /// let t = Tariff::flat(Price::parse("0.5283")?)?;
    /// let q = t.quote_money(None, Energy::ZERO, Money::parse("100")?, Rounding::Down)?;
    /// // 189.286 kWh × 0.5283 = 99.9997938 -> 99.9997 (Down); 189.287 kWh would cost 100.0003
    /// assert_eq!(q.energy, Energy::parse("189.286")?);
    /// assert_eq!(q.total, Money::parse("99.9997")?);
    /// assert_eq!(q.unspent, Some(Money::parse("0.0003")?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn quote_money(
        &self,
        at: Option<DateTime>,
        period_used: Energy,
        money: Money,
        rounding: Rounding,
    ) -> Result<Quote, QuoteError> {
        if money.is_negative() {
            return Err(QuoteError::Negative);
        }
        let s = Schedule::new(self, at, period_used)?;
        let fits = |wh: i64| -> bool { s.total(wh, rounding).is_ok_and(|t| t <= money) };
        // Exponential search for an upper bound, then bisection: total() is monotone.
        let mut hi: i64 = 1;
        while fits(hi) {
            hi = match hi.checked_mul(2) {
                Some(h) if h < i64::MAX / 4 => h,
                _ => return Err(QuoteError::ZeroPrice),
            };
        }
        let mut lo = hi / 2; // fits(lo) holds (lo = 0 or a bound that fitted)
        while hi.saturating_sub(lo) > 1 {
            let mid = lo + (hi - lo) / 2;
            if fits(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let mut q = s.itemise(Energy::from_wh(lo), period_used, rounding)?;
        q.unspent = Some(money.checked_sub(q.total)?);
        Ok(q)
    }
}

impl TariffSet {
    /// [`Tariff::quote_energy`] with the tariff in force at `at` (the current one if `at` is
    /// `None`).
    ///
    /// # Errors
    /// As [`Tariff::quote_energy`].
    pub fn quote_energy(
        &self,
        at: Option<DateTime>,
        period_used: Energy,
        energy: Energy,
        rounding: Rounding,
    ) -> Result<Quote, QuoteError> {
        let t = at.map_or(self.current(), |a| self.active(a));
        t.quote_energy(at, period_used, energy, rounding)
    }

    /// [`Tariff::quote_money`] with the tariff in force at `at` (the current one if `at` is
    /// `None`).
    ///
    /// # Errors
    /// As [`Tariff::quote_money`].
    pub fn quote_money(
        &self,
        at: Option<DateTime>,
        period_used: Energy,
        money: Money,
        rounding: Rounding,
    ) -> Result<Quote, QuoteError> {
        let t = at.map_or(self.current(), |a| self.active(a));
        t.quote_money(at, period_used, money, rounding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::{Settlement, SettlementDate, StepTable};
    use crate::tariff::Levy;

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }
    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }
    fn kwh(s: &str) -> Energy {
        Energy::parse(s).unwrap()
    }

    /// Beijing-style annual steps on a flat price: 0.4883 up to 2880 kWh, +0.05 to 4800 kWh,
    /// +0.30 above.
    fn stepped() -> Tariff {
        Tariff::flat(p("0.4883")).unwrap().with_steps(
            StepTable::new(
                &[kwh("2880"), kwh("4800")],
                &[p("0"), p("0.05"), p("0.3")],
                Settlement::yearly(&[SettlementDate::new(1, 1, 0).unwrap()]).unwrap(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn energy_quote_across_every_step() {
        // 2000 kWh from 2800 kWh used:
        //   80 kWh × 0.4883   =   39.064
        // 1920 kWh × 0.5383   = 1033.536
        //    0 kWh in step 3 (2800 + 2000 = 4800 exactly)
        //   total 1072.6000
        let q = stepped()
            .quote_energy(None, kwh("2800"), kwh("2000"), Rounding::HalfUp)
            .unwrap();
        assert_eq!(q.lines.len(), 2);
        assert_eq!(q.lines[0].energy, kwh("80"));
        assert_eq!(q.lines[0].amount, m("39.064"));
        assert_eq!(q.lines[1].energy, kwh("1920"));
        assert_eq!(q.lines[1].amount, m("1033.536"));
        assert_eq!(q.total, m("1072.6"));
        // one more kWh goes to step 3 at 0.7883
        let q = stepped()
            .quote_energy(None, kwh("2800"), kwh("2001"), Rounding::HalfUp)
            .unwrap();
        assert_eq!(q.lines.len(), 3);
        assert_eq!(
            q.lines[2].kind,
            LineKind::Energy {
                rate: None,
                step: Some(3)
            }
        );
        assert_eq!(q.lines[2].amount, m("0.7883"));
        assert_eq!(q.total, m("1073.3883"));
    }

    #[test]
    fn money_quote_across_a_step() {
        // 100.00 from 2870 kWh used: 10 kWh of step 1 cost 4.883 (exact); 95.117 is left.
        // At 0.5383 in step 2: 176.699 kWh cost 95.1170717 -> 95.1170 (Down), which fits;
        // 176.700 kWh cost 95.11761 -> 95.1176, which does not. Cumulative rounding:
        // line 2 = round(4.883 + 95.1170717) - 4.883 = 100.0000 - 4.8830 = 95.1170.
        // Total 186.699 kWh for exactly 100.0000, nothing unspent.
        let q = stepped()
            .quote_money(None, kwh("2870"), m("100"), Rounding::Down)
            .unwrap();
        assert_eq!(q.energy, kwh("186.699"));
        assert_eq!(q.lines[0].amount, m("4.883"));
        assert_eq!(q.lines[1].amount, m("95.117"));
        assert_eq!(q.total, m("100"));
        assert_eq!(q.unspent, Some(Money::ZERO));
    }

    #[test]
    fn levy_lines_and_errors() {
        // 25.00 /kWh, VAT 16 %: 1000.00 buys 34.482 kWh (862.05 + 137.928 = 999.978).
        let t = Tariff::flat(p("25"))
            .unwrap()
            .with_levy(Levy::new(160_000, false).unwrap())
            .unwrap();
        let q = t
            .quote_money(None, Energy::ZERO, m("1000"), Rounding::Down)
            .unwrap();
        assert_eq!(q.energy, kwh("34.482"));
        assert_eq!(q.consumption, m("862.05"));
        assert_eq!(q.levy_total, m("137.928"));
        assert_eq!(
            q.lines[1].kind,
            LineKind::Levy {
                index: 0,
                ppm: 160_000
            }
        );
        assert_eq!(q.unspent, Some(m("0.022")));
        assert_eq!(
            t.quote_money(None, Energy::ZERO, m("-1"), Rounding::Down),
            Err(QuoteError::Negative)
        );
        let free = Tariff::flat(Price::ZERO).unwrap();
        assert_eq!(
            free.quote_money(None, Energy::ZERO, m("1"), Rounding::Down),
            Err(QuoteError::ZeroPrice)
        );
        // zero money buys zero energy
        let q = t
            .quote_money(None, Energy::ZERO, Money::ZERO, Rounding::Down)
            .unwrap();
        assert_eq!(q.energy, Energy::ZERO);
        assert_eq!(q.total, Money::ZERO);
    }
}
