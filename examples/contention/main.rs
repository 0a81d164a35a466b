//! The AWS Architecture Blog's "Exponential Backoff and Jitter" simulation (Marc Brooker,
//! 2015), on this crate's own `expo` generator and `Jitter`: N clients (10 to 100) each update
//! one optimistic-concurrency row once, backing off after each stale write. A discrete-event
//! simulation on a virtual clock; 100 runs per point. Strategies: no backoff, `expo` without
//! jitter, with full, equal and decorrelated jitter, and "ramp" (full jitter over ranges that
//! grow x4 up to 80 ms, then by 80 ms per failure).
//!
//! Prints mean completion time and mean calls per point and writes one SVG with both
//! (`target/charts/contention.svg`, or `--svg PATH`; `scripts/charts.sh` writes
//! `docs/contention.svg`).
//!
//! ```text
//! cargo run --release --example contention -- [--runs 100] [--seed 42] [--svg target/charts/contention.svg]
//! ```

mod sim;
#[cfg(test)]
mod tests;

use sim as contention;

use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: contention [--runs N] [--seed S] [--svg FILE]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut runs = contention::RUNS;
    let mut seed = 42u64;
    let mut svg = examples::chart_path("contention.svg");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        let ok = match (flag.as_str(), value) {
            ("--runs", Some(v)) => v.parse().map(|v| runs = v).is_ok(),
            ("--seed", Some(v)) => v.parse().map(|v| seed = v).is_ok(),
            ("--svg", Some(v)) => {
                svg = PathBuf::from(v);
                true
            }
            _ => false,
        };
        if !ok {
            return usage();
        }
    }

    let real = std::time::Instant::now();
    let points = contention::all(&contention::CLIENTS, runs, seed);
    let real = real.elapsed();

    println!(
        "OCC row, expo(factor = 5 ms, max_value = 2 s), network |normal(10 ms, 2 ms)| per message, \
mean of {runs} runs per point, seed {seed}; {:.2} s real",
        real.as_secs_f64()
    );
    println!();
    print!("{}", contention::table(&points, &contention::CLIENTS));
    if let Some(dir) = svg.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    if let Err(e) = contention::svg(&points, &svg) {
        eprintln!("cannot write {}: {e}", svg.display());
        return ExitCode::FAILURE;
    }
    println!("wrote {}", svg.display());
    ExitCode::SUCCESS
}
