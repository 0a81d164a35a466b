//! The experiment behind the article's graphs: many clients hammer a target that always fails,
//! each retrying for `max_time = 300` seconds, and we count the calls the target sees per
//! second under three strategies.
//!
//! Run it on tokio's paused clock (`start_paused = true`): the sleeps are then virtual, so 300
//! seconds of retries take well under a second of real time and the counts are exact.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use politely::backoff;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Every client gives up this many seconds after its first call.
pub const MAX_TIME: u64 = 300;

/// The "last 200 s" window of the table starts here.
pub const LATE_FROM: u64 = MAX_TIME - 200;

/// How the clients retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// A call every second, no jitter.
    Constant,
    /// Waits 1, 2, 4, 8… seconds, no jitter.
    Expo,
    /// Waits drawn uniformly from `[0, 1)`, `[0, 2)`, `[0, 4)`… seconds ("full jitter").
    ExpoFullJitter,
}

impl Strategy {
    /// The three strategies, in the article's order.
    pub const ALL: [Strategy; 3] = [Strategy::Constant, Strategy::Expo, Strategy::ExpoFullJitter];

    /// A column name.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Constant => "constant",
            Strategy::Expo => "expo",
            Strategy::ExpoFullJitter => "expo_full_jitter",
        }
    }

    /// A caption.
    pub fn label(self) -> &'static str {
        match self {
            Strategy::Constant => "constant (1 s), no jitter",
            Strategy::Expo => "expo, no jitter",
            Strategy::ExpoFullJitter => "expo, full jitter",
        }
    }
}

/// Calls per second since the experiment started.
pub struct Histogram {
    start: Instant,
    buckets: Vec<AtomicU64>,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            start: Instant::now(),
            buckets: (0..=MAX_TIME).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn hit(&self) {
        let second = usize::try_from(self.start.elapsed().as_secs()).unwrap_or(usize::MAX);
        let last = self.buckets.len() - 1;
        self.buckets[second.min(last)].fetch_add(1, Ordering::Relaxed);
    }
}

/// The target's only answer.
#[derive(Debug)]
pub struct Unavailable;

#[backoff(constant, interval = 1, max_time = 300, jitter = none, logger = none)]
async fn constant_no_jitter(calls: &Histogram) -> Result<(), Unavailable> {
    calls.hit();
    Err(Unavailable)
}

#[backoff(expo, max_time = 300, jitter = none, logger = none)]
async fn expo_no_jitter(calls: &Histogram) -> Result<(), Unavailable> {
    calls.hit();
    Err(Unavailable)
}

// `seed` is used only by the attribute; the expansion's per-attempt copy of it would otherwise
// warn as unused.
#[allow(unused_variables)]
#[backoff(expo, max_time = 300, jitter = full, seed = seed, logger = none)]
async fn expo_full_jitter(calls: &Histogram, seed: u64) -> Result<(), Unavailable> {
    calls.hit();
    Err(Unavailable)
}

/// One strategy's counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// Which strategy.
    pub strategy: Strategy,
    /// Clients.
    pub tasks: usize,
    /// `per_second[s]`: calls made in `[s, s + 1)` seconds after the start, for `s` in
    /// `0..=300` (the last call of a client comes at 300 s at the latest).
    pub per_second: Vec<u64>,
}

impl Run {
    /// All calls.
    pub fn total(&self) -> u64 {
        self.per_second.iter().sum()
    }

    /// The busiest second strictly between the start and the deadline (seconds 1 to 299).
    ///
    /// Both ends bunch under every strategy: in second 0 all clients make their first call
    /// at once, and at second 300 every client still retrying makes its last call, because the
    /// last wait is cut to the time that remains (as in Python's `backoff`). What differs is
    /// how the retries bunch up in between.
    pub fn peak(&self) -> u64 {
        let inner = self.per_second.len().saturating_sub(1);
        self.per_second
            .get(1..inner)
            .and_then(|s| s.iter().copied().max())
            .unwrap_or(0)
    }

