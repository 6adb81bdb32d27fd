//! The terminal (concentrator): a Q/GDW 376.1 client over TCP in front of simulated DL/T 645
//! meters on an in-process RS-485 bus.
//!
//! ```text
//!  master station ◀──TCP, 376.1 (gdw376 Terminal session)──▶ terminal task (tokio)
//!                                                              │ RequestHandler (handler.rs)
//!                                                              ▼
//!                                         RS-485 bus (bus.rs): DL/T 645 bytes, deframers,
//!                                         injected noise, retries
//!                                                              │
//!                     meters (meter.rs): registers, relay (prepay engine), STS keypad,
//!                     local fee control (prepay engine + tariff)
//! ```
//!
//! * **Link**: [`start`] spawns one tokio task per terminal. It dials the master station, logs
//!   in (AFN 02 F1), heartbeats (AFN 02 F3) after every simulated 60 s of silence
//!   ([`Timing::heartbeat`]), answers requests through [`handler::Station`], and when the link
//!   drops (EOF, error, unanswered heartbeats, [`TerminalHandle::drop_link`]) re-dials after
//!   the session's back-off ([`Timing::reconnect_initial`] doubling up to
//!   [`Timing::reconnect_max`]). The session (`amikit_gdw376::session::terminal::Terminal`,
//!   strict 2013 profile, all-zero test PW) keeps its counters across reconnects.
//! * **Time**: the session runs on real milliseconds (timeouts are real time); the meters, the
//!   tariff, command validity and event times use the simulated civil clock ([`SimClock`]),
//!   which AFN 05 F31 can correct. The session is given the simulated calendar (compressed as
//!   it is) at each connection and requires Tp on every request, reads included
//!   (Q/GDW 1376.1-2013 §4.3.4.6.3): a stale request, or one seen again within its allowed
//!   delay, is denied (AFN 00 F2); its replay guard holds [`TP_WINDOWS`] open windows and its
//!   repeated-request cache [`REPEAT_BYTES`] bytes, sized for the master station's traffic.
//! * **Events**: what happens at the meters (relay changes, tokens accepted / rejected, local
//!   credit alarms) is counted as an important event (EC1, ACD) and stored as an ERC record
//!   ([`erc`]) for AFN 0E F1.
//! * **Requests**: see [`handler`] (AFN 0C F129 / F25 / F2, AFN 0E F1, AFN 10 F1, AFN 05
//!   F1 / F2 / F25 / F33 / F26 / F34 / F31). Control round n is the meter at measurement point n.
//! * **Scale**: a terminal is one task, a boxed session (about 8 KiB with the 1 KiB receive and
//!   2 KiB transmit buffers used here), its meters (about 1 KiB each) and a few small buffers.
//!   [`start_many`] loads each tariff once for all terminals and ramps the first connections.
//!
//! In-process handle for the demo: [`TerminalHandle`] (keypad, button, noise burst, link drop,
//! meter views, a note stream).

pub mod bus;
pub mod cli;
pub mod erc;
pub mod error;
pub mod handler;
pub mod hooks;
pub mod meter;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use amikit_gdw376::identity::AesCmacIdentity;
use amikit_gdw376::security::AesCmacPw;
use amikit_gdw376::session::Backoff;
use amikit_gdw376::session::terminal::{State, Terminal, TerminalConfig, TerminalEvent};
use amikit_gdw376::{Address as Address376, Instant as SessionInstant};
use amikit_prepay::tariff::TariffSet;
use amikit_sts::dkga::VendingKey;
pub use error::TerminalError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

pub use bus::{Bus, BusError, BusStats, NoiseConfig};
pub use erc::{MeterEvent, StationEvent};
pub use handler::Station;
pub use hooks::{FieldHooks, Hooks, RelayBehaviour};
pub use meter::{MeterView, SimMeter};

use crate::clock::{Civil, SimClock};
use crate::site::{FeeControl, Site, workspace_root};

/// Tp windows the terminal's replay guard holds open (16 bytes each). The master station sends
/// every request with Tp; the windows open at a time are its request rate times the allowed
/// delay (8 response timeouts, at most 255 simulated minutes: 6.4 s real at the soak's 2400×).
/// The demo site's terminal (five meters) peaked at 70 open windows in the one-day soak
/// (`LinkStats::tp_windows_max`); 256 leaves a margin of more than three.
pub const TP_WINDOWS: usize = 256;

/// Bytes of the terminal's repeated-request cache: about 36 read exchanges (a read with Tp
/// and its reply are ~110 bytes). A retransmission whose exchange has left the cache is denied
/// as a replay (the master reads again with a new request).
pub const REPEAT_BYTES: usize = 4096;

/// The session type: PW and identity keys derived from the terminal's site key
/// ([`crate::keys`]), 1 KiB receive, 2 KiB transmit buffers, a replay guard of [`TP_WINDOWS`]
/// windows and a repeat cache of [`REPEAT_BYTES`].
type Session = Terminal<AesCmacPw, 1024, 2048, AesCmacIdentity, TP_WINDOWS, REPEAT_BYTES>;

/// Real-time settings of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Heartbeat after this much silence (a simulated minute by default).
    pub heartbeat: Duration,
    /// Wait this long for the master's confirm of a login / heartbeat.
    pub response_timeout: Duration,
    /// Retransmissions of a login / heartbeat before the link counts as lost.
    pub retries: u8,
    /// First re-dial delay; doubles with each failure.
    pub reconnect_initial: Duration,
    /// Longest re-dial delay.
    pub reconnect_max: Duration,
    /// Give up a TCP connect after this long.
    pub connect_timeout: Duration,
    /// How often local-fee-control meters run their fee control (a simulated minute by default).
    pub tick: Duration,
    /// Wait this long before the first connection.
    pub first_connect: Duration,
}

