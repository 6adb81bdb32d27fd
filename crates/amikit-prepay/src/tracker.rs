//! Master-station command tracking: every remote command issued to a meter or terminal is
//! followed from queued to acknowledged, failed or expired.
//!
//! Communication to meters is unreliable (GPRS/CDMA/PLC; `system-design.md`, "Security of data
//! exchange": "timeouts and retries; no lost or doubly applied payments"), so a command is not
//! "done" when it is written to a socket:
//!
//! * [`Tracker::submit`] queues a command with an expiry (`now + validity`; the meter rejects it
//!   after that, e.g. the DL/T 645 `1C` "valid until" time). A later command for the same meter
//!   and the same [`CommandGroup`](crate::CommandGroup) **supersedes** an earlier one still pending (a trip queued
//!   before a payment must not be sent after it).
//! * [`Tracker::poll`] hands out the commands due for sending ([`TrackerEvent::Send`]) and
//!   turns silence into failures: a sent command not acknowledged within `ack_timeout` counts as
//!   failed.
//! * [`Tracker::acknowledge`] / [`Tracker::fail`] report the meter's (or the transport's) answer.
//!   A failure is retried with exponential back-off (`retry_base`, doubling, capped at
//!   `retry_max`); after `max_failures` failures, or when the command expires unacknowledged,
//!   the tracker raises a **manual job** ([`TrackerEvent::ManualJob`], the "job review" of
//!   `system-design.md`: field staff finish it with a management card).
//! * A payment that restores credit: the engine emits an allow-close (or direct-close) with
//!   [`CloseReason::Payment`](crate::CloseReason::Payment). Submitting it **cancels** any trip
//!   still pending for that meter and gives the close a deadline of `restore_within`: it is
//!   sent at once, retried no later than the deadline, and if it is not acknowledged by the
//!   deadline a manual job is raised ([`JobReason::RestoreOverdue`]).
//!
//! * **Offline is not failure.** [`Tracker::link_down`] parks every command for a meter whose
//!   link (the terminal's connection) is down, and every command submitted for it while it is
//!   down: a parked command is not sent, has no acknowledgement timeout, counts no failure,
//!   raises no manual job and has no restore deadline running out — it only still **expires**
//!   at its expiry ([`Outcome::Expired`] and a manual job, as for any command). A command that
//!   was sent when the link went down is parked too (its answer cannot come). [`Tracker::link_up`]
//!   sends the parked commands at once (a new attempt each) and gives a restoring close a fresh
//!   `restore_within` from then.
//! * **Liveness at dequeue.** A transport that queues [`TrackerEvent::Send`]s calls
//!   [`Tracker::check_send`] at the moment a command leaves its queue: it is refused if the
//!   command was superseded, cancelled, acknowledged or finished since it was handed out, has
//!   expired or passed its deadline, was parked, or a newer attempt of it was handed out.
//! * **Manual jobs and their end.** A command that ends with a manual job is remembered as an
//!   open job ([`Tracker::jobs`]) until the caller closes it ([`Tracker::close_job`], a person
//!   finished it) or it becomes **moot**: a later command of the same group for the same meter
//!   is submitted (it carries the current intent — e.g. the allow-close of a restoring payment
//!   makes a trip job moot). The tracker then emits [`TrackerEvent::JobMoot`] so that the
//!   caller cancels the job. At most `N` open jobs are remembered; beyond that the oldest is
//!   forgotten (the caller still has it, but will not hear that it became moot).
//!
//! The tracker holds only live commands (fixed capacity `N`, no heap); every final status is
//! reported once as an event and the entry is removed.

use crate::command::{Command, CommandKind};
use crate::sink::Sink;
use crate::time::Timestamp;

/// Identifies a tracked command (unique within one tracker, increasing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct CommandId(pub u32);

