//! The operator HTTP API (axum, JSON, loopback). The table of endpoints is in the
//! [module docs of `master`](super).
//!
//! Payments are idempotent by order number: the DB thread inserts the payment (unique
//! `order_no`, next purchase count of the customer) and, once committed, forwards it to the
//! core, which applies it to the engine with that purchase count (so the engine refuses it a
//! second time too). A second request with the same order number answers `"duplicate"` with
//! the first payment; the same order number for a different customer or amount is a 409.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use amikit_tariff::Money;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use super::core::CoreMsg;
use super::store::{After, time_json};
use super::{CustInfo, Shared};
use crate::site::FeeControl;

/// An API error: an HTTP status and a message (`{"error": …}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// An error.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(json!({"error": self.message}))).into_response()
    }
}

type Res = Result<axum::Json<Value>, ApiError>;
type St = State<Arc<Shared>>;
type Q = Query<HashMap<String, String>>;

/// Serves the API until `stop`.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    let app = Router::new()
        .route("/api/payments", post(payment).get(payments))
        .route("/api/tokens", post(token).get(tokens))
        .route("/api/guard", post(guard))
        .route("/api/customers", get(customers))
        .route("/api/commands", get(commands))
        .route("/api/jobs", get(jobs))
        .route("/api/events", get(events))
        .route("/api/outbox", get(outbox))
        .route("/api/readings", get(readings))
        .route("/api/terminals", get(terminals))
        .route("/api/stats", get(stats))
        .route("/api/stats/reset", post(stats_reset))
        .with_state(shared);
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("master: http: {e}");
    }
}

fn body_json(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::new(400, format!("body: {e}")))
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.get(name).filter(|x| !x.is_null())
}

fn customer_of<'s>(shared: &'s Shared, v: &Value) -> Result<&'s CustInfo, ApiError> {
    let i = match v {
        Value::Number(n) => n
            .as_i64()
            .and_then(|id| shared.customer_by_id.get(&id).copied()),
        Value::String(s) => shared.customer_by_name.get(s).copied().or_else(|| {
            s.parse::<i64>()
                .ok()
                .and_then(|id| shared.customer_by_id.get(&id).copied())
        }),
        _ => None,
    };
    i.and_then(|i| shared.customers.get(i))
        .ok_or_else(|| ApiError::new(404, format!("no customer {v}")))
}

fn amount_of(v: Option<&Value>) -> Result<Money, ApiError> {
    let m = match v {
        Some(Value::String(s)) => {
            Money::parse(s.trim()).map_err(|e| ApiError::new(400, format!("amount {s:?}: {e}")))?
        }
        Some(Value::Number(n)) if n.is_i64() => n
            .as_i64()
            .and_then(|u| Money::from_units(u).ok())
            .ok_or_else(|| ApiError::new(400, "amount out of range"))?,
        Some(Value::Number(_)) => {
            return Err(ApiError::new(
                400,
                "amount: write decimals as a string (\"12.50\"); money is exact",
            ));
        }
        _ => return Err(ApiError::new(400, "amount is required")),
    };
    if !m.is_positive() {
        return Err(ApiError::new(400, "amount must be positive"));
    }
    Ok(m)
}

fn text_of(v: &Value, name: &str) -> Result<String, ApiError> {
    match field(v, name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(ApiError::new(400, format!("{name} is required"))),
    }
}

async fn ask<T>(shared: &Shared, msg: CoreMsg, rx: oneshot::Receiver<T>) -> Result<T, ApiError> {
    shared
        .core
        .send(msg)
        .await
        .map_err(|_| ApiError::new(503, "master is stopping"))?;
    rx.await
        .map_err(|_| ApiError::new(503, "master is stopping"))
}

enum PayOutcome {
    New(i64),
    Duplicate {
        customer: i64,
        amount: i64,
        seq: Option<i64>,
    },
}

