//! The demo that the README runs first: a master station and a terminal with five simulated
//! meters in one process, on loopback, with a simulated clock running 1200× (twenty simulated
//! minutes per real second), through a scripted day in the life of the demo site
//! (`examples/station/sites/demo.toml`):
//!
//! 1. Zhang Min (local fee control, STS keypad) buys a token through the operator API; it is
//!    typed into the meter and accepted, and typing it again is rejected.
//! 2. A burst of line noise hits the RS-485 bus; readings go on through retries.
//! 3. The TCP link drops while a payment for Wang Fang is recorded; the terminal reconnects.
//! 4. Li Wei (remote fee control) consumes through the reminder threshold (an SMS in the outbox)
//!    to the trip threshold (a trip command, the relay opens); pays through the API (the same
//!    payment posted twice is applied once); supply is allowed back, he presses the meter's
//!    button and the relay closes.
//! 5. The community clinic is under guard (保电): it runs into debt and is never cut.
//!
//! Every step waits for its outcome with a deadline and the run ends with checks of every
//! outcome; [`run`] returns a [`Summary`] (what `--json` prints) and the end-to-end tests in
//! `examples/station/tests/demo.rs` assert it. A failed check makes the demo exit with status 1.

// `value["key"]` on a `serde_json::Value` answers `Null` for a missing key: it cannot panic.
#![allow(clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use amikit_prepay::RelayState;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::clock::{Civil, SimClock};
use crate::master::{self, ControlVia, MasterHandle, MasterOptions, http_json, http_list};
use crate::site::Site;
use crate::terminal::bus::BusStats;
use crate::terminal::erc::TokenRejection;
use crate::terminal::{self, LinkStats, TerminalError, TerminalHandle, TerminalOptions};

/// How to run the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Simulated seconds per real second.
    pub speed: u32,
    /// Simulated start (a Monday morning by default).
    pub start: Civil,
    /// The database file; `None`: a fresh file in a temporary folder, removed at the end.
    pub db: Option<PathBuf>,
    /// How the master sends control commands.
    pub control_via: ControlVia,
    /// Print the timeline as it happens.
    pub timeline: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            speed: 1200,
            start: Civil::new(2026, 3, 2, 6, 0, 0),
            db: None,
            control_via: ControlVia::Afn05,
            timeline: true,
        }
    }
}

/// One customer at the end of the demo, as the master station and the meter see it.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerSummary {
    /// Customer name.
    pub name: String,
    /// `remote` or `local` fee control.
    pub fee_control: String,
    /// Final balance, currency units (the master's account for remote customers, the meter's
    /// wallet for local ones).
    pub balance: String,
    /// The meter's relay: `closed`, `open` or `armed`.
    pub relay: String,
    /// Guarded (保电).
    pub guarded: bool,
    /// Alarm indications switched on at the meter.
    pub alarms: u32,
    /// Relay openings.
    pub trips: u32,
    /// Relay closings after an opening.
    pub restores: u32,
    /// Tokens accepted / rejected on the meter's keypad.
    pub tokens_accepted: u32,
    /// Tokens rejected on the meter's keypad.
    pub tokens_rejected: u32,
    /// Reminder notifications (SMS outbox).
    pub reminders: usize,
    /// Register readings stored by the master.
    pub readings: usize,
    /// Forward active energy register at the end, kWh.
    pub energy_kwh: String,
}

/// One checked outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was expected.
    pub name: String,
    /// Whether it held.
    pub ok: bool,
    /// What was seen.
    pub detail: String,
}

/// What the demo did and whether every outcome held.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Every check held.
    pub ok: bool,
    /// Simulated start and end.
    pub simulated: [String; 2],
    /// Real seconds the run took.
    pub real_seconds: f64,
    /// Per customer.
    pub customers: Vec<CustomerSummary>,
    /// The checks, in order.
    pub checks: Vec<Check>,
    /// The terminal's link: connections, logins, heartbeats, requests, bytes.
    pub link: LinkStats,
    /// The RS-485 bus: exchanges, retries, noise.
    pub bus: BusStats,
}

