//! Stepped (阶梯) tariffs: up to 6 energy boundaries and 7 step prices per settlement period,
//! settled yearly (up to 4 dates) or monthly, the step price **added** to the time-of-use
//! rate price as in State Grid meters (LOC `JudgePrice`: "当前电价 = 阶梯电价 + 费率电价").
//!
//! Step `i` (1-based) holds the period energy in `(boundary[i-1], boundary[i]]`: with
//! boundaries 2160 and 4200 kWh, the first 2160 kWh of a year are step 1, the next 2040 kWh
//! step 2, and everything above 4200 kWh step 3. The split is exact to the Wh: a delta that
//! crosses a boundary is priced in two parts. (A meter that re-evaluates its price once per
//! 0.01 kWh quantum, comparing the register *before* the quantum with the boundary, bills one
//! quantum more at the lower step; this crate follows the tariff's definition instead.)

use heapless::Vec;

use crate::calendar::{Date, DateTime};
use crate::error::{Table, TariffError};
use crate::quantity::{Energy, Price};

/// Most step boundaries (LOC `Ladder_Dl[6]`).
pub const MAX_STEP_BOUNDARIES: usize = 6;
/// Most step prices (one more than boundaries).
pub const MAX_STEP_PRICES: usize = MAX_STEP_BOUNDARIES + 1;
/// Most yearly settlement dates (LOC `YearBill[4]`).
pub const MAX_SETTLEMENT_DATES: usize = 4;

/// A yearly settlement date and hour (阶梯结算日): month 1–12, day 1–28, hour 0–23.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SettlementDate {
    month: u8,
    day: u8,
    hour: u8,
}

impl SettlementDate {
    /// `month`-`day` at `hour`:00.
    ///
    /// # Errors
    /// [`TariffError::BadSettlementDate`] unless month 1–12, day 1–28, hour 0–23.
    pub const fn new(month: u8, day: u8, hour: u8) -> Result<Self, TariffError> {
        if month >= 1 && month <= 12 && day >= 1 && day <= 28 && hour <= 23 {
            Ok(Self { month, day, hour })
        } else {
            Err(TariffError::BadSettlementDate { month, day, hour })
        }
    }

    /// Month, 1–12.
    #[must_use]
    pub const fn month(self) -> u8 {
        self.month
    }

    /// Day, 1–28.
    #[must_use]
    pub const fn day(self) -> u8 {
        self.day
    }

    /// Hour, 0–23.
    #[must_use]
    pub const fn hour(self) -> u8 {
        self.hour
    }

    fn in_year(self, year: u16) -> Option<DateTime> {
        DateTime::new(year, self.month, self.day, self.hour, 0, 0).ok()
    }
}

/// Insertion sort for at most [`MAX_SETTLEMENT_DATES`] dates (`sort_unstable` would link
/// several KiB of generic sorting code into firmware).
fn sort_small(v: &mut [SettlementDate]) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 {
            let (Some(a), Some(b)) = (v.get(j - 1), v.get(j)) else {
                break;
            };
            if a <= b {
                break;
            }
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// When the step energy register is cleared.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Settlement {
    /// Year mode: settle on each of these dates every year (sorted, distinct).
    Yearly(Vec<SettlementDate, MAX_SETTLEMENT_DATES>),
    /// Month mode: settle every month on `day` (1–28) at `hour` (0–23).
    Monthly {
        /// Day of the month, 1–28.
        day: u8,
        /// Hour, 0–23.
        hour: u8,
    },
}

/// What a meter does when its step settlement dates are all invalid but step prices are set
/// (a factory option in State Grid firmware, id 11180225864: "0-不扣费, 1-按月阶梯扣费").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidDates {
    /// No stepped pricing.
    NoSteps,
    /// Monthly steps, settled on the 1st at 00:00 (the day and hour are this crate's choice:
    /// the firmware source does not say).
    Monthly,
}

