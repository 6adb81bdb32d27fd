//! The invariants a soak checks after every step, each against evidence the station cannot
//! bend: the payment answers the harness received, the master's database (read-only), the
//! operator API, and the simulators' own logs of what the meters measured and which relay
//! commands reached them.
//!
//! | invariant | holds when |
//! |---|---|
//! | `payment_answered` | every payment answered `applied` is in the database once, applied, with its amount; every refusal gives a reason (and a refused row keeps it) |
//! | `money_conserved` | per remote customer: opening + applied payments − charges = the engine's net, charges re-priced from the stored readings and meter changes |
//! | `energy_billed_once` | every stored reading is a value the meter really reported unbent; the billed energy (reading deltas + replacement parts) equals the true consumption between the first and the last stored reading |
//! | `paid_not_cut` | no remote customer with net above the reconnect threshold has an open relay for longer than the deadline |
//! | `unpaid_not_supplied` | no unguarded remote customer with net below the floor has a closed relay for longer than the deadline |
//! | `no_superseded_command` | no relay command reaches a meter after the master marked it superseded or cancelled |
//! | `no_stranger_in` | an impostor with the real terminal's address and a wrong key is never served: no read or command reaches its meters |

use std::collections::{BTreeMap, HashMap};

use amikit_tariff::{Energy, Money};
use serde::Serialize;

use super::field::{ReadRecord, RelayRecord};
use crate::clock::{Civil, SimSeconds};

/// One invariant that did not hold.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    /// The run's seed.
    pub seed: u64,
    /// The driver's step.
    pub step: u64,
    /// Simulated time.
    pub at: String,
    /// The invariant's name.
    pub invariant: &'static str,
    /// What was seen.
    pub evidence: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VIOLATION seed {} step {} ({}): {}: {}",
            self.seed, self.step, self.at, self.invariant, self.evidence
        )
    }
}

/// Checks made and violations per invariant.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InvariantRow {
    /// The invariant.
    pub invariant: &'static str,
    /// Times checked (one per subject per step).
    pub checks: u64,
    /// Times it did not hold.
    pub violations: u64,
}

/// The names, in report order.
pub const INVARIANTS: [&str; 7] = [
    "payment_answered",
    "money_conserved",
    "energy_billed_once",
    "paid_not_cut",
    "unpaid_not_supplied",
    "no_superseded_command",
    "no_stranger_in",
];

/// The record of every check.
#[derive(Debug)]
pub struct Checker {
    seed: u64,
    /// Current step and its simulated time (stamped on violations).
    pub step: u64,
    now: SimSeconds,
    rows: BTreeMap<&'static str, InvariantRow>,
    violations: Vec<Violation>,
    /// Violations already reported, by (invariant, subject): each is printed once.
    seen: HashMap<(&'static str, String), ()>,
    /// Print violations as they happen.
    pub print: bool,
}

impl Checker {
    /// A checker for a run with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            step: 0,
            now: 0,
            rows: INVARIANTS
                .iter()
                .map(|&n| {
                    (
                        n,
                        InvariantRow {
                            invariant: n,
                            ..InvariantRow::default()
                        },
                    )
                })
                .collect(),
            violations: Vec::new(),
            seen: HashMap::new(),
            print: true,
        }
    }

    /// Starts step `step` at simulated time `now`.
    pub fn begin(&mut self, step: u64, now: SimSeconds) {
        self.step = step;
        self.now = now;
    }

    /// Counts one check of `invariant` on `subject`; `failed`: the evidence of a violation.
    pub fn check(&mut self, invariant: &'static str, subject: &str, failed: Option<String>) {
        let row = self.rows.entry(invariant).or_insert_with(|| InvariantRow {
            invariant,
            ..InvariantRow::default()
        });
        row.checks += 1;
        let Some(evidence) = failed else { return };
        row.violations += 1;
        // A lasting condition is one violation, reported once per subject.
        if self
            .seen
            .insert((invariant, subject.to_owned()), ())
            .is_some()
        {
            return;
        }
        let v = Violation {
            seed: self.seed,
            step: self.step,
            at: Civil::from_sim(self.now).to_string(),
            invariant,
            evidence: format!("{subject}: {evidence}"),
        };
        if self.print {
            eprintln!("{v}");
        }
        self.violations.push(v);
    }

    /// The counts, in report order.
    pub fn rows(&self) -> Vec<InvariantRow> {
        INVARIANTS
            .iter()
            .filter_map(|n| self.rows.get(n).cloned())
            .collect()
    }

    /// Every distinct violation.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }
}

