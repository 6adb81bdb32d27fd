//! The example tariff files shipped in `examples/tariffs/`, loaded and priced by hand.
#![cfg(all(feature = "serde", feature = "alloc"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_tariff::def::TariffDef;
use amikit_tariff::{ChargeState, DateTime, Energy, LineKind, Money, Rate, Rounding, TariffSet};

fn load(name: &str) -> (TariffDef, TariffSet) {
    let path = format!(
        "{}/../../examples/tariffs/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let def: TariffDef = toml::from_str(&text).unwrap();
    let set = TariffSet::try_from(&def).unwrap();
    (def, set)
}

fn t(s: &str) -> DateTime {
    s.parse().unwrap()
}
fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}
fn kwh(s: &str) -> Energy {
    Energy::parse(s).unwrap()
}

#[test]
fn chinese_residential_quotes() {
    let (def, set) = load("cn-residential-steps-tou.toml");
    assert_eq!(def.rate_name(2), Some("peak 峰"));
    // 10:00 is peak (0.568). 200 kWh from 2700 kWh used this year:
    //   60 kWh to the 2760 kWh boundary at 0.568        = 34.0800
    //  140 kWh in step 2 at 0.568 + 0.05 = 0.618        = 86.5200
    //  total                                             120.6000
    let q = set
        .quote_energy(
            Some(t("2024-06-01T10:00")),
            kwh("2700"),
            kwh("200"),
            Rounding::HalfUp,
        )
        .unwrap();
    assert_eq!(q.lines.len(), 2);
    assert_eq!(
        q.lines[0].kind,
        LineKind::Energy {
            rate: Rate::try_from(2).ok(),
            step: Some(1)
        }
    );
    assert_eq!(
        (q.lines[0].energy, q.lines[0].amount),
        (kwh("60"), m("34.08"))
    );
    assert_eq!(
        (q.lines[1].energy, q.lines[1].amount),
        (kwh("140"), m("86.52"))
    );
    assert_eq!(q.total, m("120.6"));
    // Across the second boundary: 200 kWh from 4700 kWh at peak:
    //  100 × 0.618 = 61.80, 100 × (0.568 + 0.30) = 86.80, total 148.60
    let q = set
        .quote_energy(
            Some(t("2024-06-01T10:00")),
            kwh("4700"),
            kwh("200"),
            Rounding::HalfUp,
        )
        .unwrap();
    assert_eq!(q.total, m("148.6"));
    assert_eq!(
        q.lines[1].kind,
        LineKind::Energy {
            rate: Rate::try_from(2).ok(),
            step: Some(3)
        }
    );
    // 100 yuan at 23:00 (valley 0.288) from 0 kWh: 347.222 kWh cost 99.999936 -> 99.9999
    // (rounded down); 347.223 kWh would cost 100.000224.
    let q = set
        .quote_money(
            Some(t("2024-06-01T23:00")),
            Energy::ZERO,
            m("100"),
            Rounding::Down,
        )
        .unwrap();
    assert_eq!(q.energy, kwh("347.222"));
    assert_eq!(q.total, m("99.9999"));
    assert_eq!(q.unspent, Some(m("0.0001")));
    // A time-of-use tariff needs a time.
    assert!(
        set.quote_money(None, Energy::ZERO, m("100"), Rounding::Down)
            .is_err()
    );
}

#[test]
fn chinese_residential_charging_over_a_year_end() {
    let (_, set) = load("cn-residential-steps-tou.toml");
    let mut st = ChargeState::with_period_energy(kwh("4790"), t("2024-12-31T00:00"));
    // 21:00 peak, 20 kWh: 10 × 0.618 + 10 × 0.868 = 14.86
    assert_eq!(
        set.charge(&mut st, t("2024-12-31T21:00"), kwh("20"))
            .unwrap()
            .total,
        m("14.86")
    );
    // 23:30 valley, step 3: 1 kWh × (0.288 + 0.30) = 0.588
    assert_eq!(
        set.charge(&mut st, t("2024-12-31T23:30"), kwh("1"))
            .unwrap()
            .total,
        m("0.588")
    );
    // 2025-01-01 00:30, settled: valley step 1: 0.288
    let c = set
        .charge(&mut st, t("2025-01-01T00:30"), kwh("1"))
        .unwrap();
    assert!(c.settled);
    assert_eq!(c.total, m("0.288"));
}

#[test]
fn flat_african_utility() {
    let (def, set) = load("flat-prepaid-kes.toml");
    assert_eq!(def.levy_name(0), Some("VAT"));
    // 1000 KES buys 34.482 kWh: 34.482 × 25 = 862.05, VAT 16 % = 137.928, total 999.978;
    // 34.483 kWh would be 862.075 + 137.932 = 1000.007.
    let q = set
        .quote_money(None, Energy::ZERO, m("1000"), Rounding::Down)
        .unwrap();
    assert_eq!(q.energy, kwh("34.482"));
    assert_eq!(
        (q.consumption, q.levy_total, q.total),
        (m("862.05"), m("137.928"), m("999.978"))
    );
    // Service charge from 2024-01-15 to 2024-03-01: Feb 1 and Mar 1 start = 2 months:
    // 2 × 150 = 300, VAT 48, total 348.
    let s = set
        .current()
        .standing_between(t("2024-01-15"), t("2024-03-01"), Rounding::HalfUp)
        .unwrap();
    assert_eq!(
        (s.periods, s.charge, s.levy_total, s.total),
        (2, m("300"), m("48"), m("348"))
    );
}

#[test]
fn json_round_trip() {
    let (def, _) = load("cn-residential-steps-tou.toml");
    let json = serde_json::to_string(&def).unwrap();
    let back: TariffDef = serde_json::from_str(&json).unwrap();
    assert_eq!(back, def);
}

#[test]
fn typos_and_floats_are_refused() {
    let e = toml::from_str::<TariffDef>("prise = \"1\"").unwrap_err();
    assert!(e.to_string().contains("prise"), "{e}");
    let e = toml::from_str::<TariffDef>("price = 0.5").unwrap_err();
    assert!(e.to_string().contains("floating-point"), "{e}");
}
