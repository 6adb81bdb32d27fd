//! `amikit sts …` and the STS arm of `amikit decode`.
//!
//! Tokens with the sample tables come from the IEC 62055-41 worked example of the STA (EA07);
//! tokens, keys and derivations with the production tables are read at run time from the shared
//! vectors (`../shared/vectors/sts`, or `$AMIKIT_VECTORS`), never copied here; those tests are
//! skipped without the vectors (and fail when `CI` is set).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::{amikit, stdout};

use serde_json::Value;

fn ok_json(args: &[&str]) -> Value {
    let out = amikit(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn load(dir: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("sts_vectors.json")).unwrap()).unwrap()
}

/// IEC 62055-41 worked example of the STA (EA07) with the sample tables.
const WORKED_TOKEN: &str = "51043465443420856213";
const WORKED_KEY: &str = "0abc12def3456789";

#[test]
fn decode_worked_example_with_key() {
    let j = ok_json(&["--json", "sts", "decode", WORKED_TOKEN, "--key", WORKED_KEY]);
    assert_eq!(j["class"], 0);
    assert_eq!(j["subclass"], 0);
    assert_eq!(j["type"], "TransferElectricityCredit");
    assert_eq!(j["rnd"], 11);
    assert_eq!(j["tid"], 1_698_595);
    assert_eq!(j["tid_datetime"], "1996-03-25T13:55:00");
    assert_eq!(j["amount"], "25.6");
    assert_eq!(j["amount_raw"], "0100");
    assert_eq!(j["unit"], "kWh");
    assert_eq!(j["crc_ok"], true);
    assert_eq!(j["block"], "0b19eb230100c207");
    assert_eq!(j["encryption"], "EA07");
    assert!(j["sta_tables"].as_str().unwrap().contains("sample"), "{j}");
    // Grouped input, human output.
    let out = amikit(&[
        "sts",
        "decode",
        "5104-3465-4434-2085-6213",
        "--key",
        WORKED_KEY,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("amount: 25.6 kWh"), "{text}");
    assert!(text.contains("sample"), "{text}");
}

#[test]
fn wrong_key_is_a_crc_error() {
    let out = amikit(&[
        "--json",
        "sts",
        "decode",
        WORKED_TOKEN,
        "--key",
        "0abc12def3456788",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["crc_ok"], false);
    assert!(String::from_utf8_lossy(&out.stderr).contains("CRC"));
}

#[test]
fn decode_without_key_shows_the_class() {
    for args in [
        vec!["--json", "decode", "5104-3465-4434-2085-6213"],
        vec!["--json", "sts", "decode", WORKED_TOKEN],
    ] {
        let j = ok_json(&args);
        assert_eq!(j["protocol"], "sts");
        assert_eq!(j["class"], 0);
        assert_eq!(j["encrypted"], true);
        assert!(j["subclass"].is_null());
    }
    // Not a token: 2^66 is a format error.
    let out = amikit(&["sts", "decode", "73786976294838206464"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("2^66"));
}

#[test]
fn class_1_decodes_without_key() {
    // IEC 62055-41 decimal token form: a class-1 token above 2^64.
    let j = ok_json(&["--json", "decode", "18446744073843772416"]);
    assert_eq!(j["class"], 1);
    assert_eq!(j["subclass"], 0);
    assert_eq!(j["type"], "InitiateMeterTestOrDisplay1");
    assert_eq!(j["crc_ok"], true);
    assert_eq!(j["encryption"], "none");
    assert!(j["control"].is_string());
    // A generated meter-test token decodes back.
    let out = amikit(&[
        "sts",
        "generate",
        "meter-test",
        "--control",
        "2000",
        "--manufacturer",
        "47",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let token = stdout(&out);
    let j = ok_json(&["--json", "decode", &token]);
    assert_eq!(j["control"], "2000");
    assert_eq!(j["manufacturer_code"], 47);
}

#[test]
fn generate_worked_example() {
    let out = amikit(&[
        "sts",
        "generate",
        "credit",
        "--key",
        WORKED_KEY,
        "--amount",
        "25.6",
        "--time",
        "1996-03-25T13:55",
        "--rnd",
        "11",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout(&out), WORKED_TOKEN);
    assert!(String::from_utf8_lossy(&out.stderr).contains("sample"));
    let j = ok_json(&[
        "--json", "sts", "generate", "credit", "--key", WORKED_KEY, "--amount", "25.6", "--tid",
        "1698595", "--rnd", "11",
    ]);
    assert_eq!(j["token"], WORKED_TOKEN);
    assert_eq!(j["amount"], "25.6");
    assert!(j["sta_tables"].as_str().unwrap().contains("sample"));
}

#[test]
fn generate_refusals() {
    let base = [
        "sts", "generate", "credit", "--key", WORKED_KEY, "--amount", "1",
    ];
    // The reserved minute as an explicit TID.
    let mut args = base.to_vec();
    args.extend(["--tid", "1441"]);
    let out = amikit(&args);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reserved"));
    // A default-key meter gets no credit (STS 531 CTSA16).
    let mut args = base.to_vec();
    args.extend(["--tid", "100", "--kt", "1"]);
    let out = amikit(&args);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("default key"));
    // Neither --tid nor --time: a usage error.
    assert_eq!(amikit(&base).status.code(), Some(2));
    // Both: a usage error too.
    let mut args = base.to_vec();
    args.extend(["--tid", "100", "--time", "2004-01-01T00:00"]);
    assert_eq!(amikit(&args).status.code(), Some(2));
}

#[test]
fn management_and_key_change_round_trip() {
    let token = stdout(&amikit(&[
        "sts",
        "generate",
        "max-power-limit",
        "--key",
        WORKED_KEY,
        "--watts",
        "20000",
        "--tid",
        "100",
    ]));
    let j = ok_json(&["--json", "sts", "decode", &token, "--key", WORKED_KEY]);
    assert_eq!(j["type"], "SetMaximumPowerLimit");
    assert_eq!(j["amount"], "20004"); // rounded up to the next representable limit
    assert_eq!(j["unit"], "W");

    let j = ok_json(&[
        "--json",
        "sts",
        "generate",
        "key-change",
        "--key",
        WORKED_KEY,
        "--new-key",
        "00112233445566778899aabbccddeeff",
        "--new-krn",
        "2",
        "--new-ti",
        "7",
        "--new-sgc",
        "123457",
        "--rollover",
        "--ea",
        "07",
    ]);
    let tokens = j["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 4);
    let types: Vec<String> = tokens
        .iter()
        .map(|t| {
            ok_json(&[
                "--json",
                "sts",
                "decode",
                t.as_str().unwrap(),
                "--key",
                WORKED_KEY,
            ])["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        types,
        [
            "Set1stSectionDecoderKey",
            "Set2ndSectionDecoderKey",
            "Set3rdSectionDecoderKey",
            "Set4thSectionDecoderKey"
        ]
    );
}

#[test]
fn bad_sta_tables_file() {
    let path =
        std::env::temp_dir().join(format!("amikit-sts-bad-tables-{}.json", std::process::id()));
    let mut s1: Vec<u8> = (0..16).collect();
    s1[3] = 4; // 4 twice: not a permutation
    let json = serde_json::json!({ "S1": s1, "S2": (0..16).collect::<Vec<u8>>(), "P": (0..64).collect::<Vec<u8>>() });
    std::fs::write(&path, json.to_string()).unwrap();
    let out = amikit(&[
        "sts",
        "decode",
        WORKED_TOKEN,
        "--key",
        WORKED_KEY,
        "--sta-tables",
        path.to_str().unwrap(),
    ]);
    std::fs::remove_file(&path).ok();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a permutation"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// With the production tables file and the first compliance vectors of the shared set.
#[test]
fn compliance_vectors_through_the_cli() {
    let Some(dir) = amikit_testkit::vectors_dir("cli sts vectors").map(|d| d.join("sts")) else {
        return;
    };
    let v = load(&dir);
    let tables = dir.join("sta_production_tables.json");
    let tables = tables.to_str().unwrap();
    let mut checked = 0;
    for t in v["token_vectors_sts531_and_standard_example"]
        .as_array()
        .unwrap()
    {
        let Some(key) = t["decoder_key_hex"].as_str() else {
            continue;
        };
        let ea = match t["encryption"].as_str().unwrap() {
            "EA07_STA" => "07",
            "EA11_MISTY1" => "11",
            _ => continue,
        };
        let token = t["token"].as_str().unwrap();
        let j = ok_json(&[
            "--json",
            "sts",
            "decode",
            token,
            "--key",
            key,
            "--ea",
            ea,
            "--sta-tables",
            tables,
        ]);
        assert_eq!(j["crc_ok"], true, "{token}");
        assert_eq!(j["block"], t["plaintext_block_hex"], "{token}");
        assert_eq!(j["class"], t["token_class"], "{token}");
        assert_eq!(j["subclass"], t["token_subclass"], "{token}");
        let f = &t["decoded_fields"];
        if let Some(raw) = f["amount_raw_hex"].as_str() {
            assert_eq!(j["amount_raw"], raw, "{token}");
            assert_eq!(j["rnd"], f["rnd"], "{token}");
            assert_eq!(j["tid"], f["tid"], "{token}");
        }
        if ea == "07" {
            assert!(
                j["sta_tables"].as_str().unwrap().starts_with("file "),
                "{j}"
            );
        }
        checked += 1;
        if checked >= 12 {
            break;
        }
    }
    assert_eq!(checked, 12);

    // Key derivation: the first DKGA02 vector and a 128-bit DKGA04 vector.
    let d = &v["dkga02_vectors"][0];
    let out = amikit(&[
        "sts",
        "derive-key",
        "--dkga",
        "02",
        "--vending-key",
        d["vending_key_hex"].as_str().unwrap(),
        "--pan",
        d["meter_pan"].as_str().unwrap(),
        "--sgc",
        d["supply_group_code"].as_str().unwrap(),
        "--ti",
        d["tariff_index"].as_str().unwrap(),
        "--krn",
        &d["key_revision_number"].to_string(),
        "--kt",
        &d["key_type"].to_string(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout(&out), d["decoder_key_hex"].as_str().unwrap());

    let d = v["dkga04_vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ea_code"] == "11")
        .unwrap();
    let base = match d["base_date_code"].as_str().unwrap() {
        "93" => "1993",
        "14" => "2014",
        _ => "2035",
    };
    let j = ok_json(&[
        "--json",
        "sts",
        "derive-key",
        "--dkga",
        "04",
        "--vending-key",
        d["vending_key_hex"].as_str().unwrap(),
        "--pan",
        d["meter_pan"].as_str().unwrap(),
        "--sgc",
        d["supply_group_code"].as_str().unwrap(),
        "--ti",
        d["tariff_index"].as_str().unwrap(),
        "--krn",
        d["key_revision_number"].as_str().unwrap(),
        "--kt",
        d["key_type"].as_str().unwrap(),
        "--base-date",
        base,
        "--ea",
        "11",
    ]);
    assert_eq!(j["decoder_key"], d["decoder_key_hex"]);
    assert_eq!(j["bits"], 128);
}
