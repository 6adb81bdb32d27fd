//! The faults a field that fights back injects, which of them are switched on, the seeded
//! random source, the schedule of timed faults drawn from the seed, and the counters
//! (injected / met a relay command).
//!
//! A seed reproduces the schedule (which fault, at which simulated minute, against which
//! meter) and the sequence of random draws of every injector; what the real-time tasks
//! interleave (which frame is in flight when a fault fires) depends on the machine.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use rand_core::{Rng as _, SeedableRng};
use rand_xorshift::XorShiftRng;
use serde::Serialize;

use crate::clock::SimSeconds;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A frame held back and sent after the next one (replies out of order, interleaved
    /// across the requests in flight).
    Reorder,
    /// A frame sent twice.
    Duplicate,
    /// A frame lost.
    Drop,
    /// A terminal's acknowledgement (AFN 00) or control reply lost on its way to the master.
    LostAck,
    /// A meter reads below its last reading.
    ReadBackwards,
    /// A meter reads far beyond what its maximum demand allows.
    ReadJump,
    /// A meter reads zero.
    ReadZero,
    /// A meter replaced (register restarts; recorded through the API's meter replacement).
    MeterReplaced,
    /// A relay confirms a command and does not move.
    RelayRefuses,
    /// A relay confirms a command and moves minutes later.
    RelayLate,
    /// The terminal's link down for minutes.
    LinkDown,
    /// A second terminal logs in with the real terminal's A1/A2 and no key.
    Impostor,
    /// The master station killed (SIGKILL) and restarted on the same database.
    MasterKilled,
    /// The master's database cannot grow (a full disk), then space comes back.
    DiskFull,
}

impl FaultKind {
    /// Every kind, in report order.
    pub const ALL: [FaultKind; 14] = [
        FaultKind::Reorder,
        FaultKind::Duplicate,
        FaultKind::Drop,
        FaultKind::LostAck,
        FaultKind::ReadBackwards,
        FaultKind::ReadJump,
        FaultKind::ReadZero,
        FaultKind::MeterReplaced,
        FaultKind::RelayRefuses,
        FaultKind::RelayLate,
        FaultKind::LinkDown,
        FaultKind::Impostor,
        FaultKind::MasterKilled,
        FaultKind::DiskFull,
    ];

    /// The name used on the command line and in reports.
    pub const fn name(self) -> &'static str {
        match self {
            FaultKind::Reorder => "reorder",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Drop => "drop",
            FaultKind::LostAck => "lost_ack",
            FaultKind::ReadBackwards => "read_backwards",
            FaultKind::ReadJump => "read_jump",
            FaultKind::ReadZero => "read_zero",
            FaultKind::MeterReplaced => "meter_replaced",
            FaultKind::RelayRefuses => "relay_refuses",
            FaultKind::RelayLate => "relay_late",
            FaultKind::LinkDown => "link_down",
            FaultKind::Impostor => "impostor",
            FaultKind::MasterKilled => "master_killed",
            FaultKind::DiskFull => "disk_full",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }
}

impl std::str::FromStr for FaultKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|k| k.name()).collect();
                format!("unknown fault {s:?} (known: {})", names.join(", "))
            })
    }
}

/// The faults switched on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSet(BTreeSet<FaultKind>);

impl FaultSet {
    /// Every fault on.
    pub fn all() -> Self {
        Self(FaultKind::ALL.into_iter().collect())
    }

    /// No fault: a friendly field.
    pub fn none() -> Self {
        Self(BTreeSet::new())
    }

    /// Whether `kind` is on.
    pub fn has(&self, kind: FaultKind) -> bool {
        self.0.contains(&kind)
    }

    /// The kinds on, in report order.
    pub fn kinds(&self) -> impl Iterator<Item = FaultKind> + '_ {
        self.0.iter().copied()
    }

    /// Parses `all`, `none`, or a comma-separated list of names, where `-name` removes a
    /// fault from what precedes it (`all,-master_killed`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "all" => set.extend(FaultKind::ALL),
                "none" => set.clear(),
                p => match p.strip_prefix('-') {
                    Some(name) => {
                        set.remove(&name.parse::<FaultKind>()?);
                    }
                    None => {
                        set.insert(p.parse::<FaultKind>()?);
                    }
                },
            }
        }
        Ok(Self(set))
    }
}

impl std::str::FromStr for FaultSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

/// The seeded random source of the chaos mode (xorshift: fast, reproducible, not for keys).
#[derive(Debug, Clone)]
pub struct ChaosRng(XorShiftRng);

