//! The master's writes as named operations: the core, the front end and the API describe what
//! to store with a [`Write`]; only [`Write::apply`] knows the SQL.

use rusqlite::{Connection, params};

use crate::clock::SimSeconds;

/// One write of the master station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// An entry of the event log.
    Event {
        /// When (simulated).
        at: SimSeconds,
        /// The customer it concerns.
        customer: Option<i64>,
        /// The terminal it concerns.
        terminal: Option<i64>,
        /// Its kind (`payment`, `command_acknowledged`, `erc19`, …).
        kind: String,
        /// Details (JSON text).
        detail: String,
    },
    /// A notification for the SMS service.
    Outbox {
        /// When.
        at: SimSeconds,
        /// Customer row id.
        customer: i64,
        /// Phone number (none: the message is only logged).
        phone: Option<String>,
        /// `low_credit`, `cut`, …
        kind: String,
        /// The text.
        text: String,
    },
    /// A customer's persistent state (engine snapshot, charging state; JSON).
    CustomerState {
        /// Customer row id.
        customer: i64,
        /// The state as stored.
        state: String,
    },
    /// A register reading, which also becomes the meter's last value.
    Reading {
        /// Meter row id.
        meter: i64,
        /// When it was received.
        at: SimSeconds,
        /// Register value, Wh.
        wh: i64,
    },
    /// Remaining money read from a local-fee-control meter.
    MeterRemaining {
        /// Meter row id.
        meter: i64,
        /// When.
        at: SimSeconds,
        /// Money, 1e-4 units.
        raw: i64,
    },
    /// The relay state read from a meter.
    MeterRelay {
        /// Meter row id.
        meter: i64,
        /// When.
        at: SimSeconds,
        /// True when open.
        open: bool,
    },
    /// A new command, queued for the tracker.
    CommandQueued {
        /// Command row id.
        id: i64,
        /// Meter row id.
        meter: i64,
        /// Its kind (`trip`, `allow_close`, …).
        kind: &'static str,
        /// When.
        at: SimSeconds,
        /// The engine's command (JSON), to submit it again after a restart.
        reason: String,
        /// Its expiry.
        expires: SimSeconds,
        /// `afn05` / `afn10`.
        via: &'static str,
    },
    /// A queued command the tracker could not take (full): dropped, with a manual job.
    CommandRefused {
        /// Command row id.
        id: i64,
        /// When.
        at: SimSeconds,
        /// Why.
        detail: String,
    },
    /// A live command submitted again after a restart.
    CommandResubmitted {
        /// Command row id.
        id: i64,
        /// When.
        at: SimSeconds,
        /// Its new expiry.
        expires: SimSeconds,
    },
    /// A live command that cannot be submitted again after a restart.
    CommandAbandoned {
        /// Command row id.
        id: i64,
        /// Why.
        detail: String,
    },
    /// A command was handed to a connection (`sent`) or could not be (`unsent`).
    CommandAttempt {
        /// Command row id.
        id: i64,
        /// `sent` / `unsent`.
        status: &'static str,
        /// Attempt number.
        attempt: u8,
        /// When.
        at: SimSeconds,
    },
    /// A command's attempt failed: the reason replaces the detail.
    CommandFailure {
        /// Command row id.
        id: i64,
        /// Why.
        detail: String,
        /// When.
        at: SimSeconds,
    },
    /// A command will be retried; `note` is appended to its detail.
    CommandRetry {
        /// Command row id.
        id: i64,
        /// When.
        at: SimSeconds,
        /// What to append.
        note: String,
    },
    /// A command reached its final status.
    CommandFinished {
        /// Command row id.
        id: i64,
        /// `acknowledged`, `failed`, …
        status: &'static str,
        /// When.
        at: SimSeconds,
    },
    /// A relay command (trip, allow-close, direct close) confirmed by the meter: what the
    /// relay should show from now on, kept across restarts for reconciliation.
    RelayConfirmed {
        /// Meter row id.
        meter: i64,
        /// Command row id.
        command: i64,
    },
    /// A manual job for the operator.
    Job {
        /// The command it is about.
        command: i64,
        /// Why.
        reason: String,
        /// When.
        at: SimSeconds,
    },
    /// Open jobs of `meter` for commands of the kinds `kinds` are moot: a later command
    /// (`by`) carries the current intent. They are cancelled by the system.
    JobsMoot {
        /// Meter row id.
        meter: i64,
        /// The command kinds of the later command's group.
        kinds: Vec<&'static str>,
        /// The later command's row.
        by: i64,
        /// When.
        at: SimSeconds,
    },
    /// Open `relay_mismatch` jobs of `meter` are moot: a read shows the relay as its last
    /// confirmed command left it. They are cancelled by the system.
    RelayJobsSettled {
        /// Meter row id.
        meter: i64,
        /// When.
        at: SimSeconds,
    },
    /// A terminal logged in.
    TerminalOnline {
        /// Terminal row id.
        terminal: i64,
        /// When.
        at: SimSeconds,
    },
    /// A terminal's connection ended.
    TerminalOffline {
        /// Terminal row id.
        terminal: i64,
        /// When.
        at: SimSeconds,
    },
    /// A payment and the engine's decision on it (`applied` with the purchase count it took,
    /// or `refused` with the reason). Committed with `synchronous = FULL`.
    Payment {
        /// The idempotency key (unique).
        order_no: String,
        /// Customer row id.
        customer: i64,
        /// Amount, 1e-4 units.
        amount: i64,
        /// `api`, `wechat`, …
        channel: String,
        /// When.
        at: SimSeconds,
        /// The purchase count an applied payment took.
        seq: Option<u32>,
        /// `applied` / `refused`.
        status: &'static str,
        /// Why it was refused.
        reason: Option<String>,
    },
    /// The engine's decision on a payment stored by an older version before it was applied
    /// (replayed at start). Committed with `synchronous = FULL`.
    PaymentDecided {
        /// The idempotency key.
        order_no: String,
        /// The purchase count it took (applied).
        seq: Option<u32>,
        /// `applied` / `refused`.
        status: &'static str,
        /// Why it was refused.
        reason: Option<String>,
    },
    /// A vended token. Committed with `synchronous = FULL`.
    Token {
        /// Meter row id.
        meter: i64,
        /// The idempotency key (unique).
        order_no: String,
        /// The 20 digits.
        token: String,
        /// Tenths of a kWh.
        tenths: u32,
        /// Token identifier.
        tid: u32,
        /// When.
        at: SimSeconds,
        /// Money paid, 1e-4 units.
        amount: i64,
        /// The operator who sold it.
        sold_by: String,
        /// Customer row id (whose vend remainder the token updates).
        customer: i64,
        /// Money the token credits, 1e-4 units.
        credit: i64,
        /// The customer's vend remainder after it, 1e-4 units.
        remainder: i64,
    },
    /// A reading refused as implausible: a new open exception, or one more sighting of the
    /// same value on the meter's open exception.
    ReadingException {
        /// Meter row id.
        meter: i64,
        /// The baseline it was compared with, Wh, and when that was read.
        previous: Option<(i64, SimSeconds)>,
        /// The refused value, Wh.
        current: i64,
        /// When it was received.
        at: SimSeconds,
        /// `backwards`, `jump`, `out_of_range`.
        reason: &'static str,
    },
    /// A meter replaced: the change is recorded, the new meter's initial reading becomes the
    /// baseline, the meter's open exceptions are resolved.
    MeterReplaced {
        /// Meter row id.
        meter: i64,
        /// When.
        at: SimSeconds,
        /// The old meter's last good reading, Wh.
        previous: Option<i64>,
        /// The old meter's final reading, Wh.
        closing: i64,
        /// The new meter's initial reading, Wh.
        opening: i64,
        /// Energy billed for the old meter's last part, Wh.
        billed: i64,
    },
    /// A row of the audit trail (a mutating API request, or a refused one).
    Audit {
        /// When (simulated).
        at: SimSeconds,
        /// When (real, Unix seconds).
        wall: i64,
        /// The operator (none: not authenticated).
        operator: Option<String>,
        /// Their role.
        role: Option<&'static str>,
        /// HTTP method.
        method: String,
        /// Request path (no query).
        path: String,
        /// The status answered.
        status: u16,
        /// What it did (order number, amount, …); never key material or token digits.
        summary: String,
    },
    /// The next important-event index of a terminal still to store.
    EventPointer {
        /// Terminal row id.
        terminal: i64,
        /// The index.
        pointer: Option<u8>,
    },
}

