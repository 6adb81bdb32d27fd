//! The operator API's gate: keys and roles, CSRF and host checks, token digits only for the
//! cashier who sold the token, the audit trail, operators managed over the API.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use amikit_station::master::auth::{self, Role, Source};
use common::*;

fn two_customers(a2: u32) -> Site {
    site(
        a2,
        &[
            M {
                pn: 1,
                address: "000000000901",
                customer: "Li Wei",
                fee: "remote",
                opening: "50.00",
                kwh: "1000",
                guarded: false,
            },
            M {
                pn: 2,
                address: "000000000902",
                customer: "Zhang Min",
                fee: "local",
                opening: "0.00",
                kwh: "500",
                guarded: false,
            },
        ],
    )
}

async fn call(
    m: &MasterHandle,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    http_json(m.http_addr(), key, method, path, body)
        .await
        .unwrap()
}

/// Makes an operator over the API with the bootstrap admin key; answers their key.
async fn new_operator(m: &MasterHandle, name: &str, role: &str) -> String {
    let (status, v) = post(m, "/api/operators", json!({"name": name, "role": role})).await;
    assert_eq!(status, 201, "{v}");
    v["key"].as_str().unwrap().to_string()
}

fn raw_post(m: &MasterHandle, path: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{headers}\
         Content-Length: {}\r\n\r\n{body}",
        m.http_addr(),
        body.len()
    )
    .into_bytes()
}

