//! The soak: the master station as a child process on a scratch database, the site's terminal
//! behind the chaos link with its meters on the chaos hooks, customers who pay (and press the
//! button when supply is allowed back), a fitter who carries out an open relay job by hand an
//! hour after it was raised (and closes it through the API), the timed faults of the seed's
//! [`Schedule`], and every invariant of [`super::invariants`] checked after every step.
//!
//! ```text
//! cargo run --release --example soak -- --days 30 --seed 7          # the counts table
//! cargo run --example soak -- --days 1 --seed 1 --faults all,-disk_full --json
//! ```
//!
//! The master runs as a child process (the soak example re-runs itself with
//! `--master-child`, the tests run the `station-master` binary) so that it can be killed with
//! SIGKILL at any point and restarted on the same database; a restart continues the
//! simulated clock (`--start` with `--start-epoch-ms`). A full disk is the master restarted
//! with `--db-max-pages` at the database's current size, and restarted without it when the
//! episode ends. Every call of the operator API goes through [`MasterProc::api`].

use std::collections::HashMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use amikit_prepay::RelayState;
use amikit_prepay::tariff::{ChargeState, TariffSet};
use amikit_tariff::Money;
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use serde_json::{Value, json};

use super::faults::{ChaosRng, FaultCounts, FaultKind, FaultRow, FaultSet, Rates, Schedule, Timed};
use super::field::{ChaosLink, ChaosMeters, StrangerMeters};
use super::invariants::{
    self, Answer, Checker, CommandRow, InvariantRow, MeterEntry, MoneyView, PaymentRow, Posted,
    Since, Violation,
};
use crate::clock::{Civil, SimClock, SimSeconds};
use crate::master::{billing, http_json, sim_ts};
use crate::site::{FeeControl, Site, SiteMeter, workspace_root};
use crate::terminal::{self, Hooks, TerminalHandle, TerminalOptions};

/// How to start the master station as a child process.
#[derive(Debug, Clone)]
pub struct MasterCommand {
    /// The program.
    pub program: PathBuf,
    /// Arguments before the master's own (e.g. `--master-child`).
    pub prefix: Vec<OsString>,
}

impl MasterCommand {
    /// This program, re-run with `--master-child` (what the soak example does).
    pub fn this_program() -> Result<Self, String> {
        Ok(Self {
            program: std::env::current_exe().map_err(|e| format!("current program: {e}"))?,
            prefix: vec![OsString::from("--master-child")],
        })
    }
}

/// How to run a soak.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// Simulated days.
    pub days: u32,
    /// The seed of the schedule and of every random draw.
    pub seed: u64,
    /// The faults switched on.
    pub faults: FaultSet,
    /// How often they fire.
    pub rates: Rates,
    /// Simulated seconds per real second.
    pub speed: u32,
    /// Simulated minutes between checks.
    pub step_minutes: u32,
    /// Simulated minutes a paid customer may stay cut, or an unpaid one supplied.
    pub deadline_minutes: u32,
    /// The master station's program.
    pub master: MasterCommand,
    /// Keep the database here (default: a scratch folder, removed at the end).
    pub keep: Option<PathBuf>,
    /// Print violations and a progress line per simulated day to standard error.
    pub print: bool,
    /// Also print every timed fault as it is injected.
    pub verbose: bool,
}

impl SoakOptions {
    /// Defaults: one day, seed 1, every fault, 2400× (a simulated day in 36 s), checks every
    /// 10 simulated minutes, a 4-hour deadline.
    pub fn new(master: MasterCommand) -> Self {
        Self {
            days: 1,
            seed: 1,
            faults: FaultSet::all(),
            rates: Rates::default(),
            speed: 2400,
            step_minutes: 10,
            deadline_minutes: 240,
            master,
            keep: None,
            print: true,
            verbose: false,
        }
    }
}

/// Payments the customers made.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PaymentCounts {
    /// Payments posted (first posts; retries and duplicates not counted).
    pub posted: u64,
    /// Answered applied.
    pub applied: u64,
    /// Answered refused (engine or validation), with a reason.
    pub refused: u64,
    /// Answered 503 or not at all at first, then retried with the same order number.
    pub retried: u64,
    /// Still without an answer at the end.
    pub unanswered: u64,
    /// The same order posted again on purpose (must answer `duplicate`).
    pub duplicates: u64,
}

/// What a soak did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Simulated days.
    pub days: u32,
    /// Clock speed.
    pub speed: u32,
    /// Simulated start and end.
    pub simulated: [String; 2],
    /// Real seconds.
    pub wall_seconds: f64,
    /// Steps (each followed by every check).
    pub steps: u64,
    /// Master station starts (the first, restarts after kills and full disks).
    pub master_starts: u64,
    /// Per-fault counts.
    pub faults: Vec<FaultRow>,
    /// Per-invariant checks and violations.
    pub invariants: Vec<InvariantRow>,
    /// Every distinct violation.
    pub violations: Vec<Violation>,
    /// The customers' payments.
    pub payments: PaymentCounts,
    /// Real microseconds the checks took per stored reading (all checks of the run divided
    /// by the readings stored).
    pub check_us_per_reading: f64,
    /// Database operations that failed while the disk was full (`db_errors` of the master).
    pub disk_full_db_errors: u64,
    /// Relay jobs a fitter carried out by hand and closed.
    pub jobs_done_by_hand: u64,
    /// The terminal's link: requests served, frames refused (parse, PW, Tp — stale, replayed,
    /// guard full), the most Tp windows open at once.
    pub terminal_requests: u64,
    /// See [`Report::terminal_requests`].
    pub terminal_rejected: u64,
    /// See [`Report::terminal_requests`].
    pub tp_windows_max: u64,
}