/// What the harness was told when it posted a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `applied`.
    Applied,
    /// `refused` (409 or 422) with this reason.
    Refused(String),
    /// Not recorded (503, no answer): to be retried with the same order number.
    Unknown,
}

/// A payment the harness posted.
#[derive(Debug, Clone)]
pub struct Posted {
    /// Order number.
    pub order_no: String,
    /// Customer name.
    pub customer: String,
    /// Amount.
    pub amount: Money,
    /// The amount as posted.
    pub amount_text: String,
    /// The first definite answer.
    pub answer: Answer,
    /// Whether the master should have recorded it (not an amount refused with 422).
    pub recordable: bool,
}

/// A payment row of the database.
#[derive(Debug, Clone)]
pub struct PaymentRow {
    /// Customer name.
    pub customer: String,
    /// Amount.
    pub amount: Money,
    /// `applied` / `refused`.
    pub status: String,
    /// Why refused.
    pub reason: Option<String>,
}

/// `payment_answered`: `rows` by order number (the database's payments).
pub fn payments(chk: &mut Checker, posted: &[Posted], rows: &HashMap<String, Vec<PaymentRow>>) {
    for p in posted {
        let found = rows.get(&p.order_no).map_or(&[][..], Vec::as_slice);
        let failed = match &p.answer {
            Answer::Applied => match found {
                [r] if r.status == "applied"
                    && r.amount == p.amount
                    && r.customer == p.customer =>
                {
                    None
                }
                [] => Some("answered applied, absent from the database".to_owned()),
                [r] => Some(format!(
                    "answered applied, stored as {} {} for {}",
                    r.status, r.amount, r.customer
                )),
                more => Some(format!("answered applied, stored {} times", more.len())),
            },
            Answer::Refused(reason) if reason.trim().is_empty() => {
                Some("refused without a reason".to_owned())
            }
            Answer::Refused(_) if !p.recordable => {
                (!found.is_empty()).then(|| "refused as invalid, yet recorded".to_owned())
            }
            Answer::Refused(_) => match found {
                [] => None,
                [r] if r.status == "refused"
                    && r.reason.as_deref().is_some_and(|x| !x.is_empty()) =>
                {
                    None
                }
                [r] => Some(format!(
                    "answered refused, stored as {} (reason {:?})",
                    r.status, r.reason
                )),
                more => Some(format!("answered refused, stored {} times", more.len())),
            },
            Answer::Unknown => (found.len() > 1)
                .then(|| format!("unanswered payment stored {} times", found.len())),
        };
        chk.check("payment_answered", &p.order_no, failed);
    }
}

/// A stored reading (`at`, Wh) or a meter change, in time order, for re-pricing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterEntry {
    /// A reading that moved the baseline.
    Reading {
        /// Master's time.
        at: SimSeconds,
        /// Register, Wh.
        wh: i64,
    },
    /// A replacement: the old meter's remaining energy billed, the new baseline.
    Change {
        /// Master's time.
        at: SimSeconds,
        /// Energy billed for the old meter's last part, Wh.
        billed: i64,
        /// The new meter's initial reading, Wh.
        opening: i64,
    },
}

impl MeterEntry {
    /// When.
    pub fn at(&self) -> SimSeconds {
        match self {
            MeterEntry::Reading { at, .. } | MeterEntry::Change { at, .. } => *at,
        }
    }
}

/// The intervals the master billed, from its seeded baseline (`(time, Wh)`: the site's
/// opening register when the database was created), its stored readings and meter changes:
/// `(from, to, energy)`.
pub fn billed_intervals(
    baseline: Option<(SimSeconds, i64)>,
    entries: &[MeterEntry],
) -> Vec<(SimSeconds, SimSeconds, Energy)> {
    let register = crate::master::billing::register();
    let mut base = baseline;
    let mut out = Vec::new();
    for e in entries {
        match *e {
            MeterEntry::Reading { at, wh } => {
                if let Some((t0, e0)) = base
                    && let Ok(d) = register.delta(Energy::from_wh(e0), Energy::from_wh(wh))
                {
                    out.push((t0, at, d));
                }
                base = Some((at, wh));
            }
            MeterEntry::Change {
                at,
                billed,
                opening,
            } => {
                if let Some((t0, _)) = base {
                    out.push((t0, at, Energy::from_wh(billed)));
                }
                base = Some((at, opening));
            }
        }
    }
    out
}

