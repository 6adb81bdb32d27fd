//! The master station's front end: accepts terminal connections, runs one
//! [`MasterSession`] per connection, keeps the registry of logged-in terminals, sends the
//! caller's requests and hands back their responses, and streams what terminals do.
//!
//! Hostile by default: a connection that does not log in within
//! [`FrontEndConfig::login_timeout`] is closed, connections beyond
//! [`FrontEndConfig::max_connections`] are refused, a peer that does not take our bytes within
//! [`FrontEndConfig::write_timeout`] is dropped, and (with the session's default
//! [`IdentityPolicy::Required`]) a terminal is registered — reachable by [`FrontEnd::request`]
//! — only once it has answered the identity challenge (Q/GDW 1376.1-2013 AFN 06H) with its
//! key; a later login of the same address replaces the older connection only then.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amikit_gdw376::identity::{CHALLENGE_LEN, IdentityKey, NoIdentity};
use amikit_gdw376::security::{TerminalMac, ZeroPw};
use amikit_gdw376::session::master::{
    IdentityPolicy, MasterConfig, MasterEvent, MasterSession, Request, RequestError, RequestId,
};
use amikit_gdw376::{Address, Afn, ParseError, Profile, SecurityError, Units};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tracing::{Instrument, debug, debug_span, info, warn};

use super::link::{instant_since, tokio_instant, wall};
use crate::clock::WallClock;
use crate::error::{Error, Result};

/// Front-end settings.
#[non_exhaustive]
#[derive(Clone)]
pub struct FrontEndConfig {
    /// The session settings of every connection (profile, MSA, timeouts, Tp, identity policy).
    pub master: MasterConfig,
    /// Connections served at once; further ones are closed at accept.
    pub max_connections: usize,
    /// Time a new connection has to log in (and prove its identity, when required).
    pub login_timeout: Duration,
    /// Time a peer has to take a frame we write.
    pub write_timeout: Duration,
    /// The calendar time written in Tp.
    pub clock: WallClock,
    /// Events buffered for the consumer of the event stream; beyond, events are counted in
    /// [`FrontEndStats::events_dropped`] and dropped (a slow consumer never stalls terminals).
    pub event_buffer: usize,
    /// Requests waiting per terminal (beyond the session's four in flight).
    pub queue: usize,
    /// Tp delay (minutes) of requests whose AFN carries no PW (reads: AFN 09, 0A, 0C, 0D,
    /// 0E …); `None`: no Tp. Requests with PW (resets, settings, controls, the identity
    /// challenge, file transfer, forwarding) carry [`MasterConfig::tp_delay_min`]. A
    /// terminal remembers every PFC while its Tp window is open (Q/GDW 1376.1-2013
    /// §4.3.4.6.3) and refuses new ones when its memory is full, so reads with a long Tp
    /// would soon lock a busy terminal out.
    pub read_tp_delay_min: Option<u8>,
    /// What the station knows about its terminals: who may log in, where their sessions
    /// continue. Default: [`AnyTerminal`].
    pub terminals: Arc<dyn TerminalRegistry>,
}

/// Where a terminal's session stands, kept across its connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionState {
    /// The frame counter (PFC) of the last request sent to it.
    pub pfc: Option<u8>,
    /// Where the next event pull starts (its Pn after the last events stored).
    pub event_pointer: Option<u8>,
}

/// What the master station knows about its terminals, asked by the front end.
pub trait TerminalRegistry: Send + Sync {
    /// Whether `terminal` may log in; a refused login closes the connection
    /// ([`DisconnectReason::NotAdmitted`]). Default: every terminal.
    fn admit(&self, terminal: &Address) -> bool {
        let _ = terminal;
        true
    }

    /// Where the session of `terminal`, which just logged in, continues: its last PFC (a
    /// terminal's replay guard remembers PFCs while their Tp windows are open, so a counter
    /// that started again from 0 would be refused, Q/GDW 1376.1-2013 §4.3.4.6.3) and its event
    /// pointer (events already stored are not pulled again). Default: from scratch.
    fn resume(&self, terminal: &Address) -> SessionState {
        let _ = terminal;
        SessionState::default()
    }

    /// The session state of a registered terminal whose connection ended: keep it for
    /// [`TerminalRegistry::resume`]. Default: forgotten.
    fn suspend(&self, terminal: &Address, state: SessionState) {
        let _ = (terminal, state);
    }
}

