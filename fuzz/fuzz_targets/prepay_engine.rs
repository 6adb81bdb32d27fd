//! Arbitrary event sequences through the charge-control engine (every profile), checking the
//! invariants of `amikit_prepay::fuzzing::check` after every step: money conserved, wallet
//! floor, guard, hard-cut hysteresis, anti-replay, hoarding, expired commands, restore after
//! payment, relay ⇔ causes, snapshots (with the charging state), recovery after power failure,
//! power-down, **a top-up never opens the relay**, a refused input leaves the pricer untouched,
//! relay-position mismatches, debt-recovery policies.
#![no_main]

use amikit_prepay::fuzzing::{Step, check};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, arbitrary::Arbitrary)]
struct Case {
    profile: u8,
    opening: i32,
    price: u16,
    steps: Vec<Step>,
}

fuzz_target!(|case: Case| {
    if let Err(v) = check(case.profile, case.opening, case.price, &case.steps) {
        panic!(
            "{} at step {}: {:?}",
            v.rule,
            v.step,
            case.steps.get(v.step)
        );
    }
});
