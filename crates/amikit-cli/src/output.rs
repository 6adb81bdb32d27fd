//! Printing results: human-readable text, or JSON with `--json`.

use std::fmt::Display;

/// Prints each result either as text or as one JSON document per line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Printer {
    json: bool,
}

impl Printer {
    /// A printer for `--json` (true) or human-readable output (false).
    pub(crate) fn new(json: bool) -> Self {
        Self { json }
    }

    /// Prints one result: `human` as text, or `json` as one line of JSON.
    pub(crate) fn print(&self, human: impl Display, json: &serde_json::Value) {
        if self.json {
            println!("{json}");
        } else {
            println!("{human}");
        }
    }
}