impl Timing {
    /// Defaults for a clock: heartbeat and meter tick every simulated minute (at least 10 ms
    /// real), 3 s response timeout, 3 retries, re-dial after 200 ms doubling to 5 s.
    pub fn for_clock(clock: &SimClock) -> Self {
        let minute = clock.real(60).max(Duration::from_millis(10));
        Timing {
            heartbeat: minute,
            response_timeout: Duration::from_secs(3),
            retries: 3,
            reconnect_initial: Duration::from_millis(200),
            reconnect_max: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            tick: minute,
            first_connect: Duration::ZERO,
        }
    }
}

/// Everything [`start`] needs. Build it with [`TerminalOptions::new`] and change fields.
#[derive(Debug, Clone)]
pub struct TerminalOptions {
    /// The deployment (its terminal `a2` and that terminal's meters are simulated).
    pub site: Site,
    /// Which terminal of the site this is.
    pub a2: u16,
    /// The master station's terminal port.
    pub master: SocketAddr,
    /// The simulated clock (business time).
    pub clock: SimClock,
    /// Line noise on the RS-485 bus (off by default).
    pub noise: NoiseConfig,
    /// Link timing (real time).
    pub timing: Timing,
    /// Fault hooks of the meters (off by default: a healthy field).
    pub hooks: Hooks,
}

impl TerminalOptions {
    /// Options with a clean bus and [`Timing::for_clock`], holding only what terminal `a2`
    /// may know of `site` ([`Site::for_terminals`]: no vending key, a decoder key per STS
    /// meter; no other terminal's key or decoder keys).
    ///
    /// # Errors
    /// When an STS meter of terminal `a2` has no decoder key and the site no vending key to
    /// derive it from, or a key does not load.
    pub fn new(
        site: Site,
        a2: u16,
        master: SocketAddr,
        clock: SimClock,
    ) -> Result<Self, TerminalError> {
        let mut site = site.for_terminals().map_err(TerminalError::Site)?;
        // Nor the other terminals' secrets.
        for t in site.terminals.iter_mut().filter(|t| t.a2 != a2) {
            t.key = None;
            for m in &mut t.meters {
                if let Some(sts) = m.sts.as_mut() {
                    sts.decoder_key = None;
                }
            }
        }
        if let Some(t) = site.terminals.iter().find(|t| t.a2 == a2) {
            for m in &t.meters {
                if m.sts.as_ref().is_some_and(|s| s.decoder_key.is_none()) {
                    return Err(TerminalError::NoDecoderKey(m.address.clone()));
                }
            }
        }
        let timing = Timing::for_clock(&clock);
        Ok(TerminalOptions {
            site,
            a2,
            master,
            clock,
            noise: NoiseConfig::OFF,
            timing,
            hooks: Hooks::default(),
        })
    }
}

/// A line for the log: what the terminal did, at simulated time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Simulated time.
    pub at: Civil,
    /// The terminal.
    pub a2: u16,
    /// What happened.
    pub text: String,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} terminal {}: {}", self.at, self.a2, self.text)
    }
}

/// Counters of a terminal's link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkStats {
    /// TCP connections made.
    pub connects: u64,
    /// Logins confirmed.
    pub logins: u64,
    /// Heartbeats confirmed.
    pub heartbeats: u64,
    /// Requests served (duplicates excluded).
    pub requests: u64,
    /// Frames rejected (parse, security, another terminal's address).
    pub rejected: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// The most Tp windows the session's replay guard held open at once (of [`TP_WINDOWS`]).
    pub tp_windows_max: u64,
    /// Security refusals not answered with a denial (the session's rate bound).
    pub denials_withheld: u64,
}

#[derive(Debug, Default)]
struct Counters {
    connects: AtomicU64,
    logins: AtomicU64,
    heartbeats: AtomicU64,
    requests: AtomicU64,
    rejected: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    tp_windows_max: AtomicU64,
    denials_withheld: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    a2: u16,
    station: Mutex<Station>,
    wake: Notify,
    logged_in: AtomicBool,
    drop_link: AtomicBool,
    stop: AtomicBool,
    counters: Counters,
    notes: Mutex<Notes>,
}

/// Where notes go: the subscriber, or a short backlog until somebody subscribes.
#[derive(Debug, Default)]
struct Notes {
    tx: Option<mpsc::UnboundedSender<Note>>,
    backlog: VecDeque<Note>,
}

/// Notes kept for a subscriber that has not subscribed yet.
const NOTE_BACKLOG: usize = 32;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    fn station(&self) -> MutexGuard<'_, Station> {
        lock(&self.station)
    }

    fn note(&self, at: Civil, text: String) {
        let note = Note {
            at,
            a2: self.a2,
            text,
        };
        let mut n = lock(&self.notes);
        let note = match &n.tx {
            None => note,
            Some(tx) => match tx.send(note) {
                Ok(()) => return,
                // The subscriber went away: keep a backlog again.
                Err(e) => {
                    n.tx = None;
                    e.0
                }
            },
        };
        if n.backlog.len() >= NOTE_BACKLOG {
            n.backlog.pop_front();
        }
        n.backlog.push_back(note);
    }
}

/// A running terminal.
#[derive(Debug)]
pub struct TerminalHandle {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl TerminalHandle {
    /// The terminal address A2.
    pub fn a2(&self) -> u16 {
        self.shared.a2
    }