impl Summary {
    /// A customer by name.
    pub fn customer(&self, name: &str) -> Option<&CustomerSummary> {
        self.customers.iter().find(|c| c.name == name)
    }

    /// A check by name.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// Where timeline lines go.
#[derive(Clone)]
struct Timeline {
    clock: SimClock,
    tx: mpsc::UnboundedSender<String>,
}

impl Timeline {
    fn say(&self, who: &str, what: impl std::fmt::Display) {
        let _ = self
            .tx
            .send(format!("{}  {who:<9} {what}", self.clock.civil()));
    }
}

const LI_WEI: &str = "Li Wei";
const ZHANG_MIN: &str = "Zhang Min";
const CLINIC: &str = "Community clinic";
const WANG_FANG: &str = "Wang Fang";

/// Runs the demo; timeline lines go to `print` as they happen (when `opts.timeline`).
pub async fn run(
    opts: DemoOptions,
    print: impl Fn(&str) + Send + 'static,
) -> Result<Summary, String> {
    let began = Instant::now();
    let site = Site::demo();
    let clock = SimClock::new(opts.start, opts.speed);
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let show = opts.timeline;
    let printer = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            if show {
                print(&line);
            }
        }
    });
    let tl = Timeline {
        clock: clock.clone(),
        tx,
    };

    let (db, scratch) = match &opts.db {
        Some(p) => (p.clone(), None),
        None => {
            let dir = std::env::temp_dir().join(format!(
                "amikit-demo-{}-{}",
                std::process::id(),
                began.elapsed().as_nanos()
            ));
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            (dir.join("master.db"), Some(dir))
        }
    };

    let mut mopts = MasterOptions::new(site.clone(), db, clock.clone());
    mopts.control_via = opts.control_via;
    let master = master::start(mopts).await.map_err(|e| e.to_string())?;
    tl.say(
        "master",
        format_args!(
            "station up: terminals on {}, operator API on http://{}/api",
            master.terminal_addr(),
            master.http_addr()
        ),
    );
    let term = terminal::start(TerminalOptions::new(
        site.clone(),
        1,
        master.terminal_addr(),
        clock.clone(),
    )?)
    .await?;

    // The terminal's own log and the master's SMS outbox, as they happen.
    let stop = Arc::new(AtomicBool::new(false));
    let mut notes = term.subscribe();
    let notes_tl = tl.clone();
    let notes_task = tokio::spawn(async move {
        while let Some(n) = notes.recv().await {
            let _ = notes_tl
                .tx
                .send(format!("{}  {:<9} {}", n.at, "terminal", n.text));
        }
    });
    let outbox_task = tokio::spawn(watch_outbox(Api::of(&master)?, tl.clone(), stop.clone()));

    let result = script(&master, &term, &tl, &clock).await;

    stop.store(true, Ordering::SeqCst);
    let _ = outbox_task.await;
    let summary = match result {
        Ok(checks) => summarise(&master, &term, checks, &clock, opts.start, began).await,
        Err(e) => Err(e),
    };
    term.shutdown().await;
    master.shutdown().await;
    notes_task.abort();
    drop(tl);
    let _ = printer.await;
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    summary
}