/// Every terminal may log in; nothing is kept across connections.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyTerminal;

impl TerminalRegistry for AnyTerminal {}

impl FrontEndConfig {
    /// Safe defaults around `master`: 1024 connections, 30 s to log in, 10 s write timeout,
    /// China Standard Time, 1024 buffered events, 64 queued requests per terminal, no Tp on
    /// reads.
    pub fn new(master: MasterConfig) -> Self {
        FrontEndConfig {
            master,
            max_connections: 1024,
            login_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            clock: crate::clock::system_clock(crate::clock::CHINA_STANDARD_TIME),
            event_buffer: 1024,
            queue: 64,
            read_tp_delay_min: None,
            terminals: Arc::new(AnyTerminal),
        }
    }
}

impl std::fmt::Debug for FrontEndConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontEndConfig")
            .field("master", &self.master)
            .field("max_connections", &self.max_connections)
            .field("login_timeout", &self.login_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("event_buffer", &self.event_buffer)
            .field("queue", &self.queue)
            .field("read_tp_delay_min", &self.read_tp_delay_min)
            .finish_non_exhaustive()
    }
}

impl Default for FrontEndConfig {
    fn default() -> Self {
        Self::new(MasterConfig::new(Profile::STRICT_2013))
    }
}

/// A terminal's complete response to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The response's AFN (00 for a confirmation or denial).
    pub afn: Afn,
    /// The data-unit regions of all its frames, in order.
    pub units: Vec<u8>,
    /// For AFN 00: whether every item was confirmed (F1, or F3 with all items confirmed).
    pub confirmed: Option<bool>,
}

impl Response {
    /// Walks the data units (`{DA DT data}*`) under `profile`.
    pub fn units<'a>(&'a self, profile: &Profile) -> Units<'a> {
        Units::new(&self.units, self.afn, amikit_gdw376::Direction::Up, profile)
    }
}

/// Why a connection ended.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The peer closed it.
    Closed,
    /// Reading or writing failed.
    Io(io::ErrorKind),
    /// No login (and identity proof, when required) within the login timeout.
    LoginTimeout,
    /// The peer did not take our bytes within the write timeout.
    WriteTimeout,
    /// The terminal failed its identity proof.
    ProofFailed,
    /// The registry refused the terminal ([`TerminalRegistry::admit`]).
    NotAdmitted,
    /// A newer connection of the same terminal took over.
    Replaced,
    /// The front end was shut down ([`FrontEnd::shutdown`]).
    Shutdown,
}

/// What happened at the front end.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontEndEvent {
    /// A connection was accepted.
    Connected {
        /// Its peer.
        peer: SocketAddr,
    },
    /// A connection was refused (connection limit).
    Refused {
        /// Its peer.
        peer: SocketAddr,
    },
    /// A terminal logged in (AFN 02 F1; not yet proven when a proof is required).
    Login {
        /// The terminal.
        terminal: Address,
        /// Its peer.
        peer: SocketAddr,
    },
    /// The terminal is registered: requests reach it (proven, or no proof required).
    Registered {
        /// The terminal.
        terminal: Address,
    },
    /// The terminal's identity proof failed; the connection is closed.
    ProofFailed {
        /// The terminal it claimed to be.
        terminal: Address,
        /// Why.
        error: SecurityError,
    },
    /// A heartbeat (AFN 02 F3).
    Heartbeat {
        /// The terminal.
        terminal: Address,
    },
    /// The terminal logged out (AFN 02 F2).
    Logout {
        /// The terminal.
        terminal: Address,
    },
    /// The terminal is silent for too many heartbeat periods.
    Offline {
        /// The terminal.
        terminal: Address,
    },
    /// A frame arrived from a terminal that was offline.
    Online {
        /// The terminal.
        terminal: Address,
    },
    /// A frame the terminal sent on its own (e.g. AFN 0E events, reported actively).
    Report {
        /// The terminal.
        terminal: Address,
        /// Its AFN.
        afn: Afn,
        /// Its data units.
        units: Vec<u8>,
    },
    /// Events pulled after the terminal raised ACD (the AFN 0E reply).
    Events {
        /// The terminal.
        terminal: Address,
        /// Its data units.
        units: Vec<u8>,
    },
    /// A request was answered with AFN 00: confirmed or denied.
    Confirmation {
        /// The terminal.
        terminal: Address,
        /// The AFN of the request.
        request: Afn,
        /// Every item confirmed.
        confirmed: bool,
    },
    /// A frame that did not parse (connection kept).
    Rejected {
        /// The terminal, once logged in.
        terminal: Option<Address>,
        /// Why.
        error: ParseError,
    },
    /// A connection ended.
    Disconnected {
        /// The terminal, once logged in.
        terminal: Option<Address>,
        /// Its peer.
        peer: SocketAddr,
        /// Why.
        reason: DisconnectReason,
    },
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    refused: AtomicU64,
    login_timeouts: AtomicU64,
    write_timeouts: AtomicU64,
    frames_in: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    requests: AtomicU64,
    request_timeouts: AtomicU64,
    events_dropped: AtomicU64,
}

