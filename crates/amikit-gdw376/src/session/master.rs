//! The master-station side of one terminal connection (Q/GDW 1376.1-2013: SEQ, multi-frame replies, active reporting, link interface check).
//!
//! One [`MasterSession`] per TCP connection: it learns the terminal's address from its login,
//! acknowledges login and heartbeats (AFN 00 F1, or F3 per item), runs the terminal's identity
//! proof (AFN 06, see [`crate::identity`]) and refuses ordinary requests until it succeeds
//! (unless [`IdentityPolicy::NotChecked`]), tracks online/offline from received frames, sends
//! requests with PFC/PSEQ allocation and Tp (on by default: a calendar time must be given),
//! retransmits on timeout with back-off (keeping PSEQ), confirms frames that ask for it (AFN 00
//! F3 per item), and pulls important events (AFN 0E F1 from its last pointer to EC1) when a
//! terminal raises ACD.
//!
//! # Matching responses (Q/GDW 1376.1-2013 §4.3.4.5)
//!
//! A response's first frame carries RSEQ = the request's PSEQ, each further frame RSEQ + 1
//! (mod 16), FIR on the first and FIN on the last; the terminal echoes the request's Tp. Each
//! outstanding request has its own reassembly buffer. A frame is filed to the request whose
//! echoed PFC it carries (when both have Tp), whose AFN it answers (or AFN 00), and whose RSEQ
//! window (the next four frame numbers) it falls in; FIR must agree with the frame's position
//! when several requests qualify. Frames may arrive reordered (inserted at their place) or
//! duplicated (reported as [`MasterEvent::Duplicate`], not filed twice); a frame that fits no
//! request, or more than one, is reported as [`MasterEvent::Unmatched`], never misfiled.
//! Without Tp, PSEQs are allocated away from the windows of the requests in flight.
//!
//! It stays small and allocation-free: the default instance (4 requests, 2 KiB of reassembly
//! each) is about 14 KiB.

use crate::address::Address;
use crate::afn::Afn;
use crate::auxiliary::Tp;
use crate::builder::FrameBuilder;
use crate::control::{Control, Direction};
use crate::dadt::{DaDt, InfoClass, Pn};
use crate::deframer::Deframer;
use crate::error::{EncodeError, ParseError, SecurityError};
use crate::frame::{Frame, Repr};
use crate::identity::{CHALLENGE_LEN, IdentityKey};
use crate::profile::Profile;
use crate::security::{ForTerminal, TerminalMac, ZeroPw, verify_pw};
use crate::seq::Seq;
use core::time::Duration;

use crate::time::{DateTime, Instant};
use crate::units::{ItemResult, ItemResults, Writer};
use crate::walker::Item;

use super::{Backoff, Outbox, WallClock};

/// How login and heartbeats are acknowledged (AFN 00H F1 or F3; masters in the field send both, terminals must accept both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckStyle {
    /// AFN 00 F1 "all confirmed", C = `0B`.
    AllConfirm,
    /// AFN 00 F3 per item, C = `0B`.
    PerItem,
}

/// Whether ordinary requests wait for the terminal's identity proof (AFN 06).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityPolicy {
    /// After each login the terminal is *unproven* until
    /// [`MasterSession::start_identity_check`] succeeds; requests are refused until then.
    Required,
    /// No proof asked (terminals without AFN 06 support); requests go out after login.
    NotChecked,
}

/// Where the terminal's identity proof stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityState {
    /// Not checked ([`IdentityPolicy::NotChecked`]).
    NotChecked,
    /// Logged in, not (yet) proven.
    Unproven,
    /// Challenge sent, answer awaited.
    Pending,
    /// The answer verified.
    Proven,
    /// The answer did not verify, was denied, or never came.
    Failed,
}

/// Master session settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MasterConfig {
    /// Dialect.
    pub profile: Profile,
    /// This master station's address (MSA, 1–127).
    pub msa: u8,
    /// Wait for a response this long before retransmitting.
    pub response_timeout: Duration,
    /// Retransmissions before a request times out.
    pub retries: u8,
    /// Back-off of the retransmissions (delay before retry n).
    pub backoff: Backoff,
    /// Allowed transmission delay written in Tp (minutes); `None` = no Tp, for terminals that
    /// do not support it. With `Some`, requests need a calendar time
    /// ([`MasterSession::set_wall_clock`]) and are refused without one.
    pub tp_delay_min: Option<u8>,
    /// The terminal's heartbeat period.
    pub heartbeat_period: Duration,
    /// Periods without any frame before the terminal counts as offline.
    pub offline_after: u8,
    /// Login / heartbeat acknowledgement.
    pub ack: AckStyle,
    /// Pull important events (AFN 0E F1) when ACD is raised.
    pub pull_events: bool,
    /// Whether the terminal must prove its identity before ordinary requests.
    pub identity: IdentityPolicy,
}

