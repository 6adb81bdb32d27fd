//! `amikit tariff quote` and `amikit tariff charge` on the example tariff files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::{amikit, json, stdout};

const CN: &str = "examples/tariffs/cn-residential-steps-tou.toml";
const KES: &str = "examples/tariffs/flat-prepaid-kes.toml";

#[test]
fn quote_energy_across_a_step() {
    // Peak at 10:00 (0.568); 200 kWh from 2700 kWh: 60 × 0.568 = 34.08, 140 × 0.618 = 86.52.
    let o = amikit(&[
        "tariff",
        "quote",
        "--tariff",
        CN,
        "--energy",
        "200",
        "--period-used",
        "2700",
        "--at",
        "2024-06-01T10:00",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(
        text.contains("34.0800") && text.contains("86.5200"),
        "{text}"
    );
    assert!(text.contains("total   120.6000 CNY"), "{text}");

    let v = json(&amikit(&[
        "--json",
        "tariff",
        "quote",
        "--tariff",
        CN,
        "--energy",
        "200",
        "--period-used",
        "2700",
        "--at",
        "2024-06-01T10:00",
    ]));
    assert_eq!(v["total"], "120.6000");
    assert_eq!(v["lines"][0]["step"], 1);
    assert_eq!(v["lines"][1]["step"], 2);
    assert_eq!(v["lines"][1]["rate_name"], "peak 峰");
    assert_eq!(v["lines"][1]["unit_price"], "0.6180");
}

#[test]
fn quote_money_with_vat() {
    // 1000 KES at 25.00 + 16 % VAT: 34.482 kWh for 862.05 + 137.928 = 999.978.
    let v = json(&amikit(&[
        "--json", "tariff", "quote", "--tariff", KES, "--money", "1000",
    ]));
    assert_eq!(v["energy_kwh"], "34.482");
    assert_eq!(v["consumption"], "862.0500");
    assert_eq!(v["lines"][1]["name"], "VAT");
    assert_eq!(v["lines"][1]["amount"], "137.9280");
    assert_eq!(v["unspent"], "0.0220");
}

#[test]
fn charge_readings_file() {
    // See the comments in examples/tariffs/readings-cn.toml:
    // 20 kWh peak from 4790 kWh: 10 × 0.618 + 10 × 0.868 = 14.86
    //  5 kWh valley, step 3: 5 × 0.588 = 2.94
    // 30 kWh valley after the rollover, new year, step 1: 30 × 0.288 = 8.64
    // 22 kWh peak across a meter change (15 - 5 + 12 - 0), step 1: 22 × 0.568 = 12.496
    // total 38.936
    let v = json(&amikit(&[
        "--json",
        "tariff",
        "charge",
        "--tariff",
        CN,
        "--readings",
        "examples/tariffs/readings-cn.toml",
    ]));
    let totals: Vec<&str> = v["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["total"].as_str().unwrap())
        .collect();
    assert_eq!(totals, ["14.8600", "2.9400", "8.6400", "12.4960"]);
    assert_eq!(v["intervals"][2]["settled"], true);
    assert_eq!(v["intervals"][3]["meter_change"], true);
    assert_eq!(v["intervals"][3]["metered_kwh"], "22.000");
    assert_eq!(v["total"], "38.9360");
    assert_eq!(v["period_energy_kwh"], "52.000");
}

#[test]
fn charge_json_readings_with_standing_charge() {
    // Flat 25.00 + VAT 16 %, 150.00 a month + VAT: 10 kWh from 2024-01-31 to 2024-02-01 crosses
    // Feb 1: consumption 250 + 40 VAT, standing 150 + 24 VAT, total 464.
    let dir = std::env::temp_dir().join(format!("amikit-tariff-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("readings.json");
    std::fs::write(
        &path,
        r#"{"readings": [{"at": "2024-01-31T00:00", "kwh": "100"}, {"at": "2024-02-01T00:00", "kwh": "110"}]}"#,
    )
    .unwrap();
    let v = json(&amikit(&[
        "--json",
        "tariff",
        "charge",
        "--tariff",
        KES,
        "--readings",
        path.to_str().unwrap(),
    ]));
    assert_eq!(v["consumption"], "250.0000");
    assert_eq!(v["levies"], "40.0000");
    assert_eq!(v["standing"]["periods"], 1);
    assert_eq!(v["standing"]["total"], "174.0000");
    assert_eq!(v["total"], "464.0000");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn errors_exit_1_with_a_message() {
    let dir = std::env::temp_dir().join(format!("amikit-tariff-cli-err-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A register that went backwards.
    let back = dir.join("back.toml");
    std::fs::write(
        &back,
        "readings = [{ at = \"2024-01-01T08:00\", kwh = \"100\" }, { at = \"2024-01-01T22:00\", kwh = \"90\" }]\n",
    )
    .unwrap();
    let o = amikit(&[
        "tariff",
        "charge",
        "--tariff",
        CN,
        "--readings",
        back.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("register went backwards"), "{err}");
    // An interval across the 08:00 peak/valley boundary.
    let cross = dir.join("cross.toml");
    std::fs::write(
        &cross,
        "readings = [{ at = \"2024-01-01T07:00\", kwh = \"100\" }, { at = \"2024-01-01T09:00\", kwh = \"101\" }]\n",
    )
    .unwrap();
    let o = amikit(&[
        "tariff",
        "charge",
        "--tariff",
        CN,
        "--readings",
        cross.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("crosses a price change at 2024-01-01T08:00:00")
    );
    // An invalid tariff: overlapping periods.
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"tou": {"rates": [{"id": 1, "price": "1"}], "day_tables": [{"id": 1, "periods": [
            {"from": "00:00", "to": "12:00", "rate": 1}, {"from": "11:00", "to": "00:00", "rate": 1}]}]}}"#,
    )
    .unwrap();
    let o = amikit(&[
        "tariff",
        "quote",
        "--tariff",
        bad.to_str().unwrap(),
        "--energy",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("periods overlap at minute 660"));
    // TOU without --at, a bad amount, a missing file.
    let o = amikit(&["tariff", "quote", "--tariff", CN, "--money", "100"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs the time"));
    let o = amikit(&["tariff", "quote", "--tariff", KES, "--money", "1.00001"]);
    assert_eq!(o.status.code(), Some(1));
    let o = amikit(&[
        "tariff",
        "quote",
        "--tariff",
        "no/such/file.toml",
        "--money",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(1));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(
        amikit(&["tariff", "quote", "--tariff", KES]).status.code(),
        Some(2)
    );
    assert_eq!(
        amikit(&[
            "tariff", "quote", "--tariff", KES, "--money", "1", "--energy", "1"
        ])
        .status
        .code(),
        Some(2)
    );
    assert_eq!(
        amikit(&["tariff", "charge", "--tariff", KES]).status.code(),
        Some(2)
    );
}
