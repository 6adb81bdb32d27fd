//! `cargo run --example master_station -- [OPTIONS]`: the master station as a program.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use super::auth::{self, Role};
use super::error::{MasterError, MasterResult};
use super::{ControlVia, MasterOptions, start, store};
use crate::clock::{Civil, SimClock};
use crate::site::Site;

/// The amikit example master station: a 376.1 front-end for terminals, SQLite accounts,
/// remote fee control, STS vending and an operator HTTP API on loopback.
#[derive(Debug, Parser)]
#[command(name = "master_station", version)]
pub struct Args {
    /// SQLite database file (created, migrated and seeded from the site on first start).
    #[arg(long, default_value = "master.db")]
    pub db: PathBuf,
    /// Site file (default: the compiled-in demo site, examples/station/sites/demo.toml).
    #[arg(long)]
    pub site: Option<PathBuf>,
    /// Address terminals connect to.
    #[arg(long, default_value = "127.0.0.1:9376")]
    pub listen: SocketAddr,
    /// Address of the operator API (keep it on loopback).
    #[arg(long, default_value = "127.0.0.1:8376")]
    pub http: SocketAddr,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 60)]
    pub speed: u32,
    /// How control commands reach meters: afn05 (AFN 05 F1/F2/…) or afn10 (DL/T 645 1C frames
    /// forwarded through AFN 10 F1).
    #[arg(long, default_value = "afn05")]
    pub control_via: ControlVia,
    /// Simulated start time, `YYYY-MM-DDTHH:MM` (default: where the database left off, or
    /// 2026-03-02T06:00 for a new database).
    #[arg(long)]
    pub start: Option<String>,
    /// Simulated seconds between reads of each meter.
    #[arg(long, default_value_t = 900)]
    pub read_every: u64,
    /// The terminals' heartbeat period, simulated seconds.
    #[arg(long, default_value_t = 60)]
    pub heartbeat: u64,
    /// Real milliseconds to wait for a terminal's response before retransmitting.
    #[arg(long, default_value_t = 2000)]
    pub response_timeout_ms: u64,
    /// The largest size of the database, pages (SQLite `max_page_count`): writes beyond it
    /// fail as on a full disk (for fault drills).
    #[arg(long)]
    pub db_max_pages: Option<u32>,
    /// The wall-clock instant (milliseconds since 1970) at which the simulated time was
    /// `--start`: the clock starts ahead by the time elapsed since, so that a restarted master
    /// keeps the time of a simulation that kept running.
    #[arg(long, requires = "start")]
    pub start_epoch_ms: Option<u64>,
    /// An API operator for this run, `NAME:ROLE` (cashier, operator, auditor, admin); a new
    /// key is made and printed once. Repeatable.
    #[arg(long = "operator", value_name = "NAME:ROLE")]
    pub operators: Vec<String>,
    /// Makes a new API key, prints it and the `[[operators]]` line (with its salted hash) for
    /// the site file, and exits. Takes `NAME:ROLE`.
    #[arg(long, value_name = "NAME:ROLE")]
    pub hash_key: Option<String>,
    /// A `Host` the API accepts besides its listen address (e.g. behind a local proxy).
    /// Repeatable.
    #[arg(long = "http-host", value_name = "HOST:PORT")]
    pub http_hosts: Vec<String>,
}

/// Parses `NAME:ROLE`.
pub fn parse_operator(s: &str) -> MasterResult<(String, Role)> {
    let bad = |why: String| MasterError::config("--operator", why);
    let (name, role) = s
        .rsplit_once(':')
        .ok_or_else(|| bad("expected NAME:ROLE".into()))?;
    auth::check_name(name).map_err(|e| bad(e.to_string()))?;
    let role = role.parse::<Role>().map_err(|e| bad(e.to_string()))?;
    Ok((name.to_string(), role))
}

/// Parses `YYYY-MM-DDTHH:MM[:SS]` (or with a space).
pub fn parse_civil(s: &str) -> MasterResult<Civil> {
    let bad = || MasterError::config(format!("time {s:?}"), "expected YYYY-MM-DDTHH:MM");
    let (date, time) = s.split_once(['T', ' ']).ok_or_else(bad)?;
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    let num = |x: Option<&&str>| x.and_then(|v| v.parse::<u32>().ok()).ok_or_else(bad);
    let year = num(d.first())?;
    let month = num(d.get(1))?;
    let day = num(d.get(2))?;
    let hour = num(t.first())?;
    let minute = num(t.get(1))?;
    let second = if t.len() > 2 { num(t.get(2))? } else { 0 };
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(bad());
    }
    let c = |v: u32| u8::try_from(v).map_err(|_| bad());
    Ok(Civil::new(
        i32::try_from(year).map_err(|_| bad())?,
        c(month)?,
        c(day)?,
        c(hour)?,
        c(minute)?,
        c(second)?,
    ))
}

