//! Control: guard, the command tracker (submitting the engine's commands, sending them to the
//! terminals, their outcomes), commands submitted again after a restart and manual jobs.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use amikit_prepay::{
    Command, CommandKind, Input, NoCharge, Output, RelayState, Remote, TrackerEvent,
};
use serde_json::Value;
use tokio::sync::oneshot;

use super::super::control::CmdKey;
use super::super::error::ApiError;
use super::super::msg::{AuditStamp, CommandResult, ConnCmd};
use super::super::sim_ts;
use super::super::store::{CommandRow, Write, ts_to_sim};
use super::super::views::{self, GuardView, to_json};
use super::commit::Effect;
use super::{CmdInfo, Core, Writes};
use crate::clock::SimSeconds;
use crate::site::FeeControl;

impl Core {
    pub(super) fn guard(
        &mut self,
        customer: i64,
        on: bool,
        audit: AuditStamp,
        reply: oneshot::Sender<Result<Value, ApiError>>,
    ) {
        let Some(&ai) = self.shared.customer_by_id.get(&customer) else {
            let _ = reply.send(Err(ApiError::new(404, "no such customer")));
            return;
        };
        let at = self.now();
        let expires = sim_ts(at).plus(self.tracker_cfg.validity);
        let Some(engine) = self.accounts.get_mut(ai).and_then(|a| a.engine.as_mut()) else {
            let _ = reply.send(Err(ApiError::new(
                409,
                "guard applies to remote-fee-control customers",
            )));
            return;
        };
        let out = engine.step(
            sim_ts(at),
            Input::Remote(Remote {
                kind: if on {
                    CommandKind::GuardOn
                } else {
                    CommandKind::GuardOff
                },
                expires,
                operator: 1,
            }),
            &mut NoCharge,
        );
        let guarded = engine.status().guarded;
        let outputs: Vec<Output> = out.iter().copied().collect();
        let mut w = Writes::for_account(ai);
        w.event(
            at,
            Some(customer),
            None,
            if on { "guard_on" } else { "guard_off" },
            &views::NoDetail {},
        );
        self.dispatch(ai, at, &outputs, false, &mut w);
        self.save_account(ai, at, &mut w);
        w.push(audit.row(
            at,
            200,
            format!(
                "guard {} for customer {customer}",
                if on { "on" } else { "off" }
            ),
        ));
        w.effect(Effect::Reply {
            reply,
            answer: to_json(&GuardView { customer, guarded }),
        });
        self.flush(w);
    }

    /// Reconciles the relay read back after a confirmed relay command with what it commanded
    /// (status word 3, DL/T 645-2007 `04000503`: b4 relay open, b6 open command in force): a
    /// trip must leave the relay open, an allow-close must lift the open command (the relay
    /// may stay open until the customer presses the button), a direct close must close it.
    /// On a mismatch the command is issued once more; a second mismatch is a manual job
    /// (`relay_mismatch`).
    pub(super) fn reconcile(
        &mut self,
        slot: usize,
        at: SimSeconds,
        open: bool,
        command_open: bool,
    ) {
        let Some(v) = self.verify.remove(&slot) else {
            return;
        };
        let kind = v.command.kind;
        let matches = match kind {
            CommandKind::Trip => open,
            CommandKind::AllowClose => !command_open,
            CommandKind::DirectClose => !open,
            _ => true,
        };
        if matches {
            return;
        }
        let Some(ai) = self.meters.get(slot).map(|m| m.account) else {
            return;
        };
        let customer = self.accounts.get(ai).map(|a| a.id);
        let address = self.shared.meters.get(slot).map(|m| m.address_text.clone());
        let detail = views::RelayMismatch {
            command_id: v.row,
            kind: kind.name(),
            meter: address,
            relay_open: open,
            open_command: command_open,
            reissued: v.reissued,
            observed: None,
        };
        let mut w = Writes::for_account(ai);
        w.event(at, customer, None, "relay_mismatch", &detail);
        if v.reissued {
            self.drift.insert(slot, Drift::Job);
            w.push(Write::Job {
                command: v.row,
                reason: "relay_mismatch".into(),
                at,
            });
            w.event(
                at,
                customer,
                None,
                "manual_job",
                &views::ManualJob {
                    command_id: v.row,
                    kind: kind.name(),
                    reason: "relay_mismatch",
                },
            );
        } else {
            self.submit(slot, v.command, at, &mut w);
            self.reissued.insert(slot);
        }
        self.flush(w);
    }

