//! The master-station side of one terminal connection (notes §2.5, §2.9, §2.11, §3).
//!
//! One [`MasterSession`] per TCP connection: it learns the terminal's address from its login,
//! acknowledges login and heartbeats (AFN 00 F1, or F3 per item), tracks online/offline from
//! received frames, sends requests with PFC/PSEQ allocation (and Tp when a wall clock is set),
//! matches responses by RSEQ (and Tp's PFC), retransmits on timeout with back-off (keeping
//! PSEQ), suppresses duplicate responses, reassembles FIR/FIN multi-frame responses, confirms
//! frames that ask for it (AFN 00 F3 per item), and pulls important events (AFN 0E F1 from its
//! last pointer to EC1) when a terminal raises ACD.
//!
//! It scales by being small and allocation-free: the default instance is about 8 KiB, so
//! 10 000 connections fit in under 100 MiB.

use crate::address::Address;
use crate::afn::Afn;
use crate::aux::Tp;
use crate::builder::FrameBuilder;
use crate::control::{Control, Direction};
use crate::dadt::{DaDt, Fn, Pn};
use crate::deframer::Deframer;
use crate::error::{EncodeError, ParseError};
use crate::frame::{Frame, Repr};
use crate::profile::Profile;
use crate::security::{MacProvider, ZeroPw};
use crate::seq::Seq;
use crate::time::{DateTime, Instant};
use crate::units::{ItemResult, ItemResults, Writer};
use crate::walker::Item;

use super::{Backoff, Outbox, WallClock};

/// How login and heartbeats are acknowledged (notes §3.3: terminals must accept both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckStyle {
    /// AFN 00 F1 "all confirmed", C = `0B`.
    AllConfirm,
    /// AFN 00 F3 per item, C = `0B`.
    PerItem,
}

/// Master session settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MasterConfig {
    /// Dialect.
    pub profile: Profile,
    /// This master station's address (MSA, 1–127).
    pub msa: u8,
    /// Wait for a response this long before retransmitting.
    pub response_timeout_ms: u64,
    /// Retransmissions before a request times out.
    pub retries: u8,
    /// Back-off of the retransmissions (delay before retry n).
    pub backoff: Backoff,
    /// Allowed transmission delay written in Tp (minutes); `None` = no Tp.
    pub tp_delay_min: Option<u8>,
    /// The terminal's heartbeat period.
    pub heartbeat_ms: u64,
    /// Periods without any frame before the terminal counts as offline.
    pub offline_after: u8,
    /// Login / heartbeat acknowledgement.
    pub ack: AckStyle,
    /// Pull important events (AFN 0E F1) when ACD is raised.
    pub pull_events: bool,
}

