//! The meter side ([`amikit_dlt645::meter`]): multi-frame reads against the master's
//! [`MultiRead`], follow-up and re-read refusals, security authentication, the read request's
//! extra fields, the write limit, the framework's password and valid-until checks, the audit
//! trail, and a stateful property test over arbitrary frames.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_dlt645::meter::{
    AuditRecord, Credential, Handler, LoadRecords, Meter, Outcome, ReadRequest, Refusal,
    SecurityRefusal,
};
use amikit_dlt645::multiframe::{MultiRead, Step};
use amikit_dlt645::*;
use proptest::prelude::*;

const GOOD: Password = Password::new(2, 123_456);
const BAD: Password = Password::new(2, 654_321);
const LONG_DI: Di = Di(0x0400_0403);
const LOAD_DI: Di = Di(0x0610_0101);

fn me() -> Address {
    "000012345678".parse::<Address>().unwrap()
}

fn now() -> DateTime {
    DateTime::ymd_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn long_value(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// A meter application that records every call and changes `state` only when it accepts.
#[derive(Default, Debug, Clone)]
struct Recorder {
    /// Non-audit handler calls, in order.
    calls: Vec<&'static str>,
    /// Everything the handler accepted (relay, written values, …).
    state: Vec<String>,
    audits: Vec<AuditRecord>,
    reads: Vec<(DataId, Vec<u8>, Option<LoadRecords>)>,
    value_len: usize,
}

const CREDENTIALS: &[Credential] = &[Credential::Password(GOOD), Credential::Level(0x98)];

impl Handler for Recorder {
    fn credentials(&self, function: Function, _: Option<DataId>) -> &[Credential] {
        match function {
            Function::ClearMeter => &[], // nobody may clear this meter
            _ => CREDENTIALS,
        }
    }
    fn audit(&mut self, record: &AuditRecord) {
        self.audits.push(*record);
    }
    fn read(&mut self, request: &ReadRequest<'_>, out: &mut [u8]) -> Result<usize, ErrorWord> {
        self.calls.push("read");
        let mut extra = vec![0; request.extra.len()];
        request.extra.copy_to(&mut extra);
        self.reads.push((request.di, extra, request.load));
        match request.di {
            DataId::V2007(LONG_DI) | DataId::V1997(Di97(0xC032)) | DataId::V2007(LOAD_DI) => {
                let v = long_value(self.value_len);
                out.get_mut(..v.len())
                    .ok_or(ErrorWord(ErrorWord::OTHER))?
                    .copy_from_slice(&v);
                Ok(v.len())
            }
            _ => Err(ErrorWord(ErrorWord::NO_REQUESTED_DATA)),
        }
    }
    fn write(
        &mut self,
        di: DataId,
        _: Password,
        _: Option<OperatorCode>,
        data: Data<'_>,
    ) -> Result<(), ErrorWord> {
        self.calls.push("write");
        if data.is_empty() {
            return Err(ErrorWord(ErrorWord::OTHER));
        }
        self.state.push(format!("write {di} {} bytes", data.len()));
        Ok(())
    }
    fn broadcast_time(&mut self, time: DateTime) {
        self.calls.push("broadcast_time");
        self.state.push(format!("time {time}"));
    }
    fn remote_control(&mut self, rc: &RemoteControl<'_>) -> Result<(), ErrorWord> {
        self.calls.push("remote_control");
        match rc.command() {
            Some(RemoteCommand::Unknown(_)) => Err(ErrorWord(ErrorWord::OTHER)),
            c => {
                self.state.push(format!("relay {c:?}"));
                Ok(())
            }
        }
    }
    fn freeze(&mut self, time: FreezeTime) -> Result<(), ErrorWord> {
        self.calls.push("freeze");
        self.state.push(format!("freeze {:?}", time.0));
        Ok(())
    }
    fn change_password(
        &mut self,
        _: Option<Di>,
        _: Password,
        new: Password,
    ) -> Result<Password, ErrorWord> {
        self.calls.push("change_password");
        self.state.push("password changed".into());
        Ok(new)
    }
    fn clear(&mut self, f: Function, _: Option<Auth>, _: Option<Di>) -> Result<(), ErrorWord> {
        self.calls.push("clear");
        self.state.push(format!("clear {f}"));
        Ok(())
    }
    fn security(&mut self, payload: Data<'_>, out: &mut [u8]) -> Result<usize, SecurityRefusal> {
        self.calls.push("security");
        match payload.get(0) {
            Some(0xEE) => Err(SecurityRefusal::Serr([0x04, 0x01])),
            None => Err(SecurityRefusal::Word(ErrorWord(ErrorWord::OTHER))),
            Some(_) => {
                // echo the payload reversed
                let n = payload.len();
                for (o, b) in out.iter_mut().zip(payload.iter().rev()) {
                    *o = b;
                }
                Ok(n)
            }
        }
    }
}

/// Sends `request` (emitted with `limits`) to `meter`; returns the reply bytes, if any.
fn exchange<const N: usize>(
    meter: &mut Meter<N>,
    h: &mut Recorder,
    request: &Repr<'_>,
    at: DateTime,
) -> Option<Vec<u8>> {
    let mut buf = [0u8; 256];
    let n = request.emit_with(&mut buf, meter.limits).unwrap();
    send_bytes(meter, h, &buf[..n], at)
}

fn send_bytes<const N: usize>(
    meter: &mut Meter<N>,
    h: &mut Recorder,
    bytes: &[u8],
    at: DateTime,
) -> Option<Vec<u8>> {
    let frame = Frame::new_checked(bytes).unwrap();
    let mut out = [0u8; 256];
    let n = meter.serve(h, &frame, at, &mut out)?.unwrap();
    Some(out[..n].to_vec())
}

fn last_outcome(h: &Recorder) -> Outcome {
    h.audits.last().unwrap().outcome
}

/// Runs the master's [`MultiRead`] against [`Meter::serve`] until done; returns the data and
/// the number of frames the meter sent.
fn multi_read<const N: usize, const M: usize>(
    meter: &mut Meter<N>,
    h: &mut Recorder,
    mut read: MultiRead<M>,
) -> (Vec<u8>, usize) {
    let mut request = read.first_request();
    let mut frames = 0;
    loop {
        let reply = exchange(meter, h, &request, now()).expect("a reply");
        frames += 1;
        let repr = Repr::parse_bytes(&reply, meter.edition).unwrap();
        match read.on_reply(&repr).unwrap() {
            Step::Send(next) => request = next,
            Step::Done(all) => return (all.to_vec(), frames),
        }
    }
}

#[test]
fn multi_read_2007_spans_three_frames() {
    let mut meter = Meter::<1024>::with_buffer(me());
    let mut h = Recorder {
        value_len: 500,
        ..Recorder::default()
    };
    let (data, frames) = multi_read(
        &mut meter,
        &mut h,
        MultiRead::<1024>::new(Edition::V2007, me(), DataId::V2007(LONG_DI)),
    );
    assert_eq!(data, long_value(500));
    // 196 + 195 + 109 bytes: B1, B2 (SEQ 1), 92 (SEQ 2)
    assert_eq!(frames, 3);
    assert_eq!(h.calls, ["read"], "the handler is asked once");
    assert!(h.audits.iter().all(|a| a.outcome == Outcome::Done));
    assert_eq!(h.audits.len(), 3);
    assert_eq!(h.audits[1].function, Function::ReadFollowUp);
}

#[test]
fn multi_read_1997_spans_four_frames() {
    let mut meter = Meter::<1024>::with_buffer(me());
    meter.edition = Edition::V1997;
    let mut h = Recorder {
        value_len: 600,
        ..Recorder::default()
    };
    let (data, frames) = multi_read(
        &mut meter,
        &mut h,
        MultiRead::<1024>::new(Edition::V1997, me(), DataId::V1997(Di97(0xC032))),
    );
    assert_eq!(data, long_value(600));
    assert_eq!(frames, 4); // 198 × 3 + 6
}

#[test]
fn follow_up_controls_and_seq_checks() {
    let mut meter = Meter::<1024>::with_buffer(me());
    let mut h = Recorder {
        value_len: 500,
        ..Recorder::default()
    };
    let read = Repr::read(me(), LONG_DI);
    let first = exchange(&mut meter, &mut h, &read, now()).unwrap();
    assert_eq!(first[8], 0xB1);
    assert_eq!(first[9], 200); // L = DI + 196
    let follow = |di: Di, seq: u8| {
        Repr::request(
            Edition::V2007,
            me(),
            Request::ReadFollowUp {
                di: DataId::V2007(di),
                seq: Some(seq),
            },
        )
    };
    // a follow-up for another DI: D2 "no requested data", audited
    let r = exchange(&mut meter, &mut h, &follow(Di(0x0001_0000), 1), now()).unwrap();
    assert_eq!(
        (r[8], r[9], r[10]),
        (0xD2, 1, 0x33 + ErrorWord::NO_REQUESTED_DATA)
    );
    assert_eq!(
        last_outcome(&h),
        Outcome::Refused {
            error: ErrorWord(ErrorWord::NO_REQUESTED_DATA),
            reason: Refusal::FollowUp
        }
    );
    // SEQ 2 before SEQ 1: refused; SEQ 0: refused
    for seq in [2, 0] {
        let r = exchange(&mut meter, &mut h, &follow(LONG_DI, seq), now()).unwrap();
        assert_eq!(r[8], 0xD2, "seq {seq}");
    }
    // SEQ 1: B2 with SEQ 1 at the end; asked again (lost reply): the same frame
    let p1 = exchange(&mut meter, &mut h, &follow(LONG_DI, 1), now()).unwrap();
    assert_eq!((p1[8], p1[9]), (0xB2, 200));
    assert_eq!(p1[p1.len() - 3], 0x33 + 1);
    let again = exchange(&mut meter, &mut h, &follow(LONG_DI, 1), now()).unwrap();
    assert_eq!(again, p1);
    // SEQ 2: the last part (92), then nothing is left for SEQ 3
    let p2 = exchange(&mut meter, &mut h, &follow(LONG_DI, 2), now()).unwrap();
    assert_eq!((p2[8], p2[9]), (0x92, 4 + 109 + 1));
    let r = exchange(&mut meter, &mut h, &follow(LONG_DI, 3), now()).unwrap();
    assert_eq!(r[8], 0xD2);
    // a new read ends the pending one
    exchange(
        &mut meter,
        &mut h,
        &Repr::read(me(), Di(0x0001_0000)),
        now(),
    )
    .unwrap();
    let r = exchange(&mut meter, &mut h, &follow(LONG_DI, 2), now()).unwrap();
    assert_eq!(r[8], 0xD2);
    assert_eq!(h.calls, ["read", "read"]);
}

#[test]
fn re_read_1997_repeats_the_last_part() {
    let mut meter = Meter::<1024>::with_buffer(me());
    meter.edition = Edition::V1997;
    let mut h = Recorder {
        value_len: 300,
        ..Recorder::default()
    };
    let re_read = Repr::request(Edition::V1997, me(), Request::ReRead);
    // nothing read yet: C3 "no requested data"
    let r = exchange(&mut meter, &mut h, &re_read, now()).unwrap();
    assert_eq!((r[8], r[10]), (0xC3, 0x33 + ErrorWord::NO_REQUESTED_DATA));
    let first = exchange(
        &mut meter,
        &mut h,
        &Repr::request(
            amikit_dlt645::Edition::V1997,
            me(),
            amikit_dlt645::Request::Read {
                di: amikit_dlt645::DataId::V1997(Di97(0xC032)),
                extra: amikit_dlt645::Data::EMPTY,
            },
        ),
        now(),
    )
    .unwrap();
    assert_eq!(first[8], 0xA1);
    let again = exchange(&mut meter, &mut h, &re_read, now()).unwrap();
    // A3: the same DI and data as the A1 frame
    assert_eq!(again[8], 0xA3);
    assert_eq!(again[9..again.len() - 2], first[9..first.len() - 2]);
    let follow = Repr::request(
        Edition::V1997,
        me(),
        Request::ReadFollowUp {
            di: DataId::V1997(Di97(0xC032)),
            seq: None,
        },
    );
    let last = exchange(&mut meter, &mut h, &follow, now()).unwrap();
    assert_eq!((last[8], last[9]), (0x82, 2 + 102));
    let again = exchange(&mut meter, &mut h, &re_read, now()).unwrap();
    assert_eq!((again[8], again[9]), (0x83, 2 + 102));
    let parsed = Repr::parse_bytes(&again, Edition::V1997).unwrap();
    let Body::Reply(Reply::ReRead { di, data, more }) = parsed.body else {
        panic!("{parsed:?}")
    };
    assert_eq!(
        (di, data.len(), more),
        (DataId::V1997(Di97(0xC032)), 102, false)
    );
    // no further part: refused
    let r = exchange(&mut meter, &mut h, &follow, now()).unwrap();
    assert_eq!(r[8], 0xC2);
}

#[test]
fn security_authentication_answers_with_data() {
    let mut meter = Meter::new(me());
    let mut h = Recorder::default();
    let payload = [1u8, 2, 3, 4, 5];
    let req = Repr::request(
        Edition::V2007,
        me(),
        Request::SecurityAuth {
            payload: Data::plain(&payload),
        },
    );
    let r = exchange(&mut meter, &mut h, &req, now()).unwrap();
    let parsed = Repr::parse_bytes(&r, Edition::V2007).unwrap();
    assert_eq!(parsed.control().unwrap().0, 0x83);
    let Body::Reply(Reply::SecurityAuth { payload: p }) = parsed.body else {
        panic!("{parsed:?}")
    };
    assert_eq!(p.iter().collect::<Vec<_>>(), [5, 4, 3, 2, 1]);
    // the 2-byte security error
    let bad = [0xEEu8, 0];
    let req = Repr::request(
        Edition::V2007,
        me(),
        Request::SecurityAuth {
            payload: Data::plain(&bad),
        },
    );
    let r = exchange(&mut meter, &mut h, &req, now()).unwrap();
    assert_eq!(
        (r[8], r[9], r[10], r[11]),
        (0xC3, 2, 0x33 + 0x04, 0x33 + 0x01)
    );
    assert_eq!(
        last_outcome(&h),
        Outcome::Refused {
            error: ErrorWord(0x04),
            reason: Refusal::Handler
        }
    );
}

#[test]
fn the_handler_sees_block_count_and_load_record_time() {
    let mut meter = Meter::<1024>::with_buffer(me());
    let mut h = Recorder {
        value_len: 10,
        ..Recorder::default()
    };
    let read = |extra: &'static [u8]| {
        Repr::request(
            Edition::V2007,
            me(),
            Request::Read {
                di: DataId::V2007(LOAD_DI),
                extra: Data::plain(extra),
            },
        )
    };
    // format 2: N = 5
    exchange(&mut meter, &mut h, &read(&[0x05]), now()).unwrap();
    assert_eq!(
        h.reads.last().unwrap().2,
        Some(LoadRecords {
            blocks: 5,
            from: None
        })
    );
    // format 3: N = 3 from 2026-03-01 12:30 (mm hh DD MM YY)
    exchange(
        &mut meter,
        &mut h,
        &read(&[0x03, 0x30, 0x12, 0x01, 0x03, 0x26]),
        now(),
    )
    .unwrap();
    let load = h.reads.last().unwrap().2.unwrap();
    assert_eq!(load.blocks, 3);
    let from = load.from.unwrap();
    assert_eq!(
        (from.year, from.month, from.day, from.hour, from.minute),
        (Some(2026), Some(3), Some(1), Some(12), Some(30))
    );
    // an impossible start time (month 13) never reaches the handler
    let calls = h.calls.len();
    let r = exchange(
        &mut meter,
        &mut h,
        &read(&[0x03, 0x30, 0x12, 0x01, 0x13, 0x26]),
        now(),
    );
    assert_eq!(r.unwrap()[8], 0xD1);
    assert_eq!(h.calls.len(), calls);
    assert!(matches!(
        last_outcome(&h),
        Outcome::Refused {
            reason: Refusal::Malformed(_),
            ..
        }
    ));
    // other identifiers: the extra bytes are handed over raw
    let other = Repr::request(
        Edition::V2007,
        me(),
        Request::Read {
            di: DataId::V2007(LONG_DI),
            extra: Data::plain(&[0xAB, 0xCD]),
        },
    );
    exchange(&mut meter, &mut h, &other, now()).unwrap();
    let (_, extra, load) = h.reads.last().unwrap();
    assert_eq!((extra.as_slice(), *load), (&[0xAB, 0xCD][..], None));
}

fn write_of(len: usize) -> Repr<'static> {
    let value: &'static [u8] = Box::leak(vec![0x42u8; len].into_boxed_slice());
    Repr::request(
        amikit_dlt645::Edition::V2007,
        me(),
        amikit_dlt645::Request::Write {
            di: amikit_dlt645::DataId::V2007(Di(0x0400_0101)),
            password: (Auth {
                password: GOOD,
                operator: OperatorCode([1, 2, 3, 4]),
            })
            .password,
            operator: Some(
                (Auth {
                    password: GOOD,
                    operator: OperatorCode([1, 2, 3, 4]),
                })
                .operator,
            ),
            data: Data::plain(value),
        },
    )
}