    /// Types `token` on the keypad of the meter at `pn`: `Ok(what it did)`, or why it was
    /// refused ([`TerminalError::TokenRefused`], or [`TerminalError::NoMeter`]).
    pub fn keypad(&self, pn: u16, token: &str) -> Result<String, TerminalError> {
        let r = {
            let mut st = self.shared.station();
            let now = st.now();
            let r = match st.bus.meter_mut(pn) {
                Some(m) => m.keypad(now, token),
                None => return Err(TerminalError::NoMeter(pn)),
            };
            st.collect_events();
            r
        };
        self.shared.wake.notify_one();
        r
    }

    /// The customer at the meter at `pn` presses the button (to restore supply after an
    /// allow-close). Returns what the meter did.
    pub fn press_button(&self, pn: u16) -> Option<String> {
        let r = {
            let mut st = self.shared.station();
            let now = st.now();
            let r = st.bus.meter_mut(pn).map(|m| m.press_button(now));
            st.collect_events();
            r
        };
        self.shared.wake.notify_one();
        r
    }

    /// A fitter carries out relay command `kind` by hand at the meter at `pn` (see
    /// [`SimMeter::by_hand`]); the relay afterwards, `None` without such a meter.
    pub fn by_hand(
        &self,
        pn: u16,
        kind: amikit_prepay::CommandKind,
    ) -> Option<amikit_prepay::RelayState> {
        let r = {
            let mut st = self.shared.station();
            let now = st.now();
            let r = st.bus.meter_mut(pn).map(|m| m.by_hand(now, kind));
            st.collect_events();
            r
        };
        self.shared.wake.notify_one();
        r
    }

    /// Heavy line noise ([`NoiseConfig::BURST`]) on the RS-485 bus for `real` time.
    pub fn noise_burst(&self, real: Duration) {
        self.shared
            .station()
            .bus
            .burst(std::time::Instant::now() + real);
    }

    /// Sets the bus's background noise.
    pub fn set_noise(&self, noise: NoiseConfig) {
        self.shared.station().bus.set_noise(noise);
    }

    /// Closes the TCP connection; the terminal re-dials by itself.
    pub fn drop_link(&self) {
        self.shared.drop_link.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }

    /// The meter at `pn` now.
    pub fn meter(&self, pn: u16) -> Option<MeterView> {
        let mut st = self.shared.station();
        let now = st.now();
        let v = st.bus.meter_mut(pn).map(|m| m.view(now));
        st.collect_events();
        if !st.pending.is_empty() {
            self.shared.wake.notify_one();
        }
        v
    }

    /// Every meter now.
    pub fn meters(&self) -> Vec<MeterView> {
        let mut st = self.shared.station();
        let now = st.now();
        let v = st.bus.meters_mut().map(|m| m.view(now)).collect();
        st.collect_events();
        if !st.pending.is_empty() {
            self.shared.wake.notify_one();
        }
        v
    }

    /// True while logged in to the master station.
    pub fn is_logged_in(&self) -> bool {
        self.shared.logged_in.load(Ordering::SeqCst)
    }

    /// Link counters.
    pub fn link_stats(&self) -> LinkStats {
        let c = &self.shared.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LinkStats {
            connects: g(&c.connects),
            logins: g(&c.logins),
            heartbeats: g(&c.heartbeats),
            requests: g(&c.requests),
            rejected: g(&c.rejected),
            bytes_in: g(&c.bytes_in),
            bytes_out: g(&c.bytes_out),
            tp_windows_max: g(&c.tp_windows_max),
            denials_withheld: g(&c.denials_withheld),
        }
    }

    /// Bus counters.
    pub fn bus_stats(&self) -> BusStats {
        self.shared.station().bus.stats()
    }

    /// A stream of log lines: the last few from before the call (up to 32, kept while nobody
    /// listens), then every new one. Replaces an earlier subscription.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Note> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut n = lock(&self.shared.notes);
        for note in n.backlog.drain(..) {
            let _ = tx.send(note);
        }
        n.tx = Some(tx);
        rx
    }

    /// Logs out (best effort), closes the link and stops the task.
    pub async fn shutdown(self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
        let _ = self.task.await;
    }
}

/// Tariffs by name, loaded once.
#[derive(Debug, Default)]
struct Tariffs(HashMap<String, Arc<TariffSet>>);

impl Tariffs {
    fn get(&mut self, site: &Site, name: &str) -> Result<Arc<TariffSet>, TerminalError> {
        if let Some(t) = self.0.get(name) {
            return Ok(Arc::clone(t));
        }
        let path = site
            .tariff_path(name, &workspace_root())
            .ok_or_else(|| TerminalError::UnknownTariff(name.to_string()))?;
        let t = Arc::new(meter::load_tariff(&path)?);
        self.0.insert(name.to_string(), Arc::clone(&t));
        Ok(t)
    }
}

/// A1 of the site (its 4 BCD digits read as hex, the way the address field carries them).
fn region(site: &Site) -> Result<u16, TerminalError> {
    u16::from_str_radix(&site.region, 16).map_err(|_| TerminalError::Region(site.region.clone()))
}

struct Prepared {
    a1: u16,
    a2: u16,
    station: Station,
    has_local: bool,
    keys: crate::keys::TerminalKeys,
}

