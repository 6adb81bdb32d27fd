//! One scenario per rule of amikit issue #7, each asserting the exact outputs.
//!
//! The rules come from `payment-domain.md` §2.3 (State Grid local fee control as shipped),
//! §2.4 (money, top-up, anti-replay, hoarding), §3.2 (UK emergency and friendly credit, manual
//! reconnection) and `system-design.md` (master station: reminder, trip, allow close after
//! payment). Prices are a flat 0.5000 per kWh priced by `amikit-tariff`, so 2 kWh cost 1.0000.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use amikit_prepay::{
    AlarmLevel, Cause, Causes, CloseReason, Command, CommandKind, CommandReason, CreditState, Date,
    Engine, FriendlyCalendar, Input, InputKind, Notification, Output, Overload, Param, Profile,
    PurchaseId, Record, Rejection, RelayAction, RelayState, Snapshot, Timestamp, TopUpSource,
    UserAction, Weekday, Window, recover, weekday_bit,
};
use common::{P, at, engine, half, kwh, m, norm, remote, run, top_up, wed};

const OP: u32 = 0x0102_0304;

fn changed(from: CreditState, to: CreditState, net: &str) -> Output {
    Output::Record(Record::CreditChanged {
        from,
        to,
        net: m(net),
    })
}

fn open(cause: Cause, causes: &[Cause]) -> Output {
    let set = causes.iter().fold(Causes::NONE, |s, c| s.with(*c, true));
    Output::Relay(RelayAction::Open { cause, causes: set })
}

fn close(reason: CloseReason) -> Output {
    Output::Relay(RelayAction::Close { reason })
}

fn arm(reason: CloseReason) -> Output {
    Output::Relay(RelayAction::Arm { reason })
}

fn alarm(level: AlarmLevel) -> Output {
    Output::Alarm { on: true, level }
}

fn notify(n: Notification) -> Output {
    Output::Notify(n)
}

fn reminder(net: &str) -> Output {
    notify(Notification::PaymentReminder { net: m(net) })
}

fn received(amount: &str, net: &str) -> Output {
    notify(Notification::PaymentReceived {
        amount: m(amount),
        net: m(net),
    })
}

fn topped(amount: &str, n: u32, source: TopUpSource, repaid: &str, net: &str) -> Output {
    Output::Record(Record::TopUp {
        amount: m(amount),
        id: PurchaseId::Sequence(n),
        source,
        repaid: m(repaid),
        debt: m("0"),
        net: m(net),
    })
}

fn remote_record(kind: CommandKind) -> Output {
    Output::Record(Record::Remote { kind, operator: OP })
}

fn reject(input: InputKind, reason: Rejection) -> Vec<Output> {
    vec![Output::Reject { input, reason }]
}

/// State Grid local fee control without overload protection: alarm 1 = 10, alarm 2 = 2,
/// overdraft 10, reconnect 2, hoarding 9999.99.
fn sg_local(balance: &str) -> Engine {
    engine(Profile::StateGridLocal, balance, |c| c.overload = None)
}

// ---- State Grid local fee control (payment-domain.md §2.3) -----------------------------------

/// Alarm 1: at or below alarm 1 the meter warns; the relay stays closed.
#[test]
fn alarm1_warns_without_cutting() {
    let mut e = sg_local("12");
    let mut p = half();
    // 4 kWh = 2.0000: 12 → 10 = alarm 1 (the condition is R ≤ alarm1).
    assert_eq!(
        run(&mut e, &mut p, wed(10, 0), kwh("4")),
        vec![
            changed(CreditState::Normal, CreditState::Low, "10"),
            P,
            alarm(AlarmLevel::Low),
            notify(Notification::LowCredit { net: m("10") }),
        ]
    );
    assert_eq!(e.status().relay, RelayState::Closed);
    // Further consumption inside the band changes nothing visible.
    assert_eq!(run(&mut e, &mut p, wed(10, 1), kwh("2")), vec![]);
    assert_eq!(e.status().net, m("9"));
}

/// Alarm 2: at or below alarm 2 the relay trips; the customer restores it with the button.
#[test]
fn alarm2_cuts_and_the_button_restores() {
    let mut e = sg_local("12");
    let mut p = half();
    assert_eq!(
        run(&mut e, &mut p, wed(10, 0), kwh("20")),
        vec![
            changed(CreditState::Normal, CreditState::Alarm2, "2"),
            P,
            open(Cause::Fee, &[Cause::Fee]),
            alarm(AlarmLevel::Alarm2),
            reminder("2"),
            notify(Notification::Cut { cause: Cause::Fee }),
        ]
    );
    assert_eq!(
        run(&mut e, &mut p, wed(10, 1), Input::User(UserAction::Button)),
        vec![
            Output::Record(Record::Alarm2Restored),
            P,
            close(CloseReason::User),
            notify(Notification::Restored),
        ]
    );
    // Restored until zero: consumption inside alarm 2 does not trip again.
    assert_eq!(run(&mut e, &mut p, wed(10, 2), kwh("1")), vec![]);
    assert_eq!(e.status().relay, RelayState::Closed);
}

