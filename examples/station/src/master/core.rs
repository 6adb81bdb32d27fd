//! The billing and control core: one task owning every customer's engine, tariff state and
//! the command tracker. Connection tasks send it readings and command results, the API sends
//! it payments (after they are committed), guard changes and queries.
//!
//! Every input is handled completely before the next: the engine step, the commands it
//! issues, the notifications and events it produces and the customer's new persistent state
//! are written to the database as **one** closure (one transaction), so a crash never keeps a
//! decision without its command, or a balance without its reading.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use amikit_prepay::{
    Command, CommandKind, Engine, Input, NoCharge, Notification, Output, Outputs, PurchaseId,
    Record, Rejection, RelayState, Remote, Timestamp, TopUpSource, TrackerConfig, TrackerEvent,
};
use amikit_sts::dkga::{Dkga, VendingKey};
use amikit_sts::keys::{
    EncryptionAlgorithm, KeyParameters, KeyRevision, KeyType, SupplyGroupCode, TariffIndex,
};
use amikit_sts::tid::{BaseDate, Tid};
use amikit_sts::vend::{Issue, Vendor};
use amikit_tariff::{ChargeState, Energy, Money, Rounding, TariffSet};
use rusqlite::{Connection, params};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::api::ApiError;
use super::billing::{self, IntervalPricer, money_from_text, notification_kind, notification_text};
use super::control::{CmdKey, Trackers};
use super::fep::ConnCmd;
use super::store::{Loaded, StoredState, time_json};
use super::{Shared, sim_ts};
use crate::clock::SimSeconds;
use crate::site::{FeeControl, Site, SiteMeter};

/// A message to the core.
#[derive(Debug)]
pub enum CoreMsg {
    /// A register reading of a meter (AFN 0C F129), with the active power of F25 if read.
    Reading {
        /// Meter slot.
        meter: usize,
        /// When it was received (simulated).
        at: SimSeconds,
        /// The register value.
        energy: Energy,
        /// Total active power, W.
        power_w: Option<i64>,
    },
    /// Remaining money read from a local-fee-control meter (DL/T 645 `00900200`).
    Remaining {
        /// Meter slot.
        meter: usize,
        /// When.
        at: SimSeconds,
        /// The money.
        money: Money,
    },
    /// The relay state read from a meter (status word 3).
    Relay {
        /// Meter slot.
        meter: usize,
        /// When.
        at: SimSeconds,
        /// True when open.
        open: bool,
    },
    /// A command's answer: `Ok` confirmed, `Err` denied / failed / timed out.
    CommandDone {
        /// The command.
        key: CmdKey,
        /// The answer.
        result: Result<(), String>,
    },
    /// A payment committed to the database, to apply to the engine.
    PaymentCommitted {
        /// Customer row id.
        customer: i64,
        /// Its purchase count.
        seq: u32,
        /// Amount.
        amount: Money,
        /// Order number.
        order_no: String,
    },
    /// Guard (保电) on or off.
    Guard {
        /// Customer row id.
        customer: i64,
        /// On or off.
        on: bool,
        /// The answer.
        reply: oneshot::Sender<Result<Value, ApiError>>,
    },
    /// All customers as JSON.
    Customers {
        /// The answer.
        reply: oneshot::Sender<Value>,
    },
    /// One customer as JSON.
    Customer {
        /// Customer row id.
        customer: i64,
        /// The answer.
        reply: oneshot::Sender<Option<Value>>,
    },
    /// Vend an STS credit token.
    Vend {
        /// Meter slot.
        meter: usize,
        /// Money paid.
        amount: Money,
        /// Order number.
        order_no: String,
        /// The answer.
        reply: oneshot::Sender<Result<Value, ApiError>>,
    },
    /// A terminal came online or went offline.
    Link {
        /// Terminal slot.
        terminal: usize,
        /// Online.
        online: bool,
    },
    /// Finish and stop.
    Stop {
        /// Answered when done.
        reply: oneshot::Sender<()>,
    },
}

type W = Box<dyn FnOnce(&Connection) -> rusqlite::Result<()> + Send>;

/// The database writes of one input, executed as one unit on the DB thread.
#[derive(Default)]
struct Writes(Vec<W>);

impl Writes {
    fn push(&mut self, f: impl FnOnce(&Connection) -> rusqlite::Result<()> + Send + 'static) {
        self.0.push(Box::new(f));
    }