async fn payment(State(shared): St, body: Bytes) -> Res {
    let v = body_json(&body)?;
    let cust = customer_of(
        &shared,
        field(&v, "customer").ok_or_else(|| ApiError::new(400, "customer is required"))?,
    )?;
    let amount = amount_of(field(&v, "amount"))?;
    let order_no = text_of(&v, "order_no")?;
    let channel = match field(&v, "channel") {
        Some(Value::String(s)) => s.clone(),
        _ => "api".to_string(),
    };
    if cust.fee == FeeControl::Local {
        return Err(ApiError::new(
            409,
            "this customer's meter keeps its own balance: vend a token (POST /api/tokens)",
        ));
    }
    let (customer, name) = (cust.id, cust.name.clone());
    let at = shared.clock.now();
    let (reply, rx) = oneshot::channel::<Result<PayOutcome, String>>();
    let core = shared.core.clone();
    let raw = amount.raw();
    let order = order_no.clone();
    shared.store.exec_then(move |c| {
        let existing: Option<(i64, i64, Option<i64>)> = c
            .query_row(
                "SELECT customer_id, amount, seq FROM payments WHERE order_no = ?1",
                params![order],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let outcome = match existing {
            Some((customer, amount, seq)) => PayOutcome::Duplicate {
                customer,
                amount,
                seq,
            },
            None => {
                let seq: i64 = c.query_row(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM payments WHERE customer_id = ?1",
                    params![customer],
                    |r| r.get(0),
                )?;
                c.execute(
                    "INSERT INTO payments (order_no, customer_id, amount, channel, at, seq)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![order, customer, raw, channel, at, seq],
                )?;
                PayOutcome::New(seq)
            }
        };
        let after: After = Box::new(move || {
            if let PayOutcome::New(seq) = outcome {
                let _ = core.blocking_send(CoreMsg::PaymentCommitted {
                    customer,
                    seq: u32::try_from(seq).unwrap_or(u32::MAX),
                    amount: Money::from_raw(raw),
                    order_no: order,
                });
            }
            let _ = reply.send(Ok(outcome));
        });
        Ok(Some(after))
    });
    let outcome = rx
        .await
        .map_err(|_| ApiError::new(503, "database closed"))?
        .map_err(|e| ApiError::new(500, e))?;
    let (status, seq) = match outcome {
        PayOutcome::New(seq) => ("applied", seq),
        PayOutcome::Duplicate {
            customer: c,
            amount: a,
            seq,
        } => {
            if c != customer || a != raw {
                return Err(ApiError::new(
                    409,
                    format!("order number {order_no} was used for a different payment"),
                ));
            }
            ("duplicate", seq.unwrap_or(0))
        }
    };
    let (reply, rx) = oneshot::channel();
    let view = ask(&shared, CoreMsg::Customer { customer, reply }, rx).await?;
    let view = view.unwrap_or(Value::Null);
    Ok(axum::Json(json!({
        "status": status,
        "order_no": order_no,
        "customer": name,
        "customer_id": customer,
        "amount": amount.to_string(),
        "seq": seq,
        "balance": view.get("balance"),
        "net": view.get("net"),
        "credit": view.get("credit"),
        "relay": view.get("relay"),
    })))
}

async fn token(State(shared): St, body: Bytes) -> Res {
    let v = body_json(&body)?;
    let amount = amount_of(field(&v, "amount"))?;
    let order_no = text_of(&v, "order_no")?;
    let meter = match field(&v, "meter") {
        Some(Value::String(a)) => *shared
            .meter_by_address
            .get(a.trim())
            .ok_or_else(|| ApiError::new(404, format!("no meter {a}")))?,
        Some(other) => {
            return Err(ApiError::new(
                400,
                format!("meter {other}: expected an address"),
            ));
        }
        None => {
            let cust = customer_of(
                &shared,
                field(&v, "customer")
                    .ok_or_else(|| ApiError::new(400, "customer or meter is required"))?,
            )?;
            let local = cust.meters.iter().copied().find(|&m| {
                shared
                    .meters
                    .get(m)
                    .is_some_and(|x| x.fee == FeeControl::Local)
            });
            local
                .or_else(|| cust.meters.first().copied())
                .ok_or_else(|| ApiError::new(404, "customer has no meter"))?
        }
    };
    let order = order_no.clone();
    let existing = shared
        .store
        .query(move |c| {
            c.query_row(
                "SELECT t.token, m.address, t.energy, t.tid, t.amount, t.at FROM tokens t
                 JOIN meters m ON m.id = t.meter_id WHERE t.order_no = ?1",
                params![order],
                |r| {
                    Ok(json!({
                        "status": "duplicate",
                        "token": r.get::<_, String>(0)?,
                        "meter": r.get::<_, String>(1)?,
                        "kwh_tenths": r.get::<_, i64>(2)?,
                        "tid": r.get::<_, i64>(3)?,
                        "amount": r.get::<_, Option<i64>>(4)?.map(|a| Money::from_raw(a).to_string()),
                        "at": time_json(r.get(5)?),
                    }))
                },
            )
            .optional()
        })
        .await
        .map_err(|e| ApiError::new(500, e))?;
    if let Some(mut t) = existing {
        if let Some(o) = t.as_object_mut() {
            o.insert("order_no".into(), json!(order_no));
        }
        return Ok(axum::Json(t));
    }
    let (reply, rx) = oneshot::channel();
    let r = ask(
        &shared,
        CoreMsg::Vend {
            meter,
            amount,
            order_no,
            reply,
        },
        rx,
    )
    .await?;
    r.map(axum::Json)
}

async fn guard(State(shared): St, body: Bytes) -> Res {
    let v = body_json(&body)?;
    let cust = customer_of(
        &shared,
        field(&v, "customer").ok_or_else(|| ApiError::new(400, "customer is required"))?,
    )?;
    let on = field(&v, "on")
        .and_then(Value::as_bool)
        .ok_or_else(|| ApiError::new(400, "on (true or false) is required"))?;
    let (reply, rx) = oneshot::channel();
    let r = ask(
        &shared,
        CoreMsg::Guard {
            customer: cust.id,
            on,
            reply,
        },
        rx,
    )
    .await?;
    r.map(axum::Json)
}

async fn customers(State(shared): St) -> Res {
    let (reply, rx) = oneshot::channel();
    Ok(axum::Json(
        ask(&shared, CoreMsg::Customers { reply }, rx).await?,
    ))
}

fn limit(q: &HashMap<String, String>) -> i64 {
    q.get("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .unwrap_or(1000)
        .clamp(1, 100_000)
}

fn customer_filter(shared: &Shared, q: &HashMap<String, String>) -> Result<Option<i64>, ApiError> {
    match q.get("customer") {
        Some(c) => Ok(Some(customer_of(shared, &Value::String(c.clone()))?.id)),
        None => Ok(None),
    }
}

fn detail_json(s: Option<String>) -> Value {
    match s {
        Some(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        None => Value::Null,
    }
}

/// Runs `sql` with `params` on the DB thread and answers one JSON object per row.
async fn list<P>(
    shared: &Shared,
    sql: &'static str,
    params: P,
    row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<Value>,
) -> Res
where
    P: rusqlite::Params + Send + 'static,
{
    let rows = shared
        .store
        .query(move |c| {
            let mut st = c.prepare_cached(sql)?;
            st.query_map(params, row)?.collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| ApiError::new(500, e))?;
    Ok(axum::Json(Value::Array(rows)))
}

async fn events(State(shared): St, Query(q): Q) -> Res {
    let customer = customer_filter(&shared, &q)?;
    let after = q
        .get("after")
        .and_then(|a| a.parse::<i64>().ok())
        .unwrap_or(0);
    let kind = q.get("kind").cloned();
    let limit = limit(&q);
    list(
        &shared,
        "SELECT * FROM (
               SELECT e.id, e.at, e.customer_id, c.name, t.a2, e.kind, e.detail
               FROM events e LEFT JOIN customers c ON c.id = e.customer_id
                             LEFT JOIN terminals t ON t.id = e.terminal_id
               WHERE e.id > ?1 AND (?2 IS NULL OR e.customer_id = ?2)
                 AND (?3 IS NULL OR e.kind = ?3)
               ORDER BY e.id DESC LIMIT ?4) ORDER BY id",
        (after, customer, kind, limit),
        |r| {
            Ok(json!({
                "id": r.get::<_, i64>(0)?,
                "at": r.get::<_, i64>(1)?,
                "time": time_json(r.get(1)?),
                "customer_id": r.get::<_, Option<i64>>(2)?,
                "customer": r.get::<_, Option<String>>(3)?,
                "terminal": r.get::<_, Option<i64>>(4)?,
                "kind": r.get::<_, String>(5)?,
                "detail": detail_json(r.get(6)?),
            }))
        },
    )
    .await
}

async fn commands(State(shared): St, Query(q): Q) -> Res {
    let customer = customer_filter(&shared, &q)?;
    let status = q.get("status").cloned();
    let limit = limit(&q);
    list(
        &shared,
        "SELECT * FROM (
               SELECT k.id, m.address, c.name, k.kind, k.status, k.attempts, k.created_at,
                      k.updated_at, k.detail, k.reason, k.via, k.expires_at, c.id
               FROM commands k JOIN meters m ON m.id = k.meter_id
                               JOIN customers c ON c.id = m.customer_id
               WHERE (?1 IS NULL OR c.id = ?1) AND (?2 IS NULL OR k.status = ?2)
               ORDER BY k.id DESC LIMIT ?3) ORDER BY id",
        (customer, status, limit),
        |r| {
            Ok(json!({
                "id": r.get::<_, i64>(0)?,
                "meter": r.get::<_, String>(1)?,
                "customer": r.get::<_, String>(2)?,
                "customer_id": r.get::<_, i64>(12)?,
                "kind": r.get::<_, String>(3)?,
                "status": r.get::<_, String>(4)?,
                "attempts": r.get::<_, i64>(5)?,
                "created_at": r.get::<_, i64>(6)?,
                "created": time_json(r.get(6)?),
                "updated_at": r.get::<_, i64>(7)?,
                "updated": time_json(r.get(7)?),
                "detail": r.get::<_, Option<String>>(8)?,
                "reason": detail_json(r.get(9)?),
                "via": r.get::<_, Option<String>>(10)?,
                "expires": time_json(r.get(11)?),
            }))
        },
    )
    .await
}

async fn jobs(State(shared): St) -> Res {
    list(
        &shared,
        "SELECT j.id, j.command_id, j.reason, j.at, j.done, k.kind, m.address, c.name
             FROM jobs j LEFT JOIN commands k ON k.id = j.command_id
                         LEFT JOIN meters m ON m.id = k.meter_id
                         LEFT JOIN customers c ON c.id = m.customer_id
             ORDER BY j.id",
        (),
        |r| {
            Ok(json!({
                "id": r.get::<_, i64>(0)?,
                "command_id": r.get::<_, i64>(1)?,
                "reason": r.get::<_, String>(2)?,
                "at": r.get::<_, i64>(3)?,
                "time": time_json(r.get(3)?),
                "done": r.get::<_, i64>(4)? != 0,
                "kind": r.get::<_, Option<String>>(5)?,
                "meter": r.get::<_, Option<String>>(6)?,
                "customer": r.get::<_, Option<String>>(7)?,
            }))
        },
    )
    .await
}

async fn outbox(State(shared): St, Query(q): Q) -> Res {
    let customer = customer_filter(&shared, &q)?;
    let limit = limit(&q);
    list(
        &shared,
        "SELECT * FROM (
               SELECT o.id, o.at, c.name, o.channel, o.recipient, o.kind, o.message, o.sent,
                      c.id
               FROM outbox o JOIN customers c ON c.id = o.customer_id
               WHERE (?1 IS NULL OR c.id = ?1) ORDER BY o.id DESC LIMIT ?2) ORDER BY id",
        (customer, limit),
        |r| {
            Ok(json!({
                "id": r.get::<_, i64>(0)?,
                "at": r.get::<_, i64>(1)?,
                "time": time_json(r.get(1)?),
                "customer": r.get::<_, String>(2)?,
                "customer_id": r.get::<_, i64>(8)?,
                "channel": r.get::<_, String>(3)?,
                "recipient": r.get::<_, Option<String>>(4)?,
                "kind": r.get::<_, Option<String>>(5)?,
                "message": r.get::<_, String>(6)?,
                "sent": r.get::<_, i64>(7)? != 0,
            }))
        },
    )
    .await
}

async fn payments(State(shared): St, Query(q): Q) -> Res {
    let customer = customer_filter(&shared, &q)?;
    list(
        &shared,
        "SELECT p.id, p.order_no, c.name, p.amount, p.channel, p.at, p.seq, c.id
             FROM payments p JOIN customers c ON c.id = p.customer_id
             WHERE (?1 IS NULL OR c.id = ?1) ORDER BY p.id",
        (customer,),
        |r| {
            Ok(json!({
                "id": r.get::<_, i64>(0)?,
                "order_no": r.get::<_, String>(1)?,
                "customer": r.get::<_, String>(2)?,
                "customer_id": r.get::<_, i64>(7)?,
                "amount": Money::from_raw(r.get(3)?).to_string(),
                "channel": r.get::<_, String>(4)?,
                "at": r.get::<_, i64>(5)?,
                "time": time_json(r.get(5)?),
                "seq": r.get::<_, Option<i64>>(6)?,
            }))
        },
    )
    .await
}

async fn tokens(State(shared): St) -> Res {
    list(
        &shared,
        "SELECT t.id, t.order_no, m.address, c.name, t.token, t.energy, t.tid, t.amount, t.at
             FROM tokens t JOIN meters m ON m.id = t.meter_id
                           JOIN customers c ON c.id = m.customer_id ORDER BY t.id",
        (),
        |r| {
            Ok(json!({
                "id": r.get::<_, i64>(0)?,
                "order_no": r.get::<_, String>(1)?,
                "meter": r.get::<_, String>(2)?,
                "customer": r.get::<_, String>(3)?,
                "token": r.get::<_, String>(4)?,
                "kwh_tenths": r.get::<_, i64>(5)?,
                "tid": r.get::<_, i64>(6)?,
                "amount": r.get::<_, Option<i64>>(7)?.map(|a| Money::from_raw(a).to_string()),
                "time": time_json(r.get(8)?),
            }))
        },
    )
    .await
}

async fn readings(State(shared): St, Query(q): Q) -> Res {
    let meter = q.get("meter").cloned();
    let limit = limit(&q);
    list(
        &shared,
        "SELECT * FROM (
               SELECT r.id, m.address, r.at, r.energy, r.via
               FROM readings r JOIN meters m ON m.id = r.meter_id
               WHERE (?1 IS NULL OR m.address = ?1) ORDER BY r.id DESC LIMIT ?2)
             ORDER BY id",
        (meter, limit),
        |r| {
            Ok(json!({
                "id": r.get::<_, i64>(0)?,
                "meter": r.get::<_, String>(1)?,
                "at": r.get::<_, i64>(2)?,
                "time": time_json(r.get(2)?),
                "energy_kwh": amikit_tariff::Energy::from_wh(r.get(3)?).to_string(),
                "via": r.get::<_, String>(4)?,
            }))
        },
    )
    .await
}

