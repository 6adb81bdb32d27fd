#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Master ↔ terminal sessions driven against each other, sans-IO: bytes and time in, frames
//! and events out (Q/GDW 1376.1-2013: AFN 02H link interface check, AFN 00H confirmation).

use amikit_gdw376::format::{DataFormat, Format09, Format14, Format15};
use amikit_gdw376::session::master::{
    MasterConfig, MasterEvent, MasterSession, Request, RequestId, write_units,
};
use amikit_gdw376::session::terminal::{
    HeartbeatMode, ItemRequest, Refusal, RequestHandler, State, Terminal, TerminalConfig,
};
use amikit_gdw376::units::{
    self, EventBlock, EventRecord, Realtime, Registers, UnitLayout as _, Value, Writer,
};
use amikit_gdw376::walker::Item;
use std::time::Duration;

use amikit_gdw376::{Address, Afn, DateTime, Direction, InfoClass, Instant, Pn, Profile, Repr};

#[derive(Default)]
struct Meter {
    trips: Vec<u16>,
    refuse_fn: Option<u8>,
}

impl RequestHandler for Meter {
    fn read(&mut self, req: &ItemRequest<'_>, out: &mut [u8]) -> Result<usize, Refusal> {
        let mut w = Writer::new(out);
        match (req.afn, req.fn_.0) {
            (Afn::CLASS1, 25) => {
                let mut rt = Realtime::default();
                rt.active_power[0] = Some(Format09::from_mantissa(11_173).unwrap());
                rt.emit(&mut w).unwrap();
            }
            (Afn::CLASS1, 129) => {
                let t = Format15 {
                    minute: 1,
                    hour: 2,
                    day: 3,
                    month: 4,
                    year: 24,
                };
                let v = [Some(
                    Format14::from_mantissa(i64::from(req.pn.0) * 10_000).unwrap(),
                )];
                Registers::write(&mut w, Some(&t), &v).unwrap();
            }
            (Afn::CLASS3, 1) => {
                let pm = req.data[0];
                let rec = [0x40, 0x14, 0x31, 0x07, 0x10, 0x31, 0x11, 0x03, 0x08, 0x10];
                // The session hands the handler its event counters for the reply header.
                EventBlock::write(
                    &mut w,
                    req.ec.important,
                    req.ec.normal,
                    pm,
                    [EventRecord {
                        erc: 14,
                        data: &rec,
                    }],
                )
                .unwrap();
            }
            _ => return Err(Refusal::NoData),
        }
        Ok(w.pos())
    }
    fn command(&mut self, req: &ItemRequest<'_>) -> Result<(), Refusal> {
        if Some(req.fn_.0) == self.refuse_fn {
            return Err(Refusal::Denied);
        }
        if req.afn == Afn::CONTROL && req.fn_ == InfoClass(1) {
            self.trips.push(req.pn.0);
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
enum M {
    Login,
    Heartbeat,
    Logout,
    Online,
    Offline,
    Response(u32, u8),
    Complete(u32, u8, Vec<u8>),
    Denied(u32),
    Timeout(u32),
    Report(u8),
    Events(Vec<u8>),
    Duplicate,
    Other(String),
}

fn m_event(e: MasterEvent<'_>) -> M {
    match e {
        MasterEvent::Login(_) => M::Login,
        MasterEvent::Heartbeat => M::Heartbeat,
        MasterEvent::Logout => M::Logout,
        MasterEvent::Online => M::Online,
        MasterEvent::Offline => M::Offline,
        MasterEvent::Response { id, index, .. } => M::Response(id.0, index),
        MasterEvent::Complete { id, afn, units } => M::Complete(id.0, afn.0, units.to_vec()),
        MasterEvent::Timeout(RequestId(id)) => M::Timeout(id),
        MasterEvent::Denied(RequestId(id)) => M::Denied(id),
        MasterEvent::Report(r) => M::Report(r.afn.0),
        MasterEvent::Events(r) => M::Events(r.units.to_vec()),
        MasterEvent::Duplicate => M::Duplicate,
        other => M::Other(format!("{other:?}")),
    }
}

struct Rig {
    t: Terminal,
    m: MasterSession,
    h: Meter,
    tev: Vec<String>,
    mev: Vec<M>,
    wire_to_master: Vec<Vec<u8>>,
}

const ADDR: Address = Address {
    a1: 0x0171,
    a2: 2082,
    msa: 0,
    group: false,
};

impl Rig {
    /// Both sides with the secure defaults: the same calendar time, so that master requests
    /// carry Tp and the terminal checks it.
    fn new(tcfg: TerminalConfig, mcfg: MasterConfig) -> Self {
        let mut rig = Rig {
            t: Terminal::new(tcfg),
            m: MasterSession::new(mcfg, Instant(0)),
            h: Meter::default(),
            tev: vec![],
            mev: vec![],
            wire_to_master: vec![],
        };
        rig.t.set_wall_clock(Instant(0), WALL);
        rig.m.set_wall_clock(Instant(0), WALL);
        rig
    }
    fn pump(&mut self, now: u64) {
        let now = Instant(now);
        for _ in 0..50 {
            let mut a = [0u8; 4096];
            let mut b = [0u8; 4096];
            let tev = &mut self.tev;
            let n = self
                .t
                .poll(now, &mut a, &mut |e| tev.push(format!("{e:?}")));
            if n > 0 {
                self.wire_to_master.push(a[..n].to_vec());
                let mev = &mut self.mev;
                self.m.on_bytes(now, &a[..n], &mut |e| mev.push(m_event(e)));
            }
            let mev = &mut self.mev;
            let k = self.m.poll(now, &mut b, &mut |e| mev.push(m_event(e)));
            if k > 0 {
                let tev = &mut self.tev;
                self.t.on_bytes(now, &b[..k], &mut self.h, &mut |e| {
                    tev.push(format!("{e:?}"))
                });
            }
            if n == 0 && k == 0 {
                return;
            }
        }
        panic!("no quiescence");
    }
    fn login(&mut self) {
        self.t.connected(Instant(0));
        self.pump(0);
        assert_eq!(self.t.state(), State::Online);
        assert!(self.tev.contains(&"LoggedIn".to_string()), "{:?}", self.tev);
        assert_eq!(self.mev.first(), Some(&M::Login));
        assert_eq!(self.m.terminal().unwrap().a2, 2082);
        self.tev.clear();
        self.mev.clear();
    }
}

const WALL: DateTime = match DateTime::new(2024, 3, 14, 10, 0, 0) {
    Ok(t) => t,
    Err(_) => panic!("2024-03-14T10:00:00 exists"),
};

fn tcfg() -> TerminalConfig {
    TerminalConfig::new(ADDR)
}

/// The default master, without the identity proof (most tests are about other things; the
/// proof has its own tests below).
fn mcfg() -> MasterConfig {
    let mut c = MasterConfig::new(Profile::default());
    c.identity = amikit_gdw376::session::master::IdentityPolicy::NotChecked;
    c
}

#[test]
fn login_read_and_control() {
    let mut rig = Rig::new(tcfg(), mcfg());
    rig.login();
    // The login frame is the standard one (C9, AFN 02, CON, p0 F1, no data).
    let login = &rig.wire_to_master[0];
    let r = Repr::parse_bytes(login, &Profile::default()).unwrap();
    assert_eq!(
        (r.control.0, r.afn, r.units),
        (0xC9, Afn::LINK_TEST, &[0u8, 0, 1, 0][..])
    );
    assert!(r.seq.con());

    // Realtime read of p1 F25.
    let mut units = [0u8; 16];
    let n = write_units(&mut units, &[(Pn(1), InfoClass(25), &[])]).unwrap();
    let id = rig
        .m
        .request(
            Instant(1000),
            &Request {
                afn: Afn::CLASS1,
                units: &units[..n],
                con: false,
            },
        )
        .unwrap();
    rig.pump(1000);
    let Some(M::Complete(cid, afn, region)) = rig
        .mev
        .iter()
        .find(|e| matches!(e, M::Complete(..)))
        .cloned()
    else {
        panic!("{:?}", rig.mev)
    };
    assert_eq!((cid, afn), (id.0, 0x0C));
    let items: Vec<Item> =
        amikit_gdw376::Units::new(&region, Afn::CLASS1, Direction::Up, &Profile::default())
            .collect();
    let Item::Unit(u) = items[0] else { panic!() };
    let Some(Value::Realtime(rt)) = u
        .value(&Profile::default(), Afn::CLASS1, Direction::Up)
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(rt.get().active_power[0].unwrap().to_string(), "1.1173");
    rig.mev.clear();

    // Remote trip of round 1 (AFN 05 F1, PW all zero): executed once, confirmed with AFN 00 F1.
    let n = write_units(&mut units, &[(Pn(1), InfoClass(1), &[0x00])]).unwrap();
    let id = rig
        .m
        .request(
            Instant(2000),
            &Request {
                afn: Afn::CONTROL,
                units: &units[..n],
                con: true,
            },
        )
        .unwrap();
    rig.pump(2000);
    assert_eq!(rig.h.trips, vec![1]);
    assert!(
        rig.mev.contains(&M::Complete(id.0, 0x00, vec![0, 0, 1, 0])),
        "{:?}",
        rig.mev
    );
}

#[test]
fn per_item_results_and_deny() {
    let mut rig = Rig::new(tcfg(), mcfg());
    rig.login();
    rig.h.refuse_fn = Some(25);
    // F1 (trip) accepted, F25 (guard on) refused → AFN 00 F3 with two items.
    let mut units = [0u8; 32];
    let n = write_units(
        &mut units,
        &[
            (Pn(1), InfoClass(1), &[0x00]),
            (Pn::P0, InfoClass(25), &[0x00]),
        ],
    )
    .unwrap();
    let id = rig
        .m
        .request(
            Instant(10),
            &Request {
                afn: Afn::CONTROL,
                units: &units[..n],
                con: true,
            },
        )
        .unwrap();
    rig.pump(10);
    let Some(M::Complete(_, 0, region)) = rig
        .mev
        .iter()
        .find(|e| matches!(e, M::Complete(i, ..) if *i == id.0))
        .cloned()
    else {
        panic!("{:?}", rig.mev)
    };
    let Some(Item::Unit(u)) =
        amikit_gdw376::Units::new(&region, Afn::CONFIRM, Direction::Up, &Profile::default()).next()
    else {
        panic!()
    };
    let Some(Value::ItemResults(items)) = u
        .value(&Profile::default(), Afn::CONFIRM, Direction::Up)
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(items.afn, Afn::CONTROL);
    let errs: Vec<u8> = items.iter().map(|i| i.err).collect();
    assert_eq!(errs, vec![0, 1]);
    // A read nobody serves is denied (AFN 00 F2): a typed outcome, not a Complete.
    let n = write_units(&mut units, &[(Pn(1), InfoClass(2), &[])]).unwrap();
    let id = rig
        .m
        .request(
            Instant(20),
            &Request {
                afn: Afn::CLASS1,
                units: &units[..n],
                con: false,
            },
        )
        .unwrap();
    rig.pump(20);
    assert!(rig.mev.contains(&M::Denied(id.0)), "{:?}", rig.mev);
    assert!(
        !rig.mev
            .iter()
            .any(|e| matches!(e, M::Complete(i, ..) if *i == id.0)),
        "{:?}",
        rig.mev
    );
}

#[test]
fn multi_frame_reassembly() {
    let mut t = tcfg();
    t.max_units_per_frame = 30; // one F129 unit (4 + 11 bytes) per frame... two fit in 30
    let mut rig = Rig::new(t, mcfg());
    rig.login();
    let mut units = [0u8; 16];
    let d = amikit_gdw376::DaDt::group(&[Pn(1), Pn(2), Pn(3)], &[InfoClass(129)]).unwrap();
    units[..4].copy_from_slice(&d.to_bytes());
    let id = rig
        .m
        .request(
            Instant(5),
            &Request {
                afn: Afn::CLASS1,
                units: &units[..4],
                con: false,
            },
        )
        .unwrap();
    rig.pump(5);
    let responses: Vec<&M> = rig
        .mev
        .iter()
        .filter(|e| matches!(e, M::Response(..)))
        .collect();
    assert_eq!(
        responses,
        vec![&M::Response(id.0, 0), &M::Response(id.0, 1)],
        "{:?}",
        rig.mev
    );
    let Some(M::Complete(_, 0x0C, region)) = rig
        .mev
        .iter()
        .find(|e| matches!(e, M::Complete(..)))
        .cloned()
    else {
        panic!()
    };
    let totals: Vec<String> =
        amikit_gdw376::Units::new(&region, Afn::CLASS1, Direction::Up, &Profile::default())
            .map(|i| {
                let Item::Unit(u) = i else { panic!("{i:?}") };
                let Some(Value::ActiveEnergy(r)) = u
                    .value(&Profile::default(), Afn::CLASS1, Direction::Up)
                    .unwrap()
                else {
                    panic!()
                };
                format!("p{}={}", u.pn.0, r.total().unwrap())
            })
            .collect();
    assert_eq!(totals, vec!["p1=1.0000", "p2=2.0000", "p3=3.0000"]);
    // The first frame says FIR=1 FIN=0, the last FIR=0 FIN=1, RSEQ counting up from PSEQ.
}

#[test]
fn heartbeat_offline_and_timeouts() {
    let mut t = tcfg();
    t.heartbeat = HeartbeatMode::Fixed;
    t.heartbeat_period = Duration::from_secs(60);
    let mut rig = Rig::new(t, mcfg());
    rig.login();
    rig.pump(59_000);
    assert!(rig.mev.is_empty());
    rig.pump(60_000);
    assert_eq!(rig.mev, vec![M::Heartbeat]);
    assert!(rig.tev.contains(&"HeartbeatConfirmed".to_string()));
    // Master-side offline after 3 silent periods.
    let mut buf = [0u8; 256];
    let mut ev = vec![];
    rig.m.poll(Instant(60_000 + 180_001), &mut buf, &mut |e| {
        ev.push(m_event(e))
    });
    assert_eq!(ev, vec![M::Offline]);
    assert!(!rig.m.is_online());
    // A request the terminal never answers: two retransmissions (same bytes), then a timeout.
    let mut units = [0u8; 8];
    let n = write_units(&mut units, &[(Pn(1), InfoClass(25), &[])]).unwrap();
    let id = rig
        .m
        .request(
            Instant(300_000),
            &Request {
                afn: Afn::CLASS1,
                units: &units[..n],
                con: false,
            },
        )
        .unwrap();
    let mut sent = vec![];
    let mut ev = vec![];
    for now in [300_000u64, 330_000, 360_000, 400_000, 480_000, 600_000] {
        let k = rig
            .m
            .poll(Instant(now), &mut buf, &mut |e| ev.push(m_event(e)));
        if k > 0 {
            sent.push(buf[..k].to_vec());
        }
    }
    assert_eq!(sent.len(), 3, "original + 2 retries");
    assert!(
        sent.iter().all(|s| s == &sent[0]),
        "a retransmission keeps PSEQ"
    );
    assert_eq!(ev, vec![M::Timeout(id.0)]);
}

#[test]
fn terminal_login_retries_then_fails() {
    let mut t: Terminal = Terminal::new(tcfg());
    t.connected(Instant(0));
    let mut buf = [0u8; 128];
    let mut ev = vec![];
    let mut frames = vec![];
    for s in 0..200u64 {
        let n = t.poll(Instant(s * 1000), &mut buf, &mut |e| {
            ev.push(format!("{e:?}"))
        });
        if n > 0 {
            frames.push(buf[..n].to_vec());
        }
    }
    assert_eq!(frames.len(), 4, "login + 3 retries");
    assert!(frames.iter().all(|f| f == &frames[0]));
    assert_eq!(ev, vec!["LoginFailed"]);
    assert_eq!(t.state(), State::Disconnected);
    assert_eq!(t.reconnect_delay(), Duration::from_secs(10));
    // The application drops the link: the failure is not counted twice.
    t.disconnected(Instant(200_000));
    assert_eq!(t.reconnect_delay(), Duration::from_secs(10));
    // A link lost while logging in counts.
    t.connected(Instant(200_000));
    t.disconnected(Instant(200_001));
    assert_eq!(t.reconnect_delay(), Duration::from_secs(20));
    // Dials that fail before the transport comes up count too.
    t.dial_failed();
    assert_eq!(t.reconnect_delay(), Duration::from_secs(40));
}

/// Sends a realtime read; the terminal's reply raises ACD, so the master pulls events. Returns
/// the region of the AFN 0E reply it received.
fn read_and_pull_events(rig: &mut Rig) -> Vec<u8> {
    let mut units = [0u8; 8];
    let n = write_units(&mut units, &[(Pn(1), InfoClass(25), &[])]).unwrap();
    rig.m
        .request(
            Instant(100),
            &Request {
                afn: Afn::CLASS1,
                units: &units[..n],
                con: false,
            },
        )
        .unwrap();
    rig.pump(100);
    let Some(M::Events(region)) = rig.mev.iter().find(|e| matches!(e, M::Events(..))).cloned()
    else {
        panic!("{:?}", rig.mev)
    };
    region
}

/// The event block of an AFN 0E F1 region.
fn event_block(region: &[u8]) -> units::EventBlock<'_> {
    let Some(Item::Unit(u)) =
        amikit_gdw376::Units::new(region, Afn::CLASS3, Direction::Up, &Profile::default()).next()
    else {
        panic!()
    };
    let Some(Value::Events(b)) = u
        .value(&Profile::default(), Afn::CLASS3, Direction::Up)
        .unwrap()
    else {
        panic!()
    };
    b
}

#[test]
fn acd_triggers_event_pull() {
    let mut rig = Rig::new(tcfg(), mcfg());
    rig.login();
    rig.t.record_event(true);
    assert!(rig.t.acd());
    let region = read_and_pull_events(&mut rig);
    let b = event_block(&region);
    assert_eq!((b.pm, b.pn), (0, 1));
    assert!(matches!(
        b.events().next(),
        Some(units::Erc::PowerOffOn { .. })
    ));
    assert!(!rig.t.acd(), "reading events up to EC1 clears ACD");
    assert_eq!(rig.m.event_pointer(), Some(1));
}

#[test]
fn a_stored_event_pointer_is_where_the_pull_starts() {
    // A master that stored event 0 before a reconnection pulls from 1 only.
    let mut rig = Rig::new(tcfg(), mcfg());
    rig.login();
    rig.m.set_event_pointer(1);
    assert_eq!(rig.m.event_pointer(), Some(1));
    rig.t.record_event(true);
    rig.t.record_event(true);
    let region = read_and_pull_events(&mut rig);
    let b = event_block(&region);
    assert_eq!((b.pm, b.pn), (1, 2));
    assert_eq!((b.ec1, b.ec2), (2, 0), "EC1 counts both recorded events");
    assert_eq!(rig.m.event_pointer(), Some(2));
}

#[test]
fn reports_are_confirmed_per_item_and_duplicates_suppressed() {
    let mut rig = Rig::new(tcfg(), mcfg());
    rig.login();
    // Terminal-initiated event report with CON.
    let mut units = [0u8; 64];
    let rec = [0x40, 0x14, 0x31, 0x07, 0x10, 0x31, 0x11, 0x03, 0x08, 0x10];
    let d = amikit_gdw376::DaDt::single(Pn::P0, InfoClass(1)).unwrap();
    units[..4].copy_from_slice(&d.to_bytes());
    let mut w = Writer::new(&mut units[4..]);
    EventBlock::write(
        &mut w,
        1,
        0,
        0,
        [EventRecord {
            erc: 14,
            data: &rec,
        }],
    )
    .unwrap();
    let n = 4 + w.pos();
    let pseq = rig
        .t
        .report(Instant(50), Afn::CLASS3, &units[..n], true)
        .unwrap();
    rig.pump(50);
    assert_eq!(rig.mev, vec![M::Report(0x0E)]);
    assert!(
        rig.tev.contains(&format!("ReportConfirmed({pseq})")),
        "{:?}",
        rig.tev
    );
    // The report carried events up to pointer 1: when the terminal raises ACD with EC1 = 1,
    // nothing is pulled again.
    rig.t.record_event(true);
    rig.mev.clear();
    let n = write_units(&mut units, &[(Pn(1), InfoClass(25), &[])]).unwrap();
    rig.m
        .request(
            Instant(55),
            &Request {
                afn: Afn::CLASS1,
                units: &units[..n],
                con: false,
            },
        )
        .unwrap();
    rig.pump(55);
    assert!(
        !rig.mev.iter().any(|e| matches!(e, M::Events(_))),
        "{:?}",
        rig.mev
    );
    // A response frame delivered twice is suppressed the second time.
    rig.mev.clear();
    let n = write_units(&mut units, &[(Pn(1), InfoClass(25), &[])]).unwrap();
    rig.m
        .request(
            Instant(60),
            &Request {
                afn: Afn::CLASS1,
                units: &units[..n],
                con: false,
            },
        )
        .unwrap();
    rig.pump(60);
    let reply = rig.wire_to_master.last().unwrap().clone();
    let mut ev = vec![];
    rig.m
        .on_bytes(Instant(61), &reply, &mut |e| ev.push(m_event(e)));
    assert_eq!(ev, vec![M::Duplicate]);
}

#[test]
fn repeated_request_is_answered_not_executed_twice() {
    let mut rig = Rig::new(tcfg(), mcfg());
    rig.login();
    let mut units = [0u8; 16];
    let n = write_units(&mut units, &[(Pn(1), InfoClass(1), &[0x00])]).unwrap();
    rig.m
        .request(
            Instant(10),
            &Request {
                afn: Afn::CONTROL,
                units: &units[..n],
                con: true,
            },
        )
        .unwrap();
    let mut buf = [0u8; 512];
    let k = rig.m.poll(Instant(10), &mut buf, &mut |_| {});
    let req = buf[..k].to_vec();
    let mut out = [0u8; 512];
    let mut ev = vec![];
    rig.t.on_bytes(Instant(10), &req, &mut rig.h, &mut |e| {
        ev.push(format!("{e:?}"))
    });
    let first = rig.t.poll(Instant(10), &mut out, &mut |_| {});
    let first_reply = out[..first].to_vec();
    rig.t.on_bytes(Instant(11), &req, &mut rig.h, &mut |e| {
        ev.push(format!("{e:?}"))
    });
    let second = rig.t.poll(Instant(11), &mut out, &mut |_| {});
    assert_eq!(out[..second].to_vec(), first_reply);
    assert_eq!(rig.h.trips, vec![1]);
    assert_eq!(ev.last().unwrap(), "Duplicate");
}

#[test]
fn tp_replay_and_expiry_rejected() {
    let mut rig = Rig::new(tcfg(), mcfg());
    rig.login();
    let wall = DateTime::new(2024, 5, 10, 8, 0, 0).unwrap();
    rig.m.set_wall_clock(Instant(0), wall);
    rig.t.set_wall_clock(Instant(0), wall);
    let mut units = [0u8; 16];
    let n = write_units(&mut units, &[(Pn(1), InfoClass(1), &[0x00])]).unwrap();
    rig.m
        .request(
            Instant(1000),
            &Request {
                afn: Afn::CONTROL,
                units: &units[..n],
                con: true,
            },
        )
        .unwrap();
    let mut buf = [0u8; 512];
    let k = rig.m.poll(Instant(1000), &mut buf, &mut |_| {});
    let req = buf[..k].to_vec();
    assert!(
        Repr::parse_bytes(&req, &Profile::default())
            .unwrap()
            .tp
            .is_some()
    );
    // Delivered 6 minutes late (allowed 5): rejected, not executed.
    let mut ev = vec![];
    rig.t
        .on_bytes(Instant(361_000), &req, &mut rig.h, &mut |e| {
            ev.push(format!("{e:?}"))
        });
    assert!(ev[0].contains("Expired"), "{ev:?}");
    assert!(rig.h.trips.is_empty());
    // On time: executed.
    ev.clear();
    rig.t.on_bytes(Instant(2000), &req, &mut rig.h, &mut |e| {
        ev.push(format!("{e:?}"))
    });
    assert_eq!(rig.h.trips, vec![1]);
    // The same frame again is a repeated request (answered from the cache, not executed).
    rig.t.on_bytes(Instant(3000), &req, &mut rig.h, &mut |e| {
        ev.push(format!("{e:?}"))
    });
    assert_eq!(rig.h.trips, vec![1]);
    let _ = Format15::LEN;
}

/// A toy MAC for tests: PW byte i = sum of the user data (without PW) + key + i. Enough to
/// tell a forged PW from a right one without the `cmac` feature.
#[derive(Clone, Copy)]
struct SumMac(u8);

impl amikit_gdw376::security::MacProvider for SumMac {
    fn sign(
        &mut self,
        head: &[u8],
        tail: &[u8],
        pw: &mut [u8],
    ) -> Result<(), amikit_gdw376::SecurityError> {
        let s = head
            .iter()
            .chain(tail)
            .fold(self.0, |a, &b| a.wrapping_add(b));
        for (i, p) in pw.iter_mut().enumerate() {
            *p = s.wrapping_add(i as u8);
        }
        Ok(())
    }
}

fn control_request(m: &mut MasterSession<SumMac>, now: u64) -> Vec<u8> {
    let mut units = [0u8; 16];
    let n = write_units(&mut units, &[(Pn(1), InfoClass(1), &[0x00])]).unwrap();
    m.request(
        Instant(now),
        &Request {
            afn: Afn::CONTROL,
            units: &units[..n],
            con: true,
        },
    )
    .unwrap();
    let mut buf = [0u8; 512];
    let k = m.poll(Instant(now), &mut buf, &mut |_| {});
    buf[..k].to_vec()
}

/// A master with `SumMac`, logged in (by hand) to terminal `ADDR`, with `WALL` at 0.
fn keyed_master(speed: u32) -> MasterSession<SumMac> {
    let mut cfg = mcfg();
    cfg.identity = amikit_gdw376::session::master::IdentityPolicy::NotChecked;
    let mut m = MasterSession::with_mac(cfg, SumMac(7), Instant(0));
    m.set_wall_clock_scaled(Instant(0), WALL, speed);
    let mut t: Terminal = Terminal::new(tcfg());
    t.connected(Instant(0));
    let mut buf = [0u8; 256];
    let n = t.poll(Instant(0), &mut buf, &mut |_| {});
    m.on_bytes(Instant(0), &buf[..n], &mut |_| {});
    let mut sink = [0u8; 256];
    let _ = m.poll(Instant(0), &mut sink, &mut |_| {});
    m
}

fn keyed_terminal(speed: u32) -> Terminal<SumMac> {
    let mut t = Terminal::with_mac(tcfg(), SumMac(7));
    t.set_wall_clock_scaled(Instant(0), WALL, speed);
    t
}

fn feed(t: &mut Terminal<SumMac>, h: &mut Meter, now: u64, bytes: &[u8]) -> (Vec<String>, Vec<u8>) {
    let mut ev = vec![];
    t.on_bytes(Instant(now), bytes, h, &mut |e| ev.push(format!("{e:?}")));
    let mut out = [0u8; 1024];
    let n = t.poll(Instant(now), &mut out, &mut |_| {});
    (ev, out[..n].to_vec())
}

#[test]
fn repeat_without_a_valid_pw_gets_the_pw_failure_not_the_cache() {
    let mut m = keyed_master(1);
    let mut t = keyed_terminal(1);
    let mut h = Meter::default();
    let req = control_request(&mut m, 10);
    let (ev, first) = feed(&mut t, &mut h, 10, &req);
    assert!(ev[0].starts_with("Request"), "{ev:?}");
    assert_eq!(h.trips, vec![1]);
    // The same MSA, SEQ, AFN and CS, but a forged PW (two PW bytes changed so that the sum,
    // and so CS, stays the same): before, the cached response was sent back.
    let r = Repr::parse_bytes(&req, &Profile::default()).unwrap();
    let pw_at = 6 + 8 + r.units.len();
    let mut forged = req.clone();
    forged[pw_at] = forged[pw_at].wrapping_add(1);
    forged[pw_at + 1] = forged[pw_at + 1].wrapping_sub(1);
    assert_eq!(forged[forged.len() - 2], req[req.len() - 2]);
    let (ev, reply) = feed(&mut t, &mut h, 11, &forged);
    assert!(ev[0].contains("BadPw"), "{ev:?}");
    assert_ne!(reply, first);
    let deny = Repr::parse_bytes(&reply, &Profile::default()).unwrap();
    assert_eq!((deny.afn, deny.units), (Afn::CONFIRM, &[0u8, 0, 2, 0][..]));
    // The authentic repeat is still answered from the cache, not executed again.
    let (ev, again) = feed(&mut t, &mut h, 12, &req);
    assert_eq!(ev, vec!["Duplicate".to_string()]);
    assert_eq!(again, first);
    assert_eq!(h.trips, vec![1]);
}

#[test]
fn control_frames_expire_at_compressed_speed() {
    // Calendar 60× faster than the instants: one real second is a simulated minute.
    let mut m = keyed_master(60);
    let mut t = keyed_terminal(60);
    let mut h = Meter::default();
    let req = control_request(&mut m, 1000);
    let tp = Repr::parse_bytes(&req, &Profile::default())
        .unwrap()
        .tp
        .unwrap();
    // Send time 10:00:00 + 1 s × 60 = 10:01:00; allowed delay 5 min.
    assert_eq!((tp.time, tp.delay_min), ([0x00, 0x01, 0x10, 0x14], 5));
    // 6 real seconds later = 6 simulated minutes: expired, not executed; denied (AFN 00 F2)
    // with the request's Tp echoed, so that the master can tell which request it was.
    let (ev, reply) = feed(&mut t, &mut h, 7000, &req);
    assert!(ev[0].contains("Expired"), "{ev:?}");
    let deny = Repr::parse_bytes(&reply, &Profile::default()).unwrap();
    assert_eq!((deny.afn, deny.units), (Afn::CONFIRM, &[0u8, 0, 2, 0][..]));
    assert_eq!(deny.tp, Some(tp));
    assert!(h.trips.is_empty());
    // 4 real seconds later = 4 simulated minutes: on time, executed.
    let (ev, _) = feed(&mut t, &mut h, 5000, &req);
    assert!(ev[0].starts_with("Request"), "{ev:?}");
    assert_eq!(h.trips, vec![1]);
}

#[test]
fn control_frames_need_tp_and_a_clock_unless_switched_off() {
    let mut cfg = mcfg();
    cfg.tp_delay_min = None;
    cfg.identity = amikit_gdw376::session::master::IdentityPolicy::NotChecked;
    let mut m = MasterSession::with_mac(cfg, SumMac(7), Instant(0));
    let mut lt: Terminal = Terminal::new(tcfg());
    lt.connected(Instant(0));
    let mut buf = [0u8; 256];
    let n = lt.poll(Instant(0), &mut buf, &mut |_| {});
    m.on_bytes(Instant(0), &buf[..n], &mut |_| {});
    let _ = m.poll(Instant(0), &mut buf, &mut |_| {});
    let req = control_request(&mut m, 10);
    assert!(
        Repr::parse_bytes(&req, &Profile::default())
            .unwrap()
            .tp
            .is_none()
    );
    let mut h = Meter::default();
    // Default terminal: a control frame without Tp is refused.
    let mut t = keyed_terminal(1);
    let (ev, _) = feed(&mut t, &mut h, 10, &req);
    assert!(ev[0].contains("TpRequired"), "{ev:?}");
    assert!(h.trips.is_empty());
    // A Tp but no calendar time to check it against: refused too.
    let mut m2 = keyed_master(1);
    let with_tp = control_request(&mut m2, 10);
    let mut no_clock = Terminal::with_mac(tcfg(), SumMac(7));
    let (ev, _) = feed(&mut no_clock, &mut h, 10, &with_tp);
    assert!(ev[0].contains("NoClock"), "{ev:?}");
    assert!(h.trips.is_empty());
    // Switched off (a master without Tp): executed.
    let mut off = TerminalConfig::new(ADDR);
    off.require_tp = false;
    let mut t = Terminal::with_mac(off, SumMac(7));
    let (ev, _) = feed(&mut t, &mut h, 10, &req);
    assert!(ev[0].starts_with("Request"), "{ev:?}");
    assert_eq!(h.trips, vec![1]);
}

/// Tp per request (`set_tp_delay_min`) and a frame counter continued from a previous
/// connection (`set_pfc`): a second connection of the same master that started again from PFC
/// 0 would have its first command refused by the terminal as a replay.
#[test]
fn tp_per_request_and_pfc_continued_across_connections() {
    let mut m = keyed_master(1);
    m.set_tp_delay_min(None);
    let plain = control_request(&mut m, 10);
    assert!(
        Repr::parse_bytes(&plain, &Profile::default())
            .unwrap()
            .tp
            .is_none()
    );
    m.set_tp_delay_min(Some(9));
    let first = control_request(&mut m, 20);
    let tp = Repr::parse_bytes(&first, &Profile::default())
        .unwrap()
        .tp
        .unwrap();
    assert_eq!(tp.delay_min, 9);
    assert_eq!(tp.pfc, m.pfc());
    let mut h = Meter::default();
    let mut t = keyed_terminal(1);
    let (ev, _) = feed(&mut t, &mut h, 20, &first);
    assert!(ev[0].starts_with("Request"), "{ev:?}");
    // A new connection (a new session) starting from 0 again: refused as a replay.
    let mut again = keyed_master(1);
    again.set_tp_delay_min(Some(9));
    let _ = control_request(&mut again, 30);
    let replayed = control_request(&mut again, 30);
    let (ev, _) = feed(&mut t, &mut h, 30, &replayed);
    assert!(!ev[0].starts_with("Request"), "{ev:?}");
    // Continued from the previous connection's counter: accepted.
    let mut next = keyed_master(1);
    next.set_tp_delay_min(Some(9));
    next.set_pfc(m.pfc());
    let fresh = control_request(&mut next, 40);
    let (ev, _) = feed(&mut t, &mut h, 40, &fresh);
    assert!(ev[0].starts_with("Request"), "{ev:?}");
}

// --- per-request reassembly ------------------------------------------------------------------

use amikit_gdw376::session::master::IdentityPolicy;
use amikit_gdw376::{Control, FrameBuilder, Seq, Tp};

/// A master logged in to `ADDR` with `WALL` at 0 and its login acknowledgement drained.
fn master_with(cfg: MasterConfig) -> MasterSession {
    let mut m = MasterSession::new(cfg, Instant(0));
    m.set_wall_clock(Instant(0), WALL);
    let mut t: Terminal = Terminal::new(tcfg());
    t.connected(Instant(0));
    let mut buf = [0u8; 256];
    let n = t.poll(Instant(0), &mut buf, &mut |_| {});
    m.on_bytes(Instant(0), &buf[..n], &mut |_| {});
    let _ = m.poll(Instant(0), &mut buf, &mut |_| {});
    m
}

/// Sends a read (AFN 0C, p`pn` F2) and returns (id, PSEQ, Tp) as the master wrote them.
fn read(m: &mut MasterSession, pn: u16) -> (RequestId, u8, Option<Tp>) {
    let mut units = [0u8; 8];
    let n = write_units(&mut units, &[(Pn(pn), InfoClass(2), &[])]).unwrap();
    let id = m
        .request(
            Instant(1),
            &Request {
                afn: Afn::CLASS1,
                units: &units[..n],
                con: false,
            },
        )
        .unwrap();
    let mut buf = [0u8; 512];
    let k = m.poll(Instant(1), &mut buf, &mut |_| {});
    let r = Repr::parse_bytes(&buf[..k], &Profile::default()).unwrap();
    (id, r.seq.seq(), r.tp)
}

/// Frame `i` of `n` of a terminal's reply (RSEQ = PSEQ + i, FIR on the first, FIN on the
/// last, the request's Tp echoed), with data units `units`.
fn reply_frame(pseq: u8, tp: Option<Tp>, i: u8, n: u8, units: &[u8]) -> Vec<u8> {
    let seq = Seq::new(
        tp.is_some(),
        i == 0,
        i + 1 == n,
        false,
        pseq.wrapping_add(i) & 0x0F,
    );
    let b = FrameBuilder::new(
        &Profile::default(),
        Control::TERMINAL_DATA,
        ADDR.with_msa(1),
        Afn::CLASS1,
        seq,
    )
    .with_tp(tp);
    let mut out = [0u8; 512];
    let mut w = b.begin(&mut out).unwrap();
    w.raw(units).unwrap();
    let k = w.finish(&mut amikit_gdw376::security::ZeroPw).unwrap();
    out[..k].to_vec()
}

fn part(tag: u8, i: u8) -> Vec<u8> {
    // A p1 F2 unit (terminal clock, 6 bytes) whose bytes say which reply and frame it is.
    let mut u = vec![0x01, 0x01, 0x02, 0x00];
    u.extend_from_slice(&[tag, i, tag, i, tag, i]);
    u
}

fn interleaved(tp: bool) {
    let mut cfg = mcfg();
    if !tp {
        cfg.tp_delay_min = None;
    }
    let mut m = master_with(cfg);
    let (a, pa, ta) = read(&mut m, 1);
    let (b, pb, tb) = read(&mut m, 2);
    let (c, pc, tc) = read(&mut m, 3);
    assert_eq!((ta.is_some(), tb.is_some(), tc.is_some()), (tp, tp, tp));
    let (na, nb, nc) = (3u8, 2u8, 3u8);
    let fa = |i| reply_frame(pa, ta, i, na, &part(0xA, i));
    let fb = |i| reply_frame(pb, tb, i, nb, &part(0xB, i));
    let fc = |i| reply_frame(pc, tc, i, nc, &part(0xC, i));
    // Interleaved, one duplicated, C's last two reordered, B's first duplicated late.
    let wire = [
        fa(0),
        fb(0),
        fa(1),
        fc(0),
        fa(1),
        fb(1),
        fc(2),
        fc(1),
        fb(0),
        fa(2),
    ];
    let mut ev = vec![];
    for f in &wire {
        m.on_bytes(Instant(2), f, &mut |e| ev.push(m_event(e)));
    }
    let whole = |tag: u8, n: u8| (0..n).flat_map(|i| part(tag, i)).collect::<Vec<u8>>();
    let completes: Vec<&M> = ev.iter().filter(|e| matches!(e, M::Complete(..))).collect();
    assert_eq!(
        completes,
        vec![
            &M::Complete(b.0, 0x0C, whole(0xB, nb)),
            &M::Complete(c.0, 0x0C, whole(0xC, nc)),
            &M::Complete(a.0, 0x0C, whole(0xA, na)),
        ],
        "{ev:?}"
    );
    assert_eq!(
        ev.iter().filter(|e| **e == M::Duplicate).count(),
        2,
        "{ev:?}"
    );
    assert_eq!(
        ev.iter().filter(|e| matches!(e, M::Response(..))).count(),
        8
    );
    assert!(!ev.iter().any(|e| matches!(e, M::Other(_))), "{ev:?}");
    assert_eq!(m.outstanding(), 0);
    // A frame of no outstanding request is reported, not filed.
    let stray = reply_frame(
        pa.wrapping_add(7),
        ta.map(|t| Tp { pfc: 0x77, ..t }),
        0,
        1,
        &part(0xD, 0),
    );
    let mut ev = vec![];
    m.on_bytes(Instant(3), &stray, &mut |e| ev.push(m_event(e)));
    assert!(
        matches!(ev.as_slice(), [M::Other(s)] if s.starts_with("Unmatched")),
        "{ev:?}"
    );
}

#[test]
fn interleaved_multi_frame_replies_complete_intact_with_tp() {
    interleaved(true);
}

#[test]
fn interleaved_multi_frame_replies_complete_intact_without_tp() {
    interleaved(false);
}

#[test]
fn a_file_segment_of_512_bytes_fits_a_request_slot() {
    // AFN 0F F1: file 1, attr 0, cmd 0, 2 segments, index 0, 512 data bytes.
    let data: Vec<u8> = (0..512u32).map(|i| (i * 7) as u8).collect();
    let mut unit = vec![1, 0, 0, 2, 0, 0, 0, 0, 0, 0x00, 0x02];
    unit.extend_from_slice(&data);
    let mut units = vec![0u8; 600];
    let n = write_units(&mut units, &[(Pn::P0, InfoClass(1), &unit)]).unwrap();
    let mut m = master_with(mcfg());
    m.request(
        Instant(1),
        &Request {
            afn: Afn::FILE_TRANSFER,
            units: &units[..n],
            con: true,
        },
    )
    .unwrap();
    let mut buf = [0u8; 1024];
    let k = m.poll(Instant(1), &mut buf, &mut |_| {});
    // The same frame built independently: C 4A, MSA 1, SEQ with CON and PSEQ 1, PW (zero),
    // Tp PFC 1 at 10:00:00 on the 14th, 5 minutes.
    let b = FrameBuilder::new(
        &Profile::default(),
        Control::MASTER_COMMAND,
        ADDR.with_msa(1),
        Afn::FILE_TRANSFER,
        Seq::single(false, true, 1),
    )
    .with_tp(Some(Tp::from_bytes([0x01, 0x00, 0x00, 0x10, 0x14, 0x05])));
    let mut want = [0u8; 1024];
    let mut w = b.begin(&mut want).unwrap();
    w.unit(Pn::P0, InfoClass(1), &unit).unwrap();
    let wn = w.finish(&mut amikit_gdw376::security::ZeroPw).unwrap();
    assert_eq!(wn, 565);
    assert_eq!(&buf[..k], &want[..wn]);
    // Retransmitted byte for byte after the timeout.
    let k2 = m.poll(Instant(40_000), &mut buf, &mut |_| {});
    assert_eq!(&buf[..k2], &want[..wn]);
}

// --- identity ------------------------------------------------------------------------------------

/// A toy identity key: answer byte i = challenge[i] ^ key ^ A2's low byte ^ i.
#[derive(Clone, Copy)]
struct XorKey(u8);

impl amikit_gdw376::identity::IdentityKey for XorKey {
    fn answer(
        &mut self,
        terminal: &Address,
        challenge: &[u8; 16],
        out: &mut [u8; 16],
    ) -> Result<(), amikit_gdw376::SecurityError> {
        for (i, (o, c)) in out.iter_mut().zip(challenge).enumerate() {
            *o = c ^ self.0 ^ (terminal.a2 as u8) ^ i as u8;
        }
        Ok(())
    }
}

struct IdRig {
    t: Terminal<amikit_gdw376::security::ZeroPw, 2048, 4096, XorKey>,
    m: MasterSession,
    mev: Vec<M>,
}

impl IdRig {
    fn new(terminal_key: u8) -> Self {
        let mut cfg = MasterConfig::new(Profile::default());
        assert_eq!(cfg.identity, IdentityPolicy::Required);
        cfg.ack = amikit_gdw376::session::master::AckStyle::AllConfirm;
        let mut m = MasterSession::new(cfg, Instant(0));
        m.set_wall_clock(Instant(0), WALL);
        let mut t = Terminal::with_keys(
            tcfg(),
            amikit_gdw376::security::ZeroPw,
            XorKey(terminal_key),
        );
        t.set_wall_clock(Instant(0), WALL);
        t.connected(Instant(0));
        let mut rig = IdRig { t, m, mev: vec![] };
        rig.pump(0);
        rig
    }
    /// Moves bytes both ways until quiet; returns the frames the terminal sent.
    fn pump(&mut self, now: u64) -> Vec<Vec<u8>> {
        let now = Instant(now);
        let mut sent = vec![];
        for _ in 0..20 {
            let mut a = [0u8; 2048];
            let n = self.t.poll(now, &mut a, &mut |_| {});
            let mev = &mut self.mev;
            if n > 0 {
                sent.push(a[..n].to_vec());
                self.m.on_bytes(now, &a[..n], &mut |e| mev.push(m_event(e)));
            }
            let mut b = [0u8; 2048];
            let k = self.m.poll(now, &mut b, &mut |e| mev.push(m_event(e)));
            if k > 0 {
                self.t
                    .on_bytes(now, &b[..k], &mut Meter::default(), &mut |_| {});
            }
            if n == 0 && k == 0 {
                break;
            }
        }
        sent
    }
    fn read(&mut self) -> Result<RequestId, amikit_gdw376::session::master::RequestError> {
        let mut units = [0u8; 8];
        let n = write_units(&mut units, &[(Pn(1), InfoClass(25), &[])]).unwrap();
        self.m.request(
            Instant(5),
            &Request {
                afn: Afn::CLASS1,
                units: &units[..n],
                con: false,
            },
        )
    }
}

fn proof_event(ev: &[M]) -> Option<String> {
    ev.iter().find_map(|e| match e {
        M::Other(s) if s.starts_with("Proven") || s.starts_with("ProofFailed") => Some(s.clone()),
        _ => None,
    })
}

#[test]
fn identity_right_key_proves_the_terminal() {
    use amikit_gdw376::session::master::{IdentityState, RequestError};
    let mut rig = IdRig::new(0x5A);
    assert_eq!(rig.m.identity(), IdentityState::Unproven);
    // Unproven: ordinary requests refused.
    assert_eq!(rig.read(), Err(RequestError::Unproven));
    rig.m
        .start_identity_check(Instant(1), [0x11; 16], &mut XorKey(0x5A))
        .unwrap();
    assert_eq!(rig.m.identity(), IdentityState::Pending);
    rig.pump(1);
    assert_eq!(
        proof_event(&rig.mev).as_deref(),
        Some("Proven"),
        "{:?}",
        rig.mev
    );
    assert_eq!(rig.m.identity(), IdentityState::Proven);
    assert!(rig.read().is_ok());
    // A new login makes the terminal unproven again.
    rig.t.disconnected(Instant(2));
    rig.t.connected(Instant(2));
    rig.pump(2);
    assert_eq!(rig.m.identity(), IdentityState::Unproven);
    assert_eq!(rig.read(), Err(RequestError::Unproven));
}

#[test]
fn identity_wrong_key_is_refused() {
    use amikit_gdw376::session::master::{IdentityState, RequestError};
    let mut rig = IdRig::new(0x5B);
    rig.m
        .start_identity_check(Instant(1), [0x11; 16], &mut XorKey(0x5A))
        .unwrap();
    rig.pump(1);
    assert_eq!(
        proof_event(&rig.mev).as_deref(),
        Some("ProofFailed(BadProof)"),
        "{:?}",
        rig.mev
    );
    assert_eq!(rig.m.identity(), IdentityState::Failed);
    assert_eq!(rig.read(), Err(RequestError::Unproven));
}

#[test]
fn identity_replayed_or_foreign_answer_is_refused() {
    use amikit_gdw376::session::master::IdentityState;
    // Record a good answer to challenge X.
    let mut rig = IdRig::new(0x5A);
    rig.m
        .start_identity_check(Instant(1), [0x11; 16], &mut XorKey(0x5A))
        .unwrap();
    let answers = rig.pump(1);
    assert_eq!(rig.m.identity(), IdentityState::Proven);
    let recorded = answers.last().unwrap().clone();
    assert_eq!(
        Repr::parse_bytes(&recorded, &Profile::default())
            .unwrap()
            .afn,
        Afn::AUTHENTICATION
    );

    // An impostor logs in with the same address on another connection and replays it to a
    // fresh challenge Y: refused (its RSEQ/PFC belong to the old challenge: not filed).
    let mut impostor = IdRig::new(0x00);
    impostor.mev.clear();
    impostor
        .m
        .start_identity_check(Instant(1), [0x22; 16], &mut XorKey(0x5A))
        .unwrap();
    let mut sink = [0u8; 512];
    let _ = impostor.m.poll(Instant(1), &mut sink, &mut |_| {});
    let mev = &mut impostor.mev;
    impostor
        .m
        .on_bytes(Instant(1), &recorded, &mut |e| mev.push(m_event(e)));
    assert_ne!(
        impostor.m.identity(),
        IdentityState::Proven,
        "{:?}",
        impostor.mev
    );

    // The same answer re-labelled with the new challenge's PFC/RSEQ (an answer to another
    // challenge): filed, but does not verify.
    let challenge_frame = Repr::parse_bytes(&sink[..], &Profile::default());
    let _ = challenge_frame;
    let mut r2 = IdRig::new(0x00);
    r2.m.start_identity_check(Instant(1), [0x22; 16], &mut XorKey(0x5A))
        .unwrap();
    let mut out = [0u8; 512];
    let k = r2.m.poll(Instant(1), &mut out, &mut |_| {});
    let req = Repr::parse_bytes(&out[..k], &Profile::default()).unwrap();
    let old = Repr::parse_bytes(&recorded, &Profile::default()).unwrap();
    let relabelled = {
        let b = FrameBuilder::new(
            &Profile::default(),
            old.control,
            old.address,
            Afn::AUTHENTICATION,
            Seq::single(true, false, req.seq.seq()),
        )
        .with_tp(req.tp);
        let mut f = [0u8; 256];
        let mut w = b.begin(&mut f).unwrap();
        w.raw(old.units).unwrap();
        let n = w.finish(&mut amikit_gdw376::security::ZeroPw).unwrap();
        f[..n].to_vec()
    };
    let mev = &mut r2.mev;
    r2.m.on_bytes(Instant(1), &relabelled, &mut |e| mev.push(m_event(e)));
    assert_eq!(
        proof_event(&r2.mev).as_deref(),
        Some("ProofFailed(BadProof)"),
        "{:?}",
        r2.mev
    );
    assert_eq!(r2.m.identity(), IdentityState::Failed);
}