/// Alarm 2 is also restored by inserting any card.
#[test]
fn alarm2_cut_restored_by_a_card() {
    let mut e = sg_local("12");
    let mut p = half();
    run(&mut e, &mut p, wed(10, 0), kwh("20"));
    assert_eq!(
        run(&mut e, &mut p, wed(10, 1), Input::User(UserAction::Card)),
        vec![
            Output::Record(Record::Alarm2Restored),
            P,
            close(CloseReason::User),
            notify(Notification::Restored),
        ]
    );
}

/// Zero: the relay trips at zero; the customer selects the overdraft with the button and runs
/// on it; at the overdraft limit the cut is hard and the button does nothing.
#[test]
fn zero_cut_overdraft_selection_then_hard_cut() {
    let mut e = engine(Profile::StateGridLocal, "1", |c| {
        c.overload = None;
        c.limits.alarm2 = None;
    });
    let mut p = half();
    // The first step reports the alarm the opening credit (1 ≤ alarm 1) calls for.
    assert_eq!(
        run(&mut e, &mut p, wed(10, 0), Input::Tick),
        vec![alarm(AlarmLevel::Low)]
    );
    assert_eq!(
        run(&mut e, &mut p, wed(10, 1), kwh("2")),
        vec![
            changed(CreditState::Low, CreditState::Zero, "0"),
            P,
            open(Cause::Fee, &[Cause::Fee]),
            alarm(AlarmLevel::Overdraft),
            reminder("0"),
            notify(Notification::EmergencyCreditAvailable { amount: m("10") }),
            notify(Notification::Cut { cause: Cause::Fee }),
        ]
    );
    assert_eq!(
        run(&mut e, &mut p, wed(10, 2), Input::User(UserAction::Button)),
        vec![
            Output::Record(Record::EmergencySelected),
            P,
            close(CloseReason::User),
            notify(Notification::Restored),
        ]
    );
    // 19 kWh = 9.5000: −9.5, still inside the overdraft.
    assert_eq!(run(&mut e, &mut p, wed(10, 3), kwh("19")), vec![]);
    assert_eq!(e.status().credit, CreditState::Zero);
    // 1 kWh more: −10 = −overdraft limit → OvrTick, hard cut.
    assert_eq!(
        run(&mut e, &mut p, wed(10, 4), kwh("1")),
        vec![
            changed(CreditState::Zero, CreditState::Exhausted, "-10"),
            P,
            open(Cause::Fee, &[Cause::Fee]),
            alarm(AlarmLevel::Exhausted),
            reminder("-10"),
            notify(Notification::Cut { cause: Cause::Fee }),
        ]
    );
    // No user override of the hard cut.
    let before = e.clone();
    assert_eq!(
        run(&mut e, &mut p, wed(10, 5), Input::User(UserAction::Button)),
        vec![]
    );
    assert_eq!(e, before);
    assert_eq!(e.status().balance, m("-10"));
}

fn exhausted_sg(reconnect: &str) -> (Engine, common::Customer) {
    let mut e = engine(Profile::StateGridLocal, "0", |c| {
        c.overload = None;
        c.limits.reconnect = m(reconnect);
    });
    let mut p = half();
    e.step(wed(9, 0), Input::User(UserAction::Button), &mut p.pricer()); // select the overdraft
    e.step(wed(9, 1), kwh("20"), &mut p.pricer()); // −10: exhausted
    assert_eq!(e.status().credit, CreditState::Exhausted);
    assert_eq!(e.status().relay, RelayState::Open);
    (e, p)
}

/// Hard-cut hysteresis: a top-up that leaves the credit at or below the reconnect threshold
/// (合闸允许金额) keeps the cut; one that passes it lifts it; a remote top-up only allows closing.
#[test]
fn hard_cut_needs_the_reconnect_threshold() {
    let (mut e, mut p) = exhausted_sg("5");
    // −10 + 15 = 5: not above 5.
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 0),
            top_up("15", 1, TopUpSource::Remote)
        ),
        vec![
            topped("15", 1, TopUpSource::Remote, "0", "5"),
            received("15", "5"),
            P,
        ]
    );
    assert_eq!(e.status().credit, CreditState::Exhausted);
    assert_eq!(e.status().relay, RelayState::Open);
    // +1: 6 > 5 → out of the hard cut into alarm 1 (2 < 6 ≤ 10); allowed to close only.
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 1),
            top_up("1", 2, TopUpSource::Remote)
        ),
        vec![
            topped("1", 2, TopUpSource::Remote, "0", "6"),
            received("1", "6"),
            changed(CreditState::Exhausted, CreditState::Low, "6"),
            P,
            arm(CloseReason::Payment),
            alarm(AlarmLevel::Low),
            notify(Notification::ReconnectAllowed),
        ]
    );
    assert_eq!(e.status().relay, RelayState::Armed);
    assert_eq!(
        run(&mut e, &mut p, wed(10, 2), Input::User(UserAction::Button)),
        vec![P, close(CloseReason::User), notify(Notification::Restored)]
    );
}

/// Consumption and refunds never lift the hard cut (only top-ups and parameter changes are
/// evaluated for the exit).
#[test]
fn consumption_and_refund_never_lift_the_hard_cut() {
    let (mut e, mut p) = exhausted_sg("2");
    assert_eq!(run(&mut e, &mut p, wed(10, 0), kwh("0")), vec![]);
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 1),
            Input::Refund {
                amount: m("1"),
                id: PurchaseId::Sequence(1)
            }
        ),
        reject(InputKind::Refund, Rejection::InsufficientCredit)
    );
    assert_eq!(e.status().credit, CreditState::Exhausted);
}

