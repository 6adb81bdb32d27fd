//! STS vending is money-exact: a currency token credits what was paid, whatever the hour it
//! is bought or typed, and what a token cannot carry is the customer's remainder for the next
//! vend (also across a restart).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use amikit_station::master::vend_split::{self, VendSplitError};
use amikit_station::terminal::{self, TerminalOptions};
use amikit_sts::amount::Amount;
use amikit_tariff::Money;
use common::*;
use proptest::prelude::*;

fn units() -> impl Strategy<Value = Money> {
    prop_oneof![
        Just(Money::parse("0.01").unwrap()),
        Just(Money::parse("0.1").unwrap()),
        Just(Money::parse("1").unwrap()),
        Just(Money::parse("0.0001").unwrap()),
        (1i64..10_000).prop_map(Money::from_raw),
    ]
}

proptest! {
    /// For any amount, carried remainder and unit: money in = money credited + remainder,
    /// the credit is exactly the code's value × unit, and the remainder is less than one step
    /// of the code (nothing that could have been carried is kept back).
    #[test]
    fn money_in_is_credit_plus_remainder(
        paid in 1i64..=50_000_000_000,
        carried_units in 0i64..2000,
        unit in units(),
    ) {
        let paid = Money::from_raw(paid);
        let carried = Money::from_raw(carried_units.saturating_mul(unit.raw()) / 7);
        match vend_split::split(paid, carried, unit) {
            Ok(v) => {
                prop_assert_eq!(paid.raw() + carried.raw(), v.credit.raw() + v.remainder.raw());
                prop_assert_eq!(v.credit.raw(), i64::from(v.amount.value()) * unit.raw());
                prop_assert!(v.remainder.raw() >= 0);
                let next = Amount::from(u16::from(v.amount) + 1).value();
                let step = i64::from(next - v.amount.value());
                prop_assert!(v.remainder.raw() < step * unit.raw(), "{v:?}");
            }
            Err(VendSplitError::TooSmall) => {
                prop_assert!(paid.raw() + carried.raw() < unit.raw());
            }
            Err(VendSplitError::TooLarge) => {
                let units = (paid.raw() + carried.raw()) / unit.raw();
                prop_assert!(units > i64::from(amikit_sts::amount::MAX_VALUE));
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    /// A customer's vends in a row: everything paid is credited or still carried.
    #[test]
    fn a_series_of_vends_loses_and_makes_nothing(
        paid in proptest::collection::vec(1i64..=50_000_000, 1..20),
    ) {
        let unit = Money::parse("0.01").unwrap();
        let mut carried = Money::ZERO;
        let (mut total_in, mut total_credit) = (0i64, 0i64);
        for p in paid {
            if let Ok(v) = vend_split::split(Money::from_raw(p), carried, unit) {
                total_in += p;
                total_credit += v.credit.raw();
                carried = v.remainder;
            }
        }
        prop_assert_eq!(total_in, total_credit + carried.raw());
    }
}

fn local_site(a2: u32) -> Site {
    site(
        a2,
        &[M {
            pn: 1,
            address: "000000001501",
            customer: "Zhang Min",
            fee: "local",
            opening: "0.00",
            kwh: "500",
            guarded: false,
        }],
    )
}

/// The credit a keypad answer reports ("20.0000 credited, balance …").
fn credited(said: &str) -> Money {
    let amount = said
        .split(" credited")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .unwrap_or_else(|| panic!("{said}"));
    Money::parse(amount).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_bought_in_valley_hours_credits_the_same_money_at_peak_and_back() {
    let site = local_site(15);
    // The master vends at 03:00 (valley, 0.288 yuan/kWh) ...
    let mut o = options(site.clone(), temp_db("vend-tou"));
    o.clock = SimClock::new(Civil::new(2026, 3, 2, 3, 0, 0), 1);
    let m = start(o).await.unwrap();
    // ... the customer types at 10:00 (peak, 0.568 yuan/kWh). Before currency tokens the
    // meter priced 69.4 kWh (20.00 at valley) at peak: 39.42 credited.
    let peak = SimClock::new(Civil::new(2026, 3, 2, 10, 0, 0), 1);
    let opts = TerminalOptions::new(site.clone(), 15, m.terminal_addr(), peak).unwrap();
    let term = terminal::start(opts).await.unwrap();
    let (s, t) = post(
        &m,
        "/api/tokens",
        json!({"customer": "Zhang Min", "amount": "20.00", "order_no": "V-1"}),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["credit"], "20.0000");
    let said = term.keypad(1, t["token"].as_str().unwrap()).unwrap();
    assert_eq!(credited(&said), Money::parse("20.00").unwrap(), "{said}");
    term.shutdown().await;
    m.shutdown().await;

    // And the reverse: bought at peak, typed in the valley.
    let mut o = options(site.clone(), temp_db("vend-tou-2"));
    o.clock = SimClock::new(Civil::new(2026, 3, 2, 10, 0, 0), 1);
    let m = start(o).await.unwrap();
    let valley = SimClock::new(Civil::new(2026, 3, 2, 23, 0, 0), 1);
    let term = terminal::start(TerminalOptions::new(site, 15, m.terminal_addr(), valley).unwrap())
        .await
        .unwrap();
    let (_, t) = post(
        &m,
        "/api/tokens",
        json!({"customer": "Zhang Min", "amount": "35.50", "order_no": "V-2"}),
    )
    .await;
    let said = term.keypad(1, t["token"].as_str().unwrap()).unwrap();
    assert_eq!(credited(&said), Money::parse("35.50").unwrap(), "{said}");
    term.shutdown().await;
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vend_remainder_is_carried_to_the_next_vend_across_a_restart() {
    let site = local_site(16);
    let db = temp_db("vend-remainder");
    let m = start(options(site.clone(), db.clone())).await.unwrap();
    // 1234.56 = 123 456 fen: the code carries 123 454 (16 384 + steps of 10 above it).
    let (s, t) = post(
        &m,
        "/api/tokens",
        json!({"customer": "Zhang Min", "amount": "1234.56", "order_no": "R-1"}),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["credit"], "1234.5400");
    assert_eq!(t["remainder"], "0.0200");
    m.shutdown().await;

    let m = start(options(site, db)).await.unwrap();
    let (s, t) = post(
        &m,
        "/api/tokens",
        json!({"customer": "Zhang Min", "amount": "0.04", "order_no": "R-2"}),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["carried_in"], "0.0200");
    assert_eq!(t["credit"], "0.0600");
    assert_eq!(t["remainder"], "0.0000");
    // Paid 1234.60 in all, credited 1234.60 in all.
    let tokens = get(&m, "/api/tokens").await;
    let sum = |k: &str| -> i64 {
        tokens
            .as_array()
            .unwrap()
            .iter()
            .map(|t| Money::parse(t[k].as_str().unwrap()).unwrap().raw())
            .sum()
    };
    assert_eq!(sum("amount"), sum("credit"));
    // Less than one unit: refused, nothing recorded, the remainder untouched.
    let (s, _) = post(
        &m,
        "/api/tokens",
        json!({"customer": "Zhang Min", "amount": "0.001", "order_no": "R-3"}),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(get(&m, "/api/tokens").await.as_array().unwrap().len(), 2);
    m.shutdown().await;
}

#[test]
fn a_terminal_without_keys_is_refused_and_gets_no_vending_key() {
    let site = local_site(17);
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let clock = SimClock::new(Civil::new(2026, 3, 2, 10, 0, 0), 60);
    let opts = TerminalOptions::new(site.clone(), 17, addr, clock.clone()).unwrap();
    assert!(opts.site.vending.is_none());
    let own = opts.site.terminals.iter().find(|t| t.a2 == 17).unwrap();
    assert!(own.meters[0].sts.as_ref().unwrap().decoder_key.is_some());
    assert!(!format!("{opts:?}").contains(VENDING_KEY));
    let mut keyless = site;
    keyless.vending = None;
    let err = TerminalOptions::new(keyless, 17, addr, clock).unwrap_err();
    assert!(
        matches!(err, terminal::TerminalError::NoDecoderKey(_)),
        "{err}"
    );
}
