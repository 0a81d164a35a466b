//! The package of the `politely` crate's examples: `sms`, `fetch`, `attempts`, `outage`,
//! `contention` and `adaptive_chart`, one folder each (`cargo run --example sms` from the
//! repository root). What they share: where a chart goes.

use std::path::PathBuf;

/// Where an example writes its chart (or other output) `file` unless its command line names
/// a path: `charts/` in the target directory, `CARGO_TARGET_DIR` when set (as `cargo run`
/// uses it), else the workspace's `target/`. Never `docs/`: running an example leaves the
/// charts there as they are committed; `scripts/charts.sh` regenerates those on purpose.
pub fn chart_path(file: &str) -> PathBuf {
    charts_dir().join(file)
}

/// `charts/` in the target directory (see [`chart_path`]).
pub fn charts_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")),
    };
    target.join("charts")
}