impl Report {
    /// Zero violations.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// The counts table.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "soak: seed {} · {} simulated days ({} → {}) at {}× · {:.1} s wall · {} steps · {} master starts",
            self.seed,
            self.days,
            self.simulated[0],
            self.simulated[1],
            self.speed,
            self.wall_seconds,
            self.steps,
            self.master_starts
        );
        let _ = writeln!(s, "{:<16} {:>9} {:>12}", "fault", "injected", "met command");
        for f in &self.faults {
            let _ = writeln!(
                s,
                "{:<16} {:>9} {:>12}",
                f.fault.name(),
                f.injected,
                f.met_command
            );
        }
        let _ = writeln!(
            s,
            "{:<22} {:>9} {:>11}",
            "invariant", "checks", "violations"
        );
        for i in &self.invariants {
            let _ = writeln!(
                s,
                "{:<22} {:>9} {:>11}",
                i.invariant, i.checks, i.violations
            );
        }
        let p = &self.payments;
        let _ = writeln!(
            s,
            "payments: {} posted, {} applied, {} refused with a reason, {} retried after no answer, {} unanswered, {} duplicates posted",
            p.posted, p.applied, p.refused, p.retried, p.unanswered, p.duplicates
        );
        let _ = writeln!(
            s,
            "{} database writes failed on the full disk; {} relay jobs done by hand; checks cost {:.1} µs per stored reading; {} violations",
            self.disk_full_db_errors,
            self.jobs_done_by_hand,
            self.check_us_per_reading,
            self.violations.len()
        );
        let _ = writeln!(
            s,
            "terminal: {} requests served, {} refused (PW / Tp / parse), at most {} Tp windows open",
            self.terminal_requests, self.terminal_rejected, self.tp_windows_max
        );
        for v in &self.violations {
            let _ = writeln!(s, "{v}");
        }
        s
    }
}

/// The master station child process.
#[derive(Debug)]
pub struct MasterProc {
    cmd: MasterCommand,
    db: PathBuf,
    log: PathBuf,
    listen: SocketAddr,
    http: SocketAddr,
    clock: SimClock,
    child: Option<Child>,
    /// The operator key of the running master (`--operator soak:admin` prints a new one at
    /// every start).
    key: String,
    max_pages: Option<u32>,
    starts: u64,
}

fn free_port() -> Result<SocketAddr, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    l.local_addr().map_err(|e| format!("bind: {e}"))
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl MasterProc {
    fn new(cmd: MasterCommand, dir: &Path, clock: SimClock) -> Result<Self, String> {
        Ok(Self {
            cmd,
            db: dir.join("master.db"),
            log: dir.join("master.log"),
            listen: free_port()?,
            http: free_port()?,
            clock,
            child: None,
            key: String::new(),
            max_pages: None,
            starts: 0,
        })
    }

    /// Starts the master (on the same database and ports) and waits for its API.
    async fn start(&mut self) -> Result<(), String> {
        for _ in 0..5 {
            let (now, epoch) = (self.clock.now(), wall_ms());
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log)
                .map_err(|e| format!("{}: {e}", self.log.display()))?;
            let mut c = Command::new(&self.cmd.program);
            c.args(&self.cmd.prefix)
                .arg("--db")
                .arg(&self.db)
                .args(["--listen", &self.listen.to_string()])
                .args(["--http", &self.http.to_string()])
                .args(["--speed", &self.clock.speed().to_string()])
                .args(["--start", &Civil::from_sim(now).to_string()])
                .args(["--start-epoch-ms", &epoch.to_string()])
                .args(["--response-timeout-ms", "300"])
                .args(["--operator", "soak:admin"])
                .env("RUST_LOG", "warn")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(log);
            if let Some(p) = self.max_pages {
                c.args(["--db-max-pages", &p.to_string()]);
            }
            let mut child = c
                .spawn()
                .map_err(|e| format!("{}: {e}", self.cmd.program.display()))?;
            let keys = child.stdout.take().map(key_reader);
            self.child = Some(child);
            self.starts += 1;
            self.key.clear();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if self.key.is_empty()
                    && let Some(Ok(k)) = keys.as_ref().map(std::sync::mpsc::Receiver::try_recv)
                {
                    self.key = k;
                }
                if let Some(ch) = self.child.as_mut()
                    && let Ok(Some(_)) = ch.try_wait()
                {
                    break; // exited (e.g. a port not free yet): start again
                }
                if !self.key.is_empty()
                    && self
                        .api("GET", "/api/stats", None)
                        .await
                        .is_ok_and(|(status, _)| status == 200)
                {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            self.kill();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!(
            "the master station did not come up (see {})",
            self.log.display()
        ))
    }

    /// SIGKILL, no goodbye.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// One call of the operator API.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        api_call(self.http, &self.key, method, path, body).await
    }

    /// A read-only connection to the database.
    fn db(&self) -> Result<Connection, String> {
        let c = Connection::open_with_flags(
            &self.db,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| format!("open {}: {e}", self.db.display()))?;
        let _ = c.busy_timeout(Duration::from_secs(2));
        Ok(c)
    }
}

/// Reads the master's standard output on a thread: sends the operator key it prints
/// (`operator soak (admin) key: amk_…`), then drains the rest.
fn key_reader(out: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if line.starts_with("operator soak")
                && let Some(key) = line.rsplit(' ').next()
            {
                let _ = tx.send(key.to_owned());
            }
        }
    });
    rx
}

/// One call of the operator API at `http` with the operator key `key`: the only place the
/// soak talks to it.
pub async fn api_call(
    http: SocketAddr,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    let call = http_json(http, key, method, path, body);
    match tokio::time::timeout(Duration::from_secs(5), call).await {
        Ok(r) => r,
        Err(_) => Err(format!("{method} {path}: no answer in 5 s")),
    }
}