/// Timing and escalation rules of a [`Tracker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct TrackerConfig {
    /// Seconds a command stays valid after it is submitted (its expiry time).
    pub validity: u32,
    /// Seconds to wait for an acknowledgement after sending before counting a failure.
    pub ack_timeout: u32,
    /// Back-off before the first retry, in seconds; doubles with every further failure.
    pub retry_base: u32,
    /// Longest back-off, in seconds.
    pub retry_max: u32,
    /// Failures after which a manual job is raised (at least 1).
    pub max_failures: u8,
    /// Seconds within which a close that restores supply after a payment must be acknowledged.
    pub restore_within: u32,
}

impl Default for TrackerConfig {
    /// Validity 30 min, acknowledgement timeout 30 s, back-off 30 s doubling to 10 min,
    /// manual job after 5 failures, restore within 15 min.
    fn default() -> Self {
        Self {
            validity: 1800,
            ack_timeout: 30,
            retry_base: 30,
            retry_max: 600,
            max_failures: 5,
            restore_within: 900,
        }
    }
}

/// Where a live command stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum CommandStatus {
    /// Waiting to be sent (first attempt, or a retry after back-off).
    Queued,
    /// Sent; waiting for the acknowledgement.
    Sent,
    /// The meter's link is down ([`Tracker::link_down`]): waiting for [`Tracker::link_up`];
    /// only its expiry runs.
    Parked,
}

/// A final status, reported once through [`TrackerEvent::Finished`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Outcome {
    /// The meter confirmed it.
    Acknowledged,
    /// Gave up after too many failures (a manual job was raised).
    Failed,
    /// Not acknowledged before its expiry (a manual job was raised).
    Expired,
    /// A later command of the same group for the same meter replaced it.
    Superseded,
    /// A restoring payment cancelled this pending trip.
    Cancelled,
    /// A restoring close was not acknowledged by its deadline (a manual job was raised).
    Overdue,
}

/// Why a manual job was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum JobReason {
    /// The command failed this many times.
    TooManyFailures(u8),
    /// The command expired before it was acknowledged.
    Expired,
    /// Supply was not restored within `restore_within` after a payment.
    RestoreOverdue,
}

/// Why an open manual job became moot ([`TrackerEvent::JobMoot`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum MootReason {
    /// A later command of the same group for the same meter replaced its command.
    Superseded,
    /// A restoring close after a payment cancelled the trip the job was for.
    Cancelled,
}

/// An open manual job the tracker remembers (to tell the caller when it becomes moot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Job<M> {
    /// The command it is for (finished; no longer live).
    pub id: CommandId,
    /// The meter.
    pub meter: M,
    /// The command a person has to carry out.
    pub command: Command,
    /// Why it was raised.
    pub reason: JobReason,
    /// When it was raised.
    pub raised: Timestamp,
}

/// A command the tracker is following.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Tracked<M> {
    /// Its identifier.
    pub id: CommandId,
    /// The meter (or terminal) it is for.
    pub meter: M,
    /// The command.
    pub command: Command,
    /// Where it stands.
    pub status: CommandStatus,
    /// When it was submitted.
    pub submitted: Timestamp,
    /// After this time the meter must reject it and the tracker stops trying.
    pub expires: Timestamp,
    /// For a restoring close: the time by which it must be acknowledged.
    pub deadline: Option<Timestamp>,
    /// Failures so far.
    pub failures: u8,
    /// Attempts (sends) so far.
    pub attempts: u8,
    /// When it is next due: the send time while queued, the acknowledgement timeout while sent.
    pub due: Timestamp,
}

