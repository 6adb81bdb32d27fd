//! The gate in front of every API route (an axum middleware): where the request comes from,
//! who sends it, whether their role may, and the audit trail.
//!
//! In order, for every request:
//!
//! 1. **Host and origin** (DNS rebinding, CSRF): `Host` must be the listen address
//!    (`127.0.0.1:<port>`, `localhost:<port>`) or one configured
//!    ([`MasterOptions::http_hosts`](super::MasterOptions::http_hosts)); a present `Origin`
//!    must be `http://` and one of those; `Sec-Fetch-Site` other than `same-origin` / `none`
//!    is refused. A mutating request (anything but `GET`/`HEAD`) must say
//!    `Content-Type: application/json`: a web page cannot send that cross-origin without a
//!    preflight, which this API never grants. Refused: 403 (415 for the content type).
//! 2. **Authentication**: `Authorization: Bearer amk_…` must be an operator's key
//!    ([`auth`](super::auth)). Missing or unknown: 401.
//! 3. **Role**: the route's least role ([`required_role`]); another role: 403 with
//!    `{"error", "required_role", "role"}`.
//! 4. **Audit**: every mutating request, and every refusal (401, 403, 413, 415, 422), is a row
//!    of the `audit` table: when, who, role, method, path, status and a short summary (order
//!    number and amount; never a key or token digits). Handlers whose change is a database
//!    unit (payments, tokens, guard, meter replacement, operators) write the row in the same
//!    transaction and mark the answer [`Audited`]; the gate writes the others (refusals,
//!    duplicates, failures, changes without a unit) after the answer is known. Refusals of
//!    unauthenticated requests get at most [`ANONYMOUS_AUDIT_BUDGET`] rows a minute; the rest
//!    are counted in one summary row, so a flood cannot fill the disk.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Shared;
use super::auth::{Principal, Role};
use super::store::Write;
use super::views::ErrorBody;

/// Marks an answer whose audit row was written with its change (the gate writes none).
#[derive(Debug, Clone, Copy)]
pub struct Audited;

/// A short summary of what a request did, for its audit row (set by a handler on its answer).
#[derive(Debug, Clone)]
pub struct AuditNote(pub String);

/// Longest path and summary kept in an audit row.
const MAX_AUDIT_TEXT: usize = 200;

/// Who may pass the gate of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any authenticated operator (reads).
    AnyRole,
    /// This role (or admin).
    Role(Role),
}

/// The least role of a route (method and matched path pattern). Reads need any role, except
/// the audit trail and the operator list (auditor); mutating routes not listed need admin
/// (closed by default).
pub fn required_role(method: &Method, route: &str) -> Need {
    let read = method == Method::GET || method == Method::HEAD;
    match (read, route) {
        (true, "/api/audit" | "/api/operators") => Need::Role(Role::Auditor),
        (true, _) => Need::AnyRole,
        (false, "/api/payments" | "/api/tokens") => Need::Role(Role::Cashier),
        (
            false,
            "/api/guard"
            | "/api/meters/{address}/replace"
            | "/api/jobs/{id}/close"
            | "/api/commands"
            | "/api/commands/{id}/cancel",
        ) => Need::Role(Role::Operator),
        (false, _) => Need::Role(Role::Admin),
    }
}

/// Audit rows of refusals nobody authenticated (wrong source, no or unknown key) per
/// [`ANONYMOUS_WINDOW`]; beyond it they are counted and written as one summary row when the
/// window ends, so a flood of refused requests cannot fill the disk.
pub const ANONYMOUS_AUDIT_BUDGET: u32 = 60;

/// The window of [`ANONYMOUS_AUDIT_BUDGET`].
pub const ANONYMOUS_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// Refusals of nobody in the current window: (window start, rows written, rows suppressed).
#[derive(Debug)]
struct AnonymousBudget(std::sync::Mutex<(std::time::Instant, u32, u64)>);

impl AnonymousBudget {
    fn new() -> Self {
        Self(std::sync::Mutex::new((std::time::Instant::now(), 0, 0)))
    }

