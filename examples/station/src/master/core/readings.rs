//! Readings and billing: register readings priced with the customer's tariff and fed to the
//! engine; remaining money and relay states read from meters.

use amikit_prepay::{Input, NoCharge, Notification, Output, RelayState};
use amikit_tariff::{Energy, MeterChange, Money, delta_across_change};
use serde_json::Value;
use tokio::sync::oneshot;

use super::super::billing::{self, IntervalPricer, notification_kind, notification_text};
use super::super::error::ApiError;
use super::super::msg::AuditStamp;
use super::super::sim_ts;
use super::super::stats::Stats;
use super::super::store::Write;
use super::super::views::{self, to_json};
use super::commit::Effect;
use super::{Core, Writes, outbox};
use crate::clock::SimSeconds;

impl Core {
    /// A register reading: refused into the exception queue if implausible (the baseline
    /// does not move, nothing is billed), otherwise billed from the last good reading.
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
        let margin = self.reading_margin;
        let Some(ms) = self.meters.get_mut(slot) else {
            return;
        };
        ms.power_w = power_w.or(ms.power_w);
        let ai = ms.account;
        let prev = ms.last;
        if prev.is_some_and(|(t0, _)| at <= t0) {
            return; // not after the previous reading (a clock restarted behind the database)
        }
        let delta = match prev {
            None => None,
            Some((t0, e0)) => {
                match billing::plausible_delta(e0, t0, energy, at, ms.max_demand_w, margin) {
                    Ok(d) => Some((t0, d)),
                    Err(why) => {
                        let customer_id = self.accounts.get(ai).map(|a| a.id);
                        let mut w = Writes::default();
                        w.push(Write::ReadingException {
                            meter: meter_id,
                            previous: Some((e0.wh(), t0)),
                            current: energy.wh(),
                            at,
                            reason: why.name(),
                        });
                        w.event(
                            at,
                            customer_id,
                            terminal_id,
                            "reading_exception",
                            &views::ReadingException {
                                meter: &info.address_text,
                                previous_kwh: e0.to_string(),
                                current_kwh: energy.to_string(),
                                reason: why.name(),
                            },
                        );
                        self.flush(w);
                        return;
                    }
                }
            }
        };
        ms.last = Some((at, energy));
        Stats::bump(&self.shared.stats.readings);
        let mut w = Writes::for_account(ai);
        let outputs = match delta {
            Some((t0, d)) => self.bill(ai, t0, at, d),
            None => Vec::new(),
        };
        w.push(Write::Reading {
            meter: meter_id,
            at,
            wh: energy.wh(),
        });
        self.dispatch(ai, at, &outputs, false, &mut w);
        self.save_account(ai, at, &mut w);
        self.flush(w);
        self.update_watch(slot);
    }

    /// Prices `delta` consumed over `[from, to)` with the account's tariff and feeds it to its
    /// engine (remote fee control) or its period-to-date energy (local): the engine's outputs.
    fn bill(&mut self, ai: usize, from: SimSeconds, to: SimSeconds, delta: Energy) -> Vec<Output> {
        let mut outputs = Vec::new();
        let Some(acc) = self.accounts.get_mut(ai) else {
            return outputs;
        };
        let (Some(from), Some(to_dt)) = (
            amikit_tariff::DateTime::try_from(sim_ts(from)).ok(),
            amikit_tariff::DateTime::try_from(sim_ts(to)).ok(),
        ) else {
            return outputs;
        };
        let tariff = acc.tariff.clone();
        match acc.engine.as_mut() {
            Some(engine) => {
                let mut pricer = IntervalPricer {
                    tariff: &tariff,
                    state: &mut acc.charge,
                    from,
                    to: to_dt,
                };
                let a = engine.step(sim_ts(to), Input::Consume { energy: delta }, &mut pricer);
                let b = engine.step(sim_ts(to), Input::Tick, &mut pricer);
                outputs.extend(a.iter().copied());
                outputs.extend(b.iter().copied());
            }
            None => {
                // Local fee control: the meter keeps the money; the master keeps the
                // period-to-date energy for vending quotes.
                let _ = tariff.charge_apportioned(&mut acc.charge, from, to_dt, delta);
            }
        }
        outputs
    }

    /// A meter replaced (`POST /api/meters/{address}/replace`): the old meter's consumption
    /// from the last good reading to its final reading is billed once (the tariff crate's
    /// change-of-meter delta), the new meter's initial reading becomes the baseline and the
    /// meter's open exceptions are resolved.
    ///
    /// A replacement identical to the meter's last one (same final and initial readings) is
    /// the same replacement sent again (its answer was lost): it is answered as a duplicate
    /// and bills nothing. Billing it again would charge the old meter's last part twice and
    /// put the baseline back to the new meter's initial reading.
    pub(super) fn replace_meter(
        &mut self,
        slot: usize,
        closing: Energy,
        opening: Energy,
        audit: AuditStamp,
        reply: oneshot::Sender<Result<Value, ApiError>>,
    ) {
        let refuse = |reply: oneshot::Sender<Result<Value, ApiError>>, status, why: String| {
            let _ = reply.send(Err(ApiError::new(status, why)));
        };
        let Some(info) = self.shared.meters.get(slot) else {
            return refuse(reply, 404, "no such meter".into());
        };
        let (meter_id, address) = (info.id, info.address_text.clone());
        let margin = self.reading_margin;
        let Some(ms) = self.meters.get(slot) else {
            return refuse(reply, 404, "no such meter".into());
        };
        let (ai, max_w) = (ms.account, ms.max_demand_w);
        let change = MeterChange { closing, opening };
        if ms.last_change == Some(change) {
            let at = self.now();
            let mut w = Writes::default();
            w.push(audit.row(
                at,
                200,
                format!(
                    "meter {address} replacement sent again (final {closing} kWh, initial \
                     {opening} kWh): duplicate, nothing billed"
                ),
            ));
            w.effect(Effect::Reply {
                reply,
                answer: to_json(&views::MeterReplacedAgain {
                    meter: address,
                    final_kwh: closing.to_string(),
                    initial_kwh: opening.to_string(),
                    duplicate: true,
                }),
            });
            self.flush(w);
            return;
        }
        let Some((t0, e0)) = ms.last else {
            return refuse(reply, 409, "the meter has no reading to bill from".into());
        };
        let at = self.now().max(t0 + 1);
        let register = billing::register();
        let delta = match delta_across_change(register, e0, change, register, opening) {
            Ok(d) => d,
            Err(e) => {
                return refuse(
                    reply,
                    422,
                    format!(
                        "final reading {closing} kWh against the last good reading {e0} kWh, \
                         initial reading {opening} kWh: {e}"
                    ),
                );
            }
        };
        // The operator's final reading is held to the same bound as a meter's.
        if let Err(why) = billing::plausible_delta(e0, t0, closing, at, max_w, margin) {
            return refuse(
                reply,
                422,
                format!(
                    "final reading {closing} kWh after {e0} kWh is not plausible ({})",
                    why.name()
                ),
            );
        }
        let outputs = self.bill(ai, t0, at, delta);
        if let Some(ms) = self.meters.get_mut(slot) {
            ms.last = Some((at, opening));
            ms.last_change = Some(change);
        }
        let customer_id = self.accounts.get(ai).map(|a| a.id);
        let mut w = Writes::for_account(ai);
        w.push(Write::MeterReplaced {
            meter: meter_id,
            at,
            previous: Some(e0.wh()),
            closing: closing.wh(),
            opening: opening.wh(),
            billed: delta.wh(),
        });
        let detail = views::MeterReplaced {
            meter: address.clone(),
            previous_kwh: e0.to_string(),
            final_kwh: closing.to_string(),
            initial_kwh: opening.to_string(),
            billed_kwh: delta.to_string(),
        };
        w.event(at, customer_id, None, "meter_replaced", &detail);
        self.dispatch(ai, at, &outputs, false, &mut w);
        self.save_account(ai, at, &mut w);
        w.push(audit.row(
            at,
            200,
            format!(
                "meter {address} replaced: final {closing} kWh, initial {opening} kWh, billed {delta} kWh"
            ),
        ));
        w.effect(Effect::Reply {
            reply,
            answer: to_json(&detail),
        });
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
                    &views::LowBalance {
                        meter: &info.address_text,
                        remaining: money.to_string(),
                    },
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
                &views::RelayChanged { meter: &address },
            );
        }
        // The customer closed an armed relay with the button: tell the engine (its close
        // decision needs no command, the meter is already closed).
        let mut outputs: Vec<Output> = Vec::new();
        if !open
            && let Some(acc) = self.accounts.get_mut(ai)
            && let Some(engine) = acc.engine.as_mut()
            && engine.status().relay == RelayState::Armed
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
