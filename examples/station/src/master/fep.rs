//! The front-end processor: a tokio TCP server with one task per terminal connection, each
//! driving an `amikit-gdw376` [`MasterSession`].
//!
//! A connection task owns its session (about 8 KiB, boxed), a 1 KiB read buffer, a 1 KiB write
//! buffer and a short queue of jobs; it never blocks on the database or the core (readings and
//! results go to the core through a bounded channel). Per connection at most four requests
//! are outstanding (the session's slots); more wait in the queue (bounded: the oldest reads
//! are dropped first, commands never).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use amikit_dlt645::Di;
use amikit_gdw376::control::Direction;
use amikit_gdw376::error::SecurityError;
use amikit_gdw376::security::TerminalMac;
use amikit_gdw376::session::Backoff;
use amikit_gdw376::session::master::{
    AckStyle, IdentityPolicy, MasterConfig, MasterEvent, MasterSession, Request, RequestError,
    RequestId, write_units,
};
use amikit_gdw376::units::{Value, read_options};
use amikit_gdw376::{Address, Afn, InfoClass, Instant, Item, Pn, Units};
use amikit_prepay::{CommandKind, Timestamp};
use amikit_tariff::Energy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::control::{
    CmdKey, Fwd, afn05_units, afn10_units, confirm_outcome, decode_forward, dlt645_control_frame,
    dlt645_read_frame,
};
use super::error::MasterResult;
use super::msg::{CommandResult, ConnCmd, CoreMsg};
use super::stats::Stats;
use super::store::Write;
use super::views::{CommandDropped, TerminalRecord, to_json};
use super::{ControlVia, Shared, sim_ts};

/// Attempts per read per round.
const READ_TRIES: u8 = 3;
/// Jobs waiting per connection.
const QUEUE_MAX: usize = 64;

type Session = MasterSession<SitePw>;

/// The PW keys of the site's terminals (derived from each terminal's site key): the session
/// signs and checks every frame with the key of the terminal it talks to. A terminal without
/// a key cannot be signed for: the session fails closed.
#[derive(Debug, Clone)]
struct SitePw(Arc<Shared>);

