//! A simulated Q/GDW 376.1 terminal with DL/T 645 meters behind it (see
//! `amikit_station::terminal`). `cargo run --example terminal -- --help`.

fn main() -> std::process::ExitCode {
    amikit_station::terminal::cli::main(std::env::args_os())
}