impl MasterConfig {
    /// Defaults: MSA 1, 30 s timeout, 2 retries (back-off 30 s, 60 s), Tp with 5 min, 1-minute
    /// heartbeat, offline after 3 missed periods, F1 acks, event pulls on, identity proof
    /// required.
    #[must_use]
    pub const fn new(profile: Profile) -> Self {
        MasterConfig {
            profile,
            msa: 1,
            response_timeout: Duration::from_secs(30),
            retries: 2,
            backoff: Backoff {
                initial: Duration::from_secs(30),
                max: Duration::from_secs(120),
            },
            tp_delay_min: Some(5),
            heartbeat_period: Duration::from_secs(60),
            offline_after: 3,
            ack: AckStyle::AllConfirm,
            pull_events: true,
            identity: IdentityPolicy::Required,
        }
    }
}

/// Identifies a request of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u32);

/// A request to send: AFN, its data-unit region (`{DA DT data}*`), and whether the
/// terminal should confirm each frame (CON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// Application function.
    pub afn: Afn,
    /// The data-unit region (see [`write_units`]).
    pub units: &'a [u8],
    /// CON bit.
    pub con: bool,
}

/// Why a request was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The terminal has not logged in (its address is unknown).
    #[error("no terminal has logged in on this connection")]
    NoTerminal,
    /// The terminal has not proven its identity ([`IdentityPolicy::Required`]).
    #[error("the terminal has not proven its identity")]
    Unproven,
    /// Tp is configured but no calendar time was given ([`MasterSession::set_wall_clock`]).
    #[error("Tp is on but the session has no calendar time")]
    NoClock,
    /// All request slots are in use.
    #[error("every request slot is in use")]
    Busy,
    /// The frame does not fit the slot or the output queue.
    #[error("the request does not fit the request slot or the output queue")]
    TooLong,
    /// Encoding failed.
    #[error("encoding the request failed: {0}")]
    Encode(EncodeError),
    /// The identity key could not answer the challenge (no key for this terminal).
    #[error("the identity challenge could not be answered: {0}")]
    Identity(SecurityError),
}

