//! Readings and billing: register readings priced with the customer's tariff and fed to the
//! engine; remaining money and relay states read from meters.

use amikit_prepay::{Input, NoCharge, Notification, Output, RelayState};
use amikit_tariff::{Energy, Money};
use serde_json::json;

use super::super::billing::{self, IntervalPricer, notification_kind, notification_text};
use super::super::sim_ts;
use super::super::stats::Stats;
use super::super::store::Write;
use super::{Core, Writes, outbox};
use crate::clock::SimSeconds;

impl Core {
    pub(super) fn on_reading(
        &mut self,
        slot: usize,
        at: SimSeconds,
        energy: Energy,
        power_w: Option<i64>,
    ) {
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
        Stats::bump(&self.shared.stats.readings);
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
        w.push(Write::Reading {
            meter: meter_id,
            at,
            wh,
        });
        self.dispatch(ai, at, &outputs, false, &mut w);
        self.save_account(ai, at, &mut w);
        self.flush(w);
        self.update_watch(slot);
    }

    pub(super) fn on_remaining(&mut self, slot: usize, at: SimSeconds, money: Money) {
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
        w.push(Write::MeterRemaining {
            meter: meter_id,
            at,
            raw,
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

    pub(super) fn on_relay(&mut self, slot: usize, at: SimSeconds, open: bool) {
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
        w.push(Write::MeterRelay {
            meter: meter_id,
            at,
            open,
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
}