/// The latest simulated time the database has seen (readings, events), if any.
pub fn resume_time(db: &std::path::Path) -> Option<Civil> {
    store::resume_time(db).map(|t| Civil::from_sim(t + 1))
}

/// Logs to standard error through `tracing` at the level of `RUST_LOG` (`error`, `warn`,
/// `info` (the default), `debug`, `trace`).
pub fn init_logging() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs the master station until interrupted (Ctrl-C), then shuts it down cleanly.
pub fn main() -> ExitCode {
    main_with(std::env::args_os())
}

/// [`main`] with the command line given (the first item is the program name).
pub fn main_with<I, T>(argv: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
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
    init_logging();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("master_station: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> MasterResult<()> {
    if let Some(spec) = &args.hash_key {
        let (name, role) = parse_operator(spec)?;
        let key = auth::ApiKey::generate().map_err(|e| MasterError::config("key", e))?;
        let hash = auth::KeyHash::new(&key).map_err(|e| MasterError::config("key", e))?;
        println!(
            "key (give it to {name}; it is not shown again): {}",
            key.expose()
        );
        println!("[[operators]]\nname = {name:?}\nrole = \"{role}\"\nkey_hash = \"{hash}\"");
        return Ok(());
    }
    let mut operators = Vec::new();
    let mut new_keys = Vec::new();
    for spec in &args.operators {
        let (name, role) = parse_operator(spec)?;
        let (op, key) = auth::new_operator(&name, role, auth::Source::Configured)
            .map_err(|e| MasterError::config("--operator", e))?;
        operators.push(op);
        new_keys.push((name, role, key));
    }
    let site = match &args.site {
        Some(p) => Site::load(p).map_err(|e| MasterError::config("site", e))?,
        None => Site::demo(),
    };
    let start_at = match &args.start {
        Some(s) => parse_civil(s)?,
        None => resume_time(&args.db).unwrap_or(Civil::new(2026, 3, 2, 6, 0, 0)),
    };
    // Started by another process at `--start-epoch-ms`: the same simulated clock.
    let clock = match args.start_epoch_ms {
        Some(epoch) => SimClock::since_epoch(start_at, args.speed, epoch),
        None => SimClock::new(start_at, args.speed),
    };
    let mut opts = MasterOptions::new(site, args.db.clone(), clock);
    opts.listen = args.listen;
    opts.http = args.http;
    opts.control_via = args.control_via;
    opts.read_every = args.read_every;
    opts.heartbeat = args.heartbeat;
    opts.db_max_pages = args.db_max_pages;
    opts.response_timeout_ms = args.response_timeout_ms;
    opts.operators = operators;
    opts.http_hosts = args.http_hosts.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| MasterError::io("tokio runtime", e))?;
    rt.block_on(async move {
        let handle = start(opts).await?;
        // Keys are printed once, on standard output (not the log).
        for (name, role, key) in &new_keys {
            println!("operator {name} ({role}) key: {}", key.expose());
        }
        if let Some(key) = handle.bootstrap_key() {
            println!(
                "no operator configured: bootstrap admin key (this run only): {}",
                key.expose()
            );
        }
        tracing::info!(
            "master station: terminals on {}, operator API on http://{}/api/customers, \
             database {}, simulated time {} (x{}), control via {}",
            handle.terminal_addr(),
            handle.http_addr(),
            args.db.display(),
            handle.clock().civil(),
            args.speed,
            args.control_via.name(),
        );
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("master station: stopping");
        handle.shutdown().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_times_parse() {
        assert_eq!(
            parse_civil("2026-03-02T06:30").unwrap(),
            Civil::new(2026, 3, 2, 6, 30, 0)
        );
        assert_eq!(
            parse_civil("2026-03-02 06:30:15").unwrap(),
            Civil::new(2026, 3, 2, 6, 30, 15)
        );
        assert!(parse_civil("2026-13-02T06:30").is_err());
        assert!(parse_civil("yesterday").is_err());
    }

    #[test]
    fn arguments_parse() {
        let a = Args::try_parse_from([
            "master_station",
            "--db",
            "x.db",
            "--control-via",
            "afn10",
            "--speed",
            "600",
        ])
        .unwrap();
        assert_eq!(a.control_via, ControlVia::Afn10);
        assert_eq!(a.speed, 600);
        assert!(Args::try_parse_from(["master_station", "--control-via", "afn07"]).is_err());
        let a = Args::try_parse_from(["master_station", "--operator", "till-1:cashier"]).unwrap();
        assert_eq!(
            parse_operator(&a.operators[0]).unwrap(),
            ("till-1".to_string(), Role::Cashier)
        );
        assert!(parse_operator("till-1:root").is_err());
        assert!(parse_operator("nobody").is_err());
    }
}
