//! Tariff definitions from arbitrary input: a `TariffDef` built field by field from the fuzzer's
//! bytes (any ids, times, prices, steps, settlements, levies, CT/PT, passive tariffs) is
//! validated; a valid one is then charged, quoted and accrued over an arbitrary sequence. Also
//! feeds arbitrary text to every quantity and calendar parser. Invariants: no panic, charges
//! and quotes never negative, a money quote never exceeds the money and is what a fresh charge
//! of its energy debits, and every parsed value prints back to itself.
#![no_main]

use amikit_tariff::def::{
    DayTableDef, LevyDef, PassiveDef, PeriodDef, RateDef, SeasonDef, SettlementDateDef,
    SettlementDef, SpecialDayDef, StepsDef, TariffDef, TouDef,
};
use amikit_tariff::{
    ChargeState, Date, DateTime, Energy, Money, MonthDay, Price, Rounding, StandingCharge,
    TariffSet, TimeOfDay,
};
use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

fn tod(u: &mut Unstructured<'_>) -> Result<TimeOfDay> {
    // Mostly on the hour so that periods line up; sometimes any minute.
    let h = u.int_in_range(0..=23)?;
    let m = if u.ratio(1, 4)? {
        u.int_in_range(0..=59)?
    } else {
        0
    };
    Ok(TimeOfDay::new(h, m).unwrap_or(TimeOfDay::MIDNIGHT))
}

fn month_day(u: &mut Unstructured<'_>) -> Result<MonthDay> {
    let m = u.int_in_range(1..=12)?;
    let d = u.int_in_range(1..=31)?;
    Ok(MonthDay::new(m, d).unwrap_or(MonthDay::new(m, 1).unwrap_or_else(|_| unreachable!())))
}

fn price(u: &mut Unstructured<'_>) -> Result<Price> {
    Ok(Price::from_raw(if u.ratio(1, 16)? {
        u.arbitrary()?
    } else {
        i64::from(u.int_in_range(-10..=200_000)?)
    }))
}

fn energy(u: &mut Unstructured<'_>) -> Result<Energy> {
    Ok(Energy::from_wh(if u.ratio(1, 16)? {
        u.arbitrary()?
    } else {
        i64::from(u.int_in_range(-10..=10_000_000)?)
    }))
}

fn small_id(u: &mut Unstructured<'_>) -> Result<u8> {
    if u.ratio(1, 8)? {
        u.arbitrary()
    } else {
        u.int_in_range(1..=4)
    }
}

fn tariff_def(u: &mut Unstructured<'_>, depth: u8) -> Result<TariffDef> {
    let mut def = TariffDef::default();
    if u.arbitrary()? {
        def.price = Some(price(u)?);
    }
    if !u.arbitrary::<bool>()? || def.price.is_none() {
        let mut tou = TouDef::default();
        for _ in 0..u.int_in_range(0..=5)? {
            tou.rates.push(RateDef {
                id: small_id(u)?,
                name: None,
                price: price(u)?,
            });
        }
        for _ in 0..u.int_in_range(0..=3)? {
            let mut periods = Vec::new();
            for _ in 0..u.int_in_range(0..=16)? {
                periods.push(PeriodDef {
                    from: tod(u)?,
                    to: tod(u)?,
                    rate: small_id(u)?,
                });
            }
            tou.day_tables.push(DayTableDef {
                id: small_id(u)?,
                periods,
            });
        }
        for _ in 0..u.int_in_range(0..=4)? {
            tou.seasons.push(SeasonDef {
                from: month_day(u)?,
                day_table: if u.arbitrary()? {
                    Some(small_id(u)?)
                } else {
                    None
                },
                saturday: if u.arbitrary()? {
                    Some(small_id(u)?)
                } else {
                    None
                },
                sunday: if u.arbitrary()? {
                    Some(small_id(u)?)
                } else {
                    None
                },
                week: if u.ratio(1, 4)? {
                    Some(u.arbitrary()?)
                } else {
                    None
                },
            });
        }
        for _ in 0..u.int_in_range(0..=4)? {
            tou.special_days.push(SpecialDayDef {
                date: u.arbitrary::<&str>()?.chars().take(12).collect(),
                day_table: small_id(u)?,
                name: None,
            });
        }
        def.tou = Some(tou);
    }
    if u.arbitrary()? {
        let mut boundaries = Vec::new();
        for _ in 0..u.int_in_range(0..=7)? {
            boundaries.push(energy(u)?);
        }
        let mut prices = Vec::new();
        for _ in 0..u.int_in_range(0..=8)? {
            prices.push(price(u)?);
        }
        let settlement = if u.arbitrary()? {
            SettlementDef::Monthly {
                day: u.int_in_range(0..=30)?,
                hour: u.int_in_range(0..=25)?,
            }
        } else {
            let mut d = Vec::new();
            for _ in 0..u.int_in_range(0..=5)? {
                d.push(SettlementDateDef {
                    month: u.int_in_range(0..=13)?,
                    day: u.int_in_range(0..=30)?,
                    hour: u.int_in_range(0..=25)?,
                });
            }
            SettlementDef::Yearly(d)
        };
        def.steps = Some(StepsDef {
            boundaries,
            prices,
            settlement,
        });
    }
    if u.arbitrary()? {
        let m = Money::from_raw(i64::from(u.int_in_range(-10..=2_000_000)?));
        def.standing_charge = Some(match u.int_in_range(0..=2)? {
            0 => StandingCharge::PerDay(m),
            1 => StandingCharge::PerWeek(m),
            _ => StandingCharge::PerMonth(m),
        });
    }
    for _ in 0..u.int_in_range(0..=5)? {
        def.levies.push(LevyDef {
            name: None,
            percent: u.arbitrary::<&str>()?.chars().take(12).collect(),
            on_standing_charge: u.arbitrary()?,
        });
    }
    if u.ratio(1, 4)? {
        def.ct = Some(u.int_in_range(0..=1000)?);
        def.pt = Some(u.int_in_range(0..=100)?);
    }
    if depth < 2 && u.ratio(1, 4)? {
        def.passive = Some(Box::new(PassiveDef {
            activation: time(u)?,
            tariff: tariff_def(u, depth + 1)?,
        }));
    }
    Ok(def)
}

