//! Field hardening (amikit issue 11), one test per rule, each asserting the exact outputs:
//! a top-up never opens the relay; configurations that trap a customer are refused; snapshots
//! carry the tariff charging state and the overload hold across a power failure; a refused
//! input leaves the pricer untouched; a relay that did not act is seen; debt recovery per
//! top-up is a policy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use amikit_prepay::tariff::{
    ChargeState, Settlement, SettlementDate, StepTable, Tariff, tariff::MAX_LEVIES,
};
use amikit_prepay::{
    AlarmLevel, Cause, Causes, Charging, CloseReason, Command, CommandKind, CommandReason, Config,
    ConfigError, CreditState, DebtRecovery, Energy, Engine, Input, InputKind, LimitField, Money,
    Notification, Output, Param, Price, PriceError, Pricer, Profile, PurchaseId, Record, Rejection,
    RelayAction, RelayState, Snapshot, TariffPricer, Timestamp, TopUpSource, UserAction, recover,
};
use common::{P, engine, half, kwh, m, norm, remote, run, top_up, wed};

fn changed(from: CreditState, to: CreditState, net: &str) -> Output {
    Output::Record(Record::CreditChanged {
        from,
        to,
        net: m(net),
    })
}

fn topped(
    amount: &str,
    n: u32,
    source: TopUpSource,
    repaid: &str,
    debt: &str,
    net: &str,
) -> Output {
    Output::Record(Record::TopUp {
        amount: m(amount),
        id: PurchaseId::Sequence(n),
        source,
        repaid: m(repaid),
        debt: m(debt),
        net: m(net),
    })
}

fn received(amount: &str, net: &str) -> Output {
    Output::Notify(Notification::PaymentReceived {
        amount: m(amount),
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

fn alarm(level: AlarmLevel) -> Output {
    Output::Alarm { on: true, level }
}

fn notify(n: Notification) -> Output {
    Output::Notify(n)
}

fn mismatch(commanded: RelayState, observed: RelayState, reissued: bool) -> Output {
    Output::RelayMismatch {
        commanded,
        observed,
        reissued,
    }
}

fn position(closed: bool) -> Input {
    Input::RelayPosition { closed }
}

/// State Grid local fee control without overload protection: alarm 1 = 10, alarm 2 = 2,
/// overdraft 10, reconnect 2, hoarding 9999.99.
fn sg_local(balance: &str) -> Engine {
    engine(Profile::StateGridLocal, balance, |c| c.overload = None)
}

// ---- 1. a top-up never opens the relay ------------------------------------------------------

/// A customer running on the selected overdraft pays into the alarm-2 band: before the fix the
/// payment opened the relay (alarm 2 is a cut and the "restored" flag belongs to the band), now
/// the payment keeps the supply on and counts as the customer's restore.
#[test]
fn a_top_up_into_alarm2_from_the_overdraft_keeps_the_supply() {
    let mut e = sg_local("0");
    let mut p = half();
    run(&mut e, &mut p, wed(9, 0), Input::Tick); // zero: cut until selected
    run(&mut e, &mut p, wed(9, 1), Input::User(UserAction::Button)); // overdraft selected
    run(&mut e, &mut p, wed(9, 2), kwh("10")); // −5.00, still on the overdraft
    assert_eq!(
        (e.status().credit, e.status().relay),
        (CreditState::Zero, RelayState::Closed)
    );
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 0),
            top_up("6", 1, TopUpSource::Remote)
        ),
        vec![
            topped("6", 1, TopUpSource::Remote, "0", "0", "1"),
            received("6", "1"),
            changed(CreditState::Zero, CreditState::Alarm2, "1"),
            P,
            alarm(AlarmLevel::Alarm2),
        ]
    );
    assert_eq!(e.status().relay, RelayState::Closed);
    // The supply stays on through the rest of the band, to zero.
    assert_eq!(run(&mut e, &mut p, wed(10, 1), Input::Tick), vec![]);
    assert_eq!(run(&mut e, &mut p, wed(10, 1), kwh("1")), vec![]);
    assert_eq!(e.status().relay, RelayState::Closed);
}

