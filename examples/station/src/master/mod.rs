//! The master station: a front-end processor for Q/GDW 376.1 terminals, SQLite accounts,
//! remote fee control, STS vending and an operator HTTP API.
//!
//! ```text
//!  terminals ──TCP 376.1──▶ fep (one tokio task per connection, a gdw376 MasterSession each)
//!                              │ readings, relay states, command results        ▲ commands
//!                              ▼                                               │
//!                           core (one task: tariff charging, prepay engines, command tracker)
//!                              │ one closure per input                 ▲ payments (after commit)
//!                              ▼                                       │
//!                           store (one DB thread, one SQLite transaction per batch)
//!  operator ──HTTP/JSON──▶ api (axum on loopback) ──▶ core / store
//! ```
//!
//! * [`fep`]: the TCP server. A terminal logs in (AFN 02 F1: A1/A2 name it among the site's
//!   terminals) and proves it (AFN 06 challenge answered with its key, see "Terminal links"),
//!   heartbeats (AFN 02 F3), is online until three heartbeat periods pass without a
//!   frame. Every `read_every` simulated seconds (staggered per terminal) the master reads
//!   each meter with AFN 0C F129 + F25 (pn = measurement point); local-fee-control meters also
//!   get AFN 10 F1 forwarded DL/T 645 reads of remaining money `00900200` and status word 3
//!   `04000503`; remote meters get the status-word read while their relay is not closed or a
//!   relay command is live. Reads that fail are retried (three tries per round); a terminal
//!   that raises ACD has its important events pulled (AFN 0E F1) and stored.
//! * [`billing`] and the core: readings are priced with the customer's tariff (`amikit-tariff`,
//!   rollover, split at price changes) and fed to the customer's `amikit-prepay` engine (State
//!   Grid remote profile); its commands go to the tracker, its notifications to `outbox`.
//! * [`control`]: the tracker (`amikit-prepay`'s, sharded) and the AFN 05 / AFN 10 encodings.
//!
//! # Terminal links
//!
//! * **Terminal identity.** Each terminal of the site file has a key (`[[terminals]] key =
//!   "<32 hex digits>"`); its identity and PW keys are derived from it ([`crate::keys`]). After
//!   a login the master sends a fresh random AFN 06 F1 challenge; only a correct answer
//!   (AES-CMAC with the terminal's identity key over its address and the challenge) makes the
//!   connection the terminal's. Until then nothing is read, sent or stored: a login of an
//!   unknown address (`logins_unknown`), of a terminal without a key or with a wrong answer
//!   (`logins_refused`) closes the connection and writes no database row, and never replaces
//!   the terminal's proven connection. Downlink commands carry PW (AES-CMAC with the PW key),
//!   which the terminal verifies.
//! * **Limits** ([`LinkLimits`], `MasterOptions::limits`): at most `max_connections` terminal
//!   connections (20 000; more are closed at accept), `prelogin_timeout_ms` (10 s) to prove a
//!   login, `reports_per_minute` (60) unsolicited AFN 0E reports stored per terminal and real
//!   minute, `write_timeout_ms` (10 s) per write to a terminal, `send_buffer_bytes` (64 KiB)
//!   of kernel send buffer per terminal connection. `GET /api/stats` counts
//!   `connections_open`, `connections_refused`, `prelogin_timeouts`, `reports_dropped`,
//!   `write_timeouts`, `logins_unknown`, `logins_refused`, `logins_proven`.
//! * **Commands are checked when they leave the queue.** A connection queues commands ahead of
//!   reads (in order) and asks the tracker (`check_send`) when one leaves the queue: a command
//!   superseded, cancelled, expired, parked or retried since it was queued is dropped and
//!   logged (`command_dropped` event, `commands_dropped` counter).
//! * **Offline is not failure.** While a terminal's link is down (and at start until it logs
//!   in) its meters' commands are parked: no failures, no back-off, no manual job; they still
//!   expire. When it is back they are sent at once. The event log has `link_down` / `link_up`.
//! * **Jobs.** A command that keeps failing or expires becomes a manual job (`open`); an
//!   operator closes it (`done` or `cancelled`, `POST /api/jobs/{id}/close`); a later command of
//!   the same group for the meter (the allow-close after a payment for a trip job, guard off
//!   for a guard-on job) makes it moot and the system cancels it.
//! * **Relay reconciliation.** After a relay command is confirmed the master reads status
//!   word 3 back (AFN 10, DL/T 645 `04000503`): a trip must have opened the relay (b4), an
//!   allow-close lifted the open command (b6; the relay may stay open until the button), a
//!   direct close closed it. A mismatch (`relay_mismatch` event) issues the command once more;
//!   a second one raises a `relay_mismatch` manual job.
//! * [`core`]: one task, split by job: readings and billing, payments, vending, control
//!   (guard, tracker, commands, jobs), views.
//! * [`store`]: the DB thread and the only module with SQL: the writes as named operations
//!   ([`store::Write`]), the reads and answering writes ([`store::queries`]), seeding and
//!   loading; [`crate::db`] holds the schema (version 2 adds the master's columns).
//! * [`msg`]: the messages between the front end, the core and the API (they import it, not
//!   each other); [`error`]: [`MasterError`], and [`ApiError`] which the API answers.
//! * [`api`]: the operator API. [`http::http_json`] is a small client for it.
//!
//! Logging goes through `tracing` (the programs log to standard error at the level of
//! `RUST_LOG`, default `info`).
//!
//! Time: business time (tariff periods, command expiry, TIDs, the `at` columns) is the
//! simulated clock ([`SimClock`]); link timeouts (response timeout, offline detection) are
//! real milliseconds from a tokio-independent monotonic clock. Tp (Q/GDW 1376.1-2013
//! §4.3.4.6.3) carries the simulated time, compressed as the clock is (the terminal sets its
//! calendar from the same clock): commands (AFN 05, AFN 10 carrying a `1C` frame) and the
//! identity challenge carry Tp with an allowed delay covering the request and its two
//! retransmissions at that speed (`response_timeout × 8` real, in simulated minutes, at most
//! 255); the terminal refuses a stale or replayed one. Reads (AFN 0C, 0E, forwarded DL/T 645
//! reads) carry none: the terminal's replay guard holds 16 open windows and its repeat cache
//! one request, so Tp on every read at a compressed speed would have retransmissions and
//! later reads refused (see the report of issue 11). The simulated terminal therefore checks
//! Tp whenever present (PW, which covers Tp, keeps it from being stripped) rather than
//! requiring it on every PW frame. A new connection continues the terminal's frame counter
//! (PFC), so its replay guard never sees a PFC again within an open window.
//!
//! # Operator HTTP API (JSON, loopback)
//!
//! Every request needs an operator key, `Authorization: Bearer amk_…` ([`auth`]); every route
//! declares its least role (`admin` may do everything; reads need any role). The gate
//! ([`api_gate`]) also refuses a foreign `Host` or `Origin`, `Sec-Fetch-Site: cross-site`,
//! and a mutating request that is not `Content-Type: application/json`; it writes every
//! mutating request and every refusal to the audit trail. Answers: 401 without a valid key,
//! 403 `{error, required_role, role}` for another role, 415 for another content type.
//!
//! | method and path | least role | body / query | answer |
//! |---|---|---|---|
//! | `POST /api/payments` | cashier | `{customer, amount, order_no, channel?}` | `{status: "applied" \| "refused" \| "duplicate", reason?, seq?, balance, …}` |
//! | `POST /api/tokens` | cashier | `{customer \| meter, amount, order_no}` | `{token, token_grouped, kwh, tid, …}` (`status: "duplicate"` for a known order; digits only for the seller) |
//! | `POST /api/guard` | operator | `{customer, on}` | `{customer, guarded}` |
//! | `POST /api/meters/{address}/replace` | operator | `{final_kwh, initial_kwh}` | `{billed_kwh, previous_kwh, …}` |
//! | `POST /api/stats/reset` | admin | | zeroes the counters |
//! | `GET /api/operators` | auditor | | `[{name, role, source}]` (never keys or hashes) |
//! | `POST /api/operators` | admin | `{name, role}` | `201 {name, role, key}`: the key is shown once |
//! | `POST /api/operators/{name}/revoke` | admin | `{}` | `{name, revoked}`; the key stops working at once |
//! | `GET /api/audit` | auditor | `?after=&limit=` | the audit trail: `{at, wall, operator, role, method, path, status, summary}` |
//! | `GET /api/customers` | any | | balance, debt, credit state, alarm, relay (commanded and read), guard, meters |
//! | `GET /api/commands` | any | `?customer=&status=&limit=` | every command and its status |
//! | `GET /api/jobs` | any | | manual jobs: `status` open / done / cancelled, `closed_by`, `closed_at`, `note` |
//! | `POST /api/jobs/{id}/close` | operator | `{status?: "done" \| "cancelled", note?}` | the job ([`jobs_api`]); `closed_by` is the caller |
//! | `GET /api/events` | any | `?customer=&kind=&after=&limit=` | the event log |
//! | `GET /api/outbox` | any | `?customer=&limit=` | notifications (SMS) |
//! | `GET /api/payments` | any | `?customer=` | payments |
//! | `GET /api/tokens` | any | | tokens; the digits only of those the caller sold |
//! | `GET /api/readings` | any | `?meter=&after=&limit=` | register readings |
//! | `GET /api/exceptions` | any | `?meter=&status=&after=&limit=` | readings refused as implausible (open / resolved) |
//! | `GET /api/terminals` | any | | online state, last seen, meters |
//! | `GET /api/stats` | any | | frames in/out, requests, p50/p99 request latency, DB batches |
//!
//! Operators come from the site file (`[[operators]] name, role, key_hash`, the line printed by
//! `master_station --hash-key NAME:ROLE`), from `--operator NAME:ROLE` (a key printed once per
//! run) and from `POST /api/operators` (stored, hashed, in the database). A master with none
//! makes a bootstrap admin key for the run ([`MasterHandle::bootstrap_key`], printed once by
//! the program).
//!
//! Lists answer a page, `{items, next}`: the oldest `limit` rows (1–500, default 100) with an
//! id above `after`; `next` is the `after` of the following page (null on the last). The API
//! is served with limits ([`api_serve::HttpLimits`]: header and idle timeouts, 64 connections,
//! 16 KiB bodies); text fields and query values are at most 64 characters (422).
//!
//! `customer` is a name or a numeric id; `meter` is a 12-digit DL/T 645 address; `amount` is a
//! decimal string (`"50.00"`) or an integer. Money in answers is an exact decimal string with
//! four decimals.
//!
//! With `cargo run --example master_station` (API on `127.0.0.1:8376`; it prints the
//! bootstrap key, here in `$KEY`) and `cargo run --example terminal` running:
//!
//! ```text
//! curl -s localhost:8376/api/customers -H "authorization: Bearer $KEY"
//! curl -s -X POST localhost:8376/api/payments -H "authorization: Bearer $KEY" \
//!      -H 'content-type: application/json' \
//!      -d '{"customer": "Li Wei", "amount": "50.00", "order_no": "WX-20260302-0001", "channel": "wechat"}'
//! curl -s -X POST localhost:8376/api/operators -H "authorization: Bearer $KEY" \
//!      -H 'content-type: application/json' -d '{"name": "till-1", "role": "cashier"}'
//! curl -s 'localhost:8376/api/audit?limit=50' -H "authorization: Bearer $KEY"
//! ```
//!
//! # Vending (STS currency tokens)
//!
//! One model, on both sides: the token carries **money**. The master vends IEC 62055-41
//! currency-transfer tokens (class 0, subclass 4) whose amount counts the site's
//! `[sts] currency_unit` (default 0.01); the terminal's local-fee-control meters keep their
//! wallet in money and credit exactly amount × unit, at any hour (an energy token is refused
//! there). No price converts a token, so the vend → credit round trip is exact. The amount
//! code cannot carry every value ([`vend_split`]): what it cannot carry is the customer's
//! vend remainder (`customers.vend_remainder`), stored with the token and added to the next
//! vend, so money paid + remainder before = credit + remainder after.
//!
//! # Payments
//!
//! The customer's engine decides: a top-up with the customer's next purchase count. The
//! payment row records the decision — `applied` with the purchase count it took, or `refused`
//! with the engine's reason (hoarding limit, overflow) — in the same unit as the customer's
//! new state. Only applied payments take a purchase count, so a refused payment never blocks
//! later ones (also after a restart). Answers: `200 {status: "applied", seq, balance, …}`,
//! `409 {status: "refused", reason, …}`; an amount that is not positive, has more decimals
//! than the currency's minor unit (`[payments] minor_unit_digits`, default 2) or exceeds
//! `[payments] max_amount` (default 5000.00) is `422 {status: "refused", reason}` and is not
//! recorded. The same order number again answers `{status: "duplicate", outcome, reason?}`
//! with the first decision (200 if it was applied, 409 if refused) and changes nothing; the
//! same order number with another customer or amount is a 409. `503` means the payment was
//! not recorded: retry with the same order number.
//!
//! # Durability
//!
//! Every input's writes form one unit ([`store::Unit`]), run in its own `SAVEPOINT` of the
//! DB thread's batch transaction: a failing unit rolls back its own work only. API answers,
//! commands handed to the tracker (hence to terminals) and the committed state of an account
//! take effect only once the DB thread reports the batch committed; a unit that fails (write
//! error, disk full, failed `COMMIT`) returns its customer to the last committed state and
//! its originator hears of it (503). Batches with payments or tokens commit with
//! `PRAGMA synchronous = FULL` (`db_full_sync_commits` in `GET /api/stats` counts commits
//! whose setting, read back inside the transaction, was `FULL`), others with `NORMAL`. A
//! second master on the same database file is refused: the first holds an exclusive lock on
//! `<db>.lock` until it stops.
//!
//! # Readings
//!
//! A reading is billed only if plausible against the meter's last good reading: not
//! backwards (a rollover of the 10^6 kWh register counts only when the previous value was
//! within reach of the modulus), and at most the meter's maximum demand (`max_demand_kw` of
//! the meter, else `[readings] max_demand_kw`, default 40 kW) × the elapsed time +
//! `[readings] margin_kwh` (default 1 kWh). Anything else goes to `reading_exceptions`
//! (`GET /api/exceptions`: meter, previous, current, first/last seen, count, reason
//! `backwards` / `wrap` / `jump` / `out_of_range`, status `open` / `resolved`); it never
//! moves the baseline and never bills, so the next genuine reading bills only the consumption
//! since the last good one. A replaced meter is recorded with
//! `POST /api/meters/{address}/replace {final_kwh, initial_kwh}`: the old meter's
//! consumption from the last good reading to its final reading is billed once
//! (`amikit_tariff::delta_across_change`), the new meter's initial reading becomes the
//! baseline and the meter's open exceptions are resolved. (The meter keeps its address; a
//! new address is refused, not supported yet.)
//!
//! # Conventions with the terminal
//!
//! AFN 05 control items use pn = the meter's measurement point; AFN 10 F1 forwards go to port 2
//! (2400 8E1); DL/T 645 `1C` frames built here use password level 02, password 000000,
//! operator code 00000000. Important events of the amikit terminal (ERC 19, 20, 23, 33) carry
//! the measurement point after their time, which the master uses to file them under the
//! customer. Readings are timed when the response arrives (master's simulated clock), not by
//! the terminal's read time (format 15 has minute resolution).

