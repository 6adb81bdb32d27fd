//! DL/T 645 benches: decode a read reply, decode plus typed value, encode a read request,
//! deframe 1 MiB of frames and garbage. Each closure asserts its result, and a counting
//! allocator proves that decoding, encoding and deframing allocate nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use amikit_dlt645::catalogue;
use amikit_dlt645::deframer::{Deframer, Event};
use amikit_dlt645::{Address, Body, Data, DataId, Decimal, Di, Edition, Frame, Reply, Repr};
use amikit_testkit::alloc::CountingAllocator;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// 4 FE + the read reply of unsurper/dlt645go's test (forward active energy 0.02 kWh):
/// 24 bytes.
const REPLY: [u8; 24] = [
    0xFE, 0xFE, 0xFE, 0xFE, 0x68, 0x76, 0x02, 0x02, 0x47, 0x02, 0x02, 0x68, 0x91, 0x08, 0x33, 0x33,
    0x34, 0x33, 0x35, 0x33, 0x33, 0x33, 0xC9, 0x16,
];

/// Decodes the reply down to its typed value and encodes a read request.
fn decode_and_encode_once(addr: Address) {
    let frame = Frame::new_checked(black_box(&REPLY[..])).unwrap();
    let repr = Repr::parse(&frame, Edition::V2007).unwrap();
    let Body::Reply(Reply::Read {
        di: DataId::V2007(di),
        data,
        ..
    }) = repr.body
    else {
        panic!()
    };
    let value = catalogue::lookup(di)
        .unwrap()
        .decode(data)
        .unwrap()
        .unwrap();
    assert_eq!(value.number(), Some(Decimal::new(2, 2)));
    let mut out = [0u8; 16];
    let n = Repr::read(black_box(addr), Di(0x0201_0100))
        .emit(&mut out)
        .unwrap();
    black_box(&out[..n]);
}

fn decode(c: &mut Criterion) {
    let addr = Address::parse("000012345678").unwrap();
    let before = ALLOC.allocations();
    for _ in 0..1000 {
        decode_and_encode_once(addr);
    }
    assert_eq!(ALLOC.allocations(), before, "decode or encode allocated");

    let mut g = c.benchmark_group("dlt645");
    g.throughput(Throughput::Bytes(REPLY.len() as u64));
    g.bench_function("decode_read_reply_24B", |b| {
        b.iter(|| {
            let frame = Frame::new_checked(black_box(&REPLY[..])).unwrap();
            let repr = Repr::parse(&frame, Edition::V2007).unwrap();
            let Body::Reply(Reply::Read { di, data, .. }) = repr.body else {
                panic!()
            };
            assert_eq!(di, DataId::V2007(Di(0x0001_0000)));
            black_box(data);
        })
    });
    g.bench_function("decode_read_reply_typed_value", |b| {
        b.iter(|| {
            let frame = Frame::new_checked(black_box(&REPLY[..])).unwrap();
            let repr = Repr::parse(&frame, Edition::V2007).unwrap();
            let Body::Reply(Reply::Read {
                di: DataId::V2007(di),
                data,
                ..
            }) = repr.body
            else {
                panic!()
            };
            let entry = catalogue::lookup(di).unwrap();
            let value = entry.decode(data).unwrap().unwrap();
            assert_eq!(value.number(), Some(Decimal::new(2, 2)));
        })
    });
    g.throughput(Throughput::Bytes(16));
    g.bench_function("encode_read_request", |b| {
        let mut out = [0u8; 16];
        b.iter(|| {
            let n = Repr::read(black_box(addr), black_box(Di(0x0201_0100)))
                .emit(&mut out)
                .unwrap();
            assert_eq!(n, 16);
            black_box(&out);
        })
    });
    g.finish();
}

/// 1 MiB: read replies of 16..60 bytes with 0..4 FE, separated by 0..40 bytes of garbage
/// (pseudo-random bytes, stray `68`s included; fixed seed). Returns the stream and its frame
/// count.
fn stream() -> (Vec<u8>, usize) {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut out = Vec::with_capacity(1 << 20);
    let mut frames = 0;
    let mut buf = [0u8; 128];
    let mut value = [0u8; 48];
    while out.len() < (1 << 20) - 200 {
        for _ in 0..(rnd() % 41) {
            out.push(rnd() as u8);
        }
        let len = (rnd() % 45) as usize;
        for v in value.iter_mut().take(len) {
            *v = rnd() as u8;
        }
        let repr = Repr::new(
            Edition::V2007,
            Address::from_number(rnd() % 1_000_000_000_000).unwrap(),
            Body::Reply(Reply::Read {
                di: DataId::V2007(Di(rnd() as u32)),
                data: Data::plain(&value[..len]),
                more: false,
            }),
        )
        .with_preamble((rnd() % 5) as u8);
        let n = repr.emit(&mut buf).unwrap();
        out.extend_from_slice(&buf[..n]);
        frames += 1;
    }
    (out, frames)
}

/// Deframes the whole stream once; returns the number of frames.
fn deframe_once(d: &mut Deframer<4096>, data: &[u8]) -> usize {
    d.reset();
    let mut frames = 0usize;
    let mut rest = data;
    while !rest.is_empty() {
        let n = d.push(rest);
        rest = &rest[n..];
        while let Some(ev) = d.next() {
            if let Event::Frame(f) = ev {
                frames += 1;
                black_box(f.data_len());
            }
        }
    }
    frames
}

fn deframe(c: &mut Criterion) {
    let (data, expected) = stream();
    let mut d = Deframer::<4096>::new();
    let before = ALLOC.allocations();
    assert_eq!(deframe_once(&mut d, &data), expected);
    assert_eq!(ALLOC.allocations(), before, "deframing allocated");

    let mut g = c.benchmark_group("dlt645");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("deframe_1MiB", |b| {
        b.iter(|| assert_eq!(deframe_once(&mut d, black_box(&data)), expected))
    });
    g.finish();
}

criterion_group!(benches, decode, deframe);
criterion_main!(benches);