async fn terminals(State(shared): St) -> Res {
    let list: Vec<Value> = shared
        .terminals
        .iter()
        .map(|t| {
            let seen = t.last_seen.load(Ordering::Relaxed);
            json!({
                "id": t.id,
                "a1": format!("{:04X}", t.a1),
                "a2": t.a2,
                "online": t.online.load(Ordering::Relaxed),
                "last_seen": time_json((seen != i64::MIN).then_some(seen)),
                "meters": t.meters.iter().filter_map(|&m| shared.meters.get(m))
                    .map(|m| json!({"pn": m.pn, "address": m.address_text}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(axum::Json(Value::Array(list)))
}

async fn stats(State(shared): St) -> Res {
    let mut v = shared.stats.to_json();
    let online = shared
        .terminals
        .iter()
        .filter(|t| t.online.load(Ordering::Relaxed))
        .count();
    if let Some(o) = v.as_object_mut() {
        o.insert("terminals".into(), json!(shared.terminals.len()));
        o.insert("online".into(), json!(online));
        o.insert("sim_time".into(), time_json(Some(shared.clock.now())));
        o.insert("rss_bytes".into(), json!(rss_bytes()));
    }
    Ok(axum::Json(v))
}

async fn stats_reset(State(shared): St) -> Res {
    shared.stats.reset();
    Ok(axum::Json(json!({"reset": true})))
}

/// Resident set size of this process (Linux `/proc/self/statm`), if known.
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
