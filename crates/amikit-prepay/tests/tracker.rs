//! Command tracking (master station): queued → sent → acknowledged / failed / expired, retries
//! with back-off, manual job after N failures, supersede, payment cancels a pending trip and
//! restores within the configured time (`system-design.md`: job review, charge control item 6).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_prepay::{
    Cause, CloseReason, Command, CommandKind, CommandReason, CommandStatus, JobReason, Outcome,
    Sink, Timestamp, Tracker, TrackerConfig, TrackerError, TrackerEvent,
};

type Ev = TrackerEvent<u32>;

/// Collects events (a `Vec` sink without the crate's `alloc` feature).
#[derive(Debug, Default)]
struct Events(Vec<Ev>);

impl Sink<Ev> for Events {
    fn push(&mut self, e: Ev) {
        self.0.push(e);
    }
}

impl Events {
    fn clear(&mut self) {
        self.0.clear();
    }
}

impl PartialEq<Vec<Ev>> for Events {
    fn eq(&self, other: &Vec<Ev>) -> bool {
        &self.0 == other
    }
}

impl core::ops::Index<usize> for Events {
    type Output = Ev;
    fn index(&self, i: usize) -> &Ev {
        &self.0[i]
    }
}

/// The defaults with a manual job after 3 failures and a 5-minute restore deadline.
fn cfg() -> TrackerConfig {
    let mut c = TrackerConfig::default();
    c.max_failures = 3;
    c.restore_within = 300;
    c
}

fn t(s: i64) -> Timestamp {
    Timestamp(1_767_780_000 + s)
}

fn trip() -> Command {
    Command {
        kind: CommandKind::Trip,
        reason: CommandReason::Open(Cause::Fee),
    }
}

fn restore() -> Command {
    Command {
        kind: CommandKind::AllowClose,
        reason: CommandReason::Close(CloseReason::Payment),
    }
}

fn poll(tr: &mut Tracker<u32, 8>, now: i64) -> Vec<Ev> {
    let mut v = Events::default();
    tr.poll(t(now), &mut v);
    v.0
}

#[test]
fn queued_sent_acknowledged() {
    let mut tr = Tracker::<u32, 8>::new(cfg());
    let mut ev = Events::default();
    let id = tr.submit(t(0), 7, trip(), &mut ev).unwrap();
    assert!(ev.0.is_empty());
    assert_eq!(tr.get(id).unwrap().status, CommandStatus::Queued);
    assert_eq!(
        poll(&mut tr, 0),
        vec![Ev::Send {
            id,
            meter: 7,
            kind: CommandKind::Trip,
            expires: t(1800),
            attempt: 1
        }]
    );
    assert_eq!(tr.get(id).unwrap().status, CommandStatus::Sent);
    // Nothing more to do before the acknowledgement timeout.
    assert_eq!(poll(&mut tr, 29), vec![]);
    tr.acknowledge(id, &mut ev).unwrap();
    assert_eq!(
        ev,
        vec![Ev::Finished {
            id,
            meter: 7,
            command: trip(),
            outcome: Outcome::Acknowledged
        }]
    );
    assert!(tr.is_empty());
    assert_eq!(
        tr.acknowledge(id, &mut ev),
        Err(TrackerError::UnknownCommand(id.0))
    );
}

#[test]
fn retries_with_back_off_then_manual_job() {
    let mut tr = Tracker::<u32, 8>::new(cfg());
    let mut ev = Events::default();
    let id = tr.submit(t(0), 7, trip(), &mut ev).unwrap();
    poll(&mut tr, 0); // attempt 1 sent at 0
    // Timeout at 30: failure 1, back-off 30 s → retry at 60.
    assert_eq!(
        poll(&mut tr, 30),
        vec![Ev::Retry {
            id,
            meter: 7,
            failures: 1,
            retry_at: t(60)
        }]
    );
    assert_eq!(poll(&mut tr, 59), vec![]);
    assert!(matches!(
        poll(&mut tr, 60)[..],
        [Ev::Send { attempt: 2, .. }]
    ));
    // A denial from the meter: failure 2, back-off doubles to 60 s.
    tr.fail(t(61), id, &mut ev).unwrap();
    assert_eq!(
        ev,
        vec![Ev::Retry {
            id,
            meter: 7,
            failures: 2,
            retry_at: t(121)
        }]
    );
    // A failure cannot be reported twice for the same attempt.
    assert_eq!(
        tr.fail(t(62), id, &mut ev),
        Err(TrackerError::NotSent(id.0))
    );
    assert!(matches!(
        poll(&mut tr, 121)[..],
        [Ev::Send { attempt: 3, .. }]
    ));
    // Third failure (max_failures = 3): finished, manual job.
    assert_eq!(
        poll(&mut tr, 151),
        vec![
            Ev::Finished {
                id,
                meter: 7,
                command: trip(),
                outcome: Outcome::Failed
            },
            Ev::ManualJob {
                id,
                meter: 7,
                command: trip(),
                reason: JobReason::TooManyFailures(3)
            },
        ]
    );
    assert!(tr.is_empty());
}