fn prepare(
    site: &Site,
    a2: u16,
    clock: &SimClock,
    noise: NoiseConfig,
    tariffs: &mut Tariffs,
    vending: Option<&VendingKey>,
    hooks: &Hooks,
) -> Result<Prepared, TerminalError> {
    let a1 = region(site)?;
    let terminal = site
        .terminals
        .iter()
        .find(|t| t.a2 == a2)
        .ok_or(TerminalError::NoTerminal(a2))?;
    let keys = terminal.keys().ok_or(TerminalError::NoKey(a2))?;
    let start = clock.now();
    let mut bus = Bus::new(noise, 0x9E37_79B9_7F4A_7C15 ^ u64::from(a2));
    let mut has_local = false;
    let currency_unit = site.sts.unit().map_err(TerminalError::Site)?;
    for m in &terminal.meters {
        let tariff = tariffs.get(site, &m.tariff)?;
        has_local |= m.fee_control == FeeControl::Local;
        let mut meter = SimMeter::from_site(m, tariff, vending, currency_unit, start)?;
        meter.set_hooks(hooks.clone());
        bus.attach(meter);
    }
    Ok(Prepared {
        a1,
        a2,
        station: Station::new(bus, clock.clone(), a2),
        has_local,
        keys,
    })
}

fn spawn(p: Prepared, master: SocketAddr, timing: Timing) -> TerminalHandle {
    let shared = Arc::new(Shared {
        a2: p.a2,
        station: Mutex::new(p.station),
        wake: Notify::new(),
        logged_in: AtomicBool::new(false),
        drop_link: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        counters: Counters::default(),
        notes: Mutex::new(Notes::default()),
    });
    let task = tokio::spawn(run(
        Arc::clone(&shared),
        p.a1,
        master,
        timing,
        p.has_local,
        p.keys,
    ));
    TerminalHandle { shared, task }
}

/// Starts a terminal (inside a tokio runtime): builds its meters from the site and spawns the
/// link task. Fails when the site has no such terminal or a tariff / key does not load.
pub async fn start(opts: TerminalOptions) -> Result<TerminalHandle, TerminalError> {
    // Whatever was put in `opts.site`, the terminal keeps no vending key.
    let site = opts.site.for_terminals().map_err(TerminalError::Site)?;
    let p = prepare(
        &site,
        opts.a2,
        &opts.clock,
        opts.noise,
        &mut Tariffs::default(),
        None,
        &opts.hooks,
    )?;
    Ok(spawn(p, opts.master, opts.timing))
}

/// Starts the terminals `a2s` of `site` (every tariff loaded once), spreading their first
/// connections evenly over `ramp`.
pub async fn start_many(
    site: &Site,
    a2s: &[u16],
    master: SocketAddr,
    clock: &SimClock,
    noise: NoiseConfig,
    timing: Timing,
    ramp: Duration,
) -> Result<Vec<TerminalHandle>, TerminalError> {
    let site = &site.for_terminals().map_err(TerminalError::Site)?;
    let mut tariffs = Tariffs::default();
    let n = u32::try_from(a2s.len().max(1)).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(a2s.len());
    for (i, &a2) in a2s.iter().enumerate() {
        let p = prepare(
            site,
            a2,
            clock,
            noise,
            &mut tariffs,
            None,
            &Hooks::default(),
        )?;
        let mut t = timing;
        t.first_connect += ramp * u32::try_from(i).unwrap_or(u32::MAX) / n;
        out.push(spawn(p, master, t));
    }
    Ok(out)
}

