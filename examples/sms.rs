//! Send an SMS batch through a rate-limited API, retrying with `#[backoff]`.
//!
//! ```text
//! cargo run --example sms -- [--count N | --to-file FILE] [--text TEXT] [--rate R] [--burst B]
//!                            [--no-pace] [--headroom PERCENT] [--retry-after on|off]
//!                            [--base-url URL] [--max-time S] [--concurrency C] [--oncall NUMBER]
//!                            [--fail-first N] [--drop-first N]
//! ```
//!
//! Pacing. By default the client paces every attempt, retries included, to `--rate` less
//! `--headroom` percent (default 2: 0.98 request/s for `--rate 1`) with its own
//! `backoff::Pacer` (`pacer = self.pacer`), and honours a 429's `Retry-After` in place of the
//! generator's wait. `--no-pace` is the backoff-only recipe it is compared with: no pacer,
//! `Retry-After` ignored (unless `--retry-after on`), every retry an exponential wait with full
//! jitter. In both modes every message is fired at once (`--concurrency` defaults to the
//! number of messages), over a connection opened before the batch (not with `--drop-first`).
//! `scripts/pacing.sh` runs both and prints a table; `docs/pacing.md` has its figures.
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
//!
//! The last line printed is
//! `summary: sent=<n> of <N> attempts=<a> rejected_429=<r> gave_up=<g> elapsed_s=<t>
//! pacing=<off|R/s> retry_after=<honoured|ignored>`; the exit status is 1 when any message was
//! given up.

#[path = "common/sms.rs"]
mod sms;
#[path = "common/standin.rs"]
mod standin;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use sms::{Pacing, RetryPolicy, Settings, SmsClient, Summary};

struct Options {
    base_url: Option<String>,
    count: usize,
    to_file: Option<String>,
    text: String,
    rate: f64,
    burst: u32,
    pace: bool,
    headroom_percent: f64,
    retry_after: Option<bool>,
    max_time: f64,
    concurrency: Option<usize>,
    oncall: Option<String>,
    fail_first: u32,
    drop_first: u32,
}

const USAGE: &str = "usage: sms [--count N | --to-file FILE] [--text TEXT] [--rate R] [--burst B] \
[--no-pace] [--headroom PERCENT] [--retry-after on|off] \
[--base-url URL] [--max-time SECONDS] [--concurrency C] [--oncall NUMBER] \
[--fail-first N] [--drop-first N]";