#[test]
fn back_off_is_capped() {
    let mut cfg = cfg();
    cfg.max_failures = 20;
    cfg.validity = 1_000_000;
    let mut tr = Tracker::<u32, 8>::new(cfg);
    let mut ev = Events::default();
    let id = tr.submit(t(0), 1, trip(), &mut ev).unwrap();
    let mut now = 0;
    let mut gaps = Vec::new();
    for _ in 0..8 {
        poll(&mut tr, now);
        ev.clear();
        tr.fail(t(now), id, &mut ev).unwrap();
        let Ev::Retry { retry_at, .. } = ev[0] else {
            panic!()
        };
        gaps.push(retry_at.0 - t(now).0);
        now = retry_at.0 - t(0).0;
    }
    assert_eq!(gaps, vec![30, 60, 120, 240, 480, 600, 600, 600]);
}

#[test]
fn later_command_supersedes_earlier_of_the_same_group() {
    let mut tr = Tracker::<u32, 8>::new(cfg());
    let mut ev = Events::default();
    let a = tr.submit(t(0), 7, trip(), &mut ev).unwrap();
    let other_meter = tr.submit(t(0), 8, trip(), &mut ev).unwrap();
    let alarm = Command {
        kind: CommandKind::Alarm,
        reason: CommandReason::Reminder,
    };
    let al = tr.submit(t(0), 7, alarm, &mut ev).unwrap();
    assert!(ev.0.is_empty());
    let direct = Command {
        kind: CommandKind::DirectClose,
        reason: CommandReason::Operator,
    };
    let b = tr.submit(t(5), 7, direct, &mut ev).unwrap();
    assert_eq!(
        ev,
        vec![Ev::Finished {
            id: a,
            meter: 7,
            command: trip(),
            outcome: Outcome::Superseded
        }]
    );
    let live: Vec<_> = tr.live().map(|x| x.id).collect();
    assert_eq!(live, vec![other_meter, al, b]);
}

#[test]
fn payment_cancels_pending_trip_and_restores_within_deadline() {
    let mut tr = Tracker::<u32, 8>::new(cfg());
    let mut ev = Events::default();
    let tr_id = tr.submit(t(0), 7, trip(), &mut ev).unwrap();
    poll(&mut tr, 0); // the trip is out, not yet acknowledged
    let r = tr.submit(t(10), 7, restore(), &mut ev).unwrap();
    assert_eq!(
        ev,
        vec![Ev::Finished {
            id: tr_id,
            meter: 7,
            command: trip(),
            outcome: Outcome::Cancelled
        }]
    );
    assert_eq!(tr.get(r).unwrap().deadline, Some(t(310)));
    // Sent at once.
    assert!(matches!(
        poll(&mut tr, 10)[..],
        [Ev::Send {
            kind: CommandKind::AllowClose,
            attempt: 1,
            ..
        }]
    ));
    // Failures: back-off never goes past the deadline.
    ev.clear();
    tr.fail(t(20), r, &mut ev).unwrap();
    poll(&mut tr, 50);
    ev.clear();
    tr.fail(t(290), r, &mut ev).unwrap();
    assert_eq!(
        ev,
        vec![Ev::Retry {
            id: r,
            meter: 7,
            failures: 2,
            retry_at: t(310)
        }]
    );
    assert!(matches!(
        poll(&mut tr, 310)[..],
        [Ev::Send { attempt: 3, .. }]
    ));
    // Not acknowledged by the deadline: manual job.
    assert_eq!(
        poll(&mut tr, 311),
        vec![
            Ev::Finished {
                id: r,
                meter: 7,
                command: restore(),
                outcome: Outcome::Overdue
            },
            Ev::ManualJob {
                id: r,
                meter: 7,
                command: restore(),
                reason: JobReason::RestoreOverdue
            },
        ]
    );
}