#[test]
fn write_limit_is_a_parameter() {
    // 12 bytes of DI, password and operator + 38 = 50: the standard's largest write.
    let mut buf = [0u8; 128];
    assert!(write_of(38).emit(&mut buf).is_ok());
    assert_eq!(
        write_of(39).emit(&mut buf),
        Err(EncodeError::TooLong { len: 51, max: 50 })
    );
    let secured = Limits { max_write: 120 };
    let n = write_of(100).emit_with(&mut buf, secured).unwrap();
    // the standard parser refuses it, the secured one takes it
    let frame = Frame::new_checked(&buf[..n]).unwrap();
    assert_eq!(
        Repr::parse(&frame, Edition::V2007),
        Err(ParseError::TooLong {
            max: 50,
            actual: 112
        })
    );
    assert!(Repr::parse_with(&frame, Edition::V2007, secured).is_ok());
    // the meter: ignored (and audited) with the standard limit …
    let mut h = Recorder::default();
    let mut meter = Meter::new(me());
    assert_eq!(send_bytes(&mut meter, &mut h, &buf[..n], now()), None);
    assert!(h.calls.is_empty());
    assert_eq!(
        last_outcome(&h),
        Outcome::Ignored(Refusal::Malformed(ParseError::TooLong {
            max: 50,
            actual: 112
        }))
    );
    // … and carried out with the amendment's limit
    let mut meter = Meter::new(me());
    meter.limits = secured;
    let r = send_bytes(&mut meter, &mut h, &buf[..n], now()).unwrap();
    assert_eq!(r[8], 0x94);
    assert_eq!(h.state, ["write 04000101 100 bytes"]);
}

