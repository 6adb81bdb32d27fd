//! A terminal (concentrator) around [`Terminal`]: dials the master station, logs in,
//! heartbeats, answers requests through a [`RequestHandler`], sends reports, and re-dials with
//! the session's back-off when the link fails (Q/GDW 1376.1-2013 AFN 02H link interface).

use std::io;
use std::time::Duration;

use amikit_gdw376::Afn;
use amikit_gdw376::identity::IdentityKey;
use amikit_gdw376::security::MacProvider;
use amikit_gdw376::session::terminal::{Rejection, RequestHandler, State, Terminal, TerminalEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, debug_span, info, warn};

use super::link::{instant_since, tokio_instant, wall};
use crate::clock::WallClock;

/// Driver settings.
#[non_exhaustive]
#[derive(Clone)]
pub struct DriverConfig {
    /// The master station (`host:port`).
    pub master: String,
    /// Time a dial attempt may take.
    pub dial_timeout: Duration,
    /// Time the master has to take a frame we write.
    pub write_timeout: Duration,
    /// The calendar time Tp is checked against.
    pub clock: WallClock,
    /// Events buffered for the consumer; beyond, they are dropped.
    pub event_buffer: usize,
}

impl DriverConfig {
    /// Dial `master` with a 10 s dial timeout, 10 s write timeout, China Standard Time and
    /// 256 buffered events.
    pub fn new(master: impl Into<String>) -> Self {
        DriverConfig {
            master: master.into(),
            dial_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            clock: crate::clock::system_clock(crate::clock::CHINA_STANDARD_TIME),
            event_buffer: 256,
        }
    }
}

impl std::fmt::Debug for DriverConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverConfig")
            .field("master", &self.master)
            .field("dial_timeout", &self.dial_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("event_buffer", &self.event_buffer)
            .finish_non_exhaustive()
    }
}

/// What the driver did.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverEvent {
    /// The TCP connection is up (login follows).
    Connected,
    /// A dial attempt failed; the next one follows after `retry_in`.
    DialFailed {
        /// The error's kind.
        error: io::ErrorKind,
        /// The back-off before the next attempt.
        retry_in: Duration,
    },
    /// The master confirmed the login.
    LoggedIn,
    /// The login went unanswered or was denied.
    LoginFailed,
    /// A heartbeat was confirmed.
    HeartbeatConfirmed,
    /// Heartbeats went unanswered: the link is dropped.
    LinkLost,
    /// A request of this AFN was served.
    Request(Afn),
    /// A repeated request was answered again.
    Duplicate,
    /// A frame was not served.
    Rejected(Rejection),
    /// A report sent with CON was confirmed (its PSEQ).
    ReportConfirmed(u8),
    /// A report sent with CON was never confirmed (its PSEQ).
    ReportUnconfirmed(u8),
    /// The connection ended; the next dial follows after `retry_in`.
    Disconnected {
        /// The back-off before the next attempt.
        retry_in: Duration,
    },
}

enum Command {
    Report {
        afn: Afn,
        units: Vec<u8>,
        con: bool,
        reply: oneshot::Sender<Option<u8>>,
    },
    RecordEvent {
        important: bool,
    },
}

/// A running terminal. Dropping it stops the terminal (the connection is closed).
#[derive(Debug)]
pub struct TerminalDriver {
    commands: mpsc::Sender<Command>,
    task: JoinHandle<()>,
}