/// Posts payment `p` (again) to the API at `http`: what the master answered.
async fn post_payment(http: SocketAddr, key: &str, p: &Posted) -> Answer {
    let body = json!({"customer": p.customer, "amount": p.amount_text,
                      "order_no": p.order_no, "channel": "soak"});
    match api_call(http, key, "POST", "/api/payments", Some(body)).await {
        Err(_) => Answer::Unknown,
        Ok((status, v)) => {
            let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
            let reason = field("reason").to_owned();
            match (status, field("status")) {
                (200, "applied") => Answer::Applied,
                (_, "duplicate") if field("outcome") == "applied" || status == 200 => {
                    Answer::Applied
                }
                (409 | 422, _) => Answer::Refused(reason),
                _ => Answer::Unknown,
            }
        }
    }
}

impl Drop for MasterProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A remote or local customer of the site, as the soak drives it.
#[derive(Debug, Clone)]
struct Customer {
    meter: SiteMeter,
    reconnect: Money,
    floor: Money,
    opening: Money,
    tariff: Arc<TariffSet>,
}

/// What the database holds that the checks need.
#[derive(Debug, Default)]
struct DbView {
    payments: HashMap<String, Vec<PaymentRow>>,
    entries: HashMap<String, Vec<MeterEntry>>,
    commands: Vec<CommandRow>,
    readings: u64,
}

fn read_db(c: &Connection) -> rusqlite::Result<DbView> {
    let mut v = DbView::default();
    let mut st = c.prepare(
        "SELECT p.order_no, c.name, p.amount, p.status, p.reason
         FROM payments p JOIN customers c ON c.id = p.customer_id",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            PaymentRow {
                customer: r.get(1)?,
                amount: Money::from_raw(r.get(2)?),
                status: r.get(3)?,
                reason: r.get(4)?,
            },
        ))
    })?;
    for row in rows {
        let (order, p) = row?;
        v.payments.entry(order).or_default().push(p);
    }
    let mut st = c.prepare(
        "SELECT m.address, r.at, r.energy, 0, 0 FROM readings r JOIN meters m ON m.id = r.meter_id
         UNION ALL
         SELECT m.address, x.at, x.billed, x.opening, 1 FROM meter_changes x
           JOIN meters m ON m.id = x.meter_id
         ORDER BY 2, 5",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    for row in rows {
        let (address, at, a, b, change) = row?;
        let e = if change == 1 {
            MeterEntry::Change {
                at,
                billed: a,
                opening: b,
            }
        } else {
            v.readings += 1;
            MeterEntry::Reading { at, wh: a }
        };
        v.entries.entry(address).or_default().push(e);
    }
    let mut st = c.prepare(
        "SELECT k.id, m.address, k.kind, k.status, k.created_at, k.updated_at
         FROM commands k JOIN meters m ON m.id = k.meter_id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(CommandRow {
            id: r.get(0)?,
            meter: r.get(1)?,
            kind: r.get(2)?,
            status: r.get(3)?,
            created_at: r.get(4)?,
            updated_at: r.get(5)?,
        })
    })?;
    for row in rows {
        v.commands.push(row?);
    }
    Ok(v)
}

/// Commands still live (not in a final state).
fn live_commands(cmds: &[CommandRow]) -> usize {
    const FINAL: [&str; 7] = [
        "acknowledged",
        "failed",
        "expired",
        "superseded",
        "cancelled",
        "overdue",
        "dropped",
    ];
    cmds.iter()
        .filter(|c| !FINAL.contains(&c.status.as_str()))
        .count()
}

/// The engine's view of the remote customers: name → (net, guarded).
async fn customers_api(master: &MasterProc) -> Option<HashMap<String, (Money, bool)>> {
    let (status, v) = master.api("GET", "/api/customers", None).await.ok()?;
    if status != 200 {
        return None;
    }
    // A plain array, or a page `{items, next}` (the five customers fit in one page).
    let list = v
        .as_array()
        .or_else(|| v.get("items").and_then(Value::as_array))?;
    let mut out = HashMap::new();
    for c in list {
        let (Some(name), Some(net)) = (c.get("name")?.as_str(), c.get("net")) else {
            continue;
        };
        let Some(net) = net.as_str().and_then(|n| Money::parse(n).ok()) else {
            continue;
        };
        let guarded = c.get("guarded").and_then(Value::as_bool).unwrap_or(false);
        out.insert(name.to_owned(), (net, guarded));
    }
    Some(out)
}

/// Charges of `intervals` re-priced with `tariff` from a fresh charging state.
fn reprice(
    tariff: &TariffSet,
    intervals: &[(SimSeconds, SimSeconds, amikit_tariff::Energy)],
) -> Money {
    let mut state = ChargeState::new();
    let mut total = Money::ZERO;
    for &(from, to, energy) in intervals {
        let (Some(f), Some(t)) = (
            amikit_tariff::DateTime::try_from(sim_ts(from)).ok(),
            amikit_tariff::DateTime::try_from(sim_ts(to)).ok(),
        ) else {
            continue;
        };
        if let Ok(c) = tariff.charge_apportioned(&mut state, f, t, energy) {
            total = total.checked_add(c.total).unwrap_or(total);
        }
    }
    total
}