fn trip(password: Password, until: DateTime) -> Repr<'static> {
    Repr::request(
        amikit_dlt645::Edition::V2007,
        me(),
        amikit_dlt645::Request::RemoteControl(amikit_dlt645::RemoteControl::plain(
            Auth {
                password,
                operator: OperatorCode([9, 9, 9, 9]),
            },
            RemoteCommand::Trip,
            until,
        )),
    )
}

fn later() -> DateTime {
    DateTime::ymd_hms(2026, 3, 2, 9, 10, 0).unwrap()
}

#[test]
fn refused_for_a_wrong_password_before_the_handler() {
    let mut meter = Meter::new(me());
    let mut h = Recorder::default();
    // remote control
    let r = exchange(&mut meter, &mut h, &trip(BAD, later()), now()).unwrap();
    assert_eq!((r[8], r[10]), (0xDC, 0x33 + ErrorWord::UNAUTHORISED));
    // write
    let mut w = write_of(4);
    if let Body::Request(Request::Write { password, .. }) = &mut w.body {
        *password = BAD;
    }
    let r = exchange(&mut meter, &mut h, &w, now()).unwrap();
    assert_eq!(r[8], 0xD4);
    // change password: the old one is checked
    let cp = Repr::request(
        Edition::V2007,
        me(),
        Request::ChangePassword {
            di: Some(Di(0x0400_0C03)),
            old: BAD,
            new: Password::new(2, 1),
        },
    );
    assert_eq!(exchange(&mut meter, &mut h, &cp, now()).unwrap()[8], 0xD8);
    // clear meter: the handler declares no credential at all, so even the good password fails
    let clear = Repr::request(
        Edition::V2007,
        me(),
        Request::ClearMeter {
            auth: Auth {
                password: GOOD,
                operator: OperatorCode::default(),
            },
        },
    );
    assert_eq!(
        exchange(&mut meter, &mut h, &clear, now()).unwrap()[8],
        0xDA
    );
    assert!(h.calls.is_empty() && h.state.is_empty(), "{h:?}");
    assert_eq!(h.audits.len(), 4);
    for a in &h.audits {
        assert_eq!(
            a.outcome,
            Outcome::Refused {
                error: ErrorWord(ErrorWord::UNAUTHORISED),
                reason: Refusal::Password
            }
        );
    }
    assert_eq!(h.audits[0].operator, Some(OperatorCode([9, 9, 9, 9])));
    // the right password reaches the relay
    let r = exchange(&mut meter, &mut h, &trip(GOOD, later()), now()).unwrap();
    assert_eq!(r[8], 0x9C);
    assert_eq!(h.state, ["relay Some(Trip)"]);
}

