//! The chaos soak: a master station (a child process, killed and restarted), a terminal and
//! its meters in a field that fights back — faults drawn from a seed, invariants checked
//! after every step, a counts table at the end, exit status 1 on any violation.
//!
//! ```text
//! cargo run --release --example soak -- --days 30 --seed 7
//! cargo run --example soak -- --days 1 --seed 1 --faults all,-disk_full --json
//! ```
//!
//! The code lives in `amikit_station::chaos`.

fn main() -> std::process::ExitCode {
    amikit_station::chaos::soak::main()
}