    /// Reconciles a relay state the master learned outside a read-back (a periodic status
    /// word 3 read of a watched meter, or the read an ERC 33 status-change event prompts,
    /// Q/GDW 1376.1 AFN 0E) with the relay command confirmed last: a command that acts late
    /// (a trip after the allow-close of a payment) must not leave the meter against the
    /// engine's intent. The command is issued once more (audited as the system); if the
    /// mismatch persists it is a manual job (`relay_mismatch`). Nothing is done while a relay
    /// command or its read-back is pending, while a job is open for the meter, against the
    /// guard, or when the engine no longer wants what the last command did.
    ///
    /// While a `relay_mismatch` job is open, a read that shows the relay as the command left
    /// it (it acted late, or someone fixed it) makes the job moot: the system cancels it.
    pub(super) fn reconcile_observed(
        &mut self,
        slot: usize,
        at: SimSeconds,
        open: bool,
        command_open: bool,
    ) {
        if self.verify.contains_key(&slot) {
            return;
        }
        let Some(&(cmd, row)) = self.last_relay.get(&slot) else {
            return;
        };
        let Some(meter_id) = self.shared.meters.get(slot).map(|m| m.id) else {
            return;
        };
        if self.drift.get(&slot) == Some(&Drift::Job) {
            if relay_matches(cmd.kind, open, command_open) {
                self.settle_relay_jobs(slot, meter_id, at, cmd, row, open);
            }
            return;
        }
        if self.trackers.relay_pending(meter_id) || self.trackers.relay_job_open(meter_id) {
            return;
        }
        let Some(ai) = self.meters.get(slot).map(|m| m.account) else {
            return;
        };
        let Some(engine) = self.accounts.get(ai).and_then(|a| a.engine.as_ref()) else {
            return;
        };
        let wanted = match cmd.kind {
            CommandKind::Trip => {
                engine.status().relay == RelayState::Open && !engine.status().guarded
            }
            CommandKind::AllowClose | CommandKind::DirectClose => {
                engine.status().relay != RelayState::Open
            }
            _ => false,
        };
        let matches = relay_matches(cmd.kind, open, command_open);
        if !wanted || matches {
            return;
        }
        let customer = self.accounts.get(ai).map(|a| a.id);
        let address = self.shared.meters.get(slot).map(|m| m.address_text.clone());
        let persists = self.drift.get(&slot) == Some(&Drift::Reissued);
        let detail = views::RelayMismatch {
            command_id: row,
            kind: cmd.kind.name(),
            meter: address.clone(),
            relay_open: open,
            open_command: command_open,
            reissued: persists,
            observed: Some(true),
        };
        let mut w = Writes::for_account(ai);
        w.event(at, customer, None, "relay_mismatch", &detail);
        if persists {
            w.push(Write::Job {
                command: row,
                reason: "relay_mismatch".into(),
                at,
            });
            w.event(
                at,
                customer,
                None,
                "manual_job",
                &views::ManualJob {
                    command_id: row,
                    kind: cmd.kind.name(),
                    reason: "relay_mismatch",
                },
            );
            self.drift.insert(slot, Drift::Job);
        } else {
            self.submit(slot, cmd, at, &mut w);
            self.reissued.insert(slot);
            self.drift.insert(slot, Drift::Reissued);
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            let system = AuditStamp {
                operator: Some("system".into()),
                role: None,
                method: "-".into(),
                path: "relay reconciliation".into(),
                wall,
            };
            w.push(system.row(
                at,
                200,
                format!(
                    "{} re-issued: meter {} relay against command {row}",
                    cmd.kind.name(),
                    address.as_deref().unwrap_or("?")
                ),
            ));
        }
        self.flush(w);
    }

    /// Cancels the meter's open `relay_mismatch` jobs: a read shows the relay as the command
    /// `row` left it.
    fn settle_relay_jobs(
        &mut self,
        slot: usize,
        meter_id: i64,
        at: SimSeconds,
        cmd: Command,
        row: i64,
        open: bool,
    ) {
        self.drift.remove(&slot);
        let customer = self.shared.meters.get(slot).map(|m| m.customer_id);
        let address = self.shared.meters.get(slot).map(|m| m.address_text.clone());
        let mut w = Writes::default();
        w.push(Write::RelayJobsSettled {
            meter: meter_id,
            at,
        });
        w.event(
            at,
            customer,
            None,
            "relay_settled",
            &views::RelaySettled {
                command_id: row,
                kind: cmd.kind.name(),
                meter: address,
                relay_open: open,
            },
        );
        self.flush(w);
    }