/// A payment that arrives after a friendly-credit window ended, with no input since, does not
/// end the window (that would cut the customer in the step of their payment); the next input
/// does.
#[test]
fn a_top_up_never_ends_a_friendly_window() {
    // UK profile: EC 5.00, reconnect 0, friendly 16:00–08:00. Opening at the EC limit: the
    // hard cut, suppressed at 07:00 by the night window.
    let mut e = engine(Profile::Iec62055, "-5", |_| {});
    let mut p = half();
    run(&mut e, &mut p, wed(7, 0), Input::Tick);
    assert_eq!(
        (e.status().credit, e.status().relay, e.status().friendly),
        (CreditState::Exhausted, RelayState::Closed, true)
    );
    // 08:30, a keypad token too small to leave the hard cut (−2.00 ≤ reconnect 0).
    let pay = Input::TopUp {
        amount: m("3"),
        id: PurchaseId::Sequence(1),
        source: TopUpSource::Token,
    };
    assert_eq!(
        run(&mut e, &mut p, wed(8, 30), pay),
        vec![
            topped("3", 1, TopUpSource::Token, "0", "0", "-2"),
            received("3", "-2"),
            P,
        ]
    );
    assert_eq!(e.status().relay, RelayState::Closed);
    // The next input ends the window and cuts.
    assert_eq!(
        run(&mut e, &mut p, wed(8, 31), Input::Tick),
        vec![
            Output::Record(Record::Friendly(false)),
            P,
            open(Cause::Fee, &[Cause::Fee]),
            notify(Notification::Cut { cause: Cause::Fee }),
        ]
    );
}

/// Refused top-ups (replay, hoarding) emit nothing but the refusal.
#[test]
fn a_refused_top_up_emits_only_its_refusal() {
    let mut e = sg_local("100");
    let mut p = half();
    run(&mut e, &mut p, wed(9, 0), top_up("5", 1, TopUpSource::Card));
    let before = e.clone();
    for input in [
        top_up("5", 1, TopUpSource::Card),
        top_up("99999", 2, TopUpSource::Card),
    ] {
        let outs = run(&mut e, &mut p, wed(9, 1), input);
        assert!(matches!(outs[..], [Output::Reject { .. }]), "{outs:?}");
        assert_eq!(e, before);
    }
}

// ---- 2. configurations that trap a customer are refused -------------------------------------

fn refused(f: impl FnOnce(&mut Config)) -> ConfigError {
    let mut c = Profile::StateGridLocal.config();
    f(&mut c);
    let e = c.validate().unwrap_err();
    assert_eq!(
        Engine::new(c, m("10")).unwrap_err(),
        e,
        "Engine::new agrees"
    );
    e
}

#[test]
fn every_profile_default_is_valid() {
    for p in Profile::ALL {
        assert_eq!(p.config().validate(), Ok(()), "{p}");
    }
}

#[test]
fn a_negative_reconnect_threshold_is_refused() {
    assert_eq!(
        refused(|c| {
            c.limits.alarm2 = None;
            c.limits.reconnect = m("-1");
        }),
        ConfigError::Negative(LimitField::Reconnect)
    );
}

