//! The master's reads and the writes that answer something (payments, tokens): named
//! operations run on the DB thread. The operator API lists through these.

use amikit_tariff::{Energy, Money};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use super::time_json;
use crate::clock::SimSeconds;

/// Which rows a list answers: the oldest `limit` with an id above `after` (the API asks for
/// one more to know whether there is a next page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Only rows with an id above this (the cursor).
    pub after: i64,
    /// At most this many, oldest first.
    pub limit: i64,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            after: 0,
            limit: 1000,
        }
    }
}

fn json_text(s: Option<String>) -> Value {
    match s {
        Some(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        None => Value::Null,
    }
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// One customer's.
    pub customer: Option<i64>,
    /// One kind.
    pub kind: Option<String>,
}

/// An entry of the event log.
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    /// Row id.
    pub id: i64,
    /// Simulated seconds.
    pub at: i64,
    /// Civil time.
    pub time: Value,
    /// Customer row id.
    pub customer_id: Option<i64>,
    /// Customer name.
    pub customer: Option<String>,
    /// Terminal A2.
    pub terminal: Option<i64>,
    /// Kind.
    pub kind: String,
    /// Details.
    pub detail: Value,
}

/// The event log, filtered and paged.
///
/// # Errors
/// SQLite's.
pub fn list_events(
    c: &Connection,
    filter: &EventFilter,
    page: Page,
) -> rusqlite::Result<Vec<EventRow>> {
    let mut st = c.prepare_cached(
        "SELECT e.id, e.at, e.customer_id, c.name, t.a2, e.kind, e.detail
           FROM events e LEFT JOIN customers c ON c.id = e.customer_id
                         LEFT JOIN terminals t ON t.id = e.terminal_id
           WHERE e.id > ?1 AND (?2 IS NULL OR e.customer_id = ?2)
             AND (?3 IS NULL OR e.kind = ?3)
           ORDER BY e.id LIMIT ?4",
    )?;
    st.query_map(
        params![page.after, filter.customer, filter.kind, page.limit],
        |r| {
            Ok(EventRow {
                id: r.get(0)?,
                at: r.get(1)?,
                time: time_json(r.get(1)?),
                customer_id: r.get(2)?,
                customer: r.get(3)?,
                terminal: r.get(4)?,
                kind: r.get(5)?,
                detail: json_text(r.get(6)?),
            })
        },
    )?
    .collect()
}

/// Which commands to list.
#[derive(Debug, Clone, Default)]
pub struct CommandFilter {
    /// One customer's.
    pub customer: Option<i64>,
    /// One status.
    pub status: Option<String>,
}

/// A command and its status.
#[derive(Debug, Clone, Serialize)]
pub struct CommandView {
    /// Row id.
    pub id: i64,
    /// Meter address.
    pub meter: String,
    /// Customer name.
    pub customer: String,
    /// Customer row id.
    pub customer_id: i64,
    /// `trip`, `allow_close`, …
    pub kind: String,
    /// `queued`, `sent`, `acknowledged`, …
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Simulated seconds.
    pub created_at: i64,
    /// Civil time.
    pub created: Value,
    /// Simulated seconds.
    pub updated_at: i64,
    /// Civil time.
    pub updated: Value,
    /// Failures and retries.
    pub detail: Option<String>,
    /// The engine's command.
    pub reason: Value,
    /// `afn05` / `afn10`.
    pub via: Option<String>,
    /// Civil time.
    pub expires: Value,
}

