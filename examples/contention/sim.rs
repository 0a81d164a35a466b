//! The simulation behind the AWS Architecture Blog's "Exponential Backoff and Jitter" (Marc
//! Brooker, 2015), driven by this crate's own wait generator and jitter.
//!
//! N clients each update one optimistic-concurrency row once: read the version, write with
//! it; the server accepts a write only with the current version. A client whose write fails
//! asks its [`State`] what to do, which runs `expo(factor = 5 ms, max_value = 2 s)` through the
//! strategy's [`Jitter`], and reads again after the wait. Every message takes
//! `|normal(10 ms, 2 ms)|`. A run ends when the last client has its success reply; a call is a
//! write that reaches the server (as in the blog's simulator).
//!
//! The clock is virtual: a discrete-event simulation over a priority queue of message
//! arrivals, exact to the nanosecond and deterministic by seed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use politely::wait::Expo;
use politely::{Action, Jitter, Policy, State, Verdict, Wait};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The client counts of the blog's graphs.
pub const CLIENTS: [usize; 6] = [10, 20, 30, 40, 50, 100];
/// Runs averaged per point.
pub const RUNS: usize = 100;
/// `expo`'s `factor`: the first wait.
pub const BASE: Duration = Duration::from_millis(5);
/// `expo`'s `max_value`.
pub const CAP: Duration = Duration::from_millis(2000);
/// Mean and standard deviation of one message's network delay, in milliseconds.
pub const NET_MEAN_MS: f64 = 10.0;
/// See [`NET_MEAN_MS`].
pub const NET_SD_MS: f64 = 2.0;

/// How the clients back off after a failed write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Retry at once (`expo` with `factor = 0`, no jitter).
    NoBackoff,
    /// `expo`, no jitter.
    Expo,
    /// `expo`, [`Jitter::Full`].
    Full,
    /// `expo`, [`Jitter::Equal`].
    Equal,
    /// `expo`, [`Jitter::Decorrelated`].
    Decorrelated,
    /// [`Jitter::Full`] over a range that grows x4 while it is below 16 x `BASE` (5, 20,
    /// 80 ms), then by 16 x `BASE` per failure (160, 240, 320 ms...), capped at `CAP`: any
    /// iterator of seconds is a generator, so this needs no new API.
    Ramp,
}

impl Strategy {
    /// Every strategy, in the table's order.
    pub const ALL: [Strategy; 6] = [
        Strategy::NoBackoff,
        Strategy::Expo,
        Strategy::Full,
        Strategy::Equal,
        Strategy::Decorrelated,
        Strategy::Ramp,
    ];

    /// A column name.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::NoBackoff => "none",
            Strategy::Expo => "expo",
            Strategy::Full => "full",
            Strategy::Equal => "equal",
            Strategy::Decorrelated => "decorrelated",
            Strategy::Ramp => "ramp",
        }
    }

    /// The wait generator and jitter, exactly as the attribute would build them.
    fn state(self, seed: u64) -> State<Gen> {
        let expo = Gen::Expo(Expo::new(2.0, BASE.as_secs_f64(), Some(CAP)));
        let (wait, jitter) = match self {
            Strategy::NoBackoff => (Gen::Expo(Expo::new(2.0, 0.0, None)), Jitter::None),
            Strategy::Expo => (expo, Jitter::None),
            Strategy::Full => (expo, Jitter::Full),
            Strategy::Equal => (expo, Jitter::Equal),
            Strategy::Decorrelated => (expo, Jitter::Decorrelated),
            Strategy::Ramp => (Gen::Ramp(Box::new(ramp())), Jitter::Full),
        };
        let policy = Policy {
            jitter,
            seed: Some(seed),
            backoff_log_level: None,
            giveup_log_level: None,
            ..Policy::default()
        };
        State::new("update_row", wait, policy)
    }
}

