#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Property tests: header fields, L (all 14 bits), DA/DT sets, every data format, every typed
//! unit (byte-exact decode → emit), and byte-exact re-emit of parsed frames.

use amikit_gdw376::format::{
    DataFormat, Format01, Format02, Format03, Format04, Format05, Format06, Format07, Format08,
    Format09, Format10, Format11, Format12, Format13, Format14, Format15, Format16, Format17,
    Format18, Format19, Format20, Format21, Format22, Format23, Format24, Format25, Format26,
    Format27,
};
use amikit_gdw376::security::ZeroPw;
use amikit_gdw376::units::{self, Value};
use amikit_gdw376::walker::Item;
use amikit_gdw376::{
    Address, AddressWidth, Afn, Control, DaDt, Direction, FrameBuilder, InfoClass, Pn, Profile,
    Repr, Seq, Tp, Version,
};
use proptest::prelude::*;

// ---------------------------------------------------------------- field byte generators

fn bcd_byte() -> impl Strategy<Value = u8> {
    (0u8..10, 0u8..10).prop_map(|(h, l)| (h << 4) | l)
}

/// `n` BCD bytes; the top byte's high nibble limited to 0–7 plus a random sign bit when `signed`.
/// One time in eight: all `EE` (absent).
fn num(n: usize, signed: bool) -> BoxedStrategy<Vec<u8>> {
    let present = (
        proptest::collection::vec(bcd_byte(), n),
        0u8..8,
        any::<bool>(),
    )
        .prop_map(move |(mut v, top, s)| {
            if signed {
                let last = v.len() - 1;
                v[last] = (v[last] & 0x0F) | (top << 4) | if s { 0x80 } else { 0 };
            }
            v
        });
    prop_oneof![7 => present, 1 => Just(vec![0xEE; n])].boxed()
}

fn f03() -> BoxedStrategy<Vec<u8>> {
    let p = (
        proptest::collection::vec(bcd_byte(), 3),
        0u8..10,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(mut v, d, s, g)| {
            v.push(d | if s { 0x10 } else { 0 } | if g { 0x40 } else { 0 });
            v
        });
    prop_oneof![7 => p, 1 => Just(vec![0xEE; 4])].boxed()
}

fn f01() -> BoxedStrategy<Vec<u8>> {
    (
        0u8..60,
        0u8..60,
        0u8..24,
        1u8..32,
        0u8..8,
        1u8..13,
        0u8..100,
    )
        .prop_map(|(s, m, h, d, w, mo, y)| {
            let b = |v: u8| ((v / 10) << 4) | (v % 10);
            vec![b(s), b(m), b(h), b(d), (w << 5) | b(mo), b(y)]
        })
        .boxed()
}

/// `n` bytes of BCD date/time fields (any digits) or absent.
fn time(n: usize) -> BoxedStrategy<Vec<u8>> {
    num(n, false)
}

fn bin(n: usize) -> BoxedStrategy<Vec<u8>> {
    proptest::collection::vec(any::<u8>(), n).boxed()
}

fn cat(parts: Vec<BoxedStrategy<Vec<u8>>>) -> BoxedStrategy<Vec<u8>> {
    parts.prop_map(|v| v.concat()).boxed()
}

fn rep(n: usize, s: impl core::ops::Fn() -> BoxedStrategy<Vec<u8>>) -> Vec<BoxedStrategy<Vec<u8>>> {
    (0..n).map(|_| s()).collect()
}

/// `time(5) M` then `k` runs of `M + 1` fields of `len` bytes.
fn registers(runs: &'static [usize]) -> BoxedStrategy<Vec<u8>> {
    (0usize..5)
        .prop_flat_map(move |m| {
            let mut parts = vec![time(5), Just(vec![m as u8]).boxed()];
            for &len in runs {
                parts.extend(rep(m + 1, || num(len, false)));
            }
            cat(parts)
        })
        .boxed()
}

