//! The scale run: one master station serving many simulated terminals on loopback.
//!
//! ```text
//! cargo run --release --example scale -- --terminals 10000
//! ```
//!
//! The master station runs in this process; the terminals (one remote-fee-control meter each,
//! [`terminal::scale_site`]) run in a child process of the same binary, so that the file
//! descriptors of 10 000 connections on each side fit their own limits and the master's memory
//! is measured alone. Time is compressed (`--speed`, 60 by default): every terminal heartbeats
//! every simulated 60 s and the master reads every meter (AFN 0C F129 + F25) once per simulated
//! 15 minutes. After every terminal is online and a warm-up, the counters are reset and read
//! again after `--measure` real seconds: frames per second both ways, request latency (issued →
//! response complete, as the master's sessions see it: p50, p99, max) and the master process's
//! resident memory.

// `value["key"]` on a `serde_json::Value` answers `Null` for a missing key: it cannot panic.
#![allow(clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::clock::{Civil, SimClock};
use crate::master::views::{LatencyView, StatsCounters};
use crate::master::{self, MasterOptions, http_json};
use crate::site::Site;
use crate::terminal::{self, NoiseConfig, Timing};

/// The `scale` example's command line.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "scale",
    about = "One master station and N simulated terminals on loopback: frames/s, p99 latency, RSS"
)]
pub struct Args {
    /// Number of terminals (one meter each).
    #[arg(long, default_value_t = 1000)]
    pub terminals: u16,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 60)]
    pub speed: u32,
    /// Real seconds over which the terminals' first connections are spread.
    #[arg(long, default_value_t = 10)]
    pub ramp: u64,
    /// Real seconds of warm-up after every terminal is online.
    #[arg(long, default_value_t = 10)]
    pub warmup: u64,
    /// Real seconds of measurement.
    #[arg(long, default_value_t = 30)]
    pub measure: u64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Internal: run only the terminals against this master station (the child process).
    #[arg(long, hide = true)]
    pub terminals_for: Option<SocketAddr>,
    /// Internal: the epoch of the master's simulated clock (the child shares it, for Tp).
    #[arg(long, hide = true)]
    pub epoch_ms: Option<u64>,
}

const START: Civil = crate::clock::DEMO_START;

/// The `scale` example.
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("scale: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = match args.terminals_for {
        Some(master) => rt.block_on(run_terminals(&args, master)),
        None => rt.block_on(run_master(&args)).map(|report| {
            if args.json {
                println!("{}", master::views::to_json(&report));
            } else {
                print_report(&report);
            }
        }),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scale: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The child: every terminal of the scale site, until standard input closes.
async fn run_terminals(args: &Args, master: SocketAddr) -> Result<(), String> {
    let site = terminal::scale_site(&Site::demo(), args.terminals)?;
    let clock = match args.epoch_ms {
        Some(epoch) => SimClock::since_epoch(START, args.speed, epoch),
        None => SimClock::new(START, args.speed),
    };
    let a2s: Vec<u16> = (1..=args.terminals).collect();
    let mut timing = Timing::for_clock(&clock);
    timing.response_timeout = Duration::from_secs(5);
    let handles = terminal::start_many(
        &site,
        &a2s,
        master,
        &clock,
        NoiseConfig::OFF,
        timing,
        Duration::from_secs(args.ramp),
    )
    .await?;
    // The parent closes our standard input when it is done (or dies).
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        let _ = std::io::stdin().read_line(&mut sink);
    })
    .await;
    for h in handles {
        h.shutdown().await;
    }
    Ok(())
}