/// Commands, filtered and paged (a page, oldest first).
///
/// # Errors
/// SQLite's.
pub fn list_commands(
    c: &Connection,
    filter: &CommandFilter,
    page: Page,
) -> rusqlite::Result<Vec<CommandView>> {
    let mut st = c.prepare_cached(
        "SELECT k.id, m.address, c.name, k.kind, k.status, k.attempts, k.created_at,
                  k.updated_at, k.detail, k.reason, k.via, k.expires_at, c.id
           FROM commands k JOIN meters m ON m.id = k.meter_id
                           JOIN customers c ON c.id = m.customer_id
           WHERE k.id > ?1 AND (?2 IS NULL OR c.id = ?2) AND (?3 IS NULL OR k.status = ?3)
           ORDER BY k.id LIMIT ?4",
    )?;
    st.query_map(
        params![page.after, filter.customer, filter.status, page.limit],
        |r| {
            Ok(CommandView {
                id: r.get(0)?,
                meter: r.get(1)?,
                customer: r.get(2)?,
                customer_id: r.get(12)?,
                kind: r.get(3)?,
                status: r.get(4)?,
                attempts: r.get(5)?,
                created_at: r.get(6)?,
                created: time_json(r.get(6)?),
                updated_at: r.get(7)?,
                updated: time_json(r.get(7)?),
                detail: r.get(8)?,
                reason: json_text(r.get(9)?),
                via: r.get(10)?,
                expires: time_json(r.get(11)?),
            })
        },
    )?
    .collect()
}

/// A manual job.
#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    /// Row id.
    pub id: i64,
    /// The command.
    pub command_id: i64,
    /// Why.
    pub reason: String,
    /// Simulated seconds.
    pub at: i64,
    /// Civil time.
    pub time: Value,
    /// `open`, `done` or `cancelled`.
    pub status: String,
    /// Not open any more (`status` is `done` or `cancelled`).
    pub done: bool,
    /// Who closed it (an operator, or `system` when it became moot).
    pub closed_by: Option<String>,
    /// When it was closed, simulated seconds.
    pub closed_at: Option<i64>,
    /// Why it was closed.
    pub note: Option<String>,
    /// The command's kind.
    pub kind: Option<String>,
    /// Meter address.
    pub meter: Option<String>,
    /// Customer name.
    pub customer: Option<String>,
}

const JOB_SELECT: &str = "SELECT j.id, j.command_id, j.reason, j.at, j.status, j.closed_by,
            j.closed_at, j.note, k.kind, m.address, c.name
     FROM jobs j LEFT JOIN commands k ON k.id = j.command_id
                 LEFT JOIN meters m ON m.id = k.meter_id
                 LEFT JOIN customers c ON c.id = m.customer_id";

fn job_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRow> {
    let status: String = r.get(4)?;
    Ok(JobRow {
        id: r.get(0)?,
        command_id: r.get(1)?,
        reason: r.get(2)?,
        at: r.get(3)?,
        time: time_json(r.get(3)?),
        done: status != "open",
        status,
        closed_by: r.get(5)?,
        closed_at: r.get(6)?,
        note: r.get(7)?,
        kind: r.get(8)?,
        meter: r.get(9)?,
        customer: r.get(10)?,
    })
}

/// Manual jobs, oldest first; `status` (`open`, `done`, `cancelled`) filters.
///
/// # Errors
/// SQLite's.
pub fn list_jobs(
    c: &Connection,
    status: Option<&str>,
    page: Page,
) -> rusqlite::Result<Vec<JobRow>> {
    let sql = format!(
        "{JOB_SELECT} WHERE (?1 IS NULL OR j.status = ?1) AND j.id > ?2 ORDER BY j.id LIMIT ?3"
    );
    let mut st = c.prepare_cached(&sql)?;
    st.query_map(params![status, page.after, page.limit], job_row)?
        .collect()
}

/// What closing a job found.
#[derive(Debug, Clone)]
pub enum CloseJob {
    /// Closed now: the job as it is now.
    Closed(Box<JobRow>),
    /// No such job.
    Missing,
    /// Closed before: the job as it is.
    AlreadyClosed(Box<JobRow>),
}

/// Closes open job `id` with `status` (`done` / `cancelled`), by `closed_by`, at `at`.
///
/// # Errors
/// SQLite's.
pub fn close_job(
    c: &Connection,
    id: i64,
    status: &str,
    closed_by: &str,
    note: Option<&str>,
    at: i64,
) -> rusqlite::Result<CloseJob> {
    let n = c
        .prepare_cached(
            "UPDATE jobs SET status = ?2, closed_by = ?3, note = ?4, closed_at = ?5, done = 1
             WHERE id = ?1 AND status = 'open'",
        )?
        .execute(params![id, status, closed_by, note, at])?;
    let sql = format!("{JOB_SELECT} WHERE j.id = ?1");
    let row = c
        .prepare_cached(&sql)?
        .query_row(params![id], job_row)
        .optional()?;
    Ok(match (row, n) {
        (None, _) => CloseJob::Missing,
        (Some(r), 0) => CloseJob::AlreadyClosed(Box::new(r)),
        (Some(r), _) => CloseJob::Closed(Box::new(r)),
    })
}

