//! Send an SMS batch through a rate-limited API, retrying with `#[backoff]`.
//!
//! ```text
//! cargo run --example sms -- [--count N | --to-file FILE] [--text TEXT] [--rate R] [--burst B]
//!                            [--no-pace | --adaptive] [--headroom PERCENT] [--retry-after on|off]
//!                            [--base-url URL] [--max-time S] [--timeout S] [--concurrency C]
//!                            [--oncall NUMBER] [--fail-first N] [--drop-first N]
//!                            [--fault KIND=P]... [--fault-seed N] [--serve-only ADDR]
//!                            [--rate-headers off|ietf|x] [--rate-schedule T:RATE,...]
//!                            [--redis URL [--redis-key NAME]] [--workers K] [--stats-json PATH]
//! ```
//!
//! The parts: `client.rs` is the `#[backoff]` client (the code the article is about),
//! `batch.rs` sends a batch through it and totals it, `progress.rs` is the progress display,
//! this file is the command line. The stand-in API is the `backoff-standin` workspace crate
//! (`standin/`), which the tests and `scripts/` use too.
//!
//! Pacing. By default the client paces every attempt, retries included, a margin under
//! `--rate` (`politely::pace::under_limit`: 2 % of each interval, at least 5 ms, so 0.98
//! request/s for `--rate 1`, 9.52 for `--rate 10`; `--headroom PERCENT` for another) with its own
//! `politely::Pacer` (`pacer = self.pacer`), and honours a 429's `Retry-After` in place of the
//! generator's wait. `--no-pace` is the backoff-only recipe it is compared with: no pacer,
//! `Retry-After` ignored (unless `--retry-after on`), every retry an exponential wait with full
//! jitter. In both modes every message is fired at once (`--concurrency` defaults to the
//! number of messages); the first request opens the connection (there is no warm-up request:
//! a limiter in front of the API, nginx's `limit_req` for one, would count it against the
//! limit and refuse the first message), and the pacer holds the second until the first one's
//! answer.
//! `scripts/pacing.sh` runs both and prints a table; `docs/pacing.md` has its figures.
//!
//! `--adaptive` paces without using `--rate` at all (the stand-in still enforces it): the
//! client's pacer is `politely::Pacer::adaptive()`, which starts at one request per second and
//! learns the limit from each answer (429s, `Retry-After`, and the rate-limit fields of
//! `--rate-headers ietf|x`). The progress line and the end show the rate learned.
//! `scripts/adaptive.sh` runs it against each kind of stand-in and draws `docs/adaptive.svg`
//! from what `--stats-json PATH` writes: the run's figures and the stand-in's `/stats` (every
//! arrival and the limit over time).
//!
//! Configuration comes from the environment: `VONAGE_APPLICATION_ID`, `VONAGE_PRIVATE_KEY` (a
//! PEM, or the path of one), `VONAGE_NUMBER` (the sender), `ONCALL_NUMBER`.
//!
//! With no `--base-url`, an embedded stand-in API runs on 127.0.0.1 (an ephemeral port): it
//! verifies each JWT's signature and admits `--rate` requests per second (token bucket,
//! `--burst` deep; default 1/s, burst 1), answering 429 beyond that. With no
//! `VONAGE_PRIVATE_KEY` it makes a throwaway key pair for itself. So this runs on a fresh
//! machine with no account and no network. `--fail-first N` makes the stand-in answer the first
//! N messages with 500, `--drop-first N` drop its first N connections: both are retried.
//! `--fault KIND=P` (repeatable; `accept-then-drop=P`, `slow=P:SECONDS`, `reset=P`, `500=P`,
//! `503=P`) makes it fail that fraction of message requests at random, from `--fault-seed N`.
//! `--serve-only ADDR` runs just the stand-in, on `ADDR`, for clients started elsewhere.
//! `--rate-headers ietf|x` makes the stand-in say its limit and its bucket's state on every
//! answer that passed the bucket (the IETF draft's `RateLimit-Policy` / `RateLimit`, or
//! `X-RateLimit-Limit` / `-Remaining` / `-Reset`; `off` by default), and
//! `--rate-schedule T:RATE,...` changes its limit `T` seconds after the first request
//! (`--rate 2 --rate-schedule 20:1`: 2/s, then 1/s from 20 s on). Both are the stand-in's
//! alone: the client's pacing still follows `--rate` (unless `--adaptive`).
//!
//! Several workers. `--redis URL` paces through a budget shared in Redis (at the key
//! `backoff:<NAME>`, `--redis-key`, default `sms`) in place of the client's own pacer, at the
//! same rate less the same headroom; with `--adaptive`, through a rate that every process
//! naming the budget learns together (`Pacer::redis_adaptive`: each worker's 429s and
//! rate-limit headers teach all of them). It needs the `redis` feature
//! (`cargo run --features redis --example sms -- --redis redis://127.0.0.1:6379/ ...`).
//! `--workers K` runs K processes of this executable against one stand-in (the embedded one,
//! or `--base-url`), worker `i` sending messages `i, i+K, ...` (`--worker-index i`), and sums
//! their summaries into one (with `workers=K` at the end); the exit status is 1 if any worker
//! failed. `scripts/workers.sh` compares 4 workers sharing Redis with 4 pacing alone.
//!
//! Each message carries an idempotency key made once per message; `--timeout` (default 10 s)
//! bounds each request. The progress line shows the retries by cause (429, 5xx, connection,
//! timeout) and the replays the server reported (a retried key it had already sent).
//!
//! The last line printed is
//! `summary: sent=<n> of <N> attempts=<a> rejected_429=<r> gave_up=<g> unconfirmed=<u>
//! replays=<p> elapsed_s=<t> pacing=<off|adaptive|R/s> retry_after=<honoured|ignored>`: `sent` counts
//! the messages the server confirmed, once each; `unconfirmed` those given up that an attempt
//! may have sent all the same (its answer was lost). The exit status is 1 when any message was
//! given up.