#[test]
fn the_default_handler_accepts_no_password() {
    struct Nothing;
    impl Handler for Nothing {
        fn remote_control(&mut self, _: &RemoteControl<'_>) -> Result<(), ErrorWord> {
            panic!("the relay must not be reached")
        }
    }
    let mut meter = Meter::new(me());
    let (buf, n) = trip(GOOD, later()).to_array::<64>().unwrap();
    let frame = Frame::new_checked(&buf[..n]).unwrap();
    let mut out = [0u8; 64];
    let len = meter
        .serve(&mut Nothing, &frame, now(), &mut out)
        .unwrap()
        .unwrap();
    assert_eq!((out[8], out[10]), (0xDC, 0x33 + ErrorWord::UNAUTHORISED));
    assert_eq!(len, 13);
}

#[test]
fn expired_remote_control_never_reaches_the_relay() {
    let mut meter = Meter::new(me());
    let mut h = Recorder::default();
    let earlier = DateTime::ymd_hms(2026, 3, 2, 8, 59, 59).unwrap();
    let r = exchange(&mut meter, &mut h, &trip(GOOD, earlier), now()).unwrap();
    assert_eq!((r[8], r[10]), (0xDC, 0x33 + ErrorWord::OTHER));
    assert_eq!(
        last_outcome(&h),
        Outcome::Refused {
            error: ErrorWord(ErrorWord::OTHER),
            reason: Refusal::Expired {
                valid_until: earlier
            }
        }
    );
    // valid until exactly now: accepted
    let r = exchange(&mut meter, &mut h, &trip(GOOD, now()), now()).unwrap();
    assert_eq!(r[8], 0x9C);
    assert_eq!(h.calls, ["remote_control"]);
    // an incomplete clock fails closed
    let r = exchange(
        &mut meter,
        &mut h,
        &trip(GOOD, later()),
        DateTime::default(),
    )
    .unwrap();
    assert_eq!(r[8], 0xDC);
    assert_eq!(
        last_outcome(&h),
        Outcome::Refused {
            error: ErrorWord(ErrorWord::OTHER),
            reason: Refusal::Clock
        }
    );
    assert_eq!(h.calls, ["remote_control"]);
}

