#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Tp and the replay guard on every request (Q/GDW 1376.1-2013 §4.3.4.6.3), without losing
//! reads: the guard's capacity is a setting, security refusals are answered with a
//! rate-bounded AFN 00 F2 that the master reports as a denial, the repeat cache holds several
//! exchanges, handlers see Tp, and the master picks the PW key per terminal.

use amikit_gdw376::auxiliary::Tp;
use amikit_gdw376::security::{MacProvider, TerminalMac};
use amikit_gdw376::session::master::{
    IdentityPolicy, MasterConfig, MasterEvent, MasterSession, Request, RequestId, write_units,
};
use amikit_gdw376::session::terminal::{
    ItemRequest, Refusal, RequestHandler, State, Terminal, TerminalConfig,
};
use amikit_gdw376::{Address, Afn, DateTime, InfoClass, Instant, Pn, Profile, Repr, SecurityError};

const ADDR: Address = Address {
    a1: 0x0171,
    a2: 2082,
    msa: 0,
    group: false,
};

const WALL: DateTime = match DateTime::new(2024, 3, 14, 10, 0, 0) {
    Ok(t) => t,
    Err(_) => panic!("2024-03-14T10:00:00 exists"),
};

/// Answers every read with four bytes, executes every control; records what it saw.
#[derive(Default)]
struct Handler {
    reads: usize,
    controls: Vec<(u16, Option<Tp>, Option<DateTime>)>,
}

impl RequestHandler for Handler {
    fn read(&mut self, _req: &ItemRequest<'_>, out: &mut [u8]) -> Result<usize, Refusal> {
        self.reads += 1;
        out.get_mut(..4)
            .ok_or(Refusal::NoData)?
            .copy_from_slice(&[1, 2, 3, 4]);
        Ok(4)
    }
    fn command(&mut self, req: &ItemRequest<'_>) -> Result<(), Refusal> {
        self.controls.push((req.pn.0, req.tp, req.wall));
        Ok(())
    }
}

/// A PW that sums the bytes with a key (a stand-in MAC).
fn sum_pw(key: u8, head: &[u8], tail: &[u8], pw: &mut [u8]) {
    let s = head.iter().chain(tail).fold(key, |a, &b| a.wrapping_add(b));
    pw.fill(s);
}

struct SumMac(u8);

impl MacProvider for SumMac {
    fn sign(&mut self, head: &[u8], tail: &[u8], pw: &mut [u8]) -> Result<(), SecurityError> {
        sum_pw(self.0, head, tail, pw);
        Ok(())
    }
}

/// One key per terminal: the key is the low byte of A2.
struct PerTerminal;

impl TerminalMac for PerTerminal {
    fn sign_for(
        &mut self,
        terminal: &Address,
        head: &[u8],
        tail: &[u8],
        pw: &mut [u8],
    ) -> Result<(), SecurityError> {
        if terminal.msa != 0 {
            return Err(SecurityError::BadPw);
        }
        sum_pw(terminal.a2.to_le_bytes()[0], head, tail, pw);
        Ok(())
    }
}

fn tcfg() -> TerminalConfig {
    let mut c = TerminalConfig::new(ADDR);
    c.require_tp_on_reads = true;
    c
}

fn mcfg() -> MasterConfig {
    let mut c = MasterConfig::new(Profile::default());
    c.identity = IdentityPolicy::NotChecked;
    c
}

/// A master logged in (by hand) to `terminal`, its calendar at `WALL`.
fn master<M: TerminalMac>(mac: M, terminal: Address) -> MasterSession<M> {
    let mut m = MasterSession::with_mac(mcfg(), mac, Instant(0));
    m.set_wall_clock(Instant(0), WALL);
    let mut t: Terminal = Terminal::new(TerminalConfig::new(terminal));
    t.connected(Instant(0));
    let mut buf = [0u8; 256];
    let n = t.poll(Instant(0), &mut buf, &mut |_| {});
    m.on_bytes(Instant(0), &buf[..n], &mut |_| {});
    let _ = m.poll(Instant(0), &mut buf, &mut |_| {});
    m
}

