//! The outage simulation behind `cargo run --example outage` and its tests: clients calling
//! a server that fails every request for a while, with and without a shared retry budget, on
//! tokio's paused clock.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use politely::{RetryBudget, backoff};
use tokio::time::{Instant, sleep_until};

/// The experiment's shape.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Clients, each calling once a second (client `i` at `i / clients` past each second).
    pub clients: u64,
    /// Seconds of normal service before the outage.
    pub warmup: u64,
    /// Seconds during which the server fails every request.
    pub outage: u64,
    /// Seconds the clients go on calling after the recovery.
    pub after: u64,
    /// Requests per second the server can serve when it is up; the excess fails as overload.
    /// `None`: unlimited.
    pub capacity: Option<u64>,
}

impl Config {
    /// The goal's case: 1,000 clients, 20 s of service, a 60 s outage, 100 s after; a server with
    /// twice the clients' offered load in capacity.
    pub const FULL: Config = Config {
        clients: 1000,
        warmup: 20,
        outage: 60,
        after: 100,
        capacity: Some(2000),
    };

    /// When the outage starts and ends, in seconds since the start.
    pub fn outage_window(&self) -> (u64, u64) {
        (self.warmup, self.warmup + self.outage)
    }

    /// Seconds in the chart: the calling, plus the last calls' retries.
    pub fn horizon(&self) -> u64 {
        self.warmup + self.outage + self.after + 20
    }
}

/// The budget the "with" run shares among all its clients.
#[derive(Clone, Copy, Debug)]
pub struct BudgetSpec {
    pub ratio: f64,
    pub min_per_sec: f64,
    pub cap: u32,
}

impl BudgetSpec {
    /// `RetryBudget::new(0.2)`: 20 %, a floor of 10 a second, at most 100 saved up.
    pub const DEFAULT_20: BudgetSpec = BudgetSpec {
        ratio: 0.2,
        min_per_sec: 10.0,
        cap: 100,
    };

    fn make(self) -> RetryBudget {
        RetryBudget::new(self.ratio)
            .min_per_sec(self.min_per_sec)
            .cap(self.cap)
    }
}

/// What the server answers.
#[derive(Debug)]
pub enum Refused {
    Down,
    Overloaded,
}

/// The server: counts requests per second; down during the outage; at capacity, refuses.
struct Server {
    start: Instant,
    config: Config,
    state: Mutex<ServerState>,
}

#[derive(Default)]
struct ServerState {
    requests: Vec<u64>,
    served: Vec<u64>,
}

impl Server {
    fn second(&self) -> usize {
        usize::try_from(self.start.elapsed().as_secs()).unwrap_or(usize::MAX)
    }

    fn handle(&self) -> Result<(), Refused> {
        let s = self.second();
        let (down_from, down_until) = self.config.outage_window();
        let mut st = self.state.lock().unwrap();
        let st = &mut *st;
        if st.requests.len() <= s {
            st.requests.resize(s + 1, 0);
            st.served.resize(s + 1, 0);
        }
        st.requests[s] += 1;
        let s64 = s as u64;
        if (down_from..down_until).contains(&s64) {
            return Err(Refused::Down);
        }
        if self.config.capacity.is_some_and(|c| st.served[s] >= c) {
            return Err(Refused::Overloaded);
        }
        st.served[s] += 1;
        Ok(())
    }
}

/// The simulation's time step: call starts and back-off wake-ups land on a 10 ms grid, so
/// the paused clock takes 100 steps per virtual second rather than 1,000 (tokio's timers are
/// on a 1 ms grid anyway); a per-second chart cannot tell the difference.
pub const GRAIN: Duration = Duration::from_millis(10);

/// Sleeps `wait` rounded up to the simulation's grain.
fn grain_sleep(wait: Duration) -> tokio::time::Sleep {
    let grain = GRAIN.as_nanos();
    let nanos = wait.as_nanos().div_ceil(grain) * grain;
    tokio::time::sleep(Duration::from_nanos(
        u64::try_from(nanos).unwrap_or(u64::MAX),
    ))
}

#[backoff(expo, jitter = full, max_tries = 5, seed = seed, logger = none, sleep = grain_sleep)]
async fn call(server: &Server, seed: u64) -> Result<(), Refused> {
    server.handle()
}

#[backoff(expo, jitter = full, max_tries = 5, seed = seed, logger = none, sleep = grain_sleep,
    budget = budget)]
async fn call_budgeted(server: &Server, budget: &RetryBudget, seed: u64) -> Result<(), Refused> {
    server.handle()
}

/// One call's fate.
#[derive(Clone, Copy, Debug)]
struct CallRecord {
    started: Duration,
    ended: Duration,
    ok: bool,
}

/// One run's figures.
#[derive(Debug)]
pub struct Run {
    pub label: String,
    pub config: Config,
    /// Requests the server received, per second.
    pub requests: Vec<u64>,
    /// Calls started (first attempts), per second.
    pub offered: Vec<u64>,
    calls: Vec<CallRecord>,
}

impl Run {
    fn sum(v: &[u64], from: u64, until: u64) -> u64 {
        v.iter()
            .skip(usize::try_from(from).unwrap_or(usize::MAX))
            .take(usize::try_from(until - from).unwrap_or(usize::MAX))
            .sum()
    }

    /// Requests the server received during the outage.
    pub fn outage_requests(&self) -> u64 {
        let (a, b) = self.config.outage_window();
        Run::sum(&self.requests, a, b)
    }

    /// First attempts (calls started) during the outage: the offered load.
    pub fn outage_offered(&self) -> u64 {
        let (a, b) = self.config.outage_window();
        Run::sum(&self.offered, a, b)
    }