pub mod api;
pub mod api_gate;
pub mod api_serve;
pub mod auth;
pub mod billing;
pub mod cli;
pub mod control;
pub mod core;
pub mod error;
pub mod fep;
pub mod http;
pub mod jobs_api;
pub mod msg;
pub mod stats;
pub mod store;
pub mod vend_split;
pub mod views;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::{Arc, Mutex};

use amikit_gdw376::Profile;
use amikit_prepay::{Timestamp, TrackerConfig};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::clock::{SimClock, SimSeconds};
use crate::db::Db;
use crate::site::{FeeControl, Site, workspace_root};

pub use error::{ApiError, MasterError, MasterResult};
pub use http::{http_json, http_list, http_raw};

/// How control commands reach the meters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ControlVia {
    /// AFN 05 F1/F2/F25/F33/F26/F34 with pn = the meter's measurement point.
    #[default]
    Afn05,
    /// AFN 10 F1 carrying a DL/T 645 `1C` frame built by the master.
    Afn10,
}

impl ControlVia {
    /// `afn05` / `afn10`.
    pub fn name(self) -> &'static str {
        match self {
            ControlVia::Afn05 => "afn05",
            ControlVia::Afn10 => "afn10",
        }
    }
}

impl std::str::FromStr for ControlVia {
    type Err = MasterError;
    fn from_str(s: &str) -> Result<Self, MasterError> {
        match s {
            "afn05" => Ok(ControlVia::Afn05),
            "afn10" => Ok(ControlVia::Afn10),
            other => Err(MasterError::config(
                format!("--control-via {other:?}"),
                "expected afn05 or afn10",
            )),
        }
    }
}