fn status_of(raw: &[u8]) -> u16 {
    amikit_station::master::http::parse_response(raw).unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_roles_digits_audit_and_revocation() {
    let m = start(options(two_customers(9), temp_db("auth-roles")))
        .await
        .unwrap();
    let admin = key(&m);
    let pay = json!({"customer": "Li Wei", "amount": "10.00", "order_no": "A-1"});

    // No key, a malformed key, an unknown well-formed key: 401 with a JSON error.
    let (s, v) = http_json(m.http_addr(), "", "GET", "/api/customers", None)
        .await
        .unwrap();
    assert_eq!(s, 401, "{v}");
    assert!(v["error"].as_str().unwrap().contains("Bearer"), "{v}");
    assert_eq!(
        call(&m, "amk_nope", "GET", "/api/customers", None).await.0,
        401
    );
    let stranger = auth::ApiKey::generate().unwrap();
    let (s, v) = call(
        &m,
        stranger.expose(),
        "POST",
        "/api/payments",
        Some(pay.clone()),
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(v["required_role"], "cashier");

    // The admin makes operators; the list never shows keys or hashes.
    let till1 = new_operator(&m, "till-1", "cashier").await;
    let till2 = new_operator(&m, "till-2", "cashier").await;
    let auditor = new_operator(&m, "audit", "auditor").await;
    let ops = new_operator(&m, "ops", "operator").await;
    let (s, v) = post(
        &m,
        "/api/operators",
        json!({"name": "till-1", "role": "cashier"}),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    let (s, _) = post(
        &m,
        "/api/operators",
        json!({"name": "x y", "role": "cashier"}),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = post(&m, "/api/operators", json!({"name": "z", "role": "root"})).await;
    assert_eq!(s, 422);
    let (s, list) = call(&m, &auditor, "GET", "/api/operators", None).await;
    assert_eq!(s, 200);
    let text = list.to_string();
    assert!(text.contains("till-1") && !text.contains(&till1) && !text.contains("hmac"));

    // The wrong role: 403 naming the role needed; nothing recorded.
    let (s, v) = call(&m, &auditor, "POST", "/api/payments", Some(pay.clone())).await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["required_role"], "cashier");
    assert_eq!(v["role"], "auditor");
    let (s, _) = call(
        &m,
        &till1,
        "POST",
        "/api/guard",
        Some(json!({"customer": "Li Wei", "on": true})),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = call(
        &m,
        &till1,
        "POST",
        "/api/operators",
        Some(json!({"name": "me", "role": "admin"})),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = call(&m, &till1, "GET", "/api/audit", None).await;
    assert_eq!(s, 403);
    assert_eq!(get(&m, "/api/payments").await.as_array().unwrap().len(), 0);

    // The right roles.
    let (s, v) = call(&m, &till1, "POST", "/api/payments", Some(pay.clone())).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "applied");
    let (s, v) = call(
        &m,
        &ops,
        "POST",
        "/api/guard",
        Some(json!({"customer": "Li Wei", "on": true})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = call(&m, &auditor, "GET", "/api/customers", None).await;
    assert_eq!(s, 200);

    // Token digits: only to the cashier who sold it.
    let vend = json!({"customer": "Zhang Min", "amount": "20.00", "order_no": "T-1"});
    let (s, t) = call(&m, &till1, "POST", "/api/tokens", Some(vend.clone())).await;
    assert_eq!(s, 200, "{t}");
    let digits = t["token"].as_str().unwrap().to_string();
    assert_eq!(digits.len(), 20);
    let (_, mine) = call(&m, &till1, "GET", "/api/tokens", None).await;
    assert_eq!(mine["items"][0]["token"], digits.as_str());
    for k in [&till2, &auditor, &admin] {
        let (s, theirs) = call(&m, k, "GET", "/api/tokens", None).await;
        assert_eq!(s, 200);
        assert!(!theirs.to_string().contains(&digits), "{theirs}");
        assert_eq!(theirs["items"][0]["order_no"], "T-1");
    }
    // The same order again from another cashier: a duplicate, without the digits.
    let (s, dup) = call(&m, &till2, "POST", "/api/tokens", Some(vend)).await;
    assert_eq!(s, 200);
    assert_eq!(dup["status"], "duplicate");
    assert!(!dup.to_string().contains(&digits), "{dup}");

    // The audit trail: who did what, refusals included, never key material or digits.
    let (s, trail) = call(&m, &auditor, "GET", "/api/audit", None).await;
    assert_eq!(s, 200);
    let rows = trail["items"].as_array().unwrap();
    let paid = rows
        .iter()
        .find(|r| r["path"] == "/api/payments" && r["status"] == 200)
        .unwrap_or_else(|| panic!("{trail}"));
    assert_eq!(paid["operator"], "till-1");
    assert_eq!(paid["role"], "cashier");
    assert!(paid["summary"].as_str().unwrap().contains("A-1"), "{paid}");
    assert!(
        paid["summary"].as_str().unwrap().contains("10.00"),
        "{paid}"
    );
    assert!(
        rows.iter()
            .any(|r| r["status"] == 401 && r["operator"].is_null())
    );
    assert!(
        rows.iter()
            .any(|r| r["status"] == 403 && r["operator"] == "audit")
    );
    assert!(
        rows.iter()
            .any(|r| r["path"] == "/api/tokens" && r["operator"] == "till-1")
    );
    // One row per request: those written with their change are not written again.
    let once = |path: &str| {
        rows.iter()
            .filter(|r| r["path"] == path && r["status"] == 200)
            .count()
    };
    assert_eq!(once("/api/guard"), 1, "{trail}");
    assert_eq!(once("/api/payments"), 1, "{trail}");
    assert!(
        rows.iter()
            .any(|r| r["path"] == "/api/guard" && r["operator"] == "ops")
    );
    assert!(
        rows.iter()
            .any(|r| r["path"] == "/api/operators" && r["status"] == 201)
    );
    let text = trail.to_string();
    for secret in [&admin, &till1, &till2, &auditor, &ops, &digits] {
        assert!(!text.contains(secret.as_str()), "secret in the audit trail");
    }
    assert!(!text.contains("amk_"));

    // Revocation: the key stops working at once, and after a restart.
    let (s, _) = post(&m, "/api/operators/till-2/revoke", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(call(&m, &till2, "GET", "/api/customers", None).await.0, 401);
    assert_eq!(call(&m, &till1, "GET", "/api/customers", None).await.0, 200);
    let db = temp_db_path(&m);
    m.shutdown().await;
    let m = start(options(two_customers(9), db)).await.unwrap();
    // Operators exist in the database: no bootstrap admin this time.
    assert!(m.bootstrap_key().is_none());
    assert_eq!(call(&m, &till1, "GET", "/api/customers", None).await.0, 200);
    assert_eq!(call(&m, &till2, "GET", "/api/customers", None).await.0, 401);
    assert_eq!(call(&m, &admin, "GET", "/api/customers", None).await.0, 401);
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_with_a_text_body_is_refused_and_changes_nothing() {
    let m = start(options(two_customers(10), temp_db("auth-csrf")))
        .await
        .unwrap();
    let admin = key(&m);
    let body = r#"{"customer": "Li Wei", "amount": "10.00", "order_no": "CSRF-1"}"#;
    let bearer = format!("Authorization: Bearer {admin}\r\n");
    // What a web page can send without a preflight: text/plain, its own Origin (even with a
    // stolen key, the browser cannot attach it; here it is attached to show the gate refuses
    // on the origin alone).
    let attempts = [
        format!("{bearer}Origin: http://evil.example\r\nContent-Type: text/plain\r\n"),
        format!("{bearer}Origin: http://evil.example\r\nContent-Type: application/json\r\n"),
        format!("{bearer}Content-Type: text/plain\r\n"),
        format!("{bearer}Sec-Fetch-Site: cross-site\r\nContent-Type: application/json\r\n"),
        "Origin: http://evil.example\r\nContent-Type: text/plain\r\n".to_string(),
    ];
    for h in &attempts {
        let raw = http_raw(m.http_addr(), &raw_post(&m, "/api/payments", h, body))
            .await
            .unwrap();
        let s = status_of(&raw);
        assert!(matches!(s, 403 | 415), "{h:?}: {s}");
    }
    // A foreign Host (DNS rebinding) is refused even for reads.
    let raw = http_raw(
        m.http_addr(),
        format!(
            "GET /api/customers HTTP/1.1\r\nHost: evil.example:{}\r\nConnection: close\r\n\
             Authorization: Bearer {admin}\r\n\r\n",
            m.http_addr().port()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(status_of(&raw), 403);
    // Nothing changed.
    assert_eq!(get(&m, "/api/payments").await.as_array().unwrap().len(), 0);
    let li = customer(&m, "Li Wei").await;
    assert_eq!(li["balance"], "50.0000", "{li}");
    // The same request from the station's own origin goes through.
    let ok = format!(
        "{bearer}Origin: http://{}\r\nContent-Type: application/json\r\n",
        m.http_addr()
    );
    let raw = http_raw(m.http_addr(), &raw_post(&m, "/api/payments", &ok, body))
        .await
        .unwrap();
    assert_eq!(status_of(&raw), 200);
    // The refusals are in the audit trail.
    let trail = get(&m, "/api/audit").await;
    let refused = trail
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| matches!(r["status"].as_u64(), Some(403 | 415)))
        .count();
    assert!(refused >= attempts.len(), "{trail}");
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_from_the_site_file_and_the_options() {
    let cashier = auth::ApiKey::generate().unwrap();
    let hash = auth::KeyHash::new(&cashier).unwrap();
    let mut s = two_customers(11);
    s.operators.push(toml_operator(&format!(
        "name = \"counter\"\nrole = \"cashier\"\nkey_hash = \"{hash}\"\n"
    )));
    let mut o = options(s, temp_db("auth-site"));
    let (auditor_op, auditor) =
        auth::new_operator("cli-audit", Role::Auditor, Source::Configured).unwrap();
    o.operators.push(auditor_op);
    let m = start(o).await.unwrap();
    assert!(m.bootstrap_key().is_none());
    let pay = json!({"customer": "Li Wei", "amount": "1.00", "order_no": "S-1"});
    let (s, v) = call(&m, cashier.expose(), "POST", "/api/payments", Some(pay)).await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = call(&m, auditor.expose(), "GET", "/api/audit", None).await;
    assert_eq!(s, 200);
    // Nobody can manage operators (no admin), and configured ones cannot be revoked.
    let (s, _) = call(
        &m,
        auditor.expose(),
        "POST",
        "/api/operators/counter/revoke",
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 403);
    m.shutdown().await;
}

fn toml_operator(text: &str) -> auth::SiteOperator {
    toml::from_str(text).unwrap()
}

fn temp_db_path(_m: &MasterHandle) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "amikit-master-{}-{}",
        "auth-roles",
        std::process::id()
    ));
    dir.join("master.db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unauthenticated_requests_cannot_fill_the_audit_trail() {
    let m = start(options(two_customers(18), temp_db("auth-flood")))
        .await
        .unwrap();
    let n = amikit_station::master::api_gate::ANONYMOUS_AUDIT_BUDGET as usize + 20;
    for _ in 0..n {
        let (s, _) = http_json(m.http_addr(), "", "GET", "/api/customers", None)
            .await
            .unwrap();
        assert_eq!(s, 401);
    }
    // An authenticated refusal is always recorded.
    let auditor = new_operator(&m, "audit", "auditor").await;
    let (s, _) = call(&m, &auditor, "POST", "/api/payments", Some(json!({}))).await;
    assert_eq!(s, 403);
    let trail = get(&m, "/api/audit").await;
    let rows = trail.as_array().unwrap();
    let anonymous = rows.iter().filter(|r| r["status"] == 401).count();
    assert_eq!(
        anonymous,
        amikit_station::master::api_gate::ANONYMOUS_AUDIT_BUDGET as usize
    );
    assert!(
        rows.iter()
            .any(|r| r["status"] == 403 && r["operator"] == "audit")
    );
    m.shutdown().await;
}