/// The scripted day. Returns the checks made along the way.
async fn script(
    master: &MasterHandle,
    term: &TerminalHandle,
    tl: &Timeline,
    clock: &SimClock,
) -> Result<Vec<Check>, String> {
    let api = Api::of(master)?;
    let mut checks = Vec::new();
    wait_until("the terminal logs in", Duration::from_secs(10), || async {
        term.is_logged_in()
    })
    .await?;

    // 0. The admin (the master's bootstrap key) makes a cashier; the cashier's key is shown
    //    once and stored only as a salted hash. Payments and tokens go through the cashier.
    let (_, made) = post(
        &api,
        "/api/operators",
        json!({"name": "counter-1", "role": "cashier"}),
    )
    .await?;
    let cashier = Api {
        addr: api.addr,
        key: Arc::from(
            made["key"]
                .as_str()
                .ok_or_else(|| format!("operator answered {made}"))?,
        ),
    };
    tl.say(
        "operator",
        "the admin makes cashier counter-1 (its key is shown once, stored hashed)",
    );

    // 1. An STS token for Zhang Min, typed on her meter's keypad, then typed again.
    let (_, vend) = post(
        &cashier,
        "/api/tokens",
        json!({"customer": ZHANG_MIN, "amount": "20.00", "order_no": "DEMO-TOKEN-1"}),
    )
    .await?;
    let token = vend["token"]
        .as_str()
        .ok_or_else(|| format!("vending answered {vend}"))?
        .to_owned();
    tl.say(
        "vending",
        format_args!(
            "{ZHANG_MIN} buys 20.00 of electricity: token {} (credit {})",
            vend["token_grouped"].as_str().unwrap_or(&token),
            vend["credit"].as_str().unwrap_or("?")
        ),
    );
    // The timeline shows what the meter says (its message, not the error's structure).
    let said = |r: &Result<String, TerminalError>| r.as_ref().map_err(ToString::to_string).cloned();
    let first = term.keypad(2, &token);
    let first_said = said(&first);
    tl.say(
        "customer",
        format_args!("{ZHANG_MIN} types the token: {first_said:?}"),
    );
    let again = term.keypad(2, &token);
    let again_said = said(&again);
    tl.say(
        "customer",
        format_args!("{ZHANG_MIN} types it again: {again_said:?}"),
    );
    checks.push(check(
        "token accepted",
        first.is_ok(),
        format!("{first_said:?}"),
    ));
    let (_, seen) = get(&api, "/api/tokens").await?;
    let hidden = !seen.to_string().contains(&token);
    checks.push(check(
        "token digits only for the cashier who sold it",
        hidden,
        format!("the admin's list shows digits: {}", !hidden),
    ));
    checks.push(check(
        "token replay rejected",
        matches!(
            again,
            Err(TerminalError::TokenRefused {
                reason: TokenRejection::Used,
                ..
            })
        ),
        format!("{again_said:?}"),
    ));

    // 2. Line noise on the RS-485 bus for a while; reads go on through retries.
    tl.say(
        "demo",
        "a burst of line noise hits the RS-485 bus for 2 s (40 simulated minutes)",
    );
    let bus_before = term.bus_stats();
    term.noise_burst(Duration::from_secs(2));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let bus_after = term.bus_stats();
    tl.say(
        "demo",
        format_args!(
            "noise over: {} exchanges took {} attempts, {} failed after every retry",
            bus_after.exchanges.saturating_sub(bus_before.exchanges),
            bus_after.attempts.saturating_sub(bus_before.attempts),
            bus_after.failures.saturating_sub(bus_before.failures)
        ),
    );

    // 3. The TCP link drops; a payment is recorded meanwhile; the terminal comes back.
    let logins = term.link_stats().logins;
    term.drop_link();
    tl.say(
        "demo",
        "the TCP link between terminal and master station drops",
    );
    let (_, paid) = post(
        &cashier,
        "/api/payments",
        json!({"customer": WANG_FANG, "amount": "30.00", "order_no": "DEMO-PAY-1", "channel": "bank"}),
    )
    .await?;
    tl.say(
        "payment",
        format_args!(
            "{WANG_FANG} pays 30.00 at the bank while the link is down: {}",
            paid["status"]
        ),
    );
    wait_until(
        "the terminal logs in again",
        Duration::from_secs(10),
        || async { term.link_stats().logins > logins && term.is_logged_in() },
    )
    .await?;
    tl.say("demo", "the terminal is back online");

    // 4. Li Wei runs down through the reminder to the trip.
    wait_until("Li Wei's meter trips", Duration::from_secs(40), || async {
        term.meter(1).is_some_and(|m| m.relay != RelayState::Closed)
    })
    .await?;
    tl.say(
        "demo",
        format_args!("{LI_WEI}'s supply is cut; he pays 100.00 at a counter"),
    );
    let paid_at = clock.now();
    let pay = json!({"customer": LI_WEI, "amount": "100.00", "order_no": "DEMO-PAY-2", "channel": "counter"});
    let (_, p1) = post(&cashier, "/api/payments", pay.clone()).await?;
    let (_, p2) = post(&cashier, "/api/payments", pay).await?;
    tl.say(
        "payment",
        format_args!(
            "{LI_WEI}: first post {}, the same order posted again {} (balance {})",
            p1["status"], p2["status"], p2["balance"]
        ),
    );
    checks.push(check(
        "duplicate payment applied once",
        p1["status"] == "applied" && p2["status"] == "duplicate",
        format!("first {}, second {}", p1["status"], p2["status"]),
    ));
    wait_until(
        "Li Wei's supply is allowed back",
        Duration::from_secs(15),
        || async { term.meter(1).is_some_and(|m| m.relay == RelayState::Armed) },
    )
    .await?;
    let allowed_after = clock.now() - paid_at;
    let pressed = term.press_button(1);
    tl.say(
        "customer",
        format_args!("{LI_WEI} presses the meter's button: {pressed:?}"),
    );
    wait_until("Li Wei's relay closes", Duration::from_secs(5), || async {
        term.meter(1).is_some_and(|m| m.relay == RelayState::Closed)
    })
    .await?;
    checks.push(check(
        "supply allowed back within 15 simulated minutes of the payment",
        allowed_after <= 900,
        format!("{allowed_after} simulated seconds"),
    ));

    // 5. Let the clinic run into debt (it is guarded: never cut).
    wait_until("the clinic is in debt", Duration::from_secs(20), || async {
        customer(&api, CLINIC)
            .await
            .is_some_and(|c| money(&c["net"]).is_some_and(|n| n < 0))
    })
    .await?;
    // One more read round so that the master has seen every meter's final state.
    tokio::time::sleep(clock.real(1800)).await;
    Ok(checks)
}

