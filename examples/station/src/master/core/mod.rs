//! The billing and control core: one task owning every customer's engine, tariff state and
//! the command tracker. Connection tasks send it readings and command results, the API sends
//! it payments, guard changes, vending, meter replacements and queries.
//!
//! Every input is handled completely before the next: the engine step, the commands it
//! issues, the notifications and events it produces and the customer's new persistent state
//! are written to the database as **one** unit of [`Write`]s (one savepoint of the DB
//! thread's transaction), so a crash never keeps a decision without its command, or a balance
//! without its reading.
//!
//! The core computes on its live (speculative) state and sends the unit; what must not happen
//! before the unit is durable — answering the API, handing a command to the tracker (hence to
//! a terminal) — waits as the unit's *effects* until the DB thread reports the commit
//! (`commit`). A unit that fails returns its customer to the last committed state (engine,
//! charging state, meter baselines), so memory and database never diverge; the originator
//! hears of the failure (a payment: 503 "not recorded, retry with the same order_no").
//!
//! By job: `readings` (readings, plausibility, billing, meter replacement), `payments`,
//! `vending` (STS tokens), `control` (guard, the command tracker, commands and manual jobs),
//! `views` (JSON views of the accounts), `commit` (units, effects, reverts); this module holds
//! the task loop, the dispatch of engine outputs and the persistence of an account.

mod commit;
mod control;
mod payments;
mod readings;
mod vending;
mod views;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use amikit_prepay::{
    CommandKind, Engine, Input, NoCharge, Output, Outputs, Record, Remote, Timestamp, TrackerConfig,
};
use amikit_sts::dkga::{Dkga, VendingKey};
use amikit_sts::tid::BaseDate;
use amikit_sts::vend::Vendor;
use amikit_tariff::{ChargeState, Energy, MeterChange, Money, TariffSet};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

use super::billing::{self, money_from_text, notification_kind, notification_text};
use super::control::{CmdKey, Trackers};
use super::error::ApiError;
use super::error::{MasterError, MasterResult};
use super::msg::{CoreMsg, PaymentAnswer};
use super::store::{Loaded, Report, StoredState, Write};
use super::views::{self as api_views, CustomerView, to_json};
use super::{Shared, sim_ts};
use crate::clock::SimSeconds;
use crate::site::{FeeControl, Site, SiteMeter};
use commit::{Effect, Memo, Pending};
use vending::sts_vendor;

/// The database writes of one input, sent to the DB thread as one unit, with what to do once
/// it is committed (or not).
#[derive(Default)]
pub(super) struct Writes {
    writes: Vec<Write>,
    effects: Vec<Effect>,
    /// The customer whose state the unit carries (its chain).
    account: Option<usize>,
}

impl Writes {
    /// Writes that carry account `ai`'s state: they fail with it, revert it when they fail.
    pub(super) fn for_account(ai: usize) -> Self {
        Self {
            account: Some(ai),
            ..Self::default()
        }
    }

    pub(super) fn push(&mut self, w: Write) {
        self.writes.push(w);
    }

    pub(super) fn effect(&mut self, e: Effect) {
        self.effects.push(e);
    }

    pub(super) fn event(
        &mut self,
        at: SimSeconds,
        customer: Option<i64>,
        terminal: Option<i64>,
        kind: &str,
        detail: &impl Serialize,
    ) {
        self.push(Write::event(at, customer, terminal, kind, &to_json(detail)));
    }
}

struct Account {
    id: i64,
    name: String,
    phone: Option<String>,
    fee: FeeControl,
    tariff: Arc<TariffSet>,
    engine: Option<Engine>,
    charge: ChargeState,
    meters: Vec<usize>,
    init_done: bool,
    guard_at_start: bool,
    low_notified: bool,
    alarm: Money,
    /// Money paid for tokens that no token carried yet ([`super::vend_split`]).
    vend_remainder: Money,
}

