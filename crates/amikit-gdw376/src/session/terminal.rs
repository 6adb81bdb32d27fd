//! The terminal (concentrator) side of a session (Q/GDW 1376.1-2013: AFN 02H link interface check, AFN 00H confirmation).
//!
//! ```text
//! connected(now) ─▶ LoggingIn ──(AFN 00 confirm)──▶ Online ──logout()──▶ LoggingOut ─▶ Disconnected
//!                      │ no confirm after `retries`       │ heartbeat unanswered after `retries`
//!                      └──▶ LoginFailed ─▶ Disconnected   └──▶ LinkLost ─▶ Disconnected
//! ```
//!
//! Requests from the master are answered through a [`RequestHandler`]: reads (AFN 09, 0A, 0C,
//! 0D, 0E, 0F, 10) with data units (split into several frames with FIR/FIN when longer than
//! `max_units_per_frame` bytes), commands (AFN 01, 04, 05) with AFN 00 F1 (all confirmed),
//! F2 (all denied) or F3 (per item). PW is verified through the [`MacProvider`], Tp through a
//! [`ReplayGuard`] of `GUARD` open windows once a wall clock is set; a repeated request (the
//! same bytes) gets the previous response again instead of being executed twice, from a cache
//! of the last exchanges that fit in `REPEAT` bytes (repeat detection comes after PW
//! verification).
//!
//! A request refused for security — PW that does not verify, Tp missing where required, stale,
//! replayed, unverifiable, or a guard with no free window — is answered with AFN 00 F2
//! "all denied" (Q/GDW 1376.1-2013, application layer, confirmation/denial AFN 00H: F2 denies
//! every data unit of the frame received), echoing the request's Tp so that the master can tell which request
//! was denied. At most [`TerminalConfig::denials_max`] denials go out per
//! [`TerminalConfig::denials_window`]; beyond that a refusal is silent (a flood of junk does
//! not make the terminal transmit a flood).
//!
//! RAM: the replay guard costs 16 bytes per window (`GUARD`), the repeat cache `REPEAT` bytes.

use crate::address::Address;
use crate::afn::Afn;
use crate::auxiliary::{Ec, Tp};
use crate::builder::FrameBuilder;
use crate::control::{Control, Direction};
use crate::dadt::{DaDt, InfoClass, Pn};
use crate::deframer::Deframer;
use crate::error::{ParseError, SecurityError};
use crate::frame::{Frame, Repr};
use crate::identity::{CHALLENGE_LEN, IdentityKey, NoIdentity};
use crate::profile::Profile;
use crate::security::{MacProvider, ReplayGuard, ZeroPw, verify_pw};
use crate::seq::Seq;
use core::time::Duration;

use crate::time::{DateTime, Instant};
use crate::units::{ItemResult, ItemResults, Writer};
use crate::walker::Item;

use super::repeat::RepeatCache;
use super::{Backoff, Outbox, WallClock, is_confirmation};

/// When heartbeats are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatMode {
    /// Every period, whatever else was sent (a fixed clock).
    Fixed,
    /// After a period without any frame sent or received.
    AfterSilence,
}

/// Terminal settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TerminalConfig {
    /// This terminal's address (MSA 0).
    pub address: Address,
    /// Dialect.
    pub profile: Profile,
    /// Heartbeat period (AFN 04 F1 last byte, in minutes on the wire).
    pub heartbeat_period: Duration,
    /// Heartbeat policy.
    pub heartbeat: HeartbeatMode,
    /// How long to wait for the master's confirm (AFN 04 F1 timeout).
    pub response_timeout: Duration,
    /// Retransmissions before giving up (AFN 04 F1 retries, max 3).
    pub retries: u8,
    /// Delay before re-dialling after a failure.
    pub reconnect: Backoff,
    /// Largest data-unit region per reply frame; longer replies are split.
    pub max_units_per_frame: usize,
    /// Tp enforcement (Q/GDW 1376.1-2013 §4.3.4.6.3). On (the default): every frame that
    /// carries PW (AFN 01, 04, 05, 06, 0F, 10 — resets, settings, controls, file transfer,
    /// forwarding) must carry a Tp with an expiry (delay ≠ 0), and any Tp is checked against
    /// the calendar time given with [`Terminal::set_wall_clock`]; without one such frames are
    /// refused ([`SecurityError::NoClock`]). Off, for masters that send no Tp: a Tp is checked
    /// only once a calendar time is set, as before.
    pub require_tp: bool,
    /// Tp required on every request, reads (AFN 09, 0A, 0C, 0D, 0E, 10 …) included, not only
    /// on PW-carrying ones: every request a master sends is then replay-checked (size the
    /// terminal's `GUARD` for the requests one Tp window can hold). Off by default.
    pub require_tp_on_reads: bool,
    /// Security denials (AFN 00 F2 for a refused PW or Tp) sent at most per
    /// [`TerminalConfig::denials_window`]; further refusals in the window are silent.
    pub denials_max: u16,
    /// The window of [`TerminalConfig::denials_max`].
    pub denials_window: Duration,
}