/// A terminal with the given guard and cache sizes, online, its calendar at `WALL`.
fn terminal<M: MacProvider, const G: usize, const R: usize>(
    cfg: TerminalConfig,
    mac: M,
) -> Terminal<M, 2048, 4096, amikit_gdw376::identity::NoIdentity, G, R> {
    let mut t = Terminal::with_mac(cfg, mac);
    t.set_wall_clock(Instant(0), WALL);
    t.connected(Instant(0));
    let mut buf = [0u8; 256];
    let _ = t.poll(Instant(0), &mut buf, &mut |_| {});
    // Confirm the login by hand.
    let mut ack = [0u8; 64];
    let n =
        amikit_gdw376::session::terminal::link_ack(&mut ack, &Profile::default(), ADDR, 1).unwrap();
    t.on_bytes(Instant(0), &ack[..n], &mut Handler::default(), &mut |_| {});
    assert_eq!(t.state(), State::Online);
    t
}

fn read_units() -> Vec<u8> {
    let mut units = [0u8; 16];
    let n = write_units(&mut units, &[(Pn(1), InfoClass(129), &[])]).unwrap();
    units[..n].to_vec()
}

fn control_units(pn: u16) -> Vec<u8> {
    let mut units = [0u8; 16];
    let n = write_units(&mut units, &[(Pn(pn), InfoClass(1), &[0x00])]).unwrap();
    units[..n].to_vec()
}

/// Sends one request from `m` and returns its id and frame.
fn send<M: TerminalMac>(
    m: &mut MasterSession<M>,
    now: u64,
    afn: Afn,
    units: &[u8],
) -> (RequestId, Vec<u8>) {
    let id = m
        .request(
            Instant(now),
            &Request {
                afn,
                units,
                con: false,
            },
        )
        .unwrap();
    let mut buf = [0u8; 1024];
    let k = m.poll(Instant(now), &mut buf, &mut |_| {});
    (id, buf[..k].to_vec())
}

/// Feeds `bytes` to the terminal; returns its events (as text) and what it sent.
fn feed<M: MacProvider, const G: usize, const R: usize>(
    t: &mut Terminal<M, 2048, 4096, amikit_gdw376::identity::NoIdentity, G, R>,
    h: &mut Handler,
    now: u64,
    bytes: &[u8],
) -> (Vec<String>, Vec<u8>) {
    let mut ev = vec![];
    t.on_bytes(Instant(now), bytes, h, &mut |e| ev.push(format!("{e:?}")));
    let mut out = [0u8; 4096];
    let n = t.poll(Instant(now), &mut out, &mut |_| {});
    (ev, out[..n].to_vec())
}

/// What the master made of the terminal's reply: `Complete`, `Denied`, `Timeout` … per id.
fn outcome<M: TerminalMac>(m: &mut MasterSession<M>, now: u64, reply: &[u8]) -> Vec<String> {
    let mut ev = vec![];
    m.on_bytes(Instant(now), reply, &mut |e| match e {
        MasterEvent::Complete { id, .. } => ev.push(format!("Complete({})", id.0)),
        MasterEvent::Denied(id) => ev.push(format!("Denied({})", id.0)),
        MasterEvent::Timeout(id) => ev.push(format!("Timeout({})", id.0)),
        MasterEvent::Response { .. } => {}
        other => ev.push(format!("{other:?}")),
    });
    ev
}

fn is_deny(reply: &[u8]) -> bool {
    Repr::parse_bytes(reply, &Profile::default())
        .is_ok_and(|r| r.afn == Afn::CONFIRM && r.units == [0, 0, 2, 0])
}

#[test]
fn forty_reads_in_one_tp_window_are_all_answered_with_a_guard_sized_for_them() {
    // 40 reads within the same simulated minute, each with Tp (5 minutes allowed): 40 open
    // windows. Before, the guard was fixed at 16 windows: the 17th read was refused in
    // silence and the master timed out.
    let mut m = master(SumMac(7), ADDR);
    let mut t = terminal::<_, 64, 2048>(tcfg(), SumMac(7));
    let mut h = Handler::default();
    let mut done = 0;
    for i in 0..40u64 {
        let (id, frame) = send(&mut m, i, Afn::CLASS1, &read_units());
        assert!(
            Repr::parse_bytes(&frame, &Profile::default())
                .unwrap()
                .tp
                .is_some()
        );
        let (ev, reply) = feed(&mut t, &mut h, i, &frame);
        assert!(ev[0].starts_with("Request"), "read {i}: {ev:?}");
        assert_eq!(
            outcome(&mut m, i, &reply),
            vec![format!("Complete({})", id.0)]
        );
        done += 1;
    }
    assert_eq!((done, h.reads, t.open_windows()), (40, 40, 40));
}