#[test]
fn reconnect_below_alarm2_is_refused() {
    assert_eq!(
        refused(|c| c.limits.reconnect = m("1.99")),
        ConfigError::ReconnectBelowAlarm2 {
            reconnect: m("1.99"),
            alarm2: m("2"),
        }
    );
    // At alarm 2 it is fine: leaving the hard cut (credit > reconnect) leaves alarm 2 too.
    let mut c = Profile::StateGridLocal.config();
    c.limits.reconnect = m("2");
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn reconnect_at_or_above_the_hoarding_limit_is_refused() {
    for r in ["100", "150"] {
        assert_eq!(
            refused(|c| {
                c.limits.hoarding = Some(m("100"));
                c.limits.reconnect = m(r);
            }),
            ConfigError::ReconnectNotBelowHoarding {
                reconnect: m(r),
                hoarding: m("100"),
            }
        );
    }
    // A hoarding limit of zero can never be reconnected under.
    assert_eq!(
        refused(|c| {
            c.limits.alarm2 = None;
            c.limits.reconnect = m("0");
            c.limits.hoarding = Some(m("0"));
        }),
        ConfigError::ReconnectNotBelowHoarding {
            reconnect: m("0"),
            hoarding: m("0"),
        }
    );
}

#[test]
fn an_emergency_threshold_above_alarm1_is_refused() {
    let mut c = Profile::Iec62055.config();
    c.limits.emergency_threshold = Some(m("2.01"));
    assert_eq!(
        c.validate(),
        Err(ConfigError::EmergencyAboveAlarm1 {
            threshold: m("2.01"),
            alarm1: m("2"),
        })
    );
    c.limits.emergency_threshold = Some(m("2"));
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn a_master_station_cannot_use_an_overdraft_the_customer_must_select() {
    let mut c = Profile::StateGridRemote.config();
    c.limits.overdraft = Some(m("10"));
    assert_eq!(c.validate(), Ok(()));
    c.policy.overdraft_needs_selection = true;
    assert_eq!(c.validate(), Err(ConfigError::OverdraftNotSelectable));
}

#[test]
fn a_debt_recovery_that_recovers_nothing_is_refused() {
    for r in [
        DebtRecovery::PercentOfTopUp(0),
        DebtRecovery::PercentOfTopUp(101),
        DebtRecovery::FixedPerTopUp(m("0")),
        DebtRecovery::FixedPerTopUp(m("-1")),
    ] {
        assert_eq!(
            refused(|c| c.policy.debt_recovery = r),
            ConfigError::DebtRecovery(r)
        );
    }
    for r in [
        DebtRecovery::PercentOfTopUp(1),
        DebtRecovery::PercentOfTopUp(100),
        DebtRecovery::FixedPerTopUp(m("0.0001")),
    ] {
        let mut c = Profile::StateGridLocal.config();
        c.policy.debt_recovery = r;
        assert_eq!(c.validate(), Ok(()));
    }
}

/// `Config::apply` validates and leaves the configuration unchanged when it refuses; a
/// parameter input that would trap the customer is refused and changes nothing.
#[test]
fn apply_and_set_param_refuse_a_trap() {
    let mut c = Profile::StateGridLocal.config();
    let before = c.clone();
    assert_eq!(
        c.apply(Param::Hoarding(Some(m("2")))),
        Err(ConfigError::ReconnectNotBelowHoarding {
            reconnect: m("2"),
            hoarding: m("2"),
        })
    );
    assert_eq!(c, before);
    assert_eq!(c.apply(Param::Reconnect(m("5"))), Ok(()));
    assert_eq!(c.limits.reconnect, m("5"));

    let mut e = sg_local("50");
    let mut p = half();
    let snapshot = e.clone();
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(9, 0),
            Input::SetParam(Param::Reconnect(m("1")))
        ),
        vec![Output::Reject {
            input: InputKind::SetParam,
            reason: Rejection::InvalidParameter(ConfigError::ReconnectBelowAlarm2 {
                reconnect: m("1"),
                alarm2: m("2"),
            }),
        }]
    );
    assert_eq!(e, snapshot);
}

// ---- 3. snapshots carry the tariff charging state; power-down ---------------------------------

/// A flat 0.5283 per kWh with a step of +0.3000 beyond 1 kWh a year: both the carried
/// remainder and the step period's energy matter.
fn stepped() -> Tariff {
    let p = |s| Price::parse(s).unwrap();
    Tariff::flat(p("0.5283")).unwrap().with_steps(
        StepTable::new(
            &[Energy::parse("1").unwrap()],
            &[p("0"), p("0.3")],
            Settlement::yearly(&[SettlementDate::new(1, 1, 0).unwrap()]).unwrap(),
        )
        .unwrap(),
    )
}

