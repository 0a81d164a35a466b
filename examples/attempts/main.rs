//! The article's graphs: 500 clients retry an always-failing target for `max_time = 300`
//! seconds under (a) `constant` without jitter, (b) `expo` without jitter, (c) `expo` with full
//! jitter. Runs on tokio's paused clock, so the 300 virtual seconds take about a second.
//!
//! Writes `attempts.csv` and `attempts.svg` (calls per second over time, one panel per
//! strategy) to `target/charts/` (or `--out DIR`; `scripts/charts.sh` copies the SVG to
//! `docs/attempts.svg`) and prints one line per strategy.
//!
//! ```text
//! cargo run --example attempts -- [--tasks 500] [--seed 42] [--out target/charts]
//! ```
//!
//! `experiment.rs` is the experiment; `tests.rs` checks the article's shapes on it.

mod experiment;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: attempts [--tasks N] [--seed S] [--out DIR]");
    ExitCode::from(2)
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> ExitCode {
    let mut tasks = 500usize;
    let mut seed = 42u64;
    let mut out = examples::charts_dir();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        let ok = match (flag.as_str(), value) {
            ("--tasks", Some(v)) => v.parse().map(|v| tasks = v).is_ok(),
            ("--seed", Some(v)) => v.parse().map(|v| seed = v).is_ok(),
            ("--out", Some(v)) => {
                out = PathBuf::from(v);
                true
            }
            _ => false,
        };
        if !ok {
            return usage();
        }
    }

    let real = std::time::Instant::now();
    let runs = experiment::run_all(tasks, seed).await;
    let real = real.elapsed();

    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("cannot create {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    let csv = out.join("attempts.csv");
    let svg = out.join("attempts.svg");
    if let Err(e) = std::fs::write(&csv, experiment::csv(&runs)) {
        eprintln!("cannot write {}: {e}", csv.display());
        return ExitCode::FAILURE;
    }
    if let Err(e) = experiment::svg(&runs, &svg) {
        eprintln!("cannot write {}: {e}", svg.display());
        return ExitCode::FAILURE;
    }

    println!(
        "{tasks} clients, always-failing target, max_time = {} s (virtual), {:.2} s real",
        experiment::MAX_TIME,
        real.as_secs_f64()
    );
    println!("wrote {} and {}", csv.display(), svg.display());
    println!(
        "peak = busiest second between t=0 and t=300 s; at both ends every strategy bunches \
(all first calls at 0 s, every last call cut to land at 300 s)"
    );
    for run in &runs {
        println!("{}", run.table_row());
    }
    ExitCode::SUCCESS
}
