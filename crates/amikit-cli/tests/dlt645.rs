//! `amikit dlt645 …` and the DL/T 645 arm of `amikit decode`. Frames are the shared vectors'
//! public test frames (sources named per test).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::{amikit, json_lines};

/// unsurper/dlt645go test/dlt645_0x33333433_test.go: forward active energy 0.02 kWh.
const ENERGY: &str = "687602024702026891083333343335333333C916";
/// johngai19/dlt645Driver test/dltparser_test.js: 4 FE, phase A voltage 229.7 V.
const VOLTAGE: &str = "FEFEFEFE6843100011340068910633343435CA55EE16";
/// Jayla630/Dlt645Master: read request to the wildcard address.
const REQUEST: &str = "68AAAAAAAAAAAA68110433333433AE16";

#[test]
fn decode_json_has_the_issue_keys() {
    for args in [
        vec!["--json", "dlt645", "decode", VOLTAGE],
        vec!["--json", "decode", VOLTAGE],
    ] {
        let out = amikit(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = json_lines(&out);
        assert_eq!(v.len(), 1);
        let f = &v[0];
        assert_eq!(f["protocol"], "dlt645");
        assert_eq!(f["edition"], "2007");
        assert_eq!(f["preamble"], 4);
        assert_eq!(f["address"], "003411001043");
        assert_eq!(f["control"], "91");
        assert_eq!(f["direction"], "slave_to_master");
        assert_eq!(f["function"], "read");
        assert_eq!(f["follow_up"], false);
        assert!(f["error"].is_null());
        assert_eq!(f["di"], "02010100");
        assert_eq!(f["payload"], "9722");
        assert_eq!(f["values"][0]["di"], "02010100");
        assert_eq!(f["values"][0]["name"], "phase A voltage");
        assert_eq!(f["values"][0]["value"], "229.7");
        assert_eq!(f["values"][0]["unit"], "V");
    }
}

#[test]
fn edition_detected_and_overridden() {
    // cqqqq/go645 TestRead (1997): B613 = 220 V.
    let out = amikit(&[
        "--json",
        "dlt645",
        "decode",
        "6811110000000068810446E953352E16",
    ]);
    let f = &json_lines(&out)[0];
    assert_eq!(f["edition"], "1997");
    assert_eq!(f["di"], "B613");
    assert_eq!(f["values"][0]["value"], "220");
    // forced 2007: 0x81 is not a 2007 function
    let out = amikit(&[
        "--json",
        "dlt645",
        "decode",
        "--edition",
        "2007",
        "6811110000000068810446E953352E16",
    ]);
    let f = &json_lines(&out)[0];
    assert_eq!(f["edition"], "2007");
    assert_eq!(f["function"], "unknown");
    assert!(f["di"].is_null());
}

#[test]
fn abnormal_reply_error_object() {
    // A 0xD1 reply with error word 0x02 (no requested data), built with the library.
    let out = amikit(&["--json", "dlt645", "decode", "6878563412000068D1013502"]);
    // (truncated on purpose: no valid frame) -> exit 1
    assert_eq!(out.status.code(), Some(1));
    let bytes = frame(0xD1, &[0x02]);
    let out = amikit(&["--json", "dlt645", "decode", &bytes]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = &json_lines(&out)[0];
    assert_eq!(f["error"]["word"], "02");
    assert_eq!(
        f["error"]["flags"],
        serde_json::json!(["no_requested_data"])
    );
    assert_eq!(f["function"], "read");
}

fn frame(control: u8, plain: &[u8]) -> String {
    let mut f = vec![
        0x68,
        0x78,
        0x56,
        0x34,
        0x12,
        0x00,
        0x00,
        0x68,
        control,
        plain.len() as u8,
    ];
    f.extend(plain.iter().map(|b| b.wrapping_add(0x33)));
    let cs = f.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    f.extend([cs, 0x16]);
    f.iter().map(|b| format!("{b:02X}")).collect()
}

#[test]
fn several_frames_and_garbage() {
    let input = format!("00 11 {ENERGY} 68 FE FE {REQUEST}");
    let out = amikit(&["--json", "dlt645", "decode", &input]);
    assert_eq!(out.status.code(), Some(0));
    let v = json_lines(&out);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["values"][0]["value"], "0.02");
    assert_eq!(v[1]["direction"], "master_to_slave");
    assert_eq!(v[1]["preamble"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("skipped 3 byte(s)"), "{err}");
}

#[test]
fn invalid_frame_exits_1_with_the_reason() {
    // Jayla630 negative vector: CS corrupted E7 -> E8.
    let out = amikit(&[
        "dlt645",
        "decode",
        "680172007200006891083333343333333333E816",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("checksum mismatch: computed 0xE7, frame has 0xE8"),
        "{err}"
    );
    let out = amikit(&["decode", "680172007200006891083333343333333333E816"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"));
    let out = amikit(&["dlt645", "decode", "0102"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn read_prints_the_request() {
    // peace0phmind/dlt645 frame_test.go: read 02010100 from 12345678.
    let out = amikit(&[
        "dlt645",
        "read",
        "--address",
        "000012345678",
        "--di",
        "02010100",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "6878563412000068110433343435C916"
    );
    // fdxxw/rs-dlt645: 4 FE preamble.
    let out = amikit(&[
        "dlt645",
        "read",
        "--address",
        "202208310002",
        "--di",
        "028022FF",
        "--preamble",
        "4",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "FEFEFEFE680200310822206811043255B335D116"
    );
    let out = amikit(&[
        "--json",
        "dlt645",
        "read",
        "--address",
        "000012345678",
        "--di",
        "9010",
    ]);
    let f = &json_lines(&out)[0];
    assert_eq!(f["edition"], "1997");
    assert_eq!(f["control"], "01");
    assert_eq!(f["di"], "9010");
    assert!(
        f["hex"]
            .as_str()
            .unwrap()
            .starts_with("68785634120000680102")
    );
    // mismatched edition and bad input
    assert_eq!(
        amikit(&[
            "dlt645",
            "read",
            "--address",
            "1",
            "--di",
            "9010",
            "--edition",
            "2007"
        ])
        .status
        .code(),
        Some(1)
    );
    assert_eq!(
        amikit(&[
            "dlt645",
            "read",
            "--address",
            "12345678901X",
            "--di",
            "9010"
        ])
        .status
        .code(),
        Some(1)
    );
    assert_eq!(
        amikit(&["dlt645", "read", "--address", "1"]).status.code(),
        Some(2)
    );
}