impl TerminalMac for SitePw {
    fn sign_for(
        &mut self,
        terminal: &Address,
        head: &[u8],
        tail: &[u8],
        pw: &mut [u8],
    ) -> Result<(), SecurityError> {
        let key = self
            .0
            .term_by_addr
            .get(&(terminal.a1, terminal.a2))
            .and_then(|&slot| self.0.terminals.get(slot))
            .and_then(|t| t.keys.as_ref())
            .ok_or(SecurityError::BadPw)?
            .pw();
        let tag = key.tag(head, tail);
        let t = tag.get(..pw.len()).ok_or(SecurityError::PwLength {
            expected: 16,
            found: pw.len(),
        })?;
        pw.copy_from_slice(t);
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum Job {
    /// AFN 0C F129 + F25 of one meter.
    Read { meter: usize, tries: u8 },
    /// AFN 10 F1 with a DL/T 645 read (`verify`: the read-back after a relay command).
    Forward {
        meter: usize,
        di: Di,
        tries: u8,
        verify: bool,
    },
    /// A command (attempt `attempt` of tracked command `key`, row `row`).
    Control {
        key: CmdKey,
        row: i64,
        attempt: u8,
        meter: usize,
        kind: CommandKind,
        expires: Timestamp,
    },
}

struct Inflight {
    id: RequestId,
    job: Job,
    sent: std::time::Instant,
}

/// An owned copy of what the session reported.
enum Ev {
    Login(Address),
    Proven,
    ProofFailed,
    Logout,
    Heartbeat,
    Online,
    Offline,
    Complete {
        id: RequestId,
        afn: Afn,
        units: Vec<u8>,
    },
    Failed(RequestId),
    /// The terminal denied the request (AFN 00 F2).
    Denied(RequestId),
    /// Events the master pulled (AFN 0E reply).
    Events(Vec<u8>),
    /// Events the terminal reported unasked (AFN 0E report): rate-limited.
    Report(Vec<u8>),
}

/// Accepts terminals until `stop`, then closes every connection and waits for them.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    Stats::bump(&shared.stats.connections);
                    let open = shared.stats.connections_open.load(Ordering::Relaxed);
                    if open >= shared.limits.max_connections {
                        Stats::bump(&shared.stats.connections_refused);
                        drop(stream);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    Stats::bump(&shared.stats.connections_open);
                    let guard = OpenConnection(shared.clone());
                    let stop = stop.clone();
                    tasks.spawn(async move {
                        connection(guard.0.clone(), stream, stop).await;
                        drop(guard);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "master: accept");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.changed() => break,
        }
        while tasks.try_join_next().is_some() {}
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
}

/// Counts an open connection in `connections_open` until dropped.
struct OpenConnection(Arc<Shared>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0
            .stats
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// Unsolicited reports of one connection in the current real minute.
#[derive(Debug, Clone, Copy)]
struct ReportWindow {
    start: std::time::Instant,
    count: u32,
}

struct Conn {
    reports: ReportWindow,
    shared: Arc<Shared>,
    session: Box<Session>,
    /// The terminal the login named (proof pending or done).
    claimed: Option<usize>,
    /// The terminal, once proven: the connection is registered as its own.
    terminal: Option<usize>,
    tx: Option<mpsc::Sender<ConnCmd>>,
    registered: Option<mpsc::WeakSender<ConnCmd>>,
    queue: VecDeque<Job>,
    inflight: Vec<Inflight>,
    next_round: Option<tokio::time::Instant>,
    out: Vec<u8>,
    units: Vec<u8>,
    frame: Vec<u8>,
}

async fn connection(shared: Arc<Shared>, mut stream: TcpStream, mut stop: watch::Receiver<bool>) {
    let link = shared.link;
    let link_limits = shared.limits;
    let cfg = {
        let mut c = MasterConfig::new(link.profile);
        c.msa = link.msa;
        c.response_timeout = Duration::from_millis(link.response_timeout_ms);
        c.retries = 2;
        c.backoff = Backoff {
            initial: Duration::from_millis(link.response_timeout_ms),
            max: Duration::from_millis(link.response_timeout_ms.saturating_mul(2)),
        };
        // Tp on every request, reads included (Q/GDW 1376.1-2013 §4.3.4.6.3): the terminal
        // refuses a request after its allowed delay and any request seen again within it.
        c.tp_delay_min = Some(link.tp_command_min);
        c.heartbeat_period = Duration::from_millis(link.heartbeat_ms);
        c.offline_after = 3;
        c.ack = AckStyle::AllConfirm;
        c.pull_events = true;
        // A login must prove the terminal (AFN 06) before any request goes out.
        c.identity = IdentityPolicy::Required;
        c
    };
    let (tx, mut rx) = mpsc::channel::<ConnCmd>(64);
    let now = Instant(shared.link_ms());
    let pw = SitePw(shared.clone());
    let prelogin_deadline =
        tokio::time::Instant::now() + Duration::from_millis(link_limits.prelogin_timeout_ms);
    let mut c = Conn {
        reports: ReportWindow {
            start: std::time::Instant::now(),
            count: 0,
        },
        session: Box::new(Session::with_mac(cfg, pw, now)),
        claimed: None,
        shared,
        terminal: None,
        tx: Some(tx),
        registered: None,
        queue: VecDeque::new(),
        inflight: Vec::new(),
        next_round: None,
        out: vec![0u8; 1024],
        units: vec![0u8; 512],
        frame: vec![0u8; 256],
    };
    // Tp's send times come from the simulated clock, compressed as it is.
    // (Without a calendar time, requests with Tp are refused: fail closed.)
    if let Some(wall) = super::wall_376(c.shared.clock.now()) {
        c.session
            .set_wall_clock_scaled(now, wall, c.shared.clock.speed());
    }
    let mut buf = vec![0u8; 1024];
    let mut evs: Vec<Ev> = Vec::new();
    loop {
        if c.pump(&mut stream, &mut evs).await.is_err() {
            break;
        }
        let now_ms = c.shared.link_ms();
        let mut wake = c.session.poll_at().map(|t| {
            tokio::time::Instant::now() + Duration::from_millis(t.0.saturating_sub(now_ms))
        });
        if let Some(r) = c.next_round {
            wake = Some(wake.map_or(r, |w| w.min(r)));
        }
        if c.terminal.is_none() {
            if tokio::time::Instant::now() >= prelogin_deadline {
                Stats::bump(&c.shared.stats.prelogin_timeouts);
                break;
            }
            wake = Some(wake.map_or(prelogin_deadline, |w| w.min(prelogin_deadline)));
        }
        let wake = wake.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(60));
        tokio::select! {
            r = stream.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    Stats::add(&c.shared.stats.bytes_in, n as u64);
                    let now = Instant(c.shared.link_ms());
                    let bytes = buf.get(..n).unwrap_or(&[]);
                    let stats = c.shared.stats.clone();
                    c.session.on_bytes(now, bytes, &mut |e| collect(e, &mut evs, &stats));
                    if !c.handle(&mut evs) {
                        break;
                    }
                }
            },
            cmd = rx.recv() => match cmd {
                // The registry dropped our sender: a newer connection of the same terminal.
                None => break,
                Some(ConnCmd::Control { key, row, attempt, meter, kind, expires }) => {
                    c.enqueue_command(Job::Control { key, row, attempt, meter, kind, expires });
                }
                Some(ConnCmd::ReadStatus { meter, verify }) => {
                    c.enqueue(Job::Forward { meter, di: Di::STATUS_WORD_3, tries: 0, verify });
                }
            },
            _ = tokio::time::sleep_until(wake) => {}
            _ = stop.changed() => break,
        }
    }
    c.close().await;
}

