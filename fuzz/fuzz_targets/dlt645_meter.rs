//! The DL/T 645 meter side, stateful: a sequence of requests (valid frames around fuzzed
//! control bytes and data, with a correct password or valid-until time planted now and then)
//! against one `Meter` and a handler that records every call. Checks: nothing panics; every
//! request addressed to the meter is audited once; a request refused or ignored by the
//! framework reaches no handler method, and any refusal leaves the handler's state as it was;
//! a relay command that got through had an admitted password and was in time; every reply
//! parses back as a reply of this meter.
#![no_main]

use amikit_dlt645::meter::{
    AuditRecord, Credential, Handler, Meter, Outcome, ReadRequest, Refusal, SecurityRefusal,
};
use amikit_dlt645::{
    Address, Auth, Body, Data, DataId, DateTime, Di, Edition, ErrorWord, Frame, FreezeTime,
    Function, OperatorCode, Password, RemoteBody, RemoteControl, Repr, Request,
};
use libfuzzer_sys::fuzz_target;

const GOOD: Password = Password::new(2, 123_456);
const CREDENTIALS: &[Credential] = &[Credential::Password(GOOD), Credential::Level(0x98)];
const ME: Address = Address::from_wire_unchecked([0x78, 0x56, 0x34, 0x12, 0x00, 0x00]);

#[derive(Default)]
struct Recorder {
    calls: usize,
    state: Vec<u8>,
    audits: Vec<AuditRecord>,
    value_len: usize,
}

impl Recorder {
    fn accept(&mut self, what: u8) {
        self.state.push(what);
    }
}

impl Handler for Recorder {
    fn credentials(&self, _: Function, _: Option<DataId>) -> &[Credential] {
        CREDENTIALS
    }
    fn audit(&mut self, record: &AuditRecord) {
        self.audits.push(*record);
    }
    fn read(&mut self, request: &ReadRequest<'_>, out: &mut [u8]) -> Result<usize, ErrorWord> {
        self.calls += 1;
        if request.extra.len() > 3 && request.load.is_none() {
            return Err(ErrorWord(ErrorWord::NO_REQUESTED_DATA));
        }
        let n = self.value_len.min(out.len());
        for (i, b) in out.iter_mut().take(n).enumerate() {
            *b = i as u8;
        }
        Ok(self.value_len)
    }
    fn write(
        &mut self,
        _: DataId,
        _: Password,
        _: Option<OperatorCode>,
        data: Data<'_>,
    ) -> Result<(), ErrorWord> {
        self.calls += 1;
        if data.len() % 2 == 1 {
            return Err(ErrorWord(ErrorWord::OTHER));
        }
        self.accept(1);
        Ok(())
    }
    fn broadcast_time(&mut self, _: DateTime) {
        self.calls += 1;
        self.accept(2);
    }
    fn remote_control(&mut self, rc: &RemoteControl<'_>) -> Result<(), ErrorWord> {
        self.calls += 1;
        if rc.command().is_none() {
            return Err(ErrorWord(ErrorWord::UNAUTHORISED));
        }
        self.accept(3);
        Ok(())
    }
    fn freeze(&mut self, _: FreezeTime) -> Result<(), ErrorWord> {
        self.calls += 1;
        self.accept(4);
        Ok(())
    }
    fn change_password(
        &mut self,
        _: Option<Di>,
        _: Password,
        new: Password,
    ) -> Result<Password, ErrorWord> {
        self.calls += 1;
        self.accept(5);
        Ok(new)
    }
    fn clear(&mut self, _: Function, _: Option<Auth>, _: Option<Di>) -> Result<(), ErrorWord> {
        self.calls += 1;
        self.accept(6);
        Ok(())
    }
    fn security(&mut self, payload: Data<'_>, out: &mut [u8]) -> Result<usize, SecurityRefusal> {
        self.calls += 1;
        match payload.get(0) {
            Some(b) if b & 1 == 0 => {
                let n = payload.len().min(out.len());
                Ok(n)
            }
            _ => Err(SecurityRefusal::Serr([1, 2])),
        }
    }
}

fn bcd(v: u8) -> u8 {
    ((v / 10) << 4) | (v % 10)
}