/// Gathers the final state and checks every outcome.
async fn summarise(
    master: &MasterHandle,
    term: &TerminalHandle,
    mut checks: Vec<Check>,
    clock: &SimClock,
    start: Civil,
    began: Instant,
) -> Result<Summary, String> {
    let api = Api::of(master)?;
    let (_, customers) = get(&api, "/api/customers").await?;
    let customers = customers.as_array().cloned().unwrap_or_default();
    let (_, outbox) = get(&api, "/api/outbox?limit=500").await?;
    let outbox = outbox.as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for c in &customers {
        let name = c["name"].as_str().unwrap_or_default().to_owned();
        let Some(addr) = c["meters"][0]["address"].as_str() else {
            continue;
        };
        let Some(view) = term.meters().into_iter().find(|m| m.address == addr) else {
            continue;
        };
        let (_, readings) = get(&api, &format!("/api/readings?meter={addr}&limit=500")).await?;
        let readings = readings.as_array().cloned().unwrap_or_default();
        let local = c["fee_control"] == "local";
        let balance = match (local, view.balance) {
            (true, Some(b)) => b.to_string(),
            _ => c["net"]
                .as_str()
                .or(c["balance"].as_str())
                .unwrap_or("?")
                .to_owned(),
        };
        out.push(CustomerSummary {
            fee_control: c["fee_control"].as_str().unwrap_or("?").to_owned(),
            balance,
            relay: view.relay.name().to_owned(),
            guarded: view.guarded,
            alarms: view.alarms,
            trips: view.trips,
            restores: view.restores,
            tokens_accepted: view.tokens_accepted,
            tokens_rejected: view.tokens_rejected,
            reminders: outbox
                .iter()
                .filter(|o| {
                    o["customer"] == name.as_str()
                        && (o["kind"] == "low_credit" || o["kind"] == "payment_reminder")
                })
                .count(),
            readings: readings.len(),
            energy_kwh: view.energy.to_string(),
            name,
        });
        // No reading lost: one stored reading per 15-minute round, no round missing.
        let times: Vec<i64> = readings.iter().filter_map(|r| r["at"].as_i64()).collect();
        let worst_gap = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        checks.push(check(
            &format!("no reading lost for {}", c["name"].as_str().unwrap_or("?")),
            times.len() >= 4 && worst_gap <= 900 + 300,
            format!(
                "{} readings, largest gap {worst_gap} simulated seconds",
                times.len()
            ),
        ));
    }

    let li = out.iter().find(|c| c.name == LI_WEI).cloned();
    let clinic = out.iter().find(|c| c.name == CLINIC).cloned();
    let zhang = out.iter().find(|c| c.name == ZHANG_MIN).cloned();
    if let Some(li) = &li {
        checks.push(check(
            "Li Wei reminded, tripped once, restored once, supplied at the end",
            li.reminders >= 1
                && li.alarms >= 1
                && li.trips == 1
                && li.restores == 1
                && li.relay == "closed",
            format!(
                "reminders {}, alarms {}, trips {}, restores {}, relay {}",
                li.reminders, li.alarms, li.trips, li.restores, li.relay
            ),
        ));
    }
    if let Some(cl) = &clinic {
        checks.push(check(
            "the guarded clinic runs negative and is never cut",
            cl.trips == 0 && cl.relay == "closed" && cl.balance.starts_with('-'),
            format!(
                "balance {}, trips {}, relay {}",
                cl.balance, cl.trips, cl.relay
            ),
        ));
    }
    if let Some(z) = &zhang {
        checks.push(check(
            "Zhang Min: one token accepted, its replay rejected",
            z.tokens_accepted == 1 && z.tokens_rejected == 1,
            format!(
                "accepted {}, rejected {}",
                z.tokens_accepted, z.tokens_rejected
            ),
        ));
    }
    for (customer, order) in [(WANG_FANG, "DEMO-PAY-1"), (LI_WEI, "DEMO-PAY-2")] {
        let (_, rows) = get(
            &api,
            &format!("/api/payments?customer={}", customer.replace(' ', "%20")),
        )
        .await?;
        let n = rows
            .as_array()
            .map(|r| r.iter().filter(|p| p["order_no"] == order).count())
            .unwrap_or(0);
        checks.push(check(
            &format!("payment {order} recorded exactly once"),
            n == 1,
            format!("{n} rows"),
        ));
    }
    let link = term.link_stats();
    checks.push(check(
        "the terminal reconnected after the dropped link",
        link.connects >= 2 && link.logins >= 2,
        format!("{} connections, {} logins", link.connects, link.logins),
    ));
    let bus = term.bus_stats();
    let ok = checks.iter().all(|c| c.ok);
    Ok(Summary {
        ok,
        simulated: [start.to_string(), clock.civil().to_string()],
        real_seconds: (began.elapsed().as_millis() as f64) / 1000.0,
        customers: out,
        checks,
        link,
        bus,
    })
}

