//! Throughput of the transports, on one core (current-thread runtimes):
//!
//! * `dlt645_tcp_read`: `Client::read` of an energy register through loopback TCP against the
//!   in-process `MeterServer` (one bus: one request at a time; 8 buses: 8 in flight);
//! * `codec`: frames decoded per second by the two codecs from a buffer.
//!
//! `cargo bench -p amikit-io --bench io`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use amikit_dlt645::{Decimal, Di, Repr};
use amikit_io::codec::{Dlt645Codec, Dlt645Item, Gdw376Codec, Gdw376Item};
use amikit_io::dlt645::{Client, ClientConfig, MeterServer};
use bytes::BytesMut;
use common::{ENERGY, meter_address, meters, now};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio_util::codec::{Decoder, Encoder};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn buses(count: usize) -> Vec<Client> {
    let (meters, _) = meters(4);
    let server = MeterServer::new(meters).with_clock(|| Some(now()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(server.listen(listener));
    let mut clients = Vec::new();
    for _ in 0..count {
        clients.push(
            Client::connect_tcp(&addr, ClientConfig::tcp())
                .await
                .unwrap(),
        );
    }
    clients
}

fn dlt645_tcp_read(c: &mut Criterion) {
    let expected = Decimal::new(123_457, 2);
    let mut group = c.benchmark_group("dlt645_tcp_read");
    group.measurement_time(Duration::from_secs(5));
    for count in [1usize, 8] {
        let rt = runtime();
        let clients = rt.block_on(buses(count));
        group.throughput(Throughput::Elements(count as u64));
        group.bench_function(format!("{count}_bus"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    let mut tasks = Vec::new();
                    for client in &clients {
                        let client = client.clone();
                        tasks.push(tokio::spawn(async move {
                            for _ in 0..iters {
                                let r = client.read(meter_address(1), ENERGY).await.unwrap();
                                assert_eq!(r.number().unwrap(), expected);
                            }
                        }));
                    }
                    for t in tasks {
                        t.await.unwrap();
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();
}

/// The floor: a 16-byte request and a 20-byte answer echoed over loopback TCP by bare tasks
/// (no codec, no queue, no meter): what one round trip costs on this machine.
fn tcp_round_trip_baseline(c: &mut Criterion) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = runtime();
    let mut stream = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = [0u8; 16];
            while s.read_exact(&mut buf).await.is_ok() {
                if s.write_all(&[0u8; 20]).await.is_err() {
                    break;
                }
            }
        });
        let s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        s
    });
    let mut group = c.benchmark_group("dlt645_tcp_read");
    group.throughput(Throughput::Elements(1));
    group.bench_function("baseline_round_trip", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                let mut answer = [0u8; 20];
                for _ in 0..iters {
                    stream.write_all(&[0x68; 16]).await.unwrap();
                    stream.read_exact(&mut answer).await.unwrap();
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

/// A login (AFN 02 F1), as in the tests.
const LOGIN: [u8; 20] = [
    0x68, 0x32, 0x00, 0x32, 0x00, 0x68, 0xC9, 0x71, 0x01, 0x22, 0x08, 0x00, 0x02, 0x78, 0x00, 0x00,
    0x01, 0x00, 0xE0, 0x16,
];

fn codecs(c: &mut Criterion) {
    const FRAMES: usize = 64;
    let mut group = c.benchmark_group("codec");
    let request = Repr::read(meter_address(1), Di(0x0001_0000)).with_preamble(4);
    let mut dlt_stream = BytesMut::new();
    let mut enc = Dlt645Codec::new();
    for _ in 0..FRAMES {
        enc.encode(&request, &mut dlt_stream).unwrap();
    }
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.bench_function("dlt645_decode", |b| {
        let mut codec = Dlt645Codec::new();
        let mut buf = BytesMut::with_capacity(dlt_stream.len());
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(&dlt_stream);
            let mut frames = 0;
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                frames += usize::from(matches!(item, Dlt645Item::Frame(_)));
            }
            assert_eq!(frames, FRAMES);
        });
    });
    let gdw_stream: Vec<u8> = LOGIN
        .iter()
        .copied()
        .cycle()
        .take(LOGIN.len() * FRAMES)
        .collect();
    group.bench_function("gdw376_decode", |b| {
        let mut codec = Gdw376Codec::new();
        let mut buf = BytesMut::with_capacity(gdw_stream.len());
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(&gdw_stream);
            let mut frames = 0;
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                frames += usize::from(matches!(item, Gdw376Item::Frame(_)));
            }
            assert_eq!(frames, FRAMES);
        });
    });
    group.finish();
}

criterion_group!(benches, tcp_round_trip_baseline, dlt645_tcp_read, codecs);
criterion_main!(benches);