/// A card top-up at the meter is itself the customer's action: the relay closes at once.
#[test]
fn card_top_up_closes_directly() {
    let (mut e, mut p) = exhausted_sg("2");
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 0),
            top_up("30", 1, TopUpSource::Card)
        ),
        vec![
            topped("30", 1, TopUpSource::Card, "0", "20"),
            received("30", "20"),
            changed(CreditState::Exhausted, CreditState::Normal, "20"),
            P,
            close(CloseReason::Payment),
            Output::Alarm {
                on: false,
                level: AlarmLevel::Exhausted
            },
            notify(Notification::Restored),
        ]
    );
}

/// "Allowed to close" (1B) is not "closed" (1C).
#[test]
fn allow_close_is_not_close() {
    let mut e = sg_local("100");
    let mut p = half();
    let exp = wed(12, 0);
    assert_eq!(
        run(&mut e, &mut p, wed(10, 0), remote(CommandKind::Trip, exp)),
        vec![
            remote_record(CommandKind::Trip),
            P,
            open(Cause::Remote, &[Cause::Remote]),
            notify(Notification::Cut {
                cause: Cause::Remote
            }),
        ]
    );
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 1),
            remote(CommandKind::AllowClose, exp)
        ),
        vec![
            remote_record(CommandKind::AllowClose),
            P,
            arm(CloseReason::Remote),
            notify(Notification::ReconnectAllowed),
        ]
    );
    assert_eq!(e.status().relay, RelayState::Armed);
    assert_eq!(run(&mut e, &mut p, wed(10, 2), Input::Tick), vec![]);
    assert_eq!(e.status().relay, RelayState::Armed);
    assert_eq!(
        run(&mut e, &mut p, wed(10, 3), Input::User(UserAction::Button)),
        vec![P, close(CloseReason::User), notify(Notification::Restored)]
    );
    // Direct close needs no customer.
    run(&mut e, &mut p, wed(10, 4), remote(CommandKind::Trip, exp));
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 5),
            remote(CommandKind::DirectClose, exp)
        ),
        vec![
            remote_record(CommandKind::DirectClose),
            P,
            close(CloseReason::Remote),
            notify(Notification::Restored),
        ]
    );
}

/// The relay is open while any cause requires it; precedence overload > remote > fee names the
/// cause; guard suppresses fee and remote, never overload.
#[test]
fn any_cause_keeps_the_relay_open_with_precedence() {
    let mut e = engine(Profile::StateGridLocal, "0", |c| {
        c.overload = Some(Overload {
            limit_w: 6000,
            sustain_s: 0,
            reclose_s: 60,
        });
    });
    let mut p = half();
    let exp = wed(23, 0);
    e.step(wed(9, 0), Input::User(UserAction::Button), &mut p.pricer()); // overdraft selected, closed
    run(&mut e, &mut p, wed(9, 1), remote(CommandKind::Trip, exp));
    // Exhaust the overdraft while remote-tripped: the relay is already open, no new action.
    let outs = run(&mut e, &mut p, wed(9, 2), kwh("20"));
    assert!(!outs.iter().any(|o| matches!(o, Output::Relay(_))));
    assert_eq!(
        e.status().causes,
        Causes::NONE
            .with(Cause::Remote, true)
            .with(Cause::Fee, true)
    );
    // Lifting the remote trip alone does not close: the fee cause remains.
    let outs = run(
        &mut e,
        &mut p,
        wed(9, 3),
        remote(CommandKind::DirectClose, exp),
    );
    assert_eq!(outs, vec![remote_record(CommandKind::DirectClose), P]);
    assert_eq!(e.status().relay, RelayState::Open);
    // Trip again, then guard: both suppressed, the open relay is actively closed.
    run(&mut e, &mut p, wed(9, 4), remote(CommandKind::Trip, exp));
    assert_eq!(
        run(&mut e, &mut p, wed(9, 5), remote(CommandKind::GuardOn, exp)),
        vec![
            remote_record(CommandKind::GuardOn),
            P,
            close(CloseReason::Guard),
            notify(Notification::Restored),
        ]
    );
    // Overload is not suppressed by guard.
    assert_eq!(
        run(&mut e, &mut p, wed(9, 6), Input::Load { watts: 7000 }),
        vec![
            Output::Record(Record::Overload {
                watts: 7000,
                reclose_at: wed(9, 7),
            }),
            P,
            open(Cause::Overload, &[Cause::Overload]),
            notify(Notification::Cut {
                cause: Cause::Overload
            }),
        ]
    );
    // Guard off: remote and fee come back; the relay is already open.
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(9, 6),
            remote(CommandKind::GuardOff, exp)
        ),
        vec![remote_record(CommandKind::GuardOff), P]
    );
    assert_eq!(e.status().causes.primary(), Some(Cause::Overload));
    // The overload recloses by itself, but remote and fee keep the relay open.
    assert_eq!(run(&mut e, &mut p, wed(9, 7), Input::Tick), vec![]);
    assert_eq!(e.status().relay, RelayState::Open);
    assert_eq!(
        e.status().causes,
        Causes::NONE
            .with(Cause::Remote, true)
            .with(Cause::Fee, true)
    );
    // Guard on and off again: both causes return in one step; the action names remote.
    run(&mut e, &mut p, wed(9, 8), remote(CommandKind::GuardOn, exp));
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(9, 9),
            remote(CommandKind::GuardOff, exp)
        ),
        vec![
            remote_record(CommandKind::GuardOff),
            P,
            open(Cause::Remote, &[Cause::Remote, Cause::Fee]),
            notify(Notification::Cut {
                cause: Cause::Remote
            }),
        ]
    );
}

