//! Closing manual jobs: `POST /api/jobs/{id}/close`.
//!
//! A manual job is `open` until a person finishes it (`done`), an operator calls it off
//! (`cancelled`), or the system cancels it because a later command made it moot (a trip job
//! after the customer paid: `closed_by = "system"`). Body: `{status?, note?}` with `status`
//! `done` (the default) or `cancelled`; `closed_by` is the authenticated operator (role
//! `operator` or above, checked by the API's gate). The answer is the job as stored, once the
//! change is committed. An unknown job is a 404, a job already closed a 409 (with the job).

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::post;
use serde_json::Value;

use super::Shared;
use super::auth::Principal;
use super::error::ApiError;
use super::store::queries::CloseJob;
use super::views::{JobClosedAlready, to_json};

/// Longest `note` accepted, characters.
const NOTE_MAX: usize = 500;

/// The routes of this module (mounted by the API's router).
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/api/jobs/{id}/close", post(close))
}

fn text(v: &Value, name: &str, max: usize) -> Result<Option<String>, ApiError> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.trim().to_string())),
        Some(Value::String(_)) => Err(ApiError::new(
            422,
            format!("{name}: at most {max} characters"),
        )),
        Some(_) => Err(ApiError::new(400, format!("{name}: a string"))),
    }
}

async fn close(
    State(shared): State<Arc<Shared>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<(axum::http::StatusCode, axum::Json<Value>), ApiError> {
    let v: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::new(400, format!("body: {e}")))?;
    let closed_by = who.name;
    let status = match text(&v, "status", 16)?.as_deref() {
        None | Some("done") => "done",
        Some("cancelled") => "cancelled",
        Some(other) => {
            return Err(ApiError::new(
                422,
                format!("status {other:?}: done or cancelled"),
            ));
        }
    };
    let note = text(&v, "note", NOTE_MAX)?;
    let at = shared.clock.now();
    let r = shared
        .store
        .close_job(id, status, closed_by, note, at)
        .await
        .map_err(|e| ApiError::new(503, format!("not recorded: {e}")))?;
    let ok = axum::http::StatusCode::OK;
    match r {
        CloseJob::Closed(job) => Ok((ok, axum::Json(to_json(&job)))),
        CloseJob::Missing => Err(ApiError::new(404, format!("no job {id}"))),
        CloseJob::AlreadyClosed(job) => Ok((
            axum::http::StatusCode::CONFLICT,
            axum::Json(to_json(&JobClosedAlready {
                error: "the job is closed already",
                job: &job,
            })),
        )),
    }
}
