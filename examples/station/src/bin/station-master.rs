//! The master station as a child process of the chaos soak (`amikit_station::chaos`): the
//! `master_station` example's command line, and it exits when its standard input closes (its
//! parent went away). Tests start it through `CARGO_BIN_EXE_station-master`.

fn main() -> std::process::ExitCode {
    amikit_station::chaos::soak::master_child(std::env::args_os())
}