mod batch;
mod client;
mod progress;
#[cfg(test)]
mod tests;
mod workers;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use backoff_standin as standin;
use batch::Summary;
use client::{Pacing, RetryPolicy, Settings, SmsClient};

struct Options {
    base_url: Option<String>,
    count: usize,
    to_file: Option<String>,
    text: String,
    rate: f64,
    burst: u32,
    pace: bool,
    adaptive: bool,
    headroom_percent: Option<f64>,
    retry_after: Option<bool>,
    max_time: f64,
    concurrency: Option<usize>,
    oncall: Option<String>,
    fail_first: u32,
    drop_first: u32,
    timeout: f64,
    faults: Vec<standin::Fault>,
    fault_seed: u64,
    rate_headers: standin::RateHeaders,
    rate_schedule: standin::RateSchedule,
    serve_only: Option<String>,
    redis: Option<String>,
    redis_key: String,
    workers: usize,
    worker_index: Option<usize>,
    stats_json: Option<String>,
}

const USAGE: &str = "usage: sms [--count N | --to-file FILE] [--text TEXT] [--rate R] [--burst B] \
[--no-pace | --adaptive] [--headroom PERCENT] [--retry-after on|off] \
[--base-url URL] [--max-time SECONDS] [--timeout SECONDS] [--concurrency C] [--oncall NUMBER] \
[--fail-first N] [--drop-first N] [--fault accept-then-drop=P|slow=P:SECONDS|reset=P|500=P|503=P]... \
[--fault-seed N] [--serve-only ADDR] [--rate-headers off|ietf|x] [--rate-schedule T:RATE,...] \
[--redis URL] [--redis-key NAME] [--workers K] [--stats-json PATH]";

