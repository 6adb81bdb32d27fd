//! Every function of both editions, in both directions: the control byte and data-field layout
//! each request/reply emits, and that parsing the emitted frame gives the same value back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_dlt645::*;

fn addr() -> Address {
    "000012345678".parse::<Address>().unwrap()
}

fn auth() -> Auth {
    Auth {
        password: Password::new(2, 123_456),
        operator: OperatorCode([0x11, 0x22, 0x33, 0x44]),
    }
}

fn time() -> DateTime {
    DateTime::ymd_hms(2024, 5, 17, 13, 45, 30).unwrap()
}

/// (description, frame, control byte, plain data field as hex)
fn cases() -> Vec<(&'static str, Repr<'static>, u8, &'static str)> {
    use Edition::{V1997, V2007};
    let a = addr();
    let di = DataId::V2007(Di(0x0001_0000));
    let di97 = DataId::V1997(Di97(0x9010));
    let req = |e, r| Repr::request(e, a, r);
    let rep = |e, r| Repr::new(e, a, Body::Reply(r));
    let err = |e, f, w| {
        Repr::new(
            e,
            a,
            Body::Abnormal {
                function: f,
                error: ErrorWord(w),
                extra: Data::EMPTY,
            },
        )
    };
    vec![
        // ---- 2007 requests
        (
            "2007 read",
            req(
                V2007,
                Request::Read {
                    di,
                    extra: Data::EMPTY,
                },
            ),
            0x11,
            "00000100",
        ),
        (
            "2007 read with N",
            req(
                V2007,
                Request::Read {
                    di,
                    extra: Data::plain(&[0x05]),
                },
            ),
            0x11,
            "0000010005",
        ),
        (
            "2007 read follow-up",
            req(V2007, Request::ReadFollowUp { di, seq: Some(2) }),
            0x12,
            "0000010002",
        ),
        (
            "2007 read address",
            Repr::request(V2007, Address::WILDCARD, Request::ReadAddress),
            0x13,
            "",
        ),
        (
            "2007 write",
            req(
                V2007,
                Request::Write {
                    di: DataId::V2007(Di(0x0400_0103)),
                    password: Password::new(2, 123_456),
                    operator: Some(OperatorCode([0x11, 0x22, 0x33, 0x44])),
                    data: Data::plain(&[0x15]),
                },
            ),
            0x14,
            "03010004025634121122334415",
        ),
        (
            "2007 write address",
            Repr::request(
                V2007,
                Address::WILDCARD,
                Request::WriteAddress { address: a },
            ),
            0x15,
            "785634120000",
        ),
        (
            "2007 broadcast time",
            Repr::request(
                V2007,
                Address::BROADCAST,
                Request::BroadcastTime { time: time() },
            ),
            0x08,
            "304513170524",
        ),
        (
            "2007 freeze now",
            Repr::request(
                V2007,
                Address::BROADCAST,
                Request::Freeze {
                    time: FreezeTime::NOW,
                },
            ),
            0x16,
            "99999999",
        ),
        (
            "2007 change baud 9600",
            req(
                V2007,
                Request::ChangeBaud {
                    baud: BaudRate::B9600,
                },
            ),
            0x17,
            "20",
        ),
        (
            "2007 change password",
            req(
                V2007,
                Request::ChangePassword {
                    di: Some(Di(0x0400_0C03)),
                    old: Password::new(2, 123_456),
                    new: Password::new(2, 654_321),
                },
            ),
            0x18,
            "030C00040256341202214365",
        ),
        (
            "2007 clear max demand",
            req(V2007, Request::ClearMaxDemand { auth: Some(auth()) }),
            0x19,
            "0256341211223344",
        ),
        (
            "2007 clear meter",
            req(V2007, Request::ClearMeter { auth: auth() }),
            0x1A,
            "0256341211223344",
        ),
        (
            "2007 clear events",
            req(
                V2007,
                Request::ClearEvents {
                    auth: auth(),
                    event: Di::ALL,
                },
            ),
            0x1B,
            "0256341211223344FFFFFFFF",
        ),
        (
            "2007 remote control trip",
            req(
                V2007,
                Request::RemoteControl(RemoteControl::plain(auth(), RemoteCommand::Trip, time())),
            ),
            0x1C,
            "02563412112233441A00304513170524",
        ),
        (
            "2007 remote control encrypted",
            req(
                V2007,
                Request::RemoteControl(RemoteControl {
                    auth: Auth {
                        password: Password::new(0x98, 0),
                        operator: OperatorCode([0; 4]),
                    },
                    body: RemoteBody::Encrypted(Data::plain(&[0xA5; 16])),
                }),
            ),
            0x1C,
            "9800000000000000A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5",
        ),
        (
            "2007 multi-function output",
            req(V2007, Request::MultiFunctionOutput { mode: 1 }),
            0x1D,
            "01",
        ),
        (
            "2007 security auth",
            req(
                V2007,
                Request::SecurityAuth {
                    payload: Data::plain(&[0x07, 0x00, 0x00, 0xFF, 0x01]),
                },
            ),
            0x03,
            "070000FF01",
        ),
        // ---- 2007 replies
        (
            "2007 read reply",
            rep(
                V2007,
                Reply::Read {
                    di,
                    data: Data::plain(&[2, 0, 0, 0]),
                    more: false,
                },
            ),
            0x91,
            "0000010002000000",
        ),
        (
            "2007 read reply, more",
            rep(
                V2007,
                Reply::Read {
                    di,
                    data: Data::plain(&[2]),
                    more: true,
                },
            ),
            0xB1,
            "0000010002",
        ),
        (
            "2007 follow-up reply",
            rep(
                V2007,
                Reply::ReadFollowUp {
                    di,
                    data: Data::plain(&[9]),
                    seq: Some(1),
                    more: false,
                },
            ),
            0x92,
            "000001000901",
        ),
        (
            "2007 follow-up reply, more",
            rep(
                V2007,
                Reply::ReadFollowUp {
                    di,
                    data: Data::plain(&[9]),
                    seq: Some(1),
                    more: true,
                },
            ),
            0xB2,
            "000001000901",
        ),
        (
            "2007 read address reply",
            rep(V2007, Reply::ReadAddress { address: a }),
            0x93,
            "785634120000",
        ),
        (
            "2007 write ack",
            rep(V2007, Reply::Ack(Function::Write)),
            0x94,
            "",
        ),
        (
            "2007 write address ack",
            rep(V2007, Reply::Ack(Function::WriteAddress)),
            0x95,
            "",
        ),
        (
            "2007 freeze ack",
            rep(V2007, Reply::Ack(Function::Freeze)),
            0x96,
            "",
        ),
        (
            "2007 change baud reply",
            rep(
                V2007,
                Reply::ChangeBaud {
                    baud: BaudRate::B2400,
                },
            ),
            0x97,
            "08",
        ),
        (
            "2007 change password reply",
            rep(
                V2007,
                Reply::ChangePassword {
                    new: Password::new(2, 654_321),
                },
            ),
            0x98,
            "02214365",
        ),
        (
            "2007 clear demand ack",
            rep(V2007, Reply::Ack(Function::ClearMaxDemand)),
            0x99,
            "",
        ),
        (
            "2007 clear meter ack",
            rep(V2007, Reply::Ack(Function::ClearMeter)),
            0x9A,
            "",
        ),
        (
            "2007 clear events ack",
            rep(V2007, Reply::Ack(Function::ClearEvents)),
            0x9B,
            "",
        ),
        (
            "2007 remote control ack",
            rep(V2007, Reply::Ack(Function::RemoteControl)),
            0x9C,
            "",
        ),
        (
            "2007 output reply",
            rep(V2007, Reply::MultiFunctionOutput { mode: 1 }),
            0x9D,
            "01",
        ),
        (
            "2007 security reply",
            rep(
                V2007,
                Reply::SecurityAuth {
                    payload: Data::plain(&[1, 2]),
                },
            ),
            0x83,
            "0102",
        ),
        (
            "2007 read refused",
            err(V2007, Function::Read, 0x02),
            0xD1,
            "02",
        ),
        (
            "2007 write refused",
            err(V2007, Function::Write, 0x04),
            0xD4,
            "04",
        ),
        (
            "2007 remote control refused",
            err(V2007, Function::RemoteControl, 0x04),
            0xDC,
            "04",
        ),
        (
            "2007 baud refused",
            err(V2007, Function::ChangeBaud, 0x08),
            0xD7,
            "08",
        ),
        // ---- 1997 requests
        (
            "1997 read",
            req(
                V1997,
                Request::Read {
                    di: di97,
                    extra: Data::EMPTY,
                },
            ),
            0x01,
            "1090",
        ),
        (
            "1997 read follow-up",
            req(
                V1997,
                Request::ReadFollowUp {
                    di: di97,
                    seq: None,
                },
            ),
            0x02,
            "1090",
        ),
        ("1997 re-read", req(V1997, Request::ReRead), 0x03, ""),
        (
            "1997 write",
            req(
                V1997,
                Request::Write {
                    di: DataId::V1997(Di97(0xC011)),
                    password: Password::new(2, 123_456),
                    operator: None,
                    data: Data::plain(&[0x30, 0x45, 0x13]),
                },
            ),
            0x04,
            "11C002563412304513",
        ),
        (
            "1997 broadcast time",
            Repr::request(
                V1997,
                Address::BROADCAST,
                Request::BroadcastTime { time: time() },
            ),
            0x08,
            "304513170524",
        ),
        (
            "1997 write address",
            req(V1997, Request::WriteAddress { address: a }),
            0x0A,
            "785634120000",
        ),
        (
            "1997 change baud",
            req(
                V1997,
                Request::ChangeBaud {
                    baud: BaudRate::B1200,
                },
            ),
            0x0C,
            "04",
        ),
        (
            "1997 change password",
            req(
                V1997,
                Request::ChangePassword {
                    di: None,
                    old: Password::new(0, 0),
                    new: Password::new(0, 1),
                },
            ),
            0x0F,
            "0000000000010000",
        ),
        (
            "1997 clear max demand",
            req(V1997, Request::ClearMaxDemand { auth: None }),
            0x10,
            "",
        ),
        // ---- 1997 replies
        (
            "1997 read reply",
            rep(
                V1997,
                Reply::Read {
                    di: DataId::V1997(Di97(0xB613)),
                    data: Data::plain(&[0x20, 0x02]),
                    more: false,
                },
            ),
            0x81,
            "13B62002",
        ),
        (
            "1997 read reply, more",
            rep(
                V1997,
                Reply::Read {
                    di: di97,
                    data: Data::plain(&[1]),
                    more: true,
                },
            ),
            0xA1,
            "109001",
        ),
        (
            "1997 follow-up reply",
            rep(
                V1997,
                Reply::ReadFollowUp {
                    di: di97,
                    data: Data::plain(&[1]),
                    seq: None,
                    more: false,
                },
            ),
            0x82,
            "109001",
        ),
        (
            "1997 re-read reply",
            rep(
                V1997,
                Reply::ReRead {
                    di: di97,
                    data: Data::plain(&[1]),
                    more: false,
                },
            ),
            0x83,
            "109001",
        ),
        (
            "1997 write ack",
            rep(V1997, Reply::Ack(Function::Write)),
            0x84,
            "",
        ),
        (
            "1997 write address ack",
            rep(V1997, Reply::Ack(Function::WriteAddress)),
            0x8A,
            "",
        ),
        (
            "1997 change baud reply",
            rep(
                V1997,
                Reply::ChangeBaud {
                    baud: BaudRate::B1200,
                },
            ),
            0x8C,
            "04",
        ),
        (
            "1997 change password reply",
            rep(
                V1997,
                Reply::ChangePassword {
                    new: Password::new(0, 1),
                },
            ),
            0x8F,
            "00010000",
        ),
        (
            "1997 clear max demand ack",
            rep(V1997, Reply::Ack(Function::ClearMaxDemand)),
            0x90,
            "",
        ),
        (
            "1997 read refused",
            err(V1997, Function::Read, 0x02),
            0xC1,
            "02",
        ),
    ]
}

