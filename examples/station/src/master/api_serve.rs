//! The API's server loop: hyper HTTP/1.1 connections under the axum router, with the limits a
//! hostile local client cannot get around ([`HttpLimits`]).
//!
//! * At most [`HttpLimits::max_connections`] connections at once; one more is answered
//!   `503` and closed.
//! * A request's header must arrive within [`HttpLimits::header_timeout`] (slowloris), and
//!   an idle keep-alive connection is closed after [`HttpLimits::idle_timeout`]: hyper's
//!   header-read timer runs from the moment the connection waits for a request head, so the
//!   shorter of the two bounds both.
//! * A request (body read and answer) must finish within [`HttpLimits::request_timeout`]
//!   (`408`), and its body may be at most [`HttpLimits::max_body`] bytes (`413`, axum's
//!   `DefaultBodyLimit`); headers are bounded by hyper's buffer ([`HttpLimits::max_header`]).
//! * On stop, connections finish their request in flight and close.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower_service::Service;

/// The operator API's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Time for a request's whole header (default 10 s).
    pub header_timeout: Duration,
    /// Time an idle keep-alive connection stays open (default 10 s).
    pub idle_timeout: Duration,
    /// Time for one request, body and answer (default 30 s).
    pub request_timeout: Duration,
    /// Connections at once (default 64).
    pub max_connections: usize,
    /// Largest request body, bytes (default 16 KiB).
    pub max_body: usize,
    /// Largest request header, bytes (hyper's read buffer; at least 8 KiB; default 16 KiB).
    pub max_header: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 64,
            max_body: 16 * 1024,
            max_header: 16 * 1024,
        }
    }
}

/// The answer to a connection over the limit.
fn busy() -> Vec<u8> {
    let body = r#"{"error":"too many connections"}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Resolves once `stop` says stop (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Serves `app` on `listener` within `limits` until `stop`.
pub(crate) async fn serve(
    app: Router,
    listener: TcpListener,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) {
    let app = app.layer(axum::extract::DefaultBodyLimit::max(limits.max_body));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = stopped(&mut stop) => break,
        };
        // Reap finished connections.
        while tasks.try_join_next().is_some() {}
        let (mut stream, _) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "master: http accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tasks.spawn(async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), stream.write_all(&busy())).await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        let app = app.clone();
        let mut stop = stop.clone();
        tasks.spawn(async move {
            let _slot = slot;
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let mut app = app.clone();
                    async move {
                        let req: Request = req.map(axum::body::Body::new);
                        let answer =
                            match tokio::time::timeout(limits.request_timeout, app.call(req)).await
                            {
                                Ok(r) => r.unwrap_or_else(|never| match never {}),
                                Err(_) => (
                                    StatusCode::REQUEST_TIMEOUT,
                                    axum::Json(super::views::ErrorBody::new(
                                        "request took too long",
                                    )),
                                )
                                    .into_response(),
                            };
                        Ok::<_, std::convert::Infallible>(answer)
                    }
                });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout.min(limits.idle_timeout))
                .keep_alive(true)
                .max_buf_size(limits.max_header.max(8192));
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "master: http connection");
                    }
                }
                () = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                }
            }
        });
    }
    // Stopping: connections finish their request in flight (at most a few seconds).
    let _ = tokio::time::timeout(Duration::from_secs(6), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
}
