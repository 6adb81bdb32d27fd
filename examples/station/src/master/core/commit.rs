//! Units and their effects: the core sends each input's writes as one unit and keeps what
//! must wait for the commit (answers, commands for the tracker) until the DB thread reports
//! the unit's outcome. A failed unit returns its customer to the last committed state.

use amikit_prepay::{Command, Engine};
use amikit_tariff::{ChargeState, Energy, MeterChange, Money};
use serde_json::Value;
use tokio::sync::oneshot;

use super::super::error::ApiError;
use super::super::msg::{PaymentAnswer, PaymentOutcome};
use super::super::sim_ts;
use super::super::store::{Report, Unit, UnitFailure, Write};
use super::{CmdInfo, Core, PaymentReply, Writes};
use crate::clock::SimSeconds;

/// What to do once a unit is committed (and what to tell if it is not).
pub(in crate::master) enum Effect {
    /// Hand the engine's command (its row is in the unit) to the tracker.
    Submit {
        /// Meter slot.
        slot: usize,
        /// The command.
        cmd: Command,
        /// Its row.
        row: i64,
    },
    /// Answer an API request.
    Reply {
        /// Where.
        reply: oneshot::Sender<Result<Value, ApiError>>,
        /// The answer once committed.
        answer: Value,
    },
    /// Answer a payment (and whoever asked for the same order number meanwhile).
    Payment {
        /// The order number.
        order_no: String,
        /// Where.
        reply: Option<oneshot::Sender<PaymentReply>>,
        /// The engine's decision.
        outcome: PaymentOutcome,
    },
}

/// The state of an account that a failed unit must not leave behind.
#[derive(Clone)]
pub(in crate::master) struct Memo {
    engine: Option<Engine>,
    charge: ChargeState,
    init_done: bool,
    guard_at_start: bool,
    low_notified: bool,
    vend_remainder: Money,
    /// The account's meters, their baselines (last good reading) and last replacements.
    meters: Vec<MeterMemo>,
}

/// A meter slot, its baseline (time, register) and its last replacement.
type MeterMemo = (usize, Option<(SimSeconds, Energy)>, Option<MeterChange>);

/// A unit sent and not yet reported.
pub(in crate::master) struct Pending {
    id: u64,
    account: Option<usize>,
    /// The account's state after the unit.
    memo: Option<Memo>,
    effects: Vec<Effect>,
}

/// What a payment's originator hears when its unit was not stored.
const NOT_RECORDED: &str = "payment not recorded (the database could not store it): \
                            nothing changed; retry with the same order_no";