#[test]
fn every_function_both_directions_both_editions() {
    let cases = cases();
    for (what, repr, control, data) in &cases {
        let mut buf = [0u8; 128];
        let n = repr
            .emit(&mut buf)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(n, repr.buffer_len(), "{what}");
        let frame = Frame::new_checked(&buf[..n]).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(frame.control().0, *control, "{what}: control");
        assert_eq!(frame.data().to_string(), *data, "{what}: data field");
        let back = Repr::parse(&frame, repr.edition).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(back, *repr, "{what}: round trip");
    }
    println!("{} function cases", cases.len());
}

#[test]
fn known_bytes() {
    // Jayla630/Dlt645Master Dlt645FrameCodecTests.cs: read 00010000 from AAAAAAAAAAAA, CS 0xAE.
    let (b, n) = Repr::read(Address::WILDCARD, Di(0x0001_0000))
        .to_array::<16>()
        .unwrap();
    assert_eq!(
        amikit_testkit::to_hex(&b[..n]),
        "68AAAAAAAAAAAA68110433333433AE16"
    );
    // peace0phmind/dlt645 frame_test.go: read 02010100 from 12345678.
    let (b, n) = Repr::read(addr(), Di(0x0201_0100))
        .to_array::<16>()
        .unwrap();
    assert_eq!(
        amikit_testkit::to_hex(&b[..n]),
        "6878563412000068110433343435C916"
    );
    // fdxxw/rs-dlt645 src/frame.rs: 4 FE, read 028022FF from 202208310002.
    let r =
        Repr::read("202208310002".parse::<Address>().unwrap(), Di(0x0280_22FF)).with_preamble(4);
    let (b, n) = r.to_array::<20>().unwrap();
    assert_eq!(
        amikit_testkit::to_hex(&b[..n]),
        "FEFEFEFE680200310822206811043255B335D116"
    );
    // cqqqq/go645 TestRead (1997): reply B613 = 220 V.
    let bytes = amikit_testkit::hex("6811110000000068810446E953352E16");
    let repr = Repr::parse_bytes(&bytes, Edition::V1997).unwrap();
    let mut out = [0u8; 16];
    assert_eq!(repr.emit(&mut out).unwrap(), 16);
    assert_eq!(&out[..], &bytes[..]);
}