    /// Records a command of the engine in the unit; it reaches the tracker once the unit is
    /// committed.
    pub(super) fn submit(&mut self, slot: usize, cmd: Command, at: SimSeconds, w: &mut Writes) {
        // A new command for the meter: an earlier re-issue no longer stands.
        self.reissued.remove(&slot);
        self.drift.remove(&slot);
        let Some(info) = self.shared.meters.get(slot) else {
            return;
        };
        let meter_id = info.id;
        let row = self.next_cmd_row;
        self.next_cmd_row += 1;
        w.push(Write::CommandQueued {
            id: row,
            meter: meter_id,
            kind: cmd.kind.name(),
            at,
            reason: serde_json::to_string(&cmd).unwrap_or_default(),
            expires: at + i64::from(self.tracker_cfg.validity),
            via: self.shared.link.control_via.name(),
        });
        // This command carries the current intent for its group: open jobs of the same group
        // for the meter (a trip job after a restoring payment, …) are moot.
        let group = cmd.kind.group();
        w.push(Write::JobsMoot {
            meter: meter_id,
            kinds: ALL_KINDS
                .iter()
                .filter(|k| k.group() == group)
                .map(|k| k.name())
                .collect(),
            by: row,
            at,
        });
        w.effect(Effect::Submit { slot, cmd, row });
        info.watch.store(true, Ordering::Relaxed);
    }

