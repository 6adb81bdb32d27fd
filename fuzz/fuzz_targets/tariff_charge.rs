//! Charge sequences against stepped time-of-use tariffs built from arbitrary input through the
//! heap-free constructors. Every charge is done twice: on one state in one piece, on a second
//! state split in two at an arbitrary point (same time). Invariants: both states always agree
//! (money to the last quantum, period energy, carries), charges are never negative, and a
//! balance debited with every charge conserves money exactly.
#![no_main]

use amikit_tariff::{
    Balance, ChargeState, Date, DateTime, DayTable, DayTableId, DebtRecovery, Energy, Levy, Money,
    MonthDay, Multiplier, OrderNo, Period, Price, Rate, Season, Settlement, SettlementDate,
    StepTable, Tariff, TimeOfDay, TouTable,
};
use arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;

fn tariff(u: &mut Unstructured<'_>) -> Result<Option<Tariff>> {
    let rates: Vec<Option<Price>> = (0..4)
        .map(|_| {
            Ok(Some(Price::from_raw(i64::from(
                u.int_in_range(0..=100_000)?,
            ))))
        })
        .collect::<Result<_>>()?;
    let mut starts: Vec<u16> = (0..u.int_in_range(1..=14)?)
        .map(|_| u.int_in_range(0..=1439))
        .collect::<Result<_>>()?;
    starts.sort_unstable();
    starts.dedup();
    let periods: Vec<Period> = starts
        .iter()
        .map(|m| {
            Ok(Period {
                start: TimeOfDay::new((m / 60) as u8, (m % 60) as u8)
                    .unwrap_or(TimeOfDay::MIDNIGHT),
                rate: Rate::try_from(u.int_in_range(1..=4)?).unwrap_or(Rate::FLAT),
            })
        })
        .collect::<Result<_>>()?;
    let Ok(day) = DayTable::new(&periods) else {
        return Ok(None);
    };
    let one = DayTableId::try_from(1).unwrap_or_else(|_| unreachable!());
    let Ok(jan1) = MonthDay::new(1, 1) else {
        return Ok(None);
    };
    let Ok(tou) = TouTable::new(&rates, &[day], &[Season::every_day(jan1, one)], &[]) else {
        return Ok(None);
    };
    let mut t = if u.arbitrary()? {
        Tariff::tou(tou)
    } else {
        match Tariff::flat(Price::from_raw(i64::from(u.int_in_range(0..=100_000)?))) {
            Ok(t) => t,
            Err(_) => return Ok(None),
        }
    };
    if u.arbitrary()? {
        let mut b: Vec<i64> = (0..u.int_in_range(0..=6)?)
            .map(|_| Ok(i64::from(u.int_in_range(1..=5_000_000)?)))
            .collect::<Result<_>>()?;
        b.sort_unstable();
        b.dedup();
        let bounds: Vec<Energy> = b.into_iter().map(Energy::from_wh).collect();
        let prices: Vec<Price> = (0..=bounds.len())
            .map(|_| Ok(Price::from_raw(i64::from(u.int_in_range(0..=50_000)?))))
            .collect::<Result<_>>()?;
        let settlement = if u.arbitrary()? {
            Settlement::monthly(u.int_in_range(1..=28)?, u.int_in_range(0..=23)?)
        } else {
            SettlementDate::new(u.int_in_range(1..=12)?, u.int_in_range(1..=28)?, 0)
                .and_then(|d| Settlement::yearly(&[d]))
        };
        if let Ok(s) = settlement.and_then(|s| StepTable::new(&bounds, &prices, s)) {
            t = t.with_steps(s);
        }
    }
    for _ in 0..u.int_in_range(0..=3)? {
        if let Ok(l) = Levy::new(u.int_in_range(0..=500_000)?, false) {
            t = t.with_levy(l).unwrap_or_else(|_| unreachable!());
        }
    }
    if u.ratio(1, 4)? {
        t = t.with_multiplier(
            Multiplier::new(u.int_in_range(1..=500)?, u.int_in_range(1..=100)?).ok(),
        );
    }
    Ok(Some(t))
}

#[derive(Debug, Arbitrary)]
struct Step {
    advance_minutes: u16,
    wh: u32,
    split_per_mille: u16,
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let Some(t) = tariff(u)? else { return Ok(()) };
    let start = Date::from_days_since_epoch(u.int_in_range(10_000..=30_000)?)
        .unwrap_or_else(|_| unreachable!())
        .midnight();
    let used = Energy::from_wh(u.int_in_range(0..=6_000_000)?);
    let mut whole = ChargeState::with_period_energy(used, start);
    let mut split = whole.clone();
    let mut balance: Balance<4> = Balance::new(DebtRecovery::Full);
    let opening = Money::from_raw(i64::from(u.int_in_range(1..=i32::MAX)?));
    let _ = balance.top_up(OrderNo(0), opening);
    let mut debited = Money::ZERO;
    let mut minutes = start.seconds_since_epoch() / 60;
    let steps: Vec<Step> = u.arbitrary()?;
    for s in steps.iter().take(256) {
        minutes += i64::from(s.advance_minutes);
        let day = (minutes.div_euclid(1440)) as i32;
        let Ok(date) = Date::from_days_since_epoch(day) else {
            break;
        };
        let mod_ = minutes.rem_euclid(1440);
        let at = DateTime::at(
            date,
            TimeOfDay::new((mod_ / 60) as u8, (mod_ % 60) as u8).unwrap_or(TimeOfDay::MIDNIGHT),
        );
        let e = Energy::from_wh(i64::from(s.wh));
        let a = Energy::from_wh(i64::from(s.wh) * i64::from(s.split_per_mille.min(1000)) / 1000);
        let b = Energy::from_wh(e.wh() - a.wh());
        let c = t
            .charge(&mut whole, at, e)
            .unwrap_or_else(|err| panic!("{err}"));
        let c1 = t
            .charge(&mut split, at, a)
            .unwrap_or_else(|err| panic!("{err}"));
        let c2 = t
            .charge(&mut split, at, b)
            .unwrap_or_else(|err| panic!("{err}"));
        assert!(!c.total.is_negative());
        assert_eq!(
            Some(c.total),
            c1.total.checked_add(c2.total).ok(),
            "split charge differs at {at}"
        );
        assert_eq!(whole.period_energy(), split.period_energy());
        assert_eq!(whole.snapshot().carry, split.snapshot().carry);
        assert_eq!(whole.snapshot().levy_carries, split.snapshot().levy_carries);
        if balance.charge(c.total).is_ok() {
            debited = debited.checked_add(c.total).unwrap_or(debited);
        }
    }
    assert_eq!(balance.credit().checked_add(debited).ok(), Some(opening));
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = run(&mut u);
});
