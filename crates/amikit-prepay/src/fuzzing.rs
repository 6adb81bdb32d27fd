//! The invariant harness shared by the property tests and the fuzz targets. Not a stable API.
//!
//! [`check`] drives an [`Engine`] through a sequence of [`Op`]s (consumption priced by an
//! `amikit-tariff` flat tariff, payments, refunds, time, the customer, remote commands, load,
//! parameter changes, power failures with recovery from mirrored snapshots) and checks after
//! every step:
//!
//! 1. money is conserved exactly: `Δnet = top-ups − refunds − charges` (power-ups excepted,
//!    they restore a saved state);
//! 2. the wallet never goes below minus the overdraft limit (the limit in force);
//! 3. no fee or remote trip while guarded (no such open action, command or active cause);
//! 4. no close from the hard cut without crossing the reconnect threshold: the hard cut is left
//!    only by an accepted top-up or parameter change with `net > reconnect`, and while in it the
//!    relay is open unless guard or a friendly window suppresses the fee cause;
//! 5. a replayed top-up or refund changes nothing (and is refused);
//! 6. an accepted top-up never takes the credit above the hoarding limit;
//! 7. an expired remote command changes nothing (and is refused);
//! 8. after an accepted top-up that leaves no cause, supply is allowed back in the same step
//!    (the engine's restore time is zero; the tracker adds the transport's);
//! 9. the relay is open exactly when some cause is active; a refused input changes nothing;
//!    one step emits fewer than [`MAX_OUTPUTS`] outputs; every persisted snapshot verifies,
//!    round-trips through bytes and equals the engine's state;
//! 10. after a power failure (one mirrored copy may be corrupted) the recovered state keeps
//!     every accepted purchase counter and is no richer than the intact copies it came from;
//!     the pricer's charging state (lost with the RAM) comes back from the snapshot; after a
//!     power-down and an undamaged power-up the money, counters and charging state are exactly
//!     those at the power-down; while powered down every input but a power-up is refused;
//! 11. a top-up, accepted or refused, never opens the relay (no open action, no trip command,
//!     no relay that was not open before is open after it);
//! 12. a refused input leaves the pricer's charging state exactly as it was (transactional
//!     pricing), and every persisted snapshot carries the pricer's charging state;
//! 13. a relay-position report that disagrees with the commanded relay is reported as a
//!     mismatch, re-issued (an action follows) only when it says so; one that agrees is not.

use amikit_tariff::{ChargeState, Energy, Money, Price, Tariff};

use crate::command::CommandKind;
use crate::config::{Actuation, DebtRecovery, Overload, Profile};
use crate::engine::{Engine, MAX_OUTPUTS, Outputs};
use crate::input::{Input, Param, PurchaseId, Remote, TopUpSource, UserAction};
use crate::output::{Cause, Output, Rejection, RelayAction, RelayState};
use crate::pricer::{PriceError, Pricer, TariffPricer};
use crate::snapshot::{Charging, Snapshot, recover};
use crate::state::CreditState;
use crate::time::Timestamp;

/// How a top-up or refund is identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum IdOp {
    /// The next purchase count (accepted unless something else is wrong).
    NextSequence,
    /// The last accepted purchase count again (a replay).
    LastSequence,
    /// An explicit purchase count.
    Sequence(u32),
    /// The next order number.
    NextOrder,
    /// The last accepted order number again (a replay).
    LastOrder,
    /// An explicit order number.
    Order(u64),
}

/// A parameter change, with amounts in 1e-4 units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[allow(missing_docs)]
pub enum ParamOp {
    Alarm1(Option<u32>),
    Alarm2(Option<u32>),
    Overdraft(Option<u32>),
    EmergencyThreshold(Option<u32>),
    Reconnect(i32),
    Hoarding(Option<u32>),
    Overload(Option<Overload>),
    /// Switch the profile's friendly calendar off (`false`) or to the UK default (`true`).
    Friendly(bool),
    /// Debt recovery: `kind % 3` = all, percent (`raw % 256`), fixed (`raw`).
    DebtRecovery {
        kind: u8,
        raw: u32,
    },
}