#[test]
fn broadcast_control_is_ignored_and_audited() {
    let mut meter = Meter::new(me());
    let mut h = Recorder::default();
    let mut rc = trip(GOOD, later());
    rc.address = Address::BROADCAST;
    let mut buf = [0u8; 64];
    // Repr refuses to build it; a hostile master sends it anyway
    assert!(rc.emit(&mut buf).is_err());
    let mut bytes = trip(GOOD, later()).to_vec().unwrap();
    bytes[1..7].copy_from_slice(&[0x99; 6]);
    let cs = frame::checksum(&bytes[..bytes.len() - 2]);
    let at = bytes.len() - 2;
    bytes[at] = cs;
    assert_eq!(send_bytes(&mut meter, &mut h, &bytes, now()), None);
    assert!(h.calls.is_empty());
    assert_eq!(last_outcome(&h), Outcome::Ignored(Refusal::Address));
    // broadcast time is carried out, without a reply
    let bt = Repr::request(
        Edition::V2007,
        amikit_dlt645::Address::BROADCAST,
        amikit_dlt645::Request::BroadcastTime { time: later() },
    );
    assert_eq!(exchange(&mut meter, &mut h, &bt, now()), None);
    assert_eq!(h.calls, ["broadcast_time"]);
    assert_eq!(last_outcome(&h), Outcome::Done);
    assert_eq!(h.audits.last().unwrap().reply, None);
}