/// A notification of the outbox.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// Simulated seconds.
    pub at: i64,
    /// Civil time.
    pub time: Value,
    /// Customer name.
    pub customer: String,
    /// Customer row id.
    pub customer_id: i64,
    /// `sms` / `log`.
    pub channel: String,
    /// Phone number.
    pub recipient: Option<String>,
    /// `low_credit`, …
    pub kind: Option<String>,
    /// The text.
    pub message: String,
    /// Handed to the SMS service.
    pub sent: bool,
}

/// The outbox (a page, oldest first), optionally of one customer.
///
/// # Errors
/// SQLite's.
pub fn list_outbox(
    c: &Connection,
    customer: Option<i64>,
    page: Page,
) -> rusqlite::Result<Vec<OutboxRow>> {
    let mut st = c.prepare_cached(
        "SELECT o.id, o.at, c.name, o.channel, o.recipient, o.kind, o.message, o.sent, c.id
           FROM outbox o JOIN customers c ON c.id = o.customer_id
           WHERE o.id > ?1 AND (?2 IS NULL OR c.id = ?2) ORDER BY o.id LIMIT ?3",
    )?;
    st.query_map(params![page.after, customer, page.limit], |r| {
        Ok(OutboxRow {
            id: r.get(0)?,
            at: r.get(1)?,
            time: time_json(r.get(1)?),
            customer: r.get(2)?,
            customer_id: r.get(8)?,
            channel: r.get(3)?,
            recipient: r.get(4)?,
            kind: r.get(5)?,
            message: r.get(6)?,
            sent: r.get::<_, i64>(7)? != 0,
        })
    })?
    .collect()
}

/// A payment.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentView {
    /// Row id.
    pub id: i64,
    /// The idempotency key.
    pub order_no: String,
    /// Customer name.
    pub customer: String,
    /// Customer row id.
    pub customer_id: i64,
    /// Amount.
    pub amount: String,
    /// `api`, `wechat`, …
    pub channel: String,
    /// Simulated seconds.
    pub at: i64,
    /// Civil time.
    pub time: Value,
    /// The customer's purchase count it took (applied payments only).
    pub seq: Option<i64>,
    /// `applied` / `refused`.
    pub status: String,
    /// Why it was refused.
    pub reason: Option<String>,
}

/// Payments, optionally of one customer.
///
/// # Errors
/// SQLite's.
pub fn list_payments(
    c: &Connection,
    customer: Option<i64>,
    page: Page,
) -> rusqlite::Result<Vec<PaymentView>> {
    let mut st = c.prepare_cached(
        "SELECT p.id, p.order_no, c.name, p.amount, p.channel, p.at, p.seq, c.id, p.status,
                p.reason
         FROM payments p JOIN customers c ON c.id = p.customer_id
         WHERE p.id > ?2 AND (?1 IS NULL OR c.id = ?1) ORDER BY p.id LIMIT ?3",
    )?;
    st.query_map(params![customer, page.after, page.limit], |r| {
        Ok(PaymentView {
            id: r.get(0)?,
            order_no: r.get(1)?,
            customer: r.get(2)?,
            customer_id: r.get(7)?,
            amount: Money::from_raw(r.get(3)?).to_string(),
            channel: r.get(4)?,
            at: r.get(5)?,
            time: time_json(r.get(5)?),
            seq: r.get(6)?,
            status: r.get(8)?,
            reason: r.get(9)?,
        })
    })?
    .collect()
}

