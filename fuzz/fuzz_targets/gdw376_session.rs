//! Terminal and master sessions driven by arbitrary event sequences (bytes from the wire,
//! time steps, requests, reconnects, events, logout), wired to each other or fed raw bytes.
//! Invariants: no panic; the master never holds more requests than its slots; instants only
//! move forward.
#![no_main]

use amikit_gdw376::session::master::{MasterConfig, MasterSession, Request};
use amikit_gdw376::session::terminal::{
    ItemRequest, Refusal, RequestHandler, Terminal, TerminalConfig,
};
use amikit_gdw376::{Address, Afn, Instant, Profile};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Op {
    ToTerminal(Vec<u8>),
    ToMaster(Vec<u8>),
    Advance(u16),
    Exchange,
    Request { afn: u8, units: Vec<u8>, con: bool },
    Connect,
    Disconnect,
    Logout,
    Event(bool),
    Report { units: Vec<u8>, con: bool },
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

fuzz_target!(|ops: Vec<Op>| {
    let addr = Address::new(0x0171, 2082);
    let mut tcfg = TerminalConfig::new(addr);
    tcfg.max_units_per_frame = 64;
    let mut t: Terminal<_, 512, 1024> = Terminal::new(tcfg);
    let mut m: MasterSession<_, 512, 1024, 4, 512> =
        MasterSession::new(MasterConfig::new(Profile::default()), Instant(0));
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
            Op::Request { afn, units, con } => {
                let _ = m.request(
                    Instant(now),
                    &Request {
                        afn: Afn(afn % 0x12),
                        units: &units,
                        con,
                    },
                );
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