#[test]
fn every_request_is_audited() {
    let mut meter = Meter::new(me());
    let mut h = Recorder::default();
    // unparsable: a 2007 change-password with 3 bytes
    let bytes = {
        let mut f = vec![0x68];
        f.extend_from_slice(&<[u8; 6]>::from(me()));
        f.extend_from_slice(&[0x68, 0x18, 0x03, 0x33, 0x33, 0x33]);
        f.push(frame::checksum(&f));
        f.push(0x16);
        f
    };
    assert_eq!(send_bytes(&mut meter, &mut h, &bytes, now()), None);
    assert!(matches!(
        last_outcome(&h),
        Outcome::Ignored(Refusal::Malformed(ParseError::DataLength { .. }))
    ));
    assert_eq!(h.audits[0].control, Control(0x18));
    assert_eq!(h.audits[0].function, Function::ChangePassword);
    // read address via the wildcard
    let r = exchange(
        &mut meter,
        &mut h,
        &Repr::request(
            amikit_dlt645::Edition::V2007,
            amikit_dlt645::Address::WILDCARD,
            amikit_dlt645::Request::ReadAddress,
        ),
        now(),
    )
    .unwrap();
    assert_eq!(r[8], 0x93);
    let a = h.audits.last().unwrap();
    assert_eq!(
        (a.address, a.outcome, a.reply),
        (Address::WILDCARD, Outcome::Done, Some(Ok(r.len())))
    );
    // another meter's frame: not for us, not audited
    let other = Repr::read(Address::try_from(1).unwrap(), LONG_DI);
    assert_eq!(exchange(&mut meter, &mut h, &other, now()), None);
    assert_eq!(h.audits.len(), 2);
    // a reply that does not fit the caller's buffer is audited with the error
    let mut big = Meter::<1024>::with_buffer(me());
    let mut h = Recorder {
        value_len: 100,
        ..Recorder::default()
    };
    let (req, n) = Repr::read(me(), LONG_DI).to_array::<32>().unwrap();
    let frame = Frame::new_checked(&req[..n]).unwrap();
    let mut small = [0u8; 20];
    let got = big.serve(&mut h, &frame, now(), &mut small).unwrap();
    assert!(matches!(got, Err(EncodeError::BufferTooSmall { .. })));
    assert_eq!(h.audits[0].reply, Some(got));
}