/// Counters of the front end.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrontEndStats {
    /// Connections accepted.
    pub connections: u64,
    /// Connections refused by the limit.
    pub refused: u64,
    /// Connections closed for not logging in in time.
    pub login_timeouts: u64,
    /// Connections dropped for not taking our bytes.
    pub write_timeouts: u64,
    /// Frames received (every session event that carries one).
    pub frames_in: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Requests sent.
    pub requests: u64,
    /// Requests that got no complete response.
    pub request_timeouts: u64,
    /// Events dropped because the event stream was full.
    pub events_dropped: u64,
}

struct Command {
    /// The caller's span: the connection task logs the request's progress in it.
    span: tracing::Span,
    afn: Afn,
    units: Vec<u8>,
    con: bool,
    reply: oneshot::Sender<Result<Response>>,
}

struct Shared {
    config: FrontEndConfig,
    registry: Mutex<HashMap<Address, mpsc::Sender<Command>>>,
    events: mpsc::Sender<FrontEndEvent>,
    counters: Counters,
    base: tokio::time::Instant,
    /// Set to true by [`FrontEnd::shutdown`]: the accept loop and every connection end.
    stop: tokio::sync::watch::Sender<bool>,
}

impl Shared {
    fn emit(&self, event: FrontEndEvent) {
        if self.events.try_send(event).is_err() {
            self.counters.events_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A running front end. Clone it to send requests from anywhere; it runs until
/// [`FrontEnd::shutdown`] (dropping every clone does not stop it).
#[derive(Clone)]
pub struct FrontEnd {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
}

impl std::fmt::Debug for FrontEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontEnd")
            .field("local_addr", &self.local_addr)
            .field("stats", &self.stats())
            .finish()
    }
}

impl FrontEnd {
    /// Listens on `addr` with the all-zero test PW and no identity keys: with the default
    /// [`IdentityPolicy::Required`] no terminal can be registered — give keys with
    /// [`FrontEnd::bind_with`], or set the policy to [`IdentityPolicy::NotChecked`] for
    /// terminals without AFN 06 support.
    ///
    /// # Errors
    ///
    /// The address cannot be bound.
    pub async fn bind(
        addr: &str,
        config: FrontEndConfig,
    ) -> io::Result<(FrontEnd, mpsc::Receiver<FrontEndEvent>)> {
        Self::bind_with(addr, config, ZeroPw, NoIdentity).await
    }

    /// Listens on `addr`; every session computes and checks PW with `mac` (one key store shared
    /// by all connections, asked for the key of the terminal each frame is for), and
    /// challenges logins with `identity` (which holds, or derives, each terminal's key).
    ///
    /// # Errors
    ///
    /// The address cannot be bound.
    pub async fn bind_with<M, K>(
        addr: &str,
        config: FrontEndConfig,
        mac: M,
        identity: K,
    ) -> io::Result<(FrontEnd, mpsc::Receiver<FrontEndEvent>)>
    where
        M: TerminalMac + Send + 'static,
        K: IdentityKey + Send + 'static,
    {
        let mac = SharedMac(Arc::new(Mutex::new(mac)));
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (events, stream) = mpsc::channel(config.event_buffer.max(1));
        let shared = Arc::new(Shared {
            config,
            registry: Mutex::new(HashMap::new()),
            events,
            counters: Counters::default(),
            base: tokio::time::Instant::now(),
            stop: tokio::sync::watch::Sender::new(false),
        });
        let identity = Arc::new(Mutex::new(identity));
        let accept = accept_loop(listener, Arc::clone(&shared), mac, identity);
        tokio::spawn(accept.instrument(debug_span!("gdw376_front_end", %local_addr)));
        Ok((FrontEnd { shared, local_addr }, stream))
    }