fn check(name: &str, ok: bool, detail: String) -> Check {
    Check {
        name: name.to_owned(),
        ok,
        detail,
    }
}

/// Polls `cond` every 50 ms until it holds or `within` (real time) has passed.
async fn wait_until<F, Fut>(what: &str, within: Duration, mut cond: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if cond().await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "timed out waiting until {what} ({} s)",
                within.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The operator API and the key the demo uses (the master's bootstrap admin).
#[derive(Debug, Clone)]
struct Api {
    addr: SocketAddr,
    key: Arc<str>,
}

impl Api {
    fn of(master: &MasterHandle) -> Result<Self, String> {
        let key = master
            .bootstrap_key()
            .ok_or("the demo's master has no bootstrap key")?;
        Ok(Self {
            addr: master.http_addr(),
            key: Arc::from(key.expose()),
        })
    }
}

async fn post(api: &Api, path: &str, body: Value) -> Result<(u16, Value), String> {
    let (status, v) = http_json(api.addr, &api.key, "POST", path, Some(body)).await?;
    if status >= 300 {
        return Err(format!("POST {path}: {status} {v}"));
    }
    Ok((status, v))
}

/// GETs `path`; a list's pages are all fetched and answered as one array.
async fn get(api: &Api, path: &str) -> Result<(u16, Value), String> {
    let (status, v) = http_json(api.addr, &api.key, "GET", path, None).await?;
    if status == 200 && v.get("items").is_some() {
        let all = http_list(api.addr, &api.key, path).await?;
        return Ok((status, Value::Array(all)));
    }
    if status >= 300 {
        return Err(format!("GET {path}: {status} {v}"));
    }
    Ok((status, v))
}

async fn customer(api: &Api, name: &str) -> Option<Value> {
    let (_, all) = get(api, "/api/customers").await.ok()?;
    all.as_array()?.iter().find(|c| c["name"] == name).cloned()
}

/// A money string's value in 1e-4 units.
fn money(v: &Value) -> Option<i64> {
    amikit_tariff::Money::parse(v.as_str()?)
        .ok()
        .map(|m| m.raw())
}

/// Prints each new outbox row (the SMS service) on the timeline.
async fn watch_outbox(api: Api, tl: Timeline, stop: Arc<AtomicBool>) {
    let mut seen = 0i64;
    while !stop.load(Ordering::SeqCst) {
        if let Ok((_, rows)) = get(&api, "/api/outbox?limit=500").await {
            for r in rows.as_array().into_iter().flatten() {
                let id = r["id"].as_i64().unwrap_or(0);
                if id > seen {
                    seen = id;
                    let _ = tl.tx.send(format!(
                        "{}  {:<9} SMS to {} ({}): {}",
                        r["time"].as_str().unwrap_or("?"),
                        "outbox",
                        r["customer"].as_str().unwrap_or("?"),
                        r["recipient"].as_str().unwrap_or("-"),
                        r["message"].as_str().unwrap_or("")
                    ));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `demo` example's command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "demo",
    about = "A master station and a terminal with five simulated meters, one scripted day at 1200× speed"
)]
pub struct Args {
    /// Print a machine-readable summary (JSON) instead of the timeline.
    #[arg(long)]
    pub json: bool,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 1200)]
    pub speed: u32,
    /// How the master sends control commands: afn05 or afn10.
    #[arg(long, default_value = "afn05")]
    pub control_via: ControlVia,
    /// Keep the master's database in this file (default: a temporary file, removed at the end).
    #[arg(long)]
    pub db: Option<PathBuf>,
}

/// The `demo` example: runs the day, prints the timeline (or `--json` summary), exits 0 when
/// every outcome held.
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("demo: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let opts = DemoOptions {
        speed: args.speed,
        db: args.db.clone(),
        control_via: args.control_via,
        timeline: !args.json,
        ..DemoOptions::default()
    };
    let result = rt.block_on(run(opts, |line| println!("{line}")));
    match result {
        Ok(summary) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&summary).unwrap_or_default()
                );
            } else {
                print_summary(&summary);
            }
            if summary.ok {
                std::process::ExitCode::SUCCESS
            } else {
                eprintln!("demo: some outcomes did not hold (see the checks above)");
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn print_summary(s: &Summary) {
    println!();
    println!(
        "Simulated {} → {} in {:.1} s real.",
        s.simulated[0], s.simulated[1], s.real_seconds
    );
    println!();
    println!(
        "{:<18} {:<7} {:>10} {:<7} {:>6} {:>5} {:>8} {:>6}  tokens",
        "customer", "control", "balance", "relay", "alarms", "trips", "restores", "reads"
    );
    for c in &s.customers {
        println!(
            "{:<18} {:<7} {:>10} {:<7} {:>6} {:>5} {:>8} {:>6}  {}/{}{}",
            c.name,
            c.fee_control,
            c.balance,
            c.relay,
            c.alarms,
            c.trips,
            c.restores,
            c.readings,
            c.tokens_accepted,
            c.tokens_rejected,
            if c.guarded { "  (guarded)" } else { "" }
        );
    }
    println!();
    for c in &s.checks {
        println!("{} {} — {}", if c.ok { "✔" } else { "✘" }, c.name, c.detail);
    }
}