impl Settlement {
    /// Year mode with 1–4 dates (any order; repeated dates are an error).
    ///
    /// # Errors
    /// [`TariffError::Empty`], [`TariffError::TooMany`], [`TariffError::BadSettlementDate`]
    /// for a repeated date.
    pub fn yearly(dates: &[SettlementDate]) -> Result<Self, TariffError> {
        if dates.is_empty() {
            return Err(TariffError::Empty(Table::SettlementDates));
        }
        let mut v: Vec<SettlementDate, MAX_SETTLEMENT_DATES> =
            Vec::from_slice(dates).map_err(|_| TariffError::TooMany {
                table: Table::SettlementDates,
                max: MAX_SETTLEMENT_DATES as u16,
            })?;
        sort_small(&mut v);
        for w in v.windows(2) {
            if let [a, b] = w
                && a == b
            {
                return Err(TariffError::BadSettlementDate {
                    month: b.month,
                    day: b.day,
                    hour: b.hour,
                });
            }
        }
        Ok(Self::Yearly(v))
    }

    /// Month mode on `day` at `hour`.
    ///
    /// # Errors
    /// [`TariffError::BadSettlementDate`] unless day 1–28, hour 0–23.
    pub fn monthly(day: u8, hour: u8) -> Result<Self, TariffError> {
        SettlementDate::new(1, day, hour).map_err(|_| TariffError::BadSettlementDate {
            month: 0,
            day,
            hour,
        })?;
        Ok(Self::Monthly { day, hour })
    }

    /// The settlement mode of a State Grid meter's 阶梯结算日 table (`(month, day, hour)`
    /// entries; LOC `JudgeLadderMode`): year mode if any entry is a valid month 1–12 / day 1–28
    /// / hour 0–23 (the valid entries are used); else month mode if the first entry's day and
    /// hour are valid (its month is then "invalid", e.g. `0x99`); else `when_invalid`.
    /// `None` means no stepped pricing.
    #[must_use]
    pub fn from_meter_dates(dates: &[(u8, u8, u8)], when_invalid: InvalidDates) -> Option<Self> {
        let mut valid: Vec<SettlementDate, MAX_SETTLEMENT_DATES> = Vec::new();
        for &(m, d, h) in dates.iter().take(MAX_SETTLEMENT_DATES) {
            if let Ok(s) = SettlementDate::new(m, d, h)
                && !valid.contains(&s)
            {
                // Capacity equals the number of entries taken.
                let _ = valid.push(s);
            }
        }
        if !valid.is_empty() {
            sort_small(&mut valid);
            return Some(Self::Yearly(valid));
        }
        if let Some(&(_, d, h)) = dates.first()
            && let Ok(s) = Self::monthly(d, h)
        {
            return Some(s);
        }
        match when_invalid {
            InvalidDates::NoSteps => None,
            InvalidDates::Monthly => Some(Self::Monthly { day: 1, hour: 0 }),
        }
    }

    /// The first settlement instant strictly after `t`.
    #[must_use]
    pub(crate) fn next_after(&self, t: DateTime) -> Option<DateTime> {
        let year = t.date().year();
        match self {
            Self::Yearly(dates) => [year, year.saturating_add(1)]
                .into_iter()
                .flat_map(|y| dates.iter().filter_map(move |d| d.in_year(y)))
                .find(|c| *c > t),
            Self::Monthly { day, hour } => {
                let month = t.date().month();
                let this = DateTime::new(year, month, *day, *hour, 0, 0).ok()?;
                if this > t {
                    return Some(this);
                }
                let (y, m) = if month == 12 {
                    (year.checked_add(1)?, 1)
                } else {
                    (year, month.saturating_add(1))
                };
                DateTime::new(y, m, *day, *hour, 0, 0).ok()
            }
        }
    }

    /// The last settlement instant at or before `t`.
    #[must_use]
    pub fn last_at_or_before(&self, t: DateTime) -> Option<DateTime> {
        let year = t.date().year();
        match self {
            Self::Yearly(dates) => [year, year.saturating_sub(1)]
                .into_iter()
                .flat_map(|y| dates.iter().rev().filter_map(move |d| d.in_year(y)))
                .find(|c| *c <= t),
            Self::Monthly { day, hour } => {
                let month = t.date().month();
                let this = DateTime::new(year, month, *day, *hour, 0, 0).ok()?;
                if this <= t {
                    return Some(this);
                }
                let (y, m) = if month == 1 {
                    (year.checked_sub(1)?, 12)
                } else {
                    (year, month.saturating_sub(1))
                };
                let date = Date::new(y, m, *day).ok()?;
                DateTime::new(date.year(), date.month(), date.day(), *hour, 0, 0).ok()
            }
        }
    }
}