/// A vended token.
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    /// Row id.
    pub id: i64,
    /// The idempotency key.
    pub order_no: String,
    /// Meter address.
    pub meter: String,
    /// Customer name.
    pub customer: String,
    /// The 20 digits.
    pub token: String,
    /// Tenths of a kWh carried.
    pub kwh_tenths: i64,
    /// Token identifier.
    pub tid: i64,
    /// Money paid.
    pub amount: Option<String>,
    /// Money the token credits (currency tokens).
    pub credit: Option<String>,
    /// Civil time.
    pub time: Value,
    /// The operator who sold it.
    pub sold_by: Option<String>,
}

/// Every vended token.
///
/// # Errors
/// SQLite's.
pub fn list_tokens(c: &Connection, page: Page) -> rusqlite::Result<Vec<TokenView>> {
    let mut st = c.prepare_cached(
        "SELECT t.id, t.order_no, m.address, c.name, t.token, t.energy, t.tid, t.amount, t.at,
                t.sold_by, t.credit
         FROM tokens t JOIN meters m ON m.id = t.meter_id
                       JOIN customers c ON c.id = m.customer_id
         WHERE t.id > ?1 ORDER BY t.id LIMIT ?2",
    )?;
    st.query_map(params![page.after, page.limit], |r| {
        Ok(TokenView {
            id: r.get(0)?,
            order_no: r.get(1)?,
            meter: r.get(2)?,
            customer: r.get(3)?,
            token: r.get(4)?,
            kwh_tenths: r.get(5)?,
            tid: r.get(6)?,
            amount: r
                .get::<_, Option<i64>>(7)?
                .map(|a| Money::from_raw(a).to_string()),
            time: time_json(r.get(8)?),
            sold_by: r.get(9)?,
            credit: r
                .get::<_, Option<i64>>(10)?
                .map(|a| Money::from_raw(a).to_string()),
        })
    })?
    .collect()
}

/// A register reading.
#[derive(Debug, Clone, Serialize)]
pub struct ReadingView {
    /// Row id.
    pub id: i64,
    /// Meter address.
    pub meter: String,
    /// Simulated seconds.
    pub at: i64,
    /// Civil time.
    pub time: Value,
    /// The register, kWh.
    pub energy_kwh: String,
    /// `afn0c` / `afn10`.
    pub via: String,
}

/// Readings (a page, oldest first), optionally of one meter.
///
/// # Errors
/// SQLite's.
pub fn list_readings(
    c: &Connection,
    meter: Option<&str>,
    page: Page,
) -> rusqlite::Result<Vec<ReadingView>> {
    let mut st = c.prepare_cached(
        "SELECT r.id, m.address, r.at, r.energy, r.via
           FROM readings r JOIN meters m ON m.id = r.meter_id
           WHERE r.id > ?1 AND (?2 IS NULL OR m.address = ?2) ORDER BY r.id LIMIT ?3",
    )?;
    st.query_map(params![page.after, meter, page.limit], |r| {
        Ok(ReadingView {
            id: r.get(0)?,
            meter: r.get(1)?,
            at: r.get(2)?,
            time: time_json(r.get(2)?),
            energy_kwh: Energy::from_wh(r.get(3)?).to_string(),
            via: r.get(4)?,
        })
    })?
    .collect()
}

/// A payment as first recorded under an order number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPayment {
    /// Customer row id.
    pub customer: i64,
    /// Amount, 1e-4 units.
    pub amount: i64,
    /// Purchase count (applied payments).
    pub seq: Option<i64>,
    /// `applied` / `refused`.
    pub status: String,
    /// Why it was refused.
    pub reason: Option<String>,
}

/// The payment recorded under `order_no`, if any.
///
/// # Errors
/// SQLite's.
pub fn find_payment(c: &Connection, order_no: &str) -> rusqlite::Result<Option<StoredPayment>> {
    c.prepare_cached(
        "SELECT customer_id, amount, seq, status, reason FROM payments WHERE order_no = ?1",
    )?
    .query_row(params![order_no], |r| {
        Ok(StoredPayment {
            customer: r.get(0)?,
            amount: r.get(1)?,
            seq: r.get(2)?,
            status: r.get(3)?,
            reason: r.get(4)?,
        })
    })
    .optional()
}

