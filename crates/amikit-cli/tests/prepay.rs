//! `amikit prepay simulate` on the example event files (`examples/events/`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::{amikit, json};

use serde_json::{Value, json};

const CN: &str = "examples/tariffs/cn-residential-steps-tou.toml";
const SG_EVENTS: &str = "examples/events/state-grid-run-out-and-top-up.toml";
const UK: &str = "examples/events/uk-flat-gbp.toml";
const UK_EVENTS: &str = "examples/events/uk-emergency-credit-weekend.toml";

fn simulate(profile: &str, tariff: &str, events: &str) -> Value {
    json(&amikit(&[
        "--json",
        "prepay",
        "simulate",
        "--profile",
        profile,
        "--tariff",
        tariff,
        "--events",
        events,
    ]))
}

/// Outputs of timeline entry `i` without the persist requests.
fn outputs(v: &Value, i: usize) -> Vec<Value> {
    v["timeline"][i]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o.get("persist").is_none())
        .cloned()
        .collect()
}

fn state(v: &Value, i: usize) -> (&str, &str, &str) {
    let s = &v["timeline"][i]["state"];
    (
        s["net"].as_str().unwrap(),
        s["credit"].as_str().unwrap(),
        s["relay"].as_str().unwrap(),
    )
}

#[test]
fn state_grid_customer_runs_out_and_tops_up() {
    let v = simulate("state-grid-local", CN, SG_EVENTS);
    // Peak 0.568, valley 0.288 (first step): 15 − 5×0.568 − 4×0.568 = 9.888 ≤ alarm 1 (10).
    assert_eq!(state(&v, 2), ("9.8880", "low", "closed"));
    // − 14×0.568 = 1.936 ≤ alarm 2 (2): cut, restorable.
    assert_eq!(state(&v, 3), ("1.9360", "alarm2", "open"));
    assert!(outputs(&v, 3).contains(&json!({"relay": {"open": {"cause": "fee", "causes": 4}}})));
    assert_eq!(state(&v, 4), ("1.9360", "alarm2", "closed"));
    // − 4×0.568 = −0.336: zero cut; the button selects the overdraft.
    assert_eq!(state(&v, 5), ("-0.3360", "zero", "open"));
    assert_eq!(state(&v, 6), ("-0.3360", "zero", "closed"));
    // − 10×0.288 = −3.216; − 12×0.568 = −10.032 ≤ −10: hard cut, the button does nothing.
    assert_eq!(state(&v, 7), ("-3.2160", "zero", "closed"));
    assert_eq!(state(&v, 8), ("-10.0320", "exhausted", "open"));
    assert_eq!(outputs(&v, 9), Vec::<Value>::new());
    // + 12 = 1.968, not above the reconnect threshold 5: still cut.
    assert_eq!(state(&v, 10), ("1.9680", "exhausted", "open"));
    // + 50 by card = 51.968: closes at once (the card is the customer's action).
    assert_eq!(state(&v, 11), ("51.9680", "normal", "closed"));
    assert!(outputs(&v, 11).contains(&json!({"relay": {"close": {"reason": "payment"}}})));
    // The replayed card purchase is refused.
    assert_eq!(
        outputs(&v, 12),
        vec![json!({"reject": {"input": "top_up", "reason": {"replayed": {"sequence": 2}}}})]
    );
    // Power cycle restores the same state; then 3×0.568 = 1.704.
    assert_eq!(state(&v, 13), ("51.9680", "normal", "closed"));
    assert_eq!(v["final"]["net"], "50.2640");
    assert_eq!(
        (v["cuts"].as_u64(), v["restores"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(v["rejections"], 1);
}

#[test]
fn uk_customer_uses_emergency_credit_over_a_weekend() {
    let v = simulate("iec62055", UK, UK_EVENTS);
    // 0.245 + 5 % = 0.25725/kWh: 4 − 8 × 0.25725 = 1.942 (low), − 4 × 0.25725 = 0.913 ≤ 1.00.
    assert_eq!(state(&v, 1), ("1.9420", "low", "closed"));
    assert_eq!(
        outputs(&v, 2),
        vec![json!({"notify": {"emergency_credit_available": {"amount": "5.0000"}}})]
    );
    // On emergency credit below zero: no cut.
    assert_eq!(state(&v, 4), ("-0.1160", "zero", "closed"));
    // Saturday noon: exhausted (−5.3765 ≤ −5) but no disconnection at the weekend.
    assert_eq!(state(&v, 8), ("-5.3765", "exhausted", "closed"));
    // Monday 08:00: the friendly window ends and supply is cut.
    assert_eq!(state(&v, 12), ("-9.7235", "exhausted", "open"));
    // 5.00 repays part of the debt: still cut; 20.00 more: allowed, not closed.
    assert_eq!(state(&v, 13), ("-4.7235", "exhausted", "open"));
    assert_eq!(state(&v, 14), ("15.2765", "normal", "armed"));
    assert_eq!(state(&v, 15), ("15.2765", "normal", "closed"));
    assert_eq!(v["final"]["debt"], "0.0000");
    assert_eq!(
        (v["cuts"].as_u64(), v["restores"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn master_station_profile_issues_commands() {
    let v = simulate("state-grid-remote", CN, SG_EVENTS);
    let all: Vec<Value> = (0..v["timeline"].as_array().unwrap().len())
        .flat_map(|i| outputs(&v, i))
        .collect();
    assert!(all.iter().all(|o| o.get("relay").is_none()));
    assert!(all.contains(&json!({"command": {"kind": "alarm", "reason": "reminder"}})));
    assert!(all.contains(&json!({"command": {"kind": "trip", "reason": {"open": "fee"}}})));
    assert!(
        all.contains(&json!({"command": {"kind": "allow_close", "reason": {"close": "payment"}}}))
    );
}

#[test]
fn text_timeline() {
    let o = amikit(&[
        "prepay",
        "simulate",
        "--profile",
        "state-grid-local",
        "--tariff",
        CN,
        "--events",
        SG_EVENTS,
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("RELAY OPEN (fee; causes fee)"), "{text}");
    assert!(text.contains("REJECTED: replayed purchase"), "{text}");
    assert!(text.contains("end: net 50.2640 CNY"), "{text}");
}

fn temp(name: &str, body: &str) -> String {
    let path = std::env::temp_dir().join(format!("amikit-prepay-{}-{name}", std::process::id()));
    std::fs::write(&path, body).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn errors() {
    // Unknown profile: usage error.
    let o = amikit(&[
        "prepay",
        "simulate",
        "--profile",
        "nope",
        "--tariff",
        CN,
        "--events",
        SG_EVENTS,
    ]);
    assert_eq!(o.status.code(), Some(2));
    // Missing file.
    let o = amikit(&[
        "prepay",
        "simulate",
        "--profile",
        "iec62055",
        "--tariff",
        CN,
        "--events",
        "/nonexistent.toml",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("events"));
    // Events out of time order.
    let f = temp(
        "order.json",
        r#"{"opening_balance": "1", "events": [
            {"at": "2026-01-02T00:00", "event": "tick"},
            {"at": "2026-01-01T00:00", "event": "tick"}]}"#,
    );
    let o = amikit(&[
        "prepay",
        "simulate",
        "--profile",
        "iec62055",
        "--tariff",
        CN,
        "--events",
        &f,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("time order"));
    // A bad parameter value.
    let f = temp(
        "param.json",
        r#"{"opening_balance": "1", "params": {"alarm1": "maybe"}, "events": []}"#,
    );
    let o = amikit(&[
        "prepay",
        "simulate",
        "--profile",
        "iec62055",
        "--tariff",
        CN,
        "--events",
        &f,
    ]);
    assert_eq!(o.status.code(), Some(1));
    // An invalid configuration (alarm 2 above alarm 1).
    let f = temp(
        "config.json",
        r#"{"opening_balance": "1", "params": {"alarm1": "1", "alarm2": "5"}, "events": []}"#,
    );
    let o = amikit(&[
        "prepay",
        "simulate",
        "--profile",
        "state-grid-local",
        "--tariff",
        CN,
        "--events",
        &f,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("alarm 2"));
}
