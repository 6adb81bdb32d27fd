//! Property tests: `parse(emit(x)) == x`, byte-exact re-emit of parsed frames, deframer
//! chunking independence, and no panics on arbitrary input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_dlt645::deframer::{Deframer, Event};
use amikit_dlt645::value::{Format, Kind, TimeLayout};
use amikit_dlt645::*;
use proptest::prelude::*;

fn address() -> impl Strategy<Value = Address> {
    proptest::array::uniform6(prop_oneof![9 => 0u8..=99, 1 => Just(0xAAu8)]).prop_map(|b| {
        let w = b.map(|v| {
            if v == 0xAA {
                0xAA
            } else {
                ((v / 10) << 4) | (v % 10)
            }
        });
        Address::try_from(w).unwrap()
    })
}

fn frame_bytes(pre: usize, addr: Address, control: u8, plain: &[u8]) -> Vec<u8> {
    let mut f = vec![0xFE; pre];
    f.push(0x68);
    f.extend(<[u8; 6]>::from(addr));
    f.extend([0x68, control, plain.len() as u8]);
    f.extend(plain.iter().map(|b| b.wrapping_add(0x33)));
    let cs = f[pre..].iter().fold(0u8, |a, b| a.wrapping_add(*b));
    f.extend([cs, 0x16]);
    f
}

fn control() -> impl Strategy<Value = u8> {
    let codes = [
        0x01u8, 0x02, 0x03, 0x04, 0x08, 0x0A, 0x0C, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
        0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D,
    ];
    prop_oneof![
        any::<u8>(),
        (
            proptest::sample::select(codes.to_vec()),
            prop_oneof![Just(0u8), Just(0x80), Just(0xA0), Just(0xC0)]
        )
            .prop_map(|(c, bits)| c | bits),
    ]
}