    /// Whether a refusal of nobody gets its own row; also the count to summarise when a window
    /// with suppressed rows has just ended.
    fn take(&self) -> (bool, u64) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (start, written, suppressed) = &mut *g;
        let mut ended = 0;
        if start.elapsed() >= ANONYMOUS_WINDOW {
            ended = *suppressed;
            *start = std::time::Instant::now();
            *written = 0;
            *suppressed = 0;
        }
        if *written < ANONYMOUS_AUDIT_BUDGET {
            *written += 1;
            (true, ended)
        } else {
            *suppressed = suppressed.saturating_add(1);
            (false, ended)
        }
    }
}

/// What the gate checks `Host` and `Origin` against, and its budget of anonymous audit rows.
#[derive(Debug)]
pub struct Origins {
    /// Accepted `Host` values (`127.0.0.1:8376`, `localhost:8376`, configured ones).
    pub hosts: Vec<String>,
    anonymous: AnonymousBudget,
}

impl Origins {
    /// The listen address's hosts and the configured ones.
    pub fn new(listen: std::net::SocketAddr, extra: &[String]) -> Self {
        let port = listen.port();
        let mut hosts = vec![listen.to_string(), format!("localhost:{port}")];
        hosts.extend(extra.iter().map(|h| h.trim().to_ascii_lowercase()));
        Self {
            hosts,
            anonymous: AnonymousBudget::new(),
        }
    }

    fn host_ok(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        self.hosts.contains(&host)
    }

    fn origin_ok(&self, origin: &str) -> bool {
        origin
            .trim()
            .strip_prefix("http://")
            .is_some_and(|h| self.host_ok(h))
    }
}

fn header_str<'h>(h: &'h HeaderMap, name: &header::HeaderName) -> Option<&'h str> {
    h.get(name).map(|v| v.to_str().unwrap_or("\u{FFFD}"))
}

/// Checks where a request comes from: `Err((status, why))` refuses it.
fn check_source(
    origins: &Origins,
    h: &HeaderMap,
    mutating: bool,
) -> Result<(), (StatusCode, String)> {
    let forbidden = |why: String| Err((StatusCode::FORBIDDEN, why));
    match header_str(h, &header::HOST) {
        Some(host) if origins.host_ok(host) => {}
        Some(_) => return forbidden("Host is not this station's address".into()),
        None => return forbidden("Host is required".into()),
    }
    if let Some(origin) = header_str(h, &header::ORIGIN)
        && !origins.origin_ok(origin)
    {
        return forbidden("cross-origin requests are refused (Origin)".into());
    }
    if let Some(site) = h.get("sec-fetch-site").map(|v| v.to_str().unwrap_or("?"))
        && !matches!(site, "same-origin" | "none")
    {
        return forbidden(format!(
            "cross-site requests are refused (Sec-Fetch-Site: {})",
            site.chars().take(20).collect::<String>()
        ));
    }
    if mutating {
        let json = header_str(h, &header::CONTENT_TYPE).is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
        if !json {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type: application/json is required".into(),
            ));
        }
    }
    Ok(())
}

/// The bearer key of a request, if any.
fn bearer(h: &HeaderMap) -> Option<&str> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = v.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
}

fn clip(s: &str) -> String {
    s.chars().take(MAX_AUDIT_TEXT).collect()
}

/// An audit row (the store writes it).
pub(crate) fn audit_write(
    shared: &Shared,
    who: Option<&Principal>,
    method: &str,
    path: &str,
    status: u16,
    summary: &str,
) -> Write {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Write::Audit {
        at: shared.clock.now(),
        wall,
        operator: who.map(|p| p.name.clone()),
        role: who.map(|p| p.role.name()),
        method: clip(method),
        path: clip(path),
        status,
        summary: clip(summary),
    }
}

fn refusal(status: StatusCode, body: ErrorBody<'_>) -> Response {
    (status, axum::Json(body)).into_response()
}