impl Drop for TerminalDriver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TerminalDriver {
    /// Starts `terminal` (its address, keys and timers configured) serving requests with
    /// `handler`; returns the driver and its event stream. Must be called inside a tokio
    /// runtime.
    pub fn spawn<
        M,
        K,
        H,
        const RX: usize,
        const TX: usize,
        const GUARD: usize,
        const REPEAT: usize,
    >(
        terminal: Terminal<M, RX, TX, K, GUARD, REPEAT>,
        handler: H,
        config: DriverConfig,
    ) -> (TerminalDriver, mpsc::Receiver<DriverEvent>)
    where
        M: MacProvider + Send + 'static,
        K: IdentityKey + Send + 'static,
        H: RequestHandler + Send + 'static,
    {
        let (commands, queue) = mpsc::channel(16);
        let (events, stream) = mpsc::channel(config.event_buffer.max(1));
        let address = terminal.config().address;
        let span = debug_span!("gdw376_terminal", terminal = %address);
        let run = Runner {
            terminal: Box::new(terminal),
            handler,
            config,
            events,
            base: tokio::time::Instant::now(),
            collected: Vec::new(),
        };
        let task = tokio::spawn(run.run(queue).instrument(span));
        (TerminalDriver { commands, task }, stream)
    }

    /// Sends a report (e.g. AFN 0E F1 events) when online; with `con` it is retransmitted until
    /// the master confirms ([`DriverEvent::ReportConfirmed`]). Returns its PSEQ, `None` when
    /// offline, when a confirmed report is still pending, or when it does not fit.
    pub async fn report(&self, afn: Afn, units: &[u8], con: bool) -> Option<u8> {
        let (reply, rx) = oneshot::channel();
        let command = Command::Report {
            afn,
            units: units.to_vec(),
            con,
            reply,
        };
        self.commands.send(command).await.ok()?;
        rx.await.ok().flatten()
    }

    /// Counts an event in the terminal's event counters (EC); an important one raises ACD so
    /// that the master pulls it.
    pub async fn record_event(&self, important: bool) {
        let _ = self.commands.send(Command::RecordEvent { important }).await;
    }
}

struct Runner<
    M: MacProvider,
    K: IdentityKey,
    H,
    const RX: usize,
    const TX: usize,
    const GUARD: usize,
    const REPEAT: usize,
> {
    terminal: Box<Terminal<M, RX, TX, K, GUARD, REPEAT>>,
    handler: H,
    config: DriverConfig,
    events: mpsc::Sender<DriverEvent>,
    base: tokio::time::Instant,
    collected: Vec<DriverEvent>,
}

impl<
    M: MacProvider,
    K: IdentityKey,
    H: RequestHandler,
    const RX: usize,
    const TX: usize,
    const GUARD: usize,
    const REPEAT: usize,