/// (AFN, direction, Fn, profile, unit bytes) of every typed layout.
fn unit_case() -> BoxedStrategy<(u8, Direction, u8, Profile, Vec<u8>)> {
    use Direction::{Down, Up};
    let p13 = Profile::STRICT_2013;
    let p09 = Profile::STRICT_2009;
    let case = |afn: u8, dir: Direction, f: u8, p: Profile, s: BoxedStrategy<Vec<u8>>| {
        s.prop_map(move |b| (afn, dir, f, p, b)).boxed()
    };
    let items = (any::<u8>(), proptest::collection::vec(bin(5), 0..4)).prop_map(|(a, v)| {
        let mut out = vec![a];
        for i in v {
            out.extend(i);
        }
        out
    });
    let meters = (0usize..4).prop_flat_map(|n| {
        cat(vec![
            Just(vec![n as u8, 0]).boxed(),
            cat(rep(n, || bin(27))),
        ])
    });
    let events = (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        proptest::collection::vec(
            (
                any::<u8>(),
                bin(0).prop_flat_map(|_| (0usize..20).prop_flat_map(bin)),
            ),
            0..4,
        ),
    )
        .prop_map(|(e1, e2, pm, recs)| {
            let mut out = vec![e1, e2, pm, pm.wrapping_add(recs.len() as u8)];
            for (erc, data) in recs {
                out.push(erc);
                out.push(data.len() as u8);
                out.extend(data);
            }
            out
        });
    let file = (bin(9), 0usize..40).prop_flat_map(|(h, n)| {
        (Just(h), bin(n)).prop_map(|(h, d)| {
            let mut out = h;
            out.extend((d.len() as u16).to_le_bytes());
            out.extend(d);
            out
        })
    });
    let fwd_down = (bin(4), 0usize..40).prop_flat_map(|(h, n)| {
        (Just(h), bin(n))
            .prop_map(|(h, d)| [h, (d.len() as u16).to_le_bytes().to_vec(), d].concat())
    });
    let fwd_up = (any::<u8>(), 0usize..40).prop_flat_map(|(port, n)| {
        bin(n).prop_map(move |d| [vec![port], (d.len() as u16).to_le_bytes().to_vec(), d].concat())
    });
    let realtime = cat([
        vec![time(5)],
        rep(8, || num(3, true)),
        rep(4, || num(2, true)),
        rep(3, || num(2, false)),
        rep(4, || num(3, true)),
        rep(4, || num(3, true)),
    ]
    .concat());
    prop_oneof![
        case(0x00, Up, 3, p13, items.boxed()),
        case(0x04, Down, 1, p13, bin(6)),
        case(0x0A, Up, 3, p13, bin(28)),
        case(0x04, Down, 10, p13, meters.boxed()),
        case(0x04, Down, 47, p13, cat(vec![bin(5), f03(), f03(), f03()])),
        case(
            0x05,
            Down,
            1,
            p13,
            (0u8..16, 0u8..16)
                .prop_map(|(a, b)| vec![(a << 4) | b])
                .boxed()
        ),
        case(0x05, Down, 25, p13, bin(1)),
        case(0x05, Down, 31, p13, f01()),
        case(
            0x09,
            Up,
            1,
            p13,
            cat(vec![bin(16), time(3), bin(19), time(3)])
        ),
        case(0x0C, Up, 2, p13, f01()),
        case(0x0C, Up, 23, p13, f03()),
        case(0x0C, Up, 25, p13, realtime),
        case(0x0C, Up, 33, p13, registers(&[5, 4, 4, 4])),
        case(0x0C, Up, 129, p13, registers(&[5])),
        case(0x0C, Up, 130, p13, registers(&[4])),
        case(
            0x0C,
            Up,
            166,
            p13,
            cat(vec![
                time(5),
                num(2, false),
                time(5),
                num(2, false),
                time(5)
            ])
        ),
        case(
            0x0C,
            Up,
            167,
            p09,
            cat([
                vec![time(5), num(2, false), num(5, false), num(5, false)],
                rep(6, || num(4, false))
            ]
            .concat())
        ),
        case(0x0C, Up, 168, p13, registers(&[5, 5])),
        case(0x0D, Down, 1, p13, time(3)),
        case(0x0D, Down, 17, p13, time(2)),
        case(
            0x0D,
            Up,
            1,
            p13,
            cat(vec![time(3), registers(&[5, 4, 4, 4])])
        ),
        case(0x0D, Up, 177, p13, cat(vec![time(2), registers(&[5])])),
        case(0x0E, Down, 1, p13, bin(2)),
        case(0x0E, Up, 1, p13, events.boxed()),
        case(0x0F, Down, 1, p13, file.boxed()),
        case(0x0F, Up, 1, p13, bin(4)),
        case(0x10, Down, 1, p13, fwd_down.boxed()),
        case(0x10, Up, 1, p13, fwd_up.boxed()),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn typed_units_round_trip((afn, dir, f, profile, bytes) in unit_case()) {
        let v = units::Value::parse(&profile, Afn(afn), dir, InfoClass(f), &bytes)
            .unwrap_or_else(|e| panic!("AFN {afn:02X} F{f}: {e} in {bytes:02X?}"))
            .unwrap_or_else(|| panic!("AFN {afn:02X} F{f} not typed"));
        let mut out = vec![0u8; bytes.len() + 8];
        let n = v.emit(&mut out).unwrap();
        prop_assert_eq!(&out[..n], &bytes[..]);
        // The walker agrees on the unit's length.
        let mut region = DaDt::single(if afn == 0x00 { Pn::P0 } else { Pn(1) }, InfoClass(f)).unwrap().to_bytes().to_vec();
        region.extend_from_slice(&bytes);
        let items: Vec<Item> = amikit_gdw376::Units::new(&region, Afn(afn), dir, &profile).collect();
        prop_assert!(matches!(items.as_slice(), [Item::Unit(u)] if u.data == &bytes[..]), "{:?}", items);
        prop_assert!(!matches!(v, Value::Empty));
    }

    #[test]
    fn header_fields(c in any::<u8>(), s in any::<u8>(), a1 in any::<u16>(), a2 in any::<u32>(), a3 in any::<u8>(), wide in any::<bool>()) {
        let ctl = Control(c);
        prop_assert_eq!(Control::new(ctl.dir(), ctl.prm(), ctl.fcb_acd(), ctl.fcv(), u8::from(ctl.function())), ctl);
        let seq = Seq(s);
        prop_assert_eq!(Seq::new(seq.tpv(), seq.fir(), seq.fin(), seq.con(), seq.seq()), seq);
        let width = if wide { AddressWidth::Seven } else { AddressWidth::Five };
        let a2 = if wide { a2 } else { a2 & 0xFFFF };
        let addr = Address { a1, a2, msa: a3 >> 1, group: a3 & 1 != 0 };
        let mut out = [0u8; 7];
        let n = addr.emit(&mut out, width).unwrap();
        prop_assert_eq!(Address::parse(&out[..n], width), Some(addr));
        prop_assert_eq!(out[n - 1], a3);
    }

    #[test]
    fn dadt_sets(group in 1u16..=255, pmask in 1u8..=255, fgroup in 0u8..=30, fmask in 1u8..=255) {
        let pns: Vec<Pn> = (0..8).filter(|b| pmask & (1 << b) != 0).map(|b| Pn((group - 1) * 8 + b + 1)).collect();
        let fns: Vec<InfoClass> = (0..8u8).filter(|b| fmask & (1 << b) != 0).map(|b| InfoClass(fgroup * 8 + b + 1)).collect();
        let d = DaDt::group(&pns, &fns).unwrap();
        prop_assert_eq!(d.to_bytes(), [pmask, group as u8, fmask, fgroup]);
        d.check().unwrap();
        let pairs: Vec<(Pn, InfoClass)> = d.pairs().collect();
        let expected: Vec<(Pn, InfoClass)> = pns.iter().flat_map(|&p| fns.iter().map(move |&f| (p, f))).collect();
        prop_assert_eq!(pairs, expected);
        prop_assert_eq!(d.pairs().count(), pns.len() * fns.len());
    }

    #[test]
    fn frames_re_emit_byte_exact(
        up in any::<bool>(), prm in any::<bool>(), acd in any::<bool>(), func in 0u8..16,
        a1 in 0u16..0x9999, a2 in 1u32..0xFFFF, msa in 0u8..128,
        afn in prop_oneof![Just(0x0Cu8), Just(0x0D), Just(0x05), Just(0x02), Just(0x10)],
        pseq in 0u8..16, tp in proptest::option::of(any::<[u8; 6]>()),
        units in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let a1 = u16::from_str_radix(&format!("{a1:04}")[..4], 16).unwrap();
        let p = Profile::default();
        let dir = if up { Direction::Up } else { Direction::Down };
        let ctl = Control::new(dir, prm, false, false, func);
        let ec = (up && acd).then_some(amikit_gdw376::Ec { important: 3, normal: 4 });
        let b = FrameBuilder::new(&p, ctl, Address::new(a1, a2).with_msa(msa), Afn(afn), Seq::single(false, false, pseq))
            .with_tp(tp.map(Tp::from_bytes))
            .with_ec(ec);
        let mut out = [0u8; 160];
        let mut w = b.begin(&mut out).unwrap();
        w.raw(&units).unwrap();
        let n = w.finish(&mut ZeroPw).unwrap();
        let frame = &out[..n];
        let r = Repr::parse_bytes(frame, &p).unwrap();
        prop_assert_eq!(r.units, &units[..]);
        prop_assert_eq!(r.ec, ec);
        let mut again = [0u8; 160];
        let m = r.emit(&mut again).unwrap();
        prop_assert_eq!(&again[..m], frame);
        // The walker never desynchronises: items are in order and end at the region's end.
        let base = r.units.as_ptr() as usize;
        let mut end = 0usize;
        for i in r.units(&p) {
            let (b, len) = match i {
                Item::Unit(u) => (u.data.as_ptr() as usize, u.data.len()),
                Item::Opaque(o) => (o.bytes.as_ptr() as usize, o.bytes.len()),
                Item::Filler(f) => (f.as_ptr() as usize, f.len()),
            };
            let e = b - base + len;
            prop_assert!(e >= end);
            end = e;
        }
        let total = end;
prop_assert_eq!(total, units.len(), "items cover the region exactly");
    }
}

macro_rules! format_props {
    ($($name:ident: $ty:ty),* $(,)?) => {
        proptest! {
            $(
                #[test]
                fn $name(bytes in any::<[u8; 8]>()) {
                    // Any bytes: decode never panics; a successful decode re-encodes to the same
                    // bytes (all bits of these formats are meaningful).
                    let b = &bytes[..<$ty>::LEN];
                    if let Ok(v) = <$ty>::parse(b) {
                        let mut out = [0u8; 8];
                        v.emit(&mut out).unwrap();
                        prop_assert_eq!(&out[..<$ty>::LEN], b);
                    }
                }
            )*
        }
    };
}

format_props!(
    f01_bytes: Format01, f02_bytes: Format02, f04_bytes: Format04, f05_bytes: Format05, f06_bytes: Format06,
    f07_bytes: Format07, f08_bytes: Format08, f09_bytes: Format09, f10_bytes: Format10, f11_bytes: Format11,
    f12_bytes: Format12, f13_bytes: Format13, f14_bytes: Format14, f15_bytes: Format15, f16_bytes: Format16,
    f17_bytes: Format17, f18_bytes: Format18, f19_bytes: Format19, f20_bytes: Format20, f21_bytes: Format21,
    f22_bytes: Format22, f23_bytes: Format23, f24_bytes: Format24, f25_bytes: Format25, f26_bytes: Format26,
    f27_bytes: Format27,
);

proptest! {
    #[test]
    fn numeric_values_round_trip(m in any::<i64>()) {
        macro_rules! check {
            ($($ty:ty),*) => {$(
                if let Ok(v) = <$ty>::from_mantissa(m) {
                    let mut out = [0u8; 8];
                    v.emit(&mut out).unwrap();
                    let back = <$ty>::parse(&out).unwrap();
                    prop_assert_eq!(back, v);
                    prop_assert_eq!(back.value().mantissa, m);
                }
            )*};
        }
        check!(Format05, Format06, Format07, Format08, Format09, Format10, Format11, Format12, Format13, Format14, Format22, Format23, Format25, Format26, Format27);
    }

    #[test]
    fn format03_round_trip(mag in 0u32..10_000_000, neg in any::<bool>(), g in any::<bool>()) {
        use amikit_gdw376::format::AmountUnit;
        let v = Format03 { negative: neg, magnitude: mag, unit: if g { AmountUnit::MwhOrYuan } else { AmountUnit::KwhOrLi } };
        let mut out = [0u8; 4];
        v.emit(&mut out).unwrap();
        prop_assert_eq!(Format03::parse(&out).unwrap(), v);
    }
}

#[test]
fn versions_differ_on_f167() {
    let d = [0x20u8; 46];
    let len = |v| {
        amikit_gdw376::walker::unit_len(
            &Profile {
                version: v,
                ..Profile::default()
            },
            Afn(0x0C),
            Direction::Up,
            InfoClass(167),
            &d,
        )
    };
    assert_eq!(
        len(Version::V2009),
        amikit_gdw376::walker::UnitLen::Exact(41)
    );
    assert_eq!(
        len(Version::V2013),
        amikit_gdw376::walker::UnitLen::Exact(46)
    );
}