    /// How many times the offered load the server saw during the outage.
    pub fn amplification(&self) -> f64 {
        self.outage_requests() as f64 / self.outage_offered().max(1) as f64
    }

    /// The busiest second's requests.
    pub fn peak(&self) -> u64 {
        self.requests.iter().copied().max().unwrap_or(0)
    }

    /// Of the calls started in the 5 s after the recovery, the share that succeeded within
    /// those 5 s.
    pub fn recovered_within_5s(&self) -> f64 {
        let r = Duration::from_secs(self.config.outage_window().1);
        let r5 = r + Duration::from_secs(5);
        let window: Vec<&CallRecord> = self
            .calls
            .iter()
            .filter(|c| c.started >= r && c.started < r5)
            .collect();
        let ok = window.iter().filter(|c| c.ok && c.ended <= r5).count();
        ok as f64 / window.len().max(1) as f64
    }

    /// Seconds after the recovery until the server's load is back within 10 % of the
    /// offered load.
    pub fn settle_secs(&self) -> u64 {
        let (_, r) = self.config.outage_window();
        let limit = self.config.clients + self.config.clients / 10;
        let last_high = (r..self.config.horizon())
            .filter(|&s| {
                self.requests
                    .get(usize::try_from(s).unwrap_or(usize::MAX))
                    .is_some_and(|&n| n > limit)
            })
            .max();
        last_high.map_or(0, |s| s + 1 - r)
    }

    /// Calls that succeeded, over all calls.
    pub fn success_share(&self) -> f64 {
        self.calls.iter().filter(|c| c.ok).count() as f64 / self.calls.len().max(1) as f64
    }
}

/// Runs the experiment once, with a budget shared by every client or without one. Must run
/// on a current-thread runtime with paused time.
pub async fn run(config: Config, budget: Option<BudgetSpec>) -> Run {
    let start = Instant::now();
    let server = Arc::new(Server {
        start,
        config,
        state: Mutex::new(ServerState::default()),
    });
    let budget = budget.map(BudgetSpec::make);
    let records = Arc::new(Mutex::new(Vec::new()));
    let calling = config.warmup + config.outage + config.after;
    let mut offered = vec![0u64; usize::try_from(config.horizon()).unwrap_or(0)];
    let mut tasks = tokio::task::JoinSet::new();
    // One timeline for all clients: client `i` calls at `k + i / clients` seconds (on the
    // grain).
    let grain = u64::try_from(GRAIN.as_nanos()).unwrap_or(1);
    for k in 0..calling {
        for i in 0..config.clients {
            let offset = i * 1_000_000_000 / config.clients / grain * grain;
            let at = start + Duration::from_secs(k) + Duration::from_nanos(offset);
            if at > Instant::now() {
                sleep_until(at).await;
            }
            offered[usize::try_from(k).unwrap_or(0)] += 1;
            let (server, budget, records) = (server.clone(), budget.clone(), records.clone());
            let seed = k * config.clients + i;
            tasks.spawn(async move {
                let started = start.elapsed();
                let out = match &budget {
                    Some(b) => call_budgeted(&server, b, seed).await,
                    None => call(&server, seed).await,
                };
                records.lock().unwrap().push(CallRecord {
                    started,
                    ended: start.elapsed(),
                    ok: out.is_ok(),
                });
            });
        }
        // Reap the finished calls now and then, so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let mut requests = std::mem::take(&mut server.state.lock().unwrap().requests);
    requests.resize(usize::try_from(config.horizon()).unwrap_or(0), 0);
    let calls = std::mem::take(&mut *records.lock().unwrap());
    let label = match budget {
        Some(_) => "20 % budget".to_owned(),
        None => "no budget".to_owned(),
    };
    Run {
        label,
        config,
        requests,
        offered,
        calls,
    }
}

/// Both runs' requests per second over time, with the offered load and the outage marked.
pub fn svg(runs: &[Run], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    let Some(first) = runs.first() else {
        return Ok(());
    };
    let config = first.config;
    let top = runs.iter().map(Run::peak).max().unwrap_or(1).max(1);
    let root = SVGBackend::new(path, (960, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Server requests per second: {} clients calling once a second, outage from {} s to {} s",
                config.clients,
                config.outage_window().0,
                config.outage_window().1
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(64)
        .build_cartesian_2d(0u64..config.horizon(), 0u64..top + top / 10 + 1)?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("requests / s")
        .draw()?;
    let (a, b) = config.outage_window();
    chart.draw_series(std::iter::once(Rectangle::new(
        [(a, 0), (b, top + top / 10)],
        RGBColor(255, 220, 220).filled(),
    )))?;
    let colors = [RED, BLUE];
    for (run, color) in runs.iter().zip(colors) {
        chart
            .draw_series(LineSeries::new(
                run.requests.iter().enumerate().map(|(s, &n)| (s as u64, n)),
                color.stroke_width(2),
            ))?
            .label(format!(
                "{}: {:.2}× the offered load during the outage",
                run.label,
                run.amplification()
            ))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .draw_series(LineSeries::new(
            first
                .offered
                .iter()
                .enumerate()
                .map(|(s, &n)| (s as u64, n)),
            BLACK.stroke_width(1),
        ))?
        .label("offered load (first attempts)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(1)));
    if let Some(c) = config.capacity {
        chart
            .draw_series(LineSeries::new(
                [(0, c), (config.horizon(), c)],
                RGBColor(120, 120, 120).stroke_width(1),
            ))?
            .label(format!("server capacity ({c} / s)"))
            .legend(|(x, y)| {
                PathElement::new(
                    [(x, y), (x + 20, y)],
                    RGBColor(120, 120, 120).stroke_width(1),
                )
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}