/// Power-down persists engine and charging state in one snapshot; the engine refuses
/// everything but a power-up; a meter restarted from the snapshot bytes with a *fresh*
/// charging state charges exactly what an uninterrupted meter charges.
#[test]
fn a_power_failure_neither_loses_nor_repeats_charging_state() {
    let tariff = stepped();
    let consume = |wh| Input::Consume {
        energy: Energy::from_wh(wh),
    };
    let mut reference = sg_local("100");
    let mut ref_state = ChargeState::new();
    let mut e = sg_local("100");
    let mut state = ChargeState::new();
    let steps = [7, 333, 501, 13, 999, 1];
    let mut t = wed(10, 0);
    for (i, wh) in steps.into_iter().enumerate() {
        t = t.plus(60);
        reference.step(
            t,
            consume(wh),
            &mut TariffPricer::new(&tariff, &mut ref_state),
        );
        e.step(t, consume(wh), &mut TariffPricer::new(&tariff, &mut state));
        if i == 2 {
            // 841 Wh into the step period, a remainder carried: the supply fails.
            let outs = e.step(
                t.plus(1),
                Input::PowerDown,
                &mut TariffPricer::new(&tariff, &mut state),
            );
            let [Output::Persist(snap)] = outs[..] else {
                panic!("{outs:?}");
            };
            assert!(e.status().powered_down);
            let charging = snap.charging.unwrap();
            assert_eq!(charging, Charging::from(&state));
            assert_eq!(charging.period_energy, Energy::from_wh(841));
            assert_ne!(charging.carry, amikit_prepay::tariff::Remainder::ZERO);
            // Nothing but a power-up is accepted now.
            for input in [consume(1), Input::Tick, position(true), Input::PowerDown] {
                let kind = InputKind::from(&input);
                assert_eq!(
                    e.step(
                        t.plus(2),
                        input,
                        &mut TariffPricer::new(&tariff, &mut state)
                    )[..],
                    [Output::Reject {
                        input: kind,
                        reason: Rejection::PoweredDown
                    }]
                );
            }
            // The meter restarts: RAM lost, the snapshot read back from EEPROM.
            let bytes = snap.emit();
            let restored = Snapshot::parse(&bytes).unwrap();
            let back = recover([&restored]).unwrap();
            e = sg_local("0");
            state = ChargeState::new();
            let outs = e.step(
                t.plus(30),
                Input::PowerUp(back),
                &mut TariffPricer::new(&tariff, &mut state),
            );
            assert_eq!(
                norm(outs),
                vec![Output::Record(Record::PoweredUp {
                    generation: snap.generation
                })]
            );
            assert_eq!(Charging::from(&state), charging);
            assert!(!e.status().powered_down);
        }
    }
    assert_eq!(e.status().balance, reference.status().balance);
    assert_eq!(Charging::from(&state), Charging::from(&ref_state));
    // Without the charging state the restarted meter would have charged the step-2 energy at
    // the step-1 price: the difference is not zero, so the test would notice.
    assert!(reference.status().balance < m("100").checked_sub(m("0.9")).unwrap());
}

/// Every persisted snapshot carries the pricer's charging state; recovery takes it from the
/// copy the money comes from.
#[test]
fn persisted_snapshots_carry_the_charging_state() {
    let tariff = stepped();
    let mut state = ChargeState::new();
    let mut e = sg_local("12");
    let outs = e.step(
        wed(10, 0),
        kwh("20"),
        &mut TariffPricer::new(&tariff, &mut state),
    );
    let snap = outs
        .iter()
        .find_map(|o| match o {
            Output::Persist(s) => Some(*s),
            _ => None,
        })
        .unwrap();
    assert_eq!(snap.charging, Some(Charging::from(&state)));
    assert_eq!(
        snap.charging.unwrap().period_energy,
        Energy::from_wh(20_000)
    );
    // Two copies with the same counters: the poorer one's money and charging state.
    let richer = Snapshot {
        generation: snap.generation + 1,
        balance: snap.balance.checked_add(m("1")).unwrap(),
        charging: Some(Charging::default()),
        ..snap
    }
    .sealed();
    let r = recover([&richer, &snap]).unwrap();
    assert_eq!((r.balance, r.charging), (snap.balance, snap.charging));
    assert_eq!(r.generation, richer.generation);
    let _ = MAX_LEVIES;
}

// ---- 4. a refused input leaves the pricer untouched -----------------------------------------