/// `energy_billed_once` for one meter: its stored entries (the first one the baseline the
/// master was seeded with, `(time, Wh)` of the site's opening register) against what it
/// really reported.
///
/// `replacements` are the field's `(initial_wh, true_wh)`: a stored change is matched by its
/// opening register, and the energy the meter had measured when the fitter wrote down the old
/// meter's final register is the truth up to it.
pub fn energy(
    chk: &mut Checker,
    meter: &str,
    baseline: Option<(SimSeconds, i64)>,
    entries: &[MeterEntry],
    reads: &[ReadRecord],
    replacements: &[(i64, i64)],
) {
    let mut failed = None;
    // Every stored reading is a genuine register value: the read closest in time with that
    // reported value was not bent.
    let mut first_true = baseline.map(|(_, wh)| wh);
    let mut last_true = first_true;
    let seeded = baseline.map(|(at, wh)| MeterEntry::Reading { at, wh });
    let mut by_value: HashMap<i64, Vec<&ReadRecord>> = HashMap::with_capacity(reads.len());
    for r in reads {
        by_value.entry(r.reported_wh).or_default().push(r);
    }
    for e in entries.iter().filter(|e| Some(**e) != seeded) {
        let (at, wh) = match *e {
            MeterEntry::Reading { at, wh } => (at, wh),
            MeterEntry::Change { opening, .. } => {
                match replacements.iter().find(|(initial, _)| *initial == opening) {
                    Some(&(_, true_wh)) => last_true = Some(true_wh),
                    None => {
                        failed = Some(format!(
                            "a meter change with initial register {} kWh the field never made",
                            Energy::from_wh(opening)
                        ));
                        break;
                    }
                }
                continue;
            }
        };
        let closest = by_value
            .get(&wh)
            .and_then(|rs| rs.iter().min_by_key(|r| (r.at - at).abs()));
        match closest {
            None => {
                failed = Some(format!(
                    "stored reading {} kWh at {} was never reported",
                    Energy::from_wh(wh),
                    Civil::from_sim(at)
                ));
                break;
            }
            Some(r) if r.fault.is_some() => {
                failed = Some(format!(
                    "stored reading {} kWh at {} was bent ({:?}, true {} kWh)",
                    Energy::from_wh(wh),
                    Civil::from_sim(at),
                    r.fault,
                    Energy::from_wh(r.true_wh)
                ));
                break;
            }
            Some(r) => {
                first_true.get_or_insert(r.true_wh);
                last_true = Some(r.true_wh);
            }
        }
    }
    if failed.is_none()
        && let (Some(first), Some(last)) = (first_true, last_true)
    {
        let billed: i64 = billed_intervals(baseline, entries)
            .iter()
            .map(|(_, _, e)| e.wh())
            .sum();
        // The register's 10 Wh resolution: the last reading and each replacement's final
        // reading are floored once.
        let changes = entries
            .iter()
            .filter(|e| matches!(e, MeterEntry::Change { .. }))
            .count();
        let tolerance = 10 * (1 + i64::try_from(changes).unwrap_or(0));
        let truth = last - first;
        if (billed - truth).abs() >= tolerance {
            failed = Some(format!(
                "billed {} kWh, the meter measured {} kWh between the first and the last \
                 stored entry",
                Energy::from_wh(billed),
                Energy::from_wh(truth)
            ));
        }
    }
    chk.check("energy_billed_once", meter, failed);
}

/// A remote customer's money as the invariant sees it.
#[derive(Debug, Clone)]
pub struct MoneyView {
    /// Customer name.
    pub customer: String,
    /// Opening balance (the site's).
    pub opening: Money,
    /// Applied payments in the database.
    pub payments: Money,
    /// Charges re-priced from the stored readings and changes.
    pub charges: Money,
    /// The engine's net balance (API).
    pub net: Money,
}

