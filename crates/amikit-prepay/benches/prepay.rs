//! Charge-control engine throughput: events per second through `Engine::handle` for a State
//! Grid local fee-control meter priced by a stepped time-of-use tariff (`amikit-tariff`), and
//! for the master-station profile. Each run asserts the final balance and that no event
//! allocated.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use amikit_prepay::{
    CommandKind, Engine, Input, Money, Outputs, Profile, PurchaseId, Remote, TariffPricer,
    Timestamp, TopUpSource,
};
use amikit_tariff::{
    ChargeState, DayTable, DayTableId, Energy, MonthDay, Period, Price, Rate, Season, Settlement,
    SettlementDate, StepTable, Tariff, TouTable,
};
use amikit_testkit::alloc::CountingAllocator;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// Peak 0.568 from 08:00, valley 0.288 from 22:00, annual steps at 2760 / 4800 kWh adding
/// 0.05 / 0.30 (the tariff crate's README example).
fn tariff() -> Tariff {
    let p = |s| Price::parse(s).unwrap();
    let day = DayTable::new(&[
        Period {
            start: "08:00".parse().unwrap(),
            rate: Rate::PEAK,
        },
        Period {
            start: "22:00".parse().unwrap(),
            rate: Rate::VALLEY,
        },
    ])
    .unwrap();
    let tou = TouTable::new(
        &[None, Some(p("0.568")), None, Some(p("0.288"))],
        &[day],
        &[Season::every_day(
            MonthDay::new(1, 1).unwrap(),
            DayTableId::try_from(1).unwrap(),
        )],
        &[],
    )
    .unwrap();
    let steps = StepTable::new(
        &[
            Energy::parse("2760").unwrap(),
            Energy::parse("4800").unwrap(),
        ],
        &[p("0"), p("0.05"), p("0.30")],
        Settlement::yearly(&[SettlementDate::new(1, 1, 0).unwrap()]).unwrap(),
    )
    .unwrap();
    Tariff::tou(tou).with_steps(steps)
}

const EVENTS: usize = 100_000;

/// A week of a meter's life: a 10 Wh consumption pulse every few seconds, power samples, a tick
/// a minute, a remote alarm and a top-up now and then (every 10 000th event).
fn events() -> Vec<(Timestamp, Input)> {
    let start = Timestamp(1_767_571_200); // 2026-01-05 00:00
    (0..EVENTS)
        .map(|i| {
            let now = start.plus(u32::try_from(i * 6).unwrap());
            let input = match i % 10 {
                _ if i % 10_000 == 9_999 => Input::TopUp {
                    amount: Money::parse("50").unwrap(),
                    id: PurchaseId::Sequence(u32::try_from(i / 10_000 + 1).unwrap()),
                    source: TopUpSource::Remote,
                },
                _ if i % 10_000 == 5_000 => Input::Remote(Remote {
                    kind: CommandKind::Alarm,
                    expires: now.plus(600),
                    operator: 1,
                }),
                0..=5 => Input::Consume {
                    energy: Energy::from_wh(10),
                },
                6 | 7 => Input::Load {
                    watts: 1500 + u32::try_from(i % 4000).unwrap(),
                },
                8 => Input::Tick,
                _ => Input::Consume {
                    energy: Energy::from_wh(20),
                },
            };
            (now, input)
        })
        .collect()
}

fn run(
    engine: &mut Engine,
    tariff: &Tariff,
    state: &mut ChargeState,
    events: &[(Timestamp, Input)],
) -> usize {
    let mut out = Outputs::new();
    let mut n = 0;
    let mut pricer = TariffPricer::new(tariff, state);
    for (now, input) in events {
        out.clear();
        engine.handle(*now, input.clone(), &mut pricer, &mut out);
        n += out.len();
    }
    n
}

fn bench(c: &mut Criterion) {
    let tariff = tariff();
    let events = events();
    let mut g = c.benchmark_group("prepay");
    g.throughput(Throughput::Elements(EVENTS as u64));
    for profile in [Profile::StateGridLocal, Profile::StateGridRemote] {
        let engine = Engine::new(profile.config(), Money::parse("100").unwrap()).unwrap();
        // Reference run: the expected result.
        let (mut e, mut st) = (engine.clone(), ChargeState::new());
        let outputs = run(&mut e, &tariff, &mut st, &events);
        let expected = (e.status().net, e.status().credit, outputs);
        g.bench_function(format!("engine_{}", profile.name()), |b| {
            b.iter_batched_ref(
                || (engine.clone(), ChargeState::new()),
                |(e, st)| {
                    let before = ALLOC.allocations();
                    let n = run(e, &tariff, st, black_box(&events));
                    assert_eq!(ALLOC.allocations(), before, "an event allocated");
                    assert_eq!((e.status().net, e.status().credit, n), expected);
                },
                BatchSize::LargeInput,
            );
        });
    }
    // The engine alone (nothing priced): its own cost per event.
    {
        use amikit_prepay::NoCharge;
        let engine = Engine::new(
            Profile::StateGridLocal.config(),
            Money::parse("100").unwrap(),
        )
        .unwrap();
        g.bench_function("engine_only_nocharge", |b| {
            b.iter_batched_ref(
                || engine.clone(),
                |e| {
                    let mut out = Outputs::new();
                    for (now, input) in black_box(&events) {
                        out.clear();
                        e.handle(*now, input.clone(), &mut NoCharge, &mut out);
                    }
                },
                BatchSize::LargeInput,
            );
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