/// A step table: boundaries of period energy, a price per step (added to the rate price) and
/// the settlement calendar.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StepTable {
    boundaries: Vec<Energy, MAX_STEP_BOUNDARIES>,
    prices: Vec<Price, MAX_STEP_PRICES>,
    settlement: Settlement,
}

/// Where period energy stands in a step table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct StepPosition {
    /// The step of the next Wh (1-based).
    pub step: u8,
    /// Its price (added to the rate price).
    pub price: Price,
    /// Energy left before the next step starts (`None` in the last step).
    pub room: Option<Energy>,
}

impl StepTable {
    /// A step table with strictly increasing positive `boundaries` (0–6; zero boundaries is a
    /// single step price for the whole period) and `boundaries.len() + 1` non-negative
    /// `prices`.
    ///
    /// # Errors
    /// [`TariffError::TooMany`], [`TariffError::UnsortedSteps`],
    /// [`TariffError::StepPriceCount`], [`TariffError::NegativePrice`].
    pub fn new(
        boundaries: &[Energy],
        prices: &[Price],
        settlement: Settlement,
    ) -> Result<Self, TariffError> {
        let boundaries: Vec<Energy, MAX_STEP_BOUNDARIES> =
            Vec::from_slice(boundaries).map_err(|_| TariffError::TooMany {
                table: Table::StepBoundaries,
                max: MAX_STEP_BOUNDARIES as u16,
            })?;
        let mut last = Energy::ZERO;
        for (i, b) in boundaries.iter().enumerate() {
            if *b <= last {
                return Err(TariffError::UnsortedSteps {
                    index: u8::try_from(i).unwrap_or(u8::MAX),
                });
            }
            last = *b;
        }
        if prices.len() != boundaries.len().saturating_add(1) {
            return Err(TariffError::StepPriceCount {
                boundaries: u8::try_from(boundaries.len()).unwrap_or(u8::MAX),
                prices: u8::try_from(prices.len()).unwrap_or(u8::MAX),
            });
        }
        let prices: Vec<Price, MAX_STEP_PRICES> =
            Vec::from_slice(prices).map_err(|_| TariffError::TooMany {
                table: Table::StepPrices,
                max: MAX_STEP_PRICES as u16,
            })?;
        if prices.iter().any(|p| p.is_negative()) {
            return Err(TariffError::NegativePrice(Table::StepPrices));
        }
        Ok(Self {
            boundaries,
            prices,
            settlement,
        })
    }

    /// A step table from State Grid meter parameters (6 boundaries, 7 prices, as local-prepay
    /// meter firmware keeps them), where 0 means "not used": trailing zero boundaries are dropped,
    /// a boundary equal to the one
    /// before it collapses that step, all-zero boundaries and all-zero prices mean no stepped
    /// pricing (`Ok(None)`), and the settlement table decides year/month mode or none
    /// ([`Settlement::from_meter_dates`]). Prices beyond the used steps are ignored.
    ///
    /// # Errors
    /// [`TariffError::UnsortedSteps`] for boundaries that decrease, and the errors of
    /// [`Self::new`].
    pub fn from_meter_params(
        boundaries: &[Energy],
        prices: &[Price],
        dates: &[(u8, u8, u8)],
        when_dates_invalid: InvalidDates,
    ) -> Result<Option<Self>, TariffError> {
        let mut used: Vec<Energy, MAX_STEP_BOUNDARIES> = Vec::new();
        let mut end = boundaries.len().min(MAX_STEP_BOUNDARIES);
        while end > 0
            && boundaries
                .get(end.saturating_sub(1))
                .is_some_and(|b| b.is_zero())
        {
            end = end.saturating_sub(1);
        }
        for (i, b) in boundaries.iter().take(end).enumerate() {
            if used.last() == Some(b) {
                continue; // identical boundaries collapse
            }
            if used.last().is_some_and(|l| b < l) || !b.is_positive() {
                return Err(TariffError::UnsortedSteps {
                    index: u8::try_from(i).unwrap_or(u8::MAX),
                });
            }
            let _ = used.push(*b);
        }
        let count = used.len().saturating_add(1);
        let prices = prices.get(..count).unwrap_or(prices);
        if used.is_empty() && prices.iter().all(|p| p.is_zero()) {
            return Ok(None);
        }
        let Some(settlement) = Settlement::from_meter_dates(dates, when_dates_invalid) else {
            return Ok(None);
        };
        Self::new(&used, prices, settlement).map(Some)
    }