/// The soak's running state.
struct Run {
    opts: SoakOptions,
    clock: SimClock,
    master: MasterProc,
    term: TerminalHandle,
    link: Arc<ChaosLink>,
    meters: Arc<ChaosMeters>,
    counts: Arc<FaultCounts>,
    customers: Vec<Customer>,
    chk: Checker,
    rng: ChaosRng,
    posted: Vec<Posted>,
    pay: PaymentCounts,
    order: u64,
    cut: Since,
    supplied: Since,
    relays_seen: HashMap<String, usize>,
    impostor: Option<(TerminalHandle, SimSeconds, u64, Arc<StrangerMeters>)>,
    impostors: u64,
    disk_full_until: Option<SimSeconds>,
    pending_replacements: Vec<(String, i64, i64)>,
    check_time: Duration,
    readings: u64,
    /// Each meter's baseline as the master was seeded: `(time, Wh)`.
    baselines: HashMap<String, (SimSeconds, i64)>,
    disk_errors: u64,
    /// Jobs a fitter has dealt with.
    jobs_done: u64,
}

/// Runs a soak to the end and reports.
pub async fn run(opts: SoakOptions) -> Result<Report, String> {
    let began = Instant::now();
    let site = Site::demo();
    let start = Civil::new(2026, 3, 2, 6, 0, 0);
    let clock = SimClock::new(start, opts.speed);
    let dir = match &opts.keep {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!(
            "amikit-soak-{}-{}-{}",
            std::process::id(),
            opts.seed,
            wall_ms()
        )),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut master = MasterProc::new(opts.master.clone(), &dir, clock.clone())?;
    master.start().await?;
    // The master bills a meter's first reading from the site's opening register, timed when
    // the database was created: read it before any terminal connects.
    let baselines = {
        let c = master.db()?;
        let mut st = c
            .prepare("SELECT address, last_read_at, last_energy FROM meters")
            .map_err(|e| format!("baselines: {e}"))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    (r.get::<_, i64>(1)?, r.get::<_, i64>(2)?),
                ))
            })
            .map_err(|e| format!("baselines: {e}"))?;
        rows.collect::<Result<HashMap<_, _>, _>>()
            .map_err(|e| format!("baselines: {e}"))?
    };

    let counts = Arc::new(FaultCounts::default());
    let meters = Arc::new(ChaosMeters::new(
        opts.seed,
        opts.faults.clone(),
        opts.rates,
        counts.clone(),
    ));
    let link = Arc::new(ChaosLink::new(
        opts.seed,
        opts.faults.clone(),
        opts.rates,
        counts.clone(),
    ));
    let (link_addr, link_task) = link
        .start(master.listen)
        .await
        .map_err(|e| format!("chaos link: {e}"))?;
    let mut topts = TerminalOptions::new(site.clone(), 1, link_addr, clock.clone())?;
    topts.hooks = Hooks::new(meters.clone());
    let term = terminal::start(topts).await?;

    let mut customers = Vec::new();
    for (_, m) in site.meters() {
        let path = site
            .tariff_path(&m.tariff, &workspace_root())
            .ok_or_else(|| format!("tariff {}", m.tariff))?;
        let tariff = Arc::new(terminal::meter::load_tariff(&path)?);
        let money = |s: &str| Money::parse(s).map_err(|e| format!("{s}: {e}"));
        let reconnect = match m.fee_control {
            FeeControl::Remote => {
                billing::engine_config(m)
                    .map_err(|e| e.to_string())?
                    .limits
                    .reconnect
            }
            FeeControl::Local => Money::ZERO,
        };
        customers.push(Customer {
            reconnect,
            floor: money(&m.trip_threshold)?.min(Money::ZERO),
            opening: money(&m.opening_balance)?,
            tariff,
            meter: m.clone(),
        });
    }
    let remote_pns: Vec<u16> = customers
        .iter()
        .filter(|c| c.meter.fee_control == FeeControl::Remote)
        .map(|c| c.meter.pn)
        .collect();
    let all_pns: Vec<u16> = customers.iter().map(|c| c.meter.pn).collect();
    let t0 = clock.now();
    let mut schedule = Schedule::draw(
        opts.seed,
        t0,
        opts.days,
        &opts.faults,
        &opts.rates,
        &all_pns,
    );
    // Replacements only on remote meters (their money is checked end to end).
    for (_, e) in &mut schedule.entries {
        if let Timed::Replace { pn, .. } = e
            && !remote_pns.contains(pn)
        {
            let i = usize::from(*pn) % remote_pns.len().max(1);
            *pn = remote_pns.get(i).copied().unwrap_or(*pn);
        }
    }
    let mut chk = Checker::new(opts.seed);
    chk.print = opts.print;
    let mut run = Run {
        rng: ChaosRng::new(opts.seed, 4),
        clock: clock.clone(),
        master,
        term,
        link,
        meters,
        counts,
        customers,
        chk,
        posted: Vec::new(),
        pay: PaymentCounts::default(),
        order: 0,
        cut: Since::default(),
        supplied: Since::default(),
        relays_seen: HashMap::new(),
        impostor: None,
        impostors: 0,
        disk_full_until: None,
        pending_replacements: Vec::new(),
        check_time: Duration::ZERO,
        readings: 0,
        baselines,
        disk_errors: 0,
        jobs_done: 0,
        opts,
    };
    let result = run.drive(t0, schedule).await;
    let end = run.clock.now();
    if let Some((imp, ..)) = run.impostor.take() {
        imp.shutdown().await;
    }
    let Run {
        opts,
        mut master,
        term,
        counts,
        chk,
        pay,
        check_time,
        readings,
        disk_errors,
        jobs_done,
        ..
    } = run;
    let link = term.link_stats();
    term.shutdown().await;
    link_task.abort();
    master.kill();
    let starts = master.starts;
    drop(master);
    if opts.keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let steps = result?;
    let per_reading = if readings == 0 {
        0.0
    } else {
        check_time.as_secs_f64() * 1e6 / readings as f64
    };
    Ok(Report {
        seed: opts.seed,
        days: opts.days,
        speed: opts.speed,
        simulated: [
            Civil::from_sim(t0).to_string(),
            Civil::from_sim(end).to_string(),
        ],
        wall_seconds: began.elapsed().as_secs_f64(),
        steps,
        master_starts: starts,
        faults: counts.rows(&opts.faults),
        invariants: chk.rows(),
        violations: chk.violations().to_vec(),
        payments: pay,
        check_us_per_reading: per_reading,
        disk_full_db_errors: disk_errors,
        jobs_done_by_hand: jobs_done,
        terminal_requests: link.requests,
        terminal_rejected: link.rejected,
        tp_windows_max: link.tp_windows_max,
    })
}

