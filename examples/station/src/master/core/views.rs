//! JSON views of the accounts for the operator API.

use amikit_prepay::RelayState;
use amikit_tariff::Money;
use serde_json::{Value, json};

use super::super::store::time_json;
use super::Core;
use crate::clock::SimSeconds;
use crate::site::FeeControl;

impl Core {
    pub(super) fn account_json(&self, ai: usize) -> Value {
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
                None => e.status().relay == RelayState::Closed,
            };
            obj.insert("balance".into(), money_json(e.status().balance));
            obj.insert("debt".into(), money_json(e.status().debt));
            obj.insert("net".into(), money_json(e.status().net));
            obj.insert("credit".into(), json!(e.status().credit.name()));
            obj.insert("alarm".into(), json!(e.status().alarm.map(|a| a.name())));
            obj.insert("relay".into(), json!(e.status().relay.name()));
            obj.insert("guarded".into(), json!(e.status().guarded));
            obj.insert("remote_trip".into(), json!(e.status().remote_trip));
            obj.insert("purchases".into(), json!(e.status().last_sequence));
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

pub(super) fn money_json(m: Money) -> Value {
    json!(m.to_string())
}

pub(super) fn at_json(at: SimSeconds) -> Value {
    time_json(Some(at))
}
