//! The soak driver and its command line.

use std::process::ExitCode;

/// Runs the master station as a child of the soak: the `master_station` command line
/// (`argv`, program name first); the process exits when its standard input closes, so that a
/// master never outlives the soak that started it.
pub fn master_child<I, T>(argv: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        std::process::exit(0);
    });
    crate::master::cli::main_with(argv)
}