/// Guard (保电): no fee or remote trip while guarded; usage beyond the overdraft becomes debt;
/// lifting the guard applies the fee cut.
#[test]
fn guard_suppresses_fee_and_remote_trips() {
    let (mut e, mut p) = exhausted_sg("2");
    let exp = wed(23, 0);
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 0),
            remote(CommandKind::GuardOn, exp)
        ),
        vec![
            remote_record(CommandKind::GuardOn),
            P,
            close(CloseReason::Guard),
            notify(Notification::Restored),
        ]
    );
    assert_eq!(
        run(&mut e, &mut p, wed(10, 1), remote(CommandKind::Trip, exp)),
        reject(InputKind::Remote, Rejection::Guarded)
    );
    // The wallet is at −10 (its floor): 4 kWh = 2.0000 becomes debt.
    assert_eq!(
        run(&mut e, &mut p, wed(10, 1), kwh("4")),
        vec![Output::Record(Record::DebtAccrued {
            amount: m("2"),
            debt: m("2")
        })]
    );
    assert_eq!(
        (e.status().balance, e.status().debt, e.status().net),
        (m("-10"), m("2"), m("-12"))
    );
    assert_eq!(e.status().relay, RelayState::Closed);
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 3),
            remote(CommandKind::GuardOff, exp)
        ),
        vec![
            remote_record(CommandKind::GuardOff),
            P,
            open(Cause::Fee, &[Cause::Fee]),
            notify(Notification::Cut { cause: Cause::Fee }),
        ]
    );
    // A top-up repays the debt first.
    run(
        &mut e,
        &mut p,
        wed(10, 4),
        top_up("20", 1, TopUpSource::Remote),
    );
    assert_eq!((e.status().balance, e.status().debt), (m("8"), m("0")));
}

/// Expired remote commands are refused and change nothing.
#[test]
fn expired_remote_command_is_ignored() {
    let mut e = sg_local("100");
    let mut p = half();
    let before = e.clone();
    let expires = wed(9, 59);
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 0),
            remote(CommandKind::Trip, expires)
        ),
        reject(InputKind::Remote, Rejection::Expired { expires })
    );
    assert_eq!(e, before);
    // Valid up to and including its expiry second.
    let outs = run(
        &mut e,
        &mut p,
        wed(10, 0),
        remote(CommandKind::Trip, wed(10, 0)),
    );
    assert_eq!(outs[0], remote_record(CommandKind::Trip));
    assert_eq!(e.status().relay, RelayState::Open);
}

/// Hoarding limit (囤积金额限值): a top-up that would take the credit above it is refused.
#[test]
fn hoarding_limit_rejects_a_top_up() {
    let mut e = engine(Profile::StateGridLocal, "90", |c| {
        c.limits.hoarding = Some(m("100"));
    });
    let mut p = half();
    let before = e.clone();
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 0),
            top_up("10.0001", 1, TopUpSource::Card)
        ),
        reject(InputKind::TopUp, Rejection::Hoarding { limit: m("100") })
    );
    assert_eq!(e, before);
    // Up to the limit is fine (top_up − overdraft + remaining ≤ limit).
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 1),
            top_up("10", 1, TopUpSource::Card)
        ),
        vec![
            topped("10", 1, TopUpSource::Card, "0", "100"),
            received("10", "100"),
            P
        ]
    );
}

/// Anti-replay: purchase count must be the last + 1; order numbers must increase.
#[test]
fn replayed_or_out_of_sequence_top_ups_are_refused() {
    let mut e = sg_local("0");
    let mut p = half();
    run(
        &mut e,
        &mut p,
        wed(10, 0),
        top_up("5", 1, TopUpSource::Card),
    );
    let before = e.clone();
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 1),
            top_up("5", 1, TopUpSource::Card)
        ),
        reject(
            InputKind::TopUp,
            Rejection::Replayed(PurchaseId::Sequence(1))
        )
    );
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 1),
            top_up("5", 3, TopUpSource::Card)
        ),
        reject(
            InputKind::TopUp,
            Rejection::OutOfSequence {
                expected: 2,
                got: 3
            }
        )
    );
    assert_eq!(e, before);
    let order = |o: u64| Input::TopUp {
        amount: m("5"),
        id: PurchaseId::Order(o),
        source: TopUpSource::Remote,
    };
    assert!(matches!(
        run(&mut e, &mut p, wed(10, 2), order(1000))[0],
        Output::Record(Record::TopUp { .. })
    ));
    let before = e.clone();
    for o in [1000, 999] {
        assert_eq!(
            run(&mut e, &mut p, wed(10, 3), order(o)),
            reject(InputKind::TopUp, Rejection::Replayed(PurchaseId::Order(o)))
        );
    }
    assert_eq!(e, before);
    assert!(matches!(
        run(&mut e, &mut p, wed(10, 4), order(1001))[0],
        Output::Record(Record::TopUp { .. })
    ));
    assert_eq!((e.status().last_sequence, e.status().last_order), (1, 1001));
}