/// One operation of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[allow(missing_docs)]
pub enum Op {
    Consume {
        wh: u16,
    },
    Charge {
        raw: u32,
    },
    /// A charge of `i64::MAX >> (shift % 8)` raw: drives the account towards overflow, so that
    /// inputs are refused after pricing.
    ChargeHuge {
        shift: u8,
    },
    TopUp {
        raw: u32,
        id: IdOp,
        source: TopUpSource,
    },
    Refund {
        raw: u32,
        id: IdOp,
    },
    Tick,
    User(UserAction),
    Remote {
        kind: CommandKind,
        expires_in: i16,
    },
    Load {
        watts: u16,
    },
    Param(ParamOp),
    /// Power failure and power-up; `corrupt` selects a stored copy to damage (or none). The
    /// pricer's charging state is lost with the RAM.
    PowerUp {
        corrupt: u8,
    },
    /// The supply fails (a final snapshot); inputs are refused until a power-up.
    PowerDown,
    /// The relay position read back.
    RelayPosition {
        closed: bool,
    },
}

/// An operation `dt × 3` seconds after the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Step {
    /// Time step, in units of 3 s (up to 54 h).
    pub dt: u16,
    /// The operation.
    pub op: Op,
}

/// A broken invariant: the step index and which rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    /// Index of the step in the sequence.
    pub step: usize,
    /// The rule.
    pub rule: &'static str,
}

/// A flat tariff from `amikit-tariff` with a charging state, recording the amounts of a step;
/// transactional through a saved copy, as [`TariffPricer`].
struct Recording {
    tariff: Tariff,
    state: ChargeState,
    saved: Option<ChargeState>,
    charged: i128,
}

impl Recording {
    fn save(&mut self) {
        if self.saved.is_none() {
            self.saved = Some(self.state.clone());
        }
    }
}

impl Pricer for Recording {
    fn price(&mut self, at: Timestamp, energy: Energy) -> Result<Money, PriceError> {
        self.save();
        let m = TariffPricer::new(&self.tariff, &mut self.state).price(at, energy)?;
        self.charged = self.charged.saturating_add(i128::from(m.raw()));
        Ok(m)
    }

    fn standing(&mut self, at: Timestamp) -> Result<Money, PriceError> {
        self.save();
        let m = TariffPricer::new(&self.tariff, &mut self.state).standing(at)?;
        self.charged = self.charged.saturating_add(i128::from(m.raw()));
        Ok(m)
    }

    fn commit(&mut self) {
        self.saved = None;
    }

    fn rollback(&mut self) {
        if let Some(s) = self.saved.take() {
            self.state = s;
        }
    }

    fn charging(&self) -> Option<Charging> {
        Some(Charging::from(&self.state))
    }

    fn restore(&mut self, charging: &Charging) {
        self.state = ChargeState::from(charging);
        self.saved = None;
    }
}

fn money(raw: u32) -> Money {
    Money::from_raw(i64::from(raw))
}

fn opt(v: Option<u32>) -> Option<Money> {
    v.map(money)
}

