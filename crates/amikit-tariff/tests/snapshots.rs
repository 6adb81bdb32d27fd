//! Charge states and balances survive a serde round trip; invalid snapshots are refused.
#![cfg(feature = "serde")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_tariff::{
    Applied, Balance, ChargeState, DebtRecovery, Energy, Levy, Money, OrderNo, Price, Rate, Tariff,
};

#[test]
fn charge_state_round_trip_keeps_carries() {
    // 7 Wh at 0.5283 + 16 %: 0.0036981 consumption, carried fractions on both lines.
    let t = Tariff::flat(Price::parse("0.5283").unwrap())
        .unwrap()
        .with_levy(Levy::new(160_000, false).unwrap())
        .unwrap();
    let at = "2024-01-01T00:00".parse().unwrap();
    let mut st = ChargeState::new();
    t.charge(&mut st, at, Energy::from_wh(7)).unwrap();
    let json = serde_json::to_string(&st).unwrap();
    let mut back: ChargeState = serde_json::from_str(&json).unwrap();
    assert_eq!(back.snapshot().carry, st.snapshot().carry);
    assert_eq!(back.snapshot().levy_carries, st.snapshot().levy_carries);
    assert_eq!(back.period_energy(), st.period_energy());
    // A carry outside 0..1e9 is refused.
    let bad = json.replace(
        &format!("\"carry\":{}", i64::from(st.snapshot().carry)),
        "\"carry\":1000000000",
    );
    assert_ne!(bad, json);
    assert!(serde_json::from_str::<ChargeState>(&bad).is_err());
    // Charging on after the restore gives what charging on the original gives.
    let a = t.charge(&mut st, at, Energy::from_wh(993)).unwrap();
    let b = t.charge(&mut back, at, Energy::from_wh(993)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn balance_round_trip_and_validation() {
    let m = |s| Money::parse(s).unwrap();
    let mut b: Balance<4> = Balance::with_opening(
        m("-5"),
        m("20"),
        DebtRecovery::PercentOfTopUp { ppm: 250_000 },
    )
    .unwrap();
    b.top_up(OrderNo(7), m("100")).unwrap();
    let json = serde_json::to_string(&b).unwrap();
    let mut back: Balance<4> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, b);
    // The order window survives: a replay is still a duplicate.
    assert_eq!(
        back.top_up(OrderNo(7), m("100")).unwrap(),
        Applied::Duplicate
    );
    let neg = json.replace("\"debt\":\"0.0000\"", "\"debt\":\"-1\"");
    assert_ne!(neg, json);
    assert!(serde_json::from_str::<Balance<4>>(&neg).is_err());
}

#[test]
fn rates_out_of_range_are_refused() {
    assert_eq!(serde_json::from_str::<Rate>("4").unwrap(), Rate::VALLEY);
    assert!(serde_json::from_str::<Rate>("0").is_err());
    assert!(serde_json::from_str::<Rate>("15").is_err());
}
