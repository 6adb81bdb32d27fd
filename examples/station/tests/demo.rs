//! The demo scenario, headless: every outcome the README promises, over both control paths
//! (AFN 05 commands executed by the terminal, and DL/T 645 `1C` frames forwarded through
//! AFN 10).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_station::demo::{self, DemoOptions, Summary};
use amikit_station::master::ControlVia;

/// The demo runs its simulated clock at 1200× (a 15-minute read round every 0.75 s of real
/// time): two demos at once on a 2-core machine compete for the CPU and can miss a round, so
/// the tests take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(control_via: ControlVia) -> Summary {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let opts = DemoOptions {
        control_via,
        timeline: false,
        ..DemoOptions::default()
    };
    rt.block_on(demo::run(opts, |_| {})).unwrap()
}

fn assert_outcomes(s: &Summary) {
    for c in &s.checks {
        assert!(c.ok, "{}: {}", c.name, c.detail);
    }
    assert!(s.ok);
    assert!(s.real_seconds < 60.0, "took {} s", s.real_seconds);

    // A customer consumes down through the alarm to the trip, pays, and is restored.
    let li = s.customer("Li Wei").unwrap();
    assert!(li.reminders >= 1, "{li:?}");
    assert!(li.alarms >= 1, "{li:?}");
    assert_eq!((li.trips, li.restores, li.relay.as_str()), (1, 1, "closed"));
    assert!(!li.balance.starts_with('-'), "{li:?}");

    // A token typed into the meter is accepted; its replay is rejected.
    let zhang = s.customer("Zhang Min").unwrap();
    assert_eq!((zhang.tokens_accepted, zhang.tokens_rejected), (1, 1));
    assert_eq!(zhang.fee_control, "local");

    // The guarded clinic runs negative and is never cut.
    let clinic = s.customer("Community clinic").unwrap();
    assert!(clinic.guarded);
    assert!(clinic.balance.starts_with('-'), "{clinic:?}");
    assert_eq!((clinic.trips, clinic.relay.as_str()), (0, "closed"));

    // Noise and a dropped link: no reading and no payment lost.
    for c in &s.customers {
        let check = s.check(&format!("no reading lost for {}", c.name)).unwrap();
        assert!(check.ok, "{}", check.detail);
    }
    assert!(
        s.check("payment DEMO-PAY-1 recorded exactly once")
            .unwrap()
            .ok
    );
    assert!(s.check("duplicate payment applied once").unwrap().ok);
    assert!(s.bus.attempts > s.bus.exchanges, "{:?}", s.bus);
    assert!(s.link.logins >= 2, "{:?}", s.link);
}

#[test]
fn demo_day_with_afn05_control() {
    assert_outcomes(&run(ControlVia::Afn05));
}

#[test]
fn demo_day_with_dlt645_control_forwarded_through_afn10() {
    assert_outcomes(&run(ControlVia::Afn10));
}