impl Write {
    /// An event-log entry.
    pub fn event(
        at: SimSeconds,
        customer: Option<i64>,
        terminal: Option<i64>,
        kind: &str,
        detail: &impl serde::Serialize,
    ) -> Self {
        Self::Event {
            at,
            customer,
            terminal,
            kind: kind.to_string(),
            detail: serde_json::to_string(detail).unwrap_or_else(|_| "null".into()),
        }
    }

    /// Whether the write records money (a payment, a token): its batch is committed with
    /// `PRAGMA synchronous = FULL`.
    pub fn is_money(&self) -> bool {
        matches!(
            self,
            Write::Payment { .. } | Write::PaymentDecided { .. } | Write::Token { .. }
        )
    }

    /// Carries the write out on `c` (inside the caller's transaction).
    ///
    /// # Errors
    /// SQLite's.
    pub fn apply(&self, c: &Connection) -> rusqlite::Result<()> {
        match self {
            Write::Event {
                at,
                customer,
                terminal,
                kind,
                detail,
            } => {
                c.prepare_cached(
                    "INSERT INTO events (at, customer_id, terminal_id, kind, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![at, customer, terminal, kind, detail])?;
            }
            Write::Outbox {
                at,
                customer,
                phone,
                kind,
                text,
            } => {
                let channel = if phone.is_some() { "sms" } else { "log" };
                c.prepare_cached(
                    "INSERT INTO outbox (at, customer_id, channel, message, recipient, kind)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![at, customer, channel, text, phone, kind])?;
            }
            Write::CustomerState { customer, state } => {
                c.prepare_cached("UPDATE customers SET state = ?2 WHERE id = ?1")?
                    .execute(params![customer, state])?;
            }
            Write::Reading { meter, at, wh } => {
                c.prepare_cached(
                    "INSERT OR IGNORE INTO readings (meter_id, at, energy, via)
                     VALUES (?1, ?2, ?3, 'afn0c')",
                )?
                .execute(params![meter, at, wh])?;
                c.prepare_cached(
                    "UPDATE meters SET last_energy = ?2, last_read_at = ?3 WHERE id = ?1",
                )?
                .execute(params![meter, wh, at])?;
            }
            Write::MeterRemaining { meter, at, raw } => {
                c.prepare_cached(
                    "UPDATE meters SET remaining = ?2, remaining_at = ?3 WHERE id = ?1",
                )?
                .execute(params![meter, raw, at])?;
            }
            Write::MeterRelay { meter, at, open } => {
                let state = if *open { "open" } else { "closed" };
                c.prepare_cached("UPDATE meters SET relay = ?2, relay_at = ?3 WHERE id = ?1")?
                    .execute(params![meter, state, at])?;
            }
            Write::CommandQueued {
                id,
                meter,
                kind,
                at,
                reason,
                expires,
                via,
            } => {
                c.prepare_cached(
                    "INSERT INTO commands (id, meter_id, kind, status, attempts, created_at,
                                           updated_at, reason, expires_at, via)
                     VALUES (?1, ?2, ?3, 'queued', 0, ?4, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![id, meter, kind, at, reason, expires, via])?;
            }
            Write::CommandRefused { id, at, detail } => {
                c.prepare_cached(
                    "UPDATE commands SET status = 'dropped', detail = ?2, updated_at = ?3
                     WHERE id = ?1",
                )?
                .execute(params![id, detail, at])?;
                c.prepare_cached(
                    "INSERT INTO jobs (command_id, reason, at) VALUES (?1, 'tracker_full', ?2)",
                )?
                .execute(params![id, at])?;
            }
            Write::CommandResubmitted { id, at, expires } => {
                c.prepare_cached(
                    "UPDATE commands SET status = 'queued', updated_at = ?2, expires_at = ?3,
                            detail = 'submitted again after a restart' WHERE id = ?1",
                )?
                .execute(params![id, at, expires])?;
            }
            Write::CommandAbandoned { id, detail } => {
                c.prepare_cached(
                    "UPDATE commands SET status = 'dropped', detail = ?2 WHERE id = ?1",
                )?
                .execute(params![id, detail])?;
            }
            Write::CommandAttempt {
                id,
                status,
                attempt,
                at,
            } => {
                c.prepare_cached(
                    "UPDATE commands SET status = ?2, attempts = ?3, updated_at = ?4 WHERE id = ?1",
                )?
                .execute(params![id, status, attempt, at])?;
            }
            Write::CommandFailure { id, detail, at } => {
                c.prepare_cached("UPDATE commands SET detail = ?2, updated_at = ?3 WHERE id = ?1")?
                    .execute(params![id, detail, at])?;
            }
            Write::CommandRetry { id, at, note } => {
                c.prepare_cached(
                    "UPDATE commands SET status = 'retry', updated_at = ?2,
                            detail = COALESCE(detail, '') || ?3 WHERE id = ?1",
                )?
                .execute(params![id, at, note])?;
            }
            Write::CommandFinished { id, status, at } => {
                c.prepare_cached("UPDATE commands SET status = ?2, updated_at = ?3 WHERE id = ?1")?
                    .execute(params![id, status, at])?;
            }
            Write::RelayConfirmed { meter, command } => {
                c.prepare_cached("UPDATE meters SET relay_command = ?2 WHERE id = ?1")?
                    .execute(params![meter, command])?;
            }
            Write::Job {
                command,
                reason,
                at,
            } => {
                c.prepare_cached("INSERT INTO jobs (command_id, reason, at) VALUES (?1, ?2, ?3)")?
                    .execute(params![command, reason, at])?;
            }
            Write::JobsMoot {
                meter,
                kinds,
                by,
                at,
            } => {
                let mut st = c.prepare_cached(
                    "UPDATE jobs SET status = 'cancelled', closed_by = 'system', closed_at = ?3,
                            note = ?4, done = 1
                     WHERE status = 'open' AND command_id IN
                           (SELECT id FROM commands WHERE meter_id = ?1 AND kind = ?2)",
                )?;
                let note = format!("moot: command {by} replaced it");
                for kind in kinds {
                    st.execute(params![meter, kind, at, note])?;
                }
            }
            Write::RelayJobsSettled { meter, at } => {
                c.prepare_cached(
                    "UPDATE jobs SET status = 'cancelled', closed_by = 'system', closed_at = ?2,
                            note = 'moot: a read shows the relay as commanded', done = 1
                     WHERE status = 'open' AND reason = 'relay_mismatch' AND command_id IN
                           (SELECT id FROM commands WHERE meter_id = ?1)",
                )?
                .execute(params![meter, at])?;
            }
            Write::TerminalOnline { terminal, at } => {
                c.prepare_cached("UPDATE terminals SET online = 1, last_seen = ?2 WHERE id = ?1")?
                    .execute(params![terminal, at])?;
                c.prepare_cached(
                    "INSERT INTO events (at, terminal_id, kind, detail)
                     VALUES (?1, ?2, 'login', '{}')",
                )?
                .execute(params![at, terminal])?;
            }
            Write::TerminalOffline { terminal, at } => {
                c.prepare_cached("UPDATE terminals SET online = 0 WHERE id = ?1")?
                    .execute(params![terminal])?;
                c.prepare_cached(
                    "INSERT INTO events (at, terminal_id, kind, detail)
                     VALUES (?1, ?2, 'offline', '{}')",
                )?
                .execute(params![at, terminal])?;
            }
            Write::Payment {
                order_no,
                customer,
                amount,
                channel,
                at,
                seq,
                status,
                reason,
            } => {
                c.prepare_cached(
                    "INSERT INTO payments (order_no, customer_id, amount, channel, at, seq,
                                           status, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    order_no, customer, amount, channel, at, seq, status, reason
                ])?;
            }
            Write::PaymentDecided {
                order_no,
                seq,
                status,
                reason,
            } => {
                c.prepare_cached(
                    "UPDATE payments SET seq = ?2, status = ?3, reason = ?4 WHERE order_no = ?1",
                )?
                .execute(params![order_no, seq, status, reason])?;
            }
            Write::Token {
                meter,
                order_no,
                token,
                tenths,
                tid,
                at,
                amount,
                sold_by,
                customer,
                credit,
                remainder,
            } => {
                c.prepare_cached(
                    "INSERT INTO tokens (meter_id, order_no, token, energy, tid, at, amount,
                                         sold_by, credit)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?
                .execute(params![
                    meter, order_no, token, tenths, tid, at, amount, sold_by, credit
                ])?;
                c.prepare_cached("UPDATE customers SET vend_remainder = ?2 WHERE id = ?1")?
                    .execute(params![customer, remainder])?;
            }
            Write::ReadingException {
                meter,
                previous,
                current,
                at,
                reason,
            } => {
                let seen = c
                    .prepare_cached(
                        "UPDATE reading_exceptions SET count = count + 1, last_at = ?3
                         WHERE meter_id = ?1 AND status = 'open' AND current = ?2
                           AND reason = ?4",
                    )?
                    .execute(params![meter, current, at, reason])?;
                if seen == 0 {
                    c.prepare_cached(
                        "INSERT INTO reading_exceptions
                           (meter_id, previous, previous_at, current, at, last_at, reason)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
                    )?
                    .execute(params![
                        meter,
                        previous.map(|p| p.0),
                        previous.map(|p| p.1),
                        current,
                        at,
                        reason
                    ])?;
                }
            }
            Write::Audit {
                at,
                wall,
                operator,
                role,
                method,
                path,
                status,
                summary,
            } => {
                c.prepare_cached(
                    "INSERT INTO audit (at, wall, operator, role, method, path, status, summary)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    at, wall, operator, role, method, path, status, summary
                ])?;
            }
            Write::MeterReplaced {
                meter,
                at,
                previous,
                closing,
                opening,
                billed,
            } => {
                c.prepare_cached(
                    "INSERT INTO meter_changes (meter_id, at, previous, closing, opening, billed)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![meter, at, previous, closing, opening, billed])?;
                c.prepare_cached(
                    "UPDATE meters SET last_energy = ?2, last_read_at = ?3 WHERE id = ?1",
                )?
                .execute(params![meter, opening, at])?;
                c.prepare_cached(
                    "UPDATE reading_exceptions SET status = 'resolved', resolved_at = ?2,
                            resolution = 'meter replaced'
                     WHERE meter_id = ?1 AND status = 'open'",
                )?
                .execute(params![meter, at])?;
            }
            Write::EventPointer { terminal, pointer } => {
                c.prepare_cached("UPDATE terminals SET event_ptr = ?2 WHERE id = ?1")?
                    .execute(params![terminal, pointer])?;
            }
        }
        Ok(())
    }
}
