//! Counters and a request-latency histogram, shared by every connection task without locks.
//!
//! The scale run reads them through `GET /api/stats` (and resets them with
//! `POST /api/stats/reset` after its warm-up).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::views::{LatencyView, StatsCounters, to_json};

/// Histogram resolution: 50 µs buckets up to 100 ms, then one overflow bucket.
const BUCKET_US: u64 = 50;
const BUCKETS: usize = 2000;

/// Process-wide counters of the front-end processor.
#[derive(Debug)]
pub struct Stats {
    /// TCP connections accepted.
    pub connections: AtomicU64,
    /// Logins (AFN 02 F1) received.
    pub logins: AtomicU64,
    /// Heartbeats (AFN 02 F3) received.
    pub heartbeats: AtomicU64,
    /// Frames received from terminals.
    pub frames_in: AtomicU64,
    /// Frames sent to terminals (requests, retransmissions, acknowledgements).
    pub frames_out: AtomicU64,
    /// Bytes received.
    pub bytes_in: AtomicU64,
    /// Bytes sent.
    pub bytes_out: AtomicU64,
    /// Requests issued by the master (reads, forwards, controls).
    pub requests: AtomicU64,
    /// Requests that got a complete response.
    pub responses: AtomicU64,
    /// Requests that timed out after all retransmissions.
    pub timeouts: AtomicU64,
    /// Frames that did not parse.
    pub rejected: AtomicU64,
    /// Register readings stored.
    pub readings: AtomicU64,
    /// DB transactions committed.
    pub db_batches: AtomicU64,
    /// DB operations executed.
    pub db_ops: AtomicU64,
    /// DB operations that failed.
    pub db_errors: AtomicU64,
    /// DB transactions committed with `synchronous = FULL` (read back before the commit).
    pub db_full_sync_commits: AtomicU64,
    // Terminal links (issue 11).
    /// Commands dropped when they left a connection's queue (superseded, cancelled, expired, parked or retried since: `command_dropped` events).
    pub commands_dropped: AtomicU64,
    /// Logins of an A1/A2 that is not a terminal of the site (closed; no database row).
    pub logins_unknown: AtomicU64,
    /// Logins of a known terminal that did not prove its identity (no key, wrong answer, no answer).
    pub logins_refused: AtomicU64,
    /// Logins whose identity proof (AFN 06) succeeded.
    pub logins_proven: AtomicU64,
    /// Connections refused at accept because `max_connections` were open.
    pub connections_refused: AtomicU64,
    /// Connections closed because no proven login came within `prelogin_timeout_ms`.
    pub prelogin_timeouts: AtomicU64,
    /// Unsolicited event reports (AFN 0E) beyond `reports_per_minute` of a terminal, not stored.
    pub reports_dropped: AtomicU64,
    /// Connections closed because a write to the terminal took longer than `write_timeout_ms`.
    pub write_timeouts: AtomicU64,
    /// Terminal connections open now (not reset).
    pub connections_open: AtomicU64,
    /// Reads (AFN 0C, AFN 10 reads) the terminal denied (AFN 00 F2: no data, or refused for
    /// PW / Tp — stale, replayed, replay guard full); each is read again with a new request.
    pub denied_reads: AtomicU64,
    /// Commands the terminal denied (AFN 00 F2).
    pub denied_commands: AtomicU64,
    latency: Vec<AtomicU64>,
    latency_max_us: AtomicU64,
    latency_sum_us: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

fn counter() -> AtomicU64 {
    AtomicU64::new(0)
}

impl Stats {
    /// All zero.
    pub fn new() -> Self {
        Self {
            connections: counter(),
            logins: counter(),
            heartbeats: counter(),
            frames_in: counter(),
            frames_out: counter(),
            bytes_in: counter(),
            bytes_out: counter(),
            requests: counter(),
            responses: counter(),
            timeouts: counter(),
            rejected: counter(),
            readings: counter(),
            db_batches: counter(),
            db_ops: counter(),
            db_errors: counter(),
            db_full_sync_commits: counter(),
            commands_dropped: counter(),
            logins_unknown: counter(),
            logins_refused: counter(),
            logins_proven: counter(),
            connections_refused: counter(),
            prelogin_timeouts: counter(),
            reports_dropped: counter(),
            write_timeouts: counter(),
            connections_open: counter(),
            denied_reads: counter(),
            denied_commands: counter(),
            latency: (0..=BUCKETS).map(|_| counter()).collect(),
            latency_max_us: counter(),
            latency_sum_us: counter(),
        }
    }