    /// Stops accepting, closes every connection (their pending requests fail with
    /// [`Error::Closed`], each reports [`DisconnectReason::Shutdown`]).
    pub fn shutdown(&self) {
        self.shared.stop.send_replace(true);
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The registered terminals.
    pub fn terminals(&self) -> Vec<Address> {
        self.shared
            .registry
            .lock()
            .map(|r| r.keys().copied().collect())
            .unwrap_or_default()
    }

    /// The counters so far.
    pub fn stats(&self) -> FrontEndStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        FrontEndStats {
            connections: get(&c.connections),
            refused: get(&c.refused),
            login_timeouts: get(&c.login_timeouts),
            write_timeouts: get(&c.write_timeouts),
            frames_in: get(&c.frames_in),
            bytes_in: get(&c.bytes_in),
            bytes_out: get(&c.bytes_out),
            requests: get(&c.requests),
            request_timeouts: get(&c.request_timeouts),
            events_dropped: get(&c.events_dropped),
        }
    }

    /// Sends a request of `afn` with the data-unit region `units` (build it with
    /// [`amikit_gdw376::session::master::write_units`]) to `terminal` and waits for its
    /// complete response (the session's timeouts and retries apply).
    ///
    /// # Errors
    ///
    /// [`Error::NotConnected`], [`Error::Request`] (refused by the session: unproven, no
    /// calendar time for Tp, too long), [`Error::Denied`] (AFN 00 F2), [`Error::Timeout`],
    /// [`Error::Closed`] (the connection ended first).
    pub async fn request(
        &self,
        terminal: Address,
        afn: Afn,
        units: &[u8],
        con: bool,
    ) -> Result<Response> {
        let sender = self
            .shared
            .registry
            .lock()
            .ok()
            .and_then(|r| r.get(&terminal.with_msa(0)).cloned())
            .ok_or(Error::NotConnected(terminal))?;
        let span = debug_span!("gdw376_request", %terminal, %afn);
        let (reply, rx) = oneshot::channel();
        let command = Command {
            span: span.clone(),
            afn,
            units: units.to_vec(),
            con,
            reply,
        };
        async {
            sender
                .send(command)
                .await
                .map_err(|_| Error::NotConnected(terminal))?;
            let result = rx.await.map_err(|_| Error::Closed)?;
            debug!(ok = result.is_ok(), "request finished");
            result
        }
        .instrument(span)
        .await
    }

    /// Reads realtime (class 1) data: AFN 0C with `units`, e.g. F25 of a measurement point.
    ///
    /// # Errors
    ///
    /// As [`FrontEnd::request`].
    pub async fn read(&self, terminal: Address, units: &[u8]) -> Result<Response> {
        self.request(terminal, Afn::CLASS1, units, false).await
    }

    /// Sends a control command (AFN 05 with `units`: trip, allow close, guard …); the response
    /// is the terminal's confirmation ([`Response::confirmed`]).
    ///
    /// # Errors
    ///
    /// As [`FrontEnd::request`].
    pub async fn control(&self, terminal: Address, units: &[u8]) -> Result<Response> {
        self.request(terminal, Afn::CONTROL, units, false).await
    }
}

async fn accept_loop<M, K>(
    listener: TcpListener,
    shared: Arc<Shared>,
    mac: SharedMac<M>,
    identity: Arc<Mutex<K>>,
) where
    M: TerminalMac + Send + 'static,
    K: IdentityKey + Send + 'static,
{
    let limit = Arc::new(Semaphore::new(shared.config.max_connections));
    let mut stop = shared.stop.subscribe();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => {
                debug!("front end shut down");
                return;
            }
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            shared.emit(FrontEndEvent::Refused { peer });
            debug!(%peer, "connection refused: limit reached");
            continue;
        };
        let _ = stream.set_nodelay(true);
        shared.counters.connections.fetch_add(1, Ordering::Relaxed);
        shared.emit(FrontEndEvent::Connected { peer });
        let connection = Connection {
            shared: Arc::clone(&shared),
            identity: Arc::clone(&identity),
            session: Box::new(MasterSession::with_mac(
                shared.config.master,
                mac.clone(),
                instant_since(shared.base),
            )),
            peer,
            claimed: None,
            registered: None,
            pending: HashMap::new(),
            waiting: VecDeque::new(),
            events: Vec::new(),
            out: vec![0u8; 2048],
        };
        let span = debug_span!("gdw376_connection", %peer);
        tokio::spawn(connection.run(stream, permit).instrument(span));
    }
}