impl MasterConfig {
    /// Defaults: MSA 1, 30 s timeout, 2 retries (back-off 30 s, 60 s), Tp with 5 min, 1-minute
    /// heartbeat, offline after 3 missed periods, F1 acks, event pulls on.
    #[must_use]
    pub const fn new(profile: Profile) -> Self {
        MasterConfig {
            profile,
            msa: 1,
            response_timeout_ms: 30_000,
            retries: 2,
            backoff: Backoff {
                initial_ms: 30_000,
                max_ms: 120_000,
            },
            tp_delay_min: Some(5),
            heartbeat_ms: 60_000,
            offline_after: 3,
            ack: AckStyle::AllConfirm,
            pull_events: true,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// The terminal has not logged in (its address is unknown).
    NoTerminal,
    /// All request slots are in use.
    Busy,
    /// The frame does not fit the slot or the output queue.
    TooLong,
    /// Encoding failed.
    Encode(EncodeError),
}

/// What happened on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterEvent<'a> {
    /// The terminal logged in (its address; MSA 0).
    Login(Address),
    /// The terminal logged out.
    Logout,
    /// A heartbeat arrived.
    Heartbeat,
    /// A frame arrived after the terminal had been offline.
    Online,
    /// No frame for `offline_after` heartbeat periods.
    Offline,
    /// One frame of the response to a request.
    Response {
        /// The request.
        id: RequestId,
        /// The frame.
        frame: Repr<'a>,
        /// Index of the frame in the response (0 for the first).
        index: u8,
    },
    /// A response is complete: its AFN (00 for confirm / deny) and all frames' data units.
    Complete {
        /// The request.
        id: RequestId,
        /// AFN of the response.
        afn: Afn,
        /// The data-unit regions of all frames, in order.
        units: &'a [u8],
    },
    /// A multi-frame response did not fit the reassembly buffer (its frames were still
    /// delivered as [`MasterEvent::Response`]).
    Overflow(RequestId),
    /// No (complete) response after all retries.
    Timeout(RequestId),
    /// A frame the terminal initiated (e.g. AFN 0E events); confirmed if it had CON.
    Report(Repr<'a>),
    /// Events pulled after ACD (the AFN 0E reply).
    Events(Repr<'a>),
    /// A repeated response frame, suppressed.
    Duplicate,
    /// A response matching no request.
    Unmatched(Repr<'a>),
    /// A frame that did not parse.
    Rejected(ParseError),
}

const SLOT_BYTES: usize = 512;
const RECENT: usize = 4;

#[derive(Debug, Clone, Copy)]
struct Slot {
    id: RequestId,
    afn: Afn,
    pseq: u8,
    pfc: Option<u8>,
    tries: u8,
    deadline: Instant,
    frames: u8,
    internal: bool,
    len: usize,
    bytes: [u8; SLOT_BYTES],
}

#[derive(Debug)]
struct Core<M, const TX: usize, const REQ: usize, const REASM: usize> {
    cfg: MasterConfig,
    mac: M,
    out: Outbox<TX>,
    terminal: Option<Address>,
    slots: [Option<Slot>; REQ],
    next_id: u32,
    pfc: u8,
    recent: [Option<(u8, Afn)>; RECENT],
    recent_at: usize,
    reasm: [u8; REASM],
    reasm_len: usize,
    reasm_overflow: bool,
    last_rx: Instant,
    online: bool,
    event_pointer: Option<u8>,
    clock: WallClock,
}

/// One terminal connection, master side. `RX` bounds a received frame, `TX` queued output,
/// `REQ` outstanding requests, `REASM` a reassembled multi-frame response.
#[derive(Debug)]
pub struct MasterSession<
    M: MacProvider = ZeroPw,
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

impl<M: MacProvider, const RX: usize, const TX: usize, const REQ: usize, const REASM: usize>
    MasterSession<M, RX, TX, REQ, REASM>
{
    /// A session computing PW with `mac`; `now` is when the connection was accepted.
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
                next_id: 0,
                pfc: 0,
                recent: [None; RECENT],
                recent_at: 0,
                reasm: [0; REASM],
                reasm_len: 0,
                reasm_overflow: false,
                last_rx: now,
                online: true,
                event_pointer: None,
                clock: WallClock::default(),
            },
        }
    }

    /// The terminal's address, once it logged in (or was set).
    #[must_use]
    pub fn terminal(&self) -> Option<Address> {
        self.core.terminal
    }
    /// Sets the terminal's address without a login (e.g. when the master dials out).
    pub fn set_terminal(&mut self, a: Address) {
        self.core.terminal = Some(a.with_msa(0));
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
    /// Tells the session the local time at `now` (Tp on requests needs it).
    pub fn set_wall_clock(&mut self, now: Instant, wall: DateTime) {
        self.core.clock.set(now, wall);
    }
    /// Number of requests waiting for a response.
    #[must_use]
    pub fn outstanding(&self) -> usize {
        self.core.slots.iter().flatten().count()
    }

    /// Sends a request; its response arrives as [`MasterEvent::Response`] /
    /// [`MasterEvent::Complete`] with the returned id, or [`MasterEvent::Timeout`].
    ///
    /// # Errors
    ///
    /// [`RequestError`].
    pub fn request(&mut self, now: Instant, req: &Request<'_>) -> Result<RequestId, RequestError> {
        self.core.send_request(now, req, false)
    }

    /// The latest instant at which [`MasterSession::poll`] must be called.
    #[must_use]
    pub fn poll_at(&self) -> Option<Instant> {
        let c = &self.core;
        let mut t = c.slots.iter().flatten().map(|s| s.deadline).min();
        if c.online {
            let off = c.last_rx.add_ms(
                c.cfg
                    .heartbeat_ms
                    .saturating_mul(u64::from(c.cfg.offline_after)),
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

impl<M: MacProvider, const TX: usize, const REQ: usize, const REASM: usize>
    Core<M, TX, REQ, REASM>
{
    fn send_request(
        &mut self,
        now: Instant,
        req: &Request<'_>,
        internal: bool,
    ) -> Result<RequestId, RequestError> {
        let terminal = self.terminal.ok_or(RequestError::NoTerminal)?;
        let free = self
            .slots
            .iter()
            .position(Option::is_none)
            .ok_or(RequestError::Busy)?;
        self.pfc = self.pfc.wrapping_add(1);
        let pseq = self.pfc & 0x0F;
        let tp = match (self.cfg.tp_delay_min, self.clock.at(now)) {
            (Some(delay), Some(wall)) => Tp::new(self.pfc, wall.to_format16(), delay).ok(),
            _ => None,
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
            pseq,
            pfc: tp.map(|t| t.pfc),
            tries: 0,
            deadline: now.add_ms(self.cfg.response_timeout_ms),
            frames: 0,
            internal,
            len: 0,
            bytes: [0; SLOT_BYTES],
        };
        let n = {
            let mut w = b.begin(&mut slot.bytes).map_err(|e| match e {
                EncodeError::BufferTooSmall { .. } => RequestError::TooLong,
                e => RequestError::Encode(e),
            })?;
            w.raw(req.units).map_err(|_| RequestError::TooLong)?;
            w.finish(&mut self.mac).map_err(|e| match e {
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

    fn timers(&mut self, now: Instant, events: &mut impl FnMut(MasterEvent<'_>)) {
        for i in 0..REQ {
            let Some(Some(s)) = self.slots.get(i).copied() else {
                continue;
            };
            if now < s.deadline {
                continue;
            }
            if s.tries < self.cfg.retries && s.frames == 0 {
                // Retransmit unchanged: a retransmission keeps PSEQ (notes §2.5).
                self.out.push(s.bytes.get(..s.len).unwrap_or(&[]));
                let tries = s.tries + 1;
                let delay = self
                    .cfg
                    .backoff
                    .delay(u32::from(s.tries))
                    .max(self.cfg.response_timeout_ms);
                if let Some(Some(slot)) = self.slots.get_mut(i) {
                    slot.tries = tries;
                    slot.deadline = now.add_ms(delay);
                }
            } else {
                if let Some(slot) = self.slots.get_mut(i) {
                    *slot = None;
                }
                if !s.internal {
                    events(MasterEvent::Timeout(s.id));
                }
            }
        }
        let limit = self
            .cfg
            .heartbeat_ms
            .saturating_mul(u64::from(self.cfg.offline_after));
        if self.online && now.since(self.last_rx) > limit {
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
                w.group_with(DaDt::single(Pn::P0, Fn(3))?, |out| {
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
                w.unit(Pn::P0, Fn(1), &[])?;
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
            w.unit(Pn::P0, Fn(1), &[])?;
            w.finish(&mut ZeroPw)
        });
        if let Ok(n) = n {
            self.out.commit(n);
        }
    }

    fn remember(&mut self, pseq: u8, afn: Afn) {
        if let Some(r) = self.recent.get_mut(self.recent_at % RECENT) {
            *r = Some((pseq, afn));
        }
        self.recent_at = self.recent_at.wrapping_add(1);
    }

    fn maybe_pull(&mut self, now: Instant, repr: &Repr<'_>) {
        let Some(ec) = repr.ec else { return };
        if !self.cfg.pull_events || self.slots.iter().flatten().any(|s| s.internal) {
            return;
        }
        let from = self.event_pointer.unwrap_or(0);
        if from == ec.important {
            return;
        }
        let mut units = [0u8; 6];
        if let Ok(d) = DaDt::single(Pn::P0, Fn(1))
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
            true,
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
                    Some(Fn(1)) => {
                        self.terminal = Some(repr.address.with_msa(0));
                        events(MasterEvent::Login(repr.address.with_msa(0)));
                    }
                    Some(Fn(2)) => events(MasterEvent::Logout),
                    _ => events(MasterEvent::Heartbeat),
                }
            } else {
                if repr.seq.con() {
                    self.ack(&repr);
                }
                // Important events the terminal reported itself need not be pulled again.
                if repr.afn == Afn::CLASS3
                    && let Some(Item::Unit(u)) = repr.units(&self.cfg.profile).next()
                    && u.fn_ == Fn(1)
                    && let Some(&pn) = u.data.get(3)
                {
                    self.event_pointer = Some(pn);
                }
                events(MasterEvent::Report(repr));
            }
            self.maybe_pull(now, &repr);
            return;
        }
        self.on_response(now, repr, events);
    }

    fn on_response<'f>(
        &mut self,
        now: Instant,
        repr: Repr<'f>,
        events: &mut impl FnMut(MasterEvent<'_>),
    ) {
        let rseq = repr.seq.seq();
        let tp_pfc = repr.tp.map(|t| t.pfc);
        let found = self.slots.iter().position(|s| match s {
            Some(s) => {
                let expect = s.pseq.wrapping_add(s.frames) & 0x0F;
                expect == rseq && (tp_pfc.is_none() || s.pfc.is_none() || tp_pfc == s.pfc)
            }
            None => false,
        });
        let Some(i) = found else {
            let dup_in_flight = self
                .slots
                .iter()
                .flatten()
                .any(|s| s.frames > 0 && (s.pseq.wrapping_add(s.frames - 1) & 0x0F) == rseq);
            let dup_done = self.recent.iter().flatten().any(|&(p, _)| p == rseq);
            if dup_in_flight || dup_done {
                return events(MasterEvent::Duplicate);
            }
            return events(MasterEvent::Unmatched(repr));
        };
        let Some(Some(mut s)) = self.slots.get(i).copied() else {
            return;
        };
        if repr.seq.con() {
            self.confirm_frame(&repr);
        }
        let index = s.frames;
        let single = index == 0 && repr.seq.fin();
        if index == 0 {
            self.reasm_len = 0;
            self.reasm_overflow = false;
        }
        if !single {
            let n = repr.units.len();
            match self.reasm.get_mut(self.reasm_len..self.reasm_len + n) {
                Some(dst) if !self.reasm_overflow => {
                    dst.copy_from_slice(repr.units);
                    self.reasm_len += n;
                }
                _ => self.reasm_overflow = true,
            }
        }
        s.frames = s.frames.saturating_add(1);
        s.deadline = now.add_ms(self.cfg.response_timeout_ms);
        let done = repr.seq.fin();
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = if done { None } else { Some(s) };
        }
        if done {
            self.remember(rseq, s.afn);
        }
        if s.internal {
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
        events(MasterEvent::Response {
            id: s.id,
            frame: repr,
            index,
        });
        if done {
            if single {
                events(MasterEvent::Complete {
                    id: s.id,
                    afn: repr.afn,
                    units: repr.units,
                });
            } else if self.reasm_overflow {
                events(MasterEvent::Overflow(s.id));
            } else {
                let units = self.reasm.get(..self.reasm_len).unwrap_or(&[]);
                events(MasterEvent::Complete {
                    id: s.id,
                    afn: repr.afn,
                    units,
                });
            }
        }
        self.maybe_pull(now, &repr);
    }
}

/// Writes a data-unit region from `(pn, Fn, data)` items, one DA/DT each; returns its length.
///
/// # Errors
///
/// [`EncodeError`].
pub fn write_units(out: &mut [u8], items: &[(Pn, Fn, &[u8])]) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    for &(pn, fn_, data) in items {
        w.bytes(&DaDt::single(pn, fn_)?.to_bytes())?;
        w.bytes(data)?;
    }
    Ok(w.pos())
}
