//! `amikit`: decode and build prepaid-metering frames and tokens from the command line.
//!
//! Every subcommand prints human-readable text by default and JSON with `--json`. Errors go to
//! standard error; the exit status is 1 for an error, 2 for a usage error (clap's convention).

mod decode;
mod dlt645;
mod error;
mod gdw376;
mod input;
mod output;
mod prepay;
mod sts;
mod tariff;

use clap::{Parser, Subcommand};

use crate::error::CliError;
use crate::output::Printer;

/// Prepaid-metering protocols from the command line: DL/T 645, Q/GDW 376.1, STS.
#[derive(Debug, Parser)]
#[command(name = "amikit", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Print JSON instead of human-readable text.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Recognise the protocol of a frame or token and decode it.
    Decode(decode::Args),
    /// DL/T 645: decode frames, build read requests.
    Dlt645(dlt645::Args),
    /// Q/GDW 376.1: decode frames, build master-station requests.
    Gdw376(gdw376::Args),
    /// STS (IEC 62055-41) tokens: decode, derive keys, generate.
    Sts(sts::Args),
    /// Charge control: replay a timed event list through the prepayment engine.
    Prepay(prepay::Args),
    /// Tariffs: vending quotes and charging register readings.
    Tariff(tariff::Args),
}

fn main() {
    let cli = Cli::parse();
    let printer = Printer::new(cli.json);
    let result: Result<(), CliError> = match cli.command {
        Command::Decode(args) => decode::run(&args, &printer),
        Command::Dlt645(args) => dlt645::run(&args, &printer),
        Command::Gdw376(args) => gdw376::run(&args, &printer),
        Command::Sts(args) => sts::run(&args, &printer),
        Command::Prepay(args) => prepay::run(&args, &printer),
        Command::Tariff(args) => tariff::run(&args, &printer),
    };
    if let Err(err) = result {
        eprintln!("amikit: {err}");
        std::process::exit(1);
    }
}
