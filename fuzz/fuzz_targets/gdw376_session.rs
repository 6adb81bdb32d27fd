//! Terminal and master sessions driven by arbitrary event sequences (bytes from the wire,
//! time steps, requests, reconnects, events, logout), wired to each other or fed raw bytes.
//! Invariants: no panic; the master never holds more requests than its slots; instants only
//! move forward.
#![no_main]

use amikit_gdw376::identity::IdentityKey;
use amikit_gdw376::session::master::{
    IdentityPolicy, IdentityState, MasterConfig, MasterSession, Request, RequestError,
};
use amikit_gdw376::session::terminal::{
    ItemRequest, Refusal, RequestHandler, Terminal, TerminalConfig,
};
use amikit_gdw376::{Address, Afn, DateTime, Instant, Profile, SecurityError};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Op {
    ToTerminal(Vec<u8>),
    ToMaster(Vec<u8>),
    Advance(u16),
    Exchange,
    Request {
        afn: u8,
        units: Vec<u8>,
        con: bool,
    },
    Connect,
    Disconnect,
    Logout,
    Event(bool),
    Report {
        units: Vec<u8>,
        con: bool,
    },
    /// Both sides' calendar: day offset, and how many times faster than the instants.
    Clock {
        day: u8,
        speed: u8,
        terminal_only: bool,
    },
    /// The master challenges the terminal with `challenge`, using the right key or not.
    Challenge {
        challenge: [u8; 16],
        right_key: bool,
    },
}

/// A toy identity key (the fuzzer needs no real cipher): answer = challenge ^ key ^ A2 ^ i.
struct XorKey(u8);

impl IdentityKey for XorKey {
    fn answer(
        &mut self,
        terminal: &Address,
        challenge: &[u8; 16],
        out: &mut [u8; 16],
    ) -> Result<(), SecurityError> {
        for (i, (o, c)) in out.iter_mut().zip(challenge).enumerate() {
            *o = c ^ self.0 ^ (terminal.a2 as u8) ^ i as u8;
        }
        Ok(())
    }
}

#[derive(Debug, Arbitrary)]
struct Setup {
    identity_required: bool,
    master_tp: bool,
    terminal_requires_tp: bool,
    ops: Vec<Op>,
}

struct Echo;

impl RequestHandler for Echo {
    fn read(&mut self, req: &ItemRequest<'_>, out: &mut [u8]) -> Result<usize, Refusal> {
        if req.fn_.0 % 3 == 0 {
            return Err(Refusal::NoData);
        }
        let n = req.data.len().min(out.len());
        out[..n].copy_from_slice(&req.data[..n]);
        Ok(n)
    }
    fn command(&mut self, req: &ItemRequest<'_>) -> Result<(), Refusal> {
        if req.pn.0 % 2 == 0 {
            Ok(())
        } else {
            Err(Refusal::Error(2))
        }
    }
}

fuzz_target!(|setup: Setup| {
    let Setup {
        identity_required,
        master_tp,
        terminal_requires_tp,
        ops,
    } = setup;
    let addr = Address::new(0x0171, 2082);
    let mut tcfg = TerminalConfig::new(addr);
    tcfg.max_units_per_frame = 64;
    tcfg.require_tp = terminal_requires_tp;
    let mut t: Terminal<_, 512, 1024, XorKey> =
        Terminal::with_keys(tcfg, amikit_gdw376::security::ZeroPw, XorKey(0x5A));
    let mut mcfg = MasterConfig::new(Profile::default());
    mcfg.identity = if identity_required {
        IdentityPolicy::Required
    } else {
        IdentityPolicy::NotChecked
    };
    if !master_tp {
        mcfg.tp_delay_min = None;
    }
    let mut m: MasterSession<_, 512, 1024, 4, 512> = MasterSession::new(mcfg, Instant(0));
    let mut now = 0u64;
    let mut buf = [0u8; 2048];
    let mut h = Echo;
    for op in ops {
        match op {
            Op::ToTerminal(b) => t.on_bytes(Instant(now), &b, &mut h, &mut |_| {}),
            Op::ToMaster(b) => m.on_bytes(Instant(now), &b, &mut |_| {}),
            Op::Advance(ms) => now += u64::from(ms) * 100,
            Op::Exchange => {
                for _ in 0..8 {
                    let n = t.poll(Instant(now), &mut buf, &mut |_| {});
                    m.on_bytes(Instant(now), &buf[..n], &mut |_| {});
                    let k = m.poll(Instant(now), &mut buf, &mut |_| {});
                    t.on_bytes(Instant(now), &buf[..k], &mut h, &mut |_| {});
                    if n == 0 && k == 0 {
                        break;
                    }
                }
            }
            Op::Clock {
                day,
                speed,
                terminal_only,
            } => {
                let wall = DateTime::new(2024, 2, 1 + day % 29, 23, 58, 0).unwrap();
                t.set_wall_clock_scaled(Instant(now), wall, u32::from(speed));
                if !terminal_only {
                    m.set_wall_clock_scaled(Instant(now), wall, u32::from(speed));
                }
            }
            Op::Challenge {
                challenge,
                right_key,
            } => {
                let key = if right_key { 0x5A } else { 0x5B };
                let _ = m.start_identity_check(Instant(now), challenge, &mut XorKey(key));
            }
            Op::Request { afn, units, con } => {
                let proven = m.identity() == IdentityState::Proven;
                let r = m.request(
                    Instant(now),
                    &Request {
                        afn: Afn(afn % 0x12),
                        units: &units,
                        con,
                    },
                );
                // Refused while the terminal is unproven, whenever the proof is required.
                if identity_required && m.terminal().is_some() && !proven {
                    assert_eq!(r, Err(RequestError::Unproven));
                }
            }
            Op::Connect => t.connected(Instant(now)),
            Op::Disconnect => t.disconnected(Instant(now)),
            Op::Logout => t.logout(Instant(now)),
            Op::Event(important) => t.record_event(important),
            Op::Report { units, con } => {
                let _ = t.report(Instant(now), Afn::CLASS3, &units, con);
            }
        }
        assert!(m.outstanding() <= 4);
        if let Some(at) = t.poll_at() {
            let _ = at;
        }
    }
});
