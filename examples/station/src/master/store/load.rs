//! Seeding the database from the site file and loading it into memory at start.

use std::collections::HashMap;
use std::path::Path;

use amikit_prepay::{Engine, NoCharge, Snapshot};
use amikit_tariff::def::TariffDef;
use amikit_tariff::{ChargeState, TariffSet};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::super::billing::{self, energy_from_kwh_text, money_from_text};
use super::super::error::{MasterError, MasterResult};
use super::super::sim_ts;
use crate::clock::SimSeconds;
use crate::db::Db;
use crate::site::{FeeControl, Site};

/// What the master keeps per customer in `customers.state` (JSON).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoredState {
    /// The charge-control engine's snapshot (remote fee control only).
    #[serde(default)]
    pub engine: Option<Snapshot>,
    /// The tariff charging state (period-to-date energy, carried remainders).
    #[serde(default)]
    pub charge: ChargeState,
    /// The opening step (alarm, guard from the site file) has been taken.
    #[serde(default)]
    pub init_done: bool,
    /// Guard (保电) from the site file, applied by the opening step.
    #[serde(default)]
    pub guard_at_start: bool,
    /// Local fee control: a low-balance notification was sent for the current low spell.
    #[serde(default)]
    pub low_notified: bool,
}

impl StoredState {
    /// As stored.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// Creates what the site file describes and the database lacks: tariffs (by name), terminals
/// (by A1/A2), customers (by name, with their opening balance) and meters (by address, with
/// their opening register). Existing rows are left alone, so a restart never resets a balance.
pub fn seed(db: &mut Db, site: &Site, root: &Path, now: SimSeconds) -> MasterResult<()> {
    let tx = db.conn_mut().transaction()?;
    for t in &site.tariffs {
        let exists: Option<i64> = tx
            .query_row(
                "SELECT id FROM tariffs WHERE name = ?1",
                params![t.name],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_none() {
            let path = site
                .tariff_path(&t.name, root)
                .ok_or_else(|| MasterError::config(format!("tariff {}", t.name), "no file"))?;
            let def = crate::site::read_tariff_file(&path)
                .map_err(|e| MasterError::config(format!("tariff {}", t.name), e))?;
            let json = serde_json::to_string(&def)
                .map_err(|e| MasterError::config(format!("tariff {}", t.name), e))?;
            tx.execute(
                "INSERT INTO tariffs (name, definition) VALUES (?1, ?2)",
                params![t.name, json],
            )?;
        }
    }
    for t in &site.terminals {
        tx.execute(
            "INSERT OR IGNORE INTO terminals (a1, a2) VALUES (?1, ?2)",
            params![site.region, t.a2],
        )?;
    }
    for (a2, m) in site.meters() {
        let customer: Option<i64> = tx
            .query_row(
                "SELECT id FROM customers WHERE name = ?1",
                params![m.customer],
                |r| r.get(0),
            )
            .optional()?;
        let customer = match customer {
            Some(id) => id,
            None => {
                let tariff_id: i64 = tx.query_row(
                    "SELECT id FROM tariffs WHERE name = ?1",
                    params![m.tariff],
                    |r| r.get(0),
                )?;
                let opening = money_from_text(&m.opening_balance)?;
                let mut state = StoredState {
                    guard_at_start: m.guarded,
                    ..StoredState::default()
                };
                if m.fee_control == FeeControl::Remote {
                    let engine = Engine::new(billing::engine_config(m)?, opening)
                        .map_err(|e| MasterError::config(format!("customer {}", m.customer), e))?;
                    state.engine = Some(engine.snapshot(sim_ts(now), &NoCharge));
                }
                let fee = match m.fee_control {
                    FeeControl::Remote => "remote",
                    FeeControl::Local => "local",
                };
                tx.execute(
                    "INSERT INTO customers (name, phone, tariff_id, fee_control, state)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![m.customer, m.phone, tariff_id, fee, state.to_json()],
                )?;
                tx.last_insert_rowid()
            }
        };
        let terminal: i64 = tx.query_row(
            "SELECT id FROM terminals WHERE a1 = ?1 AND a2 = ?2",
            params![site.region, a2],
            |r| r.get(0),
        )?;
        let opening = energy_from_kwh_text(&m.opening_kwh)?;
        tx.execute(
            "INSERT OR IGNORE INTO meters
               (customer_id, terminal_id, pn, address, sts_pan, last_energy, last_read_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                customer,
                terminal,
                m.pn,
                m.address,
                m.sts.as_ref().map(|s| s.pan.clone()),
                opening.wh(),
                now
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// A terminal row.
#[derive(Debug, Clone)]
pub struct TerminalRow {
    /// Row id.
    pub id: i64,
    /// A1 as printed.
    pub a1: String,
    /// A2.
    pub a2: u32,
    /// Next event record index to store.
    pub event_ptr: Option<u8>,
    /// Last seen (simulated seconds).
    pub last_seen: Option<SimSeconds>,
}

/// A customer row.
#[derive(Debug, Clone)]
pub struct CustomerRow {
    /// Row id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Phone number.
    pub phone: Option<String>,
    /// Tariff row id.
    pub tariff_id: i64,
    /// Fee control mode.
    pub fee_control: FeeControl,
    /// Persistent state.
    pub state: StoredState,
    /// Money paid for tokens that no token carried yet, 1e-4 units
    /// ([`vend_split`](crate::master::vend_split)).
    pub vend_remainder: i64,
}

/// A meter row.
#[derive(Debug, Clone)]
pub struct MeterRow {
    /// Row id.
    pub id: i64,
    /// Customer row id.
    pub customer_id: i64,
    /// Terminal row id.
    pub terminal_id: i64,
    /// Measurement point.
    pub pn: u16,
    /// DL/T 645 address, 12 digits.
    pub address: String,
    /// Last register value (Wh) and when it was read.
    pub last: Option<(i64, SimSeconds)>,
    /// Relay as last read ("open"/"closed").
    pub relay: Option<String>,
    /// Remaining money as last read (local meters), 1e-4 units.
    pub remaining: Option<i64>,
    /// The relay command confirmed last: its row id and the command (JSON of
    /// `amikit_prepay::Command`).
    pub relay_command: Option<(i64, Option<String>)>,
    /// The meter's last replacement: the old meter's final and the new meter's initial
    /// reading, Wh.
    pub last_change: Option<(i64, i64)>,
    /// A `relay_mismatch` job is open for the meter (a person decides).
    pub relay_job_open: bool,
}

/// A payment stored but not yet applied to the customer's engine (a crash between the two).
#[derive(Debug, Clone)]
pub struct PaymentRow {
    /// Customer row id.
    pub customer_id: i64,
    /// Purchase count.
    pub seq: u32,
    /// Amount, 1e-4 units.
    pub amount: i64,
    /// Order number.
    pub order_no: String,
}

/// A command that was live when the master stopped.
#[derive(Debug, Clone)]
pub struct CommandRow {
    /// Row id.
    pub id: i64,
    /// Meter row id.
    pub meter_id: i64,
    /// The command (JSON of `amikit_prepay::Command`).
    pub reason: Option<String>,
    /// Expiry (simulated seconds).
    pub expires_at: Option<SimSeconds>,
    /// Failures so far.
    pub attempts: i64,
}

/// Everything the master needs in memory at start.
#[derive(Debug)]
pub struct Loaded {
    /// Tariffs by row id: name and the validated set.
    pub tariffs: HashMap<i64, (String, TariffSet)>,
    /// Terminals.
    pub terminals: Vec<TerminalRow>,
    /// Customers.
    pub customers: Vec<CustomerRow>,
    /// Meters.
    pub meters: Vec<MeterRow>,
    /// Payments to apply again, by customer then purchase count.
    pub unapplied: Vec<PaymentRow>,
    /// Live commands to submit again.
    pub pending_commands: Vec<CommandRow>,
    /// Highest TID vended per meter.
    pub last_tid: HashMap<i64, u32>,
    /// The next command row id.
    pub next_command_id: i64,
}

/// Command statuses that are final.
pub const FINAL_STATUSES: &str =
    "'acknowledged','failed','expired','superseded','cancelled','overdue','dropped'";

/// Loads the database into memory.
pub fn load(db: &Db) -> MasterResult<Loaded> {
    let c = db.conn();
    let mut tariffs = HashMap::new();
    {
        let mut st = c.prepare("SELECT id, name, definition FROM tariffs")?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (id, name, def) = row?;
            let def: TariffDef = serde_json::from_str(&def)
                .map_err(|e| MasterError::config(format!("tariff {name}"), e))?;
            let set = amikit_tariff::TariffSet::try_from(&def)
                .map_err(|e| MasterError::config(format!("tariff {name}"), e))?;
            tariffs.insert(id, (name, set));
        }
    }
    let terminals = {
        let mut st =
            c.prepare("SELECT id, a1, a2, event_ptr, last_seen FROM terminals ORDER BY id")?;
        st.query_map([], |r| {
            Ok(TerminalRow {
                id: r.get(0)?,
                a1: r.get(1)?,
                a2: r.get(2)?,
                event_ptr: r
                    .get::<_, Option<i64>>(3)?
                    .and_then(|p| u8::try_from(p).ok()),
                last_seen: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?
    };
    let customers = {
        let mut st = c.prepare(
            "SELECT id, name, phone, tariff_id, fee_control, state, vend_remainder
             FROM customers ORDER BY id",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, phone, tariff_id, fee, state, vend_remainder) = row?;
            let state: StoredState = serde_json::from_str(&state)
                .map_err(|e| MasterError::config(format!("customer {name}"), e))?;
            let fee_control = if fee == "local" {
                FeeControl::Local
            } else {
                FeeControl::Remote
            };
            out.push(CustomerRow {
                id,
                name,
                phone,
                tariff_id,
                fee_control,
                state,
                vend_remainder,
            });
        }
        out
    };
    let meters = {
        let mut st = c.prepare(
            "SELECT m.id, m.customer_id, m.terminal_id, m.pn, m.address, m.last_energy,
                        m.last_read_at, m.relay, m.remaining, c.id, c.reason, x.closing,
                        x.opening,
                        EXISTS (SELECT 1 FROM jobs j JOIN commands k ON k.id = j.command_id
                                WHERE k.meter_id = m.id AND j.status = 'open'
                                  AND j.reason = 'relay_mismatch')
                 FROM meters m LEFT JOIN commands c ON c.id = m.relay_command
                 LEFT JOIN meter_changes x ON x.id =
                     (SELECT MAX(id) FROM meter_changes WHERE meter_id = m.id)
                 ORDER BY m.id",
        )?;
        st.query_map([], |r| {
            let e: Option<i64> = r.get(5)?;
            let at: Option<i64> = r.get(6)?;
            Ok(MeterRow {
                id: r.get(0)?,
                customer_id: r.get(1)?,
                terminal_id: r.get(2)?,
                pn: r.get(3)?,
                address: r.get(4)?,
                last: e.zip(at),
                relay: r.get(7)?,
                remaining: r.get(8)?,
                relay_command: r
                    .get::<_, Option<i64>>(9)?
                    .map(|id| r.get(10).map(|reason| (id, reason)))
                    .transpose()?,
                last_change: r
                    .get::<_, Option<i64>>(11)?
                    .zip(r.get::<_, Option<i64>>(12)?),
                relay_job_open: r.get(13)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?
    };
    let mut unapplied = Vec::new();
    {
        let mut st = c.prepare(
            "SELECT seq, amount, order_no FROM payments
                 WHERE customer_id = ?1 AND seq > ?2 AND status = 'applied' ORDER BY seq",
        )?;
        for cust in &customers {
            let Some(snap) = cust.state.engine else {
                continue;
            };
            let rows = st.query_map(params![cust.id, snap.last_sequence], |r| {
                Ok(PaymentRow {
                    customer_id: cust.id,
                    seq: r.get(0)?,
                    amount: r.get(1)?,
                    order_no: r.get(2)?,
                })
            })?;
            for p in rows {
                unapplied.push(p?);
            }
        }
    }
    let pending_commands = {
        let mut st = c.prepare(&format!(
            "SELECT id, meter_id, reason, expires_at, attempts FROM commands
                 WHERE status NOT IN ({FINAL_STATUSES}) ORDER BY id"
        ))?;
        st.query_map([], |r| {
            Ok(CommandRow {
                id: r.get(0)?,
                meter_id: r.get(1)?,
                reason: r.get(2)?,
                expires_at: r.get(3)?,
                attempts: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?
    };
    let mut last_tid = HashMap::new();
    {
        let mut st = c.prepare("SELECT meter_id, MAX(tid) FROM tokens GROUP BY meter_id")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (m, t) = row?;
            if let Ok(t) = u32::try_from(t) {
                last_tid.insert(m, t);
            }
        }
    }
    let next_command_id =
        c.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM commands", [], |r| {
            r.get(0)
        })?;
    Ok(Loaded {
        tariffs,
        terminals,
        customers,
        meters,
        unapplied,
        pending_commands,
        last_tid,
        next_command_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::workspace_root;

    #[test]
    fn seeding_is_idempotent_and_loading_finds_unfinished_work() {
        let site = Site::demo();
        let mut db = Db::in_memory().unwrap();
        assert_eq!(db.version().unwrap(), crate::db::SCHEMA_VERSION);
        seed(&mut db, &site, &workspace_root(), 1000).unwrap();
        let count = |db: &Db, t: &str| {
            db.query_i64(&format!("SELECT COUNT(*) FROM {t}"), [])
                .unwrap()
                .unwrap()
        };
        let before: Vec<i64> = ["tariffs", "terminals", "customers", "meters"]
            .iter()
            .map(|t| count(&db, t))
            .collect();
        assert_eq!(before, vec![1, 1, 5, 5]);
        // A second start seeds nothing and keeps the balances.
        db.conn()
            .execute(
                "UPDATE customers SET state = json_set(state, '$.init_done', json('true'))",
                [],
            )
            .unwrap();
        seed(&mut db, &site, &workspace_root(), 2000).unwrap();
        let after: Vec<i64> = ["tariffs", "terminals", "customers", "meters"]
            .iter()
            .map(|t| count(&db, t))
            .collect();
        assert_eq!(before, after);
        let loaded = load(&db).unwrap();
        let li = loaded
            .customers
            .iter()
            .find(|c| c.name == "Li Wei")
            .unwrap();
        assert!(li.state.init_done);
        assert_eq!(
            li.state.engine.unwrap().net(),
            amikit_tariff::Money::parse("12").unwrap()
        );
        let zhang = loaded
            .customers
            .iter()
            .find(|c| c.name == "Zhang Min")
            .unwrap();
        assert_eq!(zhang.fee_control, FeeControl::Local);
        assert!(zhang.state.engine.is_none());
        let clinic = loaded
            .customers
            .iter()
            .find(|c| c.name == "Community clinic")
            .unwrap();
        assert!(clinic.state.guard_at_start);
        let m = loaded
            .meters
            .iter()
            .find(|m| m.address == "000000000101")
            .unwrap();
        assert_eq!(m.last, Some((1_520_000, 1000)));
        assert!(loaded.unapplied.is_empty() && loaded.pending_commands.is_empty());

        // A payment committed but not yet in the engine's snapshot, and a live command.
        db.conn()
            .execute(
                "INSERT INTO payments (order_no, customer_id, amount, channel, at, seq)
                 VALUES ('A-1', ?1, 500000, 'api', 3000, 1)",
                [li.id],
            )
            .unwrap();
        db.conn()
            .execute(
                "INSERT INTO commands (id, meter_id, kind, status, created_at, updated_at, reason)
                 VALUES (1, ?1, 'trip', 'retry', 3000, 3000, '{}'),
                        (2, ?1, 'alarm', 'acknowledged', 3000, 3000, '{}')",
                [m.id],
            )
            .unwrap();
        // The same order number twice is refused by the unique key.
        assert!(
            db.conn()
                .execute(
                    "INSERT INTO payments (order_no, customer_id, amount, channel, at, seq)
                     VALUES ('A-1', ?1, 500000, 'api', 3001, 2)",
                    [li.id],
                )
                .is_err()
        );
        let loaded = load(&db).unwrap();
        assert_eq!(loaded.unapplied.len(), 1);
        assert_eq!(loaded.unapplied[0].seq, 1);
        assert_eq!(loaded.pending_commands.len(), 1);
        assert_eq!(loaded.pending_commands[0].id, 1);
        assert_eq!(loaded.next_command_id, 3);
    }
}
