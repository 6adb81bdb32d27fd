//! The operator API's HTTP limits: header and idle timeouts, connection cap, body and field
//! length limits, paginated lists.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use amikit_station::master::api_serve::HttpLimits;
use common::*;

fn one_customer(a2: u32) -> Site {
    site(
        a2,
        &[M {
            pn: 1,
            address: "000000001201",
            customer: "Li Wei",
            fee: "remote",
            opening: "50.00",
            kwh: "1000",
            guarded: false,
        }],
    )
}

async fn master(a2: u32, name: &str, limits: HttpLimits) -> MasterHandle {
    let mut o = options(one_customer(a2), temp_db(name));
    o.http_limits = limits;
    start(o).await.unwrap()
}

fn short() -> HttpLimits {
    HttpLimits {
        header_timeout: Duration::from_millis(800),
        idle_timeout: Duration::from_millis(800),
        ..HttpLimits::default()
    }
}

/// Reads until the server closes the connection; answers what arrived and how long it took.
async fn read_until_closed(s: &mut TcpStream, within: Duration) -> (Vec<u8>, Duration) {
    let t0 = std::time::Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(within.saturating_sub(t0.elapsed()), s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return (out, t0.elapsed()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open for {within:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_header_and_an_idle_connection_are_closed() {
    let m = master(12, "http-slow", short()).await;
    // Slowloris: half a header, then nothing.
    let mut s = TcpStream::connect(m.http_addr()).await.unwrap();
    s.write_all(format!("GET /api/customers HTTP/1.1\r\nHost: {}\r\n", m.http_addr()).as_bytes())
        .await
        .unwrap();
    let (_, took) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(
        took >= Duration::from_millis(700),
        "closed too early: {took:?}"
    );

    // A connection that says nothing at all: closed too.
    let mut s = TcpStream::connect(m.http_addr()).await.unwrap();
    let (_, took) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(
        took >= Duration::from_millis(700),
        "closed too early: {took:?}"
    );

    // Keep-alive: one answered request, then idle: closed.
    let mut s = TcpStream::connect(m.http_addr()).await.unwrap();
    let req = format!(
        "GET /api/customers HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\r\n",
        m.http_addr(),
        key(&m)
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let (answer, took) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        took >= Duration::from_millis(700),
        "closed too early: {took:?}"
    );
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_refused_until_one_closes() {
    let limits = HttpLimits {
        max_connections: 4,
        ..HttpLimits::default()
    };
    let m = master(13, "http-cap", limits).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(m.http_addr()).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(m.http_addr()).await.unwrap();
    let (answer, _) = read_until_closed(&mut extra, Duration::from_secs(5)).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let c = customer(&m, "Li Wei").await;
    assert_eq!(c["name"], "Li Wei");
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_bodies_long_fields_and_bad_pages_are_refused() {
    let m = master(14, "http-sizes", HttpLimits::default()).await;
    // 17 KiB of JSON: 413, nothing recorded.
    let pad = "x".repeat(17 * 1024);
    let (s, v) = post(
        &m,
        "/api/payments",
        json!({"customer": "Li Wei", "amount": "1.00", "order_no": "BIG-1", "pad": pad}),
    )
    .await;
    assert_eq!(s, 413, "{v}");
    // Fields over 64 characters: 422.
    let long = "N".repeat(65);
    let (s, _) = post(
        &m,
        "/api/payments",
        json!({"customer": "Li Wei", "amount": "1.00", "order_no": long}),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = post(
        &m,
        "/api/payments",
        json!({"customer": long, "amount": "1.00", "order_no": "L-1"}),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = post(
        &m,
        "/api/payments",
        json!({"customer": "Li Wei", "amount": "1.00", "order_no": "L-2", "channel": long}),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = post(
        &m,
        "/api/operators",
        json!({"name": "n".repeat(65), "role": "cashier"}),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(get(&m, "/api/payments").await.as_array().unwrap().len(), 0);
    // The refusals are audited.
    let audit = get(&m, "/api/audit").await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["status"] == 413 && r["path"] == "/api/payments"),
        "{audit}"
    );

    // Seven payments, listed three at a time.
    for i in 0..7 {
        let (s, v) = post(
            &m,
            "/api/payments",
            json!({"customer": "Li Wei", "amount": "1.00", "order_no": format!("P-{i}")}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
    let k = key(&m);
    let list = |path: String| {
        let k = k.clone();
        let addr = m.http_addr();
        async move { http_json(addr, &k, "GET", &path, None).await.unwrap() }
    };
    let (s, p1) = list("/api/payments?limit=3".into()).await;
    assert_eq!(s, 200);
    assert_eq!(p1["items"].as_array().unwrap().len(), 3);
    assert_eq!(p1["items"][0]["order_no"], "P-0");
    let next = p1["next"].as_i64().unwrap();
    let (_, p2) = list(format!("/api/payments?limit=3&after={next}")).await;
    assert_eq!(p2["items"][0]["order_no"], "P-3");
    let next = p2["next"].as_i64().unwrap();
    let (_, p3) = list(format!("/api/payments?limit=3&after={next}")).await;
    assert_eq!(p3["items"].as_array().unwrap().len(), 1);
    assert_eq!(p3["items"][0]["order_no"], "P-6");
    assert!(p3["next"].is_null());
    // The default page is 100 rows; 500 at most.
    let (_, all) = list("/api/payments".into()).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 7);
    for bad in ["limit=501", "limit=0", "limit=x", "after=-1", "after=z"] {
        let (s, v) = list(format!("/api/payments?{bad}")).await;
        assert_eq!(s, 422, "{bad}: {v}");
    }
    let (s, _) = list("/api/events?limit=500".into()).await;
    assert_eq!(s, 200);
    let (s, _) = list(format!("/api/events?kind={}", "k".repeat(65))).await;
    assert_eq!(s, 422);
    // Every list answers a page.
    for path in [
        "/api/customers",
        "/api/commands",
        "/api/jobs",
        "/api/events",
        "/api/outbox",
        "/api/tokens",
        "/api/readings",
        "/api/exceptions",
        "/api/terminals",
        "/api/audit",
        "/api/operators",
    ] {
        let (s, v) = list(path.into()).await;
        assert_eq!(s, 200, "{path}: {v}");
        assert!(
            v["items"].is_array() && v.get("next").is_some(),
            "{path}: {v}"
        );
    }
    m.shutdown().await;
}