#[test]
fn a_full_guard_denies_and_the_master_sees_a_denial_not_a_timeout() {
    let mut m = master(SumMac(7), ADDR);
    let mut t = terminal::<_, 4, 2048>(tcfg(), SumMac(7));
    let mut h = Handler::default();
    for i in 0..4u64 {
        let (_, frame) = send(&mut m, i, Afn::CLASS1, &read_units());
        let (_, reply) = feed(&mut t, &mut h, i, &frame);
        assert!(!is_deny(&reply));
        let _ = outcome(&mut m, i, &reply);
    }
    let (id, frame) = send(&mut m, 5, Afn::CLASS1, &read_units());
    let (ev, reply) = feed(&mut t, &mut h, 5, &frame);
    assert!(ev[0].contains("ReplayFull(4)"), "{ev:?}");
    assert!(is_deny(&reply));
    assert_eq!(
        outcome(&mut m, 5, &reply),
        vec![format!("Denied({})", id.0)]
    );
    assert_eq!(m.outstanding(), 0);
    assert_eq!(h.reads, 4);
}

#[test]
fn a_replayed_read_gets_the_cached_reply_and_once_forgotten_a_denial() {
    let mut m = master(SumMac(7), ADDR);
    // A cache that holds one read exchange (a read frame with Tp is 26 bytes, its reply 32).
    let mut t = terminal::<_, 16, 80>(tcfg(), SumMac(7));
    let mut h = Handler::default();
    let (_, a) = send(&mut m, 0, Afn::CLASS1, &read_units());
    let (_, first) = feed(&mut t, &mut h, 0, &a);
    // The same frame again (a retransmission or a replay): the cached reply, not executed.
    let (ev, again) = feed(&mut t, &mut h, 1, &a);
    assert_eq!(ev, vec!["Duplicate".to_string()]);
    assert_eq!((again, h.reads), (first, 1));
    // Another read pushes the first out of the cache; a replay of the first is then refused
    // by the guard and answered with a denial (before: silence).
    let (_, b) = send(&mut m, 2, Afn::CLASS1, &read_units());
    let _ = feed(&mut t, &mut h, 2, &b);
    let (ev, reply) = feed(&mut t, &mut h, 3, &a);
    assert!(ev[0].contains("Replay("), "{ev:?}");
    assert!(is_deny(&reply), "{reply:02X?}");
    assert_eq!(h.reads, 2);
    // The denial echoes the replayed frame's Tp.
    let tp_a = Repr::parse_bytes(&a, &Profile::default()).unwrap().tp;
    assert_eq!(
        Repr::parse_bytes(&reply, &Profile::default()).unwrap().tp,
        tp_a
    );
}

#[test]
fn a_read_without_tp_is_denied_when_tp_is_required_on_reads() {
    let mut cfg = mcfg();
    cfg.tp_delay_min = None;
    let mut m = MasterSession::with_mac(cfg, SumMac(7), Instant(0));
    m.set_terminal(ADDR);
    let mut t = terminal::<_, 16, 2048>(tcfg(), SumMac(7));
    let mut h = Handler::default();
    let (id, frame) = send(&mut m, 0, Afn::CLASS1, &read_units());
    let (ev, reply) = feed(&mut t, &mut h, 0, &frame);
    assert!(ev[0].contains("TpRequired"), "{ev:?}");
    assert_eq!(
        outcome(&mut m, 0, &reply),
        vec![format!("Denied({})", id.0)]
    );
    // Off (the default), reads need no Tp.
    let mut t = terminal::<_, 16, 2048>(TerminalConfig::new(ADDR), SumMac(7));
    let (id, frame) = send(&mut m, 1, Afn::CLASS1, &read_units());
    let (_, reply) = feed(&mut t, &mut h, 1, &frame);
    assert_eq!(
        outcome(&mut m, 1, &reply),
        vec![format!("Complete({})", id.0)]
    );
}

#[test]
fn denials_are_rate_bounded() {
    let mut cfg = tcfg();
    cfg.denials_max = 3;
    cfg.denials_window = std::time::Duration::from_secs(60);
    let mut t = terminal::<_, 16, 2048>(cfg, SumMac(7));
    let mut h = Handler::default();
    // Masters with the wrong key: every command fails PW.
    let mut sent = 0;
    for i in 0..10u64 {
        let mut wrong = master(SumMac(8), ADDR);
        let (_, frame) = send(&mut wrong, i, Afn::CONTROL, &control_units(1));
        let (ev, reply) = feed(&mut t, &mut h, i, &frame);
        assert!(ev[0].contains("BadPw"), "{ev:?}");
        if !reply.is_empty() {
            assert!(is_deny(&reply));
            sent += 1;
        }
    }
    assert_eq!((sent, t.denials_withheld()), (3, 7));
    assert!(h.controls.is_empty());
    // The next window allows denials again.
    let mut wrong = master(SumMac(8), ADDR);
    let (_, frame) = send(&mut wrong, 60_000, Afn::CONTROL, &control_units(1));
    let (_, reply) = feed(&mut t, &mut h, 60_000, &frame);
    assert!(is_deny(&reply));
}