/// Limits on the terminals' side of the master (safe defaults, [`LinkLimits::default`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkLimits {
    /// Terminal connections open at once; more are closed at accept (`connections_refused`).
    pub max_connections: u64,
    /// Real milliseconds a connection may stay without a proven login (`prelogin_timeouts`).
    pub prelogin_timeout_ms: u64,
    /// Unsolicited event reports (AFN 0E) stored per terminal per real minute; more are
    /// dropped (`reports_dropped`; the events stay in the terminal and are pulled with ACD).
    pub reports_per_minute: u32,
    /// Real milliseconds a write to a terminal may take before the connection is closed
    /// (`write_timeouts`).
    pub write_timeout_ms: u64,
    /// The kernel send buffer of each terminal connection, bytes (`SO_SNDBUF`, set on the
    /// listener and inherited at accept; 0: the kernel's autotuning, up to megabytes a
    /// connection). Bounds the memory a terminal that stops reading holds, and lets
    /// `write_timeout_ms` notice it after that many bytes instead of megabytes.
    pub send_buffer_bytes: u32,
}

impl Default for LinkLimits {
    /// 20 000 connections, 10 s to log in, 60 reports a minute, 10 s per write, a 64 KiB send
    /// buffer per connection.
    fn default() -> Self {
        Self {
            max_connections: 20_000,
            prelogin_timeout_ms: 10_000,
            reports_per_minute: 60,
            write_timeout_ms: 10_000,
            send_buffer_bytes: 64 * 1024,
        }
    }
}

