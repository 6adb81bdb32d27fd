//! `cargo run --example terminal -- …`: one terminal of a site, talking to a master station,
//! with a small console on stdin for the customer's side.
//!
//! ```text
//! terminal [--site FILE] [--a2 N] [--master HOST:PORT] [--speed N] [--start DATE-TIME]
//!          [--start-epoch-ms MS] [--noise SPEC]
//! ```
//!
//! Console commands (one per line): `token PN DIGITS` (type a token on a meter's keypad),
//! `button PN`, `noise SECONDS` (a burst of line noise), `drop` (close the TCP link),
//! `show` (every meter), `stats`, `quit`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use super::error::BoxError;
use super::{NoiseConfig, TerminalError, TerminalHandle, TerminalOptions};
use crate::clock::{Civil, SimClock};
use crate::site::Site;

/// Command-line arguments of the terminal example.
#[derive(Debug, Parser)]
#[command(
    name = "terminal",
    about = "A simulated Q/GDW 376.1 terminal with DL/T 645 meters on an RS-485 bus"
)]
pub struct Args {
    /// The site file (default: the compiled-in demo site).
    #[arg(long)]
    pub site: Option<PathBuf>,
    /// Which terminal of the site (default: the first).
    #[arg(long)]
    pub a2: Option<u16>,
    /// The master station's terminal port.
    #[arg(long, default_value = "127.0.0.1:9376")]
    pub master: String,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 60)]
    pub speed: u32,
    /// Simulated start time, `YYYY-MM-DDTHH:MM[:SS]` (the master station can set the
    /// terminal's clock with AFN 05 F31).
    #[arg(long, default_value = "2026-03-02T06:00:00")]
    pub start: String,
    /// The wall-clock instant (milliseconds since 1970) at which the simulated time was
    /// `--start` (as the master station's `--start-epoch-ms`): give both the same `--start`,
    /// `--speed` and epoch and they share the simulated clock, so that the master's Tp (send
    /// time, allowed delay) holds on the terminal however compressed the time is.
    #[arg(long)]
    pub start_epoch_ms: Option<u64>,
    /// RS-485 line noise: `off`, `light`, `burst`, or `garbage=P,flip=P,echo=P,drop=P`
    /// (probabilities per frame, `0.05` or `5%`).
    #[arg(long, default_value = "off")]
    pub noise: String,
}