/// One PW key store shared by every connection's session.
struct SharedMac<M>(Arc<Mutex<M>>);

impl<M> Clone for SharedMac<M> {
    fn clone(&self) -> Self {
        SharedMac(Arc::clone(&self.0))
    }
}

impl<M: TerminalMac> TerminalMac for SharedMac<M> {
    fn sign_for(
        &mut self,
        terminal: &Address,
        head: &[u8],
        tail: &[u8],
        pw: &mut [u8],
    ) -> Result<(), SecurityError> {
        let mut mac = self.0.lock().map_err(|_| SecurityError::BadPw)?;
        mac.sign_for(terminal, head, tail, pw)
    }

    fn verify_for(
        &mut self,
        terminal: &Address,
        head: &[u8],
        tail: &[u8],
        pw: &[u8],
    ) -> Result<(), SecurityError> {
        let mut mac = self.0.lock().map_err(|_| SecurityError::BadPw)?;
        mac.verify_for(terminal, head, tail, pw)
    }
}

/// An owned [`MasterEvent`].
enum Ev {
    Login(Address),
    Logout,
    Heartbeat,
    Online,
    Offline,
    Proven,
    ProofFailed(SecurityError),
    Complete {
        id: RequestId,
        afn: Afn,
        units: Vec<u8>,
        confirmed: Option<bool>,
    },
    Failed(RequestId),
    Denied(RequestId),
    Report {
        afn: Afn,
        units: Vec<u8>,
    },
    Events(Vec<u8>),
    Rejected(ParseError),
}

struct Connection<M: TerminalMac, K> {
    shared: Arc<Shared>,
    identity: Arc<Mutex<K>>,
    session: Box<MasterSession<SharedMac<M>>>,
    peer: SocketAddr,
    /// The address of the login on this connection.
    claimed: Option<Address>,
    /// The address this connection is registered under.
    registered: Option<Address>,
    pending: HashMap<RequestId, (Afn, oneshot::Sender<Result<Response>>)>,
    waiting: VecDeque<Command>,
    events: Vec<Ev>,
    out: Vec<u8>,
}

