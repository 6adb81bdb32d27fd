//! The master station's operator authentication (amikit-station `master::auth`): the cost an
//! API request pays to find its operator. A presented key is compared with every operator's
//! salted HMAC-SHA-256 (no early exit), so the cost grows with the number of operators.
//!
//! `cargo bench -p amikit-station --bench station_auth`. Throughput is in requests (elements) per second.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use amikit_station::master::auth::{Operators, Role, Source, new_operator};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn authenticate(c: &mut Criterion) {
    let mut g = c.benchmark_group("station_auth");
    g.throughput(Throughput::Elements(1));
    for n in [1usize, 4, 16] {
        let mut list = Vec::new();
        let mut last_key = None;
        for i in 0..n {
            let (op, key) =
                new_operator(&format!("op-{i}"), Role::Cashier, Source::Configured).unwrap();
            list.push(op);
            last_key = Some(key);
        }
        let ops = Operators::new(list).unwrap();
        let key = last_key.unwrap();
        let name = format!("op-{}", n - 1);
        g.bench_function(format!("valid key, {n} operators"), |b| {
            b.iter(|| {
                let p = ops.authenticate(black_box(key.expose())).unwrap();
                assert_eq!(p.name, name);
            });
        });
        let stranger = amikit_station::master::auth::ApiKey::generate().unwrap();
        g.bench_function(format!("unknown key, {n} operators"), |b| {
            b.iter(|| assert!(ops.authenticate(black_box(stranger.expose())).is_none()));
        });
    }
    g.finish();
}

criterion_group!(benches, authenticate);
criterion_main!(benches);
