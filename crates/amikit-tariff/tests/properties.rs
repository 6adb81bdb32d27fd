//! Properties of charging, quoting and balances over generated tariffs (proptest).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_tariff::{
    Applied, Balance, BalanceError, ChargeState, DateTime, DayTable, DayTableId, DebtRecovery,
    Energy, Levy, Money, MonthDay, Multiplier, OrderNo, Period, Price, Rate, RecoveryPeriod,
    Rounding, Season, Settlement, SettlementDate, StepTable, Tariff, TimeOfDay, TouTable,
};
use proptest::prelude::*;

/// A flat or time-of-use tariff with optional steps, levies and multiplier.
fn tariff() -> impl Strategy<Value = Tariff> {
    let prices = proptest::collection::vec(0i64..20_000, 4);
    let day = proptest::collection::btree_map(0u16..1440, 1u8..=4, 1..=14);
    let steps = proptest::option::of((
        proptest::collection::btree_set(1i64..10_000_000, 0..=6),
        proptest::collection::vec(0i64..5_000, 7),
        any::<bool>(),
    ));
    let levies = proptest::collection::vec((0u32..300_000, any::<bool>()), 0..=2);
    let mult = proptest::option::of((1u32..50, 1u32..10));
    (any::<bool>(), prices, day, steps, levies, mult).prop_map(
        |(flat, prices, day, steps, levies, mult)| {
            let mut t = if flat {
                Tariff::flat(Price::from_raw(prices[0])).unwrap()
            } else {
                let periods: Vec<Period> = day
                    .iter()
                    .map(|(m, r)| Period {
                        start: TimeOfDay::new((m / 60) as u8, (m % 60) as u8).unwrap(),
                        rate: Rate::try_from(*r).unwrap(),
                    })
                    .collect();
                let rates: Vec<Option<Price>> =
                    prices.iter().map(|p| Some(Price::from_raw(*p))).collect();
                let tou = TouTable::new(
                    &rates,
                    &[DayTable::new(&periods).unwrap()],
                    &[Season::every_day(
                        MonthDay::new(1, 1).unwrap(),
                        DayTableId::try_from(1).unwrap(),
                    )],
                    &[],
                )
                .unwrap();
                Tariff::tou(tou)
            };
            if let Some((bounds, sp, monthly)) = steps {
                let b: Vec<Energy> = bounds.iter().map(|w| Energy::from_wh(*w)).collect();
                let p: Vec<Price> = sp[..=b.len()].iter().map(|x| Price::from_raw(*x)).collect();
                let s = if monthly {
                    Settlement::monthly(1, 0).unwrap()
                } else {
                    Settlement::yearly(&[SettlementDate::new(1, 1, 0).unwrap()]).unwrap()
                };
                t = t.with_steps(StepTable::new(&b, &p, s).unwrap());
            }
            for (ppm, on_sc) in levies {
                t = t.with_levy(Levy::new(ppm, on_sc).unwrap()).unwrap();
            }
            if let Some((ct, pt)) = mult {
                t = t.with_multiplier(Some(Multiplier::new(ct, pt).unwrap()));
            }
            t
        },
    )
}

fn time() -> impl Strategy<Value = DateTime> {
    (2000u16..2100, 1u8..=12, 1u8..=28, 0u8..24, 0u8..60)
        .prop_map(|(y, mo, d, h, mi)| DateTime::new(y, mo, d, h, mi, 0).unwrap())
}