impl<M: TerminalMac, K: IdentityKey> Connection<M, K> {
    async fn run(mut self, mut stream: TcpStream, _permit: OwnedSemaphorePermit) {
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        let login_deadline = tokio::time::Instant::now() + config.login_timeout;
        // Created here, handed to the registry when the terminal is registered: once the
        // registry drops it (a newer connection took over), `commands` ends.
        let (sender, mut commands) = mpsc::channel::<Command>(config.queue.max(1));
        let mut sender = Some(sender);
        let mut stop = self.shared.stop.subscribe();
        let mut buf = vec![0u8; 2048];
        let reason = loop {
            if let Err(reason) = self.pump(&mut stream).await {
                break reason;
            }
            if self.registered.is_none()
                && self.claimed.is_some()
                && let Some(reason) = self.try_register(&mut sender)
            {
                break reason;
            }
            let mut wake = self
                .session
                .poll_at()
                .map(|t| tokio_instant(self.shared.base, t));
            if self.registered.is_none() {
                if tokio::time::Instant::now() >= login_deadline {
                    self.shared
                        .counters
                        .login_timeouts
                        .fetch_add(1, Ordering::Relaxed);
                    break DisconnectReason::LoginTimeout;
                }
                wake = Some(wake.map_or(login_deadline, |w| w.min(login_deadline)));
            }
            let wake =
                wake.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                read = stream.read(&mut buf) => match read {
                    Ok(0) => break DisconnectReason::Closed,
                    Err(e) => break DisconnectReason::Io(e.kind()),
                    Ok(n) => {
                        self.shared.counters.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                        let now = instant_since(self.shared.base);
                        let bytes = buf.get(..n).unwrap_or(&[]);
                        let profile = config.master.profile;
                        let events = &mut self.events;
                        let counters = &self.shared.counters;
                        self.session.on_bytes(now, bytes, &mut |e| collect(e, events, counters, &profile));
                        if let Err(reason) = self.handle() {
                            break reason;
                        }
                    }
                },
                // Taken only while the waiting line has room: callers beyond it wait on the
                // bounded channel instead of growing memory here.
                command = commands.recv(),
                    if self.registered.is_some() && self.waiting.len() < config.queue.max(1) =>
                match command {
                    Some(command) => self.waiting.push_back(command),
                    None => break DisconnectReason::Replaced,
                },
                () = tokio::time::sleep_until(wake) => {}
                _ = stop.wait_for(|stop| *stop) => break DisconnectReason::Shutdown,
            }
        };
        drop(commands);
        self.close(reason).await;
    }

    /// Registers the connection once the terminal may be reached; `Some` to close.
    fn try_register(
        &mut self,
        sender: &mut Option<mpsc::Sender<Command>>,
    ) -> Option<DisconnectReason> {
        let terminal = self.claimed?;
        let ready = match self.shared.config.master.identity {
            IdentityPolicy::NotChecked => true,
            IdentityPolicy::Required => {
                self.session.identity() == amikit_gdw376::session::master::IdentityState::Proven
            }
        };
        if !ready {
            return None;
        }
        let sender = sender.take()?;
        if let Ok(mut registry) = self.shared.registry.lock() {
            // Replacing the sender of an older connection ends its command stream.
            registry.insert(terminal, sender);
        }
        self.registered = Some(terminal);
        info!(%terminal, "terminal registered");
        self.shared.emit(FrontEndEvent::Registered { terminal });
        None
    }

    /// Runs the session's timers, sends queued requests, writes what is due.
    async fn pump(&mut self, stream: &mut TcpStream) -> Result<(), DisconnectReason> {
        loop {
            let issued = self.issue();
            let now = instant_since(self.shared.base);
            let profile = self.shared.config.master.profile;
            let events = &mut self.events;
            let counters = &self.shared.counters;
            let n = self.session.poll(now, &mut self.out, &mut |e| {
                collect(e, events, counters, &profile)
            });
            self.handle()?;
            if n > 0 {
                let bytes = self.out.get(..n).unwrap_or(&[]);
                match tokio::time::timeout(
                    self.shared.config.write_timeout,
                    stream.write_all(bytes),
                )
                .await
                {
                    Ok(Ok(())) => {
                        self.shared
                            .counters
                            .bytes_out
                            .fetch_add(n as u64, Ordering::Relaxed);
                    }
                    Ok(Err(e)) => return Err(DisconnectReason::Io(e.kind())),
                    Err(_) => {
                        self.shared
                            .counters
                            .write_timeouts
                            .fetch_add(1, Ordering::Relaxed);
                        return Err(DisconnectReason::WriteTimeout);
                    }
                }
            }
            if n == 0 && !issued {
                return Ok(());
            }
        }
    }

    /// Hands waiting commands to the session while it has room; true when one was issued.
    fn issue(&mut self) -> bool {
        let mut issued = false;
        while let Some(command) = self.waiting.pop_front() {
            let now = instant_since(self.shared.base);
            // Calendar time as an input before every request (Tp); none: refused (NoClock).
            if let Some(wall) = wall(&self.shared.config.clock) {
                self.session.set_wall_clock(now, wall);
            }
            self.session.set_tp_delay_min(self.tp_delay(command.afn));
            let request = Request {
                afn: command.afn,
                units: &command.units,
                con: command.con,
            };
            match self.session.request(now, &request) {
                Ok(id) => {
                    self.shared
                        .counters
                        .requests
                        .fetch_add(1, Ordering::Relaxed);
                    command.span.in_scope(|| debug!(?id, "request sent"));
                    self.pending.insert(id, (command.afn, command.reply));
                    issued = true;
                }
                Err(RequestError::Busy) => {
                    self.waiting.push_front(command);
                    break;
                }
                Err(e) => {
                    let _ = command.reply.send(Err(Error::Request(e)));
                }
            }
        }
        issued
    }

    /// The Tp delay of a request of `afn`: the command delay when it carries PW.
    fn tp_delay(&self, afn: Afn) -> Option<u8> {
        let config = &self.shared.config;
        if config
            .master
            .profile
            .pw_len(afn, amikit_gdw376::Direction::Down)
            > 0
        {
            config.master.tp_delay_min
        } else {
            config.read_tp_delay_min
        }
    }

    /// Acts on the collected session events.
    fn handle(&mut self) -> Result<(), DisconnectReason> {
        let events = std::mem::take(&mut self.events);
        let mut result = Ok(());
        for event in events {
            let terminal = self.claimed;
            match event {
                Ev::Login(address) => {
                    if !self.shared.config.terminals.admit(&address) {
                        warn!(terminal = %address, "login refused by the registry");
                        self.shared.emit(FrontEndEvent::Login {
                            terminal: address,
                            peer: self.peer,
                        });
                        result = Err(DisconnectReason::NotAdmitted);
                        continue;
                    }
                    if self.claimed != Some(address) {
                        let state = self.shared.config.terminals.resume(&address);
                        if let Some(pfc) = state.pfc {
                            self.session.set_pfc(pfc);
                        }
                        if let Some(pointer) = state.event_pointer {
                            self.session.set_event_pointer(pointer);
                        }
                    }
                    self.claimed = Some(address);
                    self.shared.emit(FrontEndEvent::Login {
                        terminal: address,
                        peer: self.peer,
                    });
                    if self.registered.is_some_and(|r| r != address) {
                        // One connection, one terminal.
                        result = Err(DisconnectReason::ProofFailed);
                    } else if self.shared.config.master.identity == IdentityPolicy::Required {
                        self.challenge();
                    }
                }
                Ev::Proven => debug!("identity proven"),
                Ev::ProofFailed(error) => {
                    if let Some(terminal) = terminal {
                        warn!(%terminal, %error, "identity proof failed");
                        self.shared
                            .emit(FrontEndEvent::ProofFailed { terminal, error });
                    }
                    result = Err(DisconnectReason::ProofFailed);
                }
                Ev::Logout => {
                    self.emit_for(terminal, |terminal| FrontEndEvent::Logout { terminal })
                }
                Ev::Heartbeat => {
                    self.emit_for(terminal, |terminal| FrontEndEvent::Heartbeat { terminal });
                }
                Ev::Online => {
                    self.emit_for(terminal, |terminal| FrontEndEvent::Online { terminal })
                }
                Ev::Offline => {
                    self.emit_for(terminal, |terminal| FrontEndEvent::Offline { terminal });
                }
                Ev::Complete {
                    id,
                    afn,
                    units,
                    confirmed,
                } => {
                    if let Some((request, reply)) = self.pending.remove(&id) {
                        if let (Some(terminal), Some(confirmed)) = (terminal, confirmed) {
                            self.shared.emit(FrontEndEvent::Confirmation {
                                terminal,
                                request,
                                confirmed,
                            });
                        }
                        let _ = reply.send(Ok(Response {
                            afn,
                            units,
                            confirmed,
                        }));
                    }
                }
                Ev::Failed(id) => {
                    self.shared
                        .counters
                        .request_timeouts
                        .fetch_add(1, Ordering::Relaxed);
                    if let Some((_, reply)) = self.pending.remove(&id) {
                        let config = self.shared.config.master;
                        let _ = reply.send(Err(Error::Timeout {
                            timeout: config.response_timeout,
                            attempts: config.retries.saturating_add(1),
                        }));
                    }
                }
                Ev::Denied(id) => {
                    if let Some((request, reply)) = self.pending.remove(&id) {
                        if let Some(terminal) = terminal {
                            self.shared.emit(FrontEndEvent::Confirmation {
                                terminal,
                                request,
                                confirmed: false,
                            });
                        }
                        let _ = reply.send(Err(Error::Denied));
                    }
                }
                Ev::Report { afn, units } => {
                    self.emit_for(terminal, |terminal| FrontEndEvent::Report {
                        terminal,
                        afn,
                        units,
                    })
                }
                Ev::Events(units) => {
                    self.emit_for(terminal, |terminal| FrontEndEvent::Events {
                        terminal,
                        units,
                    });
                }
                Ev::Rejected(error) => {
                    self.shared
                        .emit(FrontEndEvent::Rejected { terminal, error });
                }
            }
        }
        result
    }

    fn emit_for(&self, terminal: Option<Address>, event: impl FnOnce(Address) -> FrontEndEvent) {
        if let Some(terminal) = terminal {
            self.shared.emit(event(terminal));
        }
    }

    /// Sends the identity challenge (AFN 06 F1) with fresh random bytes.
    fn challenge(&mut self) {
        let mut challenge = [0u8; CHALLENGE_LEN];
        if let Err(e) = getrandom::fill(&mut challenge) {
            warn!(error = %e, "no random numbers for an identity challenge");
            return;
        }
        let now = instant_since(self.shared.base);
        if let Some(wall) = wall(&self.shared.config.clock) {
            self.session.set_wall_clock(now, wall);
        }
        self.session
            .set_tp_delay_min(self.tp_delay(Afn::AUTHENTICATION));
        let Ok(mut key) = self.identity.lock() else {
            return;
        };
        if let Err(e) = self.session.start_identity_check(now, challenge, &mut *key) {
            warn!(error = %e, "identity challenge not sent");
            if let (RequestError::Identity(error), Some(terminal)) = (e, self.claimed) {
                self.shared
                    .emit(FrontEndEvent::ProofFailed { terminal, error });
            }
        }
    }

    async fn close(mut self, reason: DisconnectReason) {
        if let Some(terminal) = self.registered {
            self.shared.config.terminals.suspend(
                &terminal,
                SessionState {
                    pfc: Some(self.session.pfc()),
                    event_pointer: self.session.event_pointer(),
                },
            );
        }
        // Only our own entry (its receiver is gone): a newer connection may have replaced it.
        if let Some(terminal) = self.registered
            && let Ok(mut registry) = self.shared.registry.lock()
            && registry.get(&terminal).is_some_and(|s| s.is_closed())
        {
            registry.remove(&terminal);
        }
        for (_, (_, reply)) in self.pending.drain() {
            let _ = reply.send(Err(Error::Closed));
        }
        for command in self.waiting.drain(..) {
            let _ = command.reply.send(Err(Error::Closed));
        }
        debug!(?reason, "connection closed");
        self.shared.emit(FrontEndEvent::Disconnected {
            terminal: self.claimed,
            peer: self.peer,
            reason,
        });
    }
}