fn collect(e: MasterEvent<'_>, evs: &mut Vec<Ev>, stats: &Stats) {
    match e {
        MasterEvent::Login(a) => {
            Stats::bump(&stats.frames_in);
            Stats::bump(&stats.logins);
            evs.push(Ev::Login(a));
        }
        MasterEvent::Logout => {
            Stats::bump(&stats.frames_in);
            evs.push(Ev::Logout);
        }
        MasterEvent::Heartbeat => {
            Stats::bump(&stats.frames_in);
            Stats::bump(&stats.heartbeats);
            evs.push(Ev::Heartbeat);
        }
        MasterEvent::Online => evs.push(Ev::Online),
        MasterEvent::Offline => evs.push(Ev::Offline),
        MasterEvent::Response { .. } => Stats::bump(&stats.frames_in),
        MasterEvent::Complete { id, afn, units } => evs.push(Ev::Complete {
            id,
            afn,
            units: units.to_vec(),
        }),
        MasterEvent::Denied(id) => {
            Stats::bump(&stats.frames_in);
            evs.push(Ev::Denied(id));
        }
        MasterEvent::Overflow(id) | MasterEvent::Timeout(id) => {
            Stats::bump(&stats.timeouts);
            evs.push(Ev::Failed(id));
        }
        MasterEvent::Report(r) => {
            Stats::bump(&stats.frames_in);
            if r.afn == Afn::CLASS3 {
                evs.push(Ev::Report(r.units.to_vec()));
            }
        }
        MasterEvent::Events(r) => {
            Stats::bump(&stats.frames_in);
            if r.afn == Afn::CLASS3 {
                evs.push(Ev::Events(r.units.to_vec()));
            }
        }
        MasterEvent::Duplicate | MasterEvent::Unmatched(_) => Stats::bump(&stats.frames_in),
        MasterEvent::Proven => {
            Stats::bump(&stats.frames_in);
            evs.push(Ev::Proven);
        }
        MasterEvent::ProofFailed(_) => {
            Stats::bump(&stats.frames_in);
            evs.push(Ev::ProofFailed);
        }
        MasterEvent::Rejected(_) => {
            Stats::bump(&stats.frames_in);
            Stats::bump(&stats.rejected);
        }
    }
}

/// Counts the whole frames in `bytes` (the session queues whole frames only).
fn count_frames(bytes: &[u8]) -> u64 {
    let mut n = 0u64;
    let mut rest = bytes;
    while let Some(&[0x68, l0, l1, _, _, 0x68]) = rest.first_chunk::<6>() {
        let user = usize::from(u16::from_le_bytes([l0, l1]) >> 2);
        n += 1;
        rest = rest.get(user + 8..).unwrap_or(&[]);
    }
    n
}

impl Conn {
    /// Runs the session's timers, issues queued jobs, writes what is due.
    async fn pump(&mut self, stream: &mut TcpStream, evs: &mut Vec<Ev>) -> Result<(), ()> {
        // Ends when nothing was written and nothing issued (a request is written by the next
        // iteration's poll, and at most four can be outstanding); the bound is a safety net.
        for _ in 0..64 {
            let now = Instant(self.shared.link_ms());
            let stats = self.shared.stats.clone();
            let n = self
                .session
                .poll(now, &mut self.out, &mut |e| collect(e, evs, &stats));
            if !evs.is_empty() && !self.handle(evs) {
                return Err(());
            }
            if n > 0 {
                let bytes = self.out.get(..n).unwrap_or(&[]);
                Stats::add(&stats.frames_out, count_frames(bytes));
                Stats::add(&stats.bytes_out, n as u64);
                let limit = Duration::from_millis(self.shared.limits.write_timeout_ms);
                match tokio::time::timeout(limit, stream.write_all(bytes)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Err(()),
                    Err(_) => {
                        Stats::bump(&stats.write_timeouts);
                        return Err(());
                    }
                }
            }
            if self.terminal.is_some()
                && let Some(r) = self.next_round
                && tokio::time::Instant::now() >= r
            {
                self.round();
            }
            let issued = self.issue();
            if n == 0 && !issued {
                break;
            }
        }
        Ok(())
    }