impl Core {
    /// The account's live state.
    pub(super) fn memo(&self, ai: usize) -> Memo {
        let acc = self.accounts.get(ai);
        Memo {
            engine: acc.and_then(|a| a.engine.clone()),
            charge: acc.map(|a| a.charge.clone()).unwrap_or_default(),
            init_done: acc.is_some_and(|a| a.init_done),
            guard_at_start: acc.is_some_and(|a| a.guard_at_start),
            low_notified: acc.is_some_and(|a| a.low_notified),
            vend_remainder: acc.map_or(Money::ZERO, |a| a.vend_remainder),
            meters: acc
                .map(|a| {
                    a.meters
                        .iter()
                        .map(|&m| {
                            let ms = self.meters.get(m);
                            (m, ms.and_then(|s| s.last), ms.and_then(|s| s.last_change))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    fn restore(&mut self, ai: usize, memo: &Memo) {
        if let Some(acc) = self.accounts.get_mut(ai) {
            acc.engine.clone_from(&memo.engine);
            acc.charge.clone_from(&memo.charge);
            acc.init_done = memo.init_done;
            acc.guard_at_start = memo.guard_at_start;
            acc.low_notified = memo.low_notified;
            acc.vend_remainder = memo.vend_remainder;
        }
        for &(m, last, change) in &memo.meters {
            if let Some(ms) = self.meters.get_mut(m) {
                ms.last = last;
                ms.last_change = change;
            }
        }
    }

    /// Sends a unit; runs its effects at once if it writes nothing.
    pub(super) fn send_unit(&mut self, w: Writes) {
        let Writes {
            writes,
            effects,
            account,
        } = w;
        if writes.is_empty() {
            self.run_effects(effects, true);
            return;
        }
        let id = self.next_unit;
        self.next_unit += 1;
        let chain = account.and_then(|ai| self.accounts.get(ai)).map(|a| a.id);
        let memo = account.map(|ai| self.memo(ai));
        self.shared.store.submit(Unit {
            writes,
            chain,
            id: Some(id),
        });
        self.pending.push_back(Pending {
            id,
            account,
            memo,
            effects,
        });
    }

    /// The DB thread's outcomes of one batch.
    pub(super) fn on_report(&mut self, report: Report) {
        for (id, outcome) in report.outcomes {
            // Units are reported in the order they were sent.
            while self.pending.front().is_some_and(|p| p.id < id) {
                if let Some(p) = self.pending.pop_front() {
                    tracing::error!(unit = p.id, "master core: unit never reported");
                    self.settle(p, Err(UnitFailure::Commit("never reported".into())));
                }
            }
            if self.pending.front().is_some_and(|p| p.id == id)
                && let Some(p) = self.pending.pop_front()
            {
                self.settle(p, outcome);
            }
        }
    }

    fn settle(&mut self, p: Pending, outcome: Result<(), UnitFailure>) {
        match outcome {
            Ok(()) => {
                if let (Some(ai), Some(memo)) = (p.account, p.memo)
                    && let Some(c) = self.committed.get_mut(ai)
                {
                    *c = memo;
                }
                self.run_effects(p.effects, true);
            }
            Err(e) => {
                if let Some(ai) = p.account {
                    let written_off = self.reverted_through.get(ai).copied().unwrap_or(0);
                    if p.id > written_off {
                        // Back to the last committed state; every later unit of the account
                        // already sent was computed on top of this one and fails unexecuted
                        // (the DB thread's chain) until the chain is cleared.
                        let last_sent = self
                            .pending
                            .iter()
                            .filter(|q| q.account == Some(ai))
                            .map(|q| q.id)
                            .max()
                            .unwrap_or(p.id);
                        if let Some(r) = self.reverted_through.get_mut(ai) {
                            *r = last_sent;
                        }
                        if let Some(memo) = self.committed.get(ai).cloned() {
                            self.restore(ai, &memo);
                        }
                        if let Some(acc) = self.accounts.get(ai) {
                            tracing::warn!(
                                customer = acc.id,
                                "master core: not stored ({e}); back to the last committed state"
                            );
                            self.shared.store.clear_chain(acc.id);
                        }
                        let meters = self
                            .accounts
                            .get(ai)
                            .map(|a| a.meters.clone())
                            .unwrap_or_default();
                        for m in meters {
                            self.update_watch(m);
                        }
                    }
                }
                self.run_effects(p.effects, false);
            }
        }
    }

    fn run_effects(&mut self, effects: Vec<Effect>, committed: bool) {
        let mut w = Writes::default();
        for e in effects {
            match e {
                Effect::Submit { slot, cmd, row } => {
                    if committed {
                        self.submit_committed(slot, cmd, row, &mut w);
                    }
                }
                Effect::Reply { reply, answer } => {
                    let _ = reply.send(if committed {
                        Ok(answer)
                    } else {
                        Err(ApiError::new(
                            503,
                            "not recorded (the database could not store it): nothing changed; \
                             retry",
                        ))
                    });
                }
                Effect::Payment {
                    order_no,
                    reply,
                    outcome,
                } => {
                    let waiting = self.inflight_orders.remove(&order_no).unwrap_or_default();
                    let answer = |first: bool| -> PaymentReply {
                        if !committed {
                            Err(ApiError::new(503, NOT_RECORDED))
                        } else if first {
                            Ok(PaymentAnswer::New(outcome.clone()))
                        } else {
                            Ok(PaymentAnswer::Duplicate(outcome.clone()))
                        }
                    };
                    if let Some(r) = reply {
                        let _ = r.send(answer(true));
                    }
                    for r in waiting {
                        let _ = r.send(answer(false));
                    }
                }
            }
        }
        if !w.writes.is_empty() || !w.effects.is_empty() {
            self.send_unit(w);
        }
    }

    /// A committed command goes to the tracker (which may send it to a terminal at once).
    fn submit_committed(&mut self, slot: usize, cmd: Command, row: i64, w: &mut Writes) {
        let Some(meter_id) = self.shared.meters.get(slot).map(|m| m.id) else {
            return;
        };
        let at = self.now();
        let mut ev = Vec::new();
        match self.trackers.submit(sim_ts(at), meter_id, cmd, &mut ev) {
            Ok(key) => {
                self.cmds.insert(
                    key,
                    CmdInfo {
                        row,
                        meter: slot,
                        kind: cmd.kind,
                    },
                );
            }
            Err(e) => w.push(Write::CommandRefused {
                id: row,
                at,
                detail: e.to_string(),
            }),
        }
        self.tracker_events(ev, w);
        self.update_watch(slot);
    }
}