#[test]
fn expired_command_raises_a_manual_job() {
    let mut cfg = cfg();
    cfg.max_failures = 100;
    cfg.validity = 100;
    let mut tr = Tracker::<u32, 8>::new(cfg);
    let mut ev = Events::default();
    let id = tr.submit(t(0), 3, trip(), &mut ev).unwrap();
    poll(&mut tr, 0);
    poll(&mut tr, 30); // timeout → retry at 60
    poll(&mut tr, 60); // attempt 2
    poll(&mut tr, 90); // timeout → retry at 150
    assert_eq!(poll(&mut tr, 100), vec![]); // still valid at its expiry second
    assert_eq!(
        poll(&mut tr, 101),
        vec![
            Ev::Finished {
                id,
                meter: 3,
                command: trip(),
                outcome: Outcome::Expired
            },
            Ev::ManualJob {
                id,
                meter: 3,
                command: trip(),
                reason: JobReason::Expired
            },
        ]
    );
}

#[test]
fn late_acknowledgement_counts() {
    let mut tr = Tracker::<u32, 8>::new(cfg());
    let mut ev = Events::default();
    let id = tr.submit(t(0), 3, trip(), &mut ev).unwrap();
    assert_eq!(
        tr.acknowledge(id, &mut ev),
        Err(TrackerError::NotSent(id.0))
    );
    poll(&mut tr, 0);
    poll(&mut tr, 30); // timed out, queued for retry
    tr.acknowledge(id, &mut ev).unwrap();
    assert!(matches!(
        ev.0[..],
        [Ev::Finished {
            outcome: Outcome::Acknowledged,
            ..
        }]
    ));
}

#[test]
fn capacity_is_fixed() {
    let mut tr = Tracker::<u32, 2>::new(cfg());
    let mut ev = Events::default();
    tr.submit(t(0), 1, trip(), &mut ev).unwrap();
    tr.submit(t(0), 2, trip(), &mut ev).unwrap();
    assert_eq!(
        tr.submit(t(0), 3, trip(), &mut ev),
        Err(TrackerError::Full { capacity: 2 })
    );
    // Superseding frees a slot first.
    assert!(tr.submit(t(0), 2, restore(), &mut ev).is_ok());
}

// ---- amikit issue 11: offline is not failure, liveness at dequeue, moot jobs ------------------

fn send(id: u32, meter: u32, kind: CommandKind, expires: i64, attempt: u8) -> Ev {
    TrackerEvent::Send {
        id: amikit_prepay::CommandId(id),
        meter,
        kind,
        expires: t(expires),
        attempt,
    }
}

/// An 8-minute outage: nothing fails, no job, and the parked commands go out on reconnect
/// (before the fix every pending command ran into its failures and a manual job).
#[test]
fn an_outage_parks_commands_and_link_up_sends_them() {
    let mut tr: Tracker<u32, 8> = Tracker::new(cfg());
    let mut ev = Events::default();
    let a = tr.submit(t(0), 7, trip(), &mut ev).unwrap();
    assert_eq!(
        poll(&mut tr, 0),
        vec![send(a.0, 7, CommandKind::Trip, 1800, 1)]
    );
    // The terminal drops while the trip waits for its answer.
    tr.link_down(7).unwrap();
    assert!(tr.is_link_down(7));
    assert_eq!(tr.get(a).unwrap().status, CommandStatus::Parked);
    // A command submitted while the link is down is parked at once.
    let b = tr
        .submit(
            t(10),
            7,
            Command {
                kind: CommandKind::Alarm,
                reason: CommandReason::Reminder,
            },
            &mut ev,
        )
        .unwrap();
    assert_eq!(tr.get(b).unwrap().status, CommandStatus::Parked);
    // 8 minutes of polls: no send, no retry, no failure, no job.
    for s in (0..=480).step_by(5) {
        assert_eq!(poll(&mut tr, s), vec![]);
    }
    assert_eq!(tr.fail(t(480), a, &mut ev), Err(TrackerError::NotSent(a.0)));
    // Back: both go out now, the trip as its second attempt.
    let mut ev = Events::default();
    tr.link_up(t(481), 7, &mut ev);
    assert_eq!(
        ev,
        vec![
            send(a.0, 7, CommandKind::Trip, 1800, 2),
            send(b.0, 7, CommandKind::Alarm, 1810, 1),
        ]
    );
    assert_eq!(tr.get(a).unwrap().failures, 0);
}

/// A parked command still expires at its expiry: then it ends as expired with a manual job.
#[test]
fn a_parked_command_still_expires() {
    let mut tr: Tracker<u32, 8> = Tracker::new(cfg());
    let mut ev = Events::default();
    tr.link_down(7).unwrap();
    let a = tr.submit(t(0), 7, trip(), &mut ev).unwrap();
    assert_eq!(poll(&mut tr, 1800), vec![]);
    assert_eq!(
        poll(&mut tr, 1801),
        vec![
            TrackerEvent::Finished {
                id: a,
                meter: 7,
                command: trip(),
                outcome: Outcome::Expired
            },
            TrackerEvent::ManualJob {
                id: a,
                meter: 7,
                command: trip(),
                reason: JobReason::Expired
            },
        ]
    );
}