    /// Handles collected session events; false to close the connection.
    fn handle(&mut self, evs: &mut Vec<Ev>) -> bool {
        let mut keep = true;
        for e in evs.drain(..) {
            match e {
                Ev::Login(a) => keep &= self.login(a),
                Ev::Proven => keep &= self.proven(),
                Ev::ProofFailed => {
                    Stats::bump(&self.shared.stats.logins_refused);
                    if let Some(t) = self.claimed.and_then(|t| self.shared.terminals.get(t)) {
                        tracing::warn!(a2 = t.a2, "master: a login failed the identity proof");
                    }
                    keep = false;
                }
                Ev::Heartbeat | Ev::Online => self.seen(),
                Ev::Logout | Ev::Offline => keep = false,
                Ev::Complete { id, afn, units } => {
                    self.seen();
                    self.complete(id, afn, &units);
                }
                Ev::Failed(id) => self.failed(id),
                Ev::Denied(id) => self.denied(id),
                Ev::Events(units) => self.events(&units),
                Ev::Report(units) => {
                    if self.report_allowed() {
                        self.events(&units);
                    } else {
                        Stats::bump(&self.shared.stats.reports_dropped);
                    }
                }
            }
        }
        keep
    }

    /// Whether one more unsolicited report fits this real minute's allowance.
    fn report_allowed(&mut self) -> bool {
        let now = std::time::Instant::now();
        if now.duration_since(self.reports.start) >= Duration::from_secs(60) {
            self.reports = ReportWindow {
                start: now,
                count: 0,
            };
        }
        if self.reports.count >= self.shared.limits.reports_per_minute {
            return false;
        }
        self.reports.count += 1;
        true
    }

    fn seen(&self) {
        if let Some(t) = self.terminal.and_then(|t| self.shared.terminals.get(t)) {
            t.last_seen
                .store(self.shared.clock.now(), Ordering::Relaxed);
        }
    }

