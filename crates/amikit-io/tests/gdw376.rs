//! The Q/GDW 376.1 front end against the terminal driver over loopback TCP: login with the
//! identity proof, reads, controls, reports, heartbeats, re-dial, and the front end's limits.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use amikit_gdw376::format::Format09;
use amikit_gdw376::identity::{CHALLENGE_LEN, IdentityKey};
use amikit_gdw376::security::ZeroPw;
use amikit_gdw376::session::master::{IdentityPolicy, MasterConfig, write_units};
use amikit_gdw376::session::terminal::{
    HeartbeatMode, ItemRequest, Refusal, RequestHandler, Terminal, TerminalConfig,
};
use amikit_gdw376::units::{
    EventBlock, EventRecord, Reader, Realtime, UnitLayout as _, Writer, read_options,
};
use amikit_gdw376::walker::Item;
use amikit_gdw376::{Address, Afn, DaDt, InfoClass, Pn, Profile, SecurityError};
use amikit_io::Error;
use amikit_io::gdw376::{
    DisconnectReason, DriverConfig, DriverEvent, FrontEnd, FrontEndConfig, FrontEndEvent,
    TerminalDriver,
};
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

const PROFILE: Profile = Profile::STRICT_2013;

/// A toy per-terminal key (tests only): the answer is the challenge XOR a secret and A2.
#[derive(Clone, Copy)]
struct Key(u8);

