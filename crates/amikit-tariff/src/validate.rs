//! Turning a [`TariffDef`] into a validated [`TariffSet`] (`TariffSet::try_from(&def)`), with typed errors: overlapping or
//! missing periods, unsorted steps, an unknown rate or day table, a negative price, a bad
//! settlement date, …
//!
//! ```
//! use amikit_tariff::{TariffError, def::TariffDef};
//! let def: TariffDef = serde_json::from_str(r#"{
//!   "tou": {
//!     "rates": [{ "id": 1, "price": "0.568" }, { "id": 2, "price": "0.288" }],
//!     "day_tables": [{ "id": 1, "periods": [
//!       { "from": "08:00", "to": "22:00", "rate": 1 },
//!       { "from": "21:00", "to": "08:00", "rate": 2 }
//!     ]}]
//!   }
//! }"#)?;
//! let err = amikit_tariff::TariffSet::try_from(&def).unwrap_err();
//! assert_eq!(err.error, TariffError::OverlappingPeriods { day_table: 1, minute: 21 * 60 });
//! # Ok::<(), serde_json::Error>(())
//! ```

use alloc::vec::Vec;

use crate::calendar::{Date, MonthDay, TimeOfDay};
use crate::def::{SettlementDef, TariffDef, TouDef};
use crate::error::{Table, TariffError};
use crate::quantity::{Money, Price};
use crate::step::{Settlement, SettlementDate, StepTable};
use crate::tariff::{Levy, Multiplier, Tariff, TariffSet};
use crate::tou::{
    DayTable, DayTableId, MAX_DAY_TABLES, MAX_RATES, Period, Rate, Season, SpecialDate, SpecialDay,
    TouTable,
};

/// A definition error and whether it is in the passive tariff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}{error}", if *in_passive { "passive tariff: " } else { "" })]
pub struct DefError {
    /// True if the error is in the passive tariff.
    pub in_passive: bool,
    /// The error.
    pub error: TariffError,
}

const MINUTES: usize = 24 * 60;

impl TryFrom<&TariffDef> for TariffSet {
    type Error = DefError;

    /// Validates the definition and builds the tariff set (current + optional passive);
    /// [`DefError`] with the first problem found.
    fn try_from(def: &TariffDef) -> Result<TariffSet, DefError> {
        let current = Tariff::try_from(def).map_err(|error| DefError {
            in_passive: false,
            error,
        })?;
        let mut set = TariffSet::new(current);
        if let Some(p) = &def.passive {
            let passive_err = |error| DefError {
                in_passive: true,
                error,
            };
            if p.tariff.passive.is_some() {
                return Err(passive_err(TariffError::NestedPassive));
            }
            let t = Tariff::try_from(&p.tariff).map_err(passive_err)?;
            set = set.with_passive(p.activation, t);
        }
        Ok(set)
    }
}

impl TryFrom<&TariffDef> for Tariff {
    type Error = TariffError;

    /// Validates and builds the definition's tariff alone (ignoring `passive`).
    fn try_from(def: &TariffDef) -> Result<Tariff, TariffError> {
        let mut tariff = match (&def.price, &def.tou) {
            (Some(p), None) => Tariff::flat(*p)?,
            (None, Some(tou)) => Tariff::tou(build_tou(tou)?),
            _ => return Err(TariffError::PricingChoice),
        };
        if let Some(steps) = &def.steps {
            let settlement = match &steps.settlement {
                SettlementDef::Monthly { day, hour } => Settlement::monthly(*day, *hour)?,
                SettlementDef::Yearly(dates) => {
                    let dates = dates
                        .iter()
                        .map(|d| SettlementDate::new(d.month, d.day, d.hour))
                        .collect::<Result<Vec<_>, _>>()?;
                    Settlement::yearly(&dates)?
                }
            };
            tariff = tariff.with_steps(StepTable::new(
                &steps.boundaries,
                &steps.prices,
                settlement,
            )?);
        }
        if let Some(sc) = def.standing_charge {
            tariff = tariff.with_standing_charge(sc)?;
        }
        for (i, l) in def.levies.iter().enumerate() {
            let bad = TariffError::BadLevy {
                index: u8::try_from(i).unwrap_or(u8::MAX),
            };
            // percent with 4 decimals = ppm (16 % = 16.0000 -> 160000).
            let ppm = Money::parse(&l.percent).map_err(|_| bad)?.raw();
            let ppm = u32::try_from(ppm).map_err(|_| bad)?;
            tariff = tariff.with_levy(Levy::new(ppm, l.on_standing_charge).map_err(|_| bad)?)?;
        }
        if def.ct.is_some() || def.pt.is_some() {
            tariff = tariff.with_multiplier(Some(Multiplier::new(
                def.ct.unwrap_or(1),
                def.pt.unwrap_or(1),
            )?));
        }
        Ok(tariff)
    }
}