/// A token as recorded under its order number (answered for a repeated order).
#[derive(Debug, Clone, Serialize)]
pub struct StoredToken {
    /// The 20 digits.
    pub token: String,
    /// Meter address.
    pub meter: String,
    /// Tenths of a kWh.
    pub kwh_tenths: i64,
    /// Token identifier.
    pub tid: i64,
    /// Money paid.
    pub amount: Option<String>,
    /// Money the token credits (currency tokens).
    pub credit: Option<String>,
    /// Civil time.
    pub at: Value,
    /// The operator who sold it.
    pub sold_by: Option<String>,
}

/// The token vended under `order_no`, if any.
///
/// # Errors
/// SQLite's.
pub fn find_token(c: &Connection, order_no: &str) -> rusqlite::Result<Option<StoredToken>> {
    c.prepare_cached(
        "SELECT t.token, m.address, t.energy, t.tid, t.amount, t.at, t.sold_by, t.credit
         FROM tokens t
         JOIN meters m ON m.id = t.meter_id WHERE t.order_no = ?1",
    )?
    .query_row(params![order_no], |r| {
        Ok(StoredToken {
            token: r.get(0)?,
            meter: r.get(1)?,
            kwh_tenths: r.get(2)?,
            tid: r.get(3)?,
            amount: r
                .get::<_, Option<i64>>(4)?
                .map(|a| Money::from_raw(a).to_string()),
            at: time_json(r.get(5)?),
            sold_by: r.get(6)?,
            credit: r
                .get::<_, Option<i64>>(7)?
                .map(|a| Money::from_raw(a).to_string()),
        })
    })
    .optional()
}

/// Which reading exceptions to list.
#[derive(Debug, Clone, Default)]
pub struct ExceptionFilter {
    /// One meter's (address).
    pub meter: Option<String>,
    /// `open` / `resolved`.
    pub status: Option<String>,
}

/// A reading refused as implausible.
#[derive(Debug, Clone, Serialize)]
pub struct ExceptionView {
    /// Row id.
    pub id: i64,
    /// Meter address.
    pub meter: String,
    /// Customer name.
    pub customer: String,
    /// The baseline it was compared with, kWh.
    pub previous_kwh: Option<String>,
    /// When the baseline was read (civil time).
    pub previous_time: Value,
    /// The refused reading, kWh.
    pub current_kwh: String,
    /// First seen (simulated seconds).
    pub at: i64,
    /// First seen (civil time).
    pub time: Value,
    /// Last seen (civil time).
    pub last_time: Value,
    /// How many reads returned it.
    pub count: i64,
    /// `backwards`, `jump`, `out_of_range`.
    pub reason: String,
    /// `open` / `resolved`.
    pub status: String,
    /// How it was resolved.
    pub resolution: Option<String>,
}

/// Reading exceptions, filtered and paged (a page, oldest first).
///
/// # Errors
/// SQLite's.
pub fn list_exceptions(
    c: &Connection,
    filter: &ExceptionFilter,
    page: Page,
) -> rusqlite::Result<Vec<ExceptionView>> {
    let mut st = c.prepare_cached(
        "SELECT x.id, m.address, c.name, x.previous, x.previous_at, x.current, x.at,
                  x.last_at, x.count, x.reason, x.status, x.resolution
           FROM reading_exceptions x JOIN meters m ON m.id = x.meter_id
                                     JOIN customers c ON c.id = m.customer_id
           WHERE x.id > ?1 AND (?2 IS NULL OR m.address = ?2) AND (?3 IS NULL OR x.status = ?3)
           ORDER BY x.id LIMIT ?4",
    )?;
    st.query_map(
        params![page.after, filter.meter, filter.status, page.limit],
        |r| {
            Ok(ExceptionView {
                id: r.get(0)?,
                meter: r.get(1)?,
                customer: r.get(2)?,
                previous_kwh: r
                    .get::<_, Option<i64>>(3)?
                    .map(|wh| Energy::from_wh(wh).to_string()),
                previous_time: time_json(r.get(4)?),
                current_kwh: Energy::from_wh(r.get(5)?).to_string(),
                at: r.get(6)?,
                time: time_json(r.get(6)?),
                last_time: time_json(r.get(7)?),
                count: r.get(8)?,
                reason: r.get(9)?,
                status: r.get(10)?,
                resolution: r.get(11)?,
            })
        },
    )?
    .collect()
}