fn plain_data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..24),
        // plausible: BCD bytes (times, numbers)
        proptest::collection::vec((0u8..=0x23).prop_map(|v| ((v / 10) << 4) | (v % 10)), 0..24),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// A frame that parses re-emits byte for byte (or hits a builder policy the parser is
    /// lenient about: broadcast address on a read, an over-long write, a shortened new address).
    #[test]
    fn parsed_frames_re_emit_exactly(pre in 0usize..5, addr in address(), c in control(), data in plain_data()) {
        let bytes = frame_bytes(pre, addr, c, &data);
        let frame = Frame::new_checked(&bytes[..]).unwrap();
        for ed in [Edition::V2007, Edition::V1997] {
            if let Ok(repr) = Repr::parse(&frame, ed) {
                let mut out = vec![0u8; repr.buffer_len()];
                match repr.emit(&mut out) {
                    Ok(n) => prop_assert_eq!(&out[..n], &bytes[..]),
                    Err(EncodeError::Address { .. } | EncodeError::TooLong { max: 50, .. } | EncodeError::Layout { function: "write_address", .. }) => {}
                    Err(e) => prop_assert!(false, "{:?} -> {:?}", repr, e),
                }
            }
        }
    }

    /// Built reprs parse back to themselves.
    #[test]
    fn parse_emit_round_trip(
        addr in address(),
        di in any::<u32>(),
        di97 in any::<u16>(),
        data in proptest::collection::vec(any::<u8>(), 0..40),
        seq in any::<u8>(),
        more in any::<bool>(),
        word in any::<u8>(),
        pw in any::<[u8; 4]>(),
        op in any::<[u8; 4]>(),
        which in 0usize..14,
    ) {
        let a = if addr.is_broadcast() { Address::try_from(1).unwrap() } else { addr };
        let auth = Auth { password: Password::from(pw), operator: OperatorCode(op) };
        let d = Data::plain(&data);
        let short = Data::plain(&data[..data.len().min(30)]);
        let (ed, body) = match which {
            0 => (Edition::V2007, Body::Request(Request::Read { di: DataId::V2007(Di(di)), extra: d })),
            1 => (Edition::V1997, Body::Request(Request::Read { di: DataId::V1997(Di97(di97)), extra: Data::EMPTY })),
            2 => (Edition::V2007, Body::Request(Request::ReadFollowUp { di: DataId::V2007(Di(di)), seq: Some(seq) })),
            3 => (Edition::V2007, Body::Reply(Reply::Read { di: DataId::V2007(Di(di)), data: d, more })),
            4 => (Edition::V1997, Body::Reply(Reply::Read { di: DataId::V1997(Di97(di97)), data: d, more })),
            5 => (Edition::V2007, Body::Reply(Reply::ReadFollowUp { di: DataId::V2007(Di(di)), data: d, seq: Some(seq), more })),
            6 => (Edition::V2007, Body::Request(Request::Write { di: DataId::V2007(Di(di)), password: auth.password, operator: Some(auth.operator), data: short })),
            7 => (Edition::V1997, Body::Request(Request::Write { di: DataId::V1997(Di97(di97)), password: auth.password, operator: None, data: short })),
            8 => (Edition::V2007, Body::Request(Request::ClearEvents { auth, event: Di(di) })),
            9 => (Edition::V2007, Body::Request(Request::ChangeBaud { baud: BaudRate::from(word) })),
            10 => (Edition::V2007, Body::Abnormal { function: Function::Read, error: ErrorWord(word), extra: Data::EMPTY }),
            11 => (Edition::V2007, Body::Request(Request::RemoteControl(RemoteControl { auth: Auth { password: Password { level: 0x98, code: [0; 3] }, ..auth }, body: RemoteBody::Encrypted(d) }))),
            12 => (Edition::V2007, Body::Request(Request::ChangePassword { di: Some(Di(di)), old: auth.password, new: Password::from(op) })),
            _ => (Edition::V2007, Body::Unknown { control: Control(0x1E | (word & 0xC0)), data: d }),
        };
        let repr = Repr::new(ed, a, body).with_preamble(word % 5);
        let mut out = vec![0u8; repr.buffer_len()];
        let n = repr.emit(&mut out).unwrap();
        prop_assert_eq!(n, out.len());
        let back = Repr::parse_bytes(&out, ed).unwrap();
        prop_assert_eq!(back, repr);
    }

    /// Remote-control plaintext with any valid time round-trips.
    #[test]
    fn remote_control_round_trip(y in 2000u16..2100, mo in 1u8..=12, dd in 1u8..=28, h in 0u8..24, mi in 0u8..60, s in 0u8..60, cmd in any::<u8>(), pw in any::<[u8; 4]>()) {
        prop_assume!(!matches!(pw[0], 0x98 | 0x99));
        let t = DateTime::ymd_hms(y, mo, dd, h, mi, s).unwrap();
        let auth = Auth { password: Password::from(pw), operator: OperatorCode([1, 2, 3, 4]) };
        let r = Repr::request(Edition::V2007, Address::try_from(5).unwrap(), Request::RemoteControl(RemoteControl::plain(auth, RemoteCommand::from(cmd), t)));
        let (b, n) = r.to_array::<32>().unwrap();
        prop_assert_eq!(Repr::parse_bytes(&b[..n], Edition::V2007).unwrap(), r);
    }

    /// The deframer finds the same frames whatever the chunking, with garbage in between.
    #[test]
    fn deframer_chunking_independent(
        parts in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..12), 0usize..4, address(), control(), proptest::collection::vec(any::<u8>(), 0..30)), 1..6),
        chunk in 1usize..40,
    ) {
        let mut stream = Vec::new();
        for (garbage, pre, a, c, d) in &parts {
            stream.extend(garbage);
            stream.extend(frame_bytes(*pre, *a, *c, d));
        }
        let run = |size: usize| {
            let mut d = Deframer::<600>::new();
            let mut frames = Vec::new();
            let mut skipped = 0;
            for piece in stream.chunks(size) {
                let mut rest = piece;
                while !rest.is_empty() {
                    let n = d.push(rest);
                    rest = &rest[n..];
                    while let Some(ev) = d.next() {
                        match ev {
                            Event::Frame(f) => { assert!(f.check().is_ok()); frames.push(f.frame_bytes().to_vec()) }
                            Event::Skipped { len, .. } => skipped += len,
                        }
                    }
                }
            }
            d.idle();
            while let Some(ev) = d.next() {
                match ev {
                    Event::Frame(f) => frames.push(f.frame_bytes().to_vec()),
                    Event::Skipped { len, .. } => skipped += len,
                }
            }
            (frames, skipped)
        };
        let whole = run(stream.len());
        let chunked = run(chunk);
        prop_assert_eq!(&whole, &chunked);
        // the last frame of the stream is always found (nothing after it can hide it)
        let (_, pre, a, c, d) = parts.last().unwrap();
        let last = frame_bytes(0, *a, *c, d);
        let _ = pre;
        prop_assert_eq!(whole.0.last(), Some(&last));
    }

    /// Decimal text round-trips exactly; numbers encode and decode back.
    #[test]
    fn decimal_round_trips(m in -999_999_999_999_999i64..=999_999_999_999_999, scale in 0u8..=15, signed in any::<bool>()) {
        let d = Decimal::new(m, scale);
        prop_assert_eq!(Decimal::parse(&d.to_string()).unwrap(), d);
        let m = if signed { m % 80_000_000 } else { m.abs() % 100_000_000 };
        let d = Decimal::new(m, scale % 5);
        let mut out = [0u8; 4];
        value::emit_number(d, 4, scale % 5, signed, &mut out).unwrap();
        prop_assert_eq!(value::parse_number(Data::plain(&out), scale % 5, signed).unwrap(), d);
    }

    /// Nothing panics on arbitrary bytes.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), len in 0u8..12, dec in 0u8..6, signed in any::<bool>()) {
        let f = Frame::new_unchecked(&bytes[..]);
        if f.check_len().is_ok() {
            let _ = (f.address(), f.control(), f.data(), f.checksum_valid(), f.data_id(Edition::V2007));
            for ed in [Edition::V2007, Edition::V1997] {
                let _ = Repr::parse(&f, ed);
            }
        }
        let _ = Frame::new_checked(&bytes[..]);
        let _ = Frame::parse_prefix(&bytes[..]);
        let data = Data::plain(&bytes[..bytes.len().min(usize::from(len))]);
        for fmt in [
            Format { kind: Kind::Number { decimals: dec, signed }, len: 0 },
            Format::from(TimeLayout::YyMmDdHhMmSs),
            Format { kind: Kind::Demand { signed }, len: 8 },
            Format { kind: Kind::Digits, len: 0 },
            Format { kind: Kind::Word, len: 0 },
        ] {
            let _ = fmt.parse(data);
        }
        let _ = catalogue::parse_block(Di(0x0001_FF00), data).count();
    }

    /// `Format::encode` is the inverse of `Format::decode` for every number format a meter
    /// serves: energy, demand-free variables and prepaid registers of the catalogue.
    #[test]
    fn catalogue_numbers_encode_then_decode(
        di in proptest::sample::select(vec![
            0x0001_0000u32, 0x0000_0000, 0x0201_0100, 0x0202_0100, 0x0203_0000, 0x0206_0000,
            0x0280_0002, 0x0090_0200, 0x0090_0100, 0x0400_1001, 0x0400_1003,
        ]),
        mantissa in any::<i64>(),
    ) {
        let entry = catalogue::lookup(Di(di)).unwrap();
        let Kind::Number { decimals, signed } = entry.format.kind else {
            panic!("{di:08X} is not a number")
        };
        // Unsigned: 2·len BCD digits. Signed: the top bit is the sign, so the top digit is 0–7.
        let digits = 2 * u32::from(entry.format.len);
        let limit = if signed { 8 * 10i64.pow(digits - 1) } else { 10i64.pow(digits) };
        let m = mantissa.rem_euclid(limit) * if signed && mantissa < 0 { -1 } else { 1 };
        let value = value::Value::Number(value::Decimal::new(m, decimals));
        let mut out = [0u8; 16];
        let n = entry.format.emit(&value, &mut out).unwrap();
        prop_assert_eq!(n, usize::from(entry.format.len));
        let back = entry.parse(Data::plain(&out[..n])).unwrap();
        // All-FF cannot come out of BCD digits, so the value always decodes.
        prop_assert_eq!(back, Some(value));
        // A value with one digit too many is refused, never truncated.
        let over = value::Value::Number(value::Decimal::new(limit, decimals));
        prop_assert!(entry.format.emit(&over, &mut out).is_err());
    }
}