fn build_tou(def: &TouDef) -> Result<TouTable, TariffError> {
    // Rates: ids 1..=MAX_RATES, unique.
    let mut rates: Vec<Option<Price>> = Vec::new();
    for r in &def.rates {
        let rate = Rate::try_from(r.id).map_err(|_| TariffError::TooMany {
            table: Table::Rates,
            max: MAX_RATES as u16,
        })?;
        let slot = usize::from(u8::from(rate)).saturating_sub(1);
        if rates.len() <= slot {
            rates.resize(slot.saturating_add(1), None);
        }
        let entry = rates
            .get_mut(slot)
            .ok_or(TariffError::Empty(Table::Rates))?;
        if entry.is_some() {
            return Err(TariffError::DuplicateId {
                table: Table::Rates,
                id: r.id,
            });
        }
        *entry = Some(r.price);
    }

    // Day tables: any ids, mapped to slots in order of appearance.
    if def.day_tables.len() > MAX_DAY_TABLES {
        return Err(TariffError::TooMany {
            table: Table::DayTables,
            max: MAX_DAY_TABLES as u16,
        });
    }
    let mut ids: Vec<u8> = Vec::new();
    let mut tables: Vec<DayTable> = Vec::new();
    for dt in &def.day_tables {
        if ids.contains(&dt.id) {
            return Err(TariffError::DuplicateId {
                table: Table::DayTables,
                id: dt.id,
            });
        }
        ids.push(dt.id);
        tables.push(build_day_table(dt.id, &dt.periods)?);
    }
    let slot_of = |id: u8| -> Result<DayTableId, TariffError> {
        let pos = ids
            .iter()
            .position(|x| *x == id)
            .ok_or(TariffError::UnknownDayTable { day_table: id })?;
        u8::try_from(pos.saturating_add(1))
            .ok()
            .and_then(|n| DayTableId::try_from(n).ok())
            .ok_or(TariffError::UnknownDayTable { day_table: id })
    };

    let mut seasons: Vec<Season> = Vec::new();
    if def.seasons.is_empty() {
        match ids.as_slice() {
            [only] => seasons.push(Season::every_day(MonthDay::new(1, 1)?, slot_of(*only)?)),
            [] => return Err(TariffError::Empty(Table::DayTables)),
            _ => return Err(TariffError::Empty(Table::Seasons)),
        }
    }
    for s in &def.seasons {
        let week = match (s.week, s.day_table) {
            (Some(w), _) => {
                let v = w
                    .iter()
                    .map(|id| slot_of(*id))
                    .collect::<Result<Vec<_>, _>>()?;
                <[DayTableId; 7]>::try_from(v).map_err(|_| TariffError::Empty(Table::DayTables))?
            }
            (None, Some(d)) => {
                let mut out = [slot_of(d)?; 7];
                if let (Some(sat), Some(o)) = (s.saturday, out.get_mut(5)) {
                    *o = slot_of(sat)?;
                }
                if let (Some(sun), Some(o)) = (s.sunday, out.get_mut(6)) {
                    *o = slot_of(sun)?;
                }
                out
            }
            (None, None) => return Err(TariffError::Empty(Table::DayTables)),
        };
        seasons.push(Season {
            start: s.from,
            week,
        });
    }

    let mut special: Vec<SpecialDay> = Vec::new();
    for s in &def.special_days {
        let date = match s.date.len() {
            5 => SpecialDate::Every(s.date.parse::<MonthDay>()?),
            _ => SpecialDate::On(s.date.parse::<Date>()?),
        };
        special.push(SpecialDay {
            date,
            day_table: slot_of(s.day_table)?,
        });
    }

    TouTable::new(&rates, &tables, &seasons, &special)
}