impl Account {
    fn stored(&self, now: Timestamp) -> StoredState {
        StoredState {
            engine: self.engine.as_ref().map(|e| e.snapshot(now, &NoCharge)),
            charge: self.charge.clone(),
            init_done: self.init_done,
            guard_at_start: self.guard_at_start,
            low_notified: self.low_notified,
        }
    }
}

struct MeterState {
    account: usize,
    last: Option<(SimSeconds, Energy)>,
    relay_open: Option<bool>,
    remaining: Option<Money>,
    power_w: Option<i64>,
    vendor: Option<Vendor<'static>>,
    base_date: BaseDate,
    last_tid: Option<u32>,
    /// The meter's maximum demand, W (the reading plausibility bound).
    max_demand_w: i64,
    /// The meter's last replacement (a replacement sent again is recognised by it).
    last_change: Option<MeterChange>,
}

struct CmdInfo {
    row: i64,
    meter: usize,
    kind: CommandKind,
}

/// The core task's state.
pub struct Core {
    shared: Arc<Shared>,
    accounts: Vec<Account>,
    meters: Vec<MeterState>,
    trackers: Arc<Trackers>,
    tracker_cfg: TrackerConfig,
    cmds: HashMap<CmdKey, CmdInfo>,
    /// Per meter slot: the relay command confirmed last, until its read-back.
    verify: HashMap<usize, control::Verify>,
    /// Meter slots whose relay command was re-issued after a mismatch.
    reissued: std::collections::HashSet<usize>,
    /// Per meter slot: the relay command confirmed last and its row (what the relay should
    /// show whenever the master learns its state).
    last_relay: HashMap<usize, (amikit_prepay::Command, i64)>,
    /// Per meter slot: how far a mismatch found outside a read-back went since the last
    /// command of the engine.
    drift: HashMap<usize, control::Drift>,
    last_finished: Option<(CmdKey, i64)>,
    next_cmd_row: i64,
    /// Energy allowed above max demand × elapsed time in a reading.
    reading_margin: Energy,
    /// The money one unit of a currency token is (`[sts] currency_unit`).
    currency_unit: Money,
    /// Units sent and not yet reported, oldest first.
    pending: std::collections::VecDeque<Pending>,
    next_unit: u64,
    /// Per account: its state as last committed.
    committed: Vec<Memo>,
    /// Per account: the newest unit already written off by a revert.
    reverted_through: Vec<u64>,
    /// Payments being recorded, by order number: who else asked for the same order.
    inflight_orders: HashMap<String, Vec<tokio::sync::oneshot::Sender<PaymentReply>>>,
}

/// The answer to a payment request.
pub(super) type PaymentReply = Result<PaymentAnswer, ApiError>;

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("accounts", &self.accounts.len())
            .field("live_commands", &self.trackers.live())
            .finish()
    }
}

