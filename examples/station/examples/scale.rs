//! The scale run: one master station (this process) serving N simulated terminals (a child
//! process) on loopback; prints frames per second, request latency (p50/p99/max) and the master
//! station's resident memory.
//!
//! ```text
//! cargo run --release --example scale -- --terminals 1000
//! cargo run --release --example scale -- --terminals 10000
//! ```
//!
//! The code lives in `amikit_station::scale`.

fn main() -> std::process::ExitCode {
    amikit_station::scale::main()
}