    /// Adds one to a counter.
    pub fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n` to a counter.
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Records the latency of one request (request sent → response complete).
    pub fn record_latency(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = usize::try_from(us / BUCKET_US)
            .unwrap_or(BUCKETS)
            .min(BUCKETS);
        if let Some(b) = self.latency.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.latency_max_us.fetch_max(us, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The latency below which `q` (0–1000 ‰) of the recorded requests fall, in µs (the upper
    /// edge of the bucket), or `None` without samples.
    pub fn latency_quantile_us(&self, permille: u64) -> Option<u64> {
        let counts: Vec<u64> = self
            .latency
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (total * permille).div_ceil(1000).max(1);
        let mut seen = 0u64;
        for (i, n) in counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                if i >= BUCKETS {
                    return Some(self.latency_max_us.load(Ordering::Relaxed));
                }
                return Some((i as u64 + 1) * BUCKET_US);
            }
        }
        Some(self.latency_max_us.load(Ordering::Relaxed))
    }

    /// Zeroes every counter (the scale run calls this after its warm-up).
    pub fn reset(&self) {
        for c in [
            &self.connections,
            &self.logins,
            &self.heartbeats,
            &self.frames_in,
            &self.frames_out,
            &self.bytes_in,
            &self.bytes_out,
            &self.requests,
            &self.responses,
            &self.timeouts,
            &self.rejected,
            &self.readings,
            &self.db_batches,
            &self.db_ops,
            &self.db_errors,
            &self.db_full_sync_commits,
            &self.commands_dropped,
            &self.logins_unknown,
            &self.logins_refused,
            &self.logins_proven,
            &self.connections_refused,
            &self.prelogin_timeouts,
            &self.reports_dropped,
            &self.write_timeouts,
            &self.denied_reads,
            &self.denied_commands,
            &self.latency_max_us,
            &self.latency_sum_us,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        for b in &self.latency {
            b.store(0, Ordering::Relaxed);
        }
    }

    /// The counters now (`GET /api/stats`).
    pub fn snapshot(&self) -> StatsCounters {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let samples: u64 = self.latency.iter().map(get).sum();
        let mean = self
            .latency_sum_us
            .load(Ordering::Relaxed)
            .checked_div(samples);
        StatsCounters {
            connections: get(&self.connections),
            logins: get(&self.logins),
            heartbeats: get(&self.heartbeats),
            frames_in: get(&self.frames_in),
            frames_out: get(&self.frames_out),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
            requests: get(&self.requests),
            responses: get(&self.responses),
            timeouts: get(&self.timeouts),
            rejected: get(&self.rejected),
            readings: get(&self.readings),
            db_batches: get(&self.db_batches),
            db_ops: get(&self.db_ops),
            db_errors: get(&self.db_errors),
            db_full_sync_commits: get(&self.db_full_sync_commits),
            commands_dropped: get(&self.commands_dropped),
            logins_unknown: get(&self.logins_unknown),
            logins_refused: get(&self.logins_refused),
            logins_proven: get(&self.logins_proven),
            connections_refused: get(&self.connections_refused),
            prelogin_timeouts: get(&self.prelogin_timeouts),
            reports_dropped: get(&self.reports_dropped),
            write_timeouts: get(&self.write_timeouts),
            connections_open: get(&self.connections_open),
            denied_reads: get(&self.denied_reads),
            denied_commands: get(&self.denied_commands),
            latency_us: LatencyView {
                samples,
                mean,
                p50: self.latency_quantile_us(500),
                p90: self.latency_quantile_us(900),
                p99: self.latency_quantile_us(990),
                max: get(&self.latency_max_us),
                bucket: BUCKET_US,
            },
        }
    }

    /// The counters as JSON (`GET /api/stats`).
    pub fn to_json(&self) -> Value {
        to_json(&self.snapshot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_buckets() {
        let s = Stats::new();
        assert_eq!(s.latency_quantile_us(990), None);
        for us in 1..=100u64 {
            s.record_latency(Duration::from_micros(us * 100));
        }
        // 100 samples at 0.1, 0.2, …, 10 ms. The 50th is 5000 µs, in the 50 µs bucket
        // [5000, 5050): the median reads as its upper edge, 5050 µs; the 99th (9900 µs) as 9950.
        assert_eq!(s.latency_quantile_us(500), Some(5050));
        assert_eq!(s.latency_quantile_us(990), Some(9950));
        s.record_latency(Duration::from_secs(1));
        assert_eq!(s.latency_quantile_us(1000), Some(1_000_000));
        s.reset();
        assert_eq!(s.latency_quantile_us(500), None);
    }
}
