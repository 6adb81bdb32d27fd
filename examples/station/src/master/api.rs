//! The operator HTTP API (axum, JSON, loopback). The table of endpoints is in the
//! [module docs of `master`](super).
//!
//! Payments are idempotent by order number: the API looks the order number up (a known
//! one answers `"duplicate"` with its first outcome, or 409 for another customer or amount),
//! checks the amount against the site's payment rules (422) and hands the payment to the
//! core, whose engine decides; the answer comes once the payment row and the customer's new
//! state are committed (see "Payments" in the [module docs of `master`](super)).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use amikit_tariff::{Energy, Money};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use super::AmountRules;
use super::api_gate::{self, AuditNote, Audited};
use super::auth::{self, Principal, Role};
pub use super::error::ApiError;
use super::error::MasterResult;
use super::msg::{AuditStamp, CoreMsg};
use super::msg::{PaymentAnswer, PaymentOutcome};
use super::store::{CommandFilter, EventFilter, ExceptionFilter, Page};
use super::views::{
    ErrorBody, ListPage, NewOperator, OperatorView, PaymentRefused, PaymentView, Revoked, SimTime,
    StatsReset, StatsView, TerminalMeter, TerminalView, to_json,
};
use super::{CustInfo, Shared};
use crate::site::FeeControl;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(ErrorBody::new(&self.message))).into_response()
    }
}

type Res = Result<axum::Json<Value>, ApiError>;
type St = State<Arc<Shared>>;
type Q = Query<HashMap<String, String>>;

/// Serves the API until `stop`.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    limits: super::api_serve::HttpLimits,
    stop: watch::Receiver<bool>,
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
        .route("/api/exceptions", get(exceptions))
        .route("/api/meters/{address}/replace", post(replace_meter))
        .route("/api/stats", get(stats))
        .route("/api/stats/reset", post(stats_reset))
        .merge(super::jobs_api::routes())
        .route("/api/audit", get(audit))
        .route("/api/operators", get(operators).post(create_operator))
        .route("/api/operators/{name}/revoke", post(revoke_operator))
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            api_gate::gate,
        ))
        .with_state(shared);
    super::api_serve::serve(app, listener, limits, stop).await;
}

fn body_json(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::new(400, format!("body: {e}")))
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.get(name).filter(|x| !x.is_null())
}

fn customer_of<'s>(shared: &'s Shared, v: &Value) -> Result<&'s CustInfo, ApiError> {
    if let Value::String(s) = v {
        bounded("customer", s)?;
    }
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

/// The amount of a payment or token: a decimal string (or an integer), positive, with no more
/// decimals than the currency's minor unit and at most the site's maximum. Malformed: 400;
/// out of bounds: 422.
fn amount_of(v: Option<&Value>, rules: &AmountRules) -> Result<Money, ApiError> {
    let refused = |why: String| ApiError::new(422, why);
    let m = match v {
        Some(Value::String(s)) => {
            Money::parse(s.trim()).map_err(|e| ApiError::new(400, format!("amount {s:?}: {e}")))?
        }
        Some(Value::Number(n)) if n.is_i64() => n
            .as_i64()
            .and_then(|u| Money::from_units(u).ok())
            .ok_or_else(|| refused("amount out of range".into()))?,
        Some(Value::Number(_)) => {
            return Err(ApiError::new(
                400,
                "amount: write decimals as a string (\"12.50\"); money is exact",
            ));
        }
        _ => return Err(ApiError::new(400, "amount is required")),
    };
    if !m.is_positive() {
        return Err(refused(format!("amount {m} must be positive")));
    }
    if m.raw() % rules.minor_step != 0 {
        return Err(refused(format!(
            "amount {m} has more decimals than the currency's minor unit ({})",
            rules.minor_digits
        )));
    }
    if m > rules.max {
        return Err(refused(format!(
            "amount {m} is above the maximum of one payment ({})",
            rules.max
        )));
    }
    Ok(m)
}