/// What the tracker tells its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum TrackerEvent<M> {
    /// Transmit this command now (attempt number `attempt`, from 1); report the answer with
    /// [`Tracker::acknowledge`] or [`Tracker::fail`].
    Send {
        /// The command's identifier.
        id: CommandId,
        /// The meter.
        meter: M,
        /// What to send.
        kind: CommandKind,
        /// The expiry to put into the command (the meter rejects it later).
        expires: Timestamp,
        /// Attempt number, from 1.
        attempt: u8,
    },
    /// The command failed (negative answer, transport error or acknowledgement timeout) and
    /// is queued again for `retry_at`.
    Retry {
        /// The command's identifier.
        id: CommandId,
        /// The meter.
        meter: M,
        /// Failures so far.
        failures: u8,
        /// When it will be sent again.
        retry_at: Timestamp,
    },
    /// The command reached a final status and is no longer tracked.
    Finished {
        /// The command's identifier.
        id: CommandId,
        /// The meter.
        meter: M,
        /// The command.
        command: Command,
        /// How it ended.
        outcome: Outcome,
    },
    /// A person has to finish this command in the field ("job review").
    ManualJob {
        /// The command's identifier.
        id: CommandId,
        /// The meter.
        meter: M,
        /// The command.
        command: Command,
        /// Why.
        reason: JobReason,
    },
    /// The manual job raised for command `id` is moot: cancel it (do not send a person to trip
    /// a meter whose customer has paid since).
    JobMoot {
        /// The identifier of the job's command.
        id: CommandId,
        /// The meter.
        meter: M,
        /// The job's command.
        command: Command,
        /// The later command that made it moot.
        by: CommandId,
        /// Why.
        reason: MootReason,
    },
}

/// Errors of the tracker API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrackerError {
    /// All `capacity` slots hold live commands.
    #[error("command tracker full ({capacity} live commands)")]
    Full {
        /// The tracker's capacity.
        capacity: usize,
    },
    /// No live command has this identifier (already finished, or never issued).
    #[error("no live command {0}")]
    UnknownCommand(u32),
    /// The command is queued or parked, not sent: there is nothing to acknowledge or fail (or,
    /// for [`Tracker::check_send`], it has not been handed out for sending).
    #[error("command {0} has not been sent")]
    NotSent(u32),
    /// The command is parked: its meter's link is down.
    #[error("command {0} is parked: the link is down")]
    Parked(u32),
    /// The command expired (the meter would reject it).
    #[error("command {0} has expired")]
    Expired(u32),
    /// A restoring close past its deadline (it ends as overdue at the next poll).
    #[error("command {0} is past its deadline")]
    Overdue(u32),
    /// A newer attempt of the command was handed out; this one is stale.
    #[error("command {id}: attempt {attempt} is stale, attempt {current} is current")]
    StaleAttempt {
        /// The command.
        id: u32,
        /// The attempt checked.
        attempt: u8,
        /// The current attempt.
        current: u8,
    },
    /// No open job has this identifier (closed, moot, forgotten or never raised).
    #[error("no open job for command {0}")]
    UnknownJob(u32),
}

/// Tracks up to `N` live remote commands for meters identified by `M`.
#[derive(Debug, Clone)]
pub struct Tracker<M, const N: usize> {
    config: TrackerConfig,
    live: heapless::Vec<Tracked<M>, N>,
    /// Meters whose link is down.
    down: heapless::Vec<M, N>,
    /// Open manual jobs, oldest first.
    jobs: heapless::Vec<Job<M>, N>,
    next_id: u32,
}