/// `money_conserved` for one customer.
pub fn money(chk: &mut Checker, v: &MoneyView) {
    let expected = v
        .opening
        .checked_add(v.payments)
        .and_then(|m| m.checked_sub(v.charges));
    let failed = match expected {
        Ok(e) if e == v.net => None,
        Ok(e) => Some(format!(
            "opening {} + payments {} − charges {} = {e}, the engine says {}",
            v.opening, v.payments, v.charges, v.net
        )),
        Err(e) => Some(format!("overflow: {e}")),
    };
    chk.check("money_conserved", &v.customer, failed);
}

/// Tracks how long a condition has held, per subject.
#[derive(Debug, Default)]
pub struct Since(HashMap<String, SimSeconds>);

impl Since {
    /// Records whether the condition holds for `subject` at `now`; returns since when it has
    /// held without a break.
    pub fn update(&mut self, subject: &str, holds: bool, now: SimSeconds) -> Option<SimSeconds> {
        if holds {
            Some(*self.0.entry(subject.to_owned()).or_insert(now))
        } else {
            self.0.remove(subject);
            None
        }
    }
}

/// `paid_not_cut` / `unpaid_not_supplied` for one remote customer: `relay_open` is the meter's
/// true relay (open or armed counts as open).
#[allow(clippy::too_many_arguments)]
pub fn supply(
    chk: &mut Checker,
    cut: &mut Since,
    supplied: &mut Since,
    customer: &str,
    net: Money,
    guarded: bool,
    relay_open: bool,
    reconnect: Money,
    floor: Money,
    deadline: SimSeconds,
) {
    let now = chk.now;
    let paid_but_cut = net > reconnect && relay_open;
    let failed = cut
        .update(customer, paid_but_cut, now)
        .filter(|since| now - since > deadline)
        .map(|since| {
            format!(
                "net {net} above the reconnect threshold {reconnect}, relay open since {}",
                Civil::from_sim(since)
            )
        });
    chk.check("paid_not_cut", customer, failed);
    let unpaid_but_on = net < floor && !relay_open && !guarded;
    let failed = supplied
        .update(customer, unpaid_but_on, now)
        .filter(|since| now - since > deadline)
        .map(|since| {
            format!(
                "net {net} below the floor {floor}, unguarded, relay closed since {}",
                Civil::from_sim(since)
            )
        });
    chk.check("unpaid_not_supplied", customer, failed);
}

/// A command row of the database.
#[derive(Debug, Clone)]
pub struct CommandRow {
    /// Row id.
    pub id: i64,
    /// Meter address.
    pub meter: String,
    /// Kind (`trip`, `allow_close`, …).
    pub kind: String,
    /// Status.
    pub status: String,
    /// Created (master's simulated time).
    pub created_at: SimSeconds,
    /// Last status change.
    pub updated_at: SimSeconds,
}

/// `no_superseded_command` for one relay command that reached `meter`: some command of that
/// kind for that meter existed and was not superseded or cancelled before it arrived
/// (`tolerance`: the simulated seconds the master's and the terminal's clocks may differ by).
pub fn command_live(
    chk: &mut Checker,
    meter: &str,
    rec: &RelayRecord,
    commands: &[CommandRow],
    tolerance: SimSeconds,
) {
    let kind = rec.kind.name();
    let mut candidates = commands
        .iter()
        .filter(|c| c.meter == meter && c.kind == kind && c.created_at <= rec.at + tolerance)
        .peekable();
    let failed = if candidates.peek().is_none() {
        Some(format!(
            "{kind} reached the meter at {} and the master never issued one",
            Civil::from_sim(rec.at)
        ))
    } else {
        let dead: Vec<&CommandRow> = candidates.collect();
        let live = dead.iter().any(|c| {
            !matches!(c.status.as_str(), "superseded" | "cancelled")
                || c.updated_at + tolerance >= rec.at
        });
        (!live).then(|| {
            let last = dead.iter().max_by_key(|c| c.updated_at);
            format!(
                "{kind} reached the meter at {} after command {} was {} at {}",
                Civil::from_sim(rec.at),
                last.map_or(0, |c| c.id),
                last.map_or("?", |c| c.status.as_str()),
                last.map_or_else(String::new, |c| Civil::from_sim(c.updated_at).to_string())
            )
        })
    };
    chk.check(
        "no_superseded_command",
        &format!("{meter} at {}", rec.at),
        failed,
    );
}