/// Parses `YYYY-MM-DDTHH:MM[:SS]` (a space may replace the `T`).
pub fn parse_civil(text: &str) -> Result<Civil, String> {
    let bad = || format!("bad date-time {text:?} (expected YYYY-MM-DDTHH:MM[:SS])");
    let (date, time) = text.trim().split_once(['T', ' ']).ok_or_else(bad)?;
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    let num = |s: Option<&&str>| s.and_then(|s| s.parse::<i32>().ok()).ok_or_else(bad);
    let (y, mo, da) = (num(d.first())?, num(d.get(1))?, num(d.get(2))?);
    let (h, mi) = (num(t.first())?, num(t.get(1))?);
    let s = if t.len() > 2 { num(t.get(2))? } else { 0 };
    let small = |v: i32, lo: i32, hi: i32| {
        if (lo..=hi).contains(&v) {
            u8::try_from(v).map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let c = Civil::new(
        y,
        small(mo, 1, 12)?,
        small(da, 1, 31)?,
        small(h, 0, 23)?,
        small(mi, 0, 59)?,
        small(s, 0, 59)?,
    );
    if Civil::from_sim(c.to_sim()) != c {
        return Err(bad());
    }
    Ok(c)
}

fn resolve(text: &str) -> Result<SocketAddr, TerminalError> {
    let refused = |source: BoxError| TerminalError::MasterAddress {
        text: text.to_string(),
        source,
    };
    text.to_socket_addrs()
        .map_err(|e| refused(e.into()))?
        .next()
        .ok_or_else(|| refused("no address".into()))
}

/// Runs the example with these arguments; exit status 1 on errors, 2 on usage errors.
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> ExitCode {
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    crate::master::cli::init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("terminal: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("terminal: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: Args) -> Result<(), TerminalError> {
    let site = match &args.site {
        Some(p) => Site::load(p).map_err(TerminalError::Site)?,
        None => Site::demo(),
    };
    let a2 = match args.a2 {
        Some(a) => a,
        None => site
            .terminals
            .first()
            .map(|t| t.a2)
            .ok_or(TerminalError::NoTerminals)?,
    };
    let master = resolve(&args.master)?;
    let start = parse_civil(&args.start).map_err(TerminalError::StartTime)?;
    // Started by another process at `--start-epoch-ms`: the same simulated clock.
    let clock = match args.start_epoch_ms {
        Some(epoch) => SimClock::since_epoch(start, args.speed, epoch),
        None => SimClock::new(start, args.speed),
    };
    let mut opts = TerminalOptions::new(site, a2, master, clock.clone())?;
    opts.noise = NoiseConfig::parse(&args.noise)?;
    let handle = super::start(opts).await?;
    let mut notes = handle.subscribe();
    tracing::info!(
        "terminal {a2}: {} meters, master station {master}, clock {start} ×{}",
        handle.meters().len(),
        args.speed
    );
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut line = String::new();
        while stdin.read_line(&mut line).is_ok_and(|n| n > 0) {
            if tx.send(std::mem::take(&mut line)).is_err() {
                break;
            }
        }
    });
    loop {
        tokio::select! {
            Some(n) = notes.recv() => tracing::info!("{n}"),
            line = lines.recv() => match line {
                None => {
                    // stdin closed: keep running until killed
                    loop {
                        match notes.recv().await {
                            Some(n) => tracing::info!("{n}"),
                            None => return Ok(()),
                        }
                    }
                }
                Some(l) => {
                    if !console(&handle, &clock, l.trim()) {
                        handle.shutdown().await;
                        return Ok(());
                    }
                }
            },
        }
    }
}

/// One console command; false to quit.
fn console(handle: &TerminalHandle, clock: &SimClock, line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let pn = |i: usize| words.get(i).and_then(|w| w.parse::<u16>().ok());
    match words.as_slice() {
        [] => {}
        ["quit" | "exit"] => return false,
        ["token", _, digits @ ..] if pn(1).is_some() => {
            let token: String = digits.concat();
            match handle.keypad(pn(1).unwrap_or(0), &token) {
                Ok(s) => println!("accepted: {s}"),
                Err(s) => println!("rejected: {s}"),
            }
        }
        ["button", _] if pn(1).is_some() => match handle.press_button(pn(1).unwrap_or(0)) {
            Some(s) => println!("{s}"),
            None => println!("no such meter"),
        },
        ["noise", secs] => match secs.parse::<u64>() {
            Ok(s) => {
                handle.noise_burst(Duration::from_secs(s));
                println!("line noise for {s} s");
            }
            Err(_) => println!("noise SECONDS"),
        },
        ["drop"] => handle.drop_link(),
        ["show"] => {
            println!("{} (simulated)", clock.civil());
            for m in handle.meters() {
                println!(
                    "  pn {} {} {:<18} relay {:<6} {} kWh{}{}  tokens {}/{}",
                    m.pn,
                    m.address,
                    m.customer,
                    m.relay.name(),
                    m.energy,
                    m.balance
                        .map(|b| format!("  balance {b}"))
                        .unwrap_or_default(),
                    if m.guarded { "  guarded" } else { "" },
                    m.tokens_accepted,
                    m.tokens_rejected
                );
            }
        }
        ["stats"] => {
            println!("link {:?}", handle.link_stats());
            println!("bus  {:?}", handle.bus_stats());
        }
        _ => println!(
            "commands: token PN DIGITS | button PN | noise SECONDS | drop | show | stats | quit"
        ),
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_times_parse() {
        assert_eq!(
            parse_civil("2026-03-02T06:00").unwrap(),
            Civil::new(2026, 3, 2, 6, 0, 0)
        );
        assert_eq!(
            parse_civil("2026-02-28 23:59:59").unwrap(),
            Civil::new(2026, 2, 28, 23, 59, 59)
        );
        assert!(parse_civil("2026-02-30T00:00").is_err());
        assert!(parse_civil("2026-03-02").is_err());
        assert!(parse_civil("2026-13-02T00:00").is_err());
    }

    #[test]
    fn usage_errors_exit_2() {
        let code = main(["terminal", "--speed", "fast"].map(std::ffi::OsString::from));
        assert_eq!(code, ExitCode::from(2));
    }
}