/// What happened on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterEvent<'a> {
    /// The terminal logged in (its address; MSA 0). Its identity is unproven again.
    Login(Address),
    /// The terminal logged out.
    Logout,
    /// A heartbeat arrived.
    Heartbeat,
    /// A frame arrived after the terminal had been offline.
    Online,
    /// No frame for `offline_after` heartbeat periods.
    Offline,
    /// The terminal answered the identity challenge correctly.
    Proven,
    /// The identity proof failed (wrong or replayed answer, deny, bad PW, no answer).
    ProofFailed(SecurityError),
    /// One frame of the response to a request.
    Response {
        /// The request.
        id: RequestId,
        /// The frame.
        frame: Repr<'a>,
        /// Index of the frame in the response (0 for the first).
        index: u8,
    },
    /// A response is complete: its AFN (00 for confirm / deny) and all frames' data units,
    /// in frame order.
    Complete {
        /// The request.
        id: RequestId,
        /// AFN of the response.
        afn: Afn,
        /// The data-unit regions of all frames, in order.
        units: &'a [u8],
    },
    /// The terminal denied the request as a whole (Q/GDW 1376.1-2013, application layer,
    /// confirmation/denial AFN 00H, F2 "all denied"): a command it refused, a read it has no
    /// data for, or a request refused for security (PW that did not verify, Tp stale,
    /// replayed or missing, a full replay guard). Delivered instead of
    /// [`MasterEvent::Complete`].
    Denied(RequestId),
    /// A multi-frame response did not fit the request's reassembly buffer (its frames were
    /// still delivered as [`MasterEvent::Response`]).
    Overflow(RequestId),
    /// No (complete) response after all retries.
    Timeout(RequestId),
    /// A frame the terminal initiated (e.g. AFN 0E events); confirmed if it had CON.
    Report(Repr<'a>),
    /// Events pulled after ACD (the AFN 0E reply).
    Events(Repr<'a>),
    /// A repeated response frame, suppressed.
    Duplicate,
    /// A response matching no request, or more than one: not filed.
    Unmatched(Repr<'a>),
    /// A frame that did not parse.
    Rejected(ParseError),
}

/// Bytes a request slot holds: the largest downlink frame sent — an AFN 0F F1 file segment of
/// 512 data bytes (11-byte segment header, DA/DT 4) with PW 16 and Tp 6 under a 7-byte address
/// is 567 bytes.
pub const SLOT_BYTES: usize = 576;
/// Frames of one response tracked for reordering and duplicates (beyond: overflow).
const MAX_FRAMES: usize = 32;
/// Frame numbers from the next expected one on that a (reordered) frame may have; also the
/// width kept free between the RSEQ windows of requests in flight when there is no Tp.
const WINDOW: u8 = 4;
const RECENT: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Events,
    Identity,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    id: RequestId,
    afn: Afn,
    kind: Kind,
    pseq: u8,
    pfc: Option<u8>,
    tries: u8,
    deadline: Instant,
    /// Frames received in order from index 0 (the next expected index).
    base: u8,
    /// Received frames by index (bit i = frame i).
    present: u32,
    /// Data-unit bytes of frame i (placed in index order in the reassembly buffer).
    lens: [u16; MAX_FRAMES],
    /// Index of the FIN frame, once seen.
    fin: Option<u8>,
    /// AFN of the response (of its first frame received).
    reply_afn: Option<Afn>,
    filled: usize,
    overflow: bool,
    len: usize,
    bytes: [u8; SLOT_BYTES],
}

impl Slot {
    const fn received(&self) -> bool {
        self.present != 0
    }
    /// The index a frame with RSEQ `rseq` has in this response: `Ok(index)` ahead of or at the
    /// next expected frame (within the window), `Err(index)` an earlier one, `None` neither.
    fn index_of(&self, rseq: u8) -> Option<Result<u8, u8>> {
        let expected = self.pseq.wrapping_add(self.base) & 0x0F;
        let offset = rseq.wrapping_sub(expected) & 0x0F;
        if offset < WINDOW {
            Some(Ok(self.base.saturating_add(offset)))
        } else {
            let back = 16 - offset;
            self.base.checked_sub(back).map(Err)
        }
    }
    fn has(&self, index: u8) -> bool {
        u32::from(index) < 32 && self.present & (1 << index) != 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proof {
    Unproven,
    Pending {
        id: RequestId,
        expected: [u8; CHALLENGE_LEN],
    },
    Proven,
    Failed,
}

/// A finished response remembered for duplicate suppression: first RSEQ, frame count, PFC.
type Recent = (u8, u8, Option<u8>);

#[derive(Debug)]
struct Core<M, const TX: usize, const REQ: usize, const REASM: usize> {
    cfg: MasterConfig,
    mac: M,
    out: Outbox<TX>,
    terminal: Option<Address>,
    slots: [Option<Slot>; REQ],
    reasm: [[u8; REASM]; REQ],
    next_id: u32,
    pfc: u8,
    recent: [Option<Recent>; RECENT],
    recent_at: usize,
    last_rx: Instant,
    online: bool,
    event_pointer: Option<u8>,
    clock: WallClock,
    proof: Proof,
}

/// One terminal connection, master side. `RX` bounds a received frame, `TX` queued output,
/// `REQ` outstanding requests, `REASM` the reassembly buffer of each request. `M` computes and
/// checks PW: any [`MacProvider`](crate::security::MacProvider) (one key for every terminal)
/// or a [`TerminalMac`] that picks the key of the terminal logged in on this connection.
#[derive(Debug)]
pub struct MasterSession<
    M: TerminalMac = ZeroPw,
    const RX: usize = 2048,
    const TX: usize = 1024,
    const REQ: usize = 4,
    const REASM: usize = 2048,
> {
    deframer: Deframer<RX>,
    core: Core<M, TX, REQ, REASM>,
}

impl<const RX: usize, const TX: usize, const REQ: usize, const REASM: usize>
    MasterSession<ZeroPw, RX, TX, REQ, REASM>
{
    /// A session sending the all-zero test PW.
    #[must_use]
    pub fn new(cfg: MasterConfig, now: Instant) -> Self {
        Self::with_mac(cfg, ZeroPw, now)
    }
}

impl<M: TerminalMac, const RX: usize, const TX: usize, const REQ: usize, const REASM: usize>
    MasterSession<M, RX, TX, REQ, REASM>
{
    /// A session computing PW with `mac` (given the terminal's address with every frame);
    /// `now` is when the connection was accepted.
    #[must_use]
    pub fn with_mac(cfg: MasterConfig, mac: M, now: Instant) -> Self {
        MasterSession {
            deframer: Deframer::with_profile(cfg.profile),
            core: Core {
                cfg,
                mac,
                out: Outbox::new(),
                terminal: None,
                slots: [None; REQ],
                reasm: [[0; REASM]; REQ],
                next_id: 0,
                pfc: 0,
                recent: [None; RECENT],
                recent_at: 0,
                last_rx: now,
                online: true,
                event_pointer: None,
                clock: WallClock::default(),
                proof: Proof::Unproven,
            },
        }
    }

    /// The terminal's address, once it logged in (or was set).
    #[must_use]
    pub fn terminal(&self) -> Option<Address> {
        self.core.terminal
    }
    /// Sets the terminal's address without a login (e.g. when the master dials out); its
    /// identity is unproven.
    pub fn set_terminal(&mut self, a: Address) {
        self.core.terminal = Some(a.with_msa(0));
        self.core.proof = Proof::Unproven;
    }
    /// Where the next event pull starts: the terminal's Pn after the last events this master
    /// stored (`None`: from 0). Updated by every AFN 0E reply.
    #[must_use]
    pub fn event_pointer(&self) -> Option<u8> {
        self.core.event_pointer
    }
    /// Sets where the next event pull starts, e.g. from the pointer a master station stored
    /// for this terminal before a reconnection or a restart, so that events already stored
    /// are not pulled again.
    pub fn set_event_pointer(&mut self, pn: u8) {
        self.core.event_pointer = Some(pn);
    }
    /// True unless the terminal has been silent for `offline_after` heartbeat periods.
    #[must_use]
    pub fn is_online(&self) -> bool {
        self.core.online
    }
    /// Tells the session the local time at `now` (Tp on requests needs it). May be called
    /// before every call (calendar time as an input).
    pub fn set_wall_clock(&mut self, now: Instant, wall: DateTime) {
        self.core.clock.set(now, wall);
    }
    /// As [`MasterSession::set_wall_clock`], with a calendar running `speed` times faster
    /// than the instants (a compressed simulation).
    pub fn set_wall_clock_scaled(&mut self, now: Instant, wall: DateTime, speed: u32) {
        self.core.clock.set_scaled(now, wall, speed);
    }
    /// Sets the allowed delay written in Tp of the requests sent from now on (`None`: no
    /// Tp); requests already sent keep theirs (retransmissions repeat the frame). A master
    /// gives commands a delay that covers its retransmissions and reads a short one (or
    /// none), so that the terminal's replay guard holds few open windows.
    pub fn set_tp_delay_min(&mut self, delay: Option<u8>) {
        self.core.cfg.tp_delay_min = delay;
    }
    /// The frame counter (PFC) of the last request sent (the next one uses a higher value,
    /// modulo 256).
    #[must_use]
    pub fn pfc(&self) -> u8 {
        self.core.pfc
    }
    /// Continues the frame counter from `last`, e.g. the counter of the terminal's previous
    /// connection: a terminal's replay guard remembers PFCs per master station (MSA) while
    /// their Tp windows are open, so a new connection that started again from 0 would have
    /// its first requests refused as replays.
    pub fn set_pfc(&mut self, last: u8) {
        self.core.pfc = last;
    }
    /// Number of requests waiting for a response.
    #[must_use]
    pub fn outstanding(&self) -> usize {
        self.core.slots.iter().flatten().count()
    }
    /// Where the terminal's identity proof stands.
    #[must_use]
    pub fn identity(&self) -> IdentityState {
        match (self.core.cfg.identity, self.core.proof) {
            (IdentityPolicy::NotChecked, Proof::Unproven) => IdentityState::NotChecked,
            (_, Proof::Unproven) => IdentityState::Unproven,
            (_, Proof::Pending { .. }) => IdentityState::Pending,
            (_, Proof::Proven) => IdentityState::Proven,
            (_, Proof::Failed) => IdentityState::Failed,
        }
    }

    /// Challenges the terminal to prove its identity (AFN 06 F1, p0, see [`crate::identity`]):
    /// `challenge` must be fresh random bytes (the crate draws none); `key` holds this
    /// terminal's identity key and gives the expected answer now, which is kept until the
    /// answer arrives ([`MasterEvent::Proven`] / [`MasterEvent::ProofFailed`]).
    ///
    /// # Errors
    ///
    /// [`RequestError::NoTerminal`], [`RequestError::Identity`] (no key for the terminal), else
    /// as [`MasterSession::request`].
    pub fn start_identity_check(
        &mut self,
        now: Instant,
        challenge: [u8; CHALLENGE_LEN],
        key: &mut impl IdentityKey,
    ) -> Result<RequestId, RequestError> {
        let terminal = self.core.terminal.ok_or(RequestError::NoTerminal)?;
        let mut expected = [0u8; CHALLENGE_LEN];
        key.answer(&terminal.with_msa(0), &challenge, &mut expected)
            .map_err(RequestError::Identity)?;
        let mut units = [0u8; 4 + CHALLENGE_LEN];
        let n = write_units(&mut units, &[(Pn::P0, InfoClass(1), &challenge)])
            .map_err(RequestError::Encode)?;
        // Only one challenge at a time: a new one replaces (and fails) the old.
        for s in self.core.slots.iter_mut() {
            if s.is_some_and(|s| s.kind == Kind::Identity) {
                *s = None;
            }
        }
        let id = self.core.send_request(
            now,
            &Request {
                afn: Afn::AUTHENTICATION,
                units: units.get(..n).unwrap_or(&[]),
                con: false,
            },
            Kind::Identity,
        )?;
        self.core.proof = Proof::Pending { id, expected };
        Ok(id)
    }

    /// Sends a request; its response arrives as [`MasterEvent::Response`] /
    /// [`MasterEvent::Complete`] with the returned id, or [`MasterEvent::Timeout`].
    ///
    /// # Errors
    ///
    /// [`RequestError`]: no terminal, terminal unproven (when required), no calendar time for
    /// Tp, all slots busy, too long.
    pub fn request(&mut self, now: Instant, req: &Request<'_>) -> Result<RequestId, RequestError> {
        if self.core.cfg.identity == IdentityPolicy::Required
            && self.core.terminal.is_some()
            && self.core.proof != Proof::Proven
        {
            return Err(RequestError::Unproven);
        }
        self.core.send_request(now, req, Kind::User)
    }

    /// The latest instant at which [`MasterSession::poll`] must be called.
    #[must_use]
    pub fn poll_at(&self) -> Option<Instant> {
        let c = &self.core;
        let mut t = c.slots.iter().flatten().map(|s| s.deadline).min();
        if c.online {
            let off = c.last_rx.saturating_add(
                c.cfg
                    .heartbeat_period
                    .saturating_mul(u32::from(c.cfg.offline_after)),
            );
            t = Some(t.map_or(off, |x| x.min(off)));
        }
        t
    }

    /// Runs the timers (retransmissions, timeouts, offline detection) and moves queued bytes
    /// into `out`; returns the bytes to send.
    pub fn poll(
        &mut self,
        now: Instant,
        out: &mut [u8],
        events: &mut impl FnMut(MasterEvent<'_>),
    ) -> usize {
        self.core.timers(now, events);
        self.core.out.pop_into(out)
    }

    /// Feeds bytes received from the terminal.
    pub fn on_bytes(
        &mut self,
        now: Instant,
        bytes: &[u8],
        events: &mut impl FnMut(MasterEvent<'_>),
    ) {
        let mut rest = bytes;
        loop {
            let o = self.deframer.push(rest);
            let consumed = o.consumed;
            if let Some(frame) = o.frame {
                self.core.on_frame(now, frame, events);
            }
            rest = rest.get(consumed..).unwrap_or(&[]);
            if o.frame.is_none() {
                break;
            }
        }
    }
}

impl<M: TerminalMac, const TX: usize, const REQ: usize, const REASM: usize>
    Core<M, TX, REQ, REASM>
{
    /// The next PFC. With Tp the echoed PFC tells responses apart; without it, skip PSEQs in
    /// the RSEQ windows of requests in flight (at most 15 tries).
    fn next_pfc(&mut self, with_tp: bool) -> u8 {
        let mut pfc = self.pfc.wrapping_add(1);
        if !with_tp {
            for _ in 0..15 {
                let pseq = pfc & 0x0F;
                let clash = self.slots.iter().flatten().any(|s| {
                    let start = s.pseq.wrapping_add(s.base) & 0x0F;
                    (pseq.wrapping_sub(start) & 0x0F) < WINDOW
                        || (start.wrapping_sub(pseq) & 0x0F) < WINDOW
                });
                if !clash {
                    break;
                }
                pfc = pfc.wrapping_add(1);
            }
        }
        self.pfc = pfc;
        pfc
    }

    fn send_request(
        &mut self,
        now: Instant,
        req: &Request<'_>,
        kind: Kind,
    ) -> Result<RequestId, RequestError> {
        let terminal = self.terminal.ok_or(RequestError::NoTerminal)?;
        let wall = match self.cfg.tp_delay_min {
            Some(delay) => Some((self.clock.at(now).ok_or(RequestError::NoClock)?, delay)),
            None => None,
        };
        let free = self
            .slots
            .iter()
            .position(Option::is_none)
            .ok_or(RequestError::Busy)?;
        let pfc = self.next_pfc(wall.is_some());
        let pseq = pfc & 0x0F;
        let tp = match wall {
            Some((wall, delay)) => Some(
                Tp::new(pfc, crate::format::Format16::from(wall), delay)
                    .map_err(|e| RequestError::Encode(e.into()))?,
            ),
            None => None,
        };
        let control = match req.afn.0 {
            0x01 => Control::MASTER_RESET,
            0x04 | 0x05 | 0x0F | 0x10 => Control::MASTER_COMMAND,
            _ => Control::MASTER_READ,
        };
        let b = FrameBuilder::new(
            &self.cfg.profile,
            control,
            terminal.with_msa(self.cfg.msa),
            req.afn,
            Seq::single(false, req.con, pseq),
        )
        .with_tp(tp);
        let mut slot = Slot {
            id: RequestId(self.next_id),
            afn: req.afn,
            kind,
            pseq,
            pfc: tp.map(|t| t.pfc),
            tries: 0,
            deadline: now.saturating_add(self.cfg.response_timeout),
            base: 0,
            present: 0,
            lens: [0; MAX_FRAMES],
            fin: None,
            reply_afn: None,
            filled: 0,
            overflow: false,
            len: 0,
            bytes: [0; SLOT_BYTES],
        };
        let n = {
            let mut w = b.begin(&mut slot.bytes).map_err(|e| match e {
                EncodeError::BufferTooSmall { .. } => RequestError::TooLong,
                e => RequestError::Encode(e),
            })?;
            w.raw(req.units).map_err(|_| RequestError::TooLong)?;
            w.finish(&mut ForTerminal {
                keys: &mut self.mac,
                terminal: terminal.with_msa(0),
            })
            .map_err(|e| match e {
                EncodeError::BufferTooSmall { .. } => RequestError::TooLong,
                e => RequestError::Encode(e),
            })?
        };
        slot.len = n;
        if !self.out.push(slot.bytes.get(..n).unwrap_or(&[])) {
            return Err(RequestError::TooLong);
        }
        self.next_id = self.next_id.wrapping_add(1);
        let id = slot.id;
        if let Some(s) = self.slots.get_mut(free) {
            *s = Some(slot);
        }
        Ok(id)
    }

    fn fail_proof(&mut self, e: SecurityError, events: &mut impl FnMut(MasterEvent<'_>)) {
        self.proof = Proof::Failed;
        events(MasterEvent::ProofFailed(e));
    }

    fn timers(&mut self, now: Instant, events: &mut impl FnMut(MasterEvent<'_>)) {
        for i in 0..REQ {
            let Some(Some(s)) = self.slots.get(i) else {
                continue;
            };
            if now < s.deadline {
                continue;
            }
            let (tries, received, len, kind, id, stries) =
                (s.tries, s.received(), s.len, s.kind, s.id, s.tries);
            if tries < self.cfg.retries && !received {
                // Retransmit unchanged: a retransmission keeps PSEQ (and Tp) (Q/GDW 1376.1-2013, SEQ).
                if let Some(Some(s)) = self.slots.get(i) {
                    let frame = s.bytes;
                    self.out.push(frame.get(..len).unwrap_or(&[]));
                }
                let delay = self
                    .cfg
                    .backoff
                    .delay(u32::from(stries))
                    .max(self.cfg.response_timeout);
                if let Some(Some(slot)) = self.slots.get_mut(i) {
                    slot.tries = tries + 1;
                    slot.deadline = now.saturating_add(delay);
                }
            } else {
                if let Some(slot) = self.slots.get_mut(i) {
                    *slot = None;
                }
                match kind {
                    Kind::User => events(MasterEvent::Timeout(id)),
                    Kind::Identity => {
                        if matches!(self.proof, Proof::Pending { id: p, .. } if p == id) {
                            self.fail_proof(SecurityError::BadProof, events);
                        }
                    }
                    Kind::Events => {}
                }
            }
        }
        let limit = self
            .cfg
            .heartbeat_period
            .saturating_mul(u32::from(self.cfg.offline_after));
        if self.online && now.saturating_duration_since(self.last_rx) > limit {
            self.online = false;
            events(MasterEvent::Offline);
        }
    }

    fn ack(&mut self, repr: &Repr<'_>) {
        let addr = repr.address.with_msa(repr.address.msa);
        let seq = Seq::single(false, false, repr.seq.seq());
        let (control, per_item) = match (repr.afn, self.cfg.ack) {
            (Afn::LINK_TEST, AckStyle::AllConfirm) => (Control::MASTER_LINK_ACK, false),
            (Afn::LINK_TEST, AckStyle::PerItem) => (Control::MASTER_LINK_ACK, true),
            _ => (Control::MASTER_CONFIRM, true),
        };
        let b = FrameBuilder::new(&self.cfg.profile, control, addr, Afn::CONFIRM, seq);
        let profile = self.cfg.profile;
        let buf = self.out.reserve();
        let n = b.begin(buf).and_then(|mut w| {
            if per_item {
                w.group_with(DaDt::single(Pn::P0, InfoClass(3))?, |out| {
                    let mut wr = Writer::new(out);
                    let items = repr.units(&profile).filter_map(|i| match i {
                        Item::Unit(u) => DaDt::single(u.pn, u.fn_)
                            .ok()
                            .map(|dadt| ItemResult { dadt, err: 0 }),
                        _ => None,
                    });
                    ItemResults::write(&mut wr, repr.afn, items)?;
                    Ok(wr.pos())
                })?;
            } else {
                w.unit(Pn::P0, InfoClass(1), &[])?;
            }
            w.finish(&mut ZeroPw)
        });
        if let Ok(n) = n {
            self.out.commit(n);
        }
    }

    fn confirm_frame(&mut self, repr: &Repr<'_>) {
        let b = FrameBuilder::new(
            &self.cfg.profile,
            Control::MASTER_CONFIRM,
            repr.address,
            Afn::CONFIRM,
            Seq::single(false, false, repr.seq.seq()),
        );
        let buf = self.out.reserve();
        let n = b.begin(buf).and_then(|mut w| {
            w.unit(Pn::P0, InfoClass(1), &[])?;
            w.finish(&mut ZeroPw)
        });
        if let Ok(n) = n {
            self.out.commit(n);
        }
    }

    fn remember(&mut self, s: &Slot) {
        if let Some(r) = self.recent.get_mut(self.recent_at % RECENT) {
            *r = Some((s.pseq, s.fin.map_or(1, |f| f.saturating_add(1)), s.pfc));
        }
        self.recent_at = self.recent_at.wrapping_add(1);
    }

    fn maybe_pull(&mut self, now: Instant, repr: &Repr<'_>) {
        let Some(ec) = repr.ec else { return };
        if !self.cfg.pull_events || self.slots.iter().flatten().any(|s| s.kind == Kind::Events) {
            return;
        }
        if self.cfg.identity == IdentityPolicy::Required && self.proof != Proof::Proven {
            return;
        }
        let from = self.event_pointer.unwrap_or(0);
        if from == ec.important {
            return;
        }
        let mut units = [0u8; 6];
        if let Ok(d) = DaDt::single(Pn::P0, InfoClass(1))
            && let Some(h) = units.get_mut(..4)
        {
            h.copy_from_slice(&d.to_bytes());
        }
        if let Some(t) = units.get_mut(4..) {
            t.copy_from_slice(&[from, ec.important]);
        }
        let _ = self.send_request(
            now,
            &Request {
                afn: Afn::CLASS3,
                units: &units,
                con: false,
            },
            Kind::Events,
        );
    }

    fn on_frame(&mut self, now: Instant, frame: &[u8], events: &mut impl FnMut(MasterEvent<'_>)) {
        let f = Frame::new_unchecked(frame);
        let repr = match Repr::parse(&f, &self.cfg.profile) {
            Ok(r) => r,
            Err(e) => return events(MasterEvent::Rejected(e)),
        };
        if repr.dir() != Direction::Up {
            return;
        }
        self.last_rx = now;
        if !self.online {
            self.online = true;
            events(MasterEvent::Online);
        }
        if repr.control.prm() {
            if repr.afn == Afn::LINK_TEST {
                let first = repr.units(&self.cfg.profile).find_map(|i| match i {
                    Item::Unit(u) => Some(u.fn_),
                    _ => None,
                });
                self.ack(&repr);
                match first {
                    Some(InfoClass(1)) => {
                        // A (new) login: whoever logs in must prove the terminal again.
                        self.terminal = Some(repr.address.with_msa(0));
                        self.proof = Proof::Unproven;
                        for s in &mut self.slots {
                            if s.is_some_and(|s| s.kind == Kind::Identity) {
                                *s = None;
                            }
                        }
                        events(MasterEvent::Login(repr.address.with_msa(0)));
                    }
                    Some(InfoClass(2)) => events(MasterEvent::Logout),
                    _ => events(MasterEvent::Heartbeat),
                }
            } else {
                if repr.seq.con() {
                    self.ack(&repr);
                }
                // Important events the terminal reported itself need not be pulled again.
                if repr.afn == Afn::CLASS3
                    && let Some(Item::Unit(u)) = repr.units(&self.cfg.profile).next()
                    && u.fn_ == InfoClass(1)
                    && let Some(&pn) = u.data.get(3)
                {
                    self.event_pointer = Some(pn);
                }
                events(MasterEvent::Report(repr));
            }
            self.maybe_pull(now, &repr);
            return;
        }
        self.on_response(now, &f, repr, events);
    }

    /// The slot a response frame belongs to: `Ok(Some((slot, index)))`, `Ok(None)` a duplicate
    /// of a frame already filed, `Err(())` none or more than one.
    fn match_response(&self, repr: &Repr<'_>) -> Result<Option<(usize, u8)>, ()> {
        let rseq = repr.seq.seq();
        let tp_pfc = repr.tp.map(|t| t.pfc);
        // Best candidate by (FIR agrees with the position, nearest to the next expected frame).
        let mut best: Option<(usize, u8, (bool, u8))> = None;
        let mut ties = 0usize;
        let mut duplicate = false;
        for (i, s) in self.slots.iter().enumerate() {
            let Some(s) = s else { continue };
            if let (Some(a), Some(b)) = (tp_pfc, s.pfc)
                && a != b
            {
                continue;
            }
            let afn_ok = repr.afn == s.afn
                || (repr.afn == Afn::CONFIRM && s.reply_afn.is_none_or(|a| a == Afn::CONFIRM));
            if !afn_ok || s.reply_afn.is_some_and(|a| a != repr.afn) {
                continue;
            }
            match s.index_of(rseq) {
                Some(Ok(index)) if s.has(index) => duplicate = true,
                Some(Ok(index)) => {
                    // FIR marks the first frame: never a later one.
                    if s.fin.is_some_and(|f| index > f) || (repr.seq.fir() && index != 0) {
                        continue;
                    }
                    let score = (repr.seq.fir() == (index == 0), WINDOW - (index - s.base));
                    match best {
                        Some((_, _, b)) if b > score => {}
                        Some((_, _, b)) if b == score => ties += 1,
                        _ => {
                            best = Some((i, index, score));
                            ties = 0;
                        }
                    }
                }
                Some(Err(index)) if s.has(index) => duplicate = true,
                _ => {}
            }
        }
        match best {
            Some((i, index, _)) if ties == 0 => Ok(Some((i, index))),
            Some(_) => Err(()),
            None if duplicate => Ok(None),
            None => {
                let done = self.recent.iter().flatten().any(|&(first, count, pfc)| {
                    (rseq.wrapping_sub(first) & 0x0F) < count
                        && !matches!((tp_pfc, pfc), (Some(a), Some(b)) if a != b)
                });
                if done { Ok(None) } else { Err(()) }
            }
        }
    }

    fn on_response<'f>(
        &mut self,
        now: Instant,
        f: &Frame<&[u8]>,
        repr: Repr<'f>,
        events: &mut impl FnMut(MasterEvent<'_>),
    ) {
        let (i, index) = match self.match_response(&repr) {
            Ok(Some(m)) => m,
            Ok(None) => return events(MasterEvent::Duplicate),
            Err(()) => return events(MasterEvent::Unmatched(repr)),
        };
        if repr.seq.con() {
            self.confirm_frame(&repr);
        }
        let Some(Some(mut s)) = self.slots.get(i).copied() else {
            return;
        };
        // File the frame: its units go in index order into this request's buffer.
        s.reply_afn = Some(repr.afn);
        if repr.seq.fin() {
            s.fin = Some(index);
        }
        let n = repr.units.len();
        match (usize::from(index) < MAX_FRAMES, u16::try_from(n)) {
            (true, Ok(n16)) if !s.overflow && s.filled + n <= REASM => {
                let at: usize = s
                    .lens
                    .iter()
                    .take(usize::from(index))
                    .map(|&l| usize::from(l))
                    .sum();
                if let Some(buf) = self.reasm.get_mut(i) {
                    buf.copy_within(at..s.filled, at + n);
                    if let Some(dst) = buf.get_mut(at..at + n) {
                        dst.copy_from_slice(repr.units);
                    }
                }
                s.filled += n;
                if let Some(l) = s.lens.get_mut(usize::from(index)) {
                    *l = n16;
                }
            }
            _ => s.overflow = true,
        }
        if usize::from(index) < MAX_FRAMES {
            s.present |= 1 << index;
        }
        while s.has(s.base) {
            s.base += 1;
        }
        s.deadline = now.saturating_add(self.cfg.response_timeout);
        let done = s.fin.is_some_and(|fin| s.base > fin);
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = if done { None } else { Some(s) };
        }
        if done {
            self.remember(&s);
        }
        match s.kind {
            Kind::Events => {
                if done
                    && repr.afn == Afn::CLASS3
                    && let Some(Item::Unit(u)) = repr.units(&self.cfg.profile).next()
                    && let Some(&pn) = u.data.get(3)
                {
                    self.event_pointer = Some(pn);
                }
                events(MasterEvent::Events(repr));
                return;
            }
            Kind::Identity => {
                self.on_proof(f, &repr, s.id, events);
                return;
            }
            Kind::User => {}
        }
        events(MasterEvent::Response {
            id: s.id,
            frame: repr,
            index,
        });
        if done {
            if s.overflow {
                events(MasterEvent::Overflow(s.id));
            } else if s.reply_afn == Some(Afn::CONFIRM) && all_denied(&repr, &self.cfg.profile) {
                events(MasterEvent::Denied(s.id));
            } else {
                let units = self
                    .reasm
                    .get(i)
                    .and_then(|b| b.get(..s.filled))
                    .unwrap_or(&[]);
                events(MasterEvent::Complete {
                    id: s.id,
                    afn: s.reply_afn.unwrap_or(repr.afn),
                    units,
                });
            }
        }
        self.maybe_pull(now, &repr);
    }

    /// The answer to the identity challenge: AFN 06 F2 (p0, 16 bytes) with a valid PW and the
    /// expected value proves the terminal; anything else fails the proof.
    fn on_proof(
        &mut self,
        f: &Frame<&[u8]>,
        repr: &Repr<'_>,
        id: RequestId,
        events: &mut impl FnMut(MasterEvent<'_>),
    ) {
        let Proof::Pending {
            id: pending,
            expected,
        } = self.proof
        else {
            return;
        };
        if pending != id {
            return;
        }
        if repr.afn != Afn::AUTHENTICATION {
            return self.fail_proof(SecurityError::BadProof, events);
        }
        let terminal = self.terminal.unwrap_or(repr.address).with_msa(0);
        let mut mac = ForTerminal {
            keys: &mut self.mac,
            terminal,
        };
        if self.cfg.profile.pw_len(repr.afn, Direction::Up) > 0
            && let Err(e) = verify_pw(f.user_data(), repr, &mut mac)
        {
            return self.fail_proof(e, events);
        }
        let answer = repr.units(&self.cfg.profile).find_map(|i| match i {
            Item::Unit(u) if u.pn == Pn::P0 && u.fn_ == InfoClass(2) => {
                <[u8; CHALLENGE_LEN]>::try_from(u.data).ok()
            }
            _ => None,
        });
        let ok = answer.is_some_and(|a| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                a.as_slice(),
                expected.as_slice(),
            ))
        });
        if ok {
            self.proof = Proof::Proven;
            events(MasterEvent::Proven);
        } else {
            self.fail_proof(SecurityError::BadProof, events);
        }
    }
}

/// True for an AFN 00 F2 (all denied) frame.
fn all_denied(repr: &Repr<'_>, profile: &Profile) -> bool {
    repr.afn == Afn::CONFIRM
        && repr
            .units(profile)
            .any(|i| matches!(i, Item::Unit(u) if u.pn == Pn::P0 && u.fn_ == InfoClass(2)))
}

/// Writes a data-unit region from `(pn, Fn, data)` items, one DA/DT each; returns its length.
///
/// # Errors
///
/// [`EncodeError`].
pub fn write_units(out: &mut [u8], items: &[(Pn, InfoClass, &[u8])]) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    for &(pn, fn_, data) in items {
        w.bytes(&DaDt::single(pn, fn_)?.to_bytes())?;
        w.bytes(data)?;
    }
    Ok(w.pos())
}