impl Core {
    /// Builds the core from the loaded database: engines restored from their snapshots,
    /// payments committed but not applied re-applied, live commands submitted again, opening
    /// steps taken for new customers.
    pub(crate) fn new(
        shared: Arc<Shared>,
        loaded: Loaded,
        site: &Site,
        tracker_cfg: TrackerConfig,
    ) -> MasterResult<Self> {
        let now = shared.clock.now();
        let site_meters: HashMap<&str, &SiteMeter> = site
            .meters()
            .map(|(_, m)| (m.address.as_str(), m))
            .collect();
        let vending = match &site.vending {
            Some(v) => Some(
                VendingKey::new(
                    Dkga::Dkga04,
                    &v.dkga04_key
                        .hex_bytes("vending key")
                        .map_err(|e| MasterError::config("vending key", e))?,
                )
                .map_err(|e| MasterError::config("vending key", e))?,
            ),
            None => None,
        };
        let tariffs: HashMap<i64, Arc<TariffSet>> = loaded
            .tariffs
            .into_iter()
            .map(|(id, (_, set))| (id, Arc::new(set)))
            .collect();
        let mut accounts = Vec::new();
        let mut powered_up: Vec<(usize, Vec<Output>)> = Vec::new();
        for (i, c) in loaded.customers.iter().enumerate() {
            let info = shared.customers.get(i);
            let site_meter = info
                .and_then(|ci| ci.meters.first())
                .and_then(|&m| shared.meters.get(m))
                .and_then(|m| site_meters.get(m.address_text.as_str()).copied());
            let tariff = tariffs.get(&c.tariff_id).cloned().ok_or_else(|| {
                MasterError::config(format!("customer {}", c.name), "unknown tariff")
            })?;
            let engine = match c.state.engine {
                Some(snap) if !c.state.init_done => {
                    // Seeded, never run: the opening state is a fresh engine (the opening step
                    // below takes its first decisions, after guard).
                    let config = match site_meter {
                        Some(m) => billing::engine_config(m)?,
                        None => amikit_prepay::Profile::StateGridRemote.config(),
                    };
                    Some(
                        Engine::new(config, snap.net())
                            .map_err(|e| MasterError::config(format!("customer {}", c.name), e))?,
                    )
                }
                Some(snap) => {
                    let config = match site_meter {
                        Some(m) => billing::engine_config(m)?,
                        None => amikit_prepay::Profile::StateGridRemote.config(),
                    };
                    let mut e = Engine::new(config, Money::ZERO)
                        .map_err(|e| MasterError::config(format!("customer {}", c.name), e))?;
                    // PowerUp restores the relay and the alarm in force without outputs; a
                    // command comes out only where the restored state calls for a change
                    // (e.g. a customer seeded at zero). Live commands come back from the
                    // database.
                    let out = e.step(sim_ts(now), Input::PowerUp(snap), &mut NoCharge);
                    if out.iter().any(|o| matches!(o, Output::Reject { .. })) {
                        return Err(MasterError::config(
                            format!("customer {}", c.name),
                            "the engine refused its stored snapshot",
                        ));
                    }
                    let keep: Vec<Output> = out
                        .iter()
                        .filter(|o| matches!(o, Output::Command(_)))
                        .copied()
                        .collect();
                    if !keep.is_empty() {
                        powered_up.push((i, keep));
                    }
                    Some(e)
                }
                None => None,
            };
            let alarm = match site_meter {
                Some(m) => money_from_text(&m.alarm_threshold)?,
                None => Money::ZERO,
            };
            accounts.push(Account {
                id: c.id,
                name: c.name.clone(),
                phone: c.phone.clone(),
                fee: c.fee_control,
                tariff,
                engine,
                charge: c.state.charge.clone(),
                meters: info.map(|ci| ci.meters.clone()).unwrap_or_default(),
                init_done: c.state.init_done,
                guard_at_start: c.state.guard_at_start,
                low_notified: c.state.low_notified,
                alarm,
                vend_remainder: Money::from_raw(c.vend_remainder),
            });
        }
        let rows: HashMap<i64, &super::store::MeterRow> =
            loaded.meters.iter().map(|m| (m.id, m)).collect();
        let kw = |what: &str, s: &str| {
            // kW written as a decimal: parsed as kWh, whose Wh count is the watts.
            Energy::parse(s.trim())
                .map(|e| e.wh())
                .map_err(|e| MasterError::config(what, e))
        };
        let default_demand_w = kw("readings.max_demand_kw", &site.readings.max_demand_kw)?;
        let reading_margin = Energy::parse(site.readings.margin_kwh.trim())
            .map_err(|e| MasterError::config("readings.margin_kwh", e))?;
        let mut meters = Vec::new();
        for m in &shared.meters {
            let row = rows.get(&m.id);
            let max_demand_w = match site_meters
                .get(m.address_text.as_str())
                .and_then(|s| s.max_demand_kw.as_deref())
            {
                Some(v) => kw(&format!("meter {}: max_demand_kw", m.address_text), v)?,
                None => default_demand_w,
            };
            let account = shared
                .customer_by_id
                .get(&m.customer_id)
                .copied()
                .unwrap_or(0);
            let (vendor, base_date) = match (
                &vending,
                site_meters
                    .get(m.address_text.as_str())
                    .and_then(|s| s.sts.as_ref()),
            ) {
                (Some(key), Some(sts)) => {
                    let (v, b) = sts_vendor(key, sts)
                        .map_err(|e| MasterError::config(format!("meter {}", m.address_text), e))?;
                    (Some(v), b)
                }
                _ => (None, BaseDate::Y2014),
            };
            meters.push(MeterState {
                account,
                last: row
                    .and_then(|r| r.last)
                    .map(|(e, at)| (at, Energy::from_wh(e))),
                relay_open: row.and_then(|r| r.relay.as_deref()).map(|r| r == "open"),
                remaining: row.and_then(|r| r.remaining).map(Money::from_raw),
                power_w: None,
                vendor,
                base_date,
                last_tid: loaded.last_tid.get(&m.id).copied(),
                max_demand_w,
                last_change: row.and_then(|r| r.last_change).map(|(closing, opening)| {
                    MeterChange {
                        closing: Energy::from_wh(closing),
                        opening: Energy::from_wh(opening),
                    }
                }),
            });
        }
        // The relay command each meter confirmed last (reconciled with the relay whenever
        // the master learns its state, across restarts too).
        let last_relay: HashMap<usize, (amikit_prepay::Command, i64)> = shared
            .meters
            .iter()
            .enumerate()
            .filter_map(|(slot, m)| {
                let (row, reason) = rows.get(&m.id)?.relay_command.as_ref()?;
                let cmd = serde_json::from_str(reason.as_deref()?).ok()?;
                Some((slot, (cmd, *row)))
            })
            .collect();
        // A relay_mismatch job open before the restart: a person decides, nothing is issued.
        let drift: HashMap<usize, control::Drift> = shared
            .meters
            .iter()
            .enumerate()
            .filter(|(_, m)| rows.get(&m.id).is_some_and(|r| r.relay_job_open))
            .map(|(slot, _)| (slot, control::Drift::Job))
            .collect();
        let n_accounts = accounts.len();
        let mut core = Core {
            trackers: shared.trackers.clone(),
            tracker_cfg,
            shared,
            accounts,
            meters,
            cmds: HashMap::new(),
            verify: HashMap::new(),
            last_relay,
            drift,
            reissued: std::collections::HashSet::new(),
            last_finished: None,
            next_cmd_row: loaded.next_command_id,
            reading_margin,
            currency_unit: site
                .sts
                .unit()
                .map_err(|e| MasterError::config("sts.currency_unit", e))?,
            pending: std::collections::VecDeque::new(),
            next_unit: 1,
            committed: Vec::with_capacity(n_accounts),
            reverted_through: vec![0; n_accounts],
            inflight_orders: HashMap::new(),
        };
        // What is loaded is committed.
        core.committed = (0..n_accounts).map(|ai| core.memo(ai)).collect();
        // No terminal is connected yet: commands wait (parked) until their terminal logs in.
        for m in &core.shared.meters {
            if let Err(e) = core.trackers.link_down(m.id) {
                tracing::warn!(meter = m.id, error = %e, "master: cannot park commands");
            }
        }
        core.resubmit(&loaded.pending_commands);
        for (ai, outputs) in powered_up {
            let mut w = Writes::default();
            core.dispatch(ai, now, &outputs, false, &mut w);
            core.flush(w);
        }
        for p in &loaded.unapplied {
            core.apply_stored_payment(p.customer_id, Money::from_raw(p.amount), &p.order_no);
        }
        for i in 0..core.accounts.len() {
            core.init_account(i);
        }
        for slot in 0..core.meters.len() {
            core.update_watch(slot);
        }
        Ok(core)
    }