fn key(
    t: &DateTime,
) -> (
    Option<u16>,
    Option<u8>,
    Option<u8>,
    Option<u8>,
    Option<u8>,
    Option<u8>,
) {
    (t.year, t.month, t.day, t.hour, t.minute, t.second)
}

fuzz_target!(|data: &[u8]| {
    let [setup, clock, len_hi, rest @ ..] = data else {
        return;
    };
    let edition = if setup & 1 == 0 {
        Edition::V2007
    } else {
        Edition::V1997
    };
    let mut meter = Meter::<600>::with_buffer(ME);
    meter.edition = edition;
    let hour = clock % 24;
    let now = DateTime::ymd_hms(2026, 3, 2, hour, 30, 0).unwrap_or_default();
    let mut h = Recorder {
        value_len: usize::from(*len_hi) * 3,
        ..Recorder::default()
    };
    let mut input = rest;
    while let [sel, control, len, tail @ ..] = input {
        let n = usize::from(*len % 64).min(tail.len());
        let (plain, next) = tail.split_at(n);
        input = next;
        let address = match sel & 3 {
            0 | 1 => ME,
            2 => Address::BROADCAST,
            _ => Address::WILDCARD,
        };
        let mut plain = plain.to_vec();
        let code = control & 0x1F;
        if sel & 4 != 0 {
            // plant the good password where the function carries one
            let at = match (edition, code) {
                (Edition::V2007, 0x14 | 0x18) => Some(4),
                (Edition::V2007, 0x19..=0x1C) => Some(0),
                (Edition::V1997, 0x04) => Some(2),
                (Edition::V1997, 0x0F) => Some(0),
                _ => None,
            };
            if let Some(at) = at
                && let Some(dst) = plain.get_mut(at..at + 4)
            {
                dst.copy_from_slice(&<[u8; 4]>::from(GOOD));
            }
        }
        if sel & 8 != 0 && code == 0x1C && plain.len() == 16 {
            // a valid-until time within a few hours of now: ss mm hh DD MM YY
            let h = (hour + (sel >> 4) % 4).saturating_sub(1).min(23);
            plain[10..16].copy_from_slice(&[0, bcd((sel >> 2) % 60), bcd(h), 2, 3, 0x26]);
        }
        let mut f = vec![0x68];
        f.extend_from_slice(&<[u8; 6]>::from(address));
        f.extend([0x68, *control, plain.len() as u8]);
        f.extend(plain.iter().map(|b| b.wrapping_add(0x33)));
        let cs = f.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        f.extend([cs, 0x16]);
        let Ok(frame) = Frame::new_checked(&f[..]) else {
            continue;
        };
        let calls = h.calls;
        let state = h.state.len();
        let audits = h.audits.len();
        let mut out = [0u8; 256];
        let got = meter.serve(&mut h, &frame, now, &mut out);
        let for_me = !frame.control().is_reply();
        assert_eq!(h.audits.len(), audits + usize::from(for_me));
        let Some(record) = h.audits.last().copied().filter(|_| for_me) else {
            assert!(got.is_none());
            continue;
        };
        assert_eq!(record.reply, got);
        match record.outcome {
            Outcome::Done => {}
            Outcome::Refused {
                reason: Refusal::Handler | Refusal::TooLong,
                ..
            } => assert_eq!(h.state.len(), state),
            Outcome::Refused { .. } | Outcome::Ignored(_) => {
                assert_eq!((h.calls, h.state.len()), (calls, state), "{record:?}");
            }
        }
        if h.state.len() > state && record.function == Function::RemoteControl {
            let Ok(Repr {
                body: Body::Request(Request::RemoteControl(rc)),
                ..
            }) = Repr::parse(&frame, edition)
            else {
                panic!("{record:?}")
            };
            assert!(CREDENTIALS.iter().any(|c| c.admits(&rc.auth.password)));
            if let RemoteBody::Plain { valid_until, .. } = rc.body {
                assert!(key(&valid_until) >= key(&now), "{valid_until} < {now}");
            }
        }
        if let Some(Ok(n)) = got {
            let reply = Repr::parse_bytes(&out[..n], edition).expect("a reply parses");
            assert_eq!(reply.address, ME);
            assert!(!matches!(
                reply.body,
                Body::Request(_) | Body::Unknown { .. }
            ));
        }
    }
});