    /// A login (AFN 02 F1): the terminal must be one of the site's and prove it (AFN 06
    /// challenge answered with its key) before the connection is registered as its own.
    /// Until then the connection holds nothing of the terminal (no database row, no commands,
    /// no reads); an unknown address, a terminal without a key or a failed proof closes it.
    fn login(&mut self, a: Address) -> bool {
        let Some(&slot) = self.shared.term_by_addr.get(&(a.a1, a.a2)) else {
            Stats::bump(&self.shared.stats.logins_unknown);
            tracing::debug!(a1 = a.a1, a2 = a.a2, "master: login of an unknown terminal");
            return false;
        };
        if self.claimed.is_some_and(|t| t != slot) {
            return false;
        }
        let Some(t) = self.shared.terminals.get(slot) else {
            return false;
        };
        let Some(keys) = t.keys.as_ref() else {
            Stats::bump(&self.shared.stats.logins_refused);
            tracing::warn!(a2 = t.a2, "master: login refused: the terminal has no key");
            return false;
        };
        self.claimed = Some(slot);
        let challenge = match crate::keys::challenge() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "master: no random numbers for a challenge");
                return false;
            }
        };
        let now = Instant(self.shared.link_ms());
        self.session.set_pfc(t.pfc.load(Ordering::Relaxed));
        match self
            .session
            .start_identity_check(now, challenge, &mut keys.identity())
        {
            Ok(_) => {
                t.pfc.store(self.session.pfc(), Ordering::Relaxed);
                true
            }
            Err(e) => {
                Stats::bump(&self.shared.stats.logins_refused);
                tracing::warn!(a2 = t.a2, error = ?e, "master: identity check not started");
                false
            }
        }
    }

    /// The terminal proved its identity: the connection becomes the terminal's (replacing an
    /// older one), the link is up.
    fn proven(&mut self) -> bool {
        let Some(slot) = self.claimed else {
            return false;
        };
        let Some(t) = self.shared.terminals.get(slot) else {
            return false;
        };
        Stats::bump(&self.shared.stats.logins_proven);
        if self.terminal.is_none() {
            self.terminal = Some(slot);
            // Pull events from where the stored ones end, not from 0 again.
            if let Some(pn) = t.event_ptr.lock().ok().and_then(|g| *g) {
                self.session.set_event_pointer(pn);
            }
            if let (Ok(mut g), Some(tx)) = (t.conn.lock(), self.tx.take()) {
                // Replacing an older connection of this terminal drops its sender: it closes.
                self.registered = Some(tx.downgrade());
                *g = Some(tx);
            }
        }
        let at = self.shared.clock.now();
        t.online.store(true, Ordering::Relaxed);
        t.last_seen.store(at, Ordering::Relaxed);
        self.shared
            .store
            .write(Write::TerminalOnline { terminal: t.id, at });
        let _ = self.shared.core.try_send(CoreMsg::Link {
            terminal: slot,
            online: true,
        });
        // Read at once (the first reading after a (re)connection), then on the schedule.
        self.next_round = Some(tokio::time::Instant::now());
        true
    }

    fn enqueue(&mut self, job: Job) {
        if self.queue.len() >= QUEUE_MAX {
            if let Some(i) = self
                .queue
                .iter()
                .position(|j| !matches!(j, Job::Control { .. }))
            {
                self.queue.remove(i);
            } else {
                return;
            }
        }
        self.queue.push_back(job);
    }

    /// Queues a command ahead of every read, behind the commands queued before it (a command
    /// is never dropped for room).
    fn enqueue_command(&mut self, job: Job) {
        let at = self
            .queue
            .iter()
            .position(|j| !matches!(j, Job::Control { .. }))
            .unwrap_or(self.queue.len());
        self.queue.insert(at, job);
    }

    /// Whether a command leaving the queue may still go to its meter: the tracker is asked
    /// at this moment (`check_send`), so a command superseded, cancelled, expired, parked or
    /// retried since it was queued never goes out; a dropped one is logged as
    /// `command_dropped`.
    fn still_live(&self, job: &Job) -> bool {
        let Job::Control {
            key,
            row,
            attempt,
            meter,
            kind,
            ..
        } = *job
        else {
            return true;
        };
        let at = self.shared.clock.now();
        let Err(e) = self.shared.trackers.check_send(sim_ts(at), key, attempt) else {
            return true;
        };
        Stats::bump(&self.shared.stats.commands_dropped);
        let m = self.shared.meters.get(meter);
        let terminal = self
            .terminal
            .and_then(|t| self.shared.terminals.get(t))
            .map(|t| t.id);
        self.shared.store.write(Write::event(
            at,
            m.map(|m| m.customer_id),
            terminal,
            "command_dropped",
            &CommandDropped {
                command_id: row,
                kind: kind.name(),
                attempt,
                meter: m.map(|m| m.address_text.clone()),
                reason: e.to_string(),
            },
        ));
        false
    }

    /// Queues one read round and schedules the next (staggered per terminal).
    fn round(&mut self) {
        let Some(t) = self.terminal.and_then(|t| self.shared.terminals.get(t)) else {
            return;
        };
        let meters = t.meters.clone();
        let offset = t.offset;
        for m in meters {
            self.enqueue(Job::Read { meter: m, tries: 0 });
            let Some((local, watch)) = self.shared.meters.get(m).map(|info| {
                (
                    info.fee == crate::site::FeeControl::Local,
                    info.watch.load(Ordering::Relaxed),
                )
            }) else {
                continue;
            };
            if local {
                self.enqueue(Job::Forward {
                    meter: m,
                    di: Di::REMAINING_MONEY,
                    tries: 0,
                    verify: false,
                });
            }
            if watch {
                self.enqueue(Job::Forward {
                    meter: m,
                    di: Di::STATUS_WORD_3,
                    tries: 0,
                    verify: false,
                });
            }
        }
        let every = self.shared.link.read_every;
        let now = self.shared.clock.now();
        let phase = u64::try_from(now).unwrap_or(0).wrapping_sub(offset);
        let next = every - phase % every;
        self.next_round = Some(tokio::time::Instant::now() + self.shared.clock.real(next));
    }

    /// Sends queued jobs while the session has free slots; true if any was sent.
    fn issue(&mut self) -> bool {
        if self.terminal.is_none() {
            return false;
        }
        let mut any = false;
        while self.session.outstanding() < 4 {
            let Some(job) = self.queue.pop_front() else {
                break;
            };
            if !self.still_live(&job) {
                continue;
            }
            let built = self.build(job);
            let (afn, n) = match built {
                Ok(x) => x,
                Err(e) => {
                    self.job_failed(job, &e.to_string());
                    continue;
                }
            };
            let now = Instant(self.shared.link_ms());
            let req = Request {
                afn,
                units: self.units.get(..n).unwrap_or(&[]),
                con: false,
            };
            match self.session.request(now, &req) {
                Ok(id) => {
                    Stats::bump(&self.shared.stats.requests);
                    if let Some(t) = self.terminal.and_then(|t| self.shared.terminals.get(t)) {
                        t.pfc.store(self.session.pfc(), Ordering::Relaxed);
                    }
                    self.inflight.push(Inflight {
                        id,
                        job,
                        sent: std::time::Instant::now(),
                    });
                    any = true;
                }
                // A full output queue (TooLong) is transient: the next poll empties it.
                Err(RequestError::Busy | RequestError::NoTerminal | RequestError::TooLong) => {
                    self.queue.push_front(job);
                    break;
                }
                Err(e) => self.job_failed(job, &format!("{e:?}")),
            }
        }
        any
    }

    fn build(&mut self, job: Job) -> MasterResult<(Afn, usize)> {
        let meter = match job {
            Job::Read { meter, .. } | Job::Forward { meter, .. } | Job::Control { meter, .. } => {
                meter
            }
        };
        let info =
            self.shared.meters.get(meter).ok_or_else(|| {
                super::MasterError::config(format!("meter slot {meter}"), "unknown")
            })?;
        match job {
            Job::Read { .. } => {
                let n = write_units(
                    &mut self.units,
                    &[
                        (Pn(info.pn), InfoClass(129), &[]),
                        (Pn(info.pn), InfoClass(25), &[]),
                    ],
                )
                .map_err(super::MasterError::encode)?;
                Ok((Afn::CLASS1, n))
            }
            Job::Forward { di, .. } => {
                let k = dlt645_read_frame(info.address, di, &mut self.frame)?;
                let n = afn10_units(self.frame.get(..k).unwrap_or(&[]), &mut self.units)?;
                Ok((Afn::FORWARD, n))
            }
            Job::Control { kind, expires, .. } => match self.shared.link.control_via {
                ControlVia::Afn05 => {
                    Ok((Afn::CONTROL, afn05_units(kind, info.pn, &mut self.units)?))
                }
                ControlVia::Afn10 => {
                    let k = dlt645_control_frame(info.address, kind, expires, &mut self.frame)?;
                    let n = afn10_units(self.frame.get(..k).unwrap_or(&[]), &mut self.units)?;
                    Ok((Afn::FORWARD, n))
                }
            },
        }
    }

    fn take(&mut self, id: RequestId) -> Option<Inflight> {
        let i = self.inflight.iter().position(|f| f.id == id)?;
        Some(self.inflight.swap_remove(i))
    }

    fn complete(&mut self, id: RequestId, afn: Afn, units: &[u8]) {
        let Some(f) = self.take(id) else {
            return;
        };
        Stats::bump(&self.shared.stats.responses);
        self.shared.stats.record_latency(f.sent.elapsed());
        let profile = self.shared.link.profile;
        let at = self.shared.clock.now();
        match f.job {
            Job::Read { meter, tries } => {
                let pn = self.shared.meters.get(meter).map_or(0, |m| m.pn);
                let (energy, power) = if afn == Afn::CLASS1 {
                    decode_read(units, &profile, pn)
                } else {
                    (None, None)
                };
                match energy {
                    Some(energy) => {
                        let _ = self.shared.core.try_send(CoreMsg::Reading {
                            meter,
                            at,
                            energy,
                            power_w: power,
                        });
                    }
                    None => self.retry(Job::Read {
                        meter,
                        tries: tries + 1,
                    }),
                }
            }
            Job::Forward {
                meter,
                di,
                tries,
                verify,
            } => {
                let r = if afn == Afn::FORWARD {
                    decode_forward(units, &profile)
                } else {
                    Fwd::Unexpected
                };
                let msg = match r {
                    Fwd::Money(money) => Some(CoreMsg::Remaining { meter, at, money }),
                    Fwd::Status(s) => Some(CoreMsg::Relay {
                        meter,
                        at,
                        open: s.relay_open(),
                        command_open: s.relay_command_open(),
                        verify,
                    }),
                    _ => None,
                };
                match msg {
                    Some(m) => {
                        let _ = self.shared.core.try_send(m);
                    }
                    None => self.retry(Job::Forward {
                        meter,
                        di,
                        tries: tries + 1,
                        verify,
                    }),
                }
            }
            Job::Control { key, .. } => {
                let result = match self.shared.link.control_via {
                    ControlVia::Afn05 => match confirm_outcome(units, &profile, Afn::CONTROL) {
                        Some(true) => CommandResult::Confirmed,
                        Some(false) => {
                            CommandResult::Failed("denied by the terminal (AFN 00)".to_string())
                        }
                        None => {
                            CommandResult::Failed(format!("unexpected AFN {:02X} reply", afn.0))
                        }
                    },
                    ControlVia::Afn10 if afn == Afn::FORWARD => {
                        match decode_forward(units, &profile) {
                            Fwd::Ack => CommandResult::Confirmed,
                            Fwd::Denied(e) => CommandResult::Failed(format!(
                                "denied by the meter (error word {e:02X})"
                            )),
                            Fwd::Silent => {
                                CommandResult::Failed("no reply from the meter".to_string())
                            }
                            _ => CommandResult::Failed("unexpected meter reply".to_string()),
                        }
                    }
                    ControlVia::Afn10 => {
                        CommandResult::Failed("forwarding refused by the terminal".to_string())
                    }
                };
                self.command_done(key, result);
            }
        }
    }

    fn retry(&mut self, job: Job) {
        let tries = match job {
            Job::Read { tries, .. } | Job::Forward { tries, .. } => tries,
            Job::Control { .. } => 0,
        };
        if tries < READ_TRIES {
            self.enqueue(job);
        }
    }

    fn failed(&mut self, id: RequestId) {
        let Some(f) = self.take(id) else {
            return;
        };
        match f.job {
            Job::Read { meter, tries } => self.retry(Job::Read {
                meter,
                tries: tries + 1,
            }),
            Job::Forward {
                meter,
                di,
                tries,
                verify,
            } => self.retry(Job::Forward {
                meter,
                di,
                tries: tries + 1,
                verify,
            }),
            Job::Control { key, .. } => {
                self.command_done(key, CommandResult::Failed("no response".into()))
            }
        }
    }

    /// The terminal denied a request (AFN 00 F2): a read is asked again with a new request
    /// (a new PFC and Tp), a command fails this attempt (the tracker decides what next).
    fn denied(&mut self, id: RequestId) {
        let Some(f) = self.take(id) else {
            return;
        };
        self.seen();
        match f.job {
            Job::Read { meter, tries } => {
                Stats::bump(&self.shared.stats.denied_reads);
                self.retry(Job::Read {
                    meter,
                    tries: tries + 1,
                });
            }
            Job::Forward {
                meter,
                di,
                tries,
                verify,
            } => {
                Stats::bump(&self.shared.stats.denied_reads);
                self.retry(Job::Forward {
                    meter,
                    di,
                    tries: tries + 1,
                    verify,
                });
            }
            Job::Control { key, .. } => {
                Stats::bump(&self.shared.stats.denied_commands);
                let why = match self.shared.link.control_via {
                    ControlVia::Afn05 => "denied by the terminal (AFN 00)",
                    ControlVia::Afn10 => "forwarding refused by the terminal",
                };
                self.command_done(key, CommandResult::Failed(why.to_string()));
            }
        }
    }

    fn job_failed(&mut self, job: Job, why: &str) {
        if let Job::Control { key, .. } = job {
            self.command_done(key, CommandResult::Failed(why.to_string()));
        }
    }

    fn command_done(&self, key: CmdKey, result: CommandResult) {
        let _ = self
            .shared
            .core
            .try_send(CoreMsg::CommandDone { key, result });
    }

    /// Stores important events pulled (or reported) from the terminal, once each.
    fn events(&mut self, units: &[u8]) {
        let Some(t) = self.terminal.and_then(|t| self.shared.terminals.get(t)) else {
            return;
        };
        let profile = self.shared.link.profile;
        let opts = read_options(&profile);
        let at = self.shared.clock.now();
        let mut rows = Vec::new();
        let mut ptr = t.event_ptr.lock().map(|g| *g).unwrap_or(None);
        let mut status_reads: Vec<usize> = Vec::new();
        for item in Units::new(units, Afn::CLASS3, Direction::Up, &profile) {
            let Item::Unit(u) = item else { continue };
            let Ok(Some(Value::Events(block))) = u.value(&profile, Afn::CLASS3, Direction::Up)
            else {
                continue;
            };
            for (i, rec) in block.records().enumerate() {
                let idx = block.pm.wrapping_add(u8::try_from(i).unwrap_or(u8::MAX));
                let fresh = ptr.is_none_or(|p| idx.wrapping_sub(p) < 128);
                if fresh {
                    // The amikit terminal's records of meter events (ERC 19, 20, 23, 33) carry
                    // the measurement point after the time (see `terminal::erc`).
                    let slot = match (rec.erc, rec.data.get(5..7)) {
                        (19 | 20 | 23 | 33, Some(&[lo, hi])) => {
                            let pn = u16::from_le_bytes([lo, hi]);
                            t.meters.iter().copied().find(|&m| {
                                self.shared.meters.get(m).is_some_and(|info| info.pn == pn)
                            })
                        }
                        _ => None,
                    };
                    let meter = slot.and_then(|m| self.shared.meters.get(m));
                    // ERC 33: the meter's relay state changed (a late command, the button, …).
                    // Read status word 3 now; the core reconciles it with the command.
                    if rec.erc == 33
                        && let Some(m) = slot
                        && !status_reads.contains(&m)
                    {
                        status_reads.push(m);
                    }
                    rows.push((
                        meter.map(|m| m.customer_id),
                        rec.erc,
                        to_json(&TerminalRecord {
                            erc: rec.erc,
                            name: erc_name(rec.erc),
                            index: idx,
                            meter: meter.map(|m| m.address_text.clone()),
                            data: hex::encode_upper(rec.data),
                            event: rec.decode(opts),
                        }),
                    ));
                }
            }
            ptr = Some(block.pn);
        }
        if let Ok(mut g) = t.event_ptr.lock() {
            *g = ptr;
        }
        let id = t.id;
        let mut writes: Vec<Write> = rows
            .into_iter()
            .map(|(customer, erc, r)| {
                Write::event(at, customer, Some(id), &format!("erc{erc}"), &r)
            })
            .collect();
        writes.push(Write::EventPointer {
            terminal: id,
            pointer: ptr,
        });
        self.shared.store.write_all(writes);
        for meter in status_reads {
            self.enqueue(Job::Forward {
                meter,
                di: Di::STATUS_WORD_3,
                tries: 0,
                verify: false,
            });
        }
    }

    /// The connection ends. If it is still the terminal's connection: unregister, and the
    /// core parks the terminal's commands until it is back (offline is not failure: the
    /// commands in flight or queued here are sent again on reconnection). A connection that
    /// was replaced fails its commands (the tracker retries them on the new one).
    async fn close(mut self) {
        let pending: Vec<Job> = self
            .inflight
            .drain(..)
            .map(|f| f.job)
            .chain(self.queue.drain(..))
            .collect();
        let fail_pending = |shared: Arc<Shared>, why: &'static str| async move {
            for job in pending {
                if let Job::Control { key, .. } = job {
                    let _ = shared
                        .core
                        .send(CoreMsg::CommandDone {
                            key,
                            result: CommandResult::Failed(why.into()),
                        })
                        .await;
                }
            }
        };
        let Some(t) = self.terminal.and_then(|s| self.shared.terminals.get(s)) else {
            fail_pending(self.shared.clone(), "link lost before login").await;
            return;
        };
        let slot = self.terminal.unwrap_or_default();
        let ours = match t.conn.lock() {
            Ok(mut g) => {
                // Still ours if nobody replaced the sender we registered.
                let mine = self.registered.as_ref().and_then(mpsc::WeakSender::upgrade);
                let ours = match (g.as_ref(), mine) {
                    (Some(s), Some(m)) => s.same_channel(&m),
                    _ => false,
                };
                if ours {
                    *g = None;
                }
                ours
            }
            Err(_) => false,
        };
        if !ours {
            fail_pending(self.shared.clone(), "connection replaced").await;
            return;
        }
        t.online.store(false, Ordering::Relaxed);
        let at = self.shared.clock.now();
        self.shared
            .store
            .write(Write::TerminalOffline { terminal: t.id, at });
        let _ = self
            .shared
            .core
            .send(CoreMsg::Link {
                terminal: slot,
                online: false,
            })
            .await;
    }
}

