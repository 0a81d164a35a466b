//! A retry budget in an outage: 1,000 clients each call a server once a second; the server
//! fails every request for 60 s and then recovers. Every call is
//! `#[backoff(expo, jitter = full, max_tries = 5)]`; one run without a budget, one with a
//! 20 % `RetryBudget` shared by all clients. Runs on tokio's paused clock, with call
//! starts and wake-ups on a 10 ms grid: the 2 × 180 virtual seconds take about 10 s of CPU
//! unoptimised.
//!
//! Writes the server's requests per second over time to an SVG (`target/charts/outage.svg`,
//! or `--chart PATH`; `scripts/charts.sh` writes `docs/outage.svg`) and prints a table.
//!
//! ```text
//! cargo run --example outage     # about 10 s of CPU unoptimised; faster with --release
//! cargo run --example outage -- --chart docs/outage.svg
//! ```

mod sim;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::process::ExitCode;

use sim::{BudgetSpec, Config};

fn usage() -> ExitCode {
    eprintln!("usage: outage [--chart FILE]");
    ExitCode::from(2)
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> ExitCode {
    let mut svg = examples::chart_path("outage.svg");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--chart", Some(v)) => svg = PathBuf::from(v),
            _ => return usage(),
        }
    }
    let config = Config::FULL;
    let real = std::time::Instant::now();
    let runs = [
        sim::run(config, None).await,
        sim::run(config, Some(BudgetSpec::DEFAULT_20)).await,
    ];
    let real = real.elapsed();
    if let Some(dir) = svg.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    if let Err(e) = sim::svg(&runs, &svg) {
        eprintln!("cannot write {}: {e}", svg.display());
        return ExitCode::FAILURE;
    }
    let (a, b) = config.outage_window();
    println!(
        "{} clients × 1 call/s; outage {a}-{b} s; capacity {:?}/s; expo, full jitter, max_tries = 5; {:.1} s real",
        config.clients,
        config.capacity,
        real.as_secs_f64()
    );
    println!("wrote {}", svg.display());
    println!(
        "| run | first attempts in the outage | server requests in the outage | × offered | peak req/s | calls started 0-5 s after recovery that succeed by then | load back within 10 % after | calls that succeed |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in &runs {
        println!(
            "| {} | {} | {} | {:.3} | {} | {:.1} % | {} s | {:.1} % |",
            r.label,
            r.outage_offered(),
            r.outage_requests(),
            r.amplification(),
            r.peak(),
            100.0 * r.recovered_within_5s(),
            r.settle_secs(),
            100.0 * r.success_share(),
        );
    }
    ExitCode::SUCCESS
}