#[test]
fn credential_debug_hides_the_password() {
    let c = Credential::Password(Password::new(2, 123_456));
    let text = format!("{c:?}");
    assert!(
        !text.contains("56") && !text.contains("34") && !text.contains("12"),
        "{text}"
    );
    assert!(text.contains("02"));
}

// ---------------------------------------------------------------------------------------------
// Property: arbitrary frames in any order never panic the meter; whatever is refused or
// ignored leaves the handler's state exactly as it was.

/// A frame with a valid checksum around arbitrary plain data.
fn raw_frame(address: Address, control: u8, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x68];
    f.extend_from_slice(&<[u8; 6]>::from(address));
    f.push(0x68);
    f.push(control);
    f.push(data.len() as u8);
    f.extend(data.iter().map(|b| b.wrapping_add(0x33)));
    f.push(frame::checksum(&f));
    f.push(0x16);
    f
}

fn address_strategy() -> impl Strategy<Value = Address> {
    prop_oneof![
        4 => Just(me()),
        1 => Just(Address::BROADCAST),
        1 => Just(Address::WILDCARD),
        1 => Just(Address::try_from(1).unwrap()),
    ]
}

fn password_strategy() -> impl Strategy<Value = Password> {
    prop_oneof![
        Just(GOOD),
        Just(BAD),
        Just(Password::new(0x98, 7)),
        any::<[u8; 4]>().prop_map(Password::from)
    ]
}

fn time_strategy() -> impl Strategy<Value = DateTime> {
    (0u8..24, 0u8..60).prop_map(|(h, m)| DateTime::ymd_hms(2026, 3, 2, h, m, 0).unwrap())
}