fn time(u: &mut Unstructured<'_>) -> Result<DateTime> {
    let days = u.int_in_range(10_000..=30_000)?;
    let date = Date::from_days_since_epoch(days).unwrap_or_else(|_| unreachable!());
    Ok(DateTime::new(
        date.year(),
        date.month(),
        date.day(),
        u.int_in_range(0..=23)?,
        u.int_in_range(0..=59)?,
        0,
    )
    .unwrap_or_else(|_| unreachable!()))
}

fn parsers(text: &str) {
    if let Ok(m) = Money::parse(text) {
        assert_eq!(Money::parse(&m.to_string()), Ok(m));
    }
    for r in [
        Rounding::HalfUp,
        Rounding::HalfEven,
        Rounding::Up,
        Rounding::Down,
    ] {
        let _ = Money::parse_rounded(text, r);
    }
    if let Ok(e) = Energy::parse(text) {
        assert_eq!(Energy::parse(&e.to_string()), Ok(e));
    }
    if let Ok(t) = text.parse::<DateTime>() {
        assert_eq!(t.to_string().parse::<DateTime>(), Ok(t));
    }
    let _ = text.parse::<Date>();
    let _ = text.parse::<MonthDay>();
    let _ = text.parse::<TimeOfDay>();
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let text: &str = u.arbitrary()?;
    parsers(text);
    let def = tariff_def(u, 0)?;
    let Ok(set) = TariffSet::try_from(&def) else {
        return Ok(());
    };
    let mut at = time(u)?;
    let used = Energy::from_wh(u.int_in_range(0..=10_000_000)?);
    let mut state = ChargeState::with_period_energy(used, at);
    for _ in 0..u.int_in_range(0..=64)? {
        let secs = i64::from(u.int_in_range(0..=200_000)?);
        let next = at.seconds_since_epoch() + secs;
        if let Ok(d) = Date::from_days_since_epoch((next.div_euclid(86_400)) as i32) {
            let s = next.rem_euclid(86_400);
            if let Ok(t) = DateTime::new(
                d.year(),
                d.month(),
                d.day(),
                (s / 3600) as u8,
                (s % 3600 / 60) as u8,
                (s % 60) as u8,
            ) {
                at = t;
            }
        }
        let e = energy(u)?;
        match u.int_in_range(0..=3)? {
            0 | 1 => {
                if let Ok(c) = set.charge(&mut state, at, e) {
                    assert!(!c.total.is_negative() && !c.levy_total.is_negative());
                }
            }
            2 => {
                let _ = set.accrue_standing(&mut state, at);
            }
            _ => {
                let money = Money::from_raw(i64::from(u.int_in_range(0..=i32::MAX)?));
                let period = state.period_energy();
                if let Ok(q) = set.quote_money(Some(at), period, money, Rounding::Down) {
                    assert!(q.total <= money);
                    let mut fresh = ChargeState::with_period_energy(period, at);
                    if let Ok(c) = set.active(at).charge(&mut fresh, at, q.energy) {
                        assert_eq!(c.total, q.total);
                    }
                }
                let _ = set.quote_energy(Some(at), period, e, Rounding::HalfUp);
            }
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = run(&mut u);
});