/// What the amikit terminal's event codes mean (its layouts: `terminal::erc`).
fn erc_name(erc: u8) -> Option<&'static str> {
    match erc {
        19 => Some("token_accepted"),
        20 => Some("token_rejected"),
        23 => Some("credit_alarm"),
        33 => Some("meter_status"),
        _ => None,
    }
}

/// Forward active energy (F129 total) and total active power (F25) of measurement point `pn`.
fn decode_read(
    units: &[u8],
    profile: &amikit_gdw376::Profile,
    pn: u16,
) -> (Option<Energy>, Option<i64>) {
    let mut energy = None;
    let mut power = None;
    for item in Units::new(units, Afn::CLASS1, Direction::Up, profile) {
        let Item::Unit(u) = item else { continue };
        if u.pn != Pn(pn) {
            continue;
        }
        match u.value(profile, Afn::CLASS1, Direction::Up) {
            Ok(Some(Value::ActiveEnergy(r))) if u.fn_ == InfoClass(129) => {
                // Format 14: 1e-4 kWh = 0.1 Wh.
                energy = r
                    .total()
                    .and_then(|f| i64::try_from(f.magnitude / 10).ok())
                    .map(Energy::from_wh);
            }
            Ok(Some(Value::Realtime(rt))) => {
                // Format 09: 1e-4 kW = 0.1 W.
                power = rt.get().active_power.first().copied().flatten().map(|p| {
                    let w = i64::from(p.magnitude) / 10;
                    if p.negative { -w } else { w }
                });
            }
            _ => {}
        }
    }
    (energy, power)
}
