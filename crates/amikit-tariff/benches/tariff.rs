//! Charging interval readings against a stepped time-of-use tariff (amikit-tariff).
//!
//! `cargo bench -p amikit-tariff`. Throughput is in readings (elements) per second.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use amikit_tariff::{
    ChargeState, DateTime, DayTable, DayTableId, Energy, Levy, Money, MonthDay, Period, Price,
    Rate, Season, Settlement, SettlementDate, StepTable, Tariff, TouTable,
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const READINGS: usize = 1_000_000;

/// Four rates (sharp/peak/flat/valley), six periods a day, weekends on a second table, a
/// summer season, annual steps at 2760/4800 kWh, 13 % VAT.
fn stepped_tou() -> Tariff {
    let p = |s: &str| Price::parse(s).unwrap();
    let at = |s: &str| s.parse().unwrap();
    let r = |n| Rate::try_from(n).unwrap();
    let workday = DayTable::new(&[
        Period {
            start: at("00:00"),
            rate: r(4),
        },
        Period {
            start: at("08:00"),
            rate: r(2),
        },
        Period {
            start: at("11:00"),
            rate: r(1),
        },
        Period {
            start: at("13:00"),
            rate: r(2),
        },
        Period {
            start: at("17:00"),
            rate: r(3),
        },
        Period {
            start: at("22:00"),
            rate: r(4),
        },
    ])
    .unwrap();
    let weekend = DayTable::new(&[
        Period {
            start: at("08:00"),
            rate: r(3),
        },
        Period {
            start: at("22:00"),
            rate: r(4),
        },
    ])
    .unwrap();
    let (one, two) = (
        DayTableId::try_from(1).unwrap(),
        DayTableId::try_from(2).unwrap(),
    );
    let tou = TouTable::new(
        &[
            Some(p("0.9")),
            Some(p("0.7")),
            Some(p("0.5")),
            Some(p("0.3")),
        ],
        &[workday, weekend],
        &[
            Season {
                start: MonthDay::new(1, 1).unwrap(),
                week: [one, one, one, one, one, two, two],
            },
            Season {
                start: MonthDay::new(7, 1).unwrap(),
                week: [one, one, one, one, one, one, two],
            },
            Season {
                start: MonthDay::new(9, 1).unwrap(),
                week: [one, one, one, one, one, two, two],
            },
        ],
        &[],
    )
    .unwrap();
    let steps = StepTable::new(
        &[
            Energy::parse("2760").unwrap(),
            Energy::parse("4800").unwrap(),
        ],
        &[p("0"), p("0.05"), p("0.3")],
        Settlement::yearly(&[SettlementDate::new(1, 1, 0).unwrap()]).unwrap(),
    )
    .unwrap();
    Tariff::tou(tou)
        .with_steps(steps)
        .with_levy(Levy::new(130_000, false).unwrap())
        .unwrap()
}

/// `n` readings `step_s` seconds apart from 2000-01-01, with deltas 0..=`max_wh` Wh.
fn readings(n: usize, step_s: i64, max_wh: i64) -> Vec<(DateTime, Energy)> {
    let mut out = Vec::with_capacity(n);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..n {
        let s = i as i64 * step_s;
        let date =
            amikit_tariff::Date::from_days_since_epoch(10_957 + (s / 86_400) as i32).unwrap();
        let sod = s % 86_400;
        let at = DateTime::new(
            date.year(),
            date.month(),
            date.day(),
            (sod / 3600) as u8,
            (sod % 3600 / 60) as u8,
            (sod % 60) as u8,
        )
        .unwrap();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push((at, Energy::from_wh((x % (max_wh as u64 + 1)) as i64)));
    }
    out
}

fn charge_all(t: &Tariff, st: &mut ChargeState, rs: &[(DateTime, Energy)]) -> Money {
    let mut total = Money::ZERO;
    for (at, e) in rs {
        let c = t.charge(st, *at, *e).unwrap();
        total = total.checked_add(c.total).unwrap();
    }
    total
}

fn bench(c: &mut Criterion) {
    let tariff = stepped_tou();
    let mut g = c.benchmark_group("tariff_charge");
    g.throughput(Throughput::Elements(READINGS as u64));
    g.sample_size(20);

    // Head-end: 15-minute interval readings of 0-300 Wh over 28.5 years (every TOU boundary,
    // weekend, season and yearly settlement is crossed).
    let interval = readings(READINGS, 900, 300);
    let expect = charge_all(&tariff, &mut ChargeState::new(), &interval);
    g.bench_function("stepped_tou_15min_readings", |b| {
        b.iter_batched_ref(
            ChargeState::new,
            |st| {
                let total = charge_all(black_box(&tariff), st, black_box(&interval));
                assert_eq!(total, expect);
            },
            BatchSize::SmallInput,
        )
    });

    // Meter side: one 0-10 Wh quantum per second (11.6 days).
    let quanta = readings(READINGS, 1, 10);
    let expect = charge_all(&tariff, &mut ChargeState::new(), &quanta);
    g.bench_function("stepped_tou_1s_quanta", |b| {
        b.iter_batched_ref(
            ChargeState::new,
            |st| {
                let total = charge_all(black_box(&tariff), st, black_box(&quanta));
                assert_eq!(total, expect);
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
