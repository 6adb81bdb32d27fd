//! Properties of the fixed-point quantities.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_tariff::{Energy, ExactMoney, Money, Price, Remainder, Rounding};
use proptest::prelude::*;

fn rounding() -> impl Strategy<Value = Rounding> {
    prop_oneof![
        Just(Rounding::HalfUp),
        Just(Rounding::HalfEven),
        Just(Rounding::Up),
        Just(Rounding::Down),
    ]
}

proptest! {
    /// Display then parse gives the same value back, for every representable amount.
    #[test]
    fn money_text_round_trip(raw in any::<i64>()) {
        let m = Money::from_raw(raw);
        prop_assert_eq!(Money::parse(&m.to_string()).unwrap(), m);
        let e = Energy::from_wh(raw);
        prop_assert_eq!(Energy::parse(&e.to_string()).unwrap(), e);
    }

    /// Charging a delta in pieces with a carried remainder gives exactly the money of charging
    /// it at once, whatever the split.
    #[test]
    fn carry_split_anywhere(price in 0i64..200_000, parts in proptest::collection::vec(0i64..5_000, 1..200)) {
        let p = Price::from_raw(price);
        let mut carry = Remainder::ZERO;
        let mut sum = Money::ZERO;
        let mut total_wh = 0i64;
        for wh in &parts {
            sum = sum.checked_add(carry.carry(p.exact_cost(Energy::from_wh(*wh)).unwrap()).unwrap()).unwrap();
            total_wh += wh;
        }
        let whole = p.cost(Energy::from_wh(total_wh)).unwrap();
        prop_assert_eq!(sum, whole.money);
        prop_assert_eq!(carry, whole.remainder);
    }

    /// A rounded result is within one quantum of the exact value, on the side the rule says.
    #[test]
    fn rounding_is_within_one_quantum(n in any::<i64>(), r in rounding()) {
        let exact = ExactMoney::from(i128::from(n) * 1000 + 7);
        let m = exact.round(r).unwrap();
        let (mx, ex) = (i128::from(ExactMoney::from(m)), i128::from(exact));
        let diff = mx - ex;
        prop_assert!(diff.abs() < 1_000_000_000);
        match r {
            Rounding::Down => prop_assert!(mx.abs() <= ex.abs()),
            Rounding::Up => prop_assert!(mx.abs() >= ex.abs()),
            Rounding::HalfUp | Rounding::HalfEven => prop_assert!(diff.abs() <= 500_000_000),
        }
    }

    /// The energy a sum of money buys (rounded down) never costs more than that money, and one
    /// more Wh would.
    #[test]
    fn energy_for_money_is_maximal(price in 1i64..1_000_000, money in 0i64..10_000_000_000) {
        let p = Price::from_raw(price);
        let m = Money::from_raw(money);
        let e = p.energy_for(m, Rounding::Down).unwrap();
        prop_assert!(p.exact_cost(e).unwrap() <= ExactMoney::from(m));
        let next = Energy::from_wh(e.wh() + 1);
        prop_assert!(p.exact_cost(next).unwrap() > ExactMoney::from(m));
    }

    /// Parsing with a rounding rule agrees with rounding the exact value.
    #[test]
    fn parse_rounded_agrees(int in -1_000_000i64..1_000_000, frac in 0u32..1_000_000, r in rounding()) {
        let s = format!("{int}.{frac:06}");
        let got = Money::parse_rounded(&s, r).unwrap();
        let sign = if s.starts_with('-') { -1 } else { 1 };
        let exact = i128::from(int) * 1_000_000 + sign * i128::from(frac);
        prop_assert_eq!(i128::from(got.raw()), r.divide(exact, 100).unwrap());
    }
}

#[cfg(feature = "serde")]
#[test]
fn serde_as_decimal_strings() {
    let m: Money = serde_json::from_str("\"12.3456\"").unwrap();
    assert_eq!(m.raw(), 123_456);
    assert_eq!(serde_json::to_string(&m).unwrap(), "\"12.3456\"");
    let e: Energy = serde_json::from_str("5").unwrap();
    assert_eq!(e.wh(), 5_000);
    let err = serde_json::from_str::<Price>("0.5283").unwrap_err();
    assert!(err.to_string().contains("floating-point"), "{err}");
    let r: Rounding = serde_json::from_str("\"half_even\"").unwrap();
    assert_eq!(r, Rounding::HalfEven);
}