impl Run {
    fn address(&self, pn: u16) -> Option<String> {
        self.customers
            .iter()
            .find(|c| c.meter.pn == pn)
            .map(|c| c.meter.address.clone())
    }

    /// A remote customer, drawn.
    fn remote_customer(&mut self) -> Option<String> {
        let names: Vec<String> = self
            .customers
            .iter()
            .filter(|c| c.meter.fee_control == FeeControl::Remote)
            .map(|c| c.meter.customer.clone())
            .collect();
        self.rng.pick(&names).cloned()
    }

    fn live_command_now(&self) -> bool {
        self.master
            .db()
            .ok()
            .and_then(|c| read_db(&c).ok())
            .is_some_and(|v| live_commands(&v.commands) > 0)
    }

    async fn drive(&mut self, t0: SimSeconds, schedule: Schedule) -> Result<u64, String> {
        let step_s = i64::from(self.opts.step_minutes.max(1)) * 60;
        let end = t0 + i64::from(self.opts.days.max(1)) * 86_400;
        let mut next = schedule.entries.into_iter().peekable();
        let mut step = 0u64;
        let mut day = 0i64;
        loop {
            let target = t0 + (i64::try_from(step).unwrap_or(0) + 1) * step_s;
            let now = self.clock.now();
            if target > now {
                let wait = u64::try_from(target - now).unwrap_or(0);
                tokio::time::sleep(self.clock.real(wait)).await;
            }
            step += 1;
            let now = self.clock.now();
            self.chk.begin(step, now);
            while let Some((_, fault)) = next.next_if(|(at, _)| *at <= now) {
                if self.opts.verbose {
                    eprintln!("soak: step {step} ({}): {fault:?}", Civil::from_sim(now));
                }
                self.inject(fault).await?;
            }
            self.episodes(now).await?;
            self.fitter(now).await;
            self.customers_act().await;
            let t = Instant::now();
            self.check(now, false).await;
            self.check_time += t.elapsed();
            if self.opts.print && (now - t0) / 86_400 > day {
                day = (now - t0) / 86_400;
                let violations = self.chk.violations().len();
                eprintln!(
                    "soak seed {}: day {day} done ({}), {violations} violations so far",
                    self.opts.seed,
                    Civil::from_sim(now)
                );
            }
            if now >= end {
                break;
            }
        }
        // The end of the run: every answer settled, then one last full check.
        if self.disk_full_until.take().is_some() {
            self.count_disk_errors().await;
            self.master.kill();
            self.master.max_pages = None;
            self.master.start().await?;
        }
        for _ in 0..10 {
            self.retry_payments().await;
            if self.posted.iter().all(|p| p.answer != Answer::Unknown) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.pay.unanswered = self
            .posted
            .iter()
            .filter(|p| p.answer == Answer::Unknown)
            .count() as u64;
        let now = self.clock.now();
        self.chk.begin(step + 1, now);
        self.check(now, true).await;
        Ok(step)
    }

    async fn inject(&mut self, fault: Timed) -> Result<(), String> {
        match fault {
            Timed::BadReads { pn, kind, reads } => {
                if let Some(a) = self.address(pn) {
                    self.meters.arm_bad_reads(&a, kind, reads);
                }
            }
            Timed::Replace { pn, answer_lost } => {
                let Some(a) = self.address(pn) else {
                    return Ok(());
                };
                let initial = self.rng.between(1_000, 100_000);
                if let Some((fin, init)) = self.meters.replace(&a, initial) {
                    let met = self.live_command_now();
                    self.counts.inject(FaultKind::MeterReplaced, met);
                    if answer_lost {
                        // The fitter's client gives up before the answer (stored or not),
                        // the master is killed; the replacement is sent again once it is
                        // back (`episodes`).
                        let kwh = |wh: i64| amikit_tariff::Energy::from_wh(wh).to_string();
                        let body = json!({"final_kwh": kwh(fin), "initial_kwh": kwh(init)});
                        let path = format!("/api/meters/{a}/replace");
                        let _ = self.master.api("POST", &path, Some(body)).await;
                        self.pending_replacements.push((a, fin, init));
                        self.master.kill();
                        self.counts.inject(FaultKind::MasterKilled, met);
                        self.master.start().await?;
                    } else {
                        self.pending_replacements.push((a, fin, init));
                    }
                    self.replace_pending().await;
                }
            }
            Timed::LinkDown { minutes } => {
                let met = self.live_command_now();
                self.link.down_for(self.clock.real(u64::from(minutes) * 60));
                self.counts.inject(FaultKind::LinkDown, met);
            }
            Timed::Impostor { minutes } => {
                if self.impostor.is_none() {
                    // The real terminal's A1/A2, a key of its own (it knows the address, not
                    // the secret).
                    let mut site = Site::demo();
                    let key: String = (0..32)
                        .map(|_| {
                            char::from_digit(u32::try_from(self.rng.below(16)).unwrap_or(0), 16)
                                .unwrap_or('0')
                        })
                        .collect();
                    for t in &mut site.terminals {
                        t.key = Some(crate::site::KeyText(key.clone()));
                    }
                    let mut opts =
                        TerminalOptions::new(site, 1, self.master.listen, self.clock.clone())?;
                    let meters = Arc::new(StrangerMeters::default());
                    opts.hooks = Hooks::new(meters.clone());
                    let imp = terminal::start(opts).await?;
                    self.impostors += 1;
                    let until = self.clock.now() + i64::from(minutes) * 60;
                    self.impostor = Some((imp, until, self.impostors, meters));
                    self.counts
                        .inject(FaultKind::Impostor, self.live_command_now());
                }
            }
            Timed::Kill { pause_ms } => {
                let met = self.live_command_now();
                // Half the kills land while a payment is in flight.
                let in_flight = if self.rng.chance(500) {
                    self.remote_customer()
                        .and_then(|c| self.new_payment(&c, "12.34", true))
                        .map(|p| {
                            let (http, key) = (self.master.http, self.master.key.clone());
                            let q = p.clone();
                            (
                                p,
                                tokio::spawn(async move { post_payment(http, &key, &q).await }),
                            )
                        })
                } else {
                    None
                };
                if in_flight.is_some() {
                    let ms = u64::try_from(self.rng.between(0, 30)).unwrap_or(0);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                self.master.kill();
                if let Some((p, task)) = in_flight {
                    let answer = task.await.unwrap_or(Answer::Unknown);
                    self.record_payment(p, answer);
                }
                self.counts.inject(FaultKind::MasterKilled, met);
                tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                self.master.start().await?;
            }
            Timed::DiskFull { minutes } => {
                if self.disk_full_until.is_none() {
                    let pages = self
                        .master
                        .db()?
                        .query_row("PRAGMA page_count", [], |r| r.get::<_, u32>(0))
                        .map_err(|e| format!("page_count: {e}"))?;
                    let met = self.live_command_now();
                    self.master.kill();
                    self.master.max_pages = Some(pages);
                    self.master.start().await?;
                    self.disk_full_until = Some(self.clock.now() + i64::from(minutes) * 60);
                    self.counts.inject(FaultKind::DiskFull, met);
                    // A busy counter while the disk is full: small payments until one is
                    // not recorded (a table needs a new page); they are retried later.
                    for _ in 0..60 {
                        let Some(c) = self.remote_customer() else {
                            break;
                        };
                        self.pay(&c, "0.50", true).await;
                        if self
                            .posted
                            .last()
                            .is_some_and(|p| p.answer == Answer::Unknown)
                        {
                            break;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends episodes whose time is up; retries replacements the master did not take yet.
    async fn episodes(&mut self, now: SimSeconds) -> Result<(), String> {
        if let Some((_, until, ..)) = &self.impostor
            && *until <= now
            && let Some((imp, ..)) = self.impostor.take()
        {
            imp.shutdown().await;
        }
        if self.disk_full_until.is_some_and(|t| t <= now) {
            self.disk_full_until = None;
            self.count_disk_errors().await;
            self.master.kill();
            self.master.max_pages = None;
            self.master.start().await?;
        }
        self.replace_pending().await;
        Ok(())
    }

    /// A fitter visits meters with an open relay job an hour after it was raised, carries
    /// out its command by hand and closes the job through the API.
    async fn fitter(&mut self, now: SimSeconds) {
        let Ok(conn) = self.master.db() else { return };
        let jobs: Vec<(i64, String, String)> = conn
            .prepare(
                "SELECT j.id, k.kind, m.address FROM jobs j
                 JOIN commands k ON k.id = j.command_id JOIN meters m ON m.id = k.meter_id
                 WHERE j.status = 'open' AND j.at + 3600 <= ?1",
            )
            .and_then(|mut st| {
                st.query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .unwrap_or_default();
        for (id, kind, address) in jobs {
            let kind = match kind.as_str() {
                "trip" => amikit_prepay::CommandKind::Trip,
                "allow_close" => amikit_prepay::CommandKind::AllowClose,
                "direct_close" => amikit_prepay::CommandKind::DirectClose,
                _ => continue,
            };
            let Some(pn) = self
                .customers
                .iter()
                .find(|c| c.meter.address == address)
                .map(|c| c.meter.pn)
            else {
                continue;
            };
            let body =
                json!({"status": "done", "note": format!("soak fitter: {} by hand", kind.name())});
            let path = format!("/api/jobs/{id}/close");
            if let Ok((200, _)) = self.master.api("POST", &path, Some(body)).await {
                let _ = self.term.by_hand(pn, kind);
                self.jobs_done += 1;
            }
        }
    }

    /// Adds the database errors of the master's current life (a full disk) to the report.
    async fn count_disk_errors(&mut self) {
        if let Ok((200, v)) = self.master.api("GET", "/api/stats", None).await {
            self.disk_errors += v.get("db_errors").and_then(Value::as_u64).unwrap_or(0);
        }
    }

    async fn replace_pending(&mut self) {
        let mut left = Vec::new();
        for (a, fin, init) in std::mem::take(&mut self.pending_replacements) {
            let kwh = |wh: i64| amikit_tariff::Energy::from_wh(wh).to_string();
            let body = json!({"final_kwh": kwh(fin), "initial_kwh": kwh(init)});
            let path = format!("/api/meters/{a}/replace");
            match self.master.api("POST", &path, Some(body)).await {
                Ok((200, _)) => {}
                Ok((status, v)) if (400..500).contains(&status) => {
                    // Refused: the fitter's readings stand; say so (not an invariant).
                    if self.opts.print {
                        eprintln!("soak: replacement of {a} refused: {status} {v}");
                    }
                }
                _ => left.push((a, fin, init)),
            }
        }
        self.pending_replacements = left;
    }

    /// Customers pay when low, sometimes for no reason, sometimes wrongly; press the button
    /// when supply is allowed back.
    async fn customers_act(&mut self) {
        self.retry_payments().await;
        for pn in self
            .customers
            .iter()
            .filter(|c| c.meter.fee_control == FeeControl::Remote)
            .map(|c| c.meter.pn)
            .collect::<Vec<_>>()
        {
            if self
                .term
                .meter(pn)
                .is_some_and(|m| m.relay == RelayState::Armed)
            {
                let _ = self.term.press_button(pn);
            }
        }
        let Some(view) = customers_api(&self.master).await else {
            return;
        };
        let remote: Vec<(String, Money)> = self
            .customers
            .iter()
            .filter(|c| c.meter.fee_control == FeeControl::Remote)
            .filter_map(|c| {
                view.get(&c.meter.customer)
                    .map(|(net, _)| (c.meter.customer.clone(), *net))
            })
            .collect();
        for (name, net) in &remote {
            // Customers let their credit run out (so that trips and restores happen), pay
            // within an hour or two of being cut, and now and then pay for no reason.
            let out = !net.is_positive();
            if (out && self.rng.chance(150)) || (!out && self.rng.chance(2)) {
                let yuan = self.rng.between(5, 40);
                let cents = self.rng.between(0, 99);
                self.pay(name, &format!("{yuan}.{cents:02}"), true).await;
            }
        }
        if self.rng.chance(30)
            && let Some((name, _)) = self.rng.pick(&remote).cloned()
        {
            let bad = ["0.00", "9999.00", "1.234", "-5.00"];
            let amount = self.rng.pick(&bad).copied().unwrap_or("0.00");
            self.pay(&name, amount, false).await;
        }
        if self.rng.chance(30) {
            let applied: Vec<usize> = (0..self.posted.len())
                .filter(|&i| {
                    self.posted
                        .get(i)
                        .is_some_and(|p| p.answer == Answer::Applied)
                })
                .collect();
            if let Some(&i) = self.rng.pick(&applied)
                && let Some(p) = self.posted.get(i).cloned()
            {
                self.pay.duplicates += 1;
                let answer = self.post_payment(&p).await;
                // A duplicate changes nothing; its answer must carry the first outcome.
                let failed = match answer {
                    Answer::Applied | Answer::Unknown => None,
                    Answer::Refused(r) => Some(format!("applied, posted again: refused ({r})")),
                };
                self.chk.check("payment_answered", &p.order_no, failed);
            }
        }
    }

    fn new_payment(&mut self, customer: &str, amount: &str, valid: bool) -> Option<Posted> {
        self.order += 1;
        let money = Money::parse(amount).ok()?;
        Some(Posted {
            order_no: format!("SOAK-{}-{}", self.opts.seed, self.order),
            customer: customer.to_owned(),
            amount: money,
            amount_text: amount.to_owned(),
            answer: Answer::Unknown,
            recordable: valid,
        })
    }

    async fn pay(&mut self, customer: &str, amount: &str, valid: bool) {
        let Some(p) = self.new_payment(customer, amount, valid) else {
            return;
        };
        let answer = self.post_payment(&p).await;
        self.record_payment(p, answer);
    }

    fn record_payment(&mut self, mut p: Posted, answer: Answer) {
        self.pay.posted += 1;
        match &answer {
            Answer::Applied => self.pay.applied += 1,
            Answer::Refused(_) => self.pay.refused += 1,
            Answer::Unknown => self.pay.retried += 1,
        }
        p.answer = answer;
        self.posted.push(p);
    }

    /// Posts `p` (again): what the master answered.
    async fn post_payment(&self, p: &Posted) -> Answer {
        post_payment(self.master.http, &self.master.key, p).await
    }

    async fn retry_payments(&mut self) {
        for i in 0..self.posted.len() {
            let Some(p) = self.posted.get(i).cloned() else {
                continue;
            };
            if p.answer != Answer::Unknown {
                continue;
            }
            let answer = self.post_payment(&p).await;
            if let Some(slot) = self.posted.get_mut(i) {
                match &answer {
                    Answer::Applied => self.pay.applied += 1,
                    Answer::Refused(_) => self.pay.refused += 1,
                    Answer::Unknown => {}
                }
                slot.answer = answer;
            }
        }
    }

    /// A view of the engines and of the database taken while neither moved (two equal API
    /// views around the database read); the engines' view is empty while the API is down.
    async fn snapshot(
        &self,
        conn: &Connection,
    ) -> Option<(HashMap<String, (Money, bool)>, DbView)> {
        for _ in 0..5 {
            let a = customers_api(&self.master).await;
            let d = read_db(conn).ok();
            let b = customers_api(&self.master).await;
            match (a, d, b) {
                (Some(a), Some(d), Some(b)) if a == b => return Some((a, d)),
                (None, Some(d), _) | (_, Some(d), None) => return Some((HashMap::new(), d)),
                _ => tokio::time::sleep(Duration::from_millis(30)).await,
            }
        }
        None
    }

    /// Customers whose engine's net differs from opening + payments − re-priced charges.
    fn money_mismatches(&self, view: &HashMap<String, (Money, bool)>, db: &DbView) -> usize {
        self.customers
            .iter()
            .filter(|c| c.meter.fee_control == FeeControl::Remote)
            .filter(|c| {
                let Some(&(net, _)) = view.get(&c.meter.customer) else {
                    return false;
                };
                let v = self.money_view(c, net, db);
                v.opening
                    .checked_add(v.payments)
                    .and_then(|m| m.checked_sub(v.charges))
                    != Ok(net)
            })
            .count()
    }

    fn money_view(&self, c: &Customer, net: Money, db: &DbView) -> MoneyView {
        let address = &c.meter.address;
        let entries = db.entries.get(address).map_or(&[][..], Vec::as_slice);
        let baseline = self.baselines.get(address).copied();
        let payments = db
            .payments
            .values()
            .flatten()
            .filter(|p| p.customer == c.meter.customer && p.status == "applied")
            .fold(Money::ZERO, |s, p| s.checked_add(p.amount).unwrap_or(s));
        MoneyView {
            customer: c.meter.customer.clone(),
            opening: c.opening,
            payments,
            charges: reprice(&c.tariff, &invariants::billed_intervals(baseline, entries)),
            net,
        }
    }

    /// Every invariant, once.
    async fn check(&mut self, now: SimSeconds, last: bool) {
        let Ok(conn) = self.master.db() else {
            return;
        };
        let Some(mut settled) = self.snapshot(&conn).await else {
            return;
        };
        // The API may show an engine a moment before its batch commits: a mismatch counts
        // only when it outlasts a few fresh views.
        for _ in 0..4 {
            if self.money_mismatches(&settled.0, &settled.1) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            match self.snapshot(&conn).await {
                Some(s) => settled = s,
                None => break,
            }
        }
        let (view, db) = settled;
        self.readings = db.readings;
        invariants::payments(&mut self.chk, &self.posted, &db.payments);
        let deadline = i64::from(self.opts.deadline_minutes) * 60;
        let tolerance = (i64::from(self.opts.speed) / 10).max(60);
        let step_s = i64::from(self.opts.step_minutes.max(1)) * 60;
        for c in &self.customers {
            let address = &c.meter.address;
            let entries = db.entries.get(address).map_or(&[][..], Vec::as_slice);
            let baseline = self.baselines.get(address).copied();
            invariants::energy(
                &mut self.chk,
                address,
                baseline,
                entries,
                &self.meters.reads(address),
                &self.meters.replacements(address),
            );
            // Relay commands that reached the meter, once the database has caught up.
            let relays = self.meters.relays(address);
            let seen = self.relays_seen.entry(address.clone()).or_insert(0);
            for rec in relays.iter().skip(*seen) {
                if !last && rec.at + step_s > now {
                    break;
                }
                invariants::command_live(&mut self.chk, address, rec, &db.commands, tolerance);
                *seen += 1;
            }
            if c.meter.fee_control != FeeControl::Remote {
                continue;
            }
            let Some(&(net, guarded)) = view.get(&c.meter.customer) else {
                continue;
            };
            let money = self.money_view(c, net, &db);
            invariants::money(&mut self.chk, &money);
            let relay_open = self
                .term
                .meter(c.meter.pn)
                .is_some_and(|m| m.relay != RelayState::Closed);
            invariants::supply(
                &mut self.chk,
                &mut self.cut,
                &mut self.supplied,
                &c.meter.customer,
                net,
                guarded,
                relay_open,
                c.reconnect,
                c.floor,
                deadline,
            );
        }
        if let Some((imp, _, episode, meters)) = &self.impostor {
            let logins = imp.link_stats().logins;
            invariants::stranger(&mut self.chk, *episode, meters.reached(), logins);
        }
    }
}

/// The `soak` example's command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "soak",
    about = "A master station and a terminal in a field that fights back: faults from a seed, invariants after every step"
)]
pub struct Args {
    /// Simulated days.
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    /// Seed of the fault schedule and of every random draw.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Faults: `all`, `none`, or names separated by commas, `-name` to leave one out
    /// (reorder, duplicate, drop, lost_ack, read_backwards, read_jump, read_zero,
    /// meter_replaced, relay_refuses, relay_late, link_down, impostor, master_killed,
    /// disk_full).
    #[arg(long, default_value = "all")]
    pub faults: FaultSet,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 2400)]
    pub speed: u32,
    /// Simulated minutes between checks.
    #[arg(long, default_value_t = 10)]
    pub step_minutes: u32,
    /// Simulated minutes a paid customer may stay cut (or an unpaid one supplied).
    #[arg(long, default_value_t = 240)]
    pub deadline_minutes: u32,
    /// Keep the master's database and log in this folder.
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print every timed fault as it is injected.
    #[arg(long)]
    pub verbose: bool,
    /// Full-disk episodes, per mille, that also see a meter replaced whose answer is lost,
    /// followed by a master kill (the replacement is sent again after the restart).
    #[arg(long, default_value_t = Rates::default().replace_in_disk_full)]
    pub replace_in_disk_full: u32,
}

/// The `soak` example: `--master-child …` runs the master station (the soak's child process);
/// otherwise runs a soak, prints the counts table (or `--json`) and exits non-zero on any
/// violation.
pub fn main() -> ExitCode {
    use clap::Parser;
    let mut argv: Vec<OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "--master-child") {
        argv.remove(1);
        return master_child(argv);
    }
    let args = match Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let master = match MasterCommand::this_program() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut opts = SoakOptions::new(master);
    opts.days = args.days;
    opts.seed = args.seed;
    opts.faults = args.faults;
    opts.speed = args.speed;
    opts.step_minutes = args.step_minutes;
    opts.deadline_minutes = args.deadline_minutes;
    opts.keep = args.keep;
    opts.verbose = args.verbose;
    opts.rates.replace_in_disk_full = args.replace_in_disk_full.min(1000);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(opts)) {
        Ok(report) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                print!("{}", report.table());
            }
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the master station as a child of the soak: the `master_station` command line
/// (`argv`, program name first); the process exits when its standard input closes, so that a
/// master never outlives the soak that started it.
pub fn master_child<I, T>(argv: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        std::process::exit(0);
    });
    crate::master::cli::main_with(argv)
}