impl ChaosRng {
    /// A source for `seed`; `stream` separates the independent users of one seed.
    pub fn new(seed: u64, stream: u64) -> Self {
        Self(XorShiftRng::seed_from_u64(
            seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ))
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.0.next_u64() % n }
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi.saturating_sub(lo)).unwrap_or(0);
        lo.saturating_add(i64::try_from(self.below(span.saturating_add(1))).unwrap_or(0))
    }

    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }

    /// One item of `items`, if any.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let n = u64::try_from(items.len()).unwrap_or(0);
        items.get(usize::try_from(self.below(n)).unwrap_or(0))
    }
}

/// How often each fault fires (per mille per frame for the link faults, per relay command
/// for the relay faults, per simulated day for the timed ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// Frames held back and reordered, ‰.
    pub reorder: u32,
    /// Frames duplicated, ‰.
    pub duplicate: u32,
    /// Frames dropped, ‰.
    pub drop: u32,
    /// Terminal acknowledgements and control replies lost, ‰.
    pub lost_ack: u32,
    /// Relay commands refused (confirmed, not acted on), ‰.
    pub relay_refuses: u32,
    /// Relay commands acted on late, ‰.
    pub relay_late: u32,
    /// Implausible read episodes per simulated day (split between backwards, jump, zero).
    pub bad_reads_per_day: u32,
    /// Meter replacements per simulated day.
    pub replacements_per_day: u32,
    /// Link outages per simulated day.
    pub link_downs_per_day: u32,
    /// Impostor logins per simulated day.
    pub impostors_per_day: u32,
    /// Master kills per simulated day.
    pub kills_per_day: u32,
    /// Full-disk episodes per simulated day.
    pub disk_fulls_per_day: u32,
    /// Full-disk episodes, ‰, that also see a meter replaced whose answer is lost (the
    /// fitter's client gives up) followed by a master kill; the replacement is sent again
    /// after the restart. The combination of the seed-2 `energy_billed_once` violation.
    pub replace_in_disk_full: u32,
}

impl Default for Rates {
    fn default() -> Self {
        Self {
            reorder: 20,
            duplicate: 10,
            drop: 10,
            lost_ack: 60,
            relay_refuses: 200,
            relay_late: 200,
            bad_reads_per_day: 6,
            replacements_per_day: 1,
            link_downs_per_day: 2,
            impostors_per_day: 1,
            kills_per_day: 3,
            disk_fulls_per_day: 1,
            replace_in_disk_full: 500,
        }
    }
}

/// A timed fault of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timed {
    /// The meter at `pn` reads implausibly (`kind` is one of the read faults) for `reads`
    /// reads.
    BadReads {
        /// Measurement point.
        pn: u16,
        /// Which read fault.
        kind: FaultKind,
        /// How many reads.
        reads: u32,
    },
    /// The meter at `pn` is replaced.
    Replace {
        /// Measurement point.
        pn: u16,
        /// The master's answer is lost and the master killed right after: the replacement
        /// is sent again once it is back.
        answer_lost: bool,
    },
    /// The link is down for `minutes` simulated minutes.
    LinkDown {
        /// How long.
        minutes: u32,
    },
    /// An impostor tries to log in for `minutes` simulated minutes.
    Impostor {
        /// How long.
        minutes: u32,
    },
    /// The master is killed and restarted after `pause_ms` real milliseconds.
    Kill {
        /// Real time between the kill and the restart.
        pause_ms: u64,
    },
    /// The database cannot grow for `minutes` simulated minutes (the master restarts to
    /// apply the limit and again to lift it).
    DiskFull {
        /// How long.
        minutes: u32,
    },
}

impl Timed {
    /// The fault counted for this entry.
    pub fn kind(&self) -> FaultKind {
        match self {
            Timed::BadReads { kind, .. } => *kind,
            Timed::Replace { .. } => FaultKind::MeterReplaced,
            Timed::LinkDown { .. } => FaultKind::LinkDown,
            Timed::Impostor { .. } => FaultKind::Impostor,
            Timed::Kill { .. } => FaultKind::MasterKilled,
            Timed::DiskFull { .. } => FaultKind::DiskFull,
        }
    }
}

/// The timed faults of a run, drawn from the seed: `(simulated time, fault)` in time order.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The entries, earliest first.
    pub entries: Vec<(SimSeconds, Timed)>,
}