/// `no_stranger_in`: what reached the impostor's meters so far (register reads, relay
/// commands: the master took it for the terminal) and its logins as the impostor saw them.
pub fn stranger(chk: &mut Checker, episode: u64, reached: (u64, u64), logins: u64) {
    let (reads, commands) = reached;
    chk.check(
        "no_stranger_in",
        &format!("impostor {episode}"),
        (reads + commands > 0).then(|| {
            format!(
                "an impostor with the terminal's A1/A2 and a wrong key was served: {reads} \
                 register reads and {commands} relay commands reached its meters ({logins} \
                 logins confirmed)"
            )
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(at: SimSeconds, true_wh: i64, reported_wh: i64, bent: bool) -> ReadRecord {
        ReadRecord {
            at,
            true_wh,
            reported_wh,
            fault: bent.then_some(super::super::faults::FaultKind::ReadZero),
        }
    }

    #[test]
    fn energy_counts_a_bent_baseline_and_a_double_bill() {
        let reads = [
            read(0, 1_000_000, 1_000_000, false),
            read(900, 1_001_000, 0, true),
            read(1800, 1_002_000, 1_002_000, false),
        ];
        let good = [
            MeterEntry::Reading {
                at: 0,
                wh: 1_000_000,
            },
            MeterEntry::Reading {
                at: 1800,
                wh: 1_002_000,
            },
        ];
        let mut chk = Checker::new(1);
        chk.print = false;
        energy(&mut chk, "m", None, &good, &reads, &[]);
        assert!(chk.violations().is_empty());
        // The zero read stored as a reading: refused as bent.
        let bent = [good[0], MeterEntry::Reading { at: 900, wh: 0 }, good[1]];
        energy(&mut chk, "m2", None, &bent, &reads, &[]);
        assert_eq!(chk.violations().len(), 1);
        // A replacement that bills the old part twice.
        let twice = [
            good[0],
            MeterEntry::Change {
                at: 1000,
                billed: 2000,
                opening: 1_000_000,
            },
            good[1],
        ];
        energy(
            &mut chk,
            "m3",
            None,
            &twice,
            &reads,
            &[(1_000_000, 1_001_000)],
        );
        assert_eq!(chk.violations().len(), 2, "{:?}", chk.violations());
        // Billed from the seeded opening register: 999 kWh → first reading counts.
        energy(&mut chk, "m4", Some((-900, 999_000)), &good, &reads, &[]);
        // A change as the last entry: the truth runs to the fitter's final register.
        let changed = [
            good[0],
            MeterEntry::Change {
                at: 1000,
                billed: 1000,
                opening: 5_000,
            },
        ];
        energy(
            &mut chk,
            "m5",
            None,
            &changed,
            &reads,
            &[(5_000, 1_001_000)],
        );
        assert_eq!(chk.violations().len(), 2, "{:?}", chk.violations());
        assert_eq!(chk.violations().len(), 2, "{:?}", chk.violations());
        let intervals = billed_intervals(Some((-900, 999_000)), &good);
        assert_eq!(intervals.len(), 2);
        assert_eq!(intervals[0].2, Energy::from_wh(1_000));
    }

    #[test]
    fn a_lasting_cut_is_one_violation_after_the_deadline() {
        let mut chk = Checker::new(1);
        chk.print = false;
        let (mut cut, mut on) = (Since::default(), Since::default());
        let m = |s: &str| Money::parse(s).unwrap();
        for (step, t) in [0i64, 600, 1200, 1800].into_iter().enumerate() {
            chk.begin(step as u64, t);
            supply(
                &mut chk,
                &mut cut,
                &mut on,
                "c",
                m("10"),
                false,
                true,
                m("0"),
                m("0"),
                900,
            );
        }
        let rows = chk.rows();
        let paid = rows.iter().find(|r| r.invariant == "paid_not_cut").unwrap();
        assert_eq!((paid.checks, paid.violations), (4, 2));
        assert_eq!(chk.violations().len(), 1);
    }
}
