//! A short fixed-seed soak: one simulated day in a field that fights back, every fault kind
//! injected at least once, zero invariant violations.

use std::path::PathBuf;

use amikit_station::chaos::faults::FaultKind;
use amikit_station::chaos::soak::{MasterCommand, SoakOptions, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_day_in_a_hostile_field_breaks_no_invariant() {
    let master = MasterCommand {
        program: PathBuf::from(env!("CARGO_BIN_EXE_station-master")),
        prefix: Vec::new(),
    };
    let mut opts = SoakOptions::new(master);
    opts.days = 1;
    opts.seed = 11;
    let report = run(opts).await.expect("the soak ran");
    println!("{}", report.table());
    for kind in FaultKind::ALL {
        let row = report.faults.iter().find(|f| f.fault == kind);
        assert!(
            row.is_some_and(|r| r.injected > 0),
            "{} never injected",
            kind.name()
        );
    }
    let met = |k: FaultKind| {
        report
            .faults
            .iter()
            .find(|f| f.fault == k)
            .map_or(0, |f| f.met_command)
    };
    assert!(
        met(FaultKind::RelayRefuses) + met(FaultKind::RelayLate) > 0,
        "no relay fault met a command"
    );
    assert!(report.payments.applied > 0, "{:?}", report.payments);
    assert!(
        report.invariants.iter().all(|i| i.checks > 0),
        "{:?}",
        report.invariants
    );
    assert!(report.ok(), "{}", report.table());
}