impl Schedule {
    /// Draws the schedule of a run of `days` simulated days from `start`: every switched-on
    /// timed fault at its rate, at least once a day (so that a one-day run meets every kind);
    /// read faults and replacements against the meters `pns`. Each day is drawn from its own
    /// stream of the seed, so a shorter run's schedule is a prefix of a longer one's.
    pub fn draw(
        seed: u64,
        start: SimSeconds,
        days: u32,
        faults: &FaultSet,
        rates: &Rates,
        pns: &[u16],
    ) -> Self {
        let mut entries = Vec::new();
        for day in 0..days.max(1) {
            // Each day has its own stream: a shorter run is a prefix of a longer one.
            let mut rng = ChaosRng::new(seed, 100 + u64::from(day));
            let day_start = start + i64::from(day) * 86_400;
            Self::draw_day(&mut rng, day_start, faults, rates, pns, &mut entries);
        }
        entries.sort_by_key(|(t, _)| *t);
        Self { entries }
    }

    /// One day's timed faults, each at its rate (every rate is at least one a day).
    fn draw_day(
        rng: &mut ChaosRng,
        day_start: SimSeconds,
        faults: &FaultSet,
        rates: &Rates,
        pns: &[u16],
        entries: &mut Vec<(SimSeconds, Timed)>,
    ) {
        // Leave the day's first and last simulated hour quiet (logins, baselines, settling).
        let at = |rng: &mut ChaosRng| day_start + rng.between(3600, 86_400 - 3600);
        let n = |per_day: u32| per_day.max(1);
        for kind in [
            FaultKind::ReadBackwards,
            FaultKind::ReadJump,
            FaultKind::ReadZero,
        ] {
            if !faults.has(kind) {
                continue;
            }
            for _ in 0..n(rates.bad_reads_per_day.div_ceil(3)) {
                let Some(&pn) = rng.pick(pns) else { break };
                let reads = u32::try_from(rng.between(1, 3)).unwrap_or(1);
                entries.push((at(rng), Timed::BadReads { pn, kind, reads }));
            }
        }
        if faults.has(FaultKind::MeterReplaced) {
            for _ in 0..n(rates.replacements_per_day) {
                let Some(&pn) = rng.pick(pns) else { break };
                entries.push((
                    at(rng),
                    Timed::Replace {
                        pn,
                        answer_lost: false,
                    },
                ));
            }
        }
        if faults.has(FaultKind::LinkDown) {
            for _ in 0..n(rates.link_downs_per_day) {
                let minutes = u32::try_from(rng.between(3, 20)).unwrap_or(5);
                entries.push((at(rng), Timed::LinkDown { minutes }));
            }
        }
        if faults.has(FaultKind::Impostor) {
            for _ in 0..n(rates.impostors_per_day) {
                let minutes = u32::try_from(rng.between(10, 30)).unwrap_or(10);
                entries.push((at(rng), Timed::Impostor { minutes }));
            }
        }
        if faults.has(FaultKind::MasterKilled) {
            for _ in 0..n(rates.kills_per_day) {
                let pause_ms = u64::try_from(rng.between(0, 1500)).unwrap_or(0);
                entries.push((at(rng), Timed::Kill { pause_ms }));
            }
        }
        let mut disk_fulls = Vec::new();
        if faults.has(FaultKind::DiskFull) {
            for _ in 0..n(rates.disk_fulls_per_day) {
                // Hours: only writes that need a new page fail, and tables grow a page at a
                // time.
                let minutes = u32::try_from(rng.between(180, 480)).unwrap_or(240);
                let start = at(rng);
                entries.push((start, Timed::DiskFull { minutes }));
                disk_fulls.push((start, minutes));
            }
        }
        // Drawn last, so that the day's other entries are those of a run without the knob.
        if faults.has(FaultKind::MeterReplaced) && faults.has(FaultKind::MasterKilled) {
            for (start, minutes) in disk_fulls {
                if !rng.chance(rates.replace_in_disk_full) {
                    continue;
                }
                let Some(&pn) = rng.pick(pns) else { break };
                // Inside the episode and inside the day's busy hours.
                let room = (day_start + 86_400 - 3600 - start).min(i64::from(minutes) * 60 - 60);
                let within = rng.between(room.min(60), room);
                entries.push((
                    start + within,
                    Timed::Replace {
                        pn,
                        answer_lost: true,
                    },
                ));
            }
        }
    }
}

/// Per-fault counters, shared by the injectors.
#[derive(Debug, Default)]
pub struct FaultCounts {
    injected: [AtomicU64; FaultKind::ALL.len()],
    met_command: [AtomicU64; FaultKind::ALL.len()],
}

/// One row of the counts.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FaultRow {
    /// The fault.
    pub fault: FaultKind,
    /// Times injected.
    pub injected: u64,
    /// Times it hit a relay command (a control frame or its reply, a relay command at the
    /// meter, or a command pending at the master when it fired).
    pub met_command: u64,
}