    /// Calls in second 0.
    pub fn at_start(&self) -> u64 {
        self.per_second.first().copied().unwrap_or(0)
    }

    /// Calls at the deadline (second 300).
    pub fn at_deadline(&self) -> u64 {
        self.per_second.last().copied().unwrap_or(0)
    }

    /// Calls in the last 200 seconds (from second 100 on).
    pub fn late_calls(&self) -> u64 {
        self.per_second
            .iter()
            .skip(usize::try_from(LATE_FROM).unwrap_or(usize::MAX))
            .sum()
    }

    /// The one-line table row.
    pub fn table_row(&self) -> String {
        format!(
            "{:<17} peak_calls_per_s={:<4} calls_last_200s={:<6} total_calls={:<6} (t=0s: {}, t=300s: {})",
            self.strategy.name(),
            self.peak(),
            self.late_calls(),
            self.total(),
            self.at_start(),
            self.at_deadline()
        )
    }
}

/// Runs `tasks` clients against the always-failing target under `strategy` until all give up.
/// Meant for tokio's paused clock; `seed` makes the jitter reproducible (client `i` uses
/// `seed + i`).
pub async fn run(strategy: Strategy, tasks: usize, seed: u64) -> Run {
    let calls = Arc::new(Histogram::new());
    let mut clients = JoinSet::new();
    for i in 0..tasks {
        let calls = calls.clone();
        let seed = seed.wrapping_add(i as u64);
        clients.spawn(async move {
            match strategy {
                Strategy::Constant => constant_no_jitter(&calls).await,
                Strategy::Expo => expo_no_jitter(&calls).await,
                Strategy::ExpoFullJitter => expo_full_jitter(&calls, seed).await,
            }
        });
    }
    while let Some(done) = clients.join_next().await {
        if let Err(e) = done {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    Run {
        strategy,
        tasks,
        per_second: calls
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect(),
    }
}

/// The three strategies, one after the other.
pub async fn run_all(tasks: usize, seed: u64) -> Vec<Run> {
    let mut runs = Vec::new();
    for strategy in Strategy::ALL {
        runs.push(run(strategy, tasks, seed).await);
    }
    runs
}

/// `second,constant,expo,expo_full_jitter` rows.
pub fn csv(runs: &[Run]) -> String {
    let mut out = String::from("second");
    for run in runs {
        out.push(',');
        out.push_str(run.strategy.name());
    }
    out.push('\n');
    let seconds = runs.iter().map(|r| r.per_second.len()).max().unwrap_or(0);
    for s in 0..seconds {
        let _ = write!(out, "{s}");
        for run in runs {
            let _ = write!(out, ",{}", run.per_second.get(s).copied().unwrap_or(0));
        }
        out.push('\n');
    }
    out
}

/// One panel per strategy, calls per second over time, as SVG.
pub fn svg(runs: &[Run], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    let colors = [RED, BLUE, RGBColor(0, 140, 0)];
    let panels_len = runs.len().max(1);
    let height = 300 * u32::try_from(panels_len).unwrap_or(3);
    let root = SVGBackend::new(path, (960, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((panels_len, 1));
    for (i, (panel, run)) in panels.iter().zip(runs).enumerate() {
        let top = run.per_second.iter().copied().max().unwrap_or(0).max(1);
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!(
                    "{}: calls per second, {} clients, max_time = {MAX_TIME} s",
                    run.strategy.label(),
                    run.tasks
                ),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .build_cartesian_2d(0u64..MAX_TIME + 1, 0u64..top + top / 10 + 1)?;
        chart
            .configure_mesh()
            .x_desc("seconds since the first call")
            .y_desc("calls / s")
            .draw()?;
        let color = colors[i % colors.len()];
        chart.draw_series(LineSeries::new(
            run.per_second
                .iter()
                .enumerate()
                .map(|(s, &c)| (s as u64, c)),
            color.stroke_width(2),
        ))?;
    }
    root.present()?;
    Ok(())
}