/// The parent: the master station, the child with the terminals, the measurement.
async fn run_master(args: &Args) -> Result<ScaleReport, String> {
    let site = terminal::scale_site(&Site::demo(), args.terminals)?;
    let dir = std::env::temp_dir().join(format!("amikit-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let db = dir.join("master.db");
    let _ = std::fs::remove_file(&db);
    let epoch_ms = SimClock::epoch_now_ms();
    let clock = SimClock::since_epoch(START, args.speed, epoch_ms);
    let began = Instant::now();
    let mut opts = MasterOptions::new(site, db, clock);
    opts.response_timeout_ms = 5000;
    let master = master::start(opts).await.map_err(|e| e.to_string())?;
    let seeded = began.elapsed();
    let key = master
        .bootstrap_key()
        .map(|k| k.expose().to_string())
        .ok_or("the scale run's master has no bootstrap key")?;
    let api = (master.http_addr(), key.as_str());
    eprintln!(
        "scale: master station up in {:.1} s ({} customers seeded), starting {} terminals",
        seeded.as_secs_f64(),
        args.terminals,
        args.terminals
    );

    let mut child = spawn_terminals(args, master.terminal_addr(), epoch_ms)?;
    let outcome = measure(args, api, &mut child).await;
    drop(child.stdin.take());
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        while child.try_wait().ok().flatten().is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    master.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

fn spawn_terminals(args: &Args, master: SocketAddr, epoch_ms: u64) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    Command::new(exe)
        .arg("--terminals")
        .arg(args.terminals.to_string())
        .arg("--speed")
        .arg(args.speed.to_string())
        .arg("--ramp")
        .arg(args.ramp.to_string())
        .arg("--terminals-for")
        .arg(master.to_string())
        .arg("--epoch-ms")
        .arg(epoch_ms.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the terminals' process: {e}"))
}

/// The API's address and the key to use.
type Api<'k> = (SocketAddr, &'k str);

async fn stats(api: Api<'_>) -> Result<Value, String> {
    let (status, v) = http_json(api.0, api.1, "GET", "/api/stats", None).await?;
    if status != 200 {
        return Err(format!("GET /api/stats: {status} {v}"));
    }
    Ok(v)
}

/// What a scale run measured (`--json` prints it).
#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    /// Terminals started.
    pub terminals: u64,
    /// Terminals logged in at the end.
    pub online: u64,
    /// Simulated seconds per real second.
    pub speed: u32,
    /// The measured stretch, real seconds (one decimal).
    pub measured_real_seconds: f64,
    /// Frames from the terminals per second.
    pub frames_in_per_sec: f64,
    /// Frames to the terminals per second.
    pub frames_out_per_sec: f64,
    /// Both.
    pub frames_per_sec: f64,
    /// Heartbeats per second.
    pub heartbeats_per_sec: f64,
    /// Requests per second.
    pub requests_per_sec: f64,
    /// Readings stored per second.
    pub readings_per_sec: f64,
    /// Requests that timed out.
    pub timeouts: u64,
    /// Request latency.
    pub latency_us: LatencyView,
    /// The master station's resident memory, MiB.
    pub master_rss_mib: Option<u64>,
}

async fn measure(args: &Args, api: Api<'_>, child: &mut Child) -> Result<ScaleReport, String> {
    let n = u64::from(args.terminals);
    let deadline = Instant::now() + Duration::from_secs(args.ramp + 120);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the terminals' process ended: {status}"));
        }
        let s = stats(api).await?;
        let online = s["online"].as_u64().unwrap_or(0);
        if online >= n {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("only {online} of {n} terminals online"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "scale: all {n} terminals online; warm-up {} s, measuring {} s",
        args.warmup, args.measure
    );
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    let (status, _) = http_json(api.0, api.1, "POST", "/api/stats/reset", None).await?;
    if status != 200 {
        return Err(format!("POST /api/stats/reset: {status}"));
    }
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.measure)).await;
    let s = stats(api).await?;
    let secs = t0.elapsed().as_secs_f64();
    let c: StatsCounters =
        serde_json::from_value(s.clone()).map_err(|e| format!("GET /api/stats: {e}"))?;
    let per_sec = |count: u64| (count as f64 / secs).round();
    Ok(ScaleReport {
        terminals: n,
        online: s["online"].as_u64().unwrap_or(0),
        speed: args.speed,
        measured_real_seconds: (secs * 10.0).round() / 10.0,
        frames_in_per_sec: per_sec(c.frames_in),
        frames_out_per_sec: per_sec(c.frames_out),
        frames_per_sec: per_sec(c.frames_in) + per_sec(c.frames_out),
        heartbeats_per_sec: per_sec(c.heartbeats),
        requests_per_sec: per_sec(c.requests),
        readings_per_sec: per_sec(c.readings),
        timeouts: c.timeouts,
        latency_us: c.latency_us,
        master_rss_mib: s["rss_bytes"].as_u64().map(|b| b / (1024 * 1024)),
    })
}

/// `Some(v)` as `v`, `None` as `-`.
fn or_dash<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn print_report(r: &ScaleReport) {
    println!(
        "{} terminals ({} online), speed ×{}, measured {} s",
        r.terminals, r.online, r.speed, r.measured_real_seconds
    );
    println!(
        "frames/s      {} in + {} out = {}",
        r.frames_in_per_sec, r.frames_out_per_sec, r.frames_per_sec
    );
    println!(
        "heartbeats/s  {}   requests/s {}   readings/s {}   timeouts {}",
        r.heartbeats_per_sec, r.requests_per_sec, r.readings_per_sec, r.timeouts
    );
    let l = &r.latency_us;
    println!(
        "latency (µs)  p50 {}   p99 {}   max {}   ({} requests)",
        or_dash(l.p50),
        or_dash(l.p99),
        l.max,
        l.samples
    );
    println!("master RSS    {} MiB", or_dash(r.master_rss_mib));
}