    /// The boundaries.
    #[must_use]
    pub fn boundaries(&self) -> &[Energy] {
        &self.boundaries
    }

    /// The step prices (`[0]` is step 1).
    #[must_use]
    pub fn prices(&self) -> &[Price] {
        &self.prices
    }

    /// The settlement calendar.
    #[must_use]
    pub fn settlement(&self) -> &Settlement {
        &self.settlement
    }

    /// The step that the next Wh after `period_energy` falls in.
    #[must_use]
    pub fn position(&self, period_energy: Energy) -> StepPosition {
        let idx = self
            .boundaries
            .iter()
            .position(|b| period_energy < *b)
            .unwrap_or(self.boundaries.len());
        let room = self
            .boundaries
            .get(idx)
            .and_then(|b| b.checked_sub(period_energy).ok());
        StepPosition {
            step: u8::try_from(idx.saturating_add(1)).unwrap_or(u8::MAX),
            price: self.prices.get(idx).copied().unwrap_or(Price::ZERO),
            room,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kwh(n: i64) -> Energy {
        Energy::from_units(n).unwrap()
    }
    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }
    fn t(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    #[test]
    fn every_step_boundary() {
        // Boundaries 2160 / 4200 kWh; adders 0 / 0.05 / 0.30.
        let st = StepTable::new(
            &[kwh(2160), kwh(4200)],
            &[p("0"), p("0.05"), p("0.3")],
            Settlement::monthly(1, 0).unwrap(),
        )
        .unwrap();
        let at = |e: Energy| {
            let s = st.position(e);
            (s.step, s.price, s.room.map(Energy::wh))
        };
        assert_eq!(at(Energy::ZERO), (1, p("0"), Some(2_160_000)));
        // 2159.999 kWh: one Wh left in step 1
        assert_eq!(at(Energy::from_wh(2_159_999)), (1, p("0"), Some(1)));
        // exactly 2160 kWh used: the next Wh is step 2, 2040 kWh of room
        assert_eq!(at(kwh(2160)), (2, p("0.05"), Some(2_040_000)));
        assert_eq!(at(Energy::from_wh(4_199_999)), (2, p("0.05"), Some(1)));
        assert_eq!(at(kwh(4200)), (3, p("0.3"), None));
        assert_eq!(at(kwh(1_000_000)), (3, p("0.3"), None));
    }

    #[test]
    fn meter_params_zero_means_disabled() {
        let dates = [
            (1, 1, 0),
            (0x99, 0x99, 0x99),
            (0x99, 0x99, 0x99),
            (0x99, 0x99, 0x99),
        ];
        // trailing zeros dropped, repeated boundary collapsed
        let st = StepTable::from_meter_params(
            &[
                kwh(2160),
                kwh(4200),
                kwh(4200),
                Energy::ZERO,
                Energy::ZERO,
                Energy::ZERO,
            ],
            &[
                p("0.4883"),
                p("0.5383"),
                p("0.7883"),
                p("9"),
                p("9"),
                p("9"),
                p("9"),
            ],
            &dates,
            InvalidDates::NoSteps,
        )
        .unwrap()
        .unwrap();
        assert_eq!(st.boundaries(), &[kwh(2160), kwh(4200)]);
        assert_eq!(st.prices(), &[p("0.4883"), p("0.5383"), p("0.7883")]);
        assert_eq!(
            st.settlement(),
            &Settlement::Yearly(Vec::from_slice(&[SettlementDate::new(1, 1, 0).unwrap()]).unwrap())
        );
        // all zero: no steps
        assert_eq!(
            StepTable::from_meter_params(
                &[Energy::ZERO; 6],
                &[Price::ZERO; 7],
                &dates,
                InvalidDates::NoSteps
            ),
            Ok(None)
        );
        // decreasing
        assert_eq!(
            StepTable::from_meter_params(
                &[kwh(10), kwh(5)],
                &[p("1"); 3],
                &dates,
                InvalidDates::NoSteps
            ),
            Err(TariffError::UnsortedSteps { index: 1 })
        );
        // a zero in the middle is not trailing: it is out of order
        assert_eq!(
            StepTable::from_meter_params(
                &[kwh(10), Energy::ZERO, kwh(20)],
                &[p("1"); 4],
                &dates,
                InvalidDates::NoSteps
            ),
            Err(TariffError::UnsortedSteps { index: 1 })
        );
    }

    #[test]
    fn settlement_mode_from_meter_dates() {
        // month invalid in the first entry, day/hour valid -> month mode on the 15th at 00
        assert_eq!(
            Settlement::from_meter_dates(
                &[(0x99, 15, 0), (0x99, 0x99, 0x99)],
                InvalidDates::NoSteps
            ),
            Some(Settlement::Monthly { day: 15, hour: 0 })
        );
        // any valid entry -> year mode with the valid entries only, sorted
        assert_eq!(
            Settlement::from_meter_dates(
                &[(0x99, 15, 0), (7, 1, 0), (1, 1, 0)],
                InvalidDates::NoSteps
            ),
            Some(
                Settlement::yearly(&[
                    SettlementDate::new(1, 1, 0).unwrap(),
                    SettlementDate::new(7, 1, 0).unwrap()
                ])
                .unwrap()
            )
        );
        // day 29 is invalid everywhere
        assert_eq!(
            Settlement::from_meter_dates(&[(2, 29, 0)], InvalidDates::NoSteps),
            None
        );
        assert_eq!(
            Settlement::from_meter_dates(&[(2, 29, 0)], InvalidDates::Monthly),
            Some(Settlement::Monthly { day: 1, hour: 0 })
        );
        assert_eq!(
            Settlement::from_meter_dates(&[], InvalidDates::NoSteps),
            None
        );
    }

    #[test]
    fn next_and_last_settlement() {
        let y = Settlement::yearly(&[
            SettlementDate::new(7, 1, 0).unwrap(),
            SettlementDate::new(1, 1, 0).unwrap(),
        ])
        .unwrap();
        assert_eq!(y.next_after(t("2024-01-01")), Some(t("2024-07-01")));
        assert_eq!(
            y.next_after(t("2023-12-31T23:59:59")),
            Some(t("2024-01-01"))
        );
        assert_eq!(y.next_after(t("2024-07-01")), Some(t("2025-01-01")));
        assert_eq!(y.last_at_or_before(t("2024-07-01")), Some(t("2024-07-01")));
        assert_eq!(
            y.last_at_or_before(t("2024-06-30T23:59")),
            Some(t("2024-01-01"))
        );
        assert_eq!(y.last_at_or_before(t("2024-03-01")), Some(t("2024-01-01")));
        let m = Settlement::monthly(28, 23).unwrap();
        assert_eq!(
            m.next_after(t("2024-02-28T23:00")),
            Some(t("2024-03-28T23:00"))
        );
        assert_eq!(
            m.next_after(t("2024-12-28T23:00")),
            Some(t("2025-01-28T23:00"))
        );
        assert_eq!(m.next_after(t("2024-12-01")), Some(t("2024-12-28T23:00")));
        assert_eq!(
            m.last_at_or_before(t("2024-01-05")),
            Some(t("2023-12-28T23:00"))
        );
        assert_eq!(
            m.last_at_or_before(t("2024-01-28T23:00")),
            Some(t("2024-01-28T23:00"))
        );
        assert!(Settlement::monthly(29, 0).is_err());
        assert!(Settlement::monthly(1, 24).is_err());
        assert!(SettlementDate::new(13, 1, 0).is_err());
        assert!(Settlement::yearly(&[]).is_err());
    }

    #[test]
    fn step_table_validation() {
        let m = Settlement::monthly(1, 0).unwrap();
        assert_eq!(
            StepTable::new(&[kwh(10), kwh(10)], &[p("1"); 3], m.clone()),
            Err(TariffError::UnsortedSteps { index: 1 })
        );
        assert_eq!(
            StepTable::new(&[Energy::ZERO], &[p("1"); 2], m.clone()),
            Err(TariffError::UnsortedSteps { index: 0 })
        );
        assert_eq!(
            StepTable::new(&[kwh(10)], &[p("1"); 3], m.clone()),
            Err(TariffError::StepPriceCount {
                boundaries: 1,
                prices: 3
            })
        );
        assert_eq!(
            StepTable::new(&[kwh(10)], &[p("1"), p("-1")], m.clone()),
            Err(TariffError::NegativePrice(Table::StepPrices))
        );
        assert!(matches!(
            StepTable::new(
                &[kwh(1), kwh(2), kwh(3), kwh(4), kwh(5), kwh(6), kwh(7)],
                &[p("1"); 8],
                m
            ),
            Err(TariffError::TooMany { .. })
        ));
    }
}