/// Everything [`start`] needs.
#[derive(Debug, Clone)]
pub struct MasterOptions {
    /// The deployment (customers, meters, tariffs, vending key); seeds an empty database.
    pub site: Site,
    /// The SQLite file (created and migrated on first start).
    pub db: PathBuf,
    /// Where terminals connect (port 0: any free port, see [`MasterHandle::terminal_addr`]).
    pub listen: SocketAddr,
    /// The operator API (port 0: any free port, see [`MasterHandle::http_addr`]).
    pub http: SocketAddr,
    /// The simulated clock (business time).
    pub clock: SimClock,
    /// How commands reach meters.
    pub control_via: ControlVia,
    /// Simulated seconds between reads of a meter (900: every 15 minutes).
    pub read_every: u64,
    /// The terminals' heartbeat period, simulated seconds (offline after three silent periods,
    /// but never sooner than 3 real seconds).
    pub heartbeat: u64,
    /// Real milliseconds to wait for a response before retransmitting (two retransmissions).
    pub response_timeout_ms: u64,
    /// Command tracking (simulated seconds); `None`: derived from the clock speed so that the
    /// tracker's acknowledgement timeout covers the link's real-time retries
    /// ([`default_tracker`]).
    pub tracker: Option<TrackerConfig>,
    /// The largest size of the database, pages (SQLite `max_page_count`, applied after
    /// seeding); `None`: SQLite's limit. Writes beyond it fail as on a full disk.
    pub db_max_pages: Option<u32>,
    /// Operators configured outside the site file (`--operator`), on top of the site file's
    /// `[[operators]]` and those made over the API. With none at all, a bootstrap admin key
    /// is made ([`MasterHandle::bootstrap_key`]).
    pub operators: Vec<auth::Operator>,
    /// `Host` values the API accepts besides its listen address and `localhost:<port>`
    /// (a present `Origin` must be `http://` and one of them).
    pub http_hosts: Vec<String>,
    /// The API's timeouts, connection and size limits.
    pub http_limits: api_serve::HttpLimits,
    /// Limits on the terminals' side.
    pub limits: LinkLimits,
}