/// Overload: power at or above the limit for the sustain time trips; a lower sample restarts
/// the count; the relay recloses by itself after the reclose time.
#[test]
fn overload_trips_after_sustain_and_recloses() {
    // State Grid local defaults: 6 kW, 10 s, reclose after 60 s.
    let mut e = engine(Profile::StateGridLocal, "100", |_| {});
    let mut p = half();
    let t0 = wed(10, 0);
    let load = |w| Input::Load { watts: w };
    assert_eq!(run(&mut e, &mut p, t0, load(7000)), vec![]);
    assert_eq!(run(&mut e, &mut p, Timestamp(t0.0 + 5), load(7000)), vec![]);
    assert_eq!(run(&mut e, &mut p, Timestamp(t0.0 + 6), load(5999)), vec![]);
    assert_eq!(run(&mut e, &mut p, Timestamp(t0.0 + 7), load(6000)), vec![]);
    assert_eq!(
        run(&mut e, &mut p, Timestamp(t0.0 + 16), load(6500)),
        vec![]
    );
    let reclose_at = Timestamp(t0.0 + 77);
    assert_eq!(
        run(&mut e, &mut p, Timestamp(t0.0 + 17), load(6500)),
        vec![
            Output::Record(Record::Overload {
                watts: 6500,
                reclose_at
            }),
            P,
            open(Cause::Overload, &[Cause::Overload]),
            notify(Notification::Cut {
                cause: Cause::Overload
            }),
        ]
    );
    assert_eq!(
        run(&mut e, &mut p, Timestamp(t0.0 + 76), Input::Tick),
        vec![]
    );
    assert_eq!(
        run(&mut e, &mut p, reclose_at, Input::Tick),
        vec![
            P,
            close(CloseReason::Overload),
            notify(Notification::Restored)
        ]
    );
}

/// Parameter changes re-run the evaluation: lowering the overdraft limit can enter the hard cut
/// (and moves what the wallet owes beyond the new limit into debt); lowering the reconnect
/// threshold can leave it.
#[test]
fn parameter_changes_re_evaluate() {
    let mut e = sg_local("0");
    let mut p = half();
    run(&mut e, &mut p, wed(9, 0), Input::User(UserAction::Button));
    run(&mut e, &mut p, wed(9, 1), kwh("12")); // −6, on the overdraft
    assert_eq!(e.status().credit, CreditState::Zero);
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(9, 2),
            Input::SetParam(Param::Overdraft(Some(m("5"))))
        ),
        vec![
            Output::Record(Record::Parameter),
            changed(CreditState::Zero, CreditState::Exhausted, "-6"),
            P,
            open(Cause::Fee, &[Cause::Fee]),
            alarm(AlarmLevel::Exhausted),
            reminder("-6"),
            notify(Notification::Cut { cause: Cause::Fee }),
        ]
    );
    assert_eq!((e.status().balance, e.status().debt), (m("-5"), m("1")));
    // Hard cut with reconnect 0: a top-up to net 1 leaves it.
    let mut e = engine(Profile::StateGridLocal, "0", |c| {
        c.overload = None;
        c.limits.reconnect = m("5");
    });
    run(&mut e, &mut p, wed(9, 0), Input::User(UserAction::Button));
    run(&mut e, &mut p, wed(9, 1), kwh("20"));
    run(
        &mut e,
        &mut p,
        wed(9, 2),
        top_up("13", 1, TopUpSource::Remote),
    ); // net 3 ≤ 5
    assert_eq!(e.status().credit, CreditState::Exhausted);
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(9, 3),
            Input::SetParam(Param::Reconnect(m("2")))
        ),
        vec![
            Output::Record(Record::Parameter),
            changed(CreditState::Exhausted, CreditState::Low, "3"),
            P,
            arm(CloseReason::Parameter),
            alarm(AlarmLevel::Low),
            notify(Notification::ReconnectAllowed),
        ]
    );
    // An invalid change is refused.
    let before = e.clone();
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(9, 4),
            Input::SetParam(Param::Alarm2(Some(m("20"))))
        ),
        reject(
            InputKind::SetParam,
            Rejection::InvalidParameter(amikit_prepay::ConfigError::AlarmOrder)
        )
    );
    assert_eq!(e, before);
}

/// Periodic persistence: money changes are saved at most every `persist_every` seconds.
#[test]
fn consumption_is_persisted_periodically() {
    let mut e = sg_local("100");
    let mut p = half();
    let t0 = wed(10, 0);
    run(&mut e, &mut p, t0, top_up("1", 1, TopUpSource::Card)); // persisted
    assert_eq!(run(&mut e, &mut p, Timestamp(t0.0 + 60), kwh("1")), vec![]);
    assert_eq!(run(&mut e, &mut p, Timestamp(t0.0 + 119), kwh("1")), vec![]);
    assert_eq!(
        run(&mut e, &mut p, Timestamp(t0.0 + 120), Input::Tick),
        vec![P]
    );
    assert_eq!(
        run(&mut e, &mut p, Timestamp(t0.0 + 300), Input::Tick),
        vec![]
    );
}