/// Runs `steps` on a fresh engine of profile `profile % 3` with `opening` (1e-4 units) of
/// credit and a flat price of `price` (1e-4 per kWh), checking every invariant after every
/// step.
///
/// # Errors
///
/// The first [`Violation`].
#[allow(clippy::too_many_lines)]
pub fn check(profile: u8, opening: i32, price: u16, steps: &[Step]) -> Result<(), Violation> {
    let profile = Profile::ALL
        .get(usize::from(profile % 3))
        .copied()
        .unwrap_or(Profile::StateGridLocal);
    let uk_friendly = Profile::Iec62055.config().friendly;
    let Ok(mut e) = Engine::new(profile.config(), Money::from_raw(i64::from(opening))) else {
        return Err(Violation {
            step: 0,
            rule: "default configuration valid",
        });
    };
    let Ok(tariff) = Tariff::flat(Price::from_raw(i64::from(price))) else {
        return Ok(());
    };
    let mut pricer = Recording {
        tariff,
        state: ChargeState::new(),
        saved: None,
        charged: 0,
    };
    // The account at the last power-down: (balance, debt, counters, charging).
    let mut at_power_down: Option<(Money, Money, (u32, u64), Charging)> = None;
    // Monday 2026-01-05 00:00.
    let mut now = Timestamp(1_767_571_200);
    // Mirrored storage: the two slots of the newest snapshot and the previous one.
    let mut slots: [Option<Snapshot>; 3] = [None, None, None];
    let mut outs = Outputs::new();
    // The first step settles the relay and alarm for the opening credit.
    e.handle(now, Input::Tick, &mut pricer, &mut outs);
    for o in &outs {
        if let Output::Persist(snap) = o {
            slots = [Some(*snap), Some(*snap), None];
        }
    }
    for (i, s) in steps.iter().enumerate() {
        let fail = |rule| Err(Violation { step: i, rule });
        now = now.plus(u32::from(s.dt).saturating_mul(3));
        let (last_seq, last_order) = purchases(&e);
        let pick = |id: IdOp| match id {
            IdOp::NextSequence => PurchaseId::Sequence(last_seq.saturating_add(1)),
            IdOp::LastSequence => PurchaseId::Sequence(last_seq),
            IdOp::Sequence(n) => PurchaseId::Sequence(n),
            IdOp::NextOrder => PurchaseId::Order(last_order.saturating_add(1)),
            IdOp::LastOrder => PurchaseId::Order(last_order),
            IdOp::Order(o) => PurchaseId::Order(o),
        };
        let replayed = |id: PurchaseId| match id {
            PurchaseId::Sequence(n) => n <= last_seq,
            PurchaseId::Order(o) => o <= last_order,
        };
        let mut expect_delta: i128 = 0;
        let mut replay = false;
        let mut expired = false;
        let mut top_up = false;
        let input = match s.op {
            Op::Consume { wh } => Input::Consume {
                energy: Energy::from_wh(i64::from(wh)),
            },
            Op::Charge { raw } => {
                expect_delta = -i128::from(raw);
                Input::Charge { amount: money(raw) }
            }
            Op::ChargeHuge { shift } => {
                let raw = i64::MAX >> (shift % 8);
                expect_delta = -i128::from(raw);
                Input::Charge {
                    amount: Money::from_raw(raw),
                }
            }
            Op::TopUp { raw, id, source } => {
                let id = pick(id);
                replay = replayed(id);
                top_up = true;
                expect_delta = i128::from(raw);
                Input::TopUp {
                    amount: money(raw),
                    id,
                    source,
                }
            }
            Op::Refund { raw, id } => {
                let id = pick(id);
                replay = replayed(id);
                expect_delta = -i128::from(raw);
                Input::Refund {
                    amount: money(raw),
                    id,
                }
            }
            Op::Tick => Input::Tick,
            Op::User(a) => Input::User(a),
            Op::Remote { kind, expires_in } => {
                let expires = Timestamp(now.0.saturating_add(i64::from(expires_in)));
                expired = expires < now;
                Input::Remote(Remote {
                    kind,
                    expires,
                    operator: 0xFFFF_FFFF,
                })
            }
            Op::Load { watts } => Input::Load {
                watts: u32::from(watts),
            },
            Op::Param(p) => Input::SetParam(match p {
                ParamOp::Alarm1(v) => Param::Alarm1(opt(v)),
                ParamOp::Alarm2(v) => Param::Alarm2(opt(v)),
                ParamOp::Overdraft(v) => Param::Overdraft(opt(v)),
                ParamOp::EmergencyThreshold(v) => Param::EmergencyThreshold(opt(v)),
                ParamOp::Reconnect(v) => Param::Reconnect(Money::from_raw(i64::from(v))),
                ParamOp::Hoarding(v) => Param::Hoarding(opt(v)),
                ParamOp::Overload(v) => Param::Overload(v),
                ParamOp::Friendly(on) => {
                    Param::Friendly(if on { uk_friendly.clone() } else { None })
                }
                ParamOp::DebtRecovery { kind, raw } => Param::DebtRecovery(match kind % 3 {
                    0 => DebtRecovery::All,
                    1 => DebtRecovery::PercentOfTopUp((raw % 256) as u8),
                    _ => DebtRecovery::FixedPerTopUp(money(raw)),
                }),
            }),
            Op::PowerDown => Input::PowerDown,
            Op::RelayPosition { closed } => Input::RelayPosition { closed },
            Op::PowerUp { corrupt } => {
                let mut copies = slots;
                if let Some(Some(c)) = copies.get_mut(usize::from(corrupt % 4)) {
                    c.balance = Money::from_raw(c.balance.raw() ^ 0x5A5A);
                }
                let intact: heapless::Vec<Snapshot, 3> = copies
                    .iter()
                    .flatten()
                    .filter(|c| c.verify())
                    .copied()
                    .collect();
                let Ok(r) = recover(copies.iter().flatten()) else {
                    // Nothing saved yet (or nothing intact): the meter starts as it is.
                    continue;
                };
                let net = |c: &Snapshot| i128::from(c.balance.raw()) - i128::from(c.debt.raw());
                if intact
                    .iter()
                    .filter(|c| (c.last_sequence, c.last_order) == (r.last_sequence, r.last_order))
                    .any(|c| net(&r) > net(c))
                {
                    return fail("recovery is conservative");
                }
                if (r.last_sequence, r.last_order) != purchases(&e) {
                    return fail("recovery keeps every accepted purchase");
                }
                // The RAM is lost: the charging state must come back from the snapshot.
                if r.charging.is_some() {
                    pricer.state = ChargeState::new();
                }
                Input::PowerUp(r)
            }
        };
        let before = e.clone();
        let charging_before = Charging::from(&pricer.state);
        let net_before = i128::from(e.status().net.raw());
        let was_down = e.status().powered_down;
        let is_power_up = matches!(s.op, Op::PowerUp { .. });
        let undamaged = matches!(s.op, Op::PowerUp { corrupt } if corrupt % 4 == 3);
        let last_power_up = is_power_up.then(|| input.clone());
        pricer.charged = 0;
        outs.clear();
        e.handle(now, input, &mut pricer, &mut outs);

        if outs.len() >= MAX_OUTPUTS {
            return fail("fewer than MAX_OUTPUTS outputs per step");
        }
        let rejected = outs.iter().any(|o| matches!(o, Output::Reject { .. }));
        if rejected && (outs.len() != 1 || e != before) {
            return fail("a refused input changes nothing");
        }
        // 12. Transactional pricing.
        if rejected && Charging::from(&pricer.state) != charging_before {
            return fail("a refused input leaves the pricer untouched");
        }
        // 10. Powered down.
        if was_down
            && !is_power_up
            && !matches!(
                outs.first(),
                Some(Output::Reject {
                    reason: Rejection::PoweredDown,
                    ..
                })
            )
        {
            return fail("powered down: everything but a power-up is refused");
        }
        if matches!(s.op, Op::PowerDown) && !was_down {
            if !matches!(outs[..], [Output::Persist(_)]) || !e.status().powered_down {
                return fail("a power-down persists a final snapshot and nothing else");
            }
            at_power_down = Some((
                e.status().balance,
                e.status().debt,
                purchases(&e),
                Charging::from(&pricer.state),
            ));
        }
        if is_power_up
            && !rejected
            && was_down
            && undamaged
            && at_power_down.is_some_and(|(b, d, p, c)| {
                (
                    e.status().balance,
                    e.status().debt,
                    purchases(&e),
                    Charging::from(&pricer.state),
                ) != (b, d, p, c)
            })
        {
            return fail("an undamaged power-up restores the power-down state exactly");
        }
        // 11. A top-up never opens the relay.
        if top_up {
            let opens = outs.iter().any(|o| match o {
                Output::Relay(RelayAction::Open { .. }) => true,
                Output::Command(c) => c.kind == CommandKind::Trip,
                _ => false,
            });
            if opens
                || (e.status().relay == RelayState::Open
                    && before.status().relay != RelayState::Open)
            {
                return fail("a top-up never opens the relay");
            }
        }
        // 13. Relay position.
        if let Op::RelayPosition { closed } = s.op
            && !rejected
        {
            let commanded = before.status().relay;
            let agrees = (commanded == RelayState::Closed) == closed;
            let mismatch = outs.iter().find_map(|o| match o {
                Output::RelayMismatch { reissued, .. } => Some(*reissued),
                _ => None,
            });
            let acts = outs
                .iter()
                .any(|o| matches!(o, Output::Relay(_) | Output::Command(_)));
            let customer_close = commanded == RelayState::Armed && closed;
            match mismatch {
                Some(_) if agrees || customer_close => {
                    return fail("no mismatch when the relay agrees");
                }
                None if !agrees && !customer_close => {
                    return fail("a relay that did not act is reported");
                }
                Some(true) if !acts => {
                    return fail("a re-issued mismatch is followed by the action");
                }
                Some(false) if acts && e.status().relay == commanded => {
                    return fail("a mismatch is re-issued only once");
                }
                _ => {}
            }
        }
        if replay
            && !was_down
            && !matches!(
                outs.first(),
                Some(Output::Reject {
                    reason: Rejection::Replayed(_),
                    ..
                })
            )
        {
            return fail("a replayed top-up is refused");
        }
        if expired
            && !was_down
            && !matches!(
                outs.first(),
                Some(Output::Reject {
                    reason: Rejection::Expired { .. },
                    ..
                })
            )
        {
            return fail("an expired command is refused");
        }
        // 1. Money.
        if !rejected && !matches!(s.op, Op::PowerUp { .. }) {
            let delta = i128::from(e.status().net.raw()) - net_before;
            if delta != expect_delta - pricer.charged {
                return fail("money is conserved exactly");
            }
        }
        // 2. Wallet floor.
        let limit = e.config().limits.overdraft.unwrap_or(Money::ZERO);
        if i128::from(e.status().balance.raw()) < -i128::from(limit.raw()) {
            return fail("wallet never below minus the overdraft limit");
        }
        // 3. Guard.
        if e.status().guarded {
            let guarded_trip = outs.iter().any(|o| match o {
                Output::Relay(RelayAction::Open { cause, .. }) => *cause != Cause::Overload,
                Output::Command(c) => {
                    c.kind == CommandKind::Trip
                        && c.reason != crate::command::CommandReason::Open(Cause::Overload)
                }
                _ => false,
            });
            if guarded_trip
                || e.status().causes.contains(Cause::Fee)
                || e.status().causes.contains(Cause::Remote)
            {
                return fail("no fee or remote trip while guarded");
            }
        }
        // 4. Hard cut.
        if before.status().credit == CreditState::Exhausted
            && e.status().credit != CreditState::Exhausted
        {
            let allowed = matches!(s.op, Op::TopUp { .. } | Op::Param(_));
            if !allowed || e.status().available <= e.config().limits.reconnect {
                return fail("hard cut left only above the reconnect threshold");
            }
        }
        if e.status().credit == CreditState::Exhausted
            && e.status().relay != RelayState::Open
            && !e.status().guarded
            && !e.status().friendly
        {
            return fail("no close in the hard cut");
        }
        // 6. Hoarding.
        if top_up
            && !rejected
            && e.config()
                .limits
                .hoarding
                .is_some_and(|h| e.status().net > h)
        {
            return fail("hoarding limit never exceeded");
        }
        // 8. Restore after payment.
        if top_up
            && !rejected
            && e.status().causes.is_empty()
            && e.status().relay == RelayState::Open
        {
            return fail("supply allowed back after a restoring payment");
        }
        // 9. Relay open iff some cause.
        if (e.status().relay == RelayState::Open) == e.status().causes.is_empty() {
            return fail("relay open exactly when a cause is active");
        }
        if profile.policy().actuation == Actuation::Commands
            && outs.iter().any(|o| matches!(o, Output::Relay(_)))
        {
            return fail("the master-station profile emits commands, not relay actions");
        }
        for o in &outs {
            if let Output::Persist(snap) = o {
                if !snap.verify()
                    || Snapshot::parse(&snap.emit()) != Ok(*snap)
                    || *snap != e.snapshot(now, &pricer)
                    || snap.charging != Some(Charging::from(&pricer.state))
                {
                    return fail("persisted snapshots are sealed and current");
                }
                slots = [Some(*snap), Some(*snap), slots.first().copied().flatten()];
            }
        }
        // 10. After a power-up the counters are those of before the failure, and the charging
        // state is the snapshot's.
        if is_power_up && !rejected {
            if purchases(&e) != purchases(&before) {
                return fail("no purchase lost or replayable after power-up");
            }
            if let Some(Input::PowerUp(r)) = &last_power_up
                && r.charging
                    .is_some_and(|c| c != Charging::from(&pricer.state))
            {
                return fail("the charging state comes back with the snapshot");
            }
        }
    }
    Ok(())
}