impl MasterOptions {
    /// Options with the defaults: loopback on free ports, AFN 05 control, reads every 15
    /// simulated minutes, 60 s heartbeat, 2 s response timeout, tracker derived from the speed.
    pub fn new(site: Site, db: PathBuf, clock: SimClock) -> Self {
        let lo = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            site,
            db,
            listen: lo,
            http: lo,
            clock,
            control_via: ControlVia::Afn05,
            read_every: 900,
            heartbeat: 60,
            response_timeout_ms: 2000,
            tracker: None,
            db_max_pages: None,
            operators: Vec::new(),
            http_hosts: Vec::new(),
            http_limits: api_serve::HttpLimits::default(),
            limits: LinkLimits::default(),
        }
    }
}

/// The terminals' listener on `addr` (address reuse as `TcpListener::bind`); connections it
/// accepts inherit a send buffer of `send_buffer` bytes (0: the kernel's autotuning).
fn terminal_listener(addr: SocketAddr, send_buffer: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if send_buffer > 0 {
        socket.set_send_buffer_size(send_buffer)?;
    }
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Tracker timing for a clock running `speed` times real time with link timeouts of
/// `response_timeout_ms`: the acknowledgement timeout covers a request and its two
/// retransmissions (about 4 × the response timeout, real), retries start after half a real
/// second, a restoring close must be acknowledged within 15 simulated minutes or twice the
/// acknowledgement timeout, whichever is longer; manual job after 5 failures.
pub fn default_tracker(speed: u32, response_timeout_ms: u64) -> TrackerConfig {
    let speed = u64::from(speed.max(1));
    let sim =
        |real_ms: u64| u32::try_from(real_ms.saturating_mul(speed) / 1000).unwrap_or(u32::MAX);
    let ack_timeout = sim(response_timeout_ms.saturating_mul(4) + 500).max(30);
    let retry_base = sim(500).max(30);
    let retry_max = retry_base.saturating_mul(8).max(600);
    let mut c = TrackerConfig::default();
    c.validity = ack_timeout
        .saturating_mul(8)
        .saturating_add(retry_max.saturating_mul(5))
        .max(1800);
    c.ack_timeout = ack_timeout;
    c.retry_base = retry_base;
    c.retry_max = retry_max;
    c.max_failures = 5;
    c.restore_within = ack_timeout.saturating_mul(2).max(900);
    c
}

/// Seconds from 1970-01-01 to 2000-01-01 (local civil time in both).
pub(crate) const UNIX_2000: i64 = 946_684_800;

/// The 376.1 calendar time of a simulated time (for Tp); `None` outside the calendar.
pub fn wall_376(t: SimSeconds) -> Option<amikit_gdw376::time::DateTime> {
    amikit_gdw376::time::DateTime::from_seconds_since_epoch(t + UNIX_2000).ok()
}

/// The engine timestamp of a simulated time.
pub fn sim_ts(t: SimSeconds) -> Timestamp {
    Timestamp(t + UNIX_2000)
}

/// Simulated seconds of a local-time count since 1970.
pub fn unix_to_sim(u: i64) -> SimSeconds {
    u - UNIX_2000
}

/// Link settings shared by the connection tasks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkCfg {
    pub profile: Profile,
    pub msa: u8,
    pub read_every: u64,
    pub heartbeat_ms: u64,
    pub response_timeout_ms: u64,
    pub control_via: ControlVia,
    /// Tp's allowed delay (simulated minutes) of every request (reads, commands, the identity
    /// challenge): it covers the request and its two retransmissions.
    pub tp_command_min: u8,
}