/// The longest text field (names, order numbers, channels, query values), characters.
pub const MAX_FIELD: usize = 64;

/// Refuses (422) a text longer than [`MAX_FIELD`] or with control characters.
fn bounded<'t>(name: &str, s: &'t str) -> Result<&'t str, ApiError> {
    if s.chars().count() > MAX_FIELD {
        return Err(ApiError::new(
            422,
            format!("{name} is longer than {MAX_FIELD} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(ApiError::new(422, format!("{name} has control characters")));
    }
    Ok(s)
}

fn text_of(v: &Value, name: &str) -> Result<String, ApiError> {
    match field(v, name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(bounded(name, s.trim())?.to_string()),
        Some(Value::Number(n)) => Ok(bounded(name, &n.to_string())?.to_string()),
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

/// The decision part of a payment's answer (status, outcome, seq, reason), and its HTTP
/// status; the rest of the [`PaymentView`] is filled in by the caller.
fn payment_status(outcome: &PaymentOutcome, duplicate: bool) -> (StatusCode, PaymentView) {
    let (name, status, seq, reason) = match outcome {
        PaymentOutcome::Applied { seq } => ("applied", StatusCode::OK, Some(*seq), None),
        PaymentOutcome::Refused { reason } => {
            ("refused", StatusCode::CONFLICT, None, Some(reason.clone()))
        }
    };
    let (status_name, outcome) = if duplicate {
        ("duplicate", Some(name))
    } else {
        (name, None)
    };
    let view = PaymentView {
        status: status_name,
        outcome,
        seq,
        reason,
        order_no: String::new(),
        customer: String::new(),
        customer_id: 0,
        amount: String::new(),
        balance: None,
        net: None,
        credit: None,
        relay: None,
    };
    (status, view)
}

/// The audit stamp of a request (its row is written with the change it makes).
fn stamp(who: &Principal, method: &Method, uri: &Uri) -> AuditStamp {
    AuditStamp {
        operator: Some(who.name.clone()),
        role: Some(who.role.name()),
        method: method.as_str().to_string(),
        path: uri.path().chars().take(200).collect(),
        wall: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
    }
}

/// Adds the audit summary to an answer (or marks it audited already).
fn noted(mut r: Response, note: Option<String>) -> Response {
    match note {
        Some(n) => r.extensions_mut().insert(AuditNote(n)),
        None => r
            .extensions_mut()
            .insert(Audited)
            .map(|_| AuditNote(String::new())),
    };
    r
}

async fn payment(
    State(shared): St,
    Extension(who): Extension<Principal>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v = body_json(&body)?;
    let cust = customer_of(
        &shared,
        field(&v, "customer").ok_or_else(|| ApiError::new(400, "customer is required"))?,
    )?;
    let order_no = text_of(&v, "order_no")?;
    let amount = match amount_of(field(&v, "amount"), &shared.amounts) {
        Ok(a) => a,
        Err(e) if e.status == 422 => {
            let note = format!("payment {order_no} refused: {}", e.message);
            let r = (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(PaymentRefused {
                    status: "refused",
                    reason: &e.message,
                    error: &e.message,
                    order_no: &order_no,
                }),
            );
            return Ok(noted(r.into_response(), Some(note)));
        }
        Err(e) => return Err(e),
    };
    let channel = match field(&v, "channel") {
        Some(Value::String(s)) => bounded("channel", s)?.to_string(),
        _ => "api".to_string(),
    };
    if cust.fee == FeeControl::Local {
        return Err(ApiError::new(
            409,
            "this customer's meter keeps its own balance: vend a token (POST /api/tokens)",
        ));
    }
    let (customer, name) = (cust.id, cust.name.clone());
    let raw = amount.raw();
    let answer = match shared.store.find_payment(order_no.clone()).await? {
        Some(first) => {
            if first.customer != customer || first.amount != raw {
                return Err(ApiError::new(
                    409,
                    format!("order number {order_no} was used for a different payment"),
                ));
            }
            let outcome = if first.status == "applied" {
                PaymentOutcome::Applied {
                    seq: first.seq.and_then(|s| u32::try_from(s).ok()).unwrap_or(0),
                }
            } else {
                PaymentOutcome::Refused {
                    reason: first.reason.unwrap_or_default(),
                }
            };
            PaymentAnswer::Duplicate(outcome)
        }
        None => {
            let (reply, rx) = oneshot::channel();
            let msg = CoreMsg::Pay {
                customer,
                amount,
                order_no: order_no.clone(),
                channel,
                audit: stamp(&who, &method, &uri),
                reply,
            };
            ask(&shared, msg, rx).await??
        }
    };
    // A new decision's audit row was committed with it; a duplicate's is written by the gate.
    let note = match &answer {
        PaymentAnswer::New(_) => None,
        PaymentAnswer::Duplicate(_) => Some(format!("payment {order_no}: duplicate")),
    };
    let (status, mut body) = match &answer {
        PaymentAnswer::New(o) => payment_status(o, false),
        PaymentAnswer::Duplicate(o) => payment_status(o, true),
    };
    let (reply, rx) = oneshot::channel();
    let view = ask(&shared, CoreMsg::Customer { customer, reply }, rx).await?;
    body.order_no = order_no;
    body.customer = name;
    body.customer_id = customer;
    body.amount = amount.to_string();
    if let Some(super::views::Wallet::Master(w)) = view.map(|v| v.wallet) {
        body.balance = Some(w.balance);
        body.net = Some(w.net);
        body.credit = Some(w.credit);
        body.relay = Some(w.relay);
    }
    Ok(noted((status, axum::Json(body)).into_response(), note))
}

/// Removes a token's digits from its JSON unless `who` sold it.
fn hide_digits(t: &mut Value, who: &Principal) {
    let seller = t.get("sold_by").and_then(Value::as_str);
    if seller != Some(who.name.as_str())
        && let Some(o) = t.as_object_mut()
    {
        o.remove("token");
        o.remove("token_grouped");
        o.insert(
            "digits".into(),
            Value::from("only the operator who sold it sees them"),
        );
    }
}

async fn token(
    State(shared): St,
    Extension(who): Extension<Principal>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v = body_json(&body)?;
    let amount = amount_of(field(&v, "amount"), &shared.amounts)?;
    let order_no = text_of(&v, "order_no")?;
    let meter = match field(&v, "meter") {
        Some(Value::String(a)) => *shared
            .meter_by_address
            .get(bounded("meter", a.trim())?)
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
    let existing = shared.store.find_token(order_no.clone()).await?;
    if let Some(t) = existing {
        let mut t = serde_json::to_value(t).unwrap_or(Value::Null);
        hide_digits(&mut t, &who);
        if let Some(o) = t.as_object_mut() {
            o.insert("status".into(), Value::from("duplicate"));
            o.insert("order_no".into(), Value::from(order_no.as_str()));
        }
        let note = format!("token {order_no}: duplicate");
        return Ok(noted(axum::Json(t).into_response(), Some(note)));
    }
    let (reply, rx) = oneshot::channel();
    let r = ask(
        &shared,
        CoreMsg::Vend {
            meter,
            amount,
            order_no,
            seller: who.name.clone(),
            audit: stamp(&who, &method, &uri),
            reply,
        },
        rx,
    )
    .await??;
    Ok(noted(axum::Json(r).into_response(), None))
}

async fn guard(
    State(shared): St,
    Extension(who): Extension<Principal>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
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
            audit: stamp(&who, &method, &uri),
            reply,
        },
        rx,
    )
    .await??;
    // Answered: its audit row was committed with the change.
    Ok(noted(axum::Json(r).into_response(), None))
}

async fn customers(State(shared): St, Query(q): Q) -> Res {
    let p = page(&q)?;
    let (reply, rx) = oneshot::channel();
    let all = ask(&shared, CoreMsg::Customers { reply }, rx).await?;
    Ok(axum::Json(paged(all, |c| c.id, p)))
}

/// Rows of a list page when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 100;

/// The most rows of a list page.
pub const MAX_LIMIT: i64 = 500;

fn customer_filter(shared: &Shared, q: &HashMap<String, String>) -> Result<Option<i64>, ApiError> {
    match q.get("customer") {
        Some(c) => Ok(Some(customer_of(shared, &Value::String(c.clone()))?.id)),
        None => Ok(None),
    }
}

/// The page a list request asks for: `limit` (1–[`MAX_LIMIT`], default [`DEFAULT_LIMIT`])
/// rows with an id above `after` (default 0), oldest first. Anything else: 422.
fn page(q: &HashMap<String, String>) -> Result<Page, ApiError> {
    for (k, v) in q {
        bounded("query parameter", k)?;
        bounded(k, v)?;
    }
    let limit = match q.get("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::new(422, format!("limit must be 1–{MAX_LIMIT}")))?,
    };
    let after = match q.get("after") {
        None => 0,
        Some(a) => a
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::new(422, "after must be a row id (0 or more)"))?,
    };
    Ok(Page { after, limit })
}

/// The page to ask the database for: one row more than answered, to know if there is a next.
fn probe(p: Page) -> Page {
    Page {
        after: p.after,
        limit: p.limit.saturating_add(1),
    }
}

/// Answers a page of a list: `{items, next}`, `next` the `after` of the following page (null
/// on the last one). `rows` were fetched with [`probe`].
fn rows<T: Serialize>(r: MasterResult<Vec<T>>, p: Page) -> Res {
    let rows = r?
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<Value>, _>>()
        .map_err(|e| ApiError::new(500, e.to_string()))?;
    Ok(axum::Json(cut(rows, p)))
}

/// A page of a list held in memory (rows in id order).
fn paged<T: Serialize>(all: Vec<T>, id: impl Fn(&T) -> i64, p: Page) -> Value {
    let rows = all
        .iter()
        .filter(|r| id(r) > p.after)
        .take(
            usize::try_from(p.limit)
                .unwrap_or(usize::MAX)
                .saturating_add(1),
        )
        .map(to_json)
        .collect();
    cut(rows, p)
}

/// `{items, next}` ([`ListPage`]) of rows already after the cursor (at most `limit + 1`).
fn cut(mut items: Vec<Value>, p: Page) -> Value {
    let limit = usize::try_from(p.limit).unwrap_or(usize::MAX);
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more {
        items.last().and_then(|v| v.get("id")).cloned()
    } else {
        None
    };
    to_json(&ListPage { items, next })
}

async fn events(State(shared): St, Query(q): Q) -> Res {
    let filter = EventFilter {
        customer: customer_filter(&shared, &q)?,
        kind: q.get("kind").cloned(),
    };
    let p = page(&q)?;
    rows(shared.store.list_events(filter, probe(p)).await, p)
}

async fn commands(State(shared): St, Query(q): Q) -> Res {
    let filter = CommandFilter {
        customer: customer_filter(&shared, &q)?,
        status: q.get("status").cloned(),
    };
    let p = page(&q)?;
    rows(shared.store.list_commands(filter, probe(p)).await, p)
}

async fn jobs(State(shared): St, Query(q): Q) -> Res {
    let p = page(&q)?;
    let all = shared.store.list_jobs().await?;
    Ok(axum::Json(paged(all, |j| j.id, p)))
}

async fn outbox(State(shared): St, Query(q): Q) -> Res {
    let customer = customer_filter(&shared, &q)?;
    let p = page(&q)?;
    rows(shared.store.list_outbox(customer, probe(p)).await, p)
}

async fn payments(State(shared): St, Query(q): Q) -> Res {
    let customer = customer_filter(&shared, &q)?;
    let p = page(&q)?;
    rows(shared.store.list_payments(customer, probe(p)).await, p)
}

async fn tokens(State(shared): St, Extension(who): Extension<Principal>, Query(q): Q) -> Res {
    let p = page(&q)?;
    let mut list = rows(shared.store.list_tokens(probe(p)).await, p)?.0;
    if let Some(items) = list.get_mut("items").and_then(Value::as_array_mut) {
        for t in items {
            hide_digits(t, &who);
        }
    }
    Ok(axum::Json(list))
}

async fn audit(State(shared): St, Query(q): Q) -> Res {
    let p = page(&q)?;
    rows(shared.store.list_audit(probe(p)).await, p)
}

async fn operators(State(shared): St) -> Res {
    let items: Vec<OperatorView> = shared
        .operators
        .list()
        .into_iter()
        .map(|(name, role, source)| OperatorView {
            name,
            role: role.name(),
            source: match source {
                auth::Source::Configured => "configured",
                auth::Source::Api(_) => "api",
                auth::Source::Bootstrap => "bootstrap",
            },
        })
        .collect();
    // Few by nature (configured or made by an admin): one page.
    Ok(axum::Json(to_json(&ListPage { items, next: None })))
}

async fn create_operator(
    State(shared): St,
    Extension(who): Extension<Principal>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v = body_json(&body)?;
    let name = text_of(&v, "name")?;
    auth::check_name(&name).map_err(|e| ApiError::new(422, e.to_string()))?;
    let role: Role = text_of(&v, "role")?
        .parse()
        .map_err(|e: auth::UnknownRole| ApiError::new(422, e.to_string()))?;
    if shared.operators.contains(&name) {
        return Err(ApiError::new(
            409,
            format!("operator {name:?} exists already"),
        ));
    }
    let (op, key) = auth::new_operator(&name, role, auth::Source::Api(0))
        .map_err(|e| ApiError::new(500, e.to_string()))?;
    let at = shared.clock.now();
    let row = super::store::queries::OperatorRow {
        id: 0,
        name: name.clone(),
        role: role.name().to_string(),
        key_hash: op.hash.to_string(),
    };
    let audit =
        stamp(&who, &method, &uri).row(at, 201, format!("operator {name} created, role {role}"));
    let Some(id) = shared
        .store
        .create_operator(row, at, who.name.clone(), audit)
        .await?
    else {
        return Err(ApiError::new(
            409,
            format!("operator name {name:?} was used before (names are not reused)"),
        ));
    };
    shared
        .operators
        .add(auth::Operator {
            source: auth::Source::Api(id),
            ..op
        })
        .map_err(|e| ApiError::new(409, e.to_string()))?;
    let body = NewOperator {
        name: &name,
        role: role.name(),
        key: key.expose(),
        note: "the key is shown once: it is stored only as a salted hash",
    };
    Ok(noted(
        (StatusCode::CREATED, axum::Json(body)).into_response(),
        None,
    ))
}

async fn revoke_operator(
    State(shared): St,
    Extension(who): Extension<Principal>,
    method: Method,
    uri: Uri,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let op = shared
        .operators
        .get(&name)
        .ok_or_else(|| ApiError::new(404, "no such operator"))?;
    let auth::Source::Api(id) = op.source else {
        return Err(ApiError::new(
            409,
            "this operator is configured (site file or command line): change the configuration",
        ));
    };
    let at = shared.clock.now();
    let audit = stamp(&who, &method, &uri).row(at, 200, format!("operator {name} revoked"));
    shared.store.revoke_operator(id, at, audit).await?;
    shared.operators.remove(&name);
    Ok(noted(
        axum::Json(Revoked {
            name: &name,
            revoked: true,
        })
        .into_response(),
        None,
    ))
}

async fn readings(State(shared): St, Query(q): Q) -> Res {
    let p = page(&q)?;
    rows(
        shared
            .store
            .list_readings(q.get("meter").cloned(), probe(p))
            .await,
        p,
    )
}

async fn exceptions(State(shared): St, Query(q): Q) -> Res {
    let filter = ExceptionFilter {
        meter: q.get("meter").cloned(),
        status: q.get("status").cloned(),
    };
    let p = page(&q)?;
    rows(shared.store.list_exceptions(filter, probe(p)).await, p)
}

fn energy_of(v: &Value, name: &str) -> Result<Energy, ApiError> {
    let e = match field(v, name) {
        Some(Value::String(s)) => {
            Energy::parse(s.trim()).map_err(|e| ApiError::new(400, format!("{name} {s:?}: {e}")))?
        }
        Some(Value::Number(n)) if n.is_i64() => n
            .as_i64()
            .and_then(|k| Energy::from_units(k).ok())
            .ok_or_else(|| ApiError::new(422, format!("{name} out of range")))?,
        Some(_) => {
            return Err(ApiError::new(
                400,
                format!("{name}: write decimals as a string (\"1520.75\")"),
            ));
        }
        None => return Err(ApiError::new(400, format!("{name} is required"))),
    };
    if e.is_negative() {
        return Err(ApiError::new(422, format!("{name} must not be negative")));
    }
    Ok(e)
}

async fn replace_meter(
    State(shared): St,
    Extension(who): Extension<Principal>,
    method: Method,
    uri: Uri,
    Path(address): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v = body_json(&body)?;
    let meter = *shared
        .meter_by_address
        .get(bounded("address", address.trim())?)
        .ok_or_else(|| ApiError::new(404, format!("no meter {address}")))?;
    let closing = energy_of(&v, "final_kwh")?;
    let opening = energy_of(&v, "initial_kwh")?;
    if field(&v, "new_address").is_some() {
        return Err(ApiError::new(
            422,
            "new_address is not supported: the replacement keeps the meter's address",
        ));
    }
    let (reply, rx) = oneshot::channel();
    let msg = CoreMsg::ReplaceMeter {
        meter,
        closing,
        opening,
        audit: stamp(&who, &method, &uri),
        reply,
    };
    let r = ask(&shared, msg, rx).await??;
    // Answered: its audit row was committed with the replacement.
    Ok(noted(axum::Json(r).into_response(), None))
}

async fn terminals(State(shared): St, Query(q): Q) -> Res {
    let p = page(&q)?;
    let list: Vec<Value> = shared
        .terminals
        .iter()
        .filter(|t| t.id > p.after)
        .take(
            usize::try_from(p.limit)
                .unwrap_or(usize::MAX)
                .saturating_add(1),
        )
        .map(|t| {
            let seen = t.last_seen.load(Ordering::Relaxed);
            to_json(&TerminalView {
                id: t.id,
                a1: format!("{:04X}", t.a1),
                a2: t.a2,
                online: t.online.load(Ordering::Relaxed),
                last_seen: SimTime((seen != i64::MIN).then_some(seen)),
                meters: t
                    .meters
                    .iter()
                    .filter_map(|&m| shared.meters.get(m))
                    .map(|m| TerminalMeter {
                        pn: m.pn,
                        address: m.address_text.clone(),
                    })
                    .collect(),
            })
        })
        .collect();
    Ok(axum::Json(cut(list, p)))
}

async fn stats(State(shared): St) -> Res {
    let online = shared
        .terminals
        .iter()
        .filter(|t| t.online.load(Ordering::Relaxed))
        .count();
    Ok(axum::Json(to_json(&StatsView {
        counters: shared.stats.snapshot(),
        terminals: shared.terminals.len(),
        online,
        sim_time: SimTime::at(shared.clock.now()),
        rss_bytes: rss_bytes(),
    })))
}

async fn stats_reset(State(shared): St) -> Res {
    shared.stats.reset();
    Ok(axum::Json(to_json(&StatsReset { reset: true })))
}

/// Resident set size of this process (Linux `/proc/self/statm`), if known.
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