    pub(super) fn resubmit(&mut self, rows: &[CommandRow]) {
        let at = self.now();
        let mut w = Writes::default();
        for r in rows {
            let Some(&slot) = self.shared.meter_by_id.get(&r.meter_id) else {
                continue;
            };
            let cmd: Option<Command> = r
                .reason
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok());
            let row = r.id;
            let Some(cmd) = cmd else {
                w.push(Write::CommandAbandoned {
                    id: row,
                    detail: "unreadable after restart".into(),
                });
                continue;
            };
            let mut ev = Vec::new();
            match self.trackers.submit(sim_ts(at), r.meter_id, cmd, &mut ev) {
                Ok(key) => {
                    self.cmds.insert(
                        key,
                        CmdInfo {
                            row,
                            meter: slot,
                            kind: cmd.kind,
                        },
                    );
                    let expires = at + i64::from(self.tracker_cfg.validity);
                    w.push(Write::CommandResubmitted {
                        id: row,
                        at,
                        expires,
                    });
                }
                Err(e) => {
                    let detail = e.to_string();
                    w.push(Write::CommandAbandoned { id: row, detail });
                }
            }
            self.tracker_events(ev, &mut w);
        }
        self.flush(w);
    }

    pub(super) fn poll_trackers(&mut self) {
        if self.trackers.live() == 0 {
            return;
        }
        let at = self.now();
        let mut ev = Vec::new();
        self.trackers.poll(sim_ts(at), &mut ev);
        if ev.is_empty() {
            return;
        }
        let mut w = Writes::default();
        self.tracker_events(ev, &mut w);
        self.flush(w);
    }

    pub(super) fn on_command_done(&mut self, key: CmdKey, result: CommandResult) {
        let at = self.now();
        let mut ev = Vec::new();
        let mut w = Writes::default();
        match result {
            CommandResult::Confirmed => {
                let _ = self.trackers.acknowledge(key, &mut ev);
            }
            CommandResult::Failed(detail) => {
                if let Some(info) = self.cmds.get(&key) {
                    let row = info.row;
                    w.push(Write::CommandFailure {
                        id: row,
                        detail,
                        at,
                    });
                }
                let _ = self.trackers.fail(sim_ts(at), key, &mut ev);
            }
        }
        self.tracker_events(ev, &mut w);
        self.flush(w);
    }

    /// Carries out tracker events; sending may fail at once (no connection), which produces
    /// more events.
    pub(super) fn tracker_events(&mut self, events: Vec<(u16, TrackerEvent<i64>)>, w: &mut Writes) {
        let mut queue: VecDeque<(u16, TrackerEvent<i64>)> = events.into();
        let at = self.now();
        while let Some((shard, e)) = queue.pop_front() {
            match e {
                TrackerEvent::Send {
                    id,
                    kind,
                    expires,
                    attempt,
                    ..
                } => {
                    let key = CmdKey { shard, id };
                    let Some(info) = self.cmds.get(&key) else {
                        continue;
                    };
                    let (row, slot) = (info.row, info.meter);
                    let sent = self.send_to_terminal(
                        slot,
                        ConnCmd::Control {
                            key,
                            row,
                            attempt,
                            meter: slot,
                            kind,
                            expires,
                        },
                    );
                    let status = if sent { "sent" } else { "unsent" };
                    w.push(Write::CommandAttempt {
                        id: row,
                        status,
                        attempt,
                        at,
                    });
                    if !sent {
                        let mut more = Vec::new();
                        let _ = self.trackers.fail(sim_ts(at), key, &mut more);
                        queue.extend(more);
                    }
                }
                // Moot jobs are cancelled in the database when the later command is queued
                // (`Write::JobsMoot`): that also covers jobs raised before a restart, which
                // the tracker no longer remembers.
                TrackerEvent::JobMoot { .. } => {}
                TrackerEvent::Retry {
                    id,
                    failures,
                    retry_at,
                    ..
                } => {
                    if let Some(info) = self.cmds.get(&CmdKey { shard, id }) {
                        let row = info.row;
                        let retry = ts_to_sim(retry_at);
                        w.push(Write::CommandRetry {
                            id: row,
                            at,
                            note: format!(
                                " [failure {failures}, retry at {}]",
                                crate::clock::Civil::from_sim(retry)
                            ),
                        });
                    }
                }
                TrackerEvent::Finished {
                    id,
                    command,
                    outcome,
                    ..
                } => {
                    let key = CmdKey { shard, id };
                    let Some(info) = self.cmds.remove(&key) else {
                        continue;
                    };
                    let row = info.row;
                    self.last_finished = Some((key, row));
                    let status = outcome_name(outcome);
                    w.push(Write::CommandFinished {
                        id: row,
                        status,
                        at,
                    });
                    let customer = self.shared.meters.get(info.meter).map(|m| m.customer_id);
                    let address = self
                        .shared
                        .meters
                        .get(info.meter)
                        .map(|m| m.address_text.clone());
                    w.event(
                        at,
                        customer,
                        None,
                        &format!("command_{status}"),
                        &views::CommandStatus {
                            command_id: row,
                            kind: command.kind.name(),
                            reason: &command.reason,
                            meter: address,
                        },
                    );
                    if matches!(outcome, amikit_prepay::Outcome::Acknowledged)
                        && matches!(
                            info.kind,
                            CommandKind::Trip | CommandKind::AllowClose | CommandKind::DirectClose
                        )
                    {
                        // Read the relay back at once and reconcile it with the command.
                        // What the relay should show is stored with the outcome, so that a
                        // restart still reconciles it.
                        self.last_relay.insert(info.meter, (command, row));
                        if let Some(m) = self.shared.meters.get(info.meter) {
                            w.push(Write::RelayConfirmed {
                                meter: m.id,
                                command: row,
                            });
                        }
                        self.verify.insert(
                            info.meter,
                            Verify {
                                command,
                                row,
                                reissued: self.reissued.remove(&info.meter),
                            },
                        );
                        let _ = self.send_to_terminal(
                            info.meter,
                            ConnCmd::ReadStatus {
                                meter: info.meter,
                                verify: true,
                            },
                        );
                    }
                    self.update_watch(info.meter);
                }
                TrackerEvent::ManualJob {
                    id,
                    command,
                    reason,
                    meter,
                } => {
                    // The tracker emits Finished (which removed the entry) and then ManualJob
                    // for the same command.
                    let Some(row) = self
                        .last_finished
                        .filter(|(k, _)| *k == CmdKey { shard, id })
                        .map(|(_, row)| row)
                    else {
                        continue;
                    };
                    let reason_s = match reason {
                        amikit_prepay::JobReason::TooManyFailures(n) => {
                            format!("too_many_failures ({n})")
                        }
                        amikit_prepay::JobReason::Expired => "expired".into(),
                        amikit_prepay::JobReason::RestoreOverdue => "restore_overdue".into(),
                    };
                    let customer = self
                        .shared
                        .meter_by_id
                        .get(&meter)
                        .and_then(|&s| self.shared.meters.get(s))
                        .map(|m| m.customer_id);
                    let r2 = reason_s.clone();
                    w.push(Write::Job {
                        command: row,
                        reason: r2,
                        at,
                    });
                    w.event(
                        at,
                        customer,
                        None,
                        "manual_job",
                        &views::ManualJob {
                            command_id: row,
                            kind: command.kind.name(),
                            reason: &reason_s,
                        },
                    );
                }
            }
        }
    }

    /// A terminal's proven login (`online`) or the end of its connection: its meters'
    /// commands are parked while it is away (no failures, no jobs; they still expire) and sent
    /// again when it is back.
    pub(super) fn on_link(&mut self, terminal: usize, online: bool) {
        let Some(t) = self.shared.terminals.get(terminal) else {
            return;
        };
        let at = self.now();
        let mut w = Writes::default();
        let mut ev = Vec::new();
        for &slot in &t.meters {
            let Some(m) = self.shared.meters.get(slot) else {
                continue;
            };
            if online {
                self.trackers.link_up(sim_ts(at), m.id, &mut ev);
            } else if let Err(e) = self.trackers.link_down(m.id) {
                tracing::warn!(meter = m.id, error = %e, "master: cannot park commands");
            }
        }
        let kind = if online { "link_up" } else { "link_down" };
        w.event(
            at,
            None,
            Some(t.id),
            kind,
            &views::TerminalLink {
                a2: t.a2,
                meters: t.meters.len(),
            },
        );
        self.tracker_events(ev, &mut w);
        self.flush(w);
    }

    pub(super) fn send_to_terminal(&self, slot: usize, cmd: ConnCmd) -> bool {
        let Some(m) = self.shared.meters.get(slot) else {
            return false;
        };
        let Some(t) = self.shared.terminals.get(m.terminal) else {
            return false;
        };
        let sender = t.conn.lock().ok().and_then(|g| g.clone());
        match sender {
            Some(s) => s.try_send(cmd).is_ok(),
            None => false,
        }
    }

    pub(super) fn update_watch(&self, slot: usize) {
        let Some(info) = self.shared.meters.get(slot) else {
            return;
        };
        let Some(ms) = self.meters.get(slot) else {
            return;
        };
        let engine_open = self
            .accounts
            .get(ms.account)
            .and_then(|a| a.engine.as_ref())
            .is_some_and(|e| e.status().relay != RelayState::Closed);
        let watch = info.fee == FeeControl::Local
            || engine_open
            || ms.relay_open == Some(true)
            || self.trackers.relay_pending(info.id);
        info.watch.store(watch, Ordering::Relaxed);
    }
}

