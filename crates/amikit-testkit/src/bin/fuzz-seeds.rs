//! Writes fuzz seed corpora generated from the shared conformance vectors.
//!
//! The vectors are never copied into the repository, so the seeds derived from them are made at
//! CI time: `cargo run -p amikit-testkit --bin fuzz-seeds -- fuzz/seeds`. For every fuzz target
//! (a file in `fuzz/fuzz_targets/`), the target's name prefix picks the seeds:
//!
//! * `dlt645_*`: every DL/T 645 frame of `dlt645/frames.json`, as bytes;
//! * `gdw376_*`: every Q/GDW 376.1 frame of `gdw376/frames.json`, as bytes;
//! * `sts_*`: every token of `sts/sts_vectors.json`, as its 20 ASCII digits.
//!
//! Other targets get no generated seeds (their committed `fuzz/corpus/<target>` still applies).
//! Without the vector folder this prints why and writes nothing (unless `CI` is set, see
//! [`amikit_testkit::vectors_dir`]).

use std::path::{Path, PathBuf};

use serde_json::Value;

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/seeds".into()),
    );
    let targets_dir = amikit_testkit::workspace_root()
        .join("fuzz")
        .join("fuzz_targets");
    let mut targets: Vec<String> = std::fs::read_dir(&targets_dir)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    name.strip_suffix(".rs").map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    targets.sort();

    let Some(dlt645) = amikit_testkit::load_json("fuzz-seeds", "dlt645/frames.json") else {
        return Ok(());
    };
    let gdw376 =
        amikit_testkit::load_json("fuzz-seeds", "gdw376/frames.json").unwrap_or(Value::Null);
    let sts =
        amikit_testkit::load_json("fuzz-seeds", "sts/sts_vectors.json").unwrap_or(Value::Null);

    let frames_645 = hex_strings(&dlt645, "hex");
    let frames_376 = hex_strings(&gdw376, "hex");
    let mut tokens = Vec::new();
    collect_strings(&sts, "token", &mut tokens);
    let tokens: Vec<Vec<u8>> = tokens
        .into_iter()
        .filter(|t| t.len() == 20 && t.bytes().all(|b| b.is_ascii_digit()))
        .map(String::into_bytes)
        .collect();

    for target in &targets {
        let seeds: &[Vec<u8>] = if target.starts_with("dlt645_") {
            &frames_645
        } else if target.starts_with("gdw376_") {
            &frames_376
        } else if target.starts_with("sts_") {
            &tokens
        } else {
            &[]
        };
        write_seeds(&out.join(target), seeds)?;
        println!("fuzz-seeds: {target}: {} seeds", seeds.len());
    }
    Ok(())
}

fn hex_strings(value: &Value, key: &str) -> Vec<Vec<u8>> {
    let mut strings = Vec::new();
    collect_strings(value, key, &mut strings);
    strings
        .iter()
        .filter_map(|s| {
            let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            hex::decode(compact).ok()
        })
        .collect()
}

fn collect_strings(value: &Value, key: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if k == key => out.push(s.clone()),
                    _ => collect_strings(v, key, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, key, out)),
        _ => {}
    }
}

fn write_seeds(dir: &Path, seeds: &[Vec<u8>]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (i, seed) in seeds.iter().enumerate() {
        std::fs::write(dir.join(format!("vector-{i:04}")), seed)?;
    }
    Ok(())
}
