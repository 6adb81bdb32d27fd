//! Test support shared by the amikit crates (not published).
//!
//! Some conformance tests read vectors from an outside folder: material that may not be
//! redistributed stays out of this repository. There is exactly one way to find it:
//!
//! 1. the environment variable `AMIKIT_VECTORS`, if set;
//! 2. else `../shared/vectors` relative to the workspace root.
//!
//! When `AMIKIT_VECTORS` is not set and the folder is missing (a fresh clone), [`vectors_dir`]
//! prints that the test is skipped and why, and returns `None`; [`vectors_dir_if_present`] returns
//! `None` quietly, for tests that check their in-repository vectors anyway and say themselves what
//! they could not check. When `AMIKIT_VECTORS` is set, a missing folder is a failure: whoever
//! asked for the vectors gets them checked or a red test.

use std::path::{Path, PathBuf};

pub mod alloc;

/// The workspace root (two levels above this crate's manifest).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where the shared vectors are expected: `$AMIKIT_VECTORS`, else `<workspace>/../shared/vectors`.
pub fn vectors_path() -> PathBuf {
    match std::env::var_os("AMIKIT_VECTORS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("..").join("shared").join("vectors"),
    }
}

/// The shared vector folder, or `None` (with a printed "skipped" line) when it is missing.
///
/// # Panics
///
/// When the folder is missing and `AMIKIT_VECTORS` is set.
pub fn vectors_dir(test: &str) -> Option<PathBuf> {
    let dir = vectors_dir_if_present(test);
    if dir.is_none() {
        println!(
            "{test}: SKIPPED, conformance vectors not found at {} (set AMIKIT_VECTORS)",
            vectors_path().display()
        );
    }
    dir
}

/// The shared vector folder, or `None` without printing anything when it is missing: for tests
/// whose own vectors are in the repository and which only add the outside ones when present
/// (they say themselves what they could not check).
///
/// # Panics
///
/// When the folder is missing and `AMIKIT_VECTORS` is set.
#[allow(clippy::panic)]
pub fn vectors_dir_if_present(test: &str) -> Option<PathBuf> {
    let dir = vectors_path();
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os("AMIKIT_VECTORS").is_some_and(|v| !v.is_empty()) {
        panic!(
            "{test}: conformance vectors not found at {} (AMIKIT_VECTORS is set, so this is a failure)",
            dir.display()
        );
    }
    None
}

/// Reads and parses a JSON file below the vector folder, e.g. `"dlt645/frames.json"`.
///
/// Returns `None` (after printing why) when the folder is missing; see [`vectors_dir`].
///
/// # Panics
///
/// When the folder exists but the file is missing or is not valid JSON.
pub fn load_json(test: &str, relative: &str) -> Option<serde_json::Value> {
    vectors_dir(test).map(|dir| read_json(test, &dir.join(relative)))
}

/// [`load_json`] without the "skipped" line: `None` when the folder is missing (see
/// [`vectors_dir_if_present`]).
///
/// # Panics
///
/// When the folder exists but the file is missing or is not valid JSON, or when the folder is
/// missing and `AMIKIT_VECTORS` is set.
pub fn load_json_if_present(test: &str, relative: &str) -> Option<serde_json::Value> {
    vectors_dir_if_present(test).map(|dir| read_json(test, &dir.join(relative)))
}

#[allow(clippy::panic)]
fn read_json(test: &str, path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{test}: cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{test}: {} is not valid JSON: {e}", path.display()))
}

/// Decodes a hex string, ignoring ASCII white space.
///
/// # Panics
///
/// On invalid hex (test input is trusted).
#[allow(clippy::panic)]
pub fn hex(s: &str) -> Vec<u8> {
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    ::hex::decode(&compact).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

/// Encodes bytes as upper-case hex without separators.
pub fn to_hex(bytes: &[u8]) -> String {
    ::hex::encode_upper(bytes)
}