/// A confirmed relay command waiting for its read-back.
#[derive(Debug, Clone, Copy)]
pub(super) struct Verify {
    /// The command.
    pub command: Command,
    /// Its row.
    pub row: i64,
    /// It was issued again after a first mismatch.
    pub reissued: bool,
}

/// How far a relay mismatch found outside a read-back went (cleared by the engine's next
/// command for the meter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Drift {
    /// The last relay command was issued once more.
    Reissued,
    /// A `relay_mismatch` job is open: a person decides.
    Job,
}

/// Whether the relay read back shows what a relay command of `kind` asked for (DL/T 645-2007
/// status word 3, `04000503`: b4 relay open, b6 open command in force): a trip leaves it
/// open, an allow-close or direct close lifts the open command (an allowed relay may stay
/// open until the customer presses the button).
fn relay_matches(kind: CommandKind, open: bool, command_open: bool) -> bool {
    match kind {
        CommandKind::Trip => open,
        CommandKind::AllowClose | CommandKind::DirectClose => !command_open,
        _ => true,
    }
}

/// Every command kind (to find the kinds of a group).
const ALL_KINDS: [CommandKind; 7] = [
    CommandKind::Trip,
    CommandKind::AllowClose,
    CommandKind::DirectClose,
    CommandKind::Alarm,
    CommandKind::AlarmRelease,
    CommandKind::GuardOn,
    CommandKind::GuardOff,
];

pub(super) fn outcome_name(o: amikit_prepay::Outcome) -> &'static str {
    match o {
        amikit_prepay::Outcome::Acknowledged => "acknowledged",
        amikit_prepay::Outcome::Failed => "failed",
        amikit_prepay::Outcome::Expired => "expired",
        amikit_prepay::Outcome::Superseded => "superseded",
        amikit_prepay::Outcome::Cancelled => "cancelled",
        amikit_prepay::Outcome::Overdue => "overdue",
    }
}
