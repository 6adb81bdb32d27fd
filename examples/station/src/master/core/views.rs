//! The accounts as the operator API shows them ([`CustomerView`]).

use amikit_prepay::RelayState;

use super::super::views::{CustomerMeter, CustomerView, MasterWallet, SimTime, Wallet};
use super::Core;
use crate::site::FeeControl;

fn open_closed(open: bool) -> &'static str {
    if open { "open" } else { "closed" }
}

impl Core {
    /// Customer `ai` for the operator API.
    pub(super) fn account_view(&self, ai: usize) -> Option<CustomerView> {
        let acc = self.accounts.get(ai)?;
        let meters: Vec<CustomerMeter> = acc
            .meters
            .iter()
            .filter_map(|&m| {
                let info = self.shared.meters.get(m)?;
                let ms = self.meters.get(m)?;
                let term = self.shared.terminals.get(info.terminal)?;
                Some(CustomerMeter {
                    address: info.address_text.clone(),
                    pn: info.pn,
                    terminal: term.a2,
                    energy_kwh: ms.last.map(|(_, e)| e.to_string()),
                    read_at: SimTime(ms.last.map(|(t, _)| t)),
                    power_w: ms.power_w,
                    relay: ms.relay_open.map(open_closed),
                    remaining: ms.remaining.map(|m| m.to_string()),
                    sts: ms.vendor.is_some(),
                })
            })
            .collect();
        let meter_relay = acc
            .meters
            .iter()
            .filter_map(|&m| self.meters.get(m)?.relay_open)
            .next();
        let wallet = match acc.engine.as_ref() {
            Some(e) => {
                let supply = match meter_relay {
                    Some(open) => !open,
                    None => e.status().relay == RelayState::Closed,
                };
                Wallet::Master(MasterWallet {
                    balance: e.status().balance.to_string(),
                    debt: e.status().debt.to_string(),
                    net: e.status().net.to_string(),
                    credit: e.status().credit.name(),
                    alarm: e.status().alarm.map(|a| a.name()),
                    relay: e.status().relay.name(),
                    guarded: e.status().guarded,
                    remote_trip: e.status().remote_trip,
                    purchases: e.status().last_sequence,
                    supply: if supply { "on" } else { "off" },
                })
            }
            None => Wallet::Meter {
                balance: acc
                    .meters
                    .iter()
                    .filter_map(|&m| self.meters.get(m)?.remaining)
                    .next()
                    .map(|m| m.to_string()),
                supply: meter_relay.map(|o| if o { "off" } else { "on" }),
            },
        };
        Some(CustomerView {
            id: acc.id,
            name: acc.name.clone(),
            phone: acc.phone.clone(),
            fee_control: match acc.fee {
                FeeControl::Remote => "remote",
                FeeControl::Local => "local",
            },
            meter_relay: meter_relay.map(open_closed),
            period_kwh: acc.charge.period_energy().to_string(),
            meters,
            wallet,
        })
    }
}