/// A restoring close parked past its deadline is not overdue while parked; at link-up it gets
/// a fresh `restore_within`.
#[test]
fn a_parked_restoring_close_gets_a_fresh_deadline_at_link_up() {
    let mut tr: Tracker<u32, 8> = Tracker::new(cfg());
    let mut ev = Events::default();
    tr.link_down(7).unwrap();
    let r = tr.submit(t(0), 7, restore(), &mut ev).unwrap();
    assert_eq!(tr.get(r).unwrap().deadline, Some(t(300)));
    assert_eq!(poll(&mut tr, 600), vec![]);
    let mut ev = Events::default();
    tr.link_up(t(600), 7, &mut ev);
    assert_eq!(ev, vec![send(r.0, 7, CommandKind::AllowClose, 1800, 1)]);
    assert_eq!(tr.get(r).unwrap().deadline, Some(t(900)));
}

/// The transport checks a command when it leaves its queue: a trip superseded by the
/// allow-close of a payment never goes out; nor does an old attempt, an expired or a parked
/// command.
#[test]
fn check_send_refuses_what_is_no_longer_live() {
    let mut tr: Tracker<u32, 8> = Tracker::new(cfg());
    let mut ev = Events::default();
    let a = tr.submit(t(0), 7, trip(), &mut ev).unwrap();
    poll(&mut tr, 0);
    assert!(tr.check_send(t(1), a, 1).is_ok());
    assert!(tr.get(a).is_some());
    // Queued behind reads; meanwhile the customer pays.
    let r = tr.submit(t(2), 7, restore(), &mut ev).unwrap();
    assert!(tr.get(a).is_none());
    assert_eq!(
        tr.check_send(t(3), a, 1),
        Err(TrackerError::UnknownCommand(a.0))
    );
    // The allow-close: not handed out yet, then attempt 1; after a timeout attempt 2 is current.
    assert_eq!(tr.check_send(t(3), r, 1), Err(TrackerError::NotSent(r.0)));
    poll(&mut tr, 3);
    assert!(tr.check_send(t(4), r, 1).is_ok());
    poll(&mut tr, 33); // timeout → retry queued for 63
    poll(&mut tr, 63);
    assert_eq!(
        tr.check_send(t(64), r, 1),
        Err(TrackerError::StaleAttempt {
            id: r.0,
            attempt: 1,
            current: 2
        })
    );
    assert!(tr.check_send(t(64), r, 2).is_ok());
    assert_eq!(tr.check_send(t(303), r, 2), Err(TrackerError::Overdue(r.0)));
    tr.link_down(7).unwrap();
    assert_eq!(tr.check_send(t(64), r, 2), Err(TrackerError::Parked(r.0)));
    // An ordinary command past its expiry.
    let b = tr.submit(t(100), 8, trip(), &mut ev).unwrap();
    poll(&mut tr, 100);
    assert_eq!(
        tr.check_send(t(1901), b, 1),
        Err(TrackerError::Expired(b.0))
    );
}

/// A trip that failed into a manual job; the customer then pays: the restoring allow-close
/// makes the trip job moot, and the station learns it (once).
#[test]
fn a_restoring_payment_makes_a_trip_job_moot() {
    let mut tr: Tracker<u32, 8> = Tracker::new(cfg());
    let mut ev = Events::default();
    let a = tr.submit(t(0), 7, trip(), &mut ev).unwrap();
    for s in [0, 30, 60, 90, 150, 180, 300] {
        poll(&mut tr, s);
    }
    assert!(tr.get(a).is_none());
    let jobs: Vec<_> = tr.jobs().map(|j| (j.id, j.meter, j.reason)).collect();
    assert_eq!(jobs, vec![(a, 7, JobReason::TooManyFailures(3))]);
    let mut ev = Events::default();
    let r = tr.submit(t(400), 7, restore(), &mut ev).unwrap();
    assert_eq!(
        ev,
        vec![TrackerEvent::JobMoot {
            id: a,
            meter: 7,
            command: trip(),
            by: r,
            reason: amikit_prepay::MootReason::Cancelled,
        }]
    );
    assert_eq!(tr.jobs().count(), 0);
    assert_eq!(tr.close_job(a), Err(TrackerError::UnknownJob(a.0)));
    // A job a person closed is not reported moot later.
    let b = tr.submit(t(500), 9, trip(), &mut ev).unwrap();
    poll(&mut tr, 2400);
    assert_eq!(tr.close_job(b).map(|j| j.id), Ok(b));
    let mut ev = Events::default();
    tr.submit(t(2500), 9, restore(), &mut ev).unwrap();
    assert_eq!(ev, vec![]);
}