/// The `Ramp` strategy's ranges in seconds: `BASE`, 4 x `BASE`, then 16 x `BASE` x k for
/// k = 1, 2, 3..., capped at `CAP`.
pub fn ramp() -> impl Iterator<Item = f64> + Send {
    let (base, cap) = (BASE.as_secs_f64(), CAP.as_secs_f64());
    [base, 4.0 * base]
        .into_iter()
        .chain((1u32..).map(move |k| 16.0 * base * f64::from(k)))
        .map(move |s| s.min(cap))
}

/// The strategies' generators under one type, so every client is a `State<Gen>`.
enum Gen {
    Expo(Expo),
    Ramp(Box<dyn Iterator<Item = f64> + Send>),
}

impl Wait<()> for Gen {
    fn next_wait(&mut self, outcome: &()) -> Option<Duration> {
        match self {
            Gen::Expo(w) => w.next_wait(outcome),
            Gen::Ramp(w) => w.next_wait(outcome),
        }
    }
}

/// One point of the graphs: a strategy at a client count, averaged over the runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The strategy.
    pub strategy: Strategy,
    /// Clients per run.
    pub clients: usize,
    /// Mean time until the last client is done.
    pub mean_time: Duration,
    /// Mean writes that reached the server per run (at least `clients`).
    pub mean_calls: f64,
}

/// One run's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// When the last client got its success reply.
    pub time: Duration,
    /// Writes that reached the server.
    pub calls: u64,
}