/// A pricer that records the calls the engine makes.
struct Spy {
    cost: Money,
    calls: Vec<&'static str>,
}

impl Pricer for Spy {
    fn price(&mut self, _at: Timestamp, _energy: Energy) -> Result<Money, PriceError> {
        self.calls.push("price");
        Ok(self.cost)
    }

    fn standing(&mut self, _at: Timestamp) -> Result<Money, PriceError> {
        self.calls.push("standing");
        Ok(self.cost)
    }

    fn commit(&mut self) {
        self.calls.push("commit");
    }

    fn rollback(&mut self) {
        self.calls.push("rollback");
    }
}

/// An engine whose debt is so large that the next charge of 310.0000 or more overflows it.
fn nearly_overflowing() -> Engine {
    let mut e = sg_local("100");
    // 100 + 10 overdraft from the wallet, the rest into debt: debt = i64::MAX − 3 100 000 raw.
    let outs = e.step(
        wed(9, 0),
        Input::Charge {
            amount: Money::from_raw(i64::MAX - 2_000_000),
        },
        &mut amikit_prepay::NoCharge,
    );
    assert!(!outs.iter().any(|o| matches!(o, Output::Reject { .. })));
    assert_eq!(e.status().debt, Money::from_raw(i64::MAX - 3_100_000));
    e
}

#[test]
fn the_engine_commits_an_accepted_charge_and_rolls_back_a_refused_one() {
    let mut e = nearly_overflowing();
    let mut spy = Spy {
        cost: m("1"),
        calls: Vec::new(),
    };
    e.step(wed(10, 0), kwh("1"), &mut spy);
    e.step(wed(10, 1), Input::Tick, &mut spy);
    assert_eq!(spy.calls, ["price", "commit", "standing", "commit"]);
    spy.calls.clear();
    spy.cost = m("400");
    let before = e.clone();
    for input in [kwh("1"), Input::Tick] {
        let kind = InputKind::from(&input);
        assert_eq!(
            e.step(wed(10, 2), input, &mut spy)[..],
            [Output::Reject {
                input: kind,
                reason: Rejection::Overflow
            }]
        );
    }
    assert_eq!(spy.calls, ["price", "rollback", "standing", "rollback"]);
    assert_eq!(e, before);
    // A negative price is refused and rolled back too.
    spy.calls.clear();
    spy.cost = m("-1");
    let outs = e.step(wed(10, 3), kwh("1"), &mut spy);
    assert_eq!(
        outs[..],
        [Output::Reject {
            input: InputKind::Consume,
            reason: Rejection::Price(PriceError::Negative)
        }]
    );
    assert_eq!(spy.calls, ["price", "rollback"]);
}

/// With the tariff pricer, a consumption refused after pricing leaves the customer's
/// `ChargeState` exactly as it was (before the fix the carry, the time of the last charge and
/// the step period's energy had advanced).
#[test]
fn a_refused_consumption_leaves_the_charging_state_untouched() {
    let tariff = stepped();
    let mut state = ChargeState::new();
    let mut e = nearly_overflowing();
    e.step(
        wed(10, 0),
        Input::Consume {
            energy: Energy::from_wh(7),
        },
        &mut TariffPricer::new(&tariff, &mut state),
    );
    let state_before = state.clone();
    let before = e.clone();
    // 1000 kWh ≈ 828 money: the debt would overflow.
    let outs = e.step(
        wed(10, 1),
        kwh("1000"),
        &mut TariffPricer::new(&tariff, &mut state),
    );
    assert_eq!(
        outs[..],
        [Output::Reject {
            input: InputKind::Consume,
            reason: Rejection::Overflow
        }]
    );
    assert_eq!(e, before);
    // Exactly as it was (its cached unit price aside, which the next charge rebuilds) …
    assert_eq!(Charging::from(&state), Charging::from(&state_before));
    assert_eq!(state.period_energy(), Energy::from_wh(7));
    // … so the next accepted charge is the one an untouched state makes.
    let mut reference = state_before;
    let at = amikit_prepay::tariff::DateTime::new(2026, 1, 7, 10, 2, 0).unwrap();
    let e1 = Energy::from_wh(1234);
    assert_eq!(
        tariff.charge(&mut state, at, e1).unwrap(),
        tariff.charge(&mut reference, at, e1).unwrap()
    );
    assert_eq!(state, reference);
}

