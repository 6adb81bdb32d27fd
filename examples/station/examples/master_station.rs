//! The example master station: a Q/GDW 376.1 front-end for terminals, SQLite accounts, remote
//! fee control, STS vending and an operator HTTP API on loopback.
//!
//! ```text
//! cargo run --example master_station -- --db master.db --speed 60   # prints an admin key
//! curl -s http://127.0.0.1:8376/api/customers -H "authorization: Bearer amk_…"
//! ```
//!
//! `--help` lists the options; the code lives in `amikit_station::master`.

fn main() -> std::process::ExitCode {
    amikit_station::master::cli::main()
}