#[test]
fn interleaved_retransmissions_of_several_requests_are_answered_from_cache() {
    let mut m = master(SumMac(7), ADDR);
    let mut t = terminal::<_, 16, 2048>(tcfg(), SumMac(7));
    let mut h = Handler::default();
    let mut frames = vec![];
    let mut replies = vec![];
    for pn in 1..=3u16 {
        let (_, f) = send(&mut m, 0, Afn::CONTROL, &control_units(pn));
        let (ev, r) = feed(&mut t, &mut h, 0, &f);
        assert!(ev[0].starts_with("Request"), "{ev:?}");
        frames.push(f);
        replies.push(r);
    }
    // Retransmissions of 2, 1, 3 (their replies were lost): answered from the cache, each
    // control executed once. Before, only the last request was remembered: the others were
    // refused as replays (in silence).
    for i in [1usize, 0, 2] {
        let (ev, r) = feed(&mut t, &mut h, 1, &frames[i]);
        assert_eq!(ev, vec!["Duplicate".to_string()]);
        assert_eq!(r, replies[i]);
    }
    let pns: Vec<u16> = h.controls.iter().map(|c| c.0).collect();
    assert_eq!(pns, vec![1, 2, 3]);
}

#[test]
fn handlers_see_the_requests_tp_and_the_calendar_time() {
    let mut m = master(SumMac(7), ADDR);
    let mut t = terminal::<_, 16, 2048>(tcfg(), SumMac(7));
    let mut h = Handler::default();
    let (_, f) = send(&mut m, 0, Afn::CONTROL, &control_units(4));
    let tp = Repr::parse_bytes(&f, &Profile::default()).unwrap().tp;
    assert!(tp.is_some_and(|t| t.delay_min == 5));
    let _ = feed(&mut t, &mut h, 2000, &f);
    let wall = WALL.add_seconds(2).unwrap();
    assert_eq!(h.controls, vec![(4, tp, Some(wall))]);
}

#[test]
fn the_master_signs_with_the_key_of_the_terminal_it_talks_to() {
    // Terminal 2082 (key 0x22) and terminal 2083 (key 0x23), one `PerTerminal` provider.
    let other = Address { a2: 2083, ..ADDR };
    let mut t = terminal::<_, 16, 2048>(tcfg(), SumMac(2082u16.to_le_bytes()[0]));
    let mut h = Handler::default();
    let mut m = master(PerTerminal, ADDR);
    let (id, f) = send(&mut m, 0, Afn::CONTROL, &control_units(1));
    let (ev, reply) = feed(&mut t, &mut h, 0, &f);
    assert!(ev[0].starts_with("Request"), "{ev:?}");
    assert_eq!(
        outcome(&mut m, 0, &reply),
        vec![format!("Complete({})", id.0)]
    );
    // The session of terminal 2083 signs with 2083's key: terminal 2082 refuses it (the frame
    // is readdressed to 2082, as an attacker would).
    let mut m2 = master(PerTerminal, other);
    let (_, mut f2) = send(&mut m2, 1, Afn::CONTROL, &control_units(1));
    let r = Repr::parse_bytes(&f2, &Profile::default()).unwrap();
    assert_eq!(r.address.a2, 2083);
    // A2 is bytes 9..13 (68 L L L L 68 C A1 A1 A2 A2 …); fix the checksum.
    f2[9..11].copy_from_slice(&2082u16.to_le_bytes());
    let cs_at = f2.len() - 2;
    f2[cs_at] = f2[6..cs_at].iter().fold(0u8, |a, &b| a.wrapping_add(b));
    let (ev, _) = feed(&mut t, &mut h, 1, &f2);
    assert!(ev[0].contains("BadPw"), "{ev:?}");
    assert_eq!(h.controls.len(), 1);
}

#[cfg(feature = "cmac")]
#[test]
fn key_holders_print_no_key() {
    let pw = amikit_gdw376::security::AesCmacPw::new([0xAB; 16]);
    let id = amikit_gdw376::identity::AesCmacIdentity::new([0xCD; 16]);
    let text = format!("{pw:?} {id:?} {pw:#?} {id:#?}");
    for needle in ["171", "AB", "ab", "205", "CD", "cd"] {
        assert!(!text.contains(needle), "{text}");
    }
}
