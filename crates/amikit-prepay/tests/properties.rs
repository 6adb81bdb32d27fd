//! Property tests: arbitrary event sequences through the engine and the tracker, checked
//! against every invariant of amikit issues #7 and #11 after every step (the harness is
//! `amikit_prepay::fuzzing`, shared with the fuzz targets `prepay_engine` and
//! `prepay_tracker`; its module documentation lists the invariants).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_prepay::fuzzing::{IdOp, Op, ParamOp, Step, TrackerOp, check, check_tracker};
use amikit_prepay::{CommandKind, Overload, TopUpSource, UserAction};
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = CommandKind> {
    prop_oneof![
        Just(CommandKind::Trip),
        Just(CommandKind::AllowClose),
        Just(CommandKind::DirectClose),
        Just(CommandKind::Alarm),
        Just(CommandKind::AlarmRelease),
        Just(CommandKind::GuardOn),
        Just(CommandKind::GuardOff),
    ]
}

fn id() -> impl Strategy<Value = IdOp> {
    prop_oneof![
        6 => Just(IdOp::NextSequence),
        4 => Just(IdOp::NextOrder),
        2 => Just(IdOp::LastSequence),
        2 => Just(IdOp::LastOrder),
        1 => (0u32..8).prop_map(IdOp::Sequence),
        1 => (0u64..8).prop_map(IdOp::Order),
    ]
}

fn source() -> impl Strategy<Value = TopUpSource> {
    prop_oneof![
        Just(TopUpSource::Card),
        Just(TopUpSource::Token),
        Just(TopUpSource::Remote),
        Just(TopUpSource::Counter),
    ]
}

fn amount() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![Just(None), (0u32..300_000).prop_map(Some)]
}

fn param() -> impl Strategy<Value = ParamOp> {
    prop_oneof![
        amount().prop_map(ParamOp::Alarm1),
        amount().prop_map(ParamOp::Alarm2),
        amount().prop_map(ParamOp::Overdraft),
        amount().prop_map(ParamOp::EmergencyThreshold),
        (-100_000i32..100_000).prop_map(ParamOp::Reconnect),
        amount().prop_map(ParamOp::Hoarding),
        prop_oneof![
            Just(None),
            (1u32..10_000, 0u32..30, 0u32..120).prop_map(|(limit_w, sustain_s, reclose_s)| Some(
                Overload {
                    limit_w,
                    sustain_s,
                    reclose_s
                }
            ))
        ]
        .prop_map(ParamOp::Overload),
        any::<bool>().prop_map(ParamOp::Friendly),
        (any::<u8>(), 0u32..300_000).prop_map(|(kind, raw)| ParamOp::DebtRecovery { kind, raw }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0u16..8000).prop_map(|wh| Op::Consume { wh }),
        2 => (0u32..40_000).prop_map(|raw| Op::Charge { raw }),
        1 => any::<u8>().prop_map(|shift| Op::ChargeHuge { shift }),
        5 => (0u32..400_000, id(), source()).prop_map(|(raw, id, source)| Op::TopUp { raw, id, source }),
        1 => (0u32..100_000, id()).prop_map(|(raw, id)| Op::Refund { raw, id }),
        4 => Just(Op::Tick),
        3 => prop_oneof![Just(UserAction::Button), Just(UserAction::Card)].prop_map(Op::User),
        4 => (kind(), -60i16..3600).prop_map(|(kind, expires_in)| Op::Remote { kind, expires_in }),
        3 => (0u16..9000).prop_map(|watts| Op::Load { watts }),
        2 => param().prop_map(Op::Param),
        1 => (0u8..4).prop_map(|corrupt| Op::PowerUp { corrupt }),
        1 => Just(Op::PowerDown),
        2 => any::<bool>().prop_map(|closed| Op::RelayPosition { closed }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let dt = prop_oneof![8 => 0u16..20, 3 => 0u16..1200, 1 => any::<u16>()];
    (dt, op()).prop_map(|(dt, op)| Step { dt, op })
}

/// 1024 cases, or `PROPTEST_CASES`.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn engine_invariants_hold_for_any_sequence(
        profile in 0u8..3,
        opening in -150_000i32..400_000,
        price in 0u16..20_000,
        steps in proptest::collection::vec(step(), 0..160),
    ) {
        if let Err(v) = check(profile, opening, price, &steps) {
            prop_assert!(false, "{} at step {}: {:?}", v.rule, v.step, steps.get(v.step));
        }
    }

    #[test]
    fn tracker_invariants_hold_for_any_sequence(
        validity in 0u16..4000,
        ack_timeout in 0u8..60,
        retry_base in 0u8..90,
        max_failures in 0u8..6,
        restore_within in 0u16..1000,
        ops in proptest::collection::vec(prop_oneof![
            3 => (0u8..4, kind(), any::<bool>()).prop_map(|(meter, kind, restoring)| TrackerOp::Submit { meter, kind, restoring }),
            2 => any::<u8>().prop_map(|pick| TrackerOp::Ack { pick }),
            2 => any::<u8>().prop_map(|pick| TrackerOp::Fail { pick }),
            4 => (0u16..200).prop_map(|secs| TrackerOp::Advance { secs }),
            1 => (0u8..4).prop_map(|meter| TrackerOp::LinkDown { meter }),
            1 => (0u8..4).prop_map(|meter| TrackerOp::LinkUp { meter }),
            2 => any::<u8>().prop_map(|pick| TrackerOp::Dequeue { pick }),
            1 => any::<u8>().prop_map(|pick| TrackerOp::CloseJob { pick }),
        ], 0..120),
    ) {
        if let Err(v) = check_tracker(validity, ack_timeout, retry_base, max_failures, restore_within, &ops) {
            prop_assert!(false, "{} at step {}: {:?}", v.rule, v.step, ops.get(v.step));
        }
    }
}