    /// The task body.
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<CoreMsg>,
        mut reports: mpsc::UnboundedReceiver<Report>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                Some(report) = reports.recv() => {
                    self.on_report(report);
                    while let Ok(report) = reports.try_recv() {
                        self.on_report(report);
                    }
                }
                msg = rx.recv() => {
                    let Some(msg) = msg else { break };
                    if let CoreMsg::Stop { reply } = msg {
                        self.poll_trackers();
                        let _ = reply.send(());
                        break;
                    }
                    self.handle(msg);
                    // Drain what is queued before polling the trackers again.
                    while let Ok(msg) = rx.try_recv() {
                        if let CoreMsg::Stop { reply } = msg {
                            self.poll_trackers();
                            let _ = reply.send(());
                            return;
                        }
                        self.handle(msg);
                    }
                    self.poll_trackers();
                }
                _ = tick.tick() => self.poll_trackers(),
            }
        }
    }

    pub(super) fn now(&self) -> SimSeconds {
        self.shared.clock.now()
    }

    fn handle(&mut self, msg: CoreMsg) {
        match msg {
            CoreMsg::Reading {
                meter,
                at,
                energy,
                power_w,
            } => self.on_reading(meter, at, energy, power_w),
            CoreMsg::Remaining { meter, at, money } => self.on_remaining(meter, at, money),
            CoreMsg::Relay {
                meter,
                at,
                open,
                command_open,
                verify,
            } => {
                self.on_relay(meter, at, open);
                if verify {
                    self.reconcile(meter, at, open, command_open);
                } else {
                    self.reconcile_observed(meter, at, open, command_open);
                }
            }
            CoreMsg::CommandDone { key, result } => self.on_command_done(key, result),
            CoreMsg::Pay {
                customer,
                amount,
                order_no,
                channel,
                audit,
                reply,
            } => self.pay(customer, amount, order_no, channel, audit, reply),
            CoreMsg::ReplaceMeter {
                meter,
                closing,
                opening,
                audit,
                reply,
            } => self.replace_meter(meter, closing, opening, audit, reply),
            CoreMsg::Guard {
                customer,
                on,
                audit,
                reply,
            } => self.guard(customer, on, audit, reply),
            CoreMsg::Customers { reply } => {
                let all: Vec<CustomerView> = (0..self.accounts.len())
                    .filter_map(|i| self.account_view(i))
                    .collect();
                let _ = reply.send(all);
            }
            CoreMsg::Customer { customer, reply } => {
                let v = self
                    .shared
                    .customer_by_id
                    .get(&customer)
                    .and_then(|&i| self.account_view(i));
                let _ = reply.send(v);
            }
            CoreMsg::Vend {
                meter,
                amount,
                order_no,
                seller,
                audit,
                reply,
            } => self.vend(meter, amount, order_no, seller, audit, reply),
            CoreMsg::Link { terminal, online } => self.on_link(terminal, online),
            CoreMsg::Stop { reply } => {
                let _ = reply.send(());
            }
        }
    }

    // ---- engine outputs ------------------------------------------------------------------

    /// Carries out an engine step's outputs for account `ai`: commands to the tracker,
    /// notifications to the outbox, records to the event log. `meter_closed` drops a direct
    /// close (the meter reported itself closed).
    pub(super) fn dispatch(
        &mut self,
        ai: usize,
        at: SimSeconds,
        outputs: &[Output],
        meter_closed: bool,
        w: &mut Writes,
    ) {
        let Some(acc) = self.accounts.get(ai) else {
            return;
        };
        let (cid, name, phone) = (acc.id, acc.name.clone(), acc.phone.clone());
        let remote_meters: Vec<usize> = acc.meters.clone();
        let mut commands = Vec::new();
        for o in outputs {
            match o {
                Output::Command(c) => {
                    if meter_closed && c.kind == CommandKind::DirectClose {
                        continue;
                    }
                    commands.push(*c);
                }
                Output::Notify(n) => {
                    outbox(
                        w,
                        at,
                        cid,
                        phone.clone(),
                        notification_kind(n),
                        notification_text(n, &name),
                    );
                }
                Output::Record(r) => {
                    if let Some((kind, detail)) = record_event(r) {
                        w.event(at, Some(cid), None, kind, &detail);
                    }
                }
                Output::Reject { input, reason } => w.event(
                    at,
                    Some(cid),
                    None,
                    "engine_refused",
                    &api_views::EngineRefused {
                        input: format!("{input:?}"),
                        reason: reason.to_string(),
                    },
                ),
                // The station feeds no relay position yet, so no mismatch is reported.
                Output::Persist(_)
                | Output::Relay(_)
                | Output::Alarm { .. }
                | Output::RelayMismatch { .. } => {}
            }
        }
        for c in commands {
            for &m in &remote_meters {
                self.submit(m, c, at, w);
            }
        }
    }

    pub(super) fn init_account(&mut self, ai: usize) {
        let Some(acc) = self.accounts.get_mut(ai) else {
            return;
        };
        if acc.init_done {
            return;
        }
        acc.init_done = true;
        let at = self.shared.clock.now();
        let mut outputs: Vec<Output> = Vec::new();
        if let Some(engine) = acc.engine.as_mut() {
            if acc.guard_at_start {
                let out = engine.step(
                    sim_ts(at),
                    Input::Remote(Remote {
                        kind: CommandKind::GuardOn,
                        expires: sim_ts(at).plus(3600),
                        operator: 0,
                    }),
                    &mut NoCharge,
                );
                outputs.extend(out.iter().copied());
            }
            let out: Outputs = engine.step(sim_ts(at), Input::Tick, &mut NoCharge);
            outputs.extend(out.iter().copied());
        }
        let mut w = Writes::default();
        self.dispatch(ai, at, &outputs, false, &mut w);
        self.save_account(ai, at, &mut w);
        self.flush(w);
    }

    // ---- the tracker ---------------------------------------------------------------------

    // ---- persistence and views -----------------------------------------------------------

    pub(super) fn save_account(&self, ai: usize, at: SimSeconds, w: &mut Writes) {
        let Some(acc) = self.accounts.get(ai) else {
            return;
        };
        // The unit carries this account's state: it is the account's chain.
        w.account.get_or_insert(ai);
        w.push(Write::CustomerState {
            customer: acc.id,
            state: acc.stored(sim_ts(at)).to_json(),
        });
    }

    /// Sends the unit; its effects wait for the commit ([`commit`]).
    pub(super) fn flush(&mut self, w: Writes) {
        self.send_unit(w);
    }
}

