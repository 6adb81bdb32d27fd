//! Payments: the engine decides (a top-up with the customer's next purchase count), the
//! payment row records the decision — `applied` with the purchase count, or `refused` with
//! the reason — in the same unit as the customer's new state, and the API hears the decision
//! once that unit is committed (with `synchronous = FULL`).
//!
//! Only an applied payment takes a purchase count, so a refused one never blocks the next.
//! A refused payment changes nothing but its own row (the engine guarantees a refused input
//! changes nothing; the core also steps a copy of the engine and keeps it only if applied).

use amikit_prepay::{Input, NoCharge, Output, PurchaseId, TopUpSource};
use amikit_tariff::Money;
use tokio::sync::oneshot;

use super::super::error::ApiError;
use super::super::msg::{AuditStamp, PaymentOutcome};
use super::super::sim_ts;
use super::super::store::Write;
use super::super::views;
use super::commit::Effect;
use super::{Core, PaymentReply, Writes};

impl Core {
    /// A payment from the API (amount already within the site's payment rules, order number
    /// not yet recorded when the API looked).
    pub(super) fn pay(
        &mut self,
        customer: i64,
        amount: Money,
        order_no: String,
        channel: String,
        audit: AuditStamp,
        reply: oneshot::Sender<PaymentReply>,
    ) {
        if let Some(waiting) = self.inflight_orders.get_mut(&order_no) {
            // The same order number is being recorded: answer its outcome when it is.
            waiting.push(reply);
            return;
        }
        let Some(&ai) = self.shared.customer_by_id.get(&customer) else {
            let _ = reply.send(Err(ApiError::new(404, "no such customer")));
            return;
        };
        let at = self.now();
        let Some(engine) = self.accounts.get(ai).and_then(|a| a.engine.as_ref()) else {
            let _ = reply.send(Err(ApiError::new(
                409,
                "this customer's meter keeps its own balance: vend a token (POST /api/tokens)",
            )));
            return;
        };
        let seq = engine.status().last_sequence.saturating_add(1);
        let mut next = engine.clone();
        let out = next.step(
            sim_ts(at),
            Input::TopUp {
                amount,
                id: PurchaseId::Sequence(seq),
                source: TopUpSource::Counter,
            },
            &mut NoCharge,
        );
        let outputs: Vec<Output> = out.iter().copied().collect();
        let refusal = outputs.iter().find_map(|o| match o {
            Output::Reject { reason, .. } => Some(reason.to_string()),
            _ => None,
        });
        let mut w = Writes::for_account(ai);
        let outcome = match refusal {
            Some(reason) => {
                w.push(Write::Payment {
                    order_no: order_no.clone(),
                    customer,
                    amount: amount.raw(),
                    channel,
                    at,
                    seq: None,
                    status: "refused",
                    reason: Some(reason.clone()),
                });
                w.event(
                    at,
                    Some(customer),
                    None,
                    "payment_refused",
                    &views::PaymentEngineRefused {
                        order_no: &order_no,
                        amount: amount.to_string(),
                        reason: &reason,
                    },
                );
                PaymentOutcome::Refused { reason }
            }
            None => {
                if let Some(e) = self.accounts.get_mut(ai).and_then(|a| a.engine.as_mut()) {
                    *e = next;
                }
                w.push(Write::Payment {
                    order_no: order_no.clone(),
                    customer,
                    amount: amount.raw(),
                    channel,
                    at,
                    seq: Some(seq),
                    status: "applied",
                    reason: None,
                });
                w.event(
                    at,
                    Some(customer),
                    None,
                    "payment",
                    &views::PaymentApplied {
                        order_no: &order_no,
                        seq,
                        amount: amount.to_string(),
                    },
                );
                self.dispatch(ai, at, &outputs, false, &mut w);
                self.save_account(ai, at, &mut w);
                PaymentOutcome::Applied { seq }
            }
        };
        let (status, what) = match &outcome {
            PaymentOutcome::Applied { seq } => (200, format!("applied, seq {seq}")),
            PaymentOutcome::Refused { .. } => (409, "refused by the engine".to_string()),
        };
        w.push(audit.row(
            at,
            status,
            format!("payment {order_no}: {amount} for customer {customer}, {what}"),
        ));
        self.inflight_orders.insert(order_no.clone(), Vec::new());
        w.effect(Effect::Payment {
            order_no,
            reply: Some(reply),
            outcome,
        });
        self.flush(w);
        if let Some(acc) = self.accounts.get(ai) {
            for &m in &acc.meters.clone() {
                self.update_watch(m);
            }
        }
    }

    /// A payment an older version stored without applying it (a crash in between): decided
    /// now with the customer's next purchase count, and its row updated with the decision.
    pub(super) fn apply_stored_payment(&mut self, customer: i64, amount: Money, order_no: &str) {
        let Some(&ai) = self.shared.customer_by_id.get(&customer) else {
            return;
        };
        let at = self.now();
        let Some(engine) = self.accounts.get(ai).and_then(|a| a.engine.as_ref()) else {
            return;
        };
        let seq = engine.status().last_sequence.saturating_add(1);
        let mut next = engine.clone();
        let out = next.step(
            sim_ts(at),
            Input::TopUp {
                amount,
                id: PurchaseId::Sequence(seq),
                source: TopUpSource::Counter,
            },
            &mut NoCharge,
        );
        let outputs: Vec<Output> = out.iter().copied().collect();
        let refusal = outputs.iter().find_map(|o| match o {
            Output::Reject { reason, .. } => Some(reason.to_string()),
            _ => None,
        });
        let mut w = Writes::for_account(ai);
        match refusal {
            Some(reason) => w.push(Write::PaymentDecided {
                order_no: order_no.to_string(),
                seq: None,
                status: "refused",
                reason: Some(reason),
            }),
            None => {
                if let Some(e) = self.accounts.get_mut(ai).and_then(|a| a.engine.as_mut()) {
                    *e = next;
                }
                w.push(Write::PaymentDecided {
                    order_no: order_no.to_string(),
                    seq: Some(seq),
                    status: "applied",
                    reason: None,
                });
                w.event(
                    at,
                    Some(customer),
                    None,
                    "payment",
                    &views::PaymentApplied {
                        order_no,
                        seq,
                        amount: amount.to_string(),
                    },
                );
                self.dispatch(ai, at, &outputs, false, &mut w);
                self.save_account(ai, at, &mut w);
            }
        }
        self.flush(w);
    }
}