fn rounding() -> impl Strategy<Value = Rounding> {
    prop_oneof![
        Just(Rounding::HalfUp),
        Just(Rounding::HalfEven),
        Just(Rounding::Up),
        Just(Rounding::Down),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// More energy never costs less: quotes (any rounding) and charges.
    #[test]
    fn cost_is_monotone_in_energy(
        t in tariff(), at in time(), used in 0i64..12_000_000,
        a in 0i64..5_000_000, b in 0i64..5_000_000, r in rounding(),
    ) {
        let (lo, hi) = (a.min(b), a.max(b));
        let used = Energy::from_wh(used);
        let q_lo = t.quote_energy(Some(at), used, Energy::from_wh(lo), r).unwrap();
        let q_hi = t.quote_energy(Some(at), used, Energy::from_wh(hi), r).unwrap();
        prop_assert!(q_lo.total <= q_hi.total);
        let mut s1 = ChargeState::with_period_energy(used, at);
        let mut s2 = s1.clone();
        let c_lo = t.charge(&mut s1, at, Energy::from_wh(lo)).unwrap();
        let c_hi = t.charge(&mut s2, at, Energy::from_wh(hi)).unwrap();
        prop_assert!(c_lo.total <= c_hi.total);
        // and the lines of a quote add up to its totals
        let sum: i64 = q_hi.lines.iter().map(|l| l.amount.raw()).sum();
        prop_assert_eq!(sum, q_hi.total.raw());
    }

    /// Splitting a delta anywhere (same time) gives the same money to the last quantum, on
    /// every line, and the same state.
    #[test]
    fn split_anywhere_same_total(
        t in tariff(), at in time(), used in 0i64..12_000_000,
        parts in proptest::collection::vec(0i64..400_000, 1..40),
    ) {
        let used = Energy::from_wh(used);
        let mut split = ChargeState::with_period_energy(used, at);
        let (mut cons, mut levies, mut total) = (Money::ZERO, Money::ZERO, Money::ZERO);
        for p in &parts {
            let c = t.charge(&mut split, at, Energy::from_wh(*p)).unwrap();
            cons = cons.checked_add(c.consumption).unwrap();
            levies = levies.checked_add(c.levy_total).unwrap();
            total = total.checked_add(c.total).unwrap();
        }
        let mut whole = ChargeState::with_period_energy(used, at);
        let c = t.charge(&mut whole, at, Energy::from_wh(parts.iter().sum())).unwrap();
        prop_assert_eq!((cons, levies, total), (c.consumption, c.levy_total, c.total));
        prop_assert_eq!(split.period_energy(), whole.period_energy());
        prop_assert_eq!(split.snapshot().carry, whole.snapshot().carry);
        prop_assert_eq!(split.snapshot().levy_carries, whole.snapshot().levy_carries);
    }

    /// quote(money -> energy) then charge(energy) never exceeds the money, the quote says
    /// exactly what is left, and one more Wh would not have fitted.
    #[test]
    fn quote_then_charge_fits(
        t in tariff(), at in time(), used in 0i64..12_000_000, money in 0i64..100_000_000_000,
    ) {
        let used = Energy::from_wh(used);
        let money = Money::from_raw(money);
        let q = match t.quote_money(Some(at), used, money, Rounding::Down) {
            Ok(q) => q,
            Err(amikit_tariff::QuoteError::ZeroPrice) => return Ok(()),
            Err(e) => panic!("{e}"),
        };
        let mut st = ChargeState::with_period_energy(used, at);
        let c = t.charge(&mut st, at, q.energy).unwrap();
        prop_assert_eq!(c.total, q.total);
        prop_assert!(c.total <= money);
        prop_assert_eq!(q.unspent, Some(money.checked_sub(c.total).unwrap()));
        let more = Energy::from_wh(q.energy.wh() + 1);
        let q2 = t.quote_energy(Some(at), used, more, Rounding::Down).unwrap();
        prop_assert!(q2.total > money, "one more Wh fits: {} <= {}", q2.total, money);
        // so what is left is less than the cost of that Wh
        prop_assert!(q.unspent.unwrap() < q2.total.checked_sub(q.total).unwrap());
    }
}

#[derive(Debug, Clone)]
enum Op {
    TopUp(u64, i64),
    Refund(u64, i64),
    Charge(i64),
    AddDebt(i64),
    Collect(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..12, 1i64..5_000_000).prop_map(|(o, a)| Op::TopUp(o, a)),
        (0u64..12, 1i64..5_000_000).prop_map(|(o, a)| Op::Refund(o, a)),
        (0i64..3_000_000).prop_map(Op::Charge),
        (1i64..2_000_000).prop_map(Op::AddDebt),
        (0u32..40).prop_map(Op::Collect),
    ]
}

fn recovery() -> impl Strategy<Value = DebtRecovery> {
    prop_oneof![
        Just(DebtRecovery::Full),
        (0u32..=1_000_000).prop_map(|ppm| DebtRecovery::PercentOfTopUp { ppm }),
        (0i64..500_000, any::<bool>()).prop_map(|(a, only)| DebtRecovery::FixedPerPeriod {
            amount: Money::from_raw(a),
            period: RecoveryPeriod::Day,
            only_from_credit: only,
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// credit − debt changes by exactly top-ups − refunds − charges − new debt, whatever the
    /// order, duplicates and recovery rule; receipts split each top-up exactly.
    #[test]
    fn balance_conserves_money(
        credit in -1_000_000i64..1_000_000, debt in 0i64..1_000_000, rule in recovery(),
        ops in proptest::collection::vec(op(), 0..80),
    ) {
        let mut b: Balance<8> =
            Balance::with_opening(Money::from_raw(credit), Money::from_raw(debt), rule).unwrap();
        let start = b.net().unwrap().raw();
        let mut flow: i64 = 0;
        let mut day = DateTime::new(2024, 1, 1, 0, 0, 0).unwrap();
        for op in ops {
            match op {
                Op::TopUp(o, a) => match b.top_up(OrderNo(o), Money::from_raw(a)) {
                    Ok(Applied::Applied(r)) => {
                        prop_assert_eq!(
                            r.to_overdraft.raw() + r.to_debt.raw() + r.to_credit.raw(), a
                        );
                        flow += a;
                    }
                    Ok(Applied::Duplicate) | Err(BalanceError::OrderConflict(_)) => {}
                    Err(e) => panic!("{e}"),
                },
                Op::Refund(o, a) => match b.refund(OrderNo(o), Money::from_raw(a)) {
                    Ok(Applied::Applied(_)) => flow -= a,
                    Ok(Applied::Duplicate)
                    | Err(BalanceError::OrderConflict(_) | BalanceError::InsufficientCredit) => {}
                    Err(e) => panic!("{e}"),
                },
                Op::Charge(a) => {
                    b.charge(Money::from_raw(a)).unwrap();
                    flow -= a;
                }
                Op::AddDebt(a) => {
                    b.add_debt(Money::from_raw(a)).unwrap();
                    flow -= a;
                }
                Op::Collect(days) => {
                    let d = amikit_tariff::Date::from_days_since_epoch(
                        day.date().days_since_epoch() + days as i32,
                    )
                    .unwrap();
                    day = d.midnight();
                    b.collect_debt(day).unwrap();
                }
            }
            prop_assert!(!b.debt().is_negative());
        }
        prop_assert_eq!(b.net().unwrap().raw() - start, flow);
    }
}