pub(super) fn outbox(
    w: &mut Writes,
    at: SimSeconds,
    customer: i64,
    phone: Option<String>,
    kind: &'static str,
    text: String,
) {
    w.push(Write::Outbox {
        at,
        customer,
        phone,
        kind: kind.to_string(),
        text,
    });
}

fn record_event(r: &Record) -> Option<(&'static str, Value)> {
    match r {
        Record::CreditChanged { from, to, net } => Some((
            "credit_state",
            to_json(&api_views::CreditChanged {
                from: from.name(),
                to: to.name(),
                net: net.to_string(),
            }),
        )),
        Record::Remote { kind, operator } => Some((
            "remote_input",
            to_json(&api_views::RemoteInput {
                kind: kind.name(),
                operator: *operator,
            }),
        )),
        Record::TopUp {
            amount,
            repaid,
            net,
            ..
        } => Some((
            "top_up",
            to_json(&api_views::TopUp {
                amount: amount.to_string(),
                repaid: repaid.to_string(),
                net: net.to_string(),
            }),
        )),
        Record::Alarm2Restored => Some(("alarm2_restored", to_json(&api_views::NoDetail {}))),
        Record::Parameter => Some(("parameter", to_json(&api_views::NoDetail {}))),
        Record::Overload { watts, .. } => {
            Some(("overload", to_json(&api_views::Overload { watts: *watts })))
        }
        Record::Friendly(on) => Some(("friendly", to_json(&api_views::Friendly { on: *on }))),
        Record::Refund { amount, net, .. } => Some((
            "refund",
            to_json(&api_views::Refund {
                amount: amount.to_string(),
                net: net.to_string(),
            }),
        )),
        Record::DebtAccrued { .. } | Record::EmergencySelected | Record::PoweredUp { .. } => None,
    }
}
