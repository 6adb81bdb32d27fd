//! Stop the master station in the middle of a run and start it again on the same database:
//! nothing is lost and nothing is applied twice. The terminal keeps running (and re-dials) the
//! whole time, on the same simulated clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use amikit_station::clock::{Civil, SimClock};
use amikit_station::master::{self, MasterHandle, MasterOptions, http_json, http_list};
use amikit_station::site::Site;
use amikit_station::terminal::{self, TerminalOptions};
use serde_json::{Value, json};

async fn api(m: &MasterHandle, method: &str, path: &str, body: Option<Value>) -> Value {
    let key = m.bootstrap_key().unwrap().expose();
    if method == "GET" {
        let (status, v) = http_json(m.http_addr(), key, method, path, None)
            .await
            .unwrap();
        if status == 200 && v.get("items").is_some() {
            return Value::Array(http_list(m.http_addr(), key, path).await.unwrap());
        }
    }
    let (status, v) = http_json(m.http_addr(), key, method, path, body)
        .await
        .unwrap();
    assert!(status < 300, "{method} {path}: {status} {v}");
    v
}

async fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

async fn start_master(
    site: &Site,
    db: &std::path::Path,
    clock: &SimClock,
    listen: SocketAddr,
) -> MasterHandle {
    let mut opts = MasterOptions::new(site.clone(), db.to_path_buf(), clock.clone());
    opts.listen = listen;
    master::start(opts).await.unwrap()
}

/// Per customer: (period kWh billed, last meter register read, opening kWh of the site).
async fn billing(addr: &MasterHandle) -> Vec<(String, String, String)> {
    let customers = api(addr, "GET", "/api/customers", None).await;
    customers
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["fee_control"] == "remote")
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["period_kwh"].as_str().unwrap().to_owned(),
                c["meters"][0]["energy_kwh"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect()
}

/// Wh of a kWh decimal string.
fn kwh(s: &str) -> i64 {
    amikit_tariff::Energy::parse(s).unwrap().wh()
}

#[test]
fn master_restart_loses_nothing_and_applies_nothing_twice() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let site = Site::demo();
        let dir = std::env::temp_dir().join(format!("amikit-restart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("master.db");
        let _ = std::fs::remove_file(&db);
        let clock = SimClock::new(Civil::new(2026, 3, 2, 6, 0, 0), 1200);
        let listen = free_port();

        let first = start_master(&site, &db, &clock, listen).await;
        let term =
            terminal::start(TerminalOptions::new(site.clone(), 1, listen, clock.clone()).unwrap())
                .await
                .unwrap();
        wait_until("login", Duration::from_secs(10), || term.is_logged_in()).await;

        // A payment and a token before the restart.
        let pay = json!({"customer": "Wang Fang", "amount": "10.00", "order_no": "R-PAY-1"});
        let p = api(&first, "POST", "/api/payments", Some(pay.clone())).await;
        assert_eq!(p["status"], "applied");
        let vend = json!({"customer": "Zhang Min", "amount": "15.00", "order_no": "R-TOKEN-1"});
        let t1 = api(&first, "POST", "/api/tokens", Some(vend.clone())).await;
        let token = t1["token"].as_str().unwrap().to_owned();
        assert!(term.keypad(2, &token).is_ok());
        // A few read rounds.
        tokio::time::sleep(clock.real(3600)).await;
        let before = billing(&first).await;
        let readings_before = api(&first, "GET", "/api/readings?limit=500", None)
            .await
            .as_array()
            .unwrap()
            .len();
        let wang_before = api(&first, "GET", "/api/payments?customer=Wang%20Fang", None).await;

        // Stop the master mid-run; the terminal loses its link and keeps re-dialling.
        first.shutdown().await;
        wait_until("the terminal notices", Duration::from_secs(15), || {
            !term.is_logged_in()
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;

        // Start again on the same database.
        let second = start_master(&site, &db, &clock, listen).await;
        wait_until("re-login", Duration::from_secs(15), || term.is_logged_in()).await;
        let addr = &second;

        // Replays after the restart change nothing.
        let p2 = api(addr, "POST", "/api/payments", Some(pay)).await;
        assert_eq!(p2["status"], "duplicate", "{p2}");
        let wang_after = api(addr, "GET", "/api/payments?customer=Wang%20Fang", None).await;
        assert_eq!(wang_after, wang_before, "payments of Wang Fang changed");
        let t2 = api(addr, "POST", "/api/tokens", Some(vend)).await;
        assert_eq!(t2["status"], "duplicate", "{t2}");
        assert_eq!(
            t2["token"].as_str(),
            Some(token.as_str()),
            "a second token was vended"
        );

        // Everything read before the restart is still there, and reading goes on.
        tokio::time::sleep(clock.real(2700)).await;
        let readings_after = api(addr, "GET", "/api/readings?limit=500", None)
            .await
            .as_array()
            .unwrap()
            .len();
        assert!(
            readings_after >= readings_before + 2 * 5,
            "{readings_before} readings before, {readings_after} after"
        );

        // Nothing lost or billed twice: every kWh the meters read since the opening register is
        // billed exactly once, across the restart.
        let after = billing(addr).await;
        let opening: std::collections::HashMap<&str, &str> = site
            .meters()
            .map(|(_, m)| (m.customer.as_str(), m.opening_kwh.as_str()))
            .collect();
        for (name, period, energy) in before.iter().chain(after.iter()) {
            assert_eq!(
                kwh(period),
                kwh(energy) - kwh(opening[name.as_str()]),
                "{name}: billed {period} kWh, meter read {energy} (opening {})",
                opening[name.as_str()]
            );
        }
        for ((name, p0, _), (_, p1, _)) in before.iter().zip(after.iter()) {
            assert!(
                kwh(p1) > kwh(p0),
                "{name}: billing stopped after the restart ({p0} → {p1})"
            );
        }

        term.shutdown().await;
        second.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    });
}