fn parse_options() -> Result<Options, String> {
    let mut o = Options {
        base_url: None,
        count: 10,
        to_file: None,
        text: "Your backoff demo message".to_owned(),
        rate: 1.0,
        burst: 1,
        pace: true,
        headroom_percent: Pacing::DEFAULT_HEADROOM * 100.0,
        retry_after: None,
        max_time: 300.0,
        concurrency: None,
        oncall: None,
        fail_first: 0,
        drop_first: 0,
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
            "--headroom" => o.headroom_percent = value.parse().map_err(|e| bad(&e))?,
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
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if !(o.rate > 0.0 && o.rate.is_finite()) {
        return Err(format!("--rate must be a positive number\n{USAGE}"));
    }
    if !(0.0..100.0).contains(&o.headroom_percent) {
        return Err(format!(
            "--headroom must be a percentage from 0 up to 100\n{USAGE}"
        ));
    }
    if !(o.max_time > 0.0 && o.max_time.is_finite()) {
        return Err(format!("--max-time must be a positive number\n{USAGE}"));
    }
    Ok(o)
}

/// `VONAGE_PRIVATE_KEY`: the PEM itself, or a path to it.
fn private_key_from_env() -> Result<Option<String>, String> {
    let Ok(value) = std::env::var("VONAGE_PRIVATE_KEY") else {
        return Ok(None);
    };
    if value.contains("-----BEGIN") {
        // A PEM pasted into one line keeps its newlines as `\n`.
        return Ok(Some(value.replace("\\n", "\n")));
    }
    std::fs::read_to_string(&value)
        .map(Some)
        .map_err(|e| format!("VONAGE_PRIVATE_KEY: cannot read {value}: {e}"))
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
        (Pacing::To { rate, headroom }, Some(every)) => format!(
            "pacing: {pacing} ({rate}/s less {}% headroom; one attempt every {:.1} ms, burst 1)",
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
    let recipients = recipients(&o)?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let key = private_key_from_env()?;

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
                .unwrap_or_else(|| "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee".to_owned());
            let key = match key {
                Some(k) => k,
                None => {
                    eprintln!("VONAGE_PRIVATE_KEY is unset: generating a throwaway RSA key pair");
                    standin::generate_private_key_pem().map_err(|e| e.to_string())?
                }
            };
            let public = standin::public_key_pem(&key).map_err(|e| e.to_string())?;
            let server = standin::StandIn::start(standin::Config {
                application_id: id.clone(),
                public_key_pem: public,
                rate: o.rate,
                burst: o.burst,
                retry_after: true,
            })
            .await
            .map_err(|e| format!("cannot start the stand-in API: {e}"))?;
            server.fail_next_requests(o.fail_first);
            server.drop_next_connections(o.drop_first);
            eprintln!(
                "stand-in Messages API at {} ({} request/s, burst {})",
                server.base_url(),
                o.rate,
                o.burst
            );
            (server.base_url(), id, key, Some(server))
        }
    };

    let pacing = if o.pace {
        Pacing::To {
            rate: o.rate,
            headroom: o.headroom_percent / 100.0,
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
        timeout: Duration::from_secs(10),
    })
    .map_err(|e| format!("cannot build the client: {e}"))?;
    let client = Arc::new(client);
    let concurrency = o.concurrency.unwrap_or(recipients.len());
    eprintln!("{}", describe_mode(&client, concurrency));

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
                let s = client.stats();
                bar.set_message(format!(
                    "attempts={} 429s={} retries={}",
                    s.attempts, s.rejected_429, s.backoffs
                ));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let start = Instant::now();
    // Open the connection ahead of the first message, unless the first connections are to be
    // dropped (the warm-up's would take the fault, and the paced batch reuses it throughout).
    if o.drop_first == 0 {
        client.warm_up().await;
    }
    let deliveries = sms::send_batch(&client, &recipients, &o.text, concurrency, |d| {
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
{} waits ({} of them Retry-After; {:.1} s in all)",
        summary.sent,
        summary.total,
        elapsed.as_secs_f64(),
        stats.attempts,
        stats.rejected_429,
        stats.server_errors,
        stats.connection_errors,
        stats.backoffs,
        stats.server_waits,
        stats.waited.as_secs_f64()
    );
    println!("{}", describe_mode(&client, concurrency));
    // The bucket starts full: `burst` go at once, then one every 1/rate.
    let physical = summary.total.saturating_sub(o.burst.max(1) as usize) as f64 / o.rate;
    if physical > 0.0 {
        println!(
            "at {} request/s, burst {}, {} messages take {physical:.1} s at best; this took {:.3} times that",
            o.rate,
            o.burst,
            summary.total,
            elapsed.as_secs_f64() / physical
        );
    }
    if let Some(server) = &standin {
        let c = server.counters();
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::SeqCst);
        let accepted = server.accepted();
        let duplicates: usize = accepted.values().map(|ids| ids.len() - 1).sum();
        println!(
            "stand-in: {} requests, {} JWTs verified, {} rejected, {} throttled, {} 500s, {} dropped connections; \
{} recipients accepted ({duplicates} duplicates), {} calls to on-call",
            load(&c.requests),
            load(&c.jwt_verified),
            load(&c.jwt_rejected),
            load(&c.throttled),
            load(&c.server_errors),
            load(&c.dropped_connections),
            accepted.len(),
            server.calls().len()
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
    println!("{summary}");
    Ok(if summary.gave_up > 0 || summary.sent != summary.total {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