impl TerminalConfig {
    /// Defaults: 2009/2013 strict profile, 1-minute heartbeat after silence, 30 s timeout,
    /// 3 retries, re-dial back-off 5 s … 5 min, 1 KiB of units per frame, Tp required on
    /// commands (not on reads), at most 8 security denials a minute.
    #[must_use]
    pub const fn new(address: Address) -> Self {
        TerminalConfig {
            address,
            profile: Profile::STRICT_2013,
            heartbeat_period: Duration::from_secs(60),
            heartbeat: HeartbeatMode::AfterSilence,
            response_timeout: Duration::from_secs(30),
            retries: 3,
            reconnect: Backoff {
                initial: Duration::from_secs(5),
                max: Duration::from_secs(300),
            },
            max_units_per_frame: 1024,
            require_tp: true,
            require_tp_on_reads: false,
            denials_max: 8,
            denials_window: Duration::from_secs(60),
        }
    }
}

/// The link state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No connection.
    Disconnected,
    /// Connected, login sent or about to be.
    LoggingIn,
    /// Logged in.
    Online,
    /// Logout sent.
    LoggingOut,
}

/// Why a request item was not served; the ERR code of an AFN 00 F3 item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No such data / not supported (ERR 1).
    #[error("no such data (ERR 1)")]
    NoData,
    /// Refused (ERR 1).
    #[error("refused (ERR 1)")]
    Denied,
    /// A specific ERR code.
    #[error("refused with ERR code {0}")]
    Error(u8),
}

impl Refusal {
    const fn code(self) -> u8 {
        match self {
            Refusal::NoData | Refusal::Denied => 1,
            Refusal::Error(c) => c,
        }
    }
}

/// One (pn, Fn) item of a master request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRequest<'a> {
    /// The request's AFN.
    pub afn: Afn,
    /// Point.
    pub pn: Pn,
    /// Information class.
    pub fn_: InfoClass,
    /// The item's data (parameters to set, a Td, event pointers, a forwarded frame …).
    pub data: &'a [u8],
    /// The requesting master station.
    pub msa: u8,
    /// The terminal's event counters when the request arrived (EC1 important, EC2 normal):
    /// the header of an AFN 0E reply, whose events run from the request's Pm up to EC.
    pub ec: Ec,
    /// The request's Tp (PFC, send time, allowed delay), when it carried one; it has passed
    /// the terminal's expiry and replay checks. A handler may apply a stricter policy of its
    /// own (e.g. refuse a control older than a minute) with [`ItemRequest::wall`].
    pub tp: Option<Tp>,
    /// The terminal's calendar time when the request arrived, when it has one.
    pub wall: Option<DateTime>,
}

/// Serves master requests. Both methods have safe defaults (refuse).
pub trait RequestHandler {
    /// A read item (AFN 09, 0A, 0C, 0D, 0E, 0F, 10, …): write the unit's data into `out` and
    /// return its length.
    ///
    /// # Errors
    ///
    /// A [`Refusal`]; the item is left out of the reply (all refused → AFN 00 F2).
    fn read(&mut self, req: &ItemRequest<'_>, out: &mut [u8]) -> Result<usize, Refusal> {
        let _ = (req, out);
        Err(Refusal::NoData)
    }
    /// A command item (AFN 01 reset, 04 set, 05 control): execute it.
    ///
    /// # Errors
    ///
    /// A [`Refusal`], reported per item in AFN 00 F3 (or F2 when all fail).
    fn command(&mut self, req: &ItemRequest<'_>) -> Result<(), Refusal> {
        let _ = req;
        Err(Refusal::Denied)
    }
}

/// Why a received frame was not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// It did not parse.
    #[error("the frame did not parse: {0}")]
    Parse(ParseError),
    /// PW or Tp check failed.
    #[error("the frame failed its security check: {0}")]
    Security(SecurityError),
    /// Another terminal's address.
    #[error("the frame is for another terminal")]
    NotForUs,
}