impl FaultCounts {
    /// Counts one injection; `met_command` when it hit a relay command.
    pub fn inject(&self, kind: FaultKind, met_command: bool) {
        if let Some(c) = self.injected.get(kind.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if met_command && let Some(c) = self.met_command.get(kind.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Times `kind` was injected.
    pub fn injected(&self, kind: FaultKind) -> u64 {
        self.injected
            .get(kind.index())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// The counts of the faults in `set`.
    pub fn rows(&self, set: &FaultSet) -> Vec<FaultRow> {
        set.kinds()
            .map(|k| FaultRow {
                fault: k,
                injected: self.injected(k),
                met_command: self
                    .met_command
                    .get(k.index())
                    .map_or(0, |c| c.load(Ordering::Relaxed)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_sets_parse() {
        assert_eq!(FaultSet::parse("all").unwrap(), FaultSet::all());
        let s = FaultSet::parse("all,-master_killed").unwrap();
        assert!(!s.has(FaultKind::MasterKilled) && s.has(FaultKind::Drop));
        let s = FaultSet::parse("drop,link_down").unwrap();
        assert_eq!(s.kinds().count(), 2);
        assert!(FaultSet::parse("drop,gremlins").is_err());
        assert_eq!(FaultSet::parse("none").unwrap(), FaultSet::none());
    }

    #[test]
    fn a_seed_reproduces_the_schedule_and_every_kind_comes_on_the_first_day() {
        let rates = Rates::default();
        let a = Schedule::draw(7, 0, 3, &FaultSet::all(), &rates, &[1, 3, 4]);
        let b = Schedule::draw(7, 0, 3, &FaultSet::all(), &rates, &[1, 3, 4]);
        let c = Schedule::draw(8, 0, 3, &FaultSet::all(), &rates, &[1, 3, 4]);
        assert_eq!(a.entries, b.entries);
        assert_ne!(a.entries, c.entries);
        for kind in [
            FaultKind::ReadBackwards,
            FaultKind::ReadJump,
            FaultKind::ReadZero,
            FaultKind::MeterReplaced,
            FaultKind::LinkDown,
            FaultKind::Impostor,
            FaultKind::MasterKilled,
            FaultKind::DiskFull,
        ] {
            assert!(
                a.entries
                    .iter()
                    .any(|(t, e)| e.kind() == kind && *t < 86_400),
                "{kind:?}"
            );
        }
        assert!(a.entries.windows(2).all(|w| w[0].0 <= w[1].0));
        let one = Schedule::draw(7, 0, 1, &FaultSet::all(), &rates, &[1, 3, 4]);
        let first_day: Vec<_> = a
            .entries
            .iter()
            .filter(|(t, _)| *t < 86_400)
            .cloned()
            .collect();
        assert_eq!(one.entries, first_day);
        assert!(
            a.entries
                .iter()
                .all(|(t, _)| (3600..3 * 86_400).contains(t))
        );
    }

    #[test]
    fn the_knob_puts_a_lost_replacement_inside_disk_full_episodes_and_nothing_else_moves() {
        let (all, pns) = (FaultSet::all(), [1, 3, 4]);
        let always = Rates {
            replace_in_disk_full: 1000,
            disk_fulls_per_day: 2,
            ..Rates::default()
        };
        let never = Rates {
            replace_in_disk_full: 0,
            ..always
        };
        let a = Schedule::draw(2, 0, 10, &all, &always, &pns);
        let b = Schedule::draw(2, 0, 10, &all, &never, &pns);
        let lost = |e: &Timed| {
            matches!(
                e,
                Timed::Replace {
                    answer_lost: true,
                    ..
                }
            )
        };
        assert!(!b.entries.iter().any(|(_, e)| lost(e)));
        let others: Vec<_> = a
            .entries
            .iter()
            .filter(|(_, e)| !lost(e))
            .cloned()
            .collect();
        assert_eq!(others, b.entries);
        let episodes: Vec<(SimSeconds, SimSeconds)> = a
            .entries
            .iter()
            .filter_map(|(t, e)| match e {
                Timed::DiskFull { minutes } => Some((*t, *t + i64::from(*minutes) * 60)),
                _ => None,
            })
            .collect();
        assert_eq!(episodes.len(), 20);
        let replaced: Vec<SimSeconds> = a
            .entries
            .iter()
            .filter(|(_, e)| lost(e))
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(replaced.len(), episodes.len());
        for t in replaced {
            assert!(
                episodes.iter().any(|(s, e)| (*s..*e).contains(&t)),
                "{t} outside every disk-full episode"
            );
        }
    }
}