/// Simulated minutes (rounded up, 1–255) that `real_ms` real milliseconds last at `speed`.
pub(crate) fn tp_minutes(real_ms: u64, speed: u32) -> u8 {
    let sim_ms = real_ms.saturating_mul(u64::from(speed.max(1)));
    u8::try_from(sim_ms.div_ceil(60_000).clamp(1, 255)).unwrap_or(u8::MAX)
}

/// A terminal of the site, with its live state.
#[derive(Debug)]
pub(crate) struct TermInfo {
    pub id: i64,
    pub a1: u16,
    pub a2: u32,
    /// Its keys from the site file (`None`: every login is refused).
    pub keys: Option<crate::keys::TerminalKeys>,
    /// The frame counter (PFC) of the last request to it: a new connection continues from
    /// here, so that the terminal's replay guard never sees a PFC again within its Tp window.
    pub pfc: std::sync::atomic::AtomicU8,
    pub meters: Vec<usize>,
    pub online: AtomicBool,
    pub last_seen: AtomicI64,
    pub conn: Mutex<Option<mpsc::Sender<msg::ConnCmd>>>,
    pub event_ptr: Mutex<Option<u8>>,
    /// Stagger of the read rounds, simulated seconds.
    pub offset: u64,
}

/// A meter of the site.
#[derive(Debug)]
pub(crate) struct MeterInfo {
    pub id: i64,
    pub terminal: usize,
    pub pn: u16,
    pub address: amikit_dlt645::Address,
    pub address_text: String,
    pub customer_id: i64,
    pub fee: FeeControl,
    /// Read the relay state (status word 3) in every round.
    pub watch: AtomicBool,
}

/// What the API accepts as the amount of a payment or a token (the site's `[payments]`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AmountRules {
    /// Decimals of the minor unit.
    pub minor_digits: u8,
    /// 1e-4 units per minor unit: an amount's raw value must be a multiple of it.
    pub minor_step: i64,
    /// The largest amount.
    pub max: amikit_tariff::Money,
}

impl AmountRules {
    fn from_site(rules: &crate::site::PaymentRules) -> MasterResult<Self> {
        let d = rules.minor_unit_digits;
        if d > 4 {
            return Err(MasterError::config(
                "payments.minor_unit_digits",
                "at most 4 (money is kept to 1e-4)",
            ));
        }
        let max = billing::money_from_text(&rules.max_amount)?;
        if !max.is_positive() {
            return Err(MasterError::config(
                "payments.max_amount",
                "must be positive",
            ));
        }
        Ok(Self {
            minor_digits: d,
            minor_step: 10i64.pow(4 - u32::from(d)),
            max,
        })
    }
}

/// A customer as the API resolves it.
#[derive(Debug, Clone)]
pub(crate) struct CustInfo {
    pub id: i64,
    pub name: String,
    pub fee: FeeControl,
    pub meters: Vec<usize>,
}

/// State shared by every task of one master.
#[derive(Debug)]
pub(crate) struct Shared {
    pub clock: SimClock,
    pub link: LinkCfg,
    pub terminals: Vec<TermInfo>,
    pub term_by_addr: HashMap<(u16, u32), usize>,
    pub meters: Vec<MeterInfo>,
    pub meter_by_id: HashMap<i64, usize>,
    pub meter_by_address: HashMap<String, usize>,
    pub customers: Vec<CustInfo>,
    pub customer_by_id: HashMap<i64, usize>,
    pub customer_by_name: HashMap<String, usize>,
    pub stats: Arc<stats::Stats>,
    pub amounts: AmountRules,
    pub core: mpsc::Sender<msg::CoreMsg>,
    pub store: store::Store,
    pub operators: auth::Operators,
    pub origins: api_gate::Origins,
    pub epoch: std::time::Instant,
    /// The command tracker: the core drives it, connections check a command's liveness
    /// with it when the command leaves their queue.
    pub trackers: Arc<control::Trackers>,
    /// Limits on the terminals' side.
    pub limits: LinkLimits,
}

impl Shared {
    /// Milliseconds of the link clock.
    pub(crate) fn link_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A running master station.
#[derive(Debug)]
pub struct MasterHandle {
    terminal_addr: SocketAddr,
    http_addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    fep: JoinHandle<()>,
    http: JoinHandle<()>,
    core: JoinHandle<()>,
    db_thread: std::thread::JoinHandle<()>,
    bootstrap_key: Option<auth::ApiKey>,
}

impl MasterHandle {
    /// Where terminals connect.
    pub fn terminal_addr(&self) -> SocketAddr {
        self.terminal_addr
    }

    /// The operator API.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The admin key made at start because no operator was configured (none: operators
    /// exist). Shown once by the `master_station` program; tests and the demo use it.
    pub fn bootstrap_key(&self) -> Option<&auth::ApiKey> {
        self.bootstrap_key.as_ref()
    }