/// What happened, for the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalEvent<'a> {
    /// The master confirmed the login.
    LoggedIn,
    /// Login unanswered or denied; call [`Terminal::disconnected`] and re-dial after
    /// [`Terminal::reconnect_delay`].
    LoginFailed,
    /// A heartbeat was confirmed.
    HeartbeatConfirmed,
    /// Heartbeats went unanswered; drop the connection and re-dial.
    LinkLost,
    /// Logout confirmed (or timed out).
    LoggedOut,
    /// A report sent with CON was confirmed (its PSEQ).
    ReportConfirmed(u8),
    /// A report sent with CON was never confirmed (its PSEQ).
    ReportUnconfirmed(u8),
    /// A request was served (the reply is queued).
    Request(Repr<'a>),
    /// A repeated request: the previous response was queued again.
    Duplicate,
    /// A frame was not served.
    Rejected(Rejection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkKind {
    Login,
    Heartbeat,
    Logout,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    pseq: u8,
    afn: Afn,
    deadline: Instant,
    tries: u8,
}

const REPORT_MAX: usize = 512;
const ITEMS_MAX: usize = 64;

/// Everything except the deframer (so that a received frame can borrow the deframer while
/// the rest is updated).
#[derive(Debug)]
struct Core<M, K, const TX: usize, const GUARD: usize, const REPEAT: usize> {
    cfg: TerminalConfig,
    mac: M,
    identity: K,
    out: Outbox<TX>,
    scratch: [u8; TX],
    state: State,
    pfc: u8,
    link: Option<(LinkKind, Pending)>,
    report: Option<Pending>,
    report_frame: [u8; REPORT_MAX],
    report_len: usize,
    next_heartbeat: Instant,
    last_activity: Instant,
    ec: Ec,
    acd: bool,
    clock: WallClock,
    guard: ReplayGuard<GUARD>,
    repeat: RepeatCache<REPEAT>,
    reconnects: u32,
    /// Start of the current denial window and denials sent in it.
    denial_window: (Instant, u16),
    denials_withheld: u32,
}

/// A terminal session. `RX` bounds a received frame, `TX` the queued output and a reply's
/// data units; `K` answers the master's identity challenge (AFN 06 F1) with this terminal's
/// key; `GUARD` is the number of Tp windows the replay guard holds open (16 bytes each: size
/// it for the requests a master sends within one allowed delay — when all are open a new
/// request is denied); `REPEAT` the bytes of the repeated-request cache (each exchange costs
/// 4 bytes plus its request and reply; size it for the requests in flight).
#[derive(Debug)]
pub struct Terminal<
    M: MacProvider = ZeroPw,
    const RX: usize = 2048,
    const TX: usize = 4096,
    K: IdentityKey = NoIdentity,
    const GUARD: usize = 32,
    const REPEAT: usize = 2048,
> {
    deframer: Deframer<RX>,
    core: Core<M, K, TX, GUARD, REPEAT>,
}

impl<const RX: usize, const TX: usize, const GUARD: usize, const REPEAT: usize>
    Terminal<ZeroPw, RX, TX, NoIdentity, GUARD, REPEAT>
{
    /// A terminal that accepts the all-zero test PW.
    #[must_use]
    pub fn new(cfg: TerminalConfig) -> Self {
        Self::with_mac(cfg, ZeroPw)
    }
}

impl<M: MacProvider, const RX: usize, const TX: usize, const GUARD: usize, const REPEAT: usize>
    Terminal<M, RX, TX, NoIdentity, GUARD, REPEAT>
{
    /// A terminal verifying PW with `mac` (and no identity key: it cannot answer AFN 06).
    #[must_use]
    pub fn with_mac(cfg: TerminalConfig, mac: M) -> Self {
        Terminal::with_keys(cfg, mac, NoIdentity)
    }
}

impl<
    M: MacProvider,
    const RX: usize,
    const TX: usize,
    K: IdentityKey,
    const GUARD: usize,
    const REPEAT: usize,
> Terminal<M, RX, TX, K, GUARD, REPEAT>
{
    /// A terminal verifying PW with `mac` and proving its identity with `identity`.
    #[must_use]
    pub fn with_keys(cfg: TerminalConfig, mac: M, identity: K) -> Self {
        Terminal {
            deframer: Deframer::with_profile(cfg.profile),
            core: Core {
                cfg,
                mac,
                identity,
                out: Outbox::new(),
                scratch: [0; TX],
                state: State::Disconnected,
                pfc: 0,
                link: None,
                report: None,
                report_frame: [0; REPORT_MAX],
                report_len: 0,
                next_heartbeat: Instant(0),
                last_activity: Instant(0),
                ec: Ec::default(),
                acd: false,
                clock: WallClock::default(),
                guard: ReplayGuard::new(),
                repeat: RepeatCache::new(),
                reconnects: 0,
                denial_window: (Instant(0), 0),
                denials_withheld: 0,
            },
        }
    }

    /// The link state.
    #[must_use]
    pub fn state(&self) -> State {
        self.core.state
    }
    /// The settings.
    #[must_use]
    pub fn config(&self) -> &TerminalConfig {
        &self.core.cfg
    }
    /// Changes the heartbeat period (e.g. after AFN 04 F1 was set).
    pub fn set_heartbeat_period(&mut self, period: Duration) {
        self.core.cfg.heartbeat_period = period;
    }
    /// Tells the terminal the local time at `now` (enables Tp expiry / replay checks). May be
    /// called before every `on_bytes` (calendar time as an input).
    pub fn set_wall_clock(&mut self, now: Instant, wall: DateTime) {
        self.core.clock.set(now, wall);
    }
    /// As [`Terminal::set_wall_clock`], with a calendar running `speed` times faster than the
    /// instants (a compressed simulation).
    pub fn set_wall_clock_scaled(&mut self, now: Instant, wall: DateTime, speed: u32) {
        self.core.clock.set_scaled(now, wall, speed);
    }
    /// The event counters reported in EC.
    #[must_use]
    pub fn event_counters(&self) -> Ec {
        self.core.ec
    }
    /// Records a new event: the counters advance; an important event sets ACD until the master
    /// has read events up to EC1.
    pub fn record_event(&mut self, important: bool) {
        if important {
            self.core.ec.important = self.core.ec.important.wrapping_add(1);
            self.core.acd = true;
        } else {
            self.core.ec.normal = self.core.ec.normal.wrapping_add(1);
        }
    }
    /// True while ACD is raised.
    #[must_use]
    pub fn acd(&self) -> bool {
        self.core.acd
    }
    /// Security refusals that were not answered with a denial because
    /// [`TerminalConfig::denials_max`] was reached in their window.
    #[must_use]
    pub fn denials_withheld(&self) -> u32 {
        self.core.denials_withheld
    }
    /// Tp windows the replay guard holds open.
    #[must_use]
    pub fn open_windows(&self) -> usize {
        self.core.guard.open_windows()
    }
    /// Delay before the next dial attempt (grows with each failure, reset by a login).
    #[must_use]
    pub fn reconnect_delay(&self) -> Duration {
        self.core.cfg.reconnect.delay(self.core.reconnects)
    }

    /// The transport is up: log in (on the next [`Terminal::poll`]).
    pub fn connected(&mut self, now: Instant) {
        self.deframer.reset();
        self.core.out.clear();
        self.core.state = State::LoggingIn;
        self.core.link = None;
        self.core.report = None;
        self.core.last_activity = now;
    }
    /// A dial attempt failed before the transport came up: the next
    /// [`Terminal::reconnect_delay`] grows (a login resets it).
    pub fn dial_failed(&mut self) {
        self.core.reconnects = self.core.reconnects.saturating_add(1);
    }
    /// The transport is down.
    pub fn disconnected(&mut self, _now: Instant) {
        // A failure already counted (LoginFailed, LinkLost) left the state Disconnected.
        if matches!(self.core.state, State::LoggingIn | State::LoggingOut) {
            self.core.reconnects = self.core.reconnects.saturating_add(1);
        }
        self.core.state = State::Disconnected;
        self.core.link = None;
        self.core.report = None;
        self.core.out.clear();
        self.deframer.reset();
    }
    /// Sends logout (AFN 02 F2) and waits for its confirm.
    pub fn logout(&mut self, now: Instant) {
        if self.core.state == State::Online {
            self.core.state = State::LoggingOut;
            self.core.send_link(now, LinkKind::Logout, None);
        }
    }

    /// Sends a terminal-initiated report (C = `C4`, e.g. AFN 0E F1 events) whose data-unit
    /// region is `units`. With `con`, it is retransmitted until confirmed; returns its PSEQ.
    /// `None` when not online, when a confirmed report is still pending, or when it does not fit.
    pub fn report(&mut self, now: Instant, afn: Afn, units: &[u8], con: bool) -> Option<u8> {
        let c = &mut self.core;
        if c.state != State::Online || (con && c.report.is_some()) {
            return None;
        }
        c.pfc = c.pfc.wrapping_add(1);
        let pseq = c.pfc & 0x0F;
        let b = FrameBuilder::new(
            &c.cfg.profile,
            Control::TERMINAL_REPORT,
            c.cfg.address,
            afn,
            Seq::single(false, con, pseq),
        )
        .with_ec(c.acd.then_some(c.ec));
        let n = {
            let mut w = b.begin(&mut c.report_frame).ok()?;
            w.raw(units).ok()?;
            w.finish(&mut c.mac).ok()?
        };
        c.report_len = n;
        if !c.out.push(c.report_frame.get(..n)?) {
            return None;
        }
        c.last_activity = now;
        if con {
            c.report = Some(Pending {
                pseq,
                afn,
                deadline: now.saturating_add(c.cfg.response_timeout),
                tries: 0,
            });
        }
        Some(pseq)
    }

    /// The latest instant at which [`Terminal::poll`] must be called.
    #[must_use]
    pub fn poll_at(&self) -> Option<Instant> {
        let c = &self.core;
        let mut t: Option<Instant> = None;
        let mut min = |x: Instant| t = Some(t.map_or(x, |y| y.min(x)));
        if let Some((_, p)) = c.link {
            min(p.deadline);
        }
        if let Some(p) = c.report {
            min(p.deadline);
        }
        if c.state == State::Online && c.link.is_none() {
            min(c.heartbeat_due());
        }
        if c.state == State::LoggingIn && c.link.is_none() {
            min(Instant(0));
        }
        t
    }

    /// Runs the timers (login, heartbeat, retransmissions) and moves queued bytes into `out`;
    /// returns the bytes to send.
    pub fn poll(
        &mut self,
        now: Instant,
        out: &mut [u8],
        events: &mut impl FnMut(TerminalEvent<'_>),
    ) -> usize {
        self.core.timers(now, events);
        self.core.out.pop_into(out)
    }

    /// Feeds received bytes; requests are answered through `handler`, replies queued for
    /// [`Terminal::poll`].
    pub fn on_bytes(
        &mut self,
        now: Instant,
        bytes: &[u8],
        handler: &mut impl RequestHandler,
        events: &mut impl FnMut(TerminalEvent<'_>),
    ) {
        let mut rest = bytes;
        loop {
            let o = self.deframer.push(rest);
            let consumed = o.consumed;
            if let Some(frame) = o.frame {
                self.core.on_frame(now, frame, handler, events);
            }
            rest = rest.get(consumed..).unwrap_or(&[]);
            if o.frame.is_none() {
                break;
            }
        }
    }
}

impl<M: MacProvider, K: IdentityKey, const TX: usize, const GUARD: usize, const REPEAT: usize>
    Core<M, K, TX, GUARD, REPEAT>
{
    fn heartbeat_due(&self) -> Instant {
        match self.cfg.heartbeat {
            HeartbeatMode::Fixed => self.next_heartbeat,
            HeartbeatMode::AfterSilence => {
                self.last_activity.saturating_add(self.cfg.heartbeat_period)
            }
        }
    }

    fn send_link(&mut self, now: Instant, kind: LinkKind, pseq: Option<u8>) {
        let pseq = pseq.unwrap_or_else(|| {
            self.pfc = self.pfc.wrapping_add(1);
            self.pfc & 0x0F
        });
        let fn_ = match kind {
            LinkKind::Login => InfoClass(1),
            LinkKind::Logout => InfoClass(2),
            LinkKind::Heartbeat => InfoClass(3),
        };
        let b = FrameBuilder::new(
            &self.cfg.profile,
            Control::TERMINAL_LINK_TEST,
            self.cfg.address,
            Afn::LINK_TEST,
            Seq::single(false, true, pseq),
        );
        let buf = self.out.reserve();
        let n = b.begin(buf).and_then(|mut w| {
            w.unit(Pn::P0, fn_, &[])?;
            w.finish(&mut ZeroPw)
        });
        if let Ok(n) = n {
            self.out.commit(n);
        }
        let tries = match self.link {
            Some((k, p)) if k == kind && p.pseq == pseq => p.tries.saturating_add(1),
            _ => 0,
        };
        self.link = Some((
            kind,
            Pending {
                pseq,
                afn: Afn::LINK_TEST,
                deadline: now.saturating_add(self.cfg.response_timeout),
                tries,
            },
        ));
        self.last_activity = now;
    }

    fn timers(&mut self, now: Instant, events: &mut impl FnMut(TerminalEvent<'_>)) {
        match (self.state, self.link) {
            (State::LoggingIn, None) => self.send_link(now, LinkKind::Login, None),
            (State::Online, None) if now >= self.heartbeat_due() => {
                self.next_heartbeat = now.saturating_add(self.cfg.heartbeat_period);
                self.send_link(now, LinkKind::Heartbeat, None);
            }
            (_, Some((kind, p))) if now >= p.deadline => {
                if p.tries < self.cfg.retries {
                    // A retransmission keeps PSEQ (Q/GDW 1376.1-2013, SEQ).
                    self.send_link(now, kind, Some(p.pseq));
                } else {
                    self.link = None;
                    match kind {
                        LinkKind::Login => {
                            self.state = State::Disconnected;
                            self.reconnects = self.reconnects.saturating_add(1);
                            events(TerminalEvent::LoginFailed);
                        }
                        LinkKind::Heartbeat => {
                            self.state = State::Disconnected;
                            self.reconnects = self.reconnects.saturating_add(1);
                            events(TerminalEvent::LinkLost);
                        }
                        LinkKind::Logout => {
                            self.state = State::Disconnected;
                            events(TerminalEvent::LoggedOut);
                        }
                    }
                }
            }
            _ => {}
        }
        if let Some(p) = self.report
            && now >= p.deadline
        {
            if p.tries < self.cfg.retries {
                let n = self.report_len;
                if let Some(f) = self.report_frame.get(..n) {
                    self.out.push(f);
                }
                self.report = Some(Pending {
                    deadline: now.saturating_add(self.cfg.response_timeout),
                    tries: p.tries + 1,
                    ..p
                });
            } else {
                self.report = None;
                events(TerminalEvent::ReportUnconfirmed(p.pseq));
            }
        }
    }

    fn on_frame(
        &mut self,
        now: Instant,
        frame: &[u8],
        handler: &mut impl RequestHandler,
        events: &mut impl FnMut(TerminalEvent<'_>),
    ) {
        let profile = self.cfg.profile;
        let f = Frame::new_unchecked(frame);
        let repr = match Repr::parse(&f, &profile) {
            Ok(r) => r,
            Err(e) => return events(TerminalEvent::Rejected(Rejection::Parse(e))),
        };
        if repr.dir() != Direction::Down {
            return;
        }
        let ours = repr.address.same_terminal(&self.cfg.address) || repr.address.is_broadcast();
        if !ours {
            return events(TerminalEvent::Rejected(Rejection::NotForUs));
        }
        if self.cfg.heartbeat == HeartbeatMode::AfterSilence {
            self.last_activity = now;
        }
        if !repr.control.prm() {
            self.on_confirm(now, &repr, events);
            return;
        }
        // PW first (Q/GDW 1376.1-2013 §4.3.4.6.1): nothing below — not even the cached answer
        // to a repeated request — is given to a frame whose PW does not verify.
        let needs_pw = profile.pw_len(repr.afn, Direction::Down) > 0;
        let wall = self.clock.at(now);
        if let Err(e) = self.check_security(&f, &repr, needs_pw, wall) {
            self.deny(now, &repr);
            return events(TerminalEvent::Rejected(Rejection::Security(e)));
        }
        // A repeated request (the same bytes: a retransmission keeps PSEQ, Tp and PW): send the
        // previous response again, do not execute twice.
        let bytes = f.as_bytes();
        if let Some(r) = self.repeat.lookup(bytes) {
            self.out.push(r);
            return events(TerminalEvent::Duplicate);
        }
        if let (Some(tp), Some(wall)) = (repr.tp, wall)
            && let Err(e) = self.guard.check(&wall, repr.address.msa, &tp)
        {
            self.deny(now, &repr);
            return events(TerminalEvent::Rejected(Rejection::Security(e)));
        }
        let before = self.out.len();
        if repr.afn == Afn::AUTHENTICATION {
            self.serve_identity(&repr);
        } else if repr.afn.is_command() {
            self.serve_command(&repr, wall, handler);
        } else {
            self.serve_read(&repr, wall, handler);
        }
        // Cache the response for a repeated request.
        let added = self.out.len().saturating_sub(before);
        self.repeat.insert(bytes, self.out.tail(added));
        events(TerminalEvent::Request(repr));
    }

    /// PW, then Tp's presence and expiry (the replay check comes after the repeat cache).
    fn check_security(
        &mut self,
        f: &Frame<&[u8]>,
        repr: &Repr<'_>,
        needs_pw: bool,
        wall: Option<DateTime>,
    ) -> Result<(), SecurityError> {
        if needs_pw {
            verify_pw(f.user_data(), repr, &mut self.mac)?;
        }
        // Tp: required on commands (PW-carrying AFNs) — on every request with
        // `require_tp_on_reads` — and checked whenever present.
        let required = self.cfg.require_tp && (needs_pw || self.cfg.require_tp_on_reads);
        if required && repr.tp.is_none_or(|t| t.delay_min == 0) {
            return Err(SecurityError::TpRequired);
        }
        if let Some(tp) = repr.tp {
            match wall {
                Some(wall) => {
                    self.guard.check_expiry(&wall, &tp)?;
                }
                None if self.cfg.require_tp => return Err(SecurityError::NoClock),
                None => {}
            }
        }
        Ok(())
    }

    /// Answers a request refused for security with AFN 00 F2 (all denied), unless this
    /// window's allowance of denials is used up (then nothing is sent).
    fn deny(&mut self, now: Instant, req: &Repr<'_>) {
        if req.address.group {
            return;
        }
        let (start, sent) = self.denial_window;
        let (start, sent) =
            if now.saturating_duration_since(start) >= self.cfg.denials_window || now < start {
                (now, 0)
            } else {
                (start, sent)
            };
        if sent >= self.cfg.denials_max {
            self.denial_window = (start, sent);
            self.denials_withheld = self.denials_withheld.saturating_add(1);
            return;
        }
        self.denial_window = (start, sent + 1);
        self.reply_confirm(req, None, &[]);
    }

    fn on_confirm(
        &mut self,
        now: Instant,
        repr: &Repr<'_>,
        events: &mut impl FnMut(TerminalEvent<'_>),
    ) {
        let rseq = repr.seq.seq();
        if let Some((kind, p)) = self.link
            && p.pseq == rseq
            && let Some(ok) = is_confirmation(repr, &self.cfg.profile, p.afn)
        {
            self.link = None;
            match (kind, ok) {
                (LinkKind::Login, true) => {
                    self.state = State::Online;
                    self.reconnects = 0;
                    self.next_heartbeat = now.saturating_add(self.cfg.heartbeat_period);
                    events(TerminalEvent::LoggedIn);
                }
                (LinkKind::Login, false) => {
                    self.state = State::Disconnected;
                    self.reconnects = self.reconnects.saturating_add(1);
                    events(TerminalEvent::LoginFailed);
                }
                (LinkKind::Heartbeat, _) => events(TerminalEvent::HeartbeatConfirmed),
                (LinkKind::Logout, _) => {
                    self.state = State::Disconnected;
                    events(TerminalEvent::LoggedOut);
                }
            }
            return;
        }
        if let Some(p) = self.report
            && p.pseq == rseq
            && is_confirmation(repr, &self.cfg.profile, p.afn).is_some()
        {
            self.report = None;
            events(TerminalEvent::ReportConfirmed(p.pseq));
        }
    }

    fn reply_builder(
        &self,
        req: &Repr<'_>,
        afn: Afn,
        control: Control,
        fir: bool,
        fin: bool,
        i: u8,
    ) -> FrameBuilder {
        let seq = Seq::new(
            req.tp.is_some(),
            fir,
            fin,
            false,
            req.seq.seq().wrapping_add(i),
        );
        let addr = self.cfg.address.with_msa(req.address.msa);
        FrameBuilder::new(&self.cfg.profile, control, addr, afn, seq)
            .with_tp(req.tp)
            .with_ec(self.acd.then_some(self.ec))
    }

    /// AFN 00 reply: F1 when `items` is `Some` and all are confirmed, F2 when `None` or all
    /// denied, F3 otherwise.
    fn reply_confirm(&mut self, req: &Repr<'_>, items: Option<&[ItemResult]>, _extra: &[u8]) {
        if req.address.group {
            return;
        }
        let all_ok = items.is_some_and(|i| i.iter().all(ItemResult::ok));
        let none_ok = items.is_none_or(|i| !i.iter().any(ItemResult::ok));
        let (control, fn_) = if all_ok {
            (Control::TERMINAL_CONFIRM, InfoClass(1))
        } else if none_ok {
            (Control::TERMINAL_DENY, InfoClass(2))
        } else {
            (Control::TERMINAL_CONFIRM, InfoClass(3))
        };
        let b = self.reply_builder(req, Afn::CONFIRM, control, true, true, 0);
        let afn = req.afn;
        let buf = self.out.reserve();
        let n = b.begin(buf).and_then(|mut w| {
            if fn_.0 == 3 {
                w.group_with(DaDt::single(Pn::P0, fn_)?, |out| {
                    let mut wr = Writer::new(out);
                    ItemResults::write(&mut wr, afn, items.unwrap_or(&[]).iter().copied())?;
                    Ok(wr.pos())
                })?;
            } else {
                w.unit(Pn::P0, fn_, &[])?;
            }
            w.finish(&mut ZeroPw)
        });
        if let Ok(n) = n {
            self.out.commit(n);
        }
    }

    /// AFN 06 F1 (identity challenge, p0, 16 bytes): answers AFN 06 F2 with this terminal's
    /// proof (see [`crate::identity`]); anything else, or no key, is denied (AFN 00 F2).
    fn serve_identity(&mut self, req: &Repr<'_>) {
        let challenge = req.units(&self.cfg.profile).find_map(|i| match i {
            Item::Unit(u) if u.pn == Pn::P0 && u.fn_ == InfoClass(1) => {
                <[u8; CHALLENGE_LEN]>::try_from(u.data).ok()
            }
            _ => None,
        });
        let mut answer = [0u8; CHALLENGE_LEN];
        let ok = challenge.is_some_and(|c| {
            self.identity
                .answer(&self.cfg.address.with_msa(0), &c, &mut answer)
                .is_ok()
        });
        if !ok || req.address.group {
            self.reply_confirm(req, None, &[]);
            return;
        }
        let b = self.reply_builder(
            req,
            Afn::AUTHENTICATION,
            Control::TERMINAL_DATA,
            true,
            true,
            0,
        );
        let buf = self.out.reserve();
        let n = b.begin(buf).and_then(|mut w| {
            w.unit(Pn::P0, InfoClass(2), &answer)?;
            w.finish(&mut self.mac)
        });
        if let Ok(n) = n {
            self.out.commit(n);
        }
    }

    fn serve_command(
        &mut self,
        req: &Repr<'_>,
        wall: Option<DateTime>,
        handler: &mut impl RequestHandler,
    ) {
        let mut results = [ItemResult {
            dadt: DaDt::default(),
            err: 0,
        }; ITEMS_MAX];
        let mut n = 0usize;
        for item in req.units(&self.cfg.profile) {
            let (pn, fn_, data) = match item {
                Item::Unit(u) => (u.pn, u.fn_, Some(u.data)),
                Item::Opaque(o) => match o.at {
                    Some((pn, fn_)) => (pn, fn_, None),
                    None => break,
                },
                Item::Filler(_) => break,
            };
            let err = match data {
                Some(data) => {
                    let r = ItemRequest {
                        afn: req.afn,
                        pn,
                        fn_,
                        data,
                        msa: req.address.msa,
                        ec: self.ec,
                        tp: req.tp,
                        wall,
                    };
                    handler.command(&r).map_or_else(Refusal::code, |()| 0)
                }
                None => 1,
            };
            if let (Some(slot), Ok(dadt)) = (results.get_mut(n), DaDt::single(pn, fn_)) {
                *slot = ItemResult { dadt, err };
                n += 1;
            }
        }
        let items = results.get(..n).unwrap_or(&[]);
        self.reply_confirm(req, (!items.is_empty()).then_some(items), &[]);
    }

    fn serve_read(
        &mut self,
        req: &Repr<'_>,
        wall: Option<DateTime>,
        handler: &mut impl RequestHandler,
    ) {
        // Collect reply units into scratch, remembering where each ends.
        let mut ends = [0usize; ITEMS_MAX];
        let mut count = 0usize;
        let mut pos = 0usize;
        let profile = self.cfg.profile;
        for item in req.units(&profile) {
            let Item::Unit(u) = item else { break };
            let r = ItemRequest {
                afn: req.afn,
                pn: u.pn,
                fn_: u.fn_,
                data: u.data,
                msa: req.address.msa,
                ec: self.ec,
                tp: req.tp,
                wall,
            };
            let Ok(dadt) = DaDt::single(u.pn, u.fn_) else {
                continue;
            };
            let Some(dst) = self.scratch.get_mut(pos..) else {
                break;
            };
            let Some((head, body)) = dst.split_first_chunk_mut::<4>() else {
                break;
            };
            if let Ok(n) = handler.read(&r, body) {
                head.copy_from_slice(&dadt.to_bytes());
                pos += 4 + n.min(body.len());
                if let Some(e) = ends.get_mut(count) {
                    *e = pos;
                    count += 1;
                } else {
                    break;
                }
                // Reading the important events up to EC1 clears ACD.
                if req.afn == Afn::CLASS3
                    && u.fn_ == InfoClass(1)
                    && u.data.get(1) == Some(&self.ec.important)
                {
                    self.acd = false;
                }
            }
        }
        if count == 0 {
            self.reply_confirm(req, None, &[]);
            return;
        }
        if req.address.group {
            return;
        }
        // Split into frames of at most `max_units_per_frame` bytes of units.
        let max = self.cfg.max_units_per_frame.max(1);
        let mut frames = [(0usize, 0usize); ITEMS_MAX];
        let mut nf = 0usize;
        let mut start = 0usize;
        let mut prev = 0usize;
        for &end in ends.get(..count).unwrap_or(&[]) {
            if end - start > max && prev > start {
                if let Some(f) = frames.get_mut(nf) {
                    *f = (start, prev);
                    nf += 1;
                }
                start = prev;
            }
            prev = end;
        }
        if let Some(f) = frames.get_mut(nf) {
            *f = (start, prev);
            nf += 1;
        }
        for (i, &(s, e)) in frames.get(..nf).unwrap_or(&[]).iter().enumerate() {
            let b = self.reply_builder(
                req,
                req.afn,
                Control::TERMINAL_DATA,
                i == 0,
                i + 1 == nf,
                (i % 16) as u8,
            );
            let units = self.scratch.get(s..e).unwrap_or(&[]);
            let buf = self.out.reserve();
            let n = b.begin(buf).and_then(|mut w| {
                w.raw(units)?;
                w.finish(&mut ZeroPw)
            });
            if let Ok(n) = n {
                self.out.commit(n);
            }
        }
    }
}

/// Builds the AFN 00 F1 "all confirmed" acknowledgement a master sends to a login / heartbeat
/// (C = `0B`, SEQ = `60 | RSEQ`, p0 F1, MSA 0; the AFN 00H F1 all-confirm).
///
/// # Errors
///
/// [`crate::EncodeError`].
pub fn link_ack(
    out: &mut [u8],
    profile: &Profile,
    terminal: Address,
    rseq: u8,
) -> Result<usize, crate::EncodeError> {
    let b = FrameBuilder::new(
        profile,
        Control::MASTER_LINK_ACK,
        terminal.with_msa(0),
        Afn::CONFIRM,
        Seq::single(false, false, rseq),
    );
    let mut w = b.begin(out)?;
    w.unit(Pn::P0, InfoClass(1), &[])?;
    w.finish(&mut ZeroPw)
}