// ---- 5. the overload hold survives a power failure ------------------------------------------

#[test]
fn an_overload_hold_survives_power_down_and_up() {
    // State Grid local defaults: 6 kW for 10 s trips, reclose 60 s later.
    let mut e = engine(Profile::StateGridLocal, "100", |_| {});
    let mut p = half();
    let t0 = wed(10, 0);
    run(&mut e, &mut p, t0, Input::Load { watts: 7000 });
    let outs = run(&mut e, &mut p, t0.plus(10), Input::Load { watts: 7000 });
    assert!(outs.contains(&open(Cause::Overload, &[Cause::Overload])));
    assert_eq!(e.status().overload_until, Some(t0.plus(70)));
    // The supply fails 10 s into the hold and returns 20 s later.
    let outs = e.step(t0.plus(20), Input::PowerDown, &mut p.pricer());
    let [Output::Persist(snap)] = outs[..] else {
        panic!("{outs:?}");
    };
    assert_eq!(snap.overload_until, Some(t0.plus(70)));
    let mut e = engine(Profile::StateGridLocal, "0", |_| {});
    assert_eq!(
        run(&mut e, &mut p, t0.plus(40), Input::PowerUp(snap)),
        vec![Output::Record(Record::PoweredUp {
            generation: snap.generation
        })]
    );
    assert_eq!(
        (e.status().relay, e.status().overload_until.is_some()),
        (RelayState::Open, true)
    );
    assert_eq!(run(&mut e, &mut p, t0.plus(69), Input::Tick), vec![]);
    assert_eq!(
        run(&mut e, &mut p, t0.plus(70), Input::Tick),
        vec![
            P,
            close(CloseReason::Overload),
            notify(Notification::Restored)
        ]
    );
}

/// A hold that ran out while the supply was off recloses at power-up.
#[test]
fn an_overload_hold_that_ran_out_while_off_recloses_at_power_up() {
    let mut e = engine(Profile::StateGridLocal, "100", |_| {});
    let mut p = half();
    let t0 = wed(10, 0);
    run(&mut e, &mut p, t0, Input::Load { watts: 7000 });
    run(&mut e, &mut p, t0.plus(10), Input::Load { watts: 7000 });
    let outs = e.step(t0.plus(20), Input::PowerDown, &mut p.pricer());
    let [Output::Persist(snap)] = outs[..] else {
        panic!("{outs:?}");
    };
    let mut e = engine(Profile::StateGridLocal, "0", |_| {});
    assert_eq!(
        run(&mut e, &mut p, t0.plus(600), Input::PowerUp(snap)),
        vec![
            Output::Record(Record::PoweredUp {
                generation: snap.generation
            }),
            P,
            close(CloseReason::PowerUp),
            notify(Notification::Restored)
        ]
    );
}

// ---- 6. the relay position ------------------------------------------------------------------

#[test]
fn a_relay_that_did_not_close_is_reissued_once_then_reported() {
    let mut e = sg_local("100");
    let mut p = half();
    run(&mut e, &mut p, wed(9, 0), Input::Tick);
    // Agrees: nothing.
    assert_eq!(run(&mut e, &mut p, wed(9, 1), position(true)), vec![]);
    // Commanded closed, seen open: reported, persisted, the close re-issued.
    assert_eq!(
        run(&mut e, &mut p, wed(9, 2), position(false)),
        vec![
            mismatch(RelayState::Closed, RelayState::Open, true),
            P,
            close(CloseReason::Reconcile),
        ]
    );
    // Still open: reported without another re-issue (the caller raises a job).
    assert_eq!(
        run(&mut e, &mut p, wed(9, 3), position(false)),
        vec![mismatch(RelayState::Closed, RelayState::Open, false)]
    );
    // Fixed: the agreement is persisted; a later mismatch is re-issued again.
    assert_eq!(run(&mut e, &mut p, wed(9, 4), position(true)), vec![P]);
    assert_eq!(
        run(&mut e, &mut p, wed(9, 5), position(false)),
        vec![
            mismatch(RelayState::Closed, RelayState::Open, true),
            P,
            close(CloseReason::Reconcile),
        ]
    );
    assert_eq!(e.status().relay, RelayState::Closed);
}