impl<M: Copy + Eq, const N: usize> Tracker<M, N> {
    /// An empty tracker.
    #[must_use]
    pub const fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            live: heapless::Vec::new(),
            down: heapless::Vec::new(),
            jobs: heapless::Vec::new(),
            next_id: 1,
        }
    }

    /// The rules this tracker follows.
    #[must_use]
    pub const fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// The live commands, oldest first.
    pub fn live(&self) -> impl Iterator<Item = &Tracked<M>> {
        self.live.iter()
    }

    /// The live command `id`, if it is still tracked.
    #[must_use]
    pub fn get(&self, id: CommandId) -> Option<&Tracked<M>> {
        self.live.iter().find(|t| t.id == id)
    }

    /// Number of live commands.
    #[must_use]
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no command is live.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Whether attempt `attempt` of command `id`, handed out by a [`TrackerEvent::Send`], may
    /// still go to the meter at `now`: call it when the command leaves the transport's queue.
    ///
    /// # Errors
    ///
    /// [`TrackerError::UnknownCommand`] when it finished since (superseded, cancelled, …),
    /// [`TrackerError::Parked`] when its link went down, [`TrackerError::NotSent`] when it is
    /// queued for a retry, [`TrackerError::StaleAttempt`] when a newer attempt was handed out,
    /// [`TrackerError::Expired`] / [`TrackerError::Overdue`] when its expiry / deadline passed.
    pub fn check_send(
        &self,
        now: Timestamp,
        id: CommandId,
        attempt: u8,
    ) -> Result<&Tracked<M>, TrackerError> {
        let t = self.get(id).ok_or(TrackerError::UnknownCommand(id.0))?;
        match t.status {
            CommandStatus::Parked => return Err(TrackerError::Parked(id.0)),
            CommandStatus::Queued => return Err(TrackerError::NotSent(id.0)),
            CommandStatus::Sent => {}
        }
        if t.attempts != attempt {
            return Err(TrackerError::StaleAttempt {
                id: id.0,
                attempt,
                current: t.attempts,
            });
        }
        if now > t.expires {
            return Err(TrackerError::Expired(id.0));
        }
        if t.deadline.is_some_and(|d| now > d) {
            return Err(TrackerError::Overdue(id.0));
        }
        Ok(t)
    }

    /// Whether `meter`'s link is down ([`Tracker::link_down`]).
    #[must_use]
    pub fn is_link_down(&self, meter: M) -> bool {
        self.down.contains(&meter)
    }

    /// The link to `meter` is down: its commands are parked (see the
    /// [module documentation](self)), and so is every command submitted for it until
    /// [`Tracker::link_up`].
    ///
    /// # Errors
    ///
    /// [`TrackerError::Full`] when `N` meters are already down (nothing is parked then).
    pub fn link_down(&mut self, meter: M) -> Result<(), TrackerError> {
        if !self.down.contains(&meter) {
            self.down
                .push(meter)
                .map_err(|_| TrackerError::Full { capacity: N })?;
        }
        for t in self.live.iter_mut().filter(|t| t.meter == meter) {
            t.status = CommandStatus::Parked;
        }
        Ok(())
    }

    /// The link to `meter` is back: its parked commands are sent now ([`TrackerEvent::Send`],
    /// a new attempt each, unless expired); a restoring close gets `restore_within` from `now`
    /// (at least).
    pub fn link_up(&mut self, now: Timestamp, meter: M, sink: &mut impl Sink<TrackerEvent<M>>) {
        self.down.retain(|m| *m != meter);
        let restore = now.plus(self.config.restore_within);
        for t in self.live.iter_mut().filter(|t| t.meter == meter) {
            if t.status == CommandStatus::Parked {
                t.status = CommandStatus::Queued;
                t.due = now;
                if let Some(d) = t.deadline.as_mut() {
                    *d = (*d).max(restore);
                }
            }
        }
        self.poll_where(now, sink, |t| t.meter == meter);
    }

    /// The open manual jobs, oldest first.
    pub fn jobs(&self) -> impl Iterator<Item = &Job<M>> {
        self.jobs.iter()
    }

    /// A person finished (or the caller cancelled) the job of command `id`: forget it.
    ///
    /// # Errors
    ///
    /// [`TrackerError::UnknownJob`] when no open job is for `id`.
    pub fn close_job(&mut self, id: CommandId) -> Result<Job<M>, TrackerError> {
        let i = self
            .jobs
            .iter()
            .position(|j| j.id == id)
            .ok_or(TrackerError::UnknownJob(id.0))?;
        Ok(self.jobs.remove(i))
    }

    /// Queues `command` for `meter`: supersedes pending commands of the same group for that
    /// meter; a restoring close also cancels a pending trip (reported as
    /// [`Outcome::Cancelled`]) and gets the `restore_within` deadline. The command is due at
    /// once; call [`Tracker::poll`] to send it.
    ///
    /// # Errors
    ///
    /// [`TrackerError::Full`] when `N` commands are live (after superseding).
    pub fn submit(
        &mut self,
        now: Timestamp,
        meter: M,
        command: Command,
        sink: &mut impl Sink<TrackerEvent<M>>,
    ) -> Result<CommandId, TrackerError> {
        let id = CommandId(self.next_id);
        let restoring = command.is_restoring();
        let group = command.kind.group();
        let mut i = 0;
        while let Some(t) = self.live.get(i) {
            if t.meter == meter && t.command.kind.group() == group {
                let outcome = if restoring && t.command.kind == CommandKind::Trip {
                    Outcome::Cancelled
                } else {
                    Outcome::Superseded
                };
                let t = self.live.remove(i);
                sink.push(TrackerEvent::Finished {
                    id: t.id,
                    meter: t.meter,
                    command: t.command,
                    outcome,
                });
            } else {
                i += 1;
            }
        }
        let deadline = restoring.then(|| now.plus(self.config.restore_within));
        let status = if self.down.contains(&meter) {
            CommandStatus::Parked
        } else {
            CommandStatus::Queued
        };
        let entry = Tracked {
            id,
            meter,
            command,
            status,
            submitted: now,
            expires: now.plus(self.config.validity),
            deadline,
            failures: 0,
            attempts: 0,
            due: now,
        };
        self.live
            .push(entry)
            .map_err(|_| TrackerError::Full { capacity: N })?;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        // Open jobs of the same group for the meter are moot: this command carries the intent.
        let mut i = 0;
        while let Some(j) = self.jobs.get(i) {
            if j.meter == meter && j.command.kind.group() == group {
                let j = self.jobs.remove(i);
                let reason = if restoring && j.command.kind == CommandKind::Trip {
                    MootReason::Cancelled
                } else {
                    MootReason::Superseded
                };
                sink.push(TrackerEvent::JobMoot {
                    id: j.id,
                    meter: j.meter,
                    command: j.command,
                    by: id,
                    reason,
                });
            } else {
                i += 1;
            }
        }
        Ok(id)
    }

    /// Advances time: finishes expired and overdue commands (raising manual jobs), turns
    /// acknowledgement timeouts into failures, and emits [`TrackerEvent::Send`] for every
    /// command due at `now`.
    pub fn poll(&mut self, now: Timestamp, sink: &mut impl Sink<TrackerEvent<M>>) {
        self.poll_where(now, sink, |_| true);
    }

    /// [`Tracker::poll`] for the commands `pick` selects.
    fn poll_where(
        &mut self,
        now: Timestamp,
        sink: &mut impl Sink<TrackerEvent<M>>,
        pick: impl Fn(&Tracked<M>) -> bool,
    ) {
        let mut i = 0;
        while let Some(t) = self.live.get(i).copied() {
            if !pick(&t) {
                i += 1;
                continue;
            }
            // Expiry and deadline first: a command past them is never sent again. A parked
            // command only expires.
            let parked = t.status == CommandStatus::Parked;
            let over = if now > t.expires {
                Some((Outcome::Expired, JobReason::Expired))
            } else if !parked && t.deadline.is_some_and(|d| now > d) {
                Some((Outcome::Overdue, JobReason::RestoreOverdue))
            } else {
                None
            };
            if let Some((outcome, reason)) = over {
                self.live.remove(i);
                self.finish_with_job(now, t, outcome, reason, sink);
                continue;
            }
            // Acknowledgement timeout: a failure.
            if t.status == CommandStatus::Sent && now >= t.due && self.failed_at(i, now, sink) {
                continue;
            }
            if let Some(t) = self.live.get_mut(i)
                && t.status == CommandStatus::Queued
                && now >= t.due
            {
                t.status = CommandStatus::Sent;
                t.attempts = t.attempts.saturating_add(1);
                t.due = now.plus(self.config.ack_timeout);
                sink.push(TrackerEvent::Send {
                    id: t.id,
                    meter: t.meter,
                    kind: t.command.kind,
                    expires: t.expires,
                    attempt: t.attempts,
                });
            }
            i += 1;
        }
    }

    /// The meter acknowledged command `id`: it is finished.
    ///
    /// # Errors
    ///
    /// [`TrackerError::UnknownCommand`] when `id` is not live, [`TrackerError::NotSent`] when
    /// it has never been sent. A late acknowledgement of an attempt that already timed out
    /// (the command is queued for a retry) still counts: the meter executed it.
    pub fn acknowledge(
        &mut self,
        id: CommandId,
        sink: &mut impl Sink<TrackerEvent<M>>,
    ) -> Result<(), TrackerError> {
        let i = self.index(id, |t| t.attempts > 0)?;
        let t = self.live.remove(i);
        sink.push(TrackerEvent::Finished {
            id: t.id,
            meter: t.meter,
            command: t.command,
            outcome: Outcome::Acknowledged,
        });
        Ok(())
    }

    /// Command `id` failed (a denial from the meter, a transport error): it is retried after
    /// back-off, or finished with a manual job after `max_failures`.
    ///
    /// # Errors
    ///
    /// [`TrackerError::UnknownCommand`] when `id` is not live, [`TrackerError::NotSent`] when
    /// it is not waiting for an answer (queued; a failure already counted by a timeout is not
    /// counted twice).
    pub fn fail(
        &mut self,
        now: Timestamp,
        id: CommandId,
        sink: &mut impl Sink<TrackerEvent<M>>,
    ) -> Result<(), TrackerError> {
        let i = self.index(id, |t| t.status == CommandStatus::Sent)?;
        self.failed_at(i, now, sink);
        Ok(())
    }

    fn index(
        &self,
        id: CommandId,
        ok: impl Fn(&Tracked<M>) -> bool,
    ) -> Result<usize, TrackerError> {
        let i = self
            .live
            .iter()
            .position(|t| t.id == id)
            .ok_or(TrackerError::UnknownCommand(id.0))?;
        match self.live.get(i) {
            Some(t) if ok(t) => Ok(i),
            _ => Err(TrackerError::NotSent(id.0)),
        }
    }

    /// Records a failure of the sent command at index `i`; returns whether it was removed.
    fn failed_at(
        &mut self,
        i: usize,
        now: Timestamp,
        sink: &mut impl Sink<TrackerEvent<M>>,
    ) -> bool {
        let cfg = self.config;
        let Some(t) = self.live.get_mut(i) else {
            return false;
        };
        t.failures = t.failures.saturating_add(1);
        if t.failures >= cfg.max_failures.max(1) {
            let t = self.live.remove(i);
            let n = t.failures;
            self.finish_with_job(now, t, Outcome::Failed, JobReason::TooManyFailures(n), sink);
            return true;
        }
        let shift = u32::from(t.failures.saturating_sub(1)).min(31);
        let backoff = cfg
            .retry_base
            .checked_shl(shift)
            .filter(|b| b >> shift == cfg.retry_base)
            .unwrap_or(u32::MAX)
            .min(cfg.retry_max);
        let mut retry_at = now.plus(backoff);
        // A restoring close is retried no later than its deadline.
        if let Some(d) = t.deadline {
            retry_at = retry_at.min(d);
        }
        t.status = CommandStatus::Queued;
        t.due = retry_at;
        sink.push(TrackerEvent::Retry {
            id: t.id,
            meter: t.meter,
            failures: t.failures,
            retry_at,
        });
        false
    }

    fn finish_with_job(
        &mut self,
        now: Timestamp,
        t: Tracked<M>,
        outcome: Outcome,
        reason: JobReason,
        sink: &mut impl Sink<TrackerEvent<M>>,
    ) {
        if self.jobs.is_full() {
            // Bounded memory: the oldest open job is forgotten (see the module docs).
            self.jobs.remove(0);
        }
        let _ = self.jobs.push(Job {
            id: t.id,
            meter: t.meter,
            command: t.command,
            reason,
            raised: now,
        });
        sink.push(TrackerEvent::Finished {
            id: t.id,
            meter: t.meter,
            command: t.command,
            outcome,
        });
        sink.push(TrackerEvent::ManualJob {
            id: t.id,
            meter: t.meter,
            command: t.command,
            reason,
        });
    }
}
