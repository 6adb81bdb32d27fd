//! `amikit gdw376 …` and the Q/GDW 376.1 arm of `amikit decode`. Frames are public test frames
//! from the shared vectors (sources named per constant).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::{amikit, json};

use serde_json::Value;

/// liangminhua/qgdw376.1.ksy packet-sample/login.3761 (vector gdw376-001).
const LOGIN: &str = "683200320068C97101220800027800000100E016";
/// powerstation ConverterTest.testDecodeData (gdw376-082): AFN 10 F1 reply with a DL/T 645-1997 frame.
const FORWARD: &str = "68A600A60068881296563402107600000100001A006801000000000068810E82F3C0A3333433343533383335334116F516";
/// powerstation Decoder376Test (gdw376-052): AFN 0C F25 with EF filler.
const F25_EF: &str = "683E013E01689812965634040C641001010326140108107311012537002537002437000001000000000000000000009909001000100010902100229021001700901600901600EFEFEFEFEFEFEFEFEFEFEFEFEFEFEFF916";
/// turtlerrrrr ProtocalManagerRgmTest05 (gdw376-042): AFN 05 F31 with a 2-byte PW.
const CLOCK_PW2: &str = "686A006A00684A10133930F605F10000400355301012831560040155301012005016";
/// liangminhua packet-sample/qafn12f25.3761 (gdw376-050): AFN 0C F25 request with Tp.
const READ_F25: &str = "684A004A00684B71012208020CEB010101030B13491628008B16";

#[test]
fn decode_json_has_the_issue_keys() {
    for args in [
        vec!["--json", "gdw376", "decode", LOGIN],
        vec!["--json", "decode", LOGIN],
    ] {
        let j = json(&amikit(&args));
        assert_eq!(j["protocol"], "gdw376");
        assert_eq!(j["length"], 12);
        assert_eq!(j["protocol_id"], 2);
        let c = &j["control"];
        assert_eq!(c["raw"], "C9");
        assert_eq!(c["dir"], "up");
        assert_eq!(c["prm"], true);
        assert_eq!(c["acd_fcb"], false);
        assert_eq!(c["fcv"], false);
        assert_eq!(c["function"], 9);
        assert_eq!(j["address"]["a1"], "0171");
        assert_eq!(j["address"]["a2"], 2082);
        assert_eq!(j["address"]["msa"], 0);
        assert_eq!(j["address"]["group"], false);
        assert_eq!(j["afn"], "02");
        let s = &j["seq"];
        assert_eq!(
            (
                s["tpv"].as_bool(),
                s["fir"].as_bool(),
                s["fin"].as_bool(),
                s["con"].as_bool()
            ),
            (Some(false), Some(true), Some(true), Some(true))
        );
        assert_eq!(s["seq"], 8);
        assert_eq!(j["units"][0]["pn"], 0);
        assert_eq!(j["units"][0]["fn"], 1);
        assert_eq!(j["units"][0]["data"], "");
        assert_eq!(j["units"][0]["value"], "empty");
        assert!(j["aux"]["pw"].is_null() && j["aux"]["ec"].is_null() && j["aux"]["tp"].is_null());
        assert!(j["inner"].is_null());
    }
}

#[test]
fn forwarded_645_is_decoded_under_inner_like_dlt645_decode() {
    let j = json(&amikit(&["--json", "gdw376", "decode", FORWARD]));
    let inner = &j["inner"];
    assert_eq!(inner["protocol"], "dlt645");
    assert_eq!(inner["address"], "000000000001");
    assert_eq!(inner["control"], "81");
    // The same keys as `amikit dlt645 decode` of the payload.
    let payload = j["units"][0]["value"]["forward_reply"]["payload"]
        .as_str()
        .unwrap();
    let direct = json(&amikit(&["--json", "dlt645", "decode", payload]));
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(inner), keys(&direct));
    assert_eq!(inner["di"], direct["di"]);
}

#[test]
fn profile_picks_the_dialect() {
    // Strict: EF filler is an error on the unit (the frame still decodes).
    let j = json(&amikit(&["--json", "gdw376", "decode", F25_EF]));
    assert!(j["units"][0]["value"].is_null());
    assert!(j["units"][0]["error"].as_str().unwrap().contains("not BCD"));
    // Lenient: EF read as absent; P total 1.1173 kW as an exact decimal string.
    let j = json(&amikit(&[
        "--json",
        "gdw376",
        "decode",
        "--profile",
        "lenient",
        F25_EF,
    ]));
    assert_eq!(
        j["units"][0]["value"]["realtime"]["active_power"][0],
        "1.1173"
    );
    assert_eq!(j["units"][0]["value"]["realtime"]["voltage"][0], "219.0");
    // A 2-byte PW frame needs the pw2 profile: strict reading puts 16 PW bytes where there are not.
    let strict = amikit(&["--json", "gdw376", "decode", CLOCK_PW2]);
    assert_eq!(strict.status.code(), Some(1));
    let j = json(&amikit(&[
        "--json",
        "gdw376",
        "decode",
        "--profile",
        "pw2",
        CLOCK_PW2,
    ]));
    assert_eq!(j["aux"]["pw"], "6004");
    assert_eq!(
        j["units"][0]["value"]["clock_sync"]["datetime"],
        "2015-03-12T10:30:55"
    );
    assert_eq!(j["aux"]["tp"]["pfc"], 1);
}

#[test]
fn build_requests() {
    // The same request as the capture gdw376-050, rebuilt byte for byte.
    let out = amikit(&[
        "gdw376",
        "build",
        "read-realtime",
        "--a1",
        "0171",
        "--a2",
        "2082",
        "--msa",
        "1",
        "--pfc",
        "11",
        "--tp",
        "28T16:49:13",
        "--delay",
        "0",
    ]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), READ_F25);
    for (what, afn, fn_) in [
        ("trip", "05", 1),
        ("allow-close", "05", 2),
        ("guard-on", "05", 25),
    ] {
        let out = amikit(&["gdw376", "build", what, "--a1", "0171", "--a2", "2082"]);
        assert!(out.status.success(), "{what}");
        let hex = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let j = json(&amikit(&["--json", "gdw376", "decode", &hex]));
        assert_eq!(j["afn"], afn);
        assert_eq!(j["units"][0]["fn"], fn_);
        assert_eq!(j["aux"]["pw"], "00000000000000000000000000000000");
        assert_eq!(j["control"]["raw"], "4A");
    }
}

#[test]
fn errors_exit_1_and_usage_errors_2() {
    let out = amikit(&["gdw376", "decode", "683200330068"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!out.stderr.is_empty());
    let out = amikit(&["gdw376", "decode", "--profile", "nope", LOGIN]);
    assert_eq!(out.status.code(), Some(1));
    let out = amikit(&["gdw376", "build", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = amikit(&["gdw376", "build", "trip", "--a1", "01x1"]);
    assert_eq!(out.status.code(), Some(1));
}