/// The latest simulated time the database has seen (readings, events), if any.
///
/// # Errors
/// SQLite's.
pub fn latest_activity(c: &Connection) -> rusqlite::Result<Option<SimSeconds>> {
    c.query_row(
        "SELECT MAX(t) FROM (SELECT MAX(at) AS t FROM readings UNION ALL SELECT MAX(at) FROM events)",
        [],
        |r| r.get(0),
    )
}

/// An operator made over the API, as stored (active ones only are loaded).
#[derive(Debug, Clone)]
pub struct OperatorRow {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Role name.
    pub role: String,
    /// The key's salted hash (`hmac-sha256:…`).
    pub key_hash: String,
}

/// The operators made over the API and not revoked.
///
/// # Errors
/// SQLite's.
pub fn load_operators(c: &Connection) -> rusqlite::Result<Vec<OperatorRow>> {
    let mut st = c.prepare_cached(
        "SELECT id, name, role, key_hash FROM operators WHERE revoked_at IS NULL ORDER BY id",
    )?;
    st.query_map([], |r| {
        Ok(OperatorRow {
            id: r.get(0)?,
            name: r.get(1)?,
            role: r.get(2)?,
            key_hash: r.get(3)?,
        })
    })?
    .collect()
}

/// Stores a new operator and its audit row (one transaction); answers the row id, or `None`
/// when the name was ever used (names of revoked operators are not reused).
///
/// # Errors
/// SQLite's.
pub fn insert_operator(
    c: &Connection,
    row: &OperatorRow,
    at: SimSeconds,
    by: &str,
    audit: &super::Write,
) -> rusqlite::Result<Option<i64>> {
    let n = c
        .prepare_cached(
            "INSERT INTO operators (name, role, key_hash, created_at, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING",
        )?
        .execute(params![row.name, row.role, row.key_hash, at, by])?;
    if n == 0 {
        return Ok(None);
    }
    let id = c.last_insert_rowid();
    audit.apply(c)?;
    Ok(Some(id))
}

/// Revokes an operator made over the API, with its audit row; false when there was no such
/// active operator.
///
/// # Errors
/// SQLite's.
pub fn revoke_operator(
    c: &Connection,
    id: i64,
    at: SimSeconds,
    audit: &super::Write,
) -> rusqlite::Result<bool> {
    let n = c
        .prepare_cached(
            "UPDATE operators SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        )?
        .execute(params![id, at])?;
    audit.apply(c)?;
    Ok(n == 1)
}

/// A row of the audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct AuditView {
    /// Row id (the `after` cursor).
    pub id: i64,
    /// Simulated seconds.
    pub at: i64,
    /// Civil time (simulated).
    pub time: Value,
    /// Real time, Unix seconds.
    pub wall: i64,
    /// Who (none: not authenticated).
    pub operator: Option<String>,
    /// Their role.
    pub role: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Status answered.
    pub status: i64,
    /// What it did.
    pub summary: String,
}

/// The audit trail, oldest first from `page.after`.
///
/// # Errors
/// SQLite's.
pub fn list_audit(c: &Connection, page: Page) -> rusqlite::Result<Vec<AuditView>> {
    let mut st = c.prepare_cached(
        "SELECT id, at, wall, operator, role, method, path, status, summary FROM audit
         WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    st.query_map(params![page.after, page.limit], |r| {
        Ok(AuditView {
            id: r.get(0)?,
            at: r.get(1)?,
            time: time_json(r.get(1)?),
            wall: r.get(2)?,
            operator: r.get(3)?,
            role: r.get(4)?,
            method: r.get(5)?,
            path: r.get(6)?,
            status: r.get(7)?,
            summary: r.get(8)?,
        })
    })?
    .collect()
}
