//! Arbitrary submit / acknowledge / fail / time sequences through the command tracker,
//! checking the invariants of `amikit_prepay::fuzzing::check_tracker`.
#![no_main]

use amikit_prepay::fuzzing::{TrackerOp, check_tracker};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, arbitrary::Arbitrary)]
struct Case {
    validity: u16,
    ack_timeout: u8,
    retry_base: u8,
    max_failures: u8,
    restore_within: u16,
    ops: Vec<TrackerOp>,
}

fuzz_target!(|c: Case| {
    if let Err(v) = check_tracker(
        c.validity,
        c.ack_timeout,
        c.retry_base,
        c.max_failures,
        c.restore_within,
        &c.ops,
    ) {
        panic!("{} at step {}: {:?}", v.rule, v.step, c.ops.get(v.step));
    }
});