#[test]
fn a_relay_that_did_not_open_is_reissued_with_its_cause() {
    let mut e = sg_local("12");
    let mut p = half();
    run(&mut e, &mut p, wed(9, 0), kwh("20")); // alarm 2: cut
    assert_eq!(e.status().relay, RelayState::Open);
    assert_eq!(
        run(&mut e, &mut p, wed(9, 1), position(true)),
        vec![
            mismatch(RelayState::Open, RelayState::Closed, true),
            P,
            open(Cause::Fee, &[Cause::Fee]),
        ]
    );
    assert_eq!(e.status().relay, RelayState::Open);
    // A new action (the customer restores the cut) starts afresh.
    run(&mut e, &mut p, wed(9, 2), Input::User(UserAction::Button));
    assert_eq!(run(&mut e, &mut p, wed(9, 3), position(true)), vec![]);
}

fn cmd(kind: CommandKind, reason: CommandReason) -> Output {
    Output::Command(Command { kind, reason })
}

/// The master station: a trip the meter did not carry out is re-issued as a command (the
/// tracker supersedes the first); an allowed relay reported closed was closed by the customer.
#[test]
fn the_master_station_sees_the_meter_relay() {
    let mut e = engine(Profile::StateGridRemote, "12", |_| {});
    let mut p = half();
    run(&mut e, &mut p, wed(9, 0), Input::Tick);
    run(&mut e, &mut p, wed(9, 1), Input::Charge { amount: m("12") });
    assert_eq!(e.status().relay, RelayState::Open);
    assert_eq!(
        run(&mut e, &mut p, wed(9, 2), position(true)),
        vec![
            mismatch(RelayState::Open, RelayState::Closed, true),
            P,
            cmd(CommandKind::Trip, CommandReason::Open(Cause::Fee)),
        ]
    );
    // Paid: allow close; the meter's status word then says closed — the customer's close.
    run(
        &mut e,
        &mut p,
        wed(9, 3),
        top_up("20", 1, TopUpSource::Counter),
    );
    assert_eq!(e.status().relay, RelayState::Armed);
    assert_eq!(run(&mut e, &mut p, wed(9, 4), position(false)), vec![]);
    assert_eq!(
        run(&mut e, &mut p, wed(9, 5), position(true)),
        vec![P, notify(Notification::Restored)]
    );
    assert_eq!(e.status().relay, RelayState::Closed);
}

// ---- 7. debt recovery per top-up ------------------------------------------------------------