/// The middleware: source checks, authentication, role, audit (see the module docs).
pub(crate) async fn gate(
    State(shared): State<Arc<Shared>>,
    mut req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| path.clone(), |m| m.as_str().to_string());
    let mutating = !(method == Method::GET || method == Method::HEAD);
    let need = required_role(&method, &route);
    let audit = |who: Option<&Principal>, status: StatusCode, summary: &str| {
        if who.is_none() {
            let (own_row, ended) = shared.origins.anonymous.take();
            if ended > 0 {
                shared.store.write(audit_write(
                    &shared,
                    None,
                    "-",
                    "*",
                    0,
                    &format!("{ended} more refusals of unauthenticated requests in a minute"),
                ));
            }
            if !own_row {
                return;
            }
        }
        shared.store.write(audit_write(
            &shared,
            who,
            method.as_str(),
            &path,
            status.as_u16(),
            summary,
        ));
    };

    if let Err((status, why)) = check_source(&shared.origins, req.headers(), mutating) {
        audit(None, status, &why);
        return refusal(status, ErrorBody::new(&why));
    }
    let principal = bearer(req.headers()).and_then(|k| shared.operators.authenticate(k));
    let Some(principal) = principal else {
        let why = if bearer(req.headers()).is_some() {
            "unknown or revoked key"
        } else {
            "Authorization: Bearer <key> is required"
        };
        audit(None, StatusCode::UNAUTHORIZED, why);
        let body = match need {
            Need::Role(r) => ErrorBody {
                required_role: Some(r.name()),
                ..ErrorBody::new(why)
            },
            Need::AnyRole => ErrorBody::new(why),
        };
        return refusal(StatusCode::UNAUTHORIZED, body);
    };
    if let Need::Role(required) = need
        && !principal.role.permits(required)
    {
        let why = format!("role {required} required (you are {})", principal.role);
        audit(Some(&principal), StatusCode::FORBIDDEN, &why);
        return refusal(
            StatusCode::FORBIDDEN,
            ErrorBody {
                error: &why,
                required_role: Some(required.name()),
                role: Some(principal.role.name()),
            },
        );
    }
    req.extensions_mut().insert(principal.clone());
    let resp = next.run(req).await;
    let status = resp.status();
    let refused = matches!(status.as_u16(), 401 | 403 | 413 | 415 | 422);
    if (mutating || refused) && resp.extensions().get::<Audited>().is_none() {
        let summary = resp
            .extensions()
            .get::<AuditNote>()
            .map_or_else(String::new, |n| n.0.clone());
        audit(Some(&principal), status, &summary);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn source_checks() {
        let o = Origins::new(
            "127.0.0.1:8376".parse().unwrap(),
            &["station.example:80".into()],
        );
        let ok = headers(&[
            ("host", "127.0.0.1:8376"),
            ("content-type", "application/json"),
        ]);
        assert!(check_source(&o, &ok, true).is_ok());
        let ok = headers(&[
            ("host", "localhost:8376"),
            ("origin", "http://127.0.0.1:8376"),
        ]);
        assert!(check_source(&o, &ok, false).is_ok());
        let bad = headers(&[("host", "evil.example:8376")]);
        assert!(check_source(&o, &bad, false).is_err());
        let bad = headers(&[
            ("host", "127.0.0.1:8376"),
            ("origin", "http://evil.example"),
        ]);
        assert!(check_source(&o, &bad, false).is_err());
        let bad = headers(&[("host", "127.0.0.1:8376"), ("sec-fetch-site", "cross-site")]);
        assert!(check_source(&o, &bad, false).is_err());
        let bad = headers(&[("host", "127.0.0.1:8376"), ("content-type", "text/plain")]);
        assert_eq!(
            check_source(&o, &bad, true).unwrap_err().0,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert!(check_source(&o, &headers(&[]), false).is_err());
        let ok = headers(&[("host", "station.example:80")]);
        assert!(check_source(&o, &ok, false).is_ok());
    }

    #[test]
    fn routes_declare_their_least_role() {
        assert_eq!(
            required_role(&Method::POST, "/api/payments"),
            Need::Role(Role::Cashier)
        );
        assert_eq!(required_role(&Method::GET, "/api/payments"), Need::AnyRole);
        assert_eq!(
            required_role(&Method::GET, "/api/audit"),
            Need::Role(Role::Auditor)
        );
        assert_eq!(
            required_role(&Method::POST, "/api/guard"),
            Need::Role(Role::Operator)
        );
        assert_eq!(
            required_role(&Method::POST, "/api/something/new"),
            Need::Role(Role::Admin)
        );
    }
}
