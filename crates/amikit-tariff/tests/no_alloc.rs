//! Charging never allocates: a counting global allocator around the system one sees no
//! allocation during 100 000 charges against a stepped time-of-use tariff with a levy, across
//! rate boundaries, step boundaries and a settlement.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_tariff::{
    ChargeState, DateTime, DayTable, DayTableId, Energy, Levy, MonthDay, Period, Price, Rate,
    Season, Settlement, SettlementDate, StepTable, Tariff, TouTable,
};
use amikit_testkit::alloc::CountingAllocator;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

#[test]
fn charging_does_not_allocate() {
    let p = |s: &str| Price::parse(s).unwrap();
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
            Energy::from_units(2760).unwrap(),
            Energy::from_units(4800).unwrap(),
        ],
        &[p("0"), p("0.05"), p("0.3")],
        Settlement::yearly(&[SettlementDate::new(1, 1, 0).unwrap()]).unwrap(),
    )
    .unwrap();
    let tariff = Tariff::tou(tou)
        .with_steps(steps)
        .with_levy(Levy::new(130_000, false).unwrap())
        .unwrap();
    let times: Vec<DateTime> = (0..100_000u32)
        .map(|i| {
            let minutes = i * 15; // 15-minute readings from 2024-11-01 for ~2.9 years
            let date = amikit_tariff::Date::from_days_since_epoch(20_028 + (minutes / 1440) as i32)
                .unwrap();
            let m = minutes % 1440;
            DateTime::new(
                date.year(),
                date.month(),
                date.day(),
                (m / 60) as u8,
                (m % 60) as u8,
                0,
            )
            .unwrap()
        })
        .collect();
    let mut state = ChargeState::with_period_energy(Energy::from_units(4700).unwrap(), times[0]);
    let before = ALLOC.allocations();
    let mut settled = 0;
    for at in &times {
        let c = tariff
            .charge(&mut state, *at, Energy::from_wh(250))
            .unwrap();
        settled += usize::from(c.settled);
    }
    let after = ALLOC.allocations();
    assert_eq!(after - before, 0, "charging allocated");
    assert!(settled >= 2, "the run crossed {settled} settlements");
}