/// SplitMix64: independent-looking seeds from (run seed, index).
fn mix(seed: u64, i: u64) -> u64 {
    let mut z = seed
        .wrapping_add(i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The network: `|normal(mean, sd)|` per message (Box-Muller over a seeded generator).
struct Net {
    rng: StdRng,
}

impl Net {
    fn delay(&mut self) -> Duration {
        let u1: f64 = 1.0 - self.rng.random::<f64>(); // (0, 1]
        let u2: f64 = self.rng.random::<f64>();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        Duration::from_secs_f64((NET_MEAN_MS + NET_SD_MS * z).abs() / 1000.0)
    }
}

/// A message in flight, handled when it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Msg {
    /// A client's read reaches the server.
    Read,
    /// The server's reply with the version reaches the client.
    ReadReply(u64),
    /// A client's write with the version it read reaches the server.
    Write(u64),
    /// The server's verdict reaches the client.
    WriteReply(bool),
}

/// One run: `clients` clients start together at 0 under `strategy`.
pub fn run(strategy: Strategy, clients: usize, seed: u64) -> Outcome {
    let mut net = Net {
        rng: StdRng::seed_from_u64(mix(seed, u64::MAX)),
    };
    let mut states: Vec<State<Gen>> = (0..clients)
        .map(|c| strategy.state(mix(seed, c as u64)))
        .collect();
    // (arrival, sequence number for a stable order among equal times, client, message)
    let mut queue = BinaryHeap::new();
    let mut seq = 0u64;
    let mut send = |queue: &mut BinaryHeap<_>, at: Duration, client: usize, msg: Msg| {
        queue.push(Reverse((at, seq, client, msg)));
        seq += 1;
    };
    for c in 0..clients {
        let at = net.delay();
        send(&mut queue, at, c, Msg::Read);
    }
    let mut version = 0u64;
    let mut calls = 0u64;
    let mut time = Duration::ZERO;
    while let Some(Reverse((now, _, c, msg))) = queue.pop() {
        time = now;
        match msg {
            Msg::Read => {
                let at = now + net.delay();
                send(&mut queue, at, c, Msg::ReadReply(version));
            }
            Msg::ReadReply(v) => {
                let at = now + net.delay();
                send(&mut queue, at, c, Msg::Write(v));
            }
            Msg::Write(v) => {
                calls += 1;
                let ok = v == version;
                if ok {
                    version += 1;
                }
                let at = now + net.delay();
                send(&mut queue, at, c, Msg::WriteReply(ok));
            }
            Msg::WriteReply(true) => {}
            Msg::WriteReply(false) => {
                let action = states[c].decide(&(), Verdict::Retry, now, &"stale version");
                let Action::Backoff(wait) = action else {
                    unreachable!("no limits are set, so a retry always backs off: {action:?}");
                };
                let at = now + net.delay() + wait;
                send(&mut queue, at, c, Msg::Read);
            }
        }
    }
    Outcome { time, calls }
}

/// `runs` runs of one strategy at one client count, averaged; run `i` uses seed `mix(seed, i)`.
pub fn point(strategy: Strategy, clients: usize, runs: usize, seed: u64) -> Point {
    let mut time = Duration::ZERO;
    let mut calls = 0u64;
    for i in 0..runs {
        let o = run(strategy, clients, mix(seed, i as u64));
        time += o.time;
        calls += o.calls;
    }
    let n = runs.max(1);
    Point {
        strategy,
        clients,
        mean_time: time / u32::try_from(n).unwrap_or(u32::MAX),
        mean_calls: calls as f64 / n as f64,
    }
}

/// Every strategy at every client count.
pub fn all(clients: &[usize], runs: usize, seed: u64) -> Vec<Point> {
    let mut points = Vec::new();
    for &n in clients {
        for s in Strategy::ALL {
            points.push(point(s, n, runs, seed));
        }
    }
    points
}

fn lookup(points: &[Point], s: Strategy, n: usize) -> Option<&Point> {
    points.iter().find(|p| p.strategy == s && p.clients == n)
}

/// The two tables (mean completion time in ms, mean calls), in Markdown.
pub fn table(points: &[Point], clients: &[usize]) -> String {
    let mut out = String::new();
    for (title, cell) in [
        (
            "mean completion time (ms)",
            (|p: &Point| format!("{:.0}", p.mean_time.as_secs_f64() * 1000.0))
                as fn(&Point) -> String,
        ),
        ("mean calls", |p: &Point| format!("{:.1}", p.mean_calls)),
    ] {
        let _ = write!(out, "| {title} |");
        for s in Strategy::ALL {
            let _ = write!(out, " {} |", s.name());
        }
        let _ = write!(out, "\n|---:|");
        for _ in Strategy::ALL {
            let _ = write!(out, "---:|");
        }
        out.push('\n');
        for &n in clients {
            let _ = write!(out, "| {n} clients |");
            for s in Strategy::ALL {
                let c = lookup(points, s, n).map(cell).unwrap_or_default();
                let _ = write!(out, " {c} |");
            }
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// One SVG with two panels: mean completion time and mean calls against clients, a line per
/// strategy, both on a log scale (unjittered backoff is an order of magnitude off the rest).
pub fn svg(points: &[Point], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    let colors = [
        RGBColor(120, 120, 120),
        RED,
        BLUE,
        RGBColor(0, 140, 0),
        RGBColor(200, 120, 0),
        MAGENTA,
    ];
    let max_clients = points.iter().map(|p| p.clients).max().unwrap_or(1) as f64;
    let root = SVGBackend::new(path, (960, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((2, 1));
    type Metric = fn(&Point) -> f64;
    let metrics: [(&str, &str, Metric); 2] = [
        ("mean completion time", "ms (log)", |p| {
            p.mean_time.as_secs_f64() * 1000.0
        }),
        (
            "mean calls (writes reaching the server)",
            "calls (log)",
            |p| p.mean_calls,
        ),
    ];
    for (panel, (title, unit, metric)) in panels.iter().zip(metrics) {
        let lo = points.iter().map(metric).fold(f64::INFINITY, f64::min);
        let hi = points.iter().map(metric).fold(1.0, f64::max);
        let lo = if lo.is_finite() && lo > 0.0 { lo } else { 1.0 };
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!(
                    "{title}: OCC row, expo(5 ms, cap 2 s), net |N(10 ms, 2 ms)|, mean of {RUNS} runs"
                ),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..max_clients * 1.05, (lo * 0.8..hi * 1.25).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("clients")
            .y_desc(unit)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_labels(8)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()?;
        for (i, s) in Strategy::ALL.into_iter().enumerate() {
            let color = colors[i % colors.len()];
            let series: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.strategy == s)
                .map(|p| (p.clients as f64, metric(p)))
                .collect();
            chart
                .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))?
                .label(s.name())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart.draw_series(
                series
                    .into_iter()
                    .map(|xy| Circle::new(xy, 3, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