/// One operation on a [`Tracker`](crate::Tracker) under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum TrackerOp {
    /// Submit a command for meter `meter % 4`; `restoring` makes it an allow-close after a
    /// payment.
    Submit {
        /// Meter number (mod 4).
        meter: u8,
        /// The command.
        kind: CommandKind,
        /// An allow-close with reason payment.
        restoring: bool,
    },
    /// Acknowledge the `pick`-th live command.
    Ack {
        /// Index (mod the number of live commands).
        pick: u8,
    },
    /// Report a failure of the `pick`-th live command.
    Fail {
        /// Index (mod the number of live commands).
        pick: u8,
    },
    /// Advance time by `secs` seconds and poll.
    Advance {
        /// Seconds.
        secs: u16,
    },
    /// The link to meter `meter % 4` goes down.
    LinkDown {
        /// Meter number (mod 4).
        meter: u8,
    },
    /// The link to meter `meter % 4` comes back.
    LinkUp {
        /// Meter number (mod 4).
        meter: u8,
    },
    /// The transport dequeues the `pick`-th command handed out so far (its id and attempt) and
    /// checks it with `check_send`.
    Dequeue {
        /// Index (mod the number of commands handed out).
        pick: u8,
    },
    /// Close the `pick`-th open job.
    CloseJob {
        /// Index (mod the number of open jobs).
        pick: u8,
    },
}