#[test]
fn convenience_builders() {
    let a = addr();
    let t = time();
    let cases: [(Repr<'static>, u8); 5] = [
        (
            Repr::request(
                amikit_dlt645::Edition::V1997,
                a,
                amikit_dlt645::Request::Read {
                    di: amikit_dlt645::DataId::V1997(Di97(0x9010)),
                    extra: amikit_dlt645::Data::EMPTY,
                },
            ),
            0x01,
        ),
        (
            Repr::request(
                amikit_dlt645::Edition::V2007,
                amikit_dlt645::Address::WILDCARD,
                amikit_dlt645::Request::ReadAddress,
            ),
            0x13,
        ),
        (
            Repr::request(
                Edition::V2007,
                amikit_dlt645::Address::BROADCAST,
                amikit_dlt645::Request::BroadcastTime { time: t },
            ),
            0x08,
        ),
        (
            Repr::request(
                amikit_dlt645::Edition::V2007,
                a,
                amikit_dlt645::Request::Write {
                    di: amikit_dlt645::DataId::V2007(Di(0x0400_0103)),
                    password: (auth()).password,
                    operator: Some((auth()).operator),
                    data: Data::plain(&[0x15]),
                },
            ),
            0x14,
        ),
        (
            Repr::request(
                amikit_dlt645::Edition::V2007,
                a,
                amikit_dlt645::Request::RemoteControl(amikit_dlt645::RemoteControl::plain(
                    auth(),
                    RemoteCommand::AllowClose,
                    t,
                )),
            ),
            0x1C,
        ),
    ];
    for (r, c) in cases {
        let (b, n) = r.to_array::<64>().unwrap();
        assert_eq!(b[8], c);
        assert_eq!(Repr::parse_bytes(&b[..n], r.edition).unwrap(), r);
    }
}

#[test]
fn builders_refuse_illegal_combinations() {
    let a = addr();
    // 1997 function on a 2007 frame and vice versa
    let r = Repr::request(Edition::V2007, a, Request::ReRead);
    assert!(matches!(
        r.emit(&mut [0; 32]),
        Err(EncodeError::NotInEdition { .. })
    ));
    let r = Repr::request(Edition::V1997, a, Request::ClearMeter { auth: auth() });
    assert!(matches!(
        r.emit(&mut [0; 32]),
        Err(EncodeError::NotInEdition { .. })
    ));
    // DI width
    let r = Repr::request(
        Edition::V1997,
        a,
        Request::Read {
            di: DataId::V2007(Di(0)),
            extra: Data::EMPTY,
        },
    );
    assert!(matches!(
        r.emit(&mut [0; 32]),
        Err(EncodeError::DiWidth { .. })
    ));
    // broadcast read
    let r = Repr::read(Address::BROADCAST, Di(0x0001_0000));
    assert!(matches!(
        r.emit(&mut [0; 32]),
        Err(EncodeError::Address { .. })
    ));
    // broadcast time to a single meter
    let r = Repr::request(Edition::V2007, a, Request::BroadcastTime { time: time() });
    assert!(matches!(
        r.emit(&mut [0; 32]),
        Err(EncodeError::Address { .. })
    ));
    // write data over 50 bytes
    let big = [0u8; 40];
    let r = Repr::request(
        Edition::V2007,
        a,
        Request::Write {
            di: DataId::V2007(Di(0x0400_0403)),
            password: Password::new(2, 0),
            operator: Some(OperatorCode([0; 4])),
            data: Data::plain(&big),
        },
    );
    assert_eq!(
        r.emit(&mut [0; 128]),
        Err(EncodeError::TooLong { len: 52, max: 50 })
    );
    // read reply over 200 bytes
    let big = [0u8; 197];
    let r = Repr::new(
        Edition::V2007,
        a,
        Body::Reply(Reply::Read {
            di: DataId::V2007(Di(0)),
            data: Data::plain(&big),
            more: false,
        }),
    );
    assert_eq!(
        r.emit(&mut [0; 256]),
        Err(EncodeError::TooLong { len: 201, max: 200 })
    );
    // missing SEQ in a 2007 follow-up
    let r = Repr::request(
        Edition::V2007,
        a,
        Request::ReadFollowUp {
            di: DataId::V2007(Di(0)),
            seq: None,
        },
    );
    assert!(matches!(
        r.emit(&mut [0; 32]),
        Err(EncodeError::Layout { .. })
    ));
    // small buffer
    let r = Repr::read(a, Di(0));
    assert_eq!(
        r.emit(&mut [0; 15]),
        Err(EncodeError::BufferTooSmall {
            needed: 16,
            got: 15
        })
    );
}

#[test]
fn parse_rejects_wrong_layouts() {
    // 2007 follow-up request without SEQ (L = 4)
    let mut buf = [0u8; 32];
    let r = Repr::request(
        Edition::V1997,
        addr(),
        Request::ReadFollowUp {
            di: DataId::V1997(Di97(0x9010)),
            seq: None,
        },
    );
    let n = r.emit(&mut buf).unwrap();
    // re-label the 1997 frame (C = 02) as 2007: 02 is unknown in 2007 -> kept as Unknown
    let back = Repr::parse_bytes(&buf[..n], Edition::V2007).unwrap();
    assert!(matches!(back.body, Body::Unknown { .. }));
    // remote control with an impossible valid-until date
    let mut data = <[u8; 8]>::from(auth()).to_vec();
    data.extend([0x1A, 0x00, 0x00, 0x00, 0x00, 0x31, 0x02, 0x24]); // 31 February
    let frame = raw_frame(0x1C, &data);
    assert!(matches!(
        Repr::parse_bytes(&frame, Edition::V2007),
        Err(ParseError::Value(ValueError::Time {
            field: "day",
            value: 31
        }))
    ));
    // clear meter with 7 bytes
    let frame = raw_frame(0x1A, &[0; 7]);
    assert!(matches!(
        Repr::parse_bytes(&frame, Edition::V2007),
        Err(ParseError::DataLength { .. })
    ));
    // L above 200
    let frame = raw_frame(0x91, &[0; 201]);
    assert_eq!(
        Repr::parse_bytes(&frame, Edition::V2007),
        Err(ParseError::TooLong {
            max: 200,
            actual: 201
        })
    );
}

/// A frame with arbitrary plain data (for negative tests).
fn raw_frame(control: u8, plain: &[u8]) -> Vec<u8> {
    let mut f = vec![
        0x68,
        0x78,
        0x56,
        0x34,
        0x12,
        0x00,
        0x00,
        0x68,
        control,
        plain.len() as u8,
    ];
    f.extend(plain.iter().map(|b| b.wrapping_add(0x33)));
    let cs = f.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    f.extend([cs, 0x16]);
    f
}

#[test]
fn abnormal_reply_flags() {
    // error word with several bits: no data + unauthorised
    let frame = raw_frame(0xD1, &[0x06]);
    let r = Repr::parse_bytes(&frame, Edition::V2007).unwrap();
    let Body::Abnormal {
        function, error, ..
    } = r.body
    else {
        panic!()
    };
    assert_eq!(function, Function::Read);
    assert_eq!(
        error.flag_names().collect::<Vec<_>>(),
        ["no_requested_data", "unauthorised"]
    );
}
