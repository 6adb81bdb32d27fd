//! Throughput of the transports, on one core (current-thread runtimes):
//!
//! * `dlt645_tcp_read`: `Client::read` of an energy register through loopback TCP against the
//!   in-process `MeterServer` (one bus: one request at a time; 8 buses: 8 in flight);
//! * `gdw376_front_end`: frames (AFN 0C F25 requests and their responses) through the
//!   `FrontEnd` from in-process `TerminalDriver`s over loopback TCP;
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

/// The demo terminal's answer to AFN 0C F25.
struct F25;

impl amikit_gdw376::session::terminal::RequestHandler for F25 {
    fn read(
        &mut self,
        req: &amikit_gdw376::session::terminal::ItemRequest<'_>,
        out: &mut [u8],
    ) -> Result<usize, amikit_gdw376::session::terminal::Refusal> {
        use amikit_gdw376::units::{Realtime, UnitLayout as _, Writer};
        let mut rt = Realtime::default();
        rt.active_power[0] = amikit_gdw376::format::Format09::from_mantissa(11_173).ok();
        let mut w = Writer::new(out);
        rt.emit(&mut w)
            .map_err(|_| amikit_gdw376::session::terminal::Refusal::NoData)?;
        let _ = req;
        Ok(w.pos())
    }
}

/// Frames through the front end: AFN 0C F25 reads (one request frame down, one response frame
/// up) from `terminals` in-process terminal drivers, four requests in flight per terminal (the
/// session's slots), on one core.
fn gdw376_front_end(c: &mut Criterion) {
    use amikit_gdw376::session::master::{IdentityPolicy, MasterConfig, write_units};
    use amikit_gdw376::session::terminal::{Terminal, TerminalConfig};
    use amikit_gdw376::{Address, InfoClass, Pn, Profile};
    use amikit_io::gdw376::{
        DriverConfig, FrontEnd, FrontEndConfig, FrontEndEvent, TerminalDriver,
    };
    let mut group = c.benchmark_group("gdw376_front_end");
    group.measurement_time(Duration::from_secs(5));
    let mut units = [0u8; 4];
    let n = write_units(&mut units, &[(Pn(1), InfoClass(25), &[])]).unwrap();
    let units = units[..n].to_vec();
    for count in [1u32, 8] {
        let rt = runtime();
        let (front_end, terminals, _drivers) = rt.block_on(async {
            let mut master = MasterConfig::new(Profile::STRICT_2013);
            master.identity = IdentityPolicy::NotChecked;
            let (fe, mut events) = FrontEnd::bind("127.0.0.1:0", FrontEndConfig::new(master))
                .await
                .unwrap();
            let mut drivers = Vec::new();
            let mut terminals = Vec::new();
            for a2 in 1..=count {
                let address = Address {
                    a1: 0x0171,
                    a2,
                    ..Address::default()
                };
                let terminal: Terminal = Terminal::new(TerminalConfig::new(address));
                let config = DriverConfig::new(fe.local_addr().to_string());
                drivers.push(TerminalDriver::spawn(terminal, F25, config).0);
                terminals.push(address);
            }
            let mut registered = 0;
            while registered < count {
                if let Some(FrontEndEvent::Registered { .. }) = events.recv().await {
                    registered += 1;
                }
            }
            // Keep draining the event stream.
            tokio::spawn(async move { while events.recv().await.is_some() {} });
            (fe, terminals, drivers)
        });
        group.throughput(Throughput::Elements(2 * 4 * u64::from(count)));
        group.bench_function(format!("{count}_terminal"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    let mut tasks = Vec::new();
                    for &terminal in &terminals {
                        for _ in 0..4 {
                            let fe = front_end.clone();
                            let units = units.clone();
                            tasks.push(tokio::spawn(async move {
                                for _ in 0..iters {
                                    let r = fe.read(terminal, &units).await.unwrap();
                                    assert_eq!(r.afn, amikit_gdw376::Afn::CLASS1);
                                }
                            }));
                        }
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

criterion_group!(
    benches,
    tcp_round_trip_baseline,
    dlt645_tcp_read,
    gdw376_front_end,
    codecs
);
criterion_main!(benches);
