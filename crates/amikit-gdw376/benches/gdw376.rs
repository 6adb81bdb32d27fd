//! Q/GDW 376.1 benches: decode a login frame, an AFN 0C F25 reply with its typed values and an
//! AFN 10 forwarded DL/T 645 reply; encode a request; deframe (and decode) 1 MiB of mixed
//! traffic; resynchronise through 1 MiB of crafted headers and of random garbage. A counting
//! allocator proves the decode paths allocate nothing.
//!
//! Frames are built here with the crate's own builder (same layouts as the shared vectors'
//! captures), so nothing is copied from the vector files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use amikit_gdw376::deframer::Deframer;
use amikit_gdw376::format::{Format05, Format07, Format09, Format15, Format25};
use amikit_gdw376::security::ZeroPw;
use amikit_gdw376::units::{Realtime, UnitLayout as _, Value, Writer};
use amikit_gdw376::walker::Item;
use amikit_gdw376::{
    Address, Afn, Control, Frame, FrameBuilder, InfoClass, Pn, Profile, Repr, Seq, Tp,
};
use amikit_testkit::alloc::CountingAllocator;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

const TERMINAL: Address = Address {
    a1: 0x0171,
    a2: 2082,
    msa: 0,
    group: false,
};

fn login() -> Vec<u8> {
    let p = Profile::default();
    let b = FrameBuilder::new(
        &p,
        Control::TERMINAL_LINK_TEST,
        TERMINAL,
        Afn::LINK_TEST,
        Seq::single(false, true, 8),
    );
    let mut out = [0u8; 64];
    let mut w = b.begin(&mut out).unwrap();
    w.unit(Pn::P0, InfoClass(1), &[]).unwrap();
    let n = w.finish(&mut ZeroPw).unwrap();
    out[..n].to_vec()
}

fn realtime_reply() -> Vec<u8> {
    let p = Profile::default();
    let mut rt = Realtime {
        read_time: Some(Format15 {
            minute: 26,
            hour: 14,
            day: 1,
            month: 8,
            year: 10,
        }),
        ..Realtime::default()
    };
    for (i, v) in [11_173, 3725, 3725, 3724].into_iter().enumerate() {
        rt.active_power[i] = Some(Format09::from_mantissa(v).unwrap());
        rt.reactive_power[i] = Some(Format09::from_mantissa(0).unwrap());
        rt.power_factor[i] = Some(Format05::from_mantissa(999).unwrap());
    }
    for i in 0..3 {
        rt.voltage[i] = Some(Format07::from_mantissa(2190).unwrap());
        rt.current[i] = Some(Format25::from_mantissa(1700).unwrap());
    }
    let b = FrameBuilder::new(
        &p,
        Control::TERMINAL_DATA,
        TERMINAL.with_msa(1),
        Afn::CLASS1,
        Seq::single(false, false, 4),
    )
    .with_tp(Some(Tp::from_bytes([0x0B, 0x13, 0x49, 0x16, 0x28, 0x00])));
    let mut out = [0u8; 256];
    let mut w = b.begin(&mut out).unwrap();
    let mut data = [0u8; 67];
    rt.emit(&mut Writer::new(&mut data)).unwrap();
    w.unit(Pn(1), InfoClass(25), &data).unwrap();
    let n = w.finish(&mut ZeroPw).unwrap();
    out[..n].to_vec()
}

/// A DL/T 645 frame: `68 A 68 C L data+33 CS 16`.
fn frame645(addr: [u8; 6], control: u8, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x68];
    f.extend_from_slice(&addr);
    f.extend_from_slice(&[0x68, control, data.len() as u8]);
    f.extend(data.iter().map(|b| b.wrapping_add(0x33)));
    let cs = f.iter().fold(0u8, |a, &b| a.wrapping_add(b));
    f.extend_from_slice(&[cs, 0x16]);
    f
}

fn forward_reply() -> Vec<u8> {
    let p = Profile::default();
    // DL/T 645-2007 read reply: DI 00010000 (forward active energy), 1234.56 kWh.
    let inner = frame645(
        [0x78, 0x56, 0x34, 0x12, 0x00, 0x00],
        0x91,
        &[0x00, 0x00, 0x01, 0x00, 0x56, 0x34, 0x12, 0x00],
    );
    let mut unit = vec![0x01, inner.len() as u8, 0x00];
    unit.extend_from_slice(&inner);
    let b = FrameBuilder::new(
        &p,
        Control::TERMINAL_DATA,
        TERMINAL.with_msa(1),
        Afn::FORWARD,
        Seq::single(false, false, 6),
    );
    let mut out = [0u8; 256];
    let mut w = b.begin(&mut out).unwrap();
    w.unit(Pn::P0, InfoClass(1), &unit).unwrap();
    let n = w.finish(&mut ZeroPw).unwrap();
    out[..n].to_vec()
}

/// Decodes a frame fully: link check, header, AUX, every unit and its typed value.
fn decode_all(bytes: &[u8], p: &Profile) -> usize {
    decode_parsed(Repr::parse_bytes(bytes, p).unwrap(), p)
}

/// Decodes a frame the deframer has already checked (no second link check).
fn decode_deframed(frame: &[u8], p: &Profile) -> usize {
    decode_parsed(Repr::parse(&Frame::new_unchecked(frame), p).unwrap(), p)
}

fn decode_parsed(r: Repr<'_>, p: &Profile) -> usize {
    let mut n = 0;
    for it in r.units(p) {
        let Item::Unit(u) = it else { panic!("opaque") };
        match u.value(p, r.afn, r.dir()).unwrap() {
            Some(Value::Realtime(rt)) => {
                black_box(rt.get());
            }
            Some(v) => {
                black_box(v);
            }
            None => panic!("untyped"),
        }
        n += 1;
    }
    n
}

