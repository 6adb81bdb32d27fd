//! The demo: a master station and a terminal with five simulated meters in one process, one
//! scripted day at 1200× speed, a readable timeline, exit status 0 when every outcome held.
//!
//! ```text
//! cargo run --example demo            # the timeline
//! cargo run --example demo -- --json  # a machine-readable summary
//! ```
//!
//! The code lives in `amikit_station::demo`.

fn main() -> std::process::ExitCode {
    amikit_station::demo::main()
}