/// Refund (退费): at most the credit; anti-replay shared with top-ups.
#[test]
fn refund() {
    let mut e = sg_local("50");
    let mut p = half();
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 0),
            Input::Refund {
                amount: m("20"),
                id: PurchaseId::Sequence(1)
            }
        ),
        vec![
            Output::Record(Record::Refund {
                amount: m("20"),
                id: PurchaseId::Sequence(1),
                net: m("30")
            }),
            P
        ]
    );
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 1),
            Input::Refund {
                amount: m("30.0001"),
                id: PurchaseId::Sequence(2)
            }
        ),
        reject(InputKind::Refund, Rejection::InsufficientCredit)
    );
}

// ---- IEC 62055-31 / UK-style (payment-domain.md §3.2) ----------------------------------------

/// Emergency credit: offered at its threshold, selected by the customer, used below zero,
/// exhausted → hard cut; repaid from the next top-up, which must clear the debt; manual
/// reconnection even after a keypad token.
#[test]
fn emergency_credit_threshold_selection_exhaustion_repayment() {
    // UK profile: low credit 2.00, EC 5.00 offered at 1.00, reconnect 0, friendly 16:00–08:00
    // and weekends (Wednesday morning here, so none applies).
    let mut e = engine(Profile::Iec62055, "3", |_| {});
    let mut p = half();
    assert_eq!(
        run(&mut e, &mut p, wed(10, 0), kwh("2")),
        vec![
            changed(CreditState::Normal, CreditState::Low, "2"),
            P,
            alarm(AlarmLevel::Low),
            notify(Notification::LowCredit { net: m("2") }),
        ]
    );
    assert_eq!(
        run(&mut e, &mut p, wed(10, 1), kwh("2")),
        vec![notify(Notification::EmergencyCreditAvailable {
            amount: m("5")
        })]
    );
    assert_eq!(
        run(&mut e, &mut p, wed(10, 2), Input::User(UserAction::Button)),
        vec![Output::Record(Record::EmergencySelected), P]
    );
    // Below zero on emergency credit: no cut.
    assert_eq!(
        run(&mut e, &mut p, wed(10, 3), kwh("4")),
        vec![
            changed(CreditState::Low, CreditState::Zero, "-1"),
            P,
            alarm(AlarmLevel::Overdraft),
            reminder("-1"),
        ]
    );
    assert_eq!(e.status().relay, RelayState::Closed);
    // Exhausted at −5.
    assert_eq!(
        run(&mut e, &mut p, wed(10, 4), kwh("8")),
        vec![
            changed(CreditState::Zero, CreditState::Exhausted, "-5"),
            P,
            open(Cause::Fee, &[Cause::Fee]),
            alarm(AlarmLevel::Exhausted),
            reminder("-5"),
            notify(Notification::Cut { cause: Cause::Fee }),
        ]
    );
    // A top-up of 5 repays the emergency credit but does not pass the reconnect threshold 0.
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 5),
            top_up("5", 1, TopUpSource::Token)
        ),
        vec![
            topped("5", 1, TopUpSource::Token, "0", "0"),
            received("5", "0"),
            P
        ]
    );
    assert_eq!(
        (e.status().balance, e.status().credit),
        (m("0"), CreditState::Exhausted)
    );
    // 10 more: reconnection allowed, never automatic in this profile (even from the keypad).
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 6),
            top_up("10", 2, TopUpSource::Token)
        ),
        vec![
            topped("10", 2, TopUpSource::Token, "0", "10"),
            received("10", "10"),
            changed(CreditState::Exhausted, CreditState::Normal, "10"),
            P,
            arm(CloseReason::Payment),
            Output::Alarm {
                on: false,
                level: AlarmLevel::Exhausted
            },
            notify(Notification::ReconnectAllowed),
        ]
    );
    assert_eq!(
        run(&mut e, &mut p, wed(10, 7), Input::User(UserAction::Button)),
        vec![P, close(CloseReason::User), notify(Notification::Restored)]
    );
    // Re-offered once the credit falls to the threshold again.
    run(&mut e, &mut p, wed(10, 8), kwh("16")); // 10 → 2
    assert_eq!(
        run(&mut e, &mut p, wed(10, 9), kwh("2")),
        vec![notify(Notification::EmergencyCreditAvailable {
            amount: m("5")
        })]
    );
}

/// Friendly credit: no disconnection inside the window; usage beyond the emergency amount
/// accrues as debt; the cut comes when the window ends; a top-up repays the debt first.
#[test]
fn friendly_credit_no_cut_at_night_debt_accrues() {
    let mut e = engine(Profile::Iec62055, "0.5", |_| {});
    let mut p = half();
    run(&mut e, &mut p, wed(15, 0), Input::Tick);
    assert_eq!(
        run(&mut e, &mut p, wed(16, 0), Input::Tick),
        vec![Output::Record(Record::Friendly(true))]
    );
    // 20 kWh = 10.0000: 0.5 → the wallet stops at −5 (the EC amount), 4.5 becomes debt.
    assert_eq!(
        run(&mut e, &mut p, wed(17, 0), kwh("20")),
        vec![
            Output::Record(Record::DebtAccrued {
                amount: m("4.5"),
                debt: m("4.5")
            }),
            changed(CreditState::Low, CreditState::Exhausted, "-9.5"),
            P,
            alarm(AlarmLevel::Exhausted),
            reminder("-9.5"),
        ]
    );
    assert_eq!(e.status().relay, RelayState::Closed);
    // Thursday 08:00: the window ends and the cut applies.
    let thu8 = at(2026, 1, 8, 8, 0);
    assert_eq!(
        run(&mut e, &mut p, thu8, Input::Tick),
        vec![
            Output::Record(Record::Friendly(false)),
            P,
            open(Cause::Fee, &[Cause::Fee]),
            notify(Notification::Cut { cause: Cause::Fee }),
        ]
    );
    // The next top-up repays the debt first, then the wallet.
    let outs = run(
        &mut e,
        &mut p,
        Timestamp(thu8.0 + 60),
        top_up("12", 1, TopUpSource::Token),
    );
    assert_eq!(outs[0], topped("12", 1, TopUpSource::Token, "4.5", "2.5"));
    assert_eq!((e.status().balance, e.status().debt), (m("2.5"), m("0")));
    assert_eq!(e.status().relay, RelayState::Armed);
}

