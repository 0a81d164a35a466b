//! Several worker processes sharing one batch and one rate limit (`--workers K`).
//!
//! The parent runs K copies of this executable, each with `--worker-index i --workers K` (it
//! sends messages `i, i+K, i+2K, ...` of the batch) and `--base-url` of the one stand-in they
//! all share, reads each child's `summary:` line and sums them into one. With `--redis` the
//! children pace through one budget in Redis; without, each paces alone at the full rate, so
//! K of them send K times the limit.

use std::fmt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::Pacing;

/// Worker `index` of `workers`' share of the batch: every `workers`-th recipient from `index`.
pub fn share<T: Clone>(all: &[T], index: usize, workers: usize) -> Vec<T> {
    all.iter()
        .skip(index)
        .step_by(workers.max(1))
        .cloned()
        .collect()
}

/// The pacer shared through Redis under the budget `name` at `url`: `pacing`'s rate
/// (headroom included), burst 1; or, for [`Pacing::Adaptive`], a rate learned by every
/// worker together.
#[cfg(feature = "redis")]
pub fn redis_pacer(url: &str, name: &str, pacing: Pacing) -> Result<politely::Pacer, String> {
    let pacer = match pacing {
        Pacing::Adaptive => politely::Pacer::redis_adaptive(url, name),
        _ => {
            let rate = pacing
                .paced_rate()
                .ok_or("--redis paces through Redis: it does not go with --no-pace")?;
            politely::Pacer::redis(url, name, rate, Duration::from_secs(1))
        }
    };
    pacer.map_err(|e| format!("--redis {url:?}: {e}"))
}

/// Without the `redis` feature, `--redis` is an error that says how to get it.
#[cfg(not(feature = "redis"))]
pub fn redis_pacer(_url: &str, _name: &str, _pacing: Pacing) -> Result<politely::Pacer, String> {
    Err("--redis needs the example built with the `redis` feature: \
cargo run --features redis --example sms -- --redis URL ..."
        .to_owned())
}

/// The children's `summary:` lines summed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    pub workers: usize,
    pub sent: u64,
    pub total: u64,
    pub attempts: u64,
    pub rejected_429: u64,
    pub gave_up: u64,
    pub unconfirmed: u64,
    pub replays: u64,
    pub elapsed: Duration,
    pub pacing: String,
    pub retry_after: String,
}

impl Totals {
    /// Adds one child's `summary: sent=<n> of <N> attempts=<a> ...` line; `None` if it is not one.
    pub fn add(&mut self, line: &str) -> Option<()> {
        let rest = line.strip_prefix("summary: ")?;
        let words: Vec<&str> = rest.split_whitespace().collect();
        let mut total = None;
        let mut fields = std::collections::HashMap::new();
        for (i, w) in words.iter().enumerate() {
            if *w == "of" {
                total = words.get(i + 1).and_then(|t| t.parse::<u64>().ok());
            } else if let Some((k, v)) = w.split_once('=') {
                fields.insert(k, v);
            }
        }
        let num = |k: &str| fields.get(k).and_then(|v| v.parse::<u64>().ok());
        self.sent += num("sent")?;
        self.total += total?;
        self.attempts += num("attempts")?;
        self.rejected_429 += num("rejected_429")?;
        self.gave_up += num("gave_up")?;
        self.unconfirmed += num("unconfirmed")?;
        self.replays += num("replays")?;
        self.pacing = fields.get("pacing")?.to_string();
        self.retry_after = fields.get("retry_after")?.to_string();
        self.workers += 1;
        Some(())
    }

    /// Every message sent and none given up.
    pub fn is_success(&self) -> bool {
        self.gave_up == 0 && self.sent == self.total
    }
}

impl fmt::Display for Totals {
    /// The single-process summary line, with `workers=<K>` at the end.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "summary: sent={} of {} attempts={} rejected_429={} gave_up={} unconfirmed={} \
replays={} elapsed_s={:.3} pacing={} retry_after={} workers={}",
            self.sent,
            self.total,
            self.attempts,
            self.rejected_429,
            self.gave_up,
            self.unconfirmed,
            self.replays,
            self.elapsed.as_secs_f64(),
            self.pacing,
            self.retry_after,
            self.workers
        )
    }
}

/// Runs `workers` children of this executable with this process's flags plus
/// `--workers K --worker-index i --base-url <base_url>`, and `env` set; echoes their output
/// (stdout lines prefixed `worker i:`, stderr as it comes) and returns their summaries summed
/// and whether every child exited 0 with a summary.
pub async fn run_children(
    workers: usize,
    base_url: &str,
    env: &[(&str, &str)],
) -> Result<(Totals, bool), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let start = Instant::now();
    let mut children = Vec::with_capacity(workers);
    for i in 0..workers {
        let mut cmd = Command::new(&exe);
        cmd.args(&args)
            .args(["--workers", &workers.to_string()])
            .args(["--worker-index", &i.to_string()])
            .args(["--base-url", base_url])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start worker {i}: {e}"))?;
        children.push(tokio::task::spawn_blocking(move || {
            child.wait_with_output()
        }));
    }
    let mut totals = Totals::default();
    let mut ok = true;
    for (i, child) in children.into_iter().enumerate() {
        let output = match child.await {
            Ok(Ok(output)) => output,
            Ok(Err(e)) => {
                eprintln!("worker {i}: {e}");
                ok = false;
                continue;
            }
            Err(e) => {
                eprintln!("worker {i}: {e}");
                ok = false;
                continue;
            }
        };
        let mut summary = false;
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            if line.starts_with("summary: ") {
                summary = totals.add(line).is_some();
            }
            println!("worker {i}: {line}");
        }
        if !summary {
            eprintln!("worker {i}: no summary line");
        }
        if !output.status.success() {
            eprintln!("worker {i}: exited with {}", output.status);
        }
        ok &= summary && output.status.success();
    }
    totals.elapsed = start.elapsed();
    Ok((totals, ok))
}