fn collect(event: MasterEvent<'_>, events: &mut Vec<Ev>, counters: &Counters, profile: &Profile) {
    let frame = !matches!(
        event,
        MasterEvent::Online
            | MasterEvent::Offline
            | MasterEvent::Timeout(_)
            | MasterEvent::Overflow(_)
    );
    if frame {
        counters.frames_in.fetch_add(1, Ordering::Relaxed);
    }
    let ev = match event {
        MasterEvent::Login(a) => Ev::Login(a),
        MasterEvent::Logout => Ev::Logout,
        MasterEvent::Heartbeat => Ev::Heartbeat,
        MasterEvent::Online => Ev::Online,
        MasterEvent::Offline => Ev::Offline,
        MasterEvent::Proven => Ev::Proven,
        MasterEvent::ProofFailed(e) => Ev::ProofFailed(e),
        MasterEvent::Complete { id, afn, units } => {
            let confirmed = (afn == Afn::CONFIRM)
                .then(|| confirmation(units, profile))
                .flatten();
            Ev::Complete {
                id,
                afn,
                units: units.to_vec(),
                confirmed,
            }
        }
        MasterEvent::Timeout(id) | MasterEvent::Overflow(id) => Ev::Failed(id),
        // AFN 00 F2, all denied (a refused command, no data, a stale Tp or a bad PW): the
        // request fails at once as denied instead of timing out.
        MasterEvent::Denied(id) => Ev::Denied(id),
        MasterEvent::Report(r) => Ev::Report {
            afn: r.afn,
            units: r.units.to_vec(),
        },
        MasterEvent::Events(r) => Ev::Events(r.units.to_vec()),
        MasterEvent::Rejected(e) => Ev::Rejected(e),
        MasterEvent::Response { .. } | MasterEvent::Duplicate | MasterEvent::Unmatched(_) => {
            return;
        }
    };
    events.push(ev);
}

/// Whether an AFN 00 response confirms every item (Q/GDW 1376.1-2013 AFN 00H: F1 all
/// confirmed, F2 all denied, F3 per item).
fn confirmation(units: &[u8], profile: &Profile) -> Option<bool> {
    use amikit_gdw376::units::{ItemResults, Reader, read_options};
    let walk = Units::new(units, Afn::CONFIRM, amikit_gdw376::Direction::Up, profile);
    for item in walk {
        if let amikit_gdw376::Item::Unit(unit) = item {
            match unit.fn_.0 {
                1 => return Some(true),
                2 => return Some(false),
                3 => {
                    let mut reader = Reader::new(unit.data, read_options(profile));
                    let items = ItemResults::parse(&mut reader).ok()?;
                    return Some(items.iter().all(|i| i.ok()));
                }
                _ => {}
            }
        }
    }
    None
}