    fn event(
        &mut self,
        at: SimSeconds,
        customer: Option<i64>,
        terminal: Option<i64>,
        kind: &str,
        detail: Value,
    ) {
        let kind = kind.to_string();
        let detail = detail.to_string();
        self.push(move |c| {
            c.prepare_cached(
                "INSERT INTO events (at, customer_id, terminal_id, kind, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![at, customer, terminal, kind, detail])?;
            Ok(())
        });
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
}

impl Account {
    fn stored(&self, now: Timestamp) -> StoredState {
        StoredState {
            engine: self.engine.as_ref().map(|e| e.snapshot(now)),
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
    trackers: Trackers,
    tracker_cfg: TrackerConfig,
    cmds: HashMap<CmdKey, CmdInfo>,
    last_finished: Option<(CmdKey, i64)>,
    next_cmd_row: i64,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("accounts", &self.accounts.len())
            .field("live_commands", &self.trackers.live())
            .finish()
    }
}

fn hex_bytes(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return Err(format!("hex {s:?} has an odd length"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(|| format!("hex {s:?} is not hexadecimal"))
        })
        .collect()
}

fn sts_vendor(
    key: &VendingKey,
    sts: &crate::site::StsMeter,
) -> Result<(Vendor<'static>, BaseDate), String> {
    let e = |what: &str, err: &dyn std::fmt::Display| format!("sts {what}: {err}");
    let ti: u8 = sts.ti.parse().map_err(|x| e("ti", &x))?;
    let base_date = BaseDate::from_year(sts.base_date).map_err(|x| e("base date", &x))?;
    let params = KeyParameters {
        pan: sts.pan.parse().map_err(|x| e("pan", &x))?,
        sgc: sts
            .sgc
            .parse::<SupplyGroupCode>()
            .map_err(|x| e("sgc", &x))?,
        ti: TariffIndex::new(ti).map_err(|x| e("ti", &x))?,
        krn: KeyRevision::new(sts.krn).map_err(|x| e("krn", &x))?,
        kt: KeyType::new(sts.kt).map_err(|x| e("kt", &x))?,
        base_date,
        ea: EncryptionAlgorithm::Misty1,
    };
    let vendor = Vendor::for_meter(key, &params, None).map_err(|x| e("key", &x))?;
    Ok((vendor, base_date))
}

fn money_json(m: Money) -> Value {
    json!(m.to_string())
}

fn at_json(at: SimSeconds) -> Value {
    time_json(Some(at))
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
    ) -> Result<Self, String> {
        let now = shared.clock.now();
        let site_meters: HashMap<&str, &SiteMeter> = site
            .meters()
            .map(|(_, m)| (m.address.as_str(), m))
            .collect();
        let vending = match &site.vending {
            Some(v) => Some(
                VendingKey::new(Dkga::Dkga04, &hex_bytes(&v.dkga04_key)?)
                    .map_err(|e| format!("vending key: {e}"))?,
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
            let tariff = tariffs
                .get(&c.tariff_id)
                .cloned()
                .ok_or_else(|| format!("customer {}: unknown tariff", c.name))?;
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
                            .map_err(|e| format!("customer {}: {e}", c.name))?,
                    )
                }
                Some(snap) => {
                    let config = match site_meter {
                        Some(m) => billing::engine_config(m)?,
                        None => amikit_prepay::Profile::StateGridRemote.config(),
                    };
                    let mut e = Engine::new(config, Money::ZERO)
                        .map_err(|e| format!("customer {}: {e}", c.name))?;
                    // PowerUp restores the relay and the alarm in force without outputs; a
                    // command comes out only where the restored state calls for a change
                    // (e.g. a customer seeded at zero). Live commands come back from the
                    // database.
                    let out = e.step(sim_ts(now), Input::PowerUp(snap), &mut NoCharge);
                    if out.iter().any(|o| matches!(o, Output::Reject { .. })) {
                        return Err(format!("customer {}: snapshot refused", c.name));
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
            });
        }
        let rows: HashMap<i64, &super::store::MeterRow> =
            loaded.meters.iter().map(|m| (m.id, m)).collect();
        let mut meters = Vec::new();
        for m in &shared.meters {
            let row = rows.get(&m.id);
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
                        .map_err(|e| format!("meter {}: {e}", m.address_text))?;
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
            });
        }
        let mut core = Core {
            trackers: Trackers::new(tracker_cfg, meters.len()),
            tracker_cfg,
            shared,
            accounts,
            meters,
            cmds: HashMap::new(),
            last_finished: None,
            next_cmd_row: loaded.next_command_id,
        };
        core.resubmit(&loaded.pending_commands);
        for (ai, outputs) in powered_up {
            let mut w = Writes::default();
            core.dispatch(ai, now, &outputs, false, &mut w);
            core.flush(w);
        }
        for p in &loaded.unapplied {
            core.apply_payment(p.customer_id, p.seq, Money::from_raw(p.amount), &p.order_no);
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
    pub async fn run(mut self, mut rx: mpsc::Receiver<CoreMsg>) {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
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

    fn now(&self) -> SimSeconds {
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
            CoreMsg::Relay { meter, at, open } => self.on_relay(meter, at, open),
            CoreMsg::CommandDone { key, result } => self.on_command_done(key, result),
            CoreMsg::PaymentCommitted {
                customer,
                seq,
                amount,
                order_no,
            } => self.apply_payment(customer, seq, amount, &order_no),
            CoreMsg::Guard {
                customer,
                on,
                reply,
            } => {
                let r = self.guard(customer, on);
                let _ = reply.send(r);
            }
            CoreMsg::Customers { reply } => {
                let all: Vec<Value> = (0..self.accounts.len())
                    .map(|i| self.account_json(i))
                    .collect();
                let _ = reply.send(Value::Array(all));
            }
            CoreMsg::Customer { customer, reply } => {
                let v = self
                    .shared
                    .customer_by_id
                    .get(&customer)
                    .map(|&i| self.account_json(i));
                let _ = reply.send(v);
            }
            CoreMsg::Vend {
                meter,
                amount,
                order_no,
                reply,
            } => self.vend(meter, amount, order_no, reply),
            CoreMsg::Link { terminal, online } => {
                if online {
                    // Commands waiting for this terminal go out now rather than at their
                    // back-off time.
                    self.poll_trackers();
                }
                let _ = terminal;
            }
            CoreMsg::Stop { reply } => {
                let _ = reply.send(());
            }
        }
    }

    // ---- readings ------------------------------------------------------------------------

    fn on_reading(&mut self, slot: usize, at: SimSeconds, energy: Energy, power_w: Option<i64>) {
        let Some(info) = self.shared.meters.get(slot) else {
            return;
        };
        let meter_id = info.id;
        let terminal_id = self.shared.terminals.get(info.terminal).map(|t| t.id);
        let Some(ms) = self.meters.get_mut(slot) else {
            return;
        };
        ms.power_w = power_w.or(ms.power_w);
        let ai = ms.account;
        let prev = ms.last;
        if prev.is_some_and(|(t0, _)| at <= t0) {
            return; // not after the previous reading (a clock restarted behind the database)
        }
        ms.last = Some((at, energy));
        super::stats::Stats::bump(&self.shared.stats.readings);
        let mut w = Writes::default();
        let customer_id = self.accounts.get(ai).map(|a| a.id);
        let mut outputs: Vec<Output> = Vec::new();
        if let Some((t0, e0)) = prev {
            match billing::register().delta(e0, energy) {
                Ok(delta) => {
                    if let Some(acc) = self.accounts.get_mut(ai) {
                        let from = sim_ts(t0).to_datetime();
                        let to = sim_ts(at).to_datetime();
                        if let (Some(from), Some(to)) = (from, to) {
                            let tariff = acc.tariff.clone();
                            match acc.engine.as_mut() {
                                Some(engine) => {
                                    let mut pricer = IntervalPricer {
                                        tariff: &tariff,
                                        state: &mut acc.charge,
                                        from,
                                        to,
                                    };
                                    let a = engine.step(
                                        sim_ts(at),
                                        Input::Consume { energy: delta },
                                        &mut pricer,
                                    );
                                    let b = engine.step(sim_ts(at), Input::Tick, &mut pricer);
                                    outputs.extend(a.iter().copied());
                                    outputs.extend(b.iter().copied());
                                }
                                None => {
                                    // Local fee control: the meter keeps the money; the master
                                    // keeps the period-to-date energy for vending quotes.
                                    let _ =
                                        tariff.charge_apportioned(&mut acc.charge, from, to, delta);
                                }
                            }
                        }
                    }
                }
                Err(e) => w.event(
                    at,
                    customer_id,
                    terminal_id,
                    "reading_refused",
                    json!({"meter": info.address_text, "previous_wh": e0.wh(),
                           "current_wh": energy.wh(), "error": e.to_string()}),
                ),
            }
        }
        let wh = energy.wh();
        w.push(move |c| {
            c.prepare_cached(
                "INSERT OR IGNORE INTO readings (meter_id, at, energy, via) VALUES (?1, ?2, ?3, 'afn0c')",
            )?
            .execute(params![meter_id, at, wh])?;
            c.prepare_cached("UPDATE meters SET last_energy = ?2, last_read_at = ?3 WHERE id = ?1")?
                .execute(params![meter_id, wh, at])?;
            Ok(())
        });
        self.dispatch(ai, at, &outputs, false, &mut w);
        self.save_account(ai, at, &mut w);
        self.flush(w);
        self.update_watch(slot);
    }

    fn on_remaining(&mut self, slot: usize, at: SimSeconds, money: Money) {
        let Some(info) = self.shared.meters.get(slot) else {
            return;
        };
        let meter_id = info.id;
        let Some(ms) = self.meters.get_mut(slot) else {
            return;
        };
        ms.remaining = Some(money);
        let ai = ms.account;
        let mut w = Writes::default();
        let raw = money.raw();
        w.push(move |c| {
            c.prepare_cached("UPDATE meters SET remaining = ?2, remaining_at = ?3 WHERE id = ?1")?
                .execute(params![meter_id, raw, at])?;
            Ok(())
        });
        let mut save = false;
        if let Some(acc) = self.accounts.get_mut(ai) {
            if money <= acc.alarm && !acc.low_notified {
                acc.low_notified = true;
                save = true;
                let n = Notification::LowCredit { net: money };
                let (id, phone, text) =
                    (acc.id, acc.phone.clone(), notification_text(&n, &acc.name));
                outbox(&mut w, at, id, phone, notification_kind(&n), text);
                w.event(
                    at,
                    Some(id),
                    None,
                    "low_balance",
                    json!({"meter": info.address_text, "remaining": money.to_string()}),
                );
            } else if money > acc.alarm && acc.low_notified {
                acc.low_notified = false;
                save = true;
            }
        }
        if save {
            self.save_account(ai, at, &mut w);
        }
        self.flush(w);
    }

    fn on_relay(&mut self, slot: usize, at: SimSeconds, open: bool) {
        let Some(info) = self.shared.meters.get(slot) else {
            return;
        };
        let meter_id = info.id;
        let address = info.address_text.clone();
        let Some(ms) = self.meters.get_mut(slot) else {
            return;
        };
        let before = ms.relay_open;
        ms.relay_open = Some(open);
        let ai = ms.account;
        let mut w = Writes::default();
        let state = if open { "open" } else { "closed" };
        w.push(move |c| {
            c.prepare_cached("UPDATE meters SET relay = ?2, relay_at = ?3 WHERE id = ?1")?
                .execute(params![meter_id, state, at])?;
            Ok(())
        });
        let customer_id = self.accounts.get(ai).map(|a| a.id);
        if before != Some(open) {
            w.event(
                at,
                customer_id,
                None,
                if open { "relay_open" } else { "relay_closed" },
                json!({"meter": address}),
            );
        }
        // The customer closed an armed relay with the button: tell the engine (its close
        // decision needs no command, the meter is already closed).
        let mut outputs: Vec<Output> = Vec::new();
        if !open
            && let Some(acc) = self.accounts.get_mut(ai)
            && let Some(engine) = acc.engine.as_mut()
            && engine.relay() == RelayState::Armed
        {
            let out = engine.step(
                sim_ts(at),
                Input::User(amikit_prepay::UserAction::Button),
                &mut NoCharge,
            );
            outputs.extend(out.iter().copied());
        }
        if !outputs.is_empty() {
            self.dispatch(ai, at, &outputs, true, &mut w);
            self.save_account(ai, at, &mut w);
        }
        self.flush(w);
        self.update_watch(slot);
    }

    // ---- payments, guard, vending --------------------------------------------------------

    fn apply_payment(&mut self, customer: i64, seq: u32, amount: Money, order_no: &str) {
        let Some(&ai) = self.shared.customer_by_id.get(&customer) else {
            return;
        };
        let at = self.now();
        let Some(engine) = self.accounts.get_mut(ai).and_then(|a| a.engine.as_mut()) else {
            return;
        };
        let out = engine.step(
            sim_ts(at),
            Input::TopUp {
                amount,
                id: PurchaseId::Sequence(seq),
                source: TopUpSource::Counter,
            },
            &mut NoCharge,
        );
        let mut w = Writes::default();
        let outputs: Vec<Output> = out.iter().copied().collect();
        let replay = outputs.iter().any(|o| {
            matches!(
                o,
                Output::Reject {
                    reason: Rejection::Replayed(_),
                    ..
                }
            )
        });
        if !replay {
            w.event(
                at,
                Some(customer),
                None,
                "payment",
                json!({"order_no": order_no, "seq": seq, "amount": amount.to_string()}),
            );
            self.dispatch(ai, at, &outputs, false, &mut w);
            self.save_account(ai, at, &mut w);
        }
        self.flush(w);
        if let Some(acc) = self.accounts.get(ai) {
            for &m in &acc.meters.clone() {
                self.update_watch(m);
            }
        }
    }

    fn guard(&mut self, customer: i64, on: bool) -> Result<Value, ApiError> {
        let Some(&ai) = self.shared.customer_by_id.get(&customer) else {
            return Err(ApiError::new(404, "no such customer"));
        };
        let at = self.now();
        let expires = sim_ts(at).plus(self.tracker_cfg.validity);
        let Some(engine) = self.accounts.get_mut(ai).and_then(|a| a.engine.as_mut()) else {
            return Err(ApiError::new(
                409,
                "guard applies to remote-fee-control customers",
            ));
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
        let guarded = engine.guarded();
        let outputs: Vec<Output> = out.iter().copied().collect();
        let mut w = Writes::default();
        w.event(
            at,
            Some(customer),
            None,
            if on { "guard_on" } else { "guard_off" },
            json!({}),
        );
        self.dispatch(ai, at, &outputs, false, &mut w);
        self.save_account(ai, at, &mut w);
        self.flush(w);
        Ok(json!({"customer": customer, "guarded": guarded}))
    }

    fn vend(
        &mut self,
        slot: usize,
        amount: Money,
        order_no: String,
        reply: oneshot::Sender<Result<Value, ApiError>>,
    ) {
        let at = self.now();
        let r = self.vend_token(slot, amount, &order_no, at);
        let (token, meter_id, customer, tenths, tid, energy, address) = match r {
            Ok(x) => x,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let digits = token.to_string();
        let grouped = format!("{token:#}");
        let raw = amount.raw();
        let mut w = Writes::default();
        w.event(
            at,
            Some(customer),
            None,
            "token",
            json!({"meter": address, "order_no": order_no, "kwh_tenths": tenths, "tid": tid}),
        );
        self.flush(w);
        let store = self.shared.store.clone();
        let answer = json!({
            "status": "vended",
            "token": digits,
            "token_grouped": grouped,
            "meter": address,
            "customer": customer,
            "amount": amount.to_string(),
            "kwh": Energy::from_wh(i64::from(tenths) * 100).to_string(),
            "quoted_kwh": energy.to_string(),
            "tid": tid,
            "order_no": order_no,
            "at": at_json(at),
        });
        store.exec_then(move |c| {
            c.prepare_cached(
                "INSERT INTO tokens (meter_id, order_no, token, energy, tid, at, amount)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (order_no) DO NOTHING",
            )?
            .execute(params![meter_id, order_no, digits, tenths, tid, at, raw])?;
            let stored: String = c.query_row(
                "SELECT token FROM tokens WHERE order_no = ?1",
                params![order_no],
                |r| r.get(0),
            )?;
            let mut answer = answer;
            if stored != digits {
                // Vended concurrently under the same order number: the first one stands.
                answer = json!({"status": "duplicate", "token": stored, "order_no": order_no});
            }
            Ok(Some(Box::new(move || {
                let _ = reply.send(Ok(answer));
            })))
        });
    }

    #[allow(clippy::type_complexity)]
    fn vend_token(
        &mut self,
        slot: usize,
        amount: Money,
        _order_no: &str,
        at: SimSeconds,
    ) -> Result<(amikit_sts::token::Token, i64, i64, u32, u32, Energy, String), ApiError> {
        let info = self
            .shared
            .meters
            .get(slot)
            .ok_or_else(|| ApiError::new(404, "no such meter"))?;
        let ms = self
            .meters
            .get(slot)
            .ok_or_else(|| ApiError::new(404, "no such meter"))?;
        let vendor = ms.vendor.as_ref().ok_or_else(|| {
            ApiError::new(409, "this meter has no STS keypad (or no vending key)")
        })?;
        let acc = self
            .accounts
            .get(ms.account)
            .ok_or_else(|| ApiError::new(404, "no customer for this meter"))?;
        if !amount.is_positive() {
            return Err(ApiError::new(400, "amount must be positive"));
        }
        let now_dt = sim_ts(at)
            .to_datetime()
            .ok_or_else(|| ApiError::new(500, "clock outside the calendar"))?;
        let quote = acc
            .tariff
            .quote_money(
                Some(now_dt),
                acc.charge.period_energy(),
                amount,
                Rounding::Down,
            )
            .map_err(|e| ApiError::new(400, format!("quote: {e}")))?;
        let tenths = u32::try_from(quote.energy.wh() / 100)
            .map_err(|_| ApiError::new(400, "amount too large for one token"))?;
        if tenths == 0 {
            return Err(ApiError::new(400, "amount buys less than 0.1 kWh"));
        }
        let civil = crate::clock::Civil::from_sim(at);
        let sts_at = amikit_sts::tid::DateTime::new(
            u16::try_from(civil.year).unwrap_or(2000),
            civil.month,
            civil.day,
            civil.hour,
            civil.minute,
            civil.second,
        )
        .map_err(|e| ApiError::new(500, format!("tid: {e}")))?;
        let mut tid = Tid::for_issue(&sts_at, ms.base_date)
            .map_err(|e| ApiError::new(500, format!("tid: {e}")))?;
        if let Some(last) = ms.last_tid
            && tid.value() <= last
        {
            // Two tokens in the same minute: the meter refuses a TID it has seen.
            let mut next = last.saturating_add(1);
            while Tid::new(next).is_ok_and(Tid::is_reserved) {
                next = next.saturating_add(1);
            }
            tid = Tid::new(next).map_err(|e| ApiError::new(500, format!("tid: {e}")))?;
        }
        let rnd = amikit_sts::block::Rnd::from_bits((tid.value() ^ (tenths << 3)) as u8);
        let token = vendor
            .credit(
                amikit_sts::block::CreditKind::Electricity,
                u64::from(tenths),
                Issue::Tid(tid),
                rnd,
            )
            .map_err(|e| ApiError::new(500, format!("vend: {e}")))?;
        let result = (
            token,
            info.id,
            acc.id,
            tenths,
            tid.value(),
            quote.energy,
            info.address_text.clone(),
        );
        if let Some(ms) = self.meters.get_mut(slot) {
            ms.last_tid = Some(tid.value());
        }
        Ok(result)
    }

    // ---- engine outputs ------------------------------------------------------------------

    /// Carries out an engine step's outputs for account `ai`: commands to the tracker,
    /// notifications to the outbox, records to the event log. `meter_closed` drops a direct
    /// close (the meter reported itself closed).
    fn dispatch(
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
                        w.event(at, Some(cid), None, kind, detail);
                    }
                }
                Output::Reject { input, reason } => w.event(
                    at,
                    Some(cid),
                    None,
                    "engine_refused",
                    json!({"input": format!("{input:?}"), "reason": reason.to_string()}),
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

    fn submit(&mut self, slot: usize, cmd: Command, at: SimSeconds, w: &mut Writes) {
        let Some(info) = self.shared.meters.get(slot) else {
            return;
        };
        let meter_id = info.id;
        let row = self.next_cmd_row;
        self.next_cmd_row += 1;
        let mut ev = Vec::new();
        let kind = cmd.kind.name();
        let reason = serde_json::to_string(&cmd).unwrap_or_default();
        let via = self.shared.link.control_via.name();
        let expires = at + i64::from(self.tracker_cfg.validity);
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
                w.push(move |c| {
                    c.prepare_cached(
                        "INSERT INTO commands (id, meter_id, kind, status, attempts, created_at,
                                               updated_at, reason, expires_at, via)
                         VALUES (?1, ?2, ?3, 'queued', 0, ?4, ?4, ?5, ?6, ?7)",
                    )?
                    .execute(params![row, meter_id, kind, at, reason, expires, via])?;
                    Ok(())
                });
            }
            Err(e) => {
                let detail = e.to_string();
                w.push(move |c| {
                    c.execute(
                        "INSERT INTO commands (id, meter_id, kind, status, attempts, created_at,
                                               updated_at, detail, reason, expires_at, via)
                         VALUES (?1, ?2, ?3, 'dropped', 0, ?4, ?4, ?5, ?6, ?7, ?8)",
                        params![row, meter_id, kind, at, detail, reason, expires, via],
                    )?;
                    c.execute(
                        "INSERT INTO jobs (command_id, reason, at) VALUES (?1, 'tracker_full', ?2)",
                        params![row, at],
                    )?;
                    Ok(())
                });
            }
        }
        self.tracker_events(ev, w);
        if let Some(m) = self.shared.meters.get(slot) {
            m.watch.store(true, Ordering::Relaxed);
        }
    }

    fn resubmit(&mut self, rows: &[super::store::CommandRow]) {
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
                w.push(move |c| {
                    c.execute(
                        "UPDATE commands SET status = 'dropped', detail = 'unreadable after restart' WHERE id = ?1",
                        params![row],
                    )?;
                    Ok(())
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
                    w.push(move |c| {
                        c.execute(
                            "UPDATE commands SET status = 'queued', updated_at = ?2, expires_at = ?3,
                                    detail = 'submitted again after a restart' WHERE id = ?1",
                            params![row, at, expires],
                        )?;
                        Ok(())
                    });
                }
                Err(e) => {
                    let detail = e.to_string();
                    w.push(move |c| {
                        c.execute(
                            "UPDATE commands SET status = 'dropped', detail = ?2 WHERE id = ?1",
                            params![row, detail],
                        )?;
                        Ok(())
                    });
                }
            }
            self.tracker_events(ev, &mut w);
        }
        self.flush(w);
    }

    fn init_account(&mut self, ai: usize) {
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

    fn poll_trackers(&mut self) {
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

    fn on_command_done(&mut self, key: CmdKey, result: Result<(), String>) {
        let at = self.now();
        let mut ev = Vec::new();
        let mut w = Writes::default();
        match &result {
            Ok(()) => {
                let _ = self.trackers.acknowledge(key, &mut ev);
            }
            Err(reason) => {
                if let Some(info) = self.cmds.get(&key) {
                    let row = info.row;
                    let detail = reason.clone();
                    w.push(move |c| {
                        c.prepare_cached(
                            "UPDATE commands SET detail = ?2, updated_at = ?3 WHERE id = ?1",
                        )?
                        .execute(params![row, detail, at])?;
                        Ok(())
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
    fn tracker_events(&mut self, events: Vec<(u16, TrackerEvent<i64>)>, w: &mut Writes) {
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
                            meter: slot,
                            kind,
                            expires,
                        },
                    );
                    let status = if sent { "sent" } else { "unsent" };
                    w.push(move |c| {
                        c.prepare_cached(
                            "UPDATE commands SET status = ?2, attempts = ?3, updated_at = ?4 WHERE id = ?1",
                        )?
                        .execute(params![row, status, attempt, at])?;
                        Ok(())
                    });
                    if !sent {
                        let mut more = Vec::new();
                        let _ = self.trackers.fail(sim_ts(at), key, &mut more);
                        queue.extend(more);
                    }
                }
                // The station does not call `link_down` or keep open jobs in the tracker yet
                // (its jobs table is its own), so no job is reported moot.
                TrackerEvent::JobMoot { .. } => {}
                TrackerEvent::Retry {
                    id,
                    failures,
                    retry_at,
                    ..
                } => {
                    if let Some(info) = self.cmds.get(&CmdKey { shard, id }) {
                        let row = info.row;
                        let retry = super::store::ts_to_sim(retry_at);
                        w.push(move |c| {
                            c.prepare_cached(
                                "UPDATE commands SET status = 'retry', updated_at = ?2,
                                        detail = COALESCE(detail, '') || ?3 WHERE id = ?1",
                            )?
                            .execute(params![
                                row,
                                at,
                                format!(
                                    " [failure {failures}, retry at {}]",
                                    crate::clock::Civil::from_sim(retry)
                                )
                            ])?;
                            Ok(())
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
                    w.push(move |c| {
                        c.prepare_cached(
                            "UPDATE commands SET status = ?2, updated_at = ?3 WHERE id = ?1",
                        )?
                        .execute(params![row, status, at])?;
                        Ok(())
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
                        json!({"command_id": row, "kind": command.kind.name(),
                               "reason": command.reason, "meter": address}),
                    );
                    if matches!(outcome, amikit_prepay::Outcome::Acknowledged)
                        && matches!(
                            info.kind,
                            CommandKind::Trip | CommandKind::AllowClose | CommandKind::DirectClose
                        )
                    {
                        // Read the relay back soon rather than at the next round.
                        let _ = self.send_to_terminal(
                            info.meter,
                            ConnCmd::ReadStatus { meter: info.meter },
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
                    w.push(move |c| {
                        c.prepare_cached(
                            "INSERT INTO jobs (command_id, reason, at) VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![row, r2, at])?;
                        Ok(())
                    });
                    w.event(
                        at,
                        customer,
                        None,
                        "manual_job",
                        json!({"command_id": row, "kind": command.kind.name(), "reason": reason_s}),
                    );
                }
            }
        }
    }

    fn send_to_terminal(&self, slot: usize, cmd: ConnCmd) -> bool {
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

    fn update_watch(&self, slot: usize) {
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
            .is_some_and(|e| e.relay() != RelayState::Closed);
        let watch = info.fee == FeeControl::Local
            || engine_open
            || ms.relay_open == Some(true)
            || self.trackers.relay_pending(info.id);
        info.watch.store(watch, Ordering::Relaxed);
    }

    // ---- persistence and views -----------------------------------------------------------

    fn save_account(&self, ai: usize, at: SimSeconds, w: &mut Writes) {
        let Some(acc) = self.accounts.get(ai) else {
            return;
        };
        let json = acc.stored(sim_ts(at)).to_json();
        let id = acc.id;
        w.push(move |c| {
            c.prepare_cached("UPDATE customers SET state = ?2 WHERE id = ?1")?
                .execute(params![id, json])?;
            Ok(())
        });
    }

    fn flush(&self, w: Writes) {
        if w.0.is_empty() {
            return;
        }
        let ops = w.0;
        self.shared.store.exec(move |c| {
            for f in ops {
                f(c)?;
            }
            Ok(())
        });
    }

    fn account_json(&self, ai: usize) -> Value {
        let Some(acc) = self.accounts.get(ai) else {
            return Value::Null;
        };
        let meters: Vec<Value> = acc
            .meters
            .iter()
            .filter_map(|&m| {
                let info = self.shared.meters.get(m)?;
                let ms = self.meters.get(m)?;
                let term = self.shared.terminals.get(info.terminal)?;
                Some(json!({
                    "address": info.address_text,
                    "pn": info.pn,
                    "terminal": term.a2,
                    "energy_kwh": ms.last.map(|(_, e)| e.to_string()),
                    "read_at": time_json(ms.last.map(|(t, _)| t)),
                    "power_w": ms.power_w,
                    "relay": ms.relay_open.map(|o| if o { "open" } else { "closed" }),
                    "remaining": ms.remaining.map(|m| m.to_string()),
                    "sts": ms.vendor.is_some(),
                }))
            })
            .collect();
        let meter_relay = acc
            .meters
            .iter()
            .filter_map(|&m| self.meters.get(m)?.relay_open)
            .next();
        let mut v = json!({
            "id": acc.id,
            "name": acc.name,
            "phone": acc.phone,
            "fee_control": match acc.fee { FeeControl::Remote => "remote", FeeControl::Local => "local" },
            "meter_relay": meter_relay.map(|o| if o { "open" } else { "closed" }),
            "period_kwh": acc.charge.period_energy().to_string(),
            "meters": meters,
        });
        if let (Some(e), Some(obj)) = (acc.engine.as_ref(), v.as_object_mut()) {
            let supply = match meter_relay {
                Some(open) => !open,
                None => e.relay() == RelayState::Closed,
            };
            obj.insert("balance".into(), money_json(e.balance()));
            obj.insert("debt".into(), money_json(e.debt()));
            obj.insert("net".into(), money_json(e.net()));
            obj.insert("credit".into(), json!(e.credit().name()));
            obj.insert("alarm".into(), json!(e.alarm().map(|a| a.name())));
            obj.insert("relay".into(), json!(e.relay().name()));
            obj.insert("guarded".into(), json!(e.guarded()));
            obj.insert("remote_trip".into(), json!(e.remote_trip()));
            obj.insert("purchases".into(), json!(e.purchases().0));
            obj.insert("supply".into(), json!(if supply { "on" } else { "off" }));
        } else if let Some(obj) = v.as_object_mut() {
            let remaining = acc
                .meters
                .iter()
                .filter_map(|&m| self.meters.get(m)?.remaining)
                .next();
            obj.insert("balance".into(), json!(remaining.map(|m| m.to_string())));
            obj.insert(
                "supply".into(),
                json!(meter_relay.map(|o| if o { "off" } else { "on" })),
            );
        }
        v
    }
}

fn outbox(
    w: &mut Writes,
    at: SimSeconds,
    customer: i64,
    phone: Option<String>,
    kind: &'static str,
    text: String,
) {
    let channel = if phone.is_some() { "sms" } else { "log" };
    w.push(move |c| {
        c.prepare_cached(
            "INSERT INTO outbox (at, customer_id, channel, message, recipient, kind)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![at, customer, channel, text, phone, kind])?;
        Ok(())
    });
}

fn outcome_name(o: amikit_prepay::Outcome) -> &'static str {
    match o {
        amikit_prepay::Outcome::Acknowledged => "acknowledged",
        amikit_prepay::Outcome::Failed => "failed",
        amikit_prepay::Outcome::Expired => "expired",
        amikit_prepay::Outcome::Superseded => "superseded",
        amikit_prepay::Outcome::Cancelled => "cancelled",
        amikit_prepay::Outcome::Overdue => "overdue",
    }
}

fn record_event(r: &Record) -> Option<(&'static str, Value)> {
    match r {
        Record::CreditChanged { from, to, net } => Some((
            "credit_state",
            json!({"from": from.name(), "to": to.name(), "net": net.to_string()}),
        )),
        Record::Remote { kind, operator } => Some((
            "remote_input",
            json!({"kind": kind.name(), "operator": operator}),
        )),
        Record::TopUp {
            amount,
            repaid,
            net,
            ..
        } => Some((
            "top_up",
            json!({"amount": amount.to_string(), "repaid": repaid.to_string(), "net": net.to_string()}),
        )),
        Record::Alarm2Restored => Some(("alarm2_restored", json!({}))),
        Record::Parameter => Some(("parameter", json!({}))),
        Record::Overload { watts, .. } => Some(("overload", json!({"watts": watts}))),
        Record::Friendly(on) => Some(("friendly", json!({"on": on}))),
        Record::Refund { amount, net, .. } => Some((
            "refund",
            json!({"amount": amount.to_string(), "net": net.to_string()}),
        )),
        Record::DebtAccrued { .. } | Record::EmergencySelected | Record::PoweredUp { .. } => None,
    }
}