fn request_strategy() -> impl Strategy<Value = Vec<u8>> {
    let typed = (
        address_strategy(),
        password_strategy(),
        time_strategy(),
        any::<u8>(),
        0usize..5,
    )
        .prop_map(|(address, password, until, byte, pick)| {
            let auth = Auth {
                password,
                operator: OperatorCode([byte; 4]),
            };
            let repr = match pick {
                0 => Repr::request(
                    amikit_dlt645::Edition::V2007,
                    address,
                    amikit_dlt645::Request::RemoteControl(amikit_dlt645::RemoteControl::plain(
                        auth,
                        RemoteCommand::from(byte),
                        until,
                    )),
                ),
                1 => Repr::read(address, LONG_DI),
                2 => Repr::request(
                    Edition::V2007,
                    address,
                    Request::ReadFollowUp {
                        di: DataId::V2007(LONG_DI),
                        seq: Some(byte % 4),
                    },
                ),
                3 => Repr::request(
                    amikit_dlt645::Edition::V2007,
                    address,
                    amikit_dlt645::Request::Write {
                        di: amikit_dlt645::DataId::V2007(Di(0x0400_0101)),
                        password: (auth).password,
                        operator: Some((auth).operator),
                        data: Data::plain(&[1, 2, 3]),
                    },
                ),
                _ => Repr::request(
                    Edition::V2007,
                    address,
                    Request::ClearEvents {
                        auth,
                        event: Di(0xFFFF_FFFF),
                    },
                ),
            };
            let mut buf = [0u8; 64];
            // force the address even where the builder refuses it
            let mut body = repr;
            body.address = me();
            let n = body.emit(&mut buf).unwrap();
            let mut bytes = buf[..n].to_vec();
            bytes[1..7].copy_from_slice(&<[u8; 6]>::from(address));
            let at = bytes.len() - 2;
            bytes[at] = frame::checksum(&bytes[..at]);
            bytes
        });
    let raw = (
        address_strategy(),
        prop_oneof![0u8..0x20, any::<u8>()],
        proptest::collection::vec(any::<u8>(), 0..80),
    )
        .prop_map(|(address, control, data)| raw_frame(address, control, &data));
    prop_oneof![3 => typed, 2 => raw]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_requests_never_panic_and_refusals_change_nothing(
        requests in proptest::collection::vec(request_strategy(), 1..24),
        v1997 in any::<bool>(),
        now_at in time_strategy(),
        value_len in 0usize..700,
    ) {
        let edition = if v1997 { Edition::V1997 } else { Edition::V2007 };
        let mut meter = Meter::<512>::with_buffer(me());
        meter.edition = edition;
        let mut h = Recorder { value_len, ..Recorder::default() };
        for bytes in &requests {
            let Ok(frame) = Frame::new_checked(&bytes[..]) else { continue };
            let before = (h.calls.clone(), h.state.clone());
            let audits = h.audits.len();
            let mut out = [0u8; 256];
            let got = meter.serve(&mut h, &frame, now_at, &mut out);
            let for_me = frame.address().matches(me()) && !frame.control().is_reply();
            prop_assert_eq!(h.audits.len(), audits + usize::from(for_me));
            if !for_me {
                prop_assert!(got.is_none());
                continue;
            }
            let record = *h.audits.last().unwrap();
            prop_assert_eq!(record.reply, got);
            match record.outcome {
                Outcome::Done => {}
                Outcome::Refused { reason: Refusal::Handler, .. }
                | Outcome::Refused { reason: Refusal::TooLong, .. } => {
                    prop_assert_eq!(&h.state, &before.1);
                }
                Outcome::Refused { .. } | Outcome::Ignored(_) => {
                    prop_assert_eq!(&h.calls, &before.0, "{:?}", record);
                    prop_assert_eq!(&h.state, &before.1);
                }
            }
            // a remote control that moved the relay had the right password and was in time
            if h.state.len() > before.1.len() && record.function == Function::RemoteControl {
                let Ok(Repr { body: Body::Request(Request::RemoteControl(rc)), .. }) =
                    Repr::parse(&frame, edition) else { panic!() };
                prop_assert!(rc.auth.password == GOOD || rc.auth.password.level == 0x98);
                if let RemoteBody::Plain { valid_until, .. } = rc.body {
                    let key = |t: DateTime| (t.year, t.month, t.day, t.hour, t.minute, t.second);
                    prop_assert!(key(valid_until) >= key(now_at));
                }
            }
            // whatever is sent parses back as a reply of this meter
            if let Some(Ok(n)) = got {
                let reply = Repr::parse_bytes(&out[..n], edition).unwrap();
                prop_assert_eq!(reply.address, me());
                let is_reply = !matches!(reply.body, Body::Request(_) | Body::Unknown { .. });
                prop_assert!(is_reply);
            }
        }
    }
}