fn parse_options() -> Result<Options, String> {
    let mut o = Options {
        base_url: None,
        count: 10,
        to_file: None,
        text: "Your backoff demo message".to_owned(),
        rate: 1.0,
        burst: 1,
        pace: true,
        adaptive: false,
        headroom_percent: None,
        retry_after: None,
        max_time: 300.0,
        concurrency: None,
        oncall: None,
        fail_first: 0,
        drop_first: 0,
        timeout: 10.0,
        faults: Vec::new(),
        fault_seed: 0,
        rate_headers: standin::RateHeaders::Off,
        rate_schedule: standin::RateSchedule::none(),
        serve_only: None,
        redis: None,
        redis_key: "sms".to_owned(),
        workers: 1,
        worker_index: None,
        stats_json: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_owned());
        }
        if flag == "--no-pace" {
            o.pace = false;
            continue;
        }
        if flag == "--adaptive" {
            o.adaptive = true;
            continue;
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value:?}: {e}\n{USAGE}");
        match flag.as_str() {
            "--base-url" => o.base_url = Some(value),
            "--count" => o.count = value.parse().map_err(|e| bad(&e))?,
            "--to-file" => o.to_file = Some(value),
            "--text" => o.text = value,
            "--rate" => o.rate = value.parse().map_err(|e| bad(&e))?,
            "--burst" => o.burst = value.parse().map_err(|e| bad(&e))?,
            "--headroom" => o.headroom_percent = Some(value.parse().map_err(|e| bad(&e))?),
            "--retry-after" => {
                o.retry_after = Some(match value.as_str() {
                    "on" => true,
                    "off" => false,
                    _ => return Err(bad(&"expected on or off")),
                });
            }
            "--max-time" => o.max_time = value.parse().map_err(|e| bad(&e))?,
            "--concurrency" => o.concurrency = Some(value.parse().map_err(|e| bad(&e))?),
            "--oncall" => o.oncall = Some(value),
            "--fail-first" => o.fail_first = value.parse().map_err(|e| bad(&e))?,
            "--drop-first" => o.drop_first = value.parse().map_err(|e| bad(&e))?,
            "--timeout" => o.timeout = value.parse().map_err(|e| bad(&e))?,
            "--fault" => o.faults.push(value.parse().map_err(|e| bad(&e))?),
            "--fault-seed" => o.fault_seed = value.parse().map_err(|e| bad(&e))?,
            "--serve-only" => o.serve_only = Some(value),
            "--rate-headers" => o.rate_headers = value.parse().map_err(|e| bad(&e))?,
            "--rate-schedule" => o.rate_schedule = value.parse().map_err(|e| bad(&e))?,
            "--redis" => o.redis = Some(value),
            "--redis-key" => o.redis_key = value,
            "--workers" => o.workers = value.parse().map_err(|e| bad(&e))?,
            "--worker-index" => o.worker_index = Some(value.parse().map_err(|e| bad(&e))?),
            "--stats-json" => o.stats_json = Some(value),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if !(o.rate > 0.0 && o.rate.is_finite()) {
        return Err(format!("--rate must be a positive number\n{USAGE}"));
    }
    if o.headroom_percent
        .is_some_and(|p| !(0.0..100.0).contains(&p))
    {
        return Err(format!(
            "--headroom must be a percentage from 0 up to 100\n{USAGE}"
        ));
    }
    if !(o.max_time > 0.0 && o.max_time.is_finite()) {
        return Err(format!("--max-time must be a positive number\n{USAGE}"));
    }
    if Duration::try_from_secs_f64(o.timeout).map_or(true, |t| t.is_zero()) {
        return Err(format!(
            "--timeout must be a positive number of seconds\n{USAGE}"
        ));
    }
    if o.workers == 0 {
        return Err(format!("--workers must be at least 1\n{USAGE}"));
    }
    if o.worker_index.is_some_and(|i| i >= o.workers) {
        return Err(format!("--worker-index must be below --workers\n{USAGE}"));
    }
    if o.adaptive && !o.pace {
        return Err(format!(
            "--adaptive paces on a learned rate: it does not go with --no-pace\n{USAGE}"
        ));
    }
    if o.redis.is_some() && !o.pace {
        return Err(format!(
            "--redis paces through Redis: it does not go with --no-pace\n{USAGE}"
        ));
    }
    #[cfg(not(feature = "redis"))]
    if o.redis.is_some() {
        return Err("--redis needs the example built with the `redis` feature: \
cargo run --features redis --example sms -- --redis URL ..."
            .to_owned());
    }
    Ok(o)
}

fn recipients(o: &Options) -> Result<Vec<String>, String> {
    if let Some(path) = &o.to_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("--to-file {path}: {e}"))?;
        return Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| l.trim_start_matches('+').to_owned())
            .collect());
    }
    // Ofcom's drama range: numbers that reach no one.
    Ok((0..o.count).map(|i| format!("4477009{i:05}")).collect())
}

fn describe_mode(client: &SmsClient, concurrency: usize) -> String {
    let pacing = client.pacing();
    let pace = match (pacing, client.pace_interval()) {
        (Pacing::Adaptive, _) => format!(
            "pacing: adaptive (the limit is not told: learned from each answer; now {})",
            learned(client)
        ),
        (Pacing::To { rate, headroom }, Some(every)) => format!(
            "pacing: {pacing} ({rate}/s less {:.1}% headroom; one attempt every {:.1} ms, burst 1)",
            headroom * 100.0,
            every.as_secs_f64() * 1e3
        ),
        _ => "pacing: off (backoff only: expo + full jitter)".to_owned(),
    };
    let ra = if client.honours_retry_after() {
        "Retry-After honoured"
    } else {
        "Retry-After ignored"
    };
    format!("{pace}; {ra}; up to {concurrency} messages in flight")
}

