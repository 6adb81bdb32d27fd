//! The cost of the master station's plausibility checks per register reading (issue 11):
//! `plausible_delta` (register delta, rollover rule and the maximum-demand bound) against the
//! bare register delta the station computed before the checks existed, in the same run.
#![allow(missing_docs)]

use std::hint::black_box;

use amikit_station::master::billing::{plausible_delta, register};
use amikit_tariff::Energy;
use criterion::{Criterion, criterion_group, criterion_main};

/// 1 000 readings 15 minutes apart, 0–2 kWh each, the last one a rollover past 10^6 kWh.
fn readings() -> Vec<(i64, Energy)> {
    let mut wh = 999_000_000_i64;
    (0..1000_i64)
        .map(|i| {
            wh = (wh + (i * 7919) % 2000) % 1_000_000_000;
            (i * 900, Energy::from_wh(wh))
        })
        .collect()
}

fn checks(c: &mut Criterion) {
    let rs = readings();
    let margin = Energy::from_wh(1000);
    let reg = register();
    let mut g = c.benchmark_group("reading_checks_per_1000");
    g.bench_function("bare_register_delta", |b| {
        b.iter(|| {
            let mut total = 0_i64;
            for w in rs.windows(2) {
                if let [(_, e0), (_, e1)] = w
                    && let Ok(d) = reg.delta(*e0, *e1)
                {
                    total += d.wh();
                }
            }
            black_box(total)
        });
    });
    g.bench_function("plausible_delta", |b| {
        b.iter(|| {
            let mut total = 0_i64;
            for w in rs.windows(2) {
                if let [(t0, e0), (t1, e1)] = w
                    && let Ok(d) = plausible_delta(*e0, *t0, *e1, *t1, 40_000, margin)
                {
                    total += d.wh();
                }
            }
            black_box(total)
        });
    });
    g.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