    /// The simulated clock the master runs on.
    pub fn clock(&self) -> &SimClock {
        &self.shared.clock
    }

    /// The counters (`GET /api/stats` shows the same).
    pub fn stats(&self) -> serde_json::Value {
        self.shared.stats.to_json()
    }

    /// Stops accepting terminals, closes every connection (failing commands in flight, which
    /// stay live in the database and are sent again after a restart), stops the API, lets the
    /// core finish, commits the database and closes it.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.fep.await;
        let _ = self.http.await;
        let (reply, rx) = tokio::sync::oneshot::channel();
        if self
            .shared
            .core
            .send(msg::CoreMsg::Stop { reply })
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
        let _ = self.core.await;
        self.shared.store.stop().await;
        let t = self.db_thread;
        let _ = tokio::task::spawn_blocking(move || t.join()).await;
    }
}

fn region_a1(region: &str) -> MasterResult<u16> {
    u16::from_str_radix(region, 16)
        .map_err(|e| MasterError::config(format!("region {region:?}"), e))
}

/// Starts a master station: opens (creating, migrating and seeding) the database, binds the
/// terminal and API listeners, and runs until [`MasterHandle::shutdown`].
pub async fn start(opts: MasterOptions) -> MasterResult<MasterHandle> {
    if !opts.http.ip().is_loopback() {
        return Err(MasterError::NotLoopback(opts.http));
    }
    let amounts = AmountRules::from_site(&opts.site.payments)?;
    // One master per database: the lock is held by the DB thread until it stops.
    let lock = store::lock(&opts.db)?;
    let now = opts.clock.now();
    let path = opts.db.clone();
    let site = opts.site.clone();
    let max_pages = opts.db_max_pages;
    let (db, loaded, api_operators) = tokio::task::spawn_blocking(move || -> MasterResult<_> {
        let mut db = Db::open(&path).map_err(|source| MasterError::Open {
            path: path.clone(),
            source,
        })?;
        store::seed(&mut db, &site, &workspace_root(), now)?;
        let loaded = store::load(&db)?;
        let api_operators = store::queries::load_operators(db.conn())?;
        if let Some(pages) = max_pages {
            db.set_max_pages(pages)?;
        }
        Ok((db, loaded, api_operators))
    })
    .await
    .map_err(|e| MasterError::Task(e.to_string()))??;

    let (operators, bootstrap_key) = operators(&opts, api_operators)?;
    let stats = Arc::new(stats::Stats::new());
    let (store, db_thread, reports) = store::Store::spawn(db, lock, stats.clone())?;
    let listener = terminal_listener(opts.listen, opts.limits.send_buffer_bytes)
        .map_err(|e| MasterError::io(format!("listen {}", opts.listen), e))?;
    let http_listener = TcpListener::bind(opts.http)
        .await
        .map_err(|e| MasterError::io(format!("http {}", opts.http), e))?;
    let terminal_addr = listener
        .local_addr()
        .map_err(|e| MasterError::io("listen", e))?;
    let http_addr = http_listener
        .local_addr()
        .map_err(|e| MasterError::io("http", e))?;

    region_a1(&opts.site.region)?;
    let read_every = opts.read_every.max(1);
    let site_keys: HashMap<u32, crate::keys::TerminalKeys> = opts
        .site
        .terminals
        .iter()
        .filter_map(|t| Some((u32::from(t.a2), t.keys()?)))
        .collect();
    let mut terminals = Vec::new();
    let mut term_by_addr = HashMap::new();
    let mut term_by_id = HashMap::new();
    for t in &loaded.terminals {
        let t_a1 = region_a1(&t.a1)?;
        let i = terminals.len();
        term_by_addr.insert((t_a1, t.a2), i);
        term_by_id.insert(t.id, i);
        terminals.push(TermInfo {
            id: t.id,
            a1: t_a1,
            a2: t.a2,
            keys: site_keys.get(&t.a2).cloned(),
            // A random start: a restarted master does not repeat the PFCs of its last run.
            pfc: std::sync::atomic::AtomicU8::new(crate::keys::challenge().map_or(0, |c| c[0])),
            meters: Vec::new(),
            online: AtomicBool::new(false),
            last_seen: AtomicI64::new(t.last_seen.unwrap_or(i64::MIN)),
            conn: Mutex::new(None),
            event_ptr: Mutex::new(t.event_ptr),
            offset: (u64::from(t.a2).wrapping_mul(7919)) % read_every,
        });
    }
    let mut customers = Vec::new();
    let mut customer_by_id = HashMap::new();
    let mut customer_by_name = HashMap::new();
    for c in &loaded.customers {
        let i = customers.len();
        customer_by_id.insert(c.id, i);
        customer_by_name.insert(c.name.clone(), i);
        customers.push(CustInfo {
            id: c.id,
            name: c.name.clone(),
            fee: c.fee_control,
            meters: Vec::new(),
        });
    }
    let mut meters = Vec::new();
    let mut meter_by_id = HashMap::new();
    let mut meter_by_address = HashMap::new();
    for m in &loaded.meters {
        let Some(&terminal) = term_by_id.get(&m.terminal_id) else {
            continue;
        };
        let Some(&cust) = customer_by_id.get(&m.customer_id) else {
            continue;
        };
        let address = amikit_dlt645::Address::parse(&m.address)
            .map_err(|e| MasterError::config(format!("meter {}", m.address), e))?;
        let i = meters.len();
        meter_by_id.insert(m.id, i);
        meter_by_address.insert(m.address.clone(), i);
        if let Some(t) = terminals.get_mut(terminal) {
            t.meters.push(i);
        }
        let fee = customers.get(cust).map_or(FeeControl::Remote, |c| c.fee);
        if let Some(c) = customers.get_mut(cust) {
            c.meters.push(i);
        }
        meters.push(MeterInfo {
            id: m.id,
            terminal,
            pn: m.pn,
            address,
            address_text: m.address.clone(),
            customer_id: m.customer_id,
            fee,
            watch: AtomicBool::new(fee == FeeControl::Local || m.relay.as_deref() == Some("open")),
        });
    }

    let heartbeat_ms = u64::try_from(opts.clock.real(opts.heartbeat.max(1)).as_millis())
        .unwrap_or(u64::MAX)
        .max(1000);
    let (core_tx, core_rx) = mpsc::channel(65_536);
    let response_timeout_ms = opts.response_timeout_ms.max(50);
    let tracker = opts
        .tracker
        .unwrap_or_else(|| default_tracker(opts.clock.speed(), response_timeout_ms));
    let trackers = Arc::new(control::Trackers::new(tracker, meters.len()));
    let shared = Arc::new(Shared {
        clock: opts.clock.clone(),
        link: LinkCfg {
            profile: Profile::STRICT_2013,
            msa: opts.site.msa,
            read_every,
            heartbeat_ms,
            response_timeout_ms,
            control_via: opts.control_via,
            // A request, two retransmissions after back-off (1×, then 2× the timeout), and
            // as much again for the link's own delays.
            tp_command_min: tp_minutes(response_timeout_ms.saturating_mul(8), opts.clock.speed()),
        },
        terminals,
        term_by_addr,
        meters,
        meter_by_id,
        meter_by_address,
        customers,
        customer_by_id,
        customer_by_name,
        stats,
        amounts,
        core: core_tx,
        store,
        operators,
        origins: api_gate::Origins::new(http_addr, &opts.http_hosts),
        epoch: std::time::Instant::now(),
        trackers,
        limits: opts.limits,
    });

    let core = core::Core::new(shared.clone(), loaded, &opts.site, tracker)?;
    let core = tokio::spawn(core.run(core_rx, reports));
    let (stop, stop_rx) = watch::channel(false);
    let fep = tokio::spawn(fep::serve(shared.clone(), listener, stop_rx.clone()));
    let http = tokio::spawn(api::serve(
        shared.clone(),
        http_listener,
        opts.http_limits,
        stop_rx,
    ));
    Ok(MasterHandle {
        terminal_addr,
        http_addr,
        shared,
        stop,
        fep,
        http,
        core,
        db_thread,
        bootstrap_key,
    })
}