> Runner<M, K, H, RX, TX, GUARD, REPEAT>
{
    fn emit(&self, event: DriverEvent) {
        let _ = self.events.try_send(event);
    }

    async fn run(mut self, mut queue: mpsc::Receiver<Command>) {
        loop {
            let dial = tokio::time::timeout(
                self.config.dial_timeout,
                TcpStream::connect(&self.config.master),
            )
            .await;
            let stream = match dial {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    self.dial_failed(e.kind(), &mut queue).await;
                    continue;
                }
                Err(_) => {
                    self.dial_failed(io::ErrorKind::TimedOut, &mut queue).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            info!("connected");
            self.emit(DriverEvent::Connected);
            self.terminal.connected(instant_since(self.base));
            let ended = self.session(stream, &mut queue).await;
            self.terminal.disconnected(instant_since(self.base));
            let retry_in = self.terminal.reconnect_delay();
            debug!(?ended, ?retry_in, "disconnected");
            self.emit(DriverEvent::Disconnected { retry_in });
            if !self.back_off(retry_in, &mut queue).await {
                return;
            }
        }
    }

    async fn dial_failed(&mut self, error: io::ErrorKind, queue: &mut mpsc::Receiver<Command>) {
        self.terminal.dial_failed();
        let retry_in = self.terminal.reconnect_delay();
        warn!(?error, ?retry_in, "dial failed");
        self.emit(DriverEvent::DialFailed { error, retry_in });
        let _ = self.back_off(retry_in, queue).await;
    }

    /// Waits `delay` while serving commands (reports are refused offline); false when every
    /// handle is gone.
    async fn back_off(&mut self, delay: Duration, queue: &mut mpsc::Receiver<Command>) -> bool {
        let until = tokio::time::Instant::now() + delay;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(until) => return true,
                command = queue.recv() => match command {
                    Some(command) => self.command(command),
                    None => return false,
                },
            }
        }
    }

    fn command(&mut self, command: Command) {
        let now = instant_since(self.base);
        match command {
            Command::Report {
                afn,
                units,
                con,
                reply,
            } => {
                let pseq = self.terminal.report(now, afn, &units, con);
                let _ = reply.send(pseq);
            }
            Command::RecordEvent { important } => self.terminal.record_event(important),
        }
    }

    fn set_clock(&mut self) {
        if let Some(wall) = wall(&self.config.clock) {
            self.terminal.set_wall_clock(instant_since(self.base), wall);
        }
    }

    /// Runs one connection; returns why it ended.
    async fn session(
        &mut self,
        mut stream: TcpStream,
        queue: &mut mpsc::Receiver<Command>,
    ) -> &'static str {
        let mut buf = vec![0u8; 2048];
        let mut out = vec![0u8; TX.max(1)];
        loop {
            // Timers and queued output.
            loop {
                self.set_clock();
                let now = instant_since(self.base);
                let collected = &mut self.collected;
                let n = self
                    .terminal
                    .poll(now, &mut out, &mut |e| collect(e, collected));
                if let Some(reason) = self.flush_events() {
                    return reason;
                }
                if n == 0 {
                    break;
                }
                let bytes = out.get(..n).unwrap_or(&[]);
                match tokio::time::timeout(self.config.write_timeout, stream.write_all(bytes)).await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return "write failed",
                    Err(_) => return "write timeout",
                }
            }
            if self.terminal.state() == State::Disconnected {
                return "logged out";
            }
            let wake = self
                .terminal
                .poll_at()
                .map(|t| tokio_instant(self.base, t))
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                read = stream.read(&mut buf) => match read {
                    Ok(0) => return "closed by the master",
                    Err(_) => return "read failed",
                    Ok(n) => {
                        self.set_clock();
                        let now = instant_since(self.base);
                        let bytes = buf.get(..n).unwrap_or(&[]);
                        let collected = &mut self.collected;
                        self.terminal.on_bytes(now, bytes, &mut self.handler, &mut |e| collect(e, collected));
                        if let Some(reason) = self.flush_events() {
                            return reason;
                        }
                    }
                },
                command = queue.recv() => match command {
                    Some(command) => self.command(command),
                    None => return "stopped",
                },
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Forwards collected events; `Some` when the link must be dropped.
    fn flush_events(&mut self) -> Option<&'static str> {
        let mut end = None;
        for event in std::mem::take(&mut self.collected) {
            match event {
                DriverEvent::LoginFailed => end = Some("login failed"),
                DriverEvent::LinkLost => end = Some("heartbeats unanswered"),
                _ => {}
            }
            self.emit(event);
        }
        end
    }
}

fn collect(event: TerminalEvent<'_>, out: &mut Vec<DriverEvent>) {
    out.push(match event {
        TerminalEvent::LoggedIn => DriverEvent::LoggedIn,
        TerminalEvent::LoginFailed => DriverEvent::LoginFailed,
        TerminalEvent::HeartbeatConfirmed => DriverEvent::HeartbeatConfirmed,
        TerminalEvent::LinkLost => DriverEvent::LinkLost,
        TerminalEvent::LoggedOut => return,
        TerminalEvent::ReportConfirmed(p) => DriverEvent::ReportConfirmed(p),
        TerminalEvent::ReportUnconfirmed(p) => DriverEvent::ReportUnconfirmed(p),
        TerminalEvent::Request(r) => DriverEvent::Request(r.afn),
        TerminalEvent::Duplicate => DriverEvent::Duplicate,
        TerminalEvent::Rejected(r) => DriverEvent::Rejected(r),
    });
}