/// A guarded (保电) customer runs up debt; with the default policy the debt eats the whole
/// payment and the customer stays in the hard cut (cut as soon as the guard is lifted); with a
/// 20 % policy the same payment repays 10.00 of debt and gives 40.00 of credit.
#[test]
fn a_guarded_customer_in_debt_who_pays_gets_credit() {
    let guarded = |policy: DebtRecovery| {
        let mut e = engine(Profile::StateGridLocal, "0", |c| {
            c.overload = None;
            c.policy.debt_recovery = policy;
        });
        let mut p = half();
        run(
            &mut e,
            &mut p,
            wed(9, 0),
            remote(CommandKind::GuardOn, wed(23, 0)),
        );
        run(&mut e, &mut p, wed(9, 1), kwh("220")); // 110.00: wallet to −10, 100.00 of debt
        assert_eq!((e.status().balance, e.status().debt), (m("-10"), m("100")));
        assert_eq!(e.status().credit, CreditState::Exhausted);
        (e, p)
    };
    // All (the default): 50 repays 50 of debt, nothing reaches the wallet.
    let (mut e, mut p) = guarded(DebtRecovery::All);
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 0),
            top_up("50", 1, TopUpSource::Remote)
        ),
        vec![
            topped("50", 1, TopUpSource::Remote, "50", "50", "-60"),
            received("50", "-60"),
            P,
        ]
    );
    assert_eq!(
        (e.status().balance, e.status().debt, e.status().credit),
        (m("-10"), m("50"), CreditState::Exhausted)
    );
    // 20 % of each top-up: 10.00 repays debt, 40.00 is credit; the thresholds see the wallet.
    let (mut e, mut p) = guarded(DebtRecovery::PercentOfTopUp(20));
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 0),
            top_up("50", 1, TopUpSource::Remote)
        ),
        vec![
            topped("50", 1, TopUpSource::Remote, "10", "90", "30"),
            received("50", "30"),
            changed(CreditState::Exhausted, CreditState::Normal, "30"),
            P,
            Output::Alarm {
                on: false,
                level: AlarmLevel::Exhausted
            },
        ]
    );
    assert_eq!(
        (e.status().balance, e.status().debt, e.status().available),
        (m("30"), m("90"), m("30"))
    );
    assert_eq!(e.status().net, m("-60"));
    // The guard is lifted: supply stays on, the debt is collected from later top-ups.
    assert_eq!(
        run(
            &mut e,
            &mut p,
            wed(10, 1),
            remote(CommandKind::GuardOff, wed(23, 0))
        ),
        vec![
            Output::Record(Record::Remote {
                kind: CommandKind::GuardOff,
                operator: 0x0102_0304
            }),
            P
        ]
    );
    assert_eq!(e.status().relay, RelayState::Closed);
    // A fixed 15.00 per top-up.
    let (mut e, mut p) = guarded(DebtRecovery::FixedPerTopUp(m("15")));
    run(
        &mut e,
        &mut p,
        wed(10, 0),
        top_up("50", 1, TopUpSource::Remote),
    );
    assert_eq!((e.status().balance, e.status().debt), (m("25"), m("85")));
}

/// The percentage is rounded down to the money quantum (in the customer's favour) and never
/// repays more than the debt; the balance/debt split survives a power failure.
#[test]
fn debt_recovery_rounds_down_and_survives_power_failure() {
    assert_eq!(
        DebtRecovery::PercentOfTopUp(33).repayment(m("0.0100"), m("5")),
        m("0.0033")
    );
    assert_eq!(
        DebtRecovery::PercentOfTopUp(33).repayment(m("0.0001"), m("5")),
        m("0")
    );
    assert_eq!(
        DebtRecovery::PercentOfTopUp(50).repayment(m("20"), m("3")),
        m("3")
    );
    assert_eq!(
        DebtRecovery::FixedPerTopUp(m("5")).repayment(m("2"), m("9")),
        m("2")
    );
    assert_eq!(DebtRecovery::All.repayment(m("2"), m("0")), m("0"));

    let mut e = engine(Profile::StateGridLocal, "0", |c| {
        c.overload = None;
        c.policy.debt_recovery = DebtRecovery::PercentOfTopUp(33);
    });
    let mut p = half();
    run(
        &mut e,
        &mut p,
        wed(9, 0),
        remote(CommandKind::GuardOn, wed(23, 0)),
    );
    run(&mut e, &mut p, wed(9, 1), kwh("30")); // 15.00: −10 wallet, 5.00 debt
    run(
        &mut e,
        &mut p,
        wed(9, 2),
        top_up("10.01", 1, TopUpSource::Remote),
    );
    // 33 % of 10.01 = 3.3033; credit 6.7067 on a wallet of −10.
    assert_eq!(
        (e.status().balance, e.status().debt),
        (m("-3.2933"), m("1.6967"))
    );
    let outs = e.step(wed(9, 3), Input::PowerDown, &mut p.pricer());
    let [Output::Persist(snap)] = outs[..] else {
        panic!("{outs:?}");
    };
    let mut back = engine(Profile::StateGridLocal, "0", |c| {
        c.overload = None;
        c.policy.debt_recovery = DebtRecovery::PercentOfTopUp(33);
    });
    run(&mut back, &mut p, wed(9, 4), Input::PowerUp(snap));
    assert_eq!(
        (back.status().balance, back.status().debt),
        (m("-3.2933"), m("1.6967"))
    );
}
