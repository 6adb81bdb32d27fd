//! Payments: a payment committed to the database becomes a top-up of the customer's engine
//! with its purchase count.

use amikit_prepay::{Input, NoCharge, Output, PurchaseId, Rejection, TopUpSource};
use amikit_tariff::Money;
use serde_json::json;

use super::super::sim_ts;
use super::{Core, Writes};

impl Core {
    pub(super) fn apply_payment(&mut self, customer: i64, seq: u32, amount: Money, order_no: &str) {
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
}