impl IdentityKey for Key {
    fn answer(
        &mut self,
        terminal: &Address,
        challenge: &[u8; CHALLENGE_LEN],
        out: &mut [u8; CHALLENGE_LEN],
    ) -> Result<(), SecurityError> {
        for (o, c) in out.iter_mut().zip(challenge) {
            *o = c ^ self.0 ^ terminal.a2 as u8;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Site {
    trips: Vec<u16>,
}

struct Handler(Arc<Mutex<Site>>);

impl RequestHandler for Handler {
    fn read(&mut self, req: &ItemRequest<'_>, out: &mut [u8]) -> Result<usize, Refusal> {
        let mut w = Writer::new(out);
        match (req.afn, req.fn_.0) {
            (Afn::CLASS1, 25) => {
                let mut rt = Realtime::default();
                rt.active_power[0] = Some(Format09::from_mantissa(11_173).unwrap());
                rt.emit(&mut w).map_err(|_| Refusal::NoData)?;
                Ok(w.pos())
            }
            _ => Err(Refusal::NoData),
        }
    }
    fn command(&mut self, req: &ItemRequest<'_>) -> Result<(), Refusal> {
        if req.afn == Afn::CONTROL && req.fn_ == InfoClass(1) {
            self.0.lock().unwrap().trips.push(req.pn.0);
            return Ok(());
        }
        Err(Refusal::Denied)
    }
}

fn address(a2: u32) -> Address {
    Address {
        a1: 0x0171,
        a2,
        ..Address::default()
    }
}

fn master(policy: IdentityPolicy) -> FrontEndConfig {
    let mut master = MasterConfig::new(PROFILE);
    master.response_timeout = Duration::from_secs(2);
    master.retries = 1;
    master.identity = policy;
    FrontEndConfig::new(master)
}

async fn front_end(config: FrontEndConfig) -> (FrontEnd, Receiver<FrontEndEvent>) {
    FrontEnd::bind_with("127.0.0.1:0", config, ZeroPw, Key(0x5A))
        .await
        .unwrap()
}

fn terminal_config(a2: u32) -> TerminalConfig {
    let mut c = TerminalConfig::new(address(a2));
    c.response_timeout = Duration::from_secs(2);
    c.reconnect.initial = Duration::from_millis(100);
    c.reconnect.max = Duration::from_millis(400);
    c
}

fn driver(
    fe: &str,
    config: TerminalConfig,
    key: Key,
) -> (TerminalDriver, Receiver<DriverEvent>, Arc<Mutex<Site>>) {
    let site = Arc::new(Mutex::new(Site::default()));
    let terminal: Terminal<ZeroPw, 2048, 4096, Key> = Terminal::with_keys(config, ZeroPw, key);
    let (d, events) =
        TerminalDriver::spawn(terminal, Handler(Arc::clone(&site)), DriverConfig::new(fe));
    (d, events, site)
}

/// Waits (at most 5 s) for an event that `want` accepts; returns it.
async fn wait_for<E: std::fmt::Debug>(rx: &mut Receiver<E>, want: impl Fn(&E) -> bool) -> E {
    let seen = async {
        loop {
            let e = rx.recv().await.expect("event stream ended");
            if want(&e) {
                return e;
            }
        }
    };
    timeout(Duration::from_secs(5), seen)
        .await
        .expect("event not seen in time")
}

#[tokio::test]
async fn a_proven_terminal_is_read_and_controlled() {
    let (fe, mut events) = front_end(master(IdentityPolicy::Required)).await;
    let (_driver, _dev, site) = driver(&fe.local_addr().to_string(), terminal_config(8), Key(0x5A));
    wait_for(&mut events, |e| matches!(e, FrontEndEvent::Login { .. })).await;
    let registered = wait_for(&mut events, |e| {
        matches!(e, FrontEndEvent::Registered { .. })
    })
    .await;
    assert_eq!(
        registered,
        FrontEndEvent::Registered {
            terminal: address(8)
        }
    );
    assert_eq!(fe.terminals(), vec![address(8)]);

    // AFN 0C F25 of measurement point 1.
    let mut units = [0u8; 8];
    let n = write_units(&mut units, &[(Pn(1), InfoClass(25), &[])]).unwrap();
    let response = fe.read(address(8), &units[..n]).await.unwrap();
    assert_eq!(response.afn, Afn::CLASS1);
    let unit = response
        .units(&PROFILE)
        .find_map(|i| match i {
            Item::Unit(u) if u.fn_ == InfoClass(25) => Some(u),
            _ => None,
        })
        .expect("F25 in the response");
    let rt = Realtime::parse(&mut Reader::new(unit.data, read_options(&PROFILE))).unwrap();
    assert_eq!(
        rt.active_power[0],
        Some(Format09::from_mantissa(11_173).unwrap())
    );
    // Many reads, four at a time (the session's request slots), faster than 256 a second:
    // reads carry no Tp, so neither the terminal's replay memory nor the wrap of the 8-bit
    // frame counter within one Tp second trips them (both did when reads carried the
    // commands' Tp).
    let mut readers = Vec::new();
    for _ in 0..4 {
        let fe = fe.clone();
        let units = units[..n].to_vec();
        readers.push(tokio::spawn(async move {
            for _ in 0..100 {
                let response = fe.read(address(8), &units).await.unwrap();
                assert_eq!(response.afn, Afn::CLASS1);
            }
        }));
    }
    for r in readers {
        r.await.unwrap();
    }

    // AFN 05 F1 (remote trip) of control round 2: confirmed, executed.
    let n = write_units(&mut units, &[(Pn(2), InfoClass(1), &[0x00])]).unwrap();
    let response = fe.control(address(8), &units[..n]).await.unwrap();
    assert_eq!(
        (response.afn, response.confirmed),
        (Afn::CONFIRM, Some(true))
    );
    assert_eq!(site.lock().unwrap().trips, vec![2]);
    // A command the terminal refuses (AFN 05 F2 is not served here): AFN 00 F2, all denied.
    let n = write_units(&mut units, &[(Pn(2), InfoClass(2), &[])]).unwrap();
    assert!(matches!(
        fe.control(address(8), &units[..n]).await,
        Err(Error::Denied)
    ));
    let confirmation = wait_for(&mut events, |e| {
        matches!(e, FrontEndEvent::Confirmation { .. })
    })
    .await;
    assert_eq!(
        confirmation,
        FrontEndEvent::Confirmation {
            terminal: address(8),
            request: Afn::CONTROL,
            confirmed: true
        }
    );
    let stats = fe.stats();
    assert_eq!(
        (stats.connections, stats.requests, stats.request_timeouts),
        (1, 403, 0)
    );
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_never_registered() {
    let (fe, mut events) = front_end(master(IdentityPolicy::Required)).await;
    let (_driver, _dev, site) = driver(&fe.local_addr().to_string(), terminal_config(9), Key(0x11));
    let failed = wait_for(&mut events, |e| {
        matches!(e, FrontEndEvent::ProofFailed { .. })
    })
    .await;
    assert!(
        matches!(failed, FrontEndEvent::ProofFailed { terminal, .. } if terminal == address(9))
    );
    let gone = wait_for(&mut events, |e| {
        matches!(e, FrontEndEvent::Disconnected { .. })
    })
    .await;
    assert!(matches!(
        gone,
        FrontEndEvent::Disconnected {
            reason: DisconnectReason::ProofFailed,
            ..
        }
    ));
    assert!(fe.terminals().is_empty());
    let mut units = [0u8; 8];
    let n = write_units(&mut units, &[(Pn(1), InfoClass(1), &[0x00])]).unwrap();
    assert!(matches!(
        fe.control(address(9), &units[..n]).await,
        Err(Error::NotConnected(_))
    ));
    assert!(site.lock().unwrap().trips.is_empty());
}

#[tokio::test]
async fn reports_and_heartbeats_reach_the_event_stream() {
    let (fe, mut events) = front_end(master(IdentityPolicy::NotChecked)).await;
    let mut config = terminal_config(10);
    config.heartbeat = HeartbeatMode::Fixed;
    config.heartbeat_period = Duration::from_millis(300);
    let (driver, mut dev, _) = driver(&fe.local_addr().to_string(), config, Key(0));
    wait_for(&mut dev, |e| *e == DriverEvent::LoggedIn).await;
    wait_for(&mut events, |e| {
        matches!(e, FrontEndEvent::Registered { .. })
    })
    .await;

    // AFN 0E F1: one important event (ERC 14, power on/off), confirmed by the master.
    let mut units = [0u8; 64];
    let rec = [0x40, 0x14, 0x31, 0x07, 0x10, 0x31, 0x11, 0x03, 0x08, 0x10];
    units[..4].copy_from_slice(&<[u8; 4]>::from(
        DaDt::single(Pn::P0, InfoClass(1)).unwrap(),
    ));
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
    let pseq = driver.report(Afn::CLASS3, &units[..n], true).await.unwrap();
    let report = wait_for(&mut events, |e| matches!(e, FrontEndEvent::Report { .. })).await;
    assert_eq!(
        report,
        FrontEndEvent::Report {
            terminal: address(10),
            afn: Afn::CLASS3,
            units: units[..n].to_vec()
        }
    );
    wait_for(&mut dev, |e| *e == DriverEvent::ReportConfirmed(pseq)).await;
    wait_for(&mut events, |e| {
        matches!(e, FrontEndEvent::Heartbeat { .. })
    })
    .await;
    wait_for(&mut dev, |e| *e == DriverEvent::HeartbeatConfirmed).await;
}

#[tokio::test]
async fn the_driver_re_dials_with_back_off_until_the_master_listens() {
    // A port nobody listens on yet.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let (_driver, mut dev, _) = driver(&addr.to_string(), terminal_config(11), Key(0));
    let first = wait_for(&mut dev, |e| matches!(e, DriverEvent::DialFailed { .. })).await;
    let second = wait_for(&mut dev, |e| matches!(e, DriverEvent::DialFailed { .. })).await;
    match (first, second) {
        (
            DriverEvent::DialFailed { retry_in: a, .. },
            DriverEvent::DialFailed { retry_in: b, .. },
        ) => {
            assert!(b > a, "back-off grows: {a:?} then {b:?}");
        }
        other => panic!("{other:?}"),
    }
    let (_fe, mut events) = FrontEnd::bind_with(
        &addr.to_string(),
        master(IdentityPolicy::NotChecked),
        ZeroPw,
        Key(0),
    )
    .await
    .unwrap();
    wait_for(&mut events, |e| {
        matches!(e, FrontEndEvent::Registered { .. })
    })
    .await;
    wait_for(&mut dev, |e| *e == DriverEvent::LoggedIn).await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_at_the_login_timeout_and_the_limit_refuses() {
    let mut config = master(IdentityPolicy::Required);
    config.login_timeout = Duration::from_millis(200);
    config.max_connections = 1;
    let (fe, mut events) = front_end(config).await;
    let _silent = tokio::net::TcpStream::connect(fe.local_addr())
        .await
        .unwrap();
    wait_for(&mut events, |e| {
        matches!(e, FrontEndEvent::Connected { .. })
    })
    .await;
    let _second = tokio::net::TcpStream::connect(fe.local_addr())
        .await
        .unwrap();
    wait_for(&mut events, |e| matches!(e, FrontEndEvent::Refused { .. })).await;
    let gone = wait_for(&mut events, |e| {
        matches!(e, FrontEndEvent::Disconnected { .. })
    })
    .await;
    assert!(matches!(
        gone,
        FrontEndEvent::Disconnected {
            terminal: None,
            reason: DisconnectReason::LoginTimeout,
            ..
        }
    ));
    let stats = fe.stats();
    assert_eq!((stats.refused, stats.login_timeouts), (1, 1));
}

#[tokio::test]
async fn a_request_to_an_unknown_terminal_is_not_connected() {
    let (fe, _events) = front_end(master(IdentityPolicy::NotChecked)).await;
    assert!(matches!(
        fe.read(address(99), &[]).await,
        Err(Error::NotConnected(a)) if a == address(99)
    ));
}

#[tokio::test]
async fn shutdown_closes_every_connection_and_fails_their_requests() {
    let (fe, mut events) = front_end(master(IdentityPolicy::NotChecked)).await;
    let (_driver, mut dev, _) = driver(&fe.local_addr().to_string(), terminal_config(12), Key(0));
    wait_for(&mut events, |e| {
        matches!(e, FrontEndEvent::Registered { .. })
    })
    .await;
    fe.shutdown();
    let gone = wait_for(&mut events, |e| {
        matches!(e, FrontEndEvent::Disconnected { .. })
    })
    .await;
    assert!(matches!(
        gone,
        FrontEndEvent::Disconnected {
            reason: DisconnectReason::Shutdown,
            ..
        }
    ));
    wait_for(&mut dev, |e| matches!(e, DriverEvent::Disconnected { .. })).await;
    assert!(fe.terminals().is_empty());
    // Nobody accepts any more: the driver's next dial fails.
    wait_for(&mut dev, |e| matches!(e, DriverEvent::DialFailed { .. })).await;
}

/// A toy PW (tests only): every byte is the byte sum of the frame XOR the terminal's A2.
fn toy_pw(a2: u32, head: &[u8], tail: &[u8], pw: &mut [u8]) {
    let sum = head.iter().chain(tail).fold(0u8, |s, b| s.wrapping_add(*b));
    pw.fill(sum ^ a2 as u8);
}

/// The master's key store: one key per terminal.
struct PwKeys;

impl amikit_gdw376::security::TerminalMac for PwKeys {
    fn sign_for(
        &mut self,
        terminal: &Address,
        head: &[u8],
        tail: &[u8],
        pw: &mut [u8],
    ) -> Result<(), SecurityError> {
        toy_pw(terminal.a2, head, tail, pw);
        Ok(())
    }
}

/// A terminal's own key.
struct TerminalPw(u32);

impl amikit_gdw376::security::MacProvider for TerminalPw {
    fn sign(&mut self, head: &[u8], tail: &[u8], pw: &mut [u8]) -> Result<(), SecurityError> {
        toy_pw(self.0, head, tail, pw);
        Ok(())
    }
}

#[tokio::test]
async fn commands_carry_the_pw_of_their_terminal_and_a_bad_pw_is_denied() {
    let (fe, mut events) = FrontEnd::bind_with(
        "127.0.0.1:0",
        master(IdentityPolicy::NotChecked),
        PwKeys,
        Key(0),
    )
    .await
    .unwrap();
    let addr = fe.local_addr().to_string();
    let mut drivers = Vec::new();
    let mut sites = Vec::new();
    // Terminal 13 holds its own key; terminal 14 holds terminal 99's.
    for (a2, key) in [(13, 13), (14, 99)] {
        let site = Arc::new(Mutex::new(Site::default()));
        let terminal: Terminal<TerminalPw> =
            Terminal::with_mac(terminal_config(a2), TerminalPw(key));
        drivers.push(TerminalDriver::spawn(
            terminal,
            Handler(Arc::clone(&site)),
            DriverConfig::new(&addr),
        ));
        sites.push(site);
        wait_for(&mut events, |e| {
            matches!(e, FrontEndEvent::Registered { .. })
        })
        .await;
    }
    let mut units = [0u8; 8];
    let n = write_units(&mut units, &[(Pn(3), InfoClass(1), &[0x00])]).unwrap();
    let response = fe.control(address(13), &units[..n]).await.unwrap();
    assert_eq!(response.confirmed, Some(true));
    assert!(matches!(
        fe.control(address(14), &units[..n]).await,
        Err(Error::Denied)
    ));
    assert_eq!(sites[0].lock().unwrap().trips, vec![3]);
    assert!(sites[1].lock().unwrap().trips.is_empty());
}

/// Admits every terminal but 30; resumes terminal 15 at PFC 200; records what it is told.
#[derive(Default)]
struct Registry {
    suspended: Mutex<Vec<(Address, amikit_io::gdw376::SessionState)>>,
}

impl amikit_io::gdw376::TerminalRegistry for Registry {
    fn admit(&self, terminal: &Address) -> bool {
        terminal.a2 != 30
    }
    fn resume(&self, terminal: &Address) -> amikit_io::gdw376::SessionState {
        amikit_io::gdw376::SessionState {
            pfc: (terminal.a2 == 15).then_some(200),
            event_pointer: None,
        }
    }
    fn suspend(&self, terminal: &Address, state: amikit_io::gdw376::SessionState) {
        self.suspended.lock().unwrap().push((*terminal, state));
    }
}

#[tokio::test]
async fn the_registry_admits_resumes_and_keeps_session_state() {
    let registry = Arc::new(Registry::default());
    let mut config = master(IdentityPolicy::NotChecked);
    config.terminals = registry.clone();
    let (fe, mut events) = front_end(config).await;
    let addr = fe.local_addr().to_string();

    let (_refused, _, _) = driver(&addr, terminal_config(30), Key(0));
    let gone = wait_for(&mut events, |e| {
        matches!(e, FrontEndEvent::Disconnected { .. })
    })
    .await;
    assert!(matches!(
        gone,
        FrontEndEvent::Disconnected {
            terminal: None,
            reason: DisconnectReason::NotAdmitted,
            ..
        }
    ));

    let (_driver, _, _) = driver(&addr, terminal_config(15), Key(0));
    wait_for(&mut events, |e| {
        matches!(e, FrontEndEvent::Registered { .. })
    })
    .await;
    let mut units = [0u8; 8];
    let n = write_units(&mut units, &[(Pn(1), InfoClass(25), &[])]).unwrap();
    fe.read(address(15), &units[..n]).await.unwrap();
    fe.read(address(15), &units[..n]).await.unwrap();
    fe.shutdown();
    wait_for(&mut events, |e| {
        matches!(
            e,
            FrontEndEvent::Disconnected {
                terminal: Some(_),
                ..
            }
        )
    })
    .await;
    // Two requests after PFC 200.
    let suspended = registry.suspended.lock().unwrap().clone();
    assert_eq!(suspended.len(), 1, "{suspended:?}");
    assert_eq!(suspended[0].0, address(15));
    assert_eq!(suspended[0].1.pfc, Some(202));
}

#[tokio::test]
async fn a_simulated_calendar_is_shared_by_front_end_and_terminal() {
    // Tp is written and checked in 2030, far from the system clock: with either side on the
    // system clock the command would be refused as stale.
    let at = || amikit_gdw376::DateTime::new(2030, 1, 1, 8, 0, 0).ok();
    let mut config = master(IdentityPolicy::NotChecked);
    config.clock = Arc::new(at);
    let (fe, mut events) = front_end(config).await;
    let site = Arc::new(Mutex::new(Site::default()));
    let terminal: Terminal = Terminal::new(terminal_config(16));
    let mut driver_config = DriverConfig::new(fe.local_addr().to_string());
    driver_config.clock = Arc::new(at);
    let _driver = TerminalDriver::spawn(terminal, Handler(Arc::clone(&site)), driver_config);
    wait_for(&mut events, |e| {
        matches!(e, FrontEndEvent::Registered { .. })
    })
    .await;
    let mut units = [0u8; 8];
    let n = write_units(&mut units, &[(Pn(1), InfoClass(1), &[0x00])]).unwrap();
    let response = fe.control(address(16), &units[..n]).await.unwrap();
    assert_eq!(response.confirmed, Some(true));
    assert_eq!(site.lock().unwrap().trips, vec![1]);
}

#[tokio::test]
async fn callers_beyond_the_queue_wait_their_turn() {
    let mut config = master(IdentityPolicy::NotChecked);
    config.queue = 1;
    let (fe, mut events) = front_end(config).await;
    let (_driver, _, _) = driver(&fe.local_addr().to_string(), terminal_config(17), Key(0));
    wait_for(&mut events, |e| {
        matches!(e, FrontEndEvent::Registered { .. })
    })
    .await;
    let mut units = [0u8; 8];
    let n = write_units(&mut units, &[(Pn(1), InfoClass(25), &[])]).unwrap();
    let mut callers = Vec::new();
    for _ in 0..12 {
        let fe = fe.clone();
        let units = units[..n].to_vec();
        callers.push(tokio::spawn(
            async move { fe.read(address(17), &units).await },
        ));
    }
    for c in callers {
        assert_eq!(c.await.unwrap().unwrap().afn, Afn::CLASS1);
    }
    assert_eq!(fe.stats().requests, 12);
}