/// The operators of a master: the site file's, the options', the API's (stored); with none,
/// a bootstrap admin whose key is returned.
fn operators(
    opts: &MasterOptions,
    stored: Vec<store::queries::OperatorRow>,
) -> MasterResult<(auth::Operators, Option<auth::ApiKey>)> {
    let bad = |what: String, e: auth::AuthError| MasterError::config(what, e);
    let mut list = Vec::new();
    for o in &opts.site.operators {
        list.push(
            o.to_operator()
                .map_err(|e| bad(format!("operator {:?}", o.name), e))?,
        );
    }
    list.extend(opts.operators.iter().cloned());
    for row in stored {
        let what = format!("stored operator {:?}", row.name);
        let role = row
            .role
            .parse()
            .map_err(|e: auth::UnknownRole| MasterError::config(what.clone(), e))?;
        let hash = row.key_hash.parse().map_err(|e| bad(what.clone(), e))?;
        list.push(auth::Operator {
            name: row.name,
            role,
            hash,
            source: auth::Source::Api(row.id),
        });
    }
    let mut bootstrap = None;
    if list.is_empty() {
        let (admin, key) = auth::new_operator("admin", auth::Role::Admin, auth::Source::Bootstrap)
            .map_err(|e| bad("bootstrap admin".into(), e))?;
        list.push(admin);
        bootstrap = Some(key);
    }
    let ops = auth::Operators::new(list).map_err(|e| bad("operators".into(), e))?;
    Ok((ops, bootstrap))
}
