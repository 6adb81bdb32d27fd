//! The `amikit` command's common behaviour: help, version, input handling and exit statuses.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::{amikit, amikit_stdin};

#[test]
fn help_and_version_succeed() {
    let help = amikit(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Usage: amikit"), "{text}");
    assert!(text.contains("decode"), "{text}");

    let version = amikit(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("amikit {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(amikit(&["no-such-command"]).status.code(), Some(2));
    assert_eq!(amikit(&["decode", "--no-such-flag"]).status.code(), Some(2));
}

#[test]
fn bad_input_exits_1_with_a_message() {
    let out = amikit(&["decode", "6"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("amikit: "), "{err}");
    assert!(err.contains("odd number of hex digits"), "{err}");

    let out = amikit(&["decode", "01 02 03"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not recognised"));

    let out = amikit_stdin(&["decode"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no input"));
}

#[test]
fn decode_finds_frames_behind_garbage() {
    // Login frame from liangminhua/qgdw376.1.ksy packet-sample/login.3761, twice, with garbage
    // (including a stray 68) before, between and after.
    let login = "683200320068C97101220800027800000100E016";
    let input = format!("00 68 11 {login} 00 {login} 16");
    let out = amikit(&["--json", "decode", &input]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let frames: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(frames.len(), 2, "{stdout}");
    assert!(
        frames
            .iter()
            .all(|f| f["protocol"] == "gdw376" && f["afn"] == "02")
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 frame(s); skipped 5 byte(s)"), "{err}");

    // DL/T 645 read request (Jayla630/Dlt645Master tests) behind garbage.
    let out = amikit(&["decode", "01 02 68AAAAAAAAAAAA68110433333433AE16"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("DL/T 645-2007 AAAAAAAAAAAA request read 00010000, 4 B, control 11"),
        "{stdout}"
    );
}