/// The friendly calendar: daily window wrapping midnight, weekend days, holidays.
#[test]
fn friendly_calendar_windows() {
    let mut holidays = heapless::Vec::new();
    holidays.push(Date::new(2026, 1, 1).unwrap()).unwrap();
    let cal = FriendlyCalendar {
        daily: Some(Window {
            start: 16 * 60,
            end: 8 * 60,
        }),
        days: weekday_bit(Weekday::Saturday) | weekday_bit(Weekday::Sunday),
        holidays,
    };
    assert!(!cal.contains(wed(12, 0)));
    assert!(!cal.contains(wed(8, 0)));
    assert!(cal.contains(wed(7, 59)));
    assert!(cal.contains(wed(16, 0)));
    assert!(cal.contains(wed(23, 59)));
    // 2026-01-10 is a Saturday, 2026-01-12 a Monday, 2026-01-01 a holiday (Thursday).
    assert!(cal.contains(at(2026, 1, 10, 12, 0)));
    assert!(!cal.contains(at(2026, 1, 12, 12, 0)));
    assert!(cal.contains(at(2026, 1, 1, 12, 0)));
    assert!(!cal.contains(at(2026, 1, 2, 12, 0)));
}

// ---- master station: remote fee control (system-design.md, payment-domain.md §2.1) ----------

/// Remote fee control: the thresholds become commands — reminder alarm, trip, allow close after
/// payment, guard.
#[test]
fn master_profile_turns_thresholds_into_commands() {
    let mut e = engine(Profile::StateGridRemote, "12", |_| {});
    let mut p = half();
    let cmd = |kind, reason| Output::Command(Command { kind, reason });
    assert_eq!(
        run(&mut e, &mut p, wed(10, 0), kwh("4")),
        vec![
            changed(CreditState::Normal, CreditState::Low, "10"),
            P,
            cmd(CommandKind::Alarm, CommandReason::Reminder),
            notify(Notification::LowCredit { net: m("10") }),
        ]
    );
    assert_eq!(
        run(&mut e, &mut p, wed(11, 0), kwh("20")),
        vec![
            changed(CreditState::Low, CreditState::Exhausted, "0"),
            P,
            cmd(CommandKind::Trip, CommandReason::Open(Cause::Fee)),
            reminder("0"),
            notify(Notification::Cut { cause: Cause::Fee }),
        ]
    );
    // Readings that arrive after the trip are still charged, as debt (and saved: the last
    // snapshot is older than `persist_every`).
    assert_eq!(
        run(&mut e, &mut p, wed(11, 15), kwh("1")),
        vec![
            Output::Record(Record::DebtAccrued {
                amount: m("0.5"),
                debt: m("0.5")
            }),
            P
        ]
    );
    let pay = Input::TopUp {
        amount: m("50"),
        id: PurchaseId::Order(20_260_107_001),
        source: TopUpSource::Counter,
    };
    let outs = run(&mut e, &mut p, wed(12, 0), pay);
    assert_eq!(
        outs,
        vec![
            Output::Record(Record::TopUp {
                amount: m("50"),
                id: PurchaseId::Order(20_260_107_001),
                source: TopUpSource::Counter,
                repaid: m("0.5"),
                debt: m("0"),
                net: m("49.5"),
            }),
            received("50", "49.5"),
            changed(CreditState::Exhausted, CreditState::Normal, "49.5"),
            P,
            cmd(
                CommandKind::AllowClose,
                CommandReason::Close(CloseReason::Payment)
            ),
            cmd(CommandKind::AlarmRelease, CommandReason::Reminder),
            notify(Notification::ReconnectAllowed),
        ]
    );
    assert!(matches!(outs[4], Output::Command(c) if c.is_restoring()));
    assert_eq!(e.status().relay, RelayState::Armed);
    // The meter reports that the customer closed it: no command is due.
    let mut reported = e.clone();
    assert_eq!(
        run(
            &mut reported,
            &mut p,
            wed(12, 3),
            Input::User(UserAction::Button)
        ),
        vec![P, notify(Notification::Restored)]
    );
    assert_eq!(reported.status().relay, RelayState::Closed);
    // An operator's guard is passed on as a command.
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(12, 5),
            remote(CommandKind::GuardOn, wed(13, 0))
        ),
        vec![
            remote_record(CommandKind::GuardOn),
            P,
            cmd(CommandKind::GuardOn, CommandReason::Operator),
            cmd(
                CommandKind::DirectClose,
                CommandReason::Close(CloseReason::Guard)
            ),
            notify(Notification::Restored),
        ]
    );
}