/// Runs `ops` on a tracker (capacity 16) with the given timing and checks: every command
/// finishes exactly once; nothing is sent after its expiry or deadline; a superseded or
/// cancelled command is never handed out again; a later command supersedes the earlier live
/// one of its group for that meter (a restoring close cancels a pending trip); a restoring
/// close is sent at the first poll after submission (unless its link is down) and is
/// acknowledged or escalated no later than its deadline; retries never wait past the
/// deadline; failures never exceed `max_failures`; **parked commands never fail** (no retry,
/// no failure, no overdue, no job but at expiry) and nothing is sent to a meter whose link is
/// down; link-up sends the parked commands at once; `check_send` accepts exactly the current
/// attempt of a live, sent, unexpired command; a job becomes moot exactly once, only when a
/// later command of its group for its meter is submitted, and only while it is open; every
/// command eventually finishes.
///
/// # Errors
///
/// The first [`Violation`].
#[allow(clippy::too_many_lines)]
pub fn check_tracker(
    validity: u16,
    ack_timeout: u8,
    retry_base: u8,
    max_failures: u8,
    restore_within: u16,
    ops: &[TrackerOp],
) -> Result<(), Violation> {
    use crate::command::{Command, CommandReason};
    use crate::output::CloseReason;
    use crate::tracker::{
        CommandId, CommandStatus, JobReason, MootReason, Outcome, Tracker, TrackerConfig,
        TrackerEvent,
    };

    const N: usize = 16;
    let cfg = TrackerConfig {
        validity: u32::from(validity),
        ack_timeout: u32::from(ack_timeout).max(1),
        retry_base: u32::from(retry_base).max(1),
        retry_max: 600,
        max_failures: max_failures.max(1),
        restore_within: u32::from(restore_within),
    };
    let mut tr: Tracker<u8, N> = Tracker::new(cfg);
    let mut now = Timestamp(1_000_000);
    // Per id (ids are sequential from 1): finished? job open? job ended (moot / closed)?
    let mut finished = [false; 256];
    let mut job_open = [false; 256];
    let mut meter_of = [0u8; 256];
    let mut group_of = [None; 256];
    let mut down = [false; 4];
    // What was handed out: (id, attempt), the latest 32.
    let mut handed: heapless::Deque<(CommandId, u8), 32> = heapless::Deque::new();
    let mut submitted = 0usize;
    let mut ev: heapless::Vec<TrackerEvent<u8>, 64> = heapless::Vec::new();
    let idx = |id: CommandId| usize::try_from(id.0).unwrap_or(usize::MAX);

    let mut i = 0usize;
    let total = ops.len().saturating_add(1);
    while i < total {
        let fail = |rule| Err(Violation { step: i, rule });
        let op = ops
            .get(i)
            .copied()
            .unwrap_or(TrackerOp::Advance { secs: u16::MAX });
        ev.clear();
        let live_before: heapless::Vec<crate::tracker::Tracked<u8>, N> =
            tr.live().copied().collect();
        let mut submitted_now: Option<(CommandId, Command, u8)> = None;
        match op {
            TrackerOp::Submit {
                meter,
                kind,
                restoring,
            } => {
                if submitted >= 250 {
                    i += 1;
                    continue;
                }
                let command = if restoring {
                    Command {
                        kind: CommandKind::AllowClose,
                        reason: CommandReason::Close(CloseReason::Payment),
                    }
                } else {
                    Command {
                        kind,
                        reason: CommandReason::Operator,
                    }
                };
                let meter = meter % 4;
                match tr.submit(now, meter, command, &mut ev) {
                    Ok(id) => {
                        submitted += 1;
                        submitted_now = Some((id, command, meter));
                        if let (Some(m), Some(g)) =
                            (meter_of.get_mut(idx(id)), group_of.get_mut(idx(id)))
                        {
                            *m = meter;
                            *g = Some(command.kind.group());
                        }
                        // Superseded / cancelled: exactly the earlier live ones of the group.
                        let same: heapless::Vec<CommandId, N> = live_before
                            .iter()
                            .filter(|t| {
                                t.meter == meter && t.command.kind.group() == command.kind.group()
                            })
                            .map(|t| t.id)
                            .collect();
                        let ended: heapless::Vec<CommandId, N> = ev
                            .iter()
                            .filter_map(|e| match e {
                                TrackerEvent::Finished {
                                    id,
                                    outcome: Outcome::Superseded | Outcome::Cancelled,
                                    ..
                                } => Some(*id),
                                _ => None,
                            })
                            .collect();
                        if same != ended {
                            return fail("a later command supersedes the earlier of its group");
                        }
                        let parked = tr
                            .get(id)
                            .is_some_and(|t| t.status == CommandStatus::Parked);
                        if parked != down.get(usize::from(meter)).copied().unwrap_or(false) {
                            return fail("a command for a meter whose link is down is parked");
                        }
                        if command.is_restoring() && !parked {
                            // Sent at once.
                            let mut sent = heapless::Vec::<TrackerEvent<u8>, 64>::new();
                            tr.poll(now, &mut sent);
                            if !sent
                                .iter()
                                .any(|e| matches!(e, TrackerEvent::Send { id: s, .. } if *s == id))
                            {
                                return fail("a restoring close is sent at once");
                            }
                            for e in sent {
                                let _ = ev.push(e);
                            }
                        }
                    }
                    Err(_) => {
                        if tr.len() < N {
                            return fail("submit refused only when full");
                        }
                    }
                }
            }
            TrackerOp::Ack { pick } | TrackerOp::Fail { pick } => {
                let n = tr.len();
                if n > 0 {
                    let id = tr.live().nth(usize::from(pick) % n).map(|t| t.id);
                    if let Some(id) = id {
                        let _ = if matches!(op, TrackerOp::Ack { .. }) {
                            tr.acknowledge(id, &mut ev)
                        } else {
                            tr.fail(now, id, &mut ev)
                        };
                    }
                }
            }
            TrackerOp::Advance { secs } => {
                now = now.plus(u32::from(secs));
                tr.poll(now, &mut ev);
            }
            TrackerOp::LinkDown { meter } => {
                let meter = meter % 4;
                if tr.link_down(meter).is_err() {
                    return fail("a link goes down while fewer than N meters are down");
                }
                if let Some(d) = down.get_mut(usize::from(meter)) {
                    *d = true;
                }
                if tr
                    .live()
                    .any(|t| t.meter == meter && t.status != CommandStatus::Parked)
                {
                    return fail("link down parks every command of the meter");
                }
            }
            TrackerOp::LinkUp { meter } => {
                let meter = meter % 4;
                if let Some(d) = down.get_mut(usize::from(meter)) {
                    *d = false;
                }
                tr.link_up(now, meter, &mut ev);
                // Every parked command of the meter that did not expire is sent now.
                for t in live_before
                    .iter()
                    .filter(|t| t.meter == meter && t.status == CommandStatus::Parked)
                {
                    let sent = ev
                        .iter()
                        .any(|e| matches!(e, TrackerEvent::Send { id, .. } if *id == t.id));
                    let expired = ev.iter().any(|e| {
                        matches!(e, TrackerEvent::Finished { id, outcome: Outcome::Expired, .. } if *id == t.id)
                    });
                    if !sent && !expired {
                        return fail("link up sends the parked commands at once");
                    }
                }
            }
            TrackerOp::Dequeue { pick } => {
                let n = handed.len();
                if n > 0
                    && let Some(&(id, attempt)) = handed.iter().nth(usize::from(pick) % n)
                {
                    let ok = tr.check_send(now, id, attempt).is_ok();
                    let expect = tr.get(id).is_some_and(|t| {
                        t.status == CommandStatus::Sent
                            && t.attempts == attempt
                            && now <= t.expires
                            && t.deadline.is_none_or(|d| now <= d)
                    });
                    if ok != expect {
                        return fail(
                            "check_send accepts exactly a live, current, sendable attempt",
                        );
                    }
                    if ok && finished.get(idx(id)).copied().unwrap_or(true) {
                        return fail("a finished command is never sent");
                    }
                    if tr.get(id).is_some() == finished.get(idx(id)).copied().unwrap_or(true) {
                        return fail("is_live agrees with the events");
                    }
                }
            }
            TrackerOp::CloseJob { pick } => {
                let n = tr.jobs().count();
                if n > 0 {
                    let id = tr.jobs().nth(usize::from(pick) % n).map(|j| j.id);
                    if let Some(id) = id {
                        if tr.close_job(id).is_err() {
                            return fail("an open job can be closed");
                        }
                        if let Some(o) = job_open.get_mut(idx(id)) {
                            *o = false;
                        }
                        if tr.close_job(id).is_ok() {
                            return fail("a job closes once");
                        }
                    }
                }
            }
        }
        for e in &ev {
            match *e {
                TrackerEvent::Finished { id, outcome, .. } => {
                    let Some(f) = finished.get_mut(idx(id)) else {
                        return fail("ids stay small");
                    };
                    if *f {
                        return fail("every command finishes once");
                    }
                    *f = true;
                    let was = live_before.iter().find(|t| t.id == id);
                    if outcome == Outcome::Overdue
                        && was.and_then(|t| t.deadline).is_none_or(|d| now <= d)
                    {
                        return fail("overdue only after the deadline");
                    }
                    if was.is_some_and(|t| t.status == CommandStatus::Parked)
                        && matches!(outcome, Outcome::Failed | Outcome::Overdue)
                    {
                        return fail("parked commands never fail");
                    }
                }
                TrackerEvent::Send {
                    id,
                    meter,
                    expires,
                    attempt,
                    ..
                } => {
                    if finished.get(idx(id)).copied().unwrap_or(true) || now > expires {
                        return fail("nothing sent after it finished or expired");
                    }
                    if tr.get(id).and_then(|t| t.deadline).is_some_and(|d| now > d) {
                        return fail("nothing sent after its deadline");
                    }
                    if down.get(usize::from(meter)).copied().unwrap_or(true) {
                        return fail("nothing sent to a meter whose link is down");
                    }
                    if handed.is_full() {
                        let _ = handed.pop_front();
                    }
                    let _ = handed.push_back((id, attempt));
                }
                TrackerEvent::Retry {
                    id,
                    failures,
                    retry_at,
                    ..
                } => {
                    if failures >= cfg.max_failures {
                        return fail("failures stay below max_failures while retrying");
                    }
                    if tr
                        .get(id)
                        .and_then(|t| t.deadline)
                        .is_some_and(|d| retry_at > d)
                    {
                        return fail("retries never wait past the deadline");
                    }
                    if tr
                        .get(id)
                        .is_some_and(|t| t.status == CommandStatus::Parked)
                    {
                        return fail("parked commands never fail");
                    }
                }
                TrackerEvent::ManualJob { id, reason, .. } => {
                    let was_parked = live_before
                        .iter()
                        .any(|t| t.id == id && t.status == CommandStatus::Parked);
                    if was_parked && reason != JobReason::Expired {
                        return fail("a parked command raises a job only at its expiry");
                    }
                    if let Some(o) = job_open.get_mut(idx(id)) {
                        *o = true;
                    }
                }
                TrackerEvent::JobMoot {
                    id,
                    meter,
                    command,
                    by,
                    reason,
                } => {
                    let Some((new, new_command, new_meter)) = submitted_now else {
                        return fail("a job becomes moot only when a command is submitted");
                    };
                    if by != new
                        || meter != new_meter
                        || command.kind.group() != new_command.kind.group()
                    {
                        return fail("a job is made moot by a later command of its group");
                    }
                    let cancelled = new_command.is_restoring() && command.kind == CommandKind::Trip;
                    if cancelled != (reason == MootReason::Cancelled) {
                        return fail("a restoring close cancels a trip job");
                    }
                    match job_open.get_mut(idx(id)) {
                        Some(o) if *o => *o = false,
                        _ => return fail("only an open job becomes moot, once"),
                    }
                }
            }
        }
        // A submit makes every open job of its meter and group moot (jobs are remembered:
        // at most 16 open, fewer than that here unless the oldest were forgotten).
        if let Some((_, c, m)) = submitted_now
            && tr.jobs().count() < N
            && (1..256).any(|j| {
                job_open.get(j).copied().unwrap_or(false)
                    && meter_of.get(j).copied() == Some(m)
                    && group_of.get(j).copied().flatten() == Some(c.kind.group())
                    && tr.jobs().any(|x| idx(x.id) == j)
            })
        {
            return fail("a later command makes the open jobs of its group moot");
        }
        // A restoring close still live is never past its deadline after a poll, unless parked.
        if matches!(op, TrackerOp::Advance { .. })
            && tr.live().any(|t| {
                (t.status != CommandStatus::Parked && t.deadline.is_some_and(|d| now > d))
                    || now > t.expires
            })
        {
            return fail("deadlines and expiries are enforced at every poll");
        }
        i += 1;
    }
    // After the final long advance (and a few more), everything has finished (parked commands
    // by their expiry).
    for _ in 0..64 {
        now = now.plus(u32::from(u16::MAX));
        ev.clear();
        tr.poll(now, &mut ev);
        for e in &ev {
            if let TrackerEvent::Finished { id, .. } = *e
                && let Some(f) = finished.get_mut(idx(id))
            {
                *f = true;
            }
        }
    }
    if !tr.is_empty() || finished.iter().skip(1).take(submitted).any(|f| !*f) {
        return Err(Violation {
            step: ops.len(),
            rule: "every command eventually finishes",
        });
    }
    Ok(())
}

/// The last accepted purchase count and order number.
fn purchases(e: &Engine) -> (u32, u64) {
    let s = e.status();
    (s.last_sequence, s.last_order)
}