fn mixed_stream(target: usize) -> (Vec<u8>, usize) {
    let frames = [login(), realtime_reply(), forward_reply()];
    let mut s = Vec::with_capacity(target + 512);
    let mut n = 0;
    while s.len() < target {
        for f in &frames {
            s.extend_from_slice(&[0xFE, 0xFE]); // wake-up bytes between frames
            s.extend_from_slice(f);
            n += 1;
        }
    }
    (s, n)
}

fn benches(c: &mut Criterion) {
    let p = Profile::default();
    let login = login();
    let rt = realtime_reply();
    let fwd = forward_reply();

    // Zero allocations in decode, checked once before measuring.
    let before = ALLOC.allocations();
    for _ in 0..1000 {
        black_box(decode_all(black_box(&login), &p));
        black_box(decode_all(black_box(&rt), &p));
        black_box(decode_all(black_box(&fwd), &p));
    }
    assert_eq!(ALLOC.allocations(), before, "decode allocated");

    let mut g = c.benchmark_group("gdw376_decode");
    g.throughput(Throughput::Bytes(login.len() as u64));
    g.bench_function("login", |b| {
        b.iter(|| assert_eq!(decode_all(black_box(&login), &p), 1))
    });
    g.throughput(Throughput::Bytes(rt.len() as u64));
    g.bench_function("afn0c_f25_typed", |b| {
        b.iter(|| {
            let r = Repr::parse_bytes(black_box(&rt), &p).unwrap();
            let Some(Item::Unit(u)) = r.units(&p).next() else {
                panic!()
            };
            let Some(Value::Realtime(v)) = u.value(&p, r.afn, r.dir()).unwrap() else {
                panic!()
            };
            let v = v.get();
            assert_eq!(v.active_power[0].unwrap().magnitude, 11_173);
            black_box(v)
        })
    });
    g.throughput(Throughput::Bytes(fwd.len() as u64));
    g.bench_function("afn10_forwarded_645", |b| {
        b.iter(|| {
            let r = Repr::parse_bytes(black_box(&fwd), &p).unwrap();
            let Some(Item::Unit(u)) = r.units(&p).next() else {
                panic!()
            };
            let Some(Value::ForwardReply(f)) = u.value(&p, r.afn, r.dir()).unwrap() else {
                panic!()
            };
            let inner = amikit_dlt645::Frame::new_checked(f.payload).unwrap();
            assert_eq!(inner.control().0, 0x91);
            black_box(inner.data_raw().len())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("gdw376_encode");
    let mut out = [0u8; 128];
    let tp = Tp::from_bytes([0x0B, 0x13, 0x49, 0x16, 0x28, 0x00]);
    g.bench_function("read_realtime_request", |b| {
        b.iter(|| {
            let fb = FrameBuilder::new(
                &p,
                Control::MASTER_READ,
                black_box(TERMINAL).with_msa(1),
                Afn::CLASS1,
                Seq::single(false, false, 11),
            )
            .with_tp(Some(tp));
            let mut w = fb.begin(&mut out).unwrap();
            w.unit(Pn(1), InfoClass(25), &[]).unwrap();
            let n = w.finish(&mut ZeroPw).unwrap();
            assert_eq!(n, 26);
            black_box(out[n - 2])
        })
    });
    g.bench_function("trip_request_pw16", |b| {
        b.iter(|| {
            let fb = FrameBuilder::new(
                &p,
                Control::MASTER_COMMAND,
                black_box(TERMINAL).with_msa(1),
                Afn::CONTROL,
                Seq::single(false, true, 3),
            );
            let mut w = fb.begin(&mut out).unwrap();
            w.unit(Pn(1), InfoClass(1), &[0x00]).unwrap();
            let n = w.finish(&mut ZeroPw).unwrap();
            assert_eq!(n, 37);
            black_box(out[n - 2])
        })
    });
    g.finish();

    let (stream, count) = mixed_stream(1 << 20);
    let mut g = c.benchmark_group("gdw376_stream_1MiB");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.sample_size(30);
    for (name, decode) in [("deframe", false), ("deframe_decode", true)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut d = Deframer::<2048>::default();
                let mut rest: &[u8] = black_box(&stream);
                let mut frames = 0usize;
                let mut units = 0usize;
                loop {
                    let o = d.push(rest);
                    let Some(f) = o.frame else { break };
                    frames += 1;
                    if decode {
                        units += decode_deframed(f, &p);
                    }
                    rest = &rest[o.consumed..];
                }
                assert_eq!(frames, count);
                assert!(!decode || units == count);
                black_box(units)
            })
        });
    }
    g.finish();

    // Resynchronisation: 1 MiB of crafted `68 L L 68` headers whose lengths point far ahead
    // (each reaches the checksum) against 1 MiB of random garbage; the ratio is the crafted
    // pattern's cost per byte relative to noise (issue 11).
    let crafted: Vec<u8> = [0x68u8, 0x16, 0x1F, 0x16, 0x1F]
        .iter()
        .copied()
        .cycle()
        .take(1 << 20)
        .collect();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let random: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let mut g = c.benchmark_group("gdw376_resync_1MiB");
    g.throughput(Throughput::Bytes(1 << 20));
    g.sample_size(20);
    for (name, input) in [("crafted", &crafted), ("random", &random)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut d = Deframer::<2048>::default();
                let mut rest: &[u8] = black_box(input);
                loop {
                    let o = d.push(rest);
                    rest = &rest[o.consumed..];
                    if o.frame.is_none() {
                        break;
                    }
                }
                black_box(d.stats().rejected)
            })
        });
    }
    g.finish();
}

criterion_group!(gdw376, benches);
criterion_main!(gdw376);