// ---- power-fail safety ------------------------------------------------------------------------

/// Power-up: the state persisted before the relay action is restored from the snapshot.
#[test]
fn power_up_restores_the_snapshot() {
    let (mut e, mut p) = exhausted_sg("2");
    let mut saved = Vec::new();
    for o in e.step(
        wed(10, 0),
        top_up("3", 1, TopUpSource::Remote),
        &mut p.pricer(),
    ) {
        if let Output::Persist(s) = o {
            saved.push(s);
        }
    }
    assert_eq!(saved.len(), 1);
    // A fresh engine (what the meter has after a reset) powered up from it.
    let mut fresh = engine(Profile::StateGridLocal, "0", |c| c.overload = None);
    let outs = run(&mut fresh, &mut p, wed(10, 5), Input::PowerUp(saved[0]));
    // Nothing changed: no relay action and no alarm announced again (the snapshot carries
    // the alarm in force; the meter drives its indicator from `alarm()` after power-up).
    assert_eq!(
        outs,
        vec![Output::Record(Record::PoweredUp {
            generation: saved[0].generation
        })]
    );
    assert_eq!(
        (
            fresh.status().balance,
            fresh.status().debt,
            fresh.status().credit,
            fresh.status().relay
        ),
        (
            e.status().balance,
            e.status().debt,
            e.status().credit,
            e.status().relay
        )
    );
    assert_eq!(fresh.status().alarm, Some(AlarmLevel::Exhausted));
    assert_eq!(fresh.status().alarm, e.status().alarm);
    assert_eq!(
        (fresh.status().last_sequence, fresh.status().last_order),
        (1, 0)
    );
    // The top-up cannot be replayed after the power failure.
    assert_eq!(
        run(
            &mut fresh,
            &mut p,
            wed(10, 6),
            top_up("3", 1, TopUpSource::Remote)
        ),
        reject(
            InputKind::TopUp,
            Rejection::Replayed(PurchaseId::Sequence(1))
        )
    );
    // A corrupted snapshot is refused.
    let mut bad = saved[0];
    bad.balance = m("1000");
    assert_eq!(
        run(&mut fresh, &mut p, wed(10, 7), Input::PowerUp(bad)),
        reject(InputKind::PowerUp, Rejection::BadSnapshot)
    );
}

/// Recovery from several copies is conservative: least balance, most debt, highest counters;
/// corrupted copies are ignored.
#[test]
fn recovery_is_conservative() {
    let base = Snapshot {
        generation: 7,
        taken_at: wed(10, 0),
        balance: m("20"),
        debt: m("0"),
        credit: CreditState::Normal,
        relay: RelayState::Closed,
        flags: 0,
        alarm: None,
        last_sequence: 4,
        last_order: 0,
        overload_until: None,
        charging: None,
        checksum: 0,
    };
    let a = base.sealed();
    let b = Snapshot {
        generation: 8,
        balance: m("19.5"),
        ..base
    }
    .sealed();
    let c = Snapshot {
        generation: 6,
        balance: m("18"),
        debt: m("1"),
        credit: CreditState::Low,
        ..base
    }
    .sealed();
    // An older copy from before the last purchase: less money, lower count.
    let old = Snapshot {
        generation: 3,
        balance: m("2"),
        last_sequence: 3,
        ..base
    }
    .sealed();
    let mut corrupt = Snapshot {
        generation: 9,
        balance: m("1"),
        ..base
    }
    .sealed();
    corrupt.debt = m("0.0001"); // flipped after sealing
    let r = recover([&a, &b, &c, &old, &corrupt]).unwrap();
    assert!(r.verify());
    // c has the least net (18 − 1 = 17) among the copies with the latest count.
    assert_eq!((r.balance, r.debt), (m("18"), m("1")));
    // State from the newest intact copy with the latest count (b, generation 8).
    assert_eq!(r.credit, b.credit);
    assert_eq!((r.generation, r.last_sequence), (8, 4));
    assert_eq!(r.relay, b.relay);
    // Bytes round trip.
    assert_eq!(Snapshot::parse(&r.emit()), Ok(r));
    let mut bytes = r.emit();
    bytes[20] ^= 1;
    assert!(Snapshot::parse(&bytes).is_err());
    assert!(recover([&corrupt]).is_err());
    assert!(recover([] as [&Snapshot; 0]).is_err());
    let _ = norm([]);
}

/// The meter profile's engine state (configuration included) fits in 512 bytes (it is 240 on
/// x86-64 today).
#[test]
fn engine_state_fits_in_512_bytes() {
    let size = core::mem::size_of::<Engine>();
    println!(
        "Engine {size} B, Snapshot {} B, Output {} B, Outputs {} B, Tracker<u32, 16> {} B",
        core::mem::size_of::<Snapshot>(),
        core::mem::size_of::<Output>(),
        core::mem::size_of::<amikit_prepay::Outputs>(),
        core::mem::size_of::<amikit_prepay::Tracker<u32, 16>>()
    );
    assert!(size <= 512, "Engine is {size} bytes");
}