/// The adaptive pacer's learned rate, `1.23/s`, or `-` when there is none.
fn learned(client: &SmsClient) -> String {
    client
        .learned_rate()
        .map_or_else(|| "-".to_owned(), |r| format!("{r:.3}/s"))
}

/// The progress line: the client's counts, and the rate learned when pacing adaptively.
fn progress_line(client: &SmsClient) -> String {
    let line = progress::message(&client.stats());
    if client.pacing() == Pacing::Adaptive {
        format!("{line} rate={}", learned(client))
    } else {
        line
    }
}

/// When the last of `total` requests could arrive at the earliest, in seconds after the first,
/// at the stand-in's token bucket: `burst` deep and full at the first request, refilled at
/// `rate` per second and then as `schedule` says (counted from the first request).
fn ideal_seconds(total: usize, rate: f64, burst: u32, schedule: &standin::RateSchedule) -> f64 {
    let burst = f64::from(burst.max(1));
    // (from, rate) steps, in time order.
    let mut steps = vec![(0.0, rate)];
    steps.extend(
        schedule
            .changes()
            .iter()
            .map(|c| (c.after.as_secs_f64(), c.rate)),
    );
    let rate_at = |t: f64| {
        steps
            .iter()
            .rev()
            .find(|(from, _)| t >= *from)
            .map_or(rate, |s| s.1)
    };
    let (mut t, mut tokens) = (0.0_f64, burst);
    for n in 0..total {
        if n > 0 {
            // Refill, step by step, until one whole token is there.
            while tokens < 1.0 {
                let r = rate_at(t);
                let next_change = steps
                    .iter()
                    .map(|s| s.0)
                    .find(|&from| from > t)
                    .unwrap_or(f64::INFINITY);
                let need = (1.0 - tokens) / r;
                if t + need <= next_change {
                    t += need;
                    tokens = 1.0;
                } else {
                    tokens = (tokens + (next_change - t) * r).min(burst);
                    t = next_change;
                }
            }
        }
        tokens -= 1.0;
    }
    t
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<ExitCode, String> {
    let o = parse_options()?;
    let mut recipients = recipients(&o)?;
    if let Some(i) = o.worker_index {
        recipients = workers::share(&recipients, i, o.workers);
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let key = standin::private_key_from_env()?;
    let faults = standin::Faults::new(o.faults.clone(), o.fault_seed)?;
    if let Some(addr) = &o.serve_only {
        let addr = addr
            .parse()
            .map_err(|e| format!("--serve-only {addr:?}: {e}"))?;
        let config = standin::Config {
            application_id: env("VONAGE_APPLICATION_ID")
                .unwrap_or_else(|| standin::DEFAULT_APPLICATION_ID.to_owned()),
            public_key_pem: match &key {
                Some(k) => standin::public_key_pem(k).map_err(|e| e.to_string())?,
                None => String::new(),
            },
            enforce_limit: true,
            rate: o.rate,
            burst: o.burst,
            retry_after: true,
            rate_headers: o.rate_headers,
            rate_schedule: o.rate_schedule.clone(),
            faults,
        };
        standin::serve_only(addr, config)
            .await
            .map_err(|e| format!("cannot serve the stand-in API: {e}"))?;
        return Ok(ExitCode::SUCCESS);
    }

    let parent = o.workers > 1 && o.worker_index.is_none();
    // The API: the real one at --base-url, or the embedded stand-in.
    let (base_url, application_id, key, standin) = match &o.base_url {
        Some(url) => {
            let id = env("VONAGE_APPLICATION_ID")
                .ok_or("--base-url needs VONAGE_APPLICATION_ID in the environment")?;
            let key = key.ok_or("--base-url needs VONAGE_PRIVATE_KEY in the environment")?;
            (url.clone(), id, key, None)
        }
        None => {
            let id = env("VONAGE_APPLICATION_ID")
                .unwrap_or_else(|| standin::DEFAULT_APPLICATION_ID.to_owned());
            let key = match key {
                Some(k) => k,
                None => {
                    eprintln!("VONAGE_PRIVATE_KEY is unset: generating a throwaway RSA key pair");
                    standin::generate_private_key_pem().map_err(|e| e.to_string())?
                }
            };
            let public = standin::public_key_pem(&key).map_err(|e| e.to_string())?;
            let config = standin::Config {
                application_id: id.clone(),
                public_key_pem: public,
                enforce_limit: true,
                rate: o.rate,
                burst: o.burst,
                retry_after: true,
                rate_headers: o.rate_headers,
                rate_schedule: o.rate_schedule.clone(),
                faults: faults.clone(),
            };
            let limit = config.describe_limit();
            let server = standin::StandIn::start(config)
                .await
                .map_err(|e| format!("cannot start the stand-in API: {e}"))?;
            server.fail_next_requests(o.fail_first);
            server.drop_next_connections(o.drop_first);
            let faults: Vec<String> = faults.list().iter().map(|f| f.to_string()).collect();
            eprintln!(
                "stand-in Messages API at {} ({limit}; faults: {}; seed {})",
                server.base_url(),
                if faults.is_empty() {
                    "none".to_owned()
                } else {
                    faults.join(", ")
                },
                o.fault_seed
            );
            (server.base_url(), id, key, Some(server))
        }
    };

    if parent {
        return run_parent(&o, &base_url, &application_id, &key, standin.as_ref()).await;
    }

    let pacing = if o.adaptive {
        Pacing::Adaptive
    } else if o.pace {
        match o.headroom_percent {
            Some(percent) => Pacing::To {
                rate: o.rate,
                headroom: percent / 100.0,
            },
            None => Pacing::told(o.rate),
        }
    } else {
        Pacing::Off
    };
    // Backoff only means no Retry-After either, unless asked for.
    let honour_retry_after = o.retry_after.unwrap_or(o.pace);
    let client = SmsClient::new(Settings {
        base_url,
        application_id,
        private_key_pem: key,
        from: env("VONAGE_NUMBER").unwrap_or_else(|| "447700900000".to_owned()),
        oncall: o
            .oncall
            .clone()
            .or_else(|| env("ONCALL_NUMBER"))
            .unwrap_or_else(|| "447700900999".to_owned()),
        retry: RetryPolicy {
            max_time: Duration::from_secs_f64(o.max_time),
            ..RetryPolicy::default()
        },
        pacing,
        honour_retry_after,
        timeout: Duration::from_secs_f64(o.timeout),
    })
    .map_err(|e| format!("cannot build the client: {e}"))?;
    let client = match &o.redis {
        Some(url) => client.with_pacer(workers::redis_pacer(url, &o.redis_key, pacing)?),
        None => client,
    };
    let client = Arc::new(client);
    let concurrency = o.concurrency.unwrap_or(recipients.len());
    eprintln!("{}", describe_mode(&client, concurrency));
    if let Some(url) = &o.redis {
        eprintln!(
            "pacer shared through Redis at {url}, budget {:?}",
            o.redis_key
        );
    }

    let bar = ProgressBar::new(recipients.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    let ticker = {
        let (bar, client) = (bar.clone(), client.clone());
        tokio::spawn(async move {
            loop {
                bar.set_message(progress_line(&client));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let start = Instant::now();
    let deliveries = batch::send_batch(&client, &recipients, &o.text, concurrency, |d| {
        bar.inc(1);
        if let Err(e) = &d.result {
            bar.println(format!("gave up on {}: {e}", d.to));
        }
    })
    .await;
    let elapsed = start.elapsed();
    ticker.abort();
    bar.finish_and_clear();

    let stats = client.stats();
    let summary = Summary::new(&deliveries, &client, elapsed);
    for g in client.gave_up() {
        let call = match &g.call {
            Ok(uuid) => format!("on-call engineer called (call {uuid})"),
            Err(e) => format!("calling the on-call engineer failed too: {e}"),
        };
        println!(
            "gave up: {} after {} tries in {:.1} s: {}; {call}",
            g.to,
            g.tries,
            g.elapsed.as_secs_f64(),
            g.error
        );
    }
    println!(
        "sent {} of {} messages in {:.1} s: {} attempts, {} answered 429, {} 5xx, {} connection errors, \
{} timeouts; {} replays; {} waits ({} of them Retry-After; {:.1} s in all)",
        summary.sent,
        summary.total,
        elapsed.as_secs_f64(),
        stats.attempts,
        stats.rejected_429,
        stats.server_errors,
        stats.connection_errors,
        stats.timeouts,
        stats.replays,
        stats.backoffs,
        stats.server_waits,
        stats.waited.as_secs_f64()
    );
    println!("{}", progress_line(&client));
    println!("{}", describe_mode(&client, concurrency));
    if o.adaptive {
        println!("learned rate: {}", learned(&client));
    }
    // The bucket starts full: `burst` go at once, then one every 1/rate (as the schedule has
    // it, from the first request on).
    let physical = ideal_seconds(summary.total, o.rate, o.burst, &o.rate_schedule);
    let mut limit = format!("at {} request/s", o.rate);
    for c in o.rate_schedule.changes() {
        limit += &format!(", {}/s from {} s", c.rate, c.after.as_secs_f64());
    }
    if physical > 0.0 {
        println!(
            "{limit}, burst {}, {} messages take {physical:.1} s at best; this took {:.3} times that",
            o.burst,
            summary.total,
            elapsed.as_secs_f64() / physical
        );
    }
    if let Some(server) = &standin {
        let st = server.stats();
        println!(
            "stand-in: {} requests, {} JWTs verified, {} rejected, {} throttled; faults: {} accept-then-drop, \
{} slow, {} reset, {} 500s, {} 503s, {} dropped connections; {} messages delivered ({} duplicates, \
at most {} per key), {} replays, {} key conflicts, {} calls to on-call",
            st.requests,
            st.jwt_verified,
            st.jwt_rejected,
            st.throttled,
            st.accept_then_drop,
            st.slow,
            st.reset,
            st.status_500,
            st.status_503,
            st.dropped_connections,
            st.delivered,
            st.duplicates,
            st.max_deliveries_per_key,
            st.replayed,
            st.conflicts,
            st.calls
        );
        let arrivals = server.arrivals();
        let closest = arrivals
            .windows(2)
            .map(|w| w[1].at.saturating_sub(w[0].at))
            .min();
        if let Some(gap) = closest {
            println!(
                "stand-in: closest two message requests arrived {:.1} ms apart (one every {:.1} ms is the limit)",
                gap.as_secs_f64() * 1e3,
                1e3 / o.rate
            );
        }
    }
    if let Some(path) = &o.stats_json {
        let report = serde_json::json!({
            "flags": std::env::args().skip(1).collect::<Vec<_>>(),
            "count": summary.total,
            "rate": o.rate,
            "burst": o.burst,
            "rate_headers": o.rate_headers.to_string(),
            "rate_schedule": o.rate_schedule.to_string(),
            "pacing": summary.pacing.to_string(),
            "learned_rate": client.learned_rate(),
            "elapsed_s": elapsed.as_secs_f64(),
            "ideal_s": physical,
            "sent": summary.sent,
            "gave_up": summary.gave_up,
            "attempts": stats.attempts,
            "rejected_429": stats.rejected_429,
            "standin": standin.as_ref().map(|s| s.stats()),
        });
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("--stats-json {path}: {e}"))?;
    }
    println!("{summary}");
    Ok(if summary.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--workers K`: runs the workers against `base_url`, prints the stand-in's counts (when it
/// runs here) and the summed summary.
async fn run_parent(
    o: &Options,
    base_url: &str,
    application_id: &str,
    key: &str,
    standin: Option<&standin::StandIn>,
) -> Result<ExitCode, String> {
    eprintln!(
        "{} workers, pacing {}",
        o.workers,
        match (&o.redis, o.pace) {
            (_, false) => "off".to_owned(),
            (Some(url), true) if o.adaptive => format!(
                "learned together through Redis at {url} (budget {})",
                o.redis_key
            ),
            (Some(url), true) => format!("shared through Redis at {url} (budget {})", o.redis_key),
            (None, true) => "each on its own".to_owned(),
        }
    );
    let env = [
        ("VONAGE_APPLICATION_ID", application_id),
        ("VONAGE_PRIVATE_KEY", key),
    ];
    let (totals, ok) = workers::run_children(o.workers, base_url, &env).await?;
    let physical = ideal_seconds(totals.total as usize, o.rate, o.burst, &o.rate_schedule);
    if physical > 0.0 {
        println!(
            "at {} request/s, burst {}, {} messages take {physical:.1} s at best; this took {:.3} times that",
            o.rate,
            o.burst,
            totals.total,
            totals.elapsed.as_secs_f64() / physical
        );
    }
    if let Some(server) = standin {
        let st = server.stats();
        println!(
            "stand-in: {} requests, {} throttled (429); {} messages delivered ({} duplicates, at most {} per key), {} replays",
            st.requests,
            st.throttled,
            st.delivered,
            st.duplicates,
            st.max_deliveries_per_key,
            st.replayed
        );
    }
    println!("{totals}");
    Ok(
        if ok && totals.workers == o.workers && totals.is_success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}