/// Builds a day table from `[from, to)` ranges that must tile the day.
fn build_day_table(id: u8, periods: &[crate::def::PeriodDef]) -> Result<DayTable, TariffError> {
    if periods.is_empty() {
        return Err(TariffError::Empty(Table::Periods));
    }
    // Rate of every minute of the day (0 = not covered).
    let mut minute_rate = [0u8; MINUTES];
    for p in periods {
        Rate::try_from(p.rate).map_err(|_| TariffError::UnknownRate { rate: p.rate })?;
        let from = usize::from(p.from.minutes());
        let to = usize::from(p.to.minutes());
        let len = if to > from {
            to - from
        } else {
            MINUTES - from + to
        };
        for k in 0..len {
            let m = (from + k) % MINUTES;
            let cell = minute_rate.get_mut(m).ok_or(TariffError::MissingPeriod {
                day_table: id,
                minute: 0,
            })?;
            if *cell != 0 {
                return Err(TariffError::OverlappingPeriods {
                    day_table: id,
                    minute: u16::try_from(m).unwrap_or(0),
                });
            }
            *cell = p.rate;
        }
    }
    if let Some(m) = minute_rate.iter().position(|r| *r == 0) {
        return Err(TariffError::MissingPeriod {
            day_table: id,
            minute: u16::try_from(m).unwrap_or(0),
        });
    }
    // Period starts: every minute whose rate differs from the minute before (cyclically).
    let mut out: Vec<Period> = Vec::new();
    let mut prev = minute_rate.last().copied().unwrap_or(0);
    for (m, r) in minute_rate.iter().enumerate() {
        if *r != prev {
            let minute = u16::try_from(m).unwrap_or(0);
            out.push(Period {
                start: TimeOfDay::new(
                    u8::try_from(minute / 60).unwrap_or(0),
                    u8::try_from(minute % 60).unwrap_or(0),
                )?,
                rate: Rate::try_from(*r).map_err(|_| TariffError::UnknownRate { rate: *r })?,
            });
        }
        prev = *r;
    }
    if out.is_empty() {
        // One rate all day.
        let r = minute_rate.first().copied().unwrap_or(0);
        return Ok(DayTable::all_day(
            Rate::try_from(r).map_err(|_| TariffError::UnknownRate { rate: r })?,
        ));
    }
    DayTable::new(&out).map_err(|e| match e {
        TariffError::UnsortedPeriods { index, .. } => TariffError::UnsortedPeriods {
            day_table: id,
            index,
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::def::*;
    use crate::quantity::Energy;
    use alloc::string::ToString;
    use alloc::vec;

    fn tod(s: &str) -> TimeOfDay {
        s.parse().unwrap()
    }
    fn period(from: &str, to: &str, rate: u8) -> PeriodDef {
        PeriodDef {
            from: tod(from),
            to: tod(to),
            rate,
        }
    }
    fn base() -> TariffDef {
        TariffDef {
            tou: Some(TouDef {
                rates: vec![
                    RateDef {
                        id: 1,
                        name: Some("peak".into()),
                        price: Price::parse("0.568").unwrap(),
                    },
                    RateDef {
                        id: 2,
                        name: Some("valley".into()),
                        price: Price::parse("0.288").unwrap(),
                    },
                ],
                day_tables: vec![DayTableDef {
                    id: 1,
                    periods: vec![period("08:00", "22:00", 1), period("22:00", "08:00", 2)],
                }],
                ..TouDef::default()
            }),
            ..TariffDef::default()
        }
    }
    fn err(def: &TariffDef) -> TariffError {
        TariffSet::try_from(def).unwrap_err().error
    }

    #[test]
    fn valid_definition_builds() {
        let set = TariffSet::try_from(&base()).unwrap();
        let t = set.current();
        let (rate, price, _) = t.rate_segment("2024-01-01T03:00".parse().unwrap()).unwrap();
        assert_eq!(
            (rate.map(u8::from), price),
            (Some(2), Price::parse("0.288").unwrap())
        );
        assert_eq!(base().rate_name(1), Some("peak"));
    }

    #[test]
    fn overlapping_and_missing_periods() {
        let mut d = base();
        d.tou.as_mut().unwrap().day_tables[0].periods =
            vec![period("08:00", "22:00", 1), period("21:30", "08:00", 2)];
        assert_eq!(
            err(&d),
            TariffError::OverlappingPeriods {
                day_table: 1,
                minute: 21 * 60 + 30
            }
        );
        d.tou.as_mut().unwrap().day_tables[0].periods =
            vec![period("08:00", "22:00", 1), period("22:30", "08:00", 2)];
        assert_eq!(
            err(&d),
            TariffError::MissingPeriod {
                day_table: 1,
                minute: 22 * 60
            }
        );
        d.tou.as_mut().unwrap().day_tables[0].periods = vec![period("00:00", "00:00", 1)];
        assert!(TariffSet::try_from(&d).is_ok());
        d.tou.as_mut().unwrap().day_tables[0].periods = vec![];
        assert_eq!(err(&d), TariffError::Empty(Table::Periods));
    }

    #[test]
    fn unknown_references() {
        let mut d = base();
        d.tou.as_mut().unwrap().day_tables[0].periods[1].rate = 3;
        assert_eq!(err(&d), TariffError::UnknownRate { rate: 3 });
        let mut d = base();
        d.tou.as_mut().unwrap().seasons = vec![SeasonDef {
            from: MonthDay::new(1, 1).unwrap(),
            day_table: Some(9),
            saturday: None,
            sunday: None,
            week: None,
        }];
        assert_eq!(err(&d), TariffError::UnknownDayTable { day_table: 9 });
        let mut d = base();
        d.tou.as_mut().unwrap().special_days = vec![SpecialDayDef {
            date: "10-01".into(),
            day_table: 2,
            name: None,
        }];
        assert_eq!(err(&d), TariffError::UnknownDayTable { day_table: 2 });
        let mut d = base();
        d.tou.as_mut().unwrap().special_days = vec![SpecialDayDef {
            date: "2024-02-30".into(),
            day_table: 1,
            name: None,
        }];
        assert!(matches!(err(&d), TariffError::Calendar(_)));
        let mut d = base();
        d.tou.as_mut().unwrap().rates.push(RateDef {
            id: 1,
            name: None,
            price: Price::ZERO,
        });
        assert_eq!(
            err(&d),
            TariffError::DuplicateId {
                table: Table::Rates,
                id: 1
            }
        );
    }

    #[test]
    fn prices_steps_settlement() {
        let mut d = base();
        d.tou.as_mut().unwrap().rates[0].price = Price::parse("-0.1").unwrap();
        assert_eq!(err(&d), TariffError::NegativePrice(Table::Rates));
        let kwh = |s: &str| Energy::parse(s).unwrap();
        let mut d = base();
        d.steps = Some(StepsDef {
            boundaries: vec![kwh("4800"), kwh("2760")],
            prices: vec![Price::ZERO; 3],
            settlement: SettlementDef::Monthly { day: 1, hour: 0 },
        });
        assert_eq!(err(&d), TariffError::UnsortedSteps { index: 1 });
        d.steps.as_mut().unwrap().boundaries = vec![kwh("2760"), kwh("4800")];
        d.steps.as_mut().unwrap().settlement = SettlementDef::Monthly { day: 29, hour: 0 };
        assert_eq!(
            err(&d),
            TariffError::BadSettlementDate {
                month: 0,
                day: 29,
                hour: 0
            }
        );
        d.steps.as_mut().unwrap().settlement = SettlementDef::Yearly(vec![SettlementDateDef {
            month: 13,
            day: 1,
            hour: 0,
        }]);
        assert_eq!(
            err(&d),
            TariffError::BadSettlementDate {
                month: 13,
                day: 1,
                hour: 0
            }
        );
        d.steps.as_mut().unwrap().settlement = SettlementDef::Yearly(vec![SettlementDateDef {
            month: 1,
            day: 1,
            hour: 0,
        }]);
        assert!(TariffSet::try_from(&d).is_ok());
        d.price = Some(Price::parse("1").unwrap());
        assert_eq!(err(&d), TariffError::PricingChoice);
    }

    #[test]
    fn levies_multiplier_and_passive() {
        let mut d = TariffDef {
            price: Some(Price::parse("25").unwrap()),
            ..TariffDef::default()
        };
        d.levies = vec![LevyDef {
            name: Some("VAT".into()),
            percent: "16".into(),
            on_standing_charge: true,
        }];
        d.ct = Some(40);
        let set = TariffSet::try_from(&d).unwrap();
        assert_eq!(set.current().levies()[0].ppm(), 160_000);
        assert_eq!(set.current().multiplier_factor(), 40);
        d.levies[0].percent = "16.00001".into();
        assert_eq!(err(&d), TariffError::BadLevy { index: 0 });
        d.levies[0].percent = "-1".into();
        assert_eq!(err(&d), TariffError::BadLevy { index: 0 });
        d.levies[0].percent = "16".into();
        d.pt = Some(0);
        assert_eq!(err(&d), TariffError::BadMultiplier);
        d.pt = None;
        let mut inner = d.clone();
        inner.passive = Some(alloc::boxed::Box::new(PassiveDef {
            activation: "2025-01-01".parse().unwrap(),
            tariff: TariffDef::default(),
        }));
        d.passive = Some(alloc::boxed::Box::new(PassiveDef {
            activation: "2025-01-01".parse().unwrap(),
            tariff: inner,
        }));
        let e = TariffSet::try_from(&d).unwrap_err();
        assert_eq!(
            e,
            DefError {
                in_passive: true,
                error: TariffError::NestedPassive
            }
        );
        assert_eq!(
            e.to_string(),
            "passive tariff: a passive tariff cannot have its own passive tariff"
        );
    }
}