/// A site for scale runs: `terminals` terminals (A2 1…n) with one remote-fee-control meter
/// each, copied from the first remote meter of `base` (address `0000` + 8 digits of the A2,
/// customer `customer-<a2>`), with `base`'s region, tariffs and vending key.
pub fn scale_site(base: &Site, terminals: u16) -> Result<Site, TerminalError> {
    let template = base
        .meters()
        .map(|(_, m)| m)
        .find(|m| m.fee_control == FeeControl::Remote)
        .ok_or(TerminalError::NoRemoteMeter)?;
    let mut site = base.clone();
    site.terminals = (1..=terminals)
        .map(|a2| crate::site::SiteTerminal {
            a2,
            // A key per terminal, derived from its address (a simulation, not a key policy).
            key: Some(crate::site::KeyText(format!(
                "{:032x}",
                u128::from(a2).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
            ))),
            meters: vec![crate::site::SiteMeter {
                pn: 1,
                address: format!("{:012}", a2),
                customer: format!("customer-{a2}"),
                phone: None,
                guarded: false,
                sts: None,
                ..template.clone()
            }],
        })
        .collect();
    Ok(site)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The link task.
async fn run(
    shared: Arc<Shared>,
    a1: u16,
    master: SocketAddr,
    timing: Timing,
    has_local: bool,
    keys: crate::keys::TerminalKeys,
) {
    let origin = tokio::time::Instant::now();
    let now = move || SessionInstant(millis(origin.elapsed()));
    let mut cfg = TerminalConfig::new(Address376::new(a1, u32::from(shared.a2)));
    cfg.heartbeat_period = timing.heartbeat.max(Duration::from_millis(1));
    cfg.response_timeout = timing.response_timeout.max(Duration::from_millis(1));
    cfg.retries = timing.retries;
    // Tp required on every request, reads included, and checked against the simulated clock,
    // set at each connection and compressed as it is (PW covers Tp where the AFN carries PW).
    cfg.require_tp = true;
    cfg.require_tp_on_reads = true;
    cfg.reconnect = Backoff {
        initial: timing.reconnect_initial,
        max: timing.reconnect_max,
    };
    let mut term: Box<Session> = Box::new(Terminal::with_keys(cfg, keys.pw(), keys.identity()));
    let mut tick = tokio::time::interval(timing.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    if !timing.first_connect.is_zero() && !sleep_or_stop(&shared, timing.first_connect).await {
        return;
    }
    while !shared.stop.load(Ordering::SeqCst) {
        let connect = tokio::time::timeout(timing.connect_timeout, TcpStream::connect(master));
        let stream = match connect.await {
            Ok(Ok(s)) => s,
            Ok(Err(_)) | Err(_) => {
                let delay = term.reconnect_delay();
                term.dial_failed();
                if !sleep_or_stop(&shared, delay).await {
                    return;
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        shared.counters.connects.fetch_add(1, Ordering::Relaxed);
        shared.drop_link.store(false, Ordering::SeqCst);
        term.connected(now());
        let (wall, speed) = {
            let st = shared.station();
            (crate::master::wall_376(st.now()), st.speed())
        };
        if let Some(wall) = wall {
            term.set_wall_clock_scaled(now(), wall, speed);
        }
        let why = serve(&shared, &mut term, stream, origin, &mut tick, has_local).await;
        term.disconnected(now());
        shared.logged_in.store(false, Ordering::SeqCst);
        let at = Civil::from_sim(shared.station().now());
        shared.note(at, format!("link down: {why}"));
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let delay = term.reconnect_delay();
        if !sleep_or_stop(&shared, delay).await {
            return;
        }
    }
}

/// Sleeps `d` unless asked to stop; false when stopping.
async fn sleep_or_stop(shared: &Shared, d: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + d;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => return !shared.stop.load(Ordering::SeqCst),
            () = shared.wake.notified() => {}
        }
    }
}

/// Counts the meters' new events in the session (EC1, ACD) and stores them for AFN 0E;
/// forwards notes.
fn sync_events(shared: &Shared, term: &mut Session) {
    let mut notes = Vec::new();
    {
        let mut st = shared.station();
        st.collect_events();
        while let Some(e) = st.pending.pop_front() {
            let pointer = term.event_counters().important;
            st.log.store(pointer, &e);
            term.record_event(true);
            notes.push((Civil::from_sim(e.at), e.describe()));
        }
        let at = Civil::from_sim(st.now());
        notes.extend(st.notes.drain(..).map(|n| (at, n)));
    }
    for (at, n) in notes {
        shared.note(at, n);
    }
}

/// One connection: until it drops. Returns why it ended.
async fn serve(
    shared: &Shared,
    term: &mut Session,
    mut stream: TcpStream,
    origin: tokio::time::Instant,
    tick: &mut tokio::time::Interval,
    has_local: bool,
) -> &'static str {
    let now = || SessionInstant(millis(origin.elapsed()));
    let mut out = [0u8; 2048];
    let mut inbuf = [0u8; 1024];
    loop {
        sync_events(shared, term);
        let mut h = Happened::default();
        loop {
            let n = term.poll(now(), &mut out, &mut |e| on_event(shared, e, &mut h));
            if n == 0 {
                break;
            }
            let Some(bytes) = out.get(..n) else { break };
            if stream.write_all(bytes).await.is_err() {
                return "write failed";
            }
            shared
                .counters
                .bytes_out
                .fetch_add(n as u64, Ordering::Relaxed);
        }
        h.report(shared);
        if h.lost || term.state() == State::Disconnected {
            return "login or heartbeat unanswered";
        }
        if shared.drop_link.swap(false, Ordering::SeqCst) {
            return "dropped on request";
        }
        if shared.stop.load(Ordering::SeqCst) {
            if term.state() == State::Online {
                term.logout(now());
                let n = term.poll(now(), &mut out, &mut |_| {});
                if let Some(bytes) = out.get(..n) {
                    let _ = stream.write_all(bytes).await;
                }
            }
            return "shut down";
        }
        let wake_at = term
            .poll_at()
            .map(|t| origin + Duration::from_millis(t.0))
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            r = stream.read(&mut inbuf) => match r {
                Ok(0) => return "closed by the master station",
                Err(_) => return "read failed",
                Ok(n) => {
                    shared.counters.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                    let mut h = Happened::default();
                    {
                        let mut st = shared.station();
                        let bytes = inbuf.get(..n).unwrap_or(&[]);
                        term.on_bytes(now(), bytes, &mut *st, &mut |e| on_event(shared, e, &mut h));
                    }
                    let c = &shared.counters;
                    c.tp_windows_max.fetch_max(term.open_windows() as u64, Ordering::Relaxed);
                    c.denials_withheld
                        .store(u64::from(term.denials_withheld()), Ordering::Relaxed);
                    h.report(shared);
                }
            },
            () = tokio::time::sleep_until(wake_at) => {}
            _ = tick.tick(), if has_local => shared.station().tick(),
            () = shared.wake.notified() => {}
        }
    }
}

/// What the session reported during one call.
#[derive(Debug, Default)]
struct Happened {
    lost: bool,
    logged_in: bool,
}

/// Counts a session event; never locks the station (it may be locked by the caller).
fn on_event(shared: &Shared, e: TerminalEvent<'_>, h: &mut Happened) {
    let c = &shared.counters;
    match e {
        TerminalEvent::LoggedIn => {
            c.logins.fetch_add(1, Ordering::Relaxed);
            shared.logged_in.store(true, Ordering::SeqCst);
            h.logged_in = true;
        }
        TerminalEvent::HeartbeatConfirmed => {
            c.heartbeats.fetch_add(1, Ordering::Relaxed);
        }
        TerminalEvent::LoginFailed | TerminalEvent::LinkLost | TerminalEvent::LoggedOut => {
            h.lost = true;
        }
        TerminalEvent::Request(_) => {
            c.requests.fetch_add(1, Ordering::Relaxed);
        }
        TerminalEvent::Rejected(_) => {
            c.rejected.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    }
}

impl Happened {
    /// Notes what needs a note (after the station lock is released).
    fn report(&self, shared: &Shared) {
        if self.logged_in {
            let at = Civil::from_sim(shared.station().now());
            shared.note(at, "logged in".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amikit_gdw376::format::{Format14, ReadOptions};
    use amikit_gdw376::session::master::{
        MasterConfig, MasterEvent, MasterSession, Request as MasterRequest, write_units,
    };
    use amikit_gdw376::units::UnitLayout as _;
    use amikit_gdw376::units::{EventBlock, Reader, Registers};
    use amikit_gdw376::{Afn, Direction, InfoClass, Item, Pn, Profile, Units};
    use tokio::net::TcpListener;

    /// What the scripted master saw.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Seen {
        Login(u16, u32),
        Heartbeat,
        Complete(Afn, Vec<u8>),
        Events(Vec<u8>),
        Denied,
        /// A response that matched no request (AFN, units).
        Unmatched(Afn, Vec<u8>),
    }

    /// A master station reduced to a gdw376 `MasterSession` on one accepted connection.
    struct Script {
        stream: TcpStream,
        session: MasterSession,
        origin: tokio::time::Instant,
        seen: Vec<Seen>,
    }

    impl Script {
        async fn accept(listener: &TcpListener, clock: &SimClock) -> Script {
            let (stream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
                .await
                .expect("no connection")
                .unwrap();
            let mut cfg = MasterConfig::new(Profile::STRICT_2013);
            // The terminal requires Tp on every request: the master's calendar is the
            // simulated one, compressed as it is.
            cfg.tp_delay_min = Some(crate::master::tp_minutes(8_000, clock.speed()));
            cfg.identity = amikit_gdw376::session::master::IdentityPolicy::NotChecked;
            cfg.response_timeout = Duration::from_secs(2);
            let mut session = MasterSession::new(cfg, SessionInstant(0));
            let wall = crate::master::wall_376(clock.now()).unwrap();
            session.set_wall_clock_scaled(SessionInstant(0), wall, clock.speed());
            Script {
                stream,
                session,
                origin: tokio::time::Instant::now(),
                seen: Vec::new(),
            }
        }

        fn now(&self) -> SessionInstant {
            SessionInstant(millis(self.origin.elapsed()))
        }

        fn record(seen: &mut Vec<Seen>, e: MasterEvent<'_>) {
            match e {
                MasterEvent::Login(a) => seen.push(Seen::Login(a.a1, a.a2)),
                MasterEvent::Heartbeat => seen.push(Seen::Heartbeat),
                MasterEvent::Complete { afn, units, .. } => {
                    seen.push(Seen::Complete(afn, units.to_vec()))
                }
                MasterEvent::Events(repr) => seen.push(Seen::Events(repr.units.to_vec())),
                MasterEvent::Denied(_) => seen.push(Seen::Denied),
                MasterEvent::Unmatched(repr) => {
                    seen.push(Seen::Unmatched(repr.afn, repr.units.to_vec()))
                }
                _ => {}
            }
        }

        /// Runs the session until `done` holds for what was seen (or 10 s pass).
        async fn until(&mut self, done: impl std::ops::Fn(&[Seen]) -> bool) {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            let mut buf = [0u8; 4096];
            loop {
                let now = self.now();
                let seen = &mut self.seen;
                let n = self
                    .session
                    .poll(now, &mut buf, &mut |e| Self::record(seen, e));
                if n > 0 {
                    self.stream.write_all(&buf[..n]).await.unwrap();
                }
                if done(&self.seen) {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "timed out: {:?}",
                    self.seen
                );
                let r = tokio::time::timeout(Duration::from_millis(20), self.stream.read(&mut buf))
                    .await;
                if let Ok(r) = r {
                    let n = r.unwrap();
                    assert!(n > 0, "terminal closed the link");
                    let now = self.now();
                    let seen = &mut self.seen;
                    self.session
                        .on_bytes(now, &buf[..n], &mut |e| Self::record(seen, e));
                }
            }
        }

        fn request(&mut self, afn: Afn, items: &[(Pn, InfoClass, &[u8])]) {
            let mut units = [0u8; 256];
            let n = write_units(&mut units, items).unwrap();
            let now = self.now();
            self.session
                .request(
                    now,
                    &MasterRequest {
                        afn,
                        units: &units[..n],
                        con: false,
                    },
                )
                .unwrap();
        }

        /// Sends a request at once and returns its frame.
        async fn request_frame(&mut self, afn: Afn, items: &[(Pn, InfoClass, &[u8])]) -> Vec<u8> {
            self.request(afn, items);
            let mut buf = [0u8; 1024];
            let now = self.now();
            let seen = &mut self.seen;
            let n = self
                .session
                .poll(now, &mut buf, &mut |e| Self::record(seen, e));
            self.stream.write_all(&buf[..n]).await.unwrap();
            buf[..n].to_vec()
        }
    }

    fn data_of(afn: Afn, units: &[u8]) -> Vec<u8> {
        let profile = Profile::STRICT_2013;
        match Units::new(units, afn, Direction::Up, &profile).next() {
            Some(Item::Unit(u)) => u.data.to_vec(),
            other => panic!("{other:?}"),
        }
    }

    /// Tp on every request, reads included: 80 reads inside one allowed delay (80 simulated
    /// minutes at 600×) are all answered — 80 open windows, more than the replay guard's old
    /// fixed 16 — and a replayed read whose exchange has left the repeat cache is denied
    /// (AFN 00 F2) instead of being met with silence.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_read_carries_tp_all_are_answered_and_a_replay_is_denied() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let clock = SimClock::new(Civil::new(2026, 3, 2, 10, 0, 0), 600);
        let handle = start(TerminalOptions::new(Site::demo(), 1, addr, clock.clone()).unwrap())
            .await
            .unwrap();
        let mut m = Script::accept(&listener, &clock).await;
        m.until(|s| s.contains(&Seen::Login(0x4403, 1))).await;
        let complete = |s: &[Seen]| {
            s.iter()
                .filter(|e| matches!(e, Seen::Complete(Afn::CLASS1, _)))
                .count()
        };
        let mut first = Vec::new();
        for batch in 0..20 {
            for i in 0..4u16 {
                let f = m
                    .request_frame(Afn::CLASS1, &[(Pn(1 + i), InfoClass(129), &[])])
                    .await;
                let r = amikit_gdw376::Repr::parse_bytes(&f, &Profile::STRICT_2013).unwrap();
                assert!(r.tp.is_some_and(|t| t.delay_min > 0), "a read without Tp");
                if first.is_empty() {
                    first = f;
                }
            }
            m.until(|s| complete(s) >= 4 * (batch + 1)).await;
        }
        assert_eq!(complete(&m.seen), 80);
        assert!(!m.seen.contains(&Seen::Denied), "{:?}", m.seen);
        let stats = handle.link_stats();
        assert!(stats.tp_windows_max >= 80, "{stats:?}");
        assert_eq!(stats.rejected, 0);
        // The first read again, byte for byte: its window is open, its reply long evicted
        // from the cache: denied, visibly.
        m.stream.write_all(&first).await.unwrap();
        m.until(|s| s.iter().any(|e| matches!(e, Seen::Unmatched(..))))
            .await;
        let denial = m.seen.iter().find(|e| matches!(e, Seen::Unmatched(..)));
        assert_eq!(
            denial,
            Some(&Seen::Unmatched(Afn::CONFIRM, vec![0, 0, 2, 0])),
            "{:?}",
            m.seen
        );
        assert_eq!(handle.link_stats().rejected, 1);
        assert_eq!(complete(&m.seen), 80, "the replay was not served");
        handle.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn logs_in_heartbeats_answers_reports_events_and_reconnects() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // 600x: a simulated minute (the heartbeat period) is 100 ms.
        let clock = SimClock::new(Civil::new(2026, 3, 2, 10, 0, 0), 600);
        let handle = start(TerminalOptions::new(Site::demo(), 1, addr, clock.clone()).unwrap())
            .await
            .unwrap();
        let mut notes = handle.subscribe();
        let mut m = Script::accept(&listener, &clock).await;
        m.until(|s| s.contains(&Seen::Login(0x4403, 1))).await;
        // Heartbeats after a simulated minute of silence.
        m.until(|s| s.iter().filter(|e| **e == Seen::Heartbeat).count() >= 2)
            .await;
        assert!(handle.is_logged_in());
        // One read: forward active energy of pn 5 (990.00 kWh at the start, 900 W).
        m.request(Afn::CLASS1, &[(Pn(5), InfoClass(129), &[])]);
        m.until(|s| {
            s.iter()
                .any(|e| matches!(e, Seen::Complete(Afn::CLASS1, _)))
        })
        .await;
        let Some(Seen::Complete(afn, units)) = m
            .seen
            .iter()
            .find(|e| matches!(e, Seen::Complete(..)))
            .cloned()
        else {
            unreachable!()
        };
        let data = data_of(afn, &units);
        let regs =
            Registers::<Format14>::parse(&mut Reader::new(&data, ReadOptions::default())).unwrap();
        let kwh = regs.total().unwrap().magnitude;
        assert!((9_900_000..9_910_000).contains(&kwh), "{kwh}");
        // A token rejected at the keypad is an important event: ACD makes the master pull it.
        // (Heartbeats carry no EC: the ACD of the next reply is what the master sees.)
        assert!(handle.keypad(2, "1234-5678-9012-3456-7890").is_err());
        tokio::time::sleep(Duration::from_millis(50)).await;
        m.request(Afn::CLASS1, &[(Pn(1), InfoClass(129), &[])]);
        m.until(|s| s.iter().any(|e| matches!(e, Seen::Events(_))))
            .await;
        let Some(Seen::Events(units)) = m
            .seen
            .iter()
            .find(|e| matches!(e, Seen::Events(..)))
            .cloned()
        else {
            unreachable!()
        };
        let data = data_of(Afn::CLASS3, &units);
        let block = EventBlock::parse(&mut Reader::new(&data, ReadOptions::default())).unwrap();
        let events: Vec<_> = block
            .records()
            .filter_map(|r| StationEvent::decode(r.erc, r.data))
            .collect();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].pn, 2);
        assert!(matches!(events[0].event, MeterEvent::TokenRejected { .. }));
        // Drop the link: the terminal re-dials and logs in again on a new connection.
        handle.drop_link();
        let mut m2 = Script::accept(&listener, &clock).await;
        m2.until(|s| s.contains(&Seen::Login(0x4403, 1))).await;
        for _ in 0..100 {
            if handle.link_stats().logins == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stats = handle.link_stats();
        assert_eq!((stats.connects, stats.logins), (2, 2));
        assert!(stats.heartbeats >= 2 && stats.requests >= 2, "{stats:?}");
        let mut texts = Vec::new();
        while let Ok(n) = notes.try_recv() {
            texts.push(n.text);
        }
        assert!(texts.iter().any(|t| t == "logged in"), "{texts:?}");
        assert!(
            texts.iter().any(|t| t.starts_with("link down: dropped")),
            "{texts:?}"
        );
        assert!(
            texts.iter().any(|t| t.contains("token rejected")),
            "{texts:?}"
        );
        handle.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_terminal_and_unreachable_master() {
        let clock = SimClock::new(Civil::new(2026, 3, 2, 10, 0, 0), 60);
        let addr = SocketAddr::from(([127, 0, 0, 1], 1));
        let err = start(TerminalOptions::new(Site::demo(), 9, addr, clock.clone()).unwrap())
            .await
            .unwrap_err();
        assert!(matches!(err, TerminalError::NoTerminal(9)), "{err:?}");
        // Nobody listens: the terminal keeps re-dialling and stops when asked.
        let handle = start(TerminalOptions::new(Site::demo(), 1, addr, clock).unwrap())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!handle.is_logged_in());
        assert_eq!(handle.meters().len(), 5);
        handle.shutdown().await;
    }
}
#[cfg(test)]
mod size_tests {
    use super::*;

    /// The scale run starts 10 000 terminals in one process: keep each one small.
    #[test]
    fn per_terminal_state_is_a_few_kib() {
        let site = Site::demo();
        let clock = SimClock::new(Civil::new(2026, 3, 2, 10, 0, 0), 60);
        let vk = meter::vending_key(&site).unwrap();
        let p = prepare(
            &site,
            1,
            &clock,
            NoiseConfig::OFF,
            &mut Tariffs::default(),
            vk.as_ref(),
            &Hooks::default(),
        )
        .unwrap();
        let shared = Arc::new(Shared {
            a2: 1,
            station: Mutex::new(p.station),
            wake: Notify::new(),
            logged_in: AtomicBool::new(false),
            drop_link: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            counters: Counters::default(),
            notes: Mutex::new(Notes::default()),
        });
        let task = run(
            Arc::clone(&shared),
            0x4403,
            SocketAddr::from(([127, 0, 0, 1], 1)),
            Timing::for_clock(&clock),
            false,
            p.keys,
        );
        let session = std::mem::size_of::<Session>();
        let future = std::mem::size_of_val(&task);
        let meter =
            std::mem::size_of::<SimMeter>() + std::mem::size_of::<meter::StsDecoder>() + 320;
        let station = std::mem::size_of::<Station>() + std::mem::size_of::<Shared>();
        let total = session + future + meter + station;
        // 8 KiB of buffers and state, 4 KiB of replay guard (Tp on every request), 4 KiB of
        // repeat cache.
        assert!(session < 17 * 1024, "session {session}");
        assert!(total < 25 * 1024, "terminal with one meter: {total} bytes");
    }
}

#[cfg(test)]
mod scale_smoke {
    use super::*;
    use amikit_gdw376::Profile;
    use amikit_gdw376::session::master::{MasterConfig, MasterEvent, MasterSession};
    use tokio::net::TcpListener;

    fn rss_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
            })
            .unwrap_or(0)
    }

    /// `cargo test -p amikit-station --release scale_smoke -- --ignored --nocapture`: 2 000
    /// terminals (env `SCALE_TERMINALS`) at 600× (env `SCALE_SPEED`) against a master that only
    /// acknowledges logins and heartbeats, in the same process (two descriptors a terminal).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a smoke run of start_many, not a unit test"]
    async fn two_thousand_terminals_log_in() {
        let env = |k: &str, d: u32| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        let n = u16::try_from(env("SCALE_TERMINALS", 2000)).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let logins = Arc::new(AtomicU64::new(0));
        let beats = Arc::new(AtomicU64::new(0));
        let (l2, b2) = (Arc::clone(&logins), Arc::clone(&beats));
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let (l, b) = (Arc::clone(&l2), Arc::clone(&b2));
                tokio::spawn(async move {
                    let origin = tokio::time::Instant::now();
                    let mut m =
                        MasterSession::<amikit_gdw376::security::ZeroPw, 512, 512, 1, 512>::new(
                            MasterConfig::new(Profile::STRICT_2013),
                            SessionInstant(0),
                        );
                    let mut buf = [0u8; 1024];
                    loop {
                        let now = SessionInstant(millis(origin.elapsed()));
                        let k = m.poll(now, &mut buf, &mut |_| {});
                        if k > 0 && s.write_all(&buf[..k]).await.is_err() {
                            return;
                        }
                        let Ok(k) = s.read(&mut buf).await else {
                            return;
                        };
                        if k == 0 {
                            return;
                        }
                        let now = SessionInstant(millis(origin.elapsed()));
                        m.on_bytes(now, &buf[..k], &mut |e| match e {
                            MasterEvent::Login(_) => {
                                l.fetch_add(1, Ordering::Relaxed);
                            }
                            MasterEvent::Heartbeat => {
                                b.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => {}
                        });
                    }
                });
            }
        });
        let before = rss_kib();
        let clock = SimClock::new(Civil::new(2026, 3, 2, 10, 0, 0), env("SCALE_SPEED", 600));
        let site = scale_site(&Site::demo(), n).unwrap();
        let a2s: Vec<u16> = (1..=n).collect();
        let t0 = std::time::Instant::now();
        let handles = start_many(
            &site,
            &a2s,
            addr,
            &clock,
            NoiseConfig::OFF,
            Timing::for_clock(&clock),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
        for _ in 0..200 {
            if logins.load(Ordering::Relaxed) >= u64::from(n) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let t_login = t0.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = rss_kib();
        println!(
            "{n} terminals: all logged in after {t_login:?}; {} heartbeats in 2 s; RSS +{} KiB ({} KiB per terminal incl. the master side)",
            beats.load(Ordering::Relaxed),
            after.saturating_sub(before),
            after.saturating_sub(before) / u64::from(n)
        );
        assert_eq!(logins.load(Ordering::Relaxed), u64::from(n));
        assert!(handles.iter().all(TerminalHandle::is_logged_in));
        for h in handles {
            h.shutdown().await;
        }
    }
}
