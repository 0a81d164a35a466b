//! A polite HTTP client for the command line: `politely`'s reqwest middleware in front of any
//! API, sending one request or many at once, retried and paced.
//!
//! ```text
//! cargo run --example fetch -- [--method M] [--data BODY] [--header 'K: V']... [--count N]
//!     [--concurrency C] [--rate R [--burst B] | --adaptive] [--redis URL [--redis-key K]]
//!     [--max-time S] [--timeout S] [--idempotency-key auto|off]
//!     [--client politely|reqwest-retry|reqwest-builtin [--max-retries N]] URL
//! ```
//!
//! It sends `--count` requests (default 1), `--concurrency` at a time (default all of them),
//! through a `PoliteMiddleware`: exponential waits with full jitter, `Retry-After` honoured,
//! each request given up after `--max-time` seconds (default 60); each attempt is cut off after
//! `--timeout` seconds (default 30). `--data` sends a body (and makes the default method
//! `POST`); `{i}` in it is replaced by the request's index (0, 1, 2…), so a batch of POSTs can
//! carry distinct bodies. `--idempotency-key auto` gives every `POST` and `PATCH` an
//! `Idempotency-Key` of its own, so a connection lost after sending is retried too (the
//! server must honour the key).
//!
//! Pacing: none by default (backoff only); `--rate R` is the server's limit, `R` requests per
//! second: every attempt, retries included, is paced a margin under it
//! (`politely::pace::under_limit`: 2 % of each interval, at least 5 ms, since the server's
//! bucket judges arrivals and the pacer spaces departures), `--burst B` at once (default 1);
//! `--adaptive` learns the
//! server's limit from its answers instead. `--redis URL` shares the pacing through Redis with
//! every other process naming the same `--redis-key` (default `fetch`); it needs the examples'
//! `redis` feature (`cargo run --features redis --example fetch -- --redis ...`).
//!
//! `--client` swaps the middleware for another client, so one binary compares them
//! (`scripts/compare.sh`): `reqwest-retry` is reqwest-retry's `RetryTransientMiddleware` with
//! its documented `ExponentialBackoff` policy and `--max-retries` retries (default 5);
//! `reqwest-builtin` is reqwest's own `ClientBuilder::retry` for the URL's host, retrying
//! errors, `429` and 5xx up to `--max-retries` times within its default retry budget. Neither
//! paces nor adds idempotency keys, so `--rate`, `--adaptive`, `--redis` and
//! `--idempotency-key auto` are for the default client only.
//!
//! A progress bar runs on stderr (when it is a terminal); each failed request gets a line
//! there (`request I: ...`, also when stderr is not a terminal). The last line on stdout is
//! `summary: ok=N failed=N attempts=N status_429=N elapsed_s=F`: requests answered 2xx or 3xx,
//! the others, attempts sent (retries included) and responses 429 among them. The exit status
//! is 1 when a request failed, 2 on bad input.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use politely::Pacer;
use politely::middleware::reqwest_middleware::{
    self, ClientBuilder, ClientWithMiddleware, Middleware, Next,
};
use politely::middleware::{Attempts, IdempotencyKey, PoliteMiddleware};
use politely::pace::under_limit;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};

#[cfg(test)]
mod tests;

/// Sends HTTP requests politely: retried with backoff, paced to a rate limit.
#[derive(Parser, Debug, Clone)]
#[command(name = "fetch")]
pub struct Args {
    /// The URL to send to.
    pub url: String,
    /// The HTTP method (default GET, or POST with --data).
    #[arg(long, short = 'X')]
    pub method: Option<String>,
    /// The request body; `{i}` in it becomes the request's index.
    #[arg(long, short = 'd')]
    pub data: Option<String>,
    /// A header, `'Name: value'` (repeatable).
    #[arg(long = "header", short = 'H', value_name = "K: V")]
    pub headers: Vec<String>,
    /// How many requests to send.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// How many requests are in flight at once (default: all of them).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub concurrency: Option<u64>,
    /// The server's limit, R requests per second: every attempt is paced a margin under it.
    #[arg(long, value_name = "R", conflicts_with = "adaptive", value_parser = positive)]
    pub rate: Option<f64>,
    /// Attempts that may start at once under --rate.
    #[arg(long, value_name = "B", requires = "rate")]
    pub burst: Option<u32>,
    /// Learn the server's rate limit from its answers and pace to it.
    #[arg(long)]
    pub adaptive: bool,
    /// Share the pacing through Redis (needs the `redis` feature).
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// The name of the shared budget in Redis.
    #[arg(long, value_name = "K", default_value = "fetch", requires = "redis")]
    pub redis_key: String,
    /// Give each request up after S seconds of attempts and waits.
    #[arg(long, value_name = "S", default_value_t = 60.0, value_parser = positive)]
    pub max_time: f64,
    /// Cut each attempt off after S seconds.
    #[arg(long, value_name = "S", default_value_t = 30.0, value_parser = positive)]
    pub timeout: f64,
    /// `auto`: an Idempotency-Key on every POST and PATCH, so they are retried safely.
    #[arg(long, value_enum, default_value_t = KeyMode::Off)]
    pub idempotency_key: KeyMode,
    /// The client: this middleware, or another one to compare it with.
    #[arg(long, value_enum, default_value_t = Client::Politely)]
    pub client: Client,
    /// Retries per request for --client reqwest-retry and reqwest-builtin.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_retries: u32,
}

/// `--idempotency-key`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyMode {
    /// A key on every POST and PATCH without one.
    Auto,
    /// No keys added.
    Off,
}

/// `--client`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// `politely`'s middleware.
    Politely,
    /// reqwest-retry's `RetryTransientMiddleware` with `ExponentialBackoff`.
    ReqwestRetry,
    /// reqwest's built-in `ClientBuilder::retry`.
    ReqwestBuiltin,
}

fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        Ok(_) => Err("must be a positive number".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// What a run did: the counts of the summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    pub ok: u64,
    pub failed: u64,
    pub attempts: u64,
    pub status_429: u64,
    pub elapsed: Duration,
}

impl Summary {
    /// `summary: ok=N failed=N attempts=N status_429=N elapsed_s=F`.
    pub fn line(&self) -> String {
        format!(
            "summary: ok={} failed={} attempts={} status_429={} elapsed_s={:.3}",
            self.ok,
            self.failed,
            self.attempts,
            self.status_429,
            self.elapsed.as_secs_f64()
        )
    }
}

/// A request as the command line describes it, before its body's `{i}` is filled in.
struct Template {
    method: Method,
    url: Url,
    headers: HeaderMap,
    data: Option<String>,
}

impl Template {
    fn request(&self, client: &reqwest::Client, i: u64) -> reqwest::Result<reqwest::Request> {
        let mut builder = client
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone());
        if let Some(data) = &self.data {
            builder = builder.body(data.replace("{i}", &i.to_string()));
        }
        builder.build()
    }
}

fn parse_header(line: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| format!("--header {line:?}: expected 'Name: value'"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|e| format!("--header {line:?}: bad name: {e}"))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|e| format!("--header {line:?}: bad value: {e}"))?;
    Ok((name, value))
}

fn template(args: &Args) -> Result<Template, String> {
    let url = Url::parse(&args.url).map_err(|e| format!("URL {:?}: {e}", args.url))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("URL {:?}: not http or https", args.url));
    }
    let method = match &args.method {
        Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|e| format!("--method {m:?}: {e}"))?,
        None if args.data.is_some() => Method::POST,
        None => Method::GET,
    };
    let mut headers = HeaderMap::new();
    for line in &args.headers {
        let (name, value) = parse_header(line)?;
        headers.append(name, value);
    }
    Ok(Template {
        method,
        url,
        headers,
        data: args.data.clone(),
    })
}

/// Attempts and 429s, as the clients count them.
#[derive(Default)]
struct Counts {
    attempts: AtomicU64,
    status_429: AtomicU64,
}

impl Counts {
    fn attempt(&self, status: Option<reqwest::StatusCode>) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        if status == Some(reqwest::StatusCode::TOO_MANY_REQUESTS) {
            self.status_429.fetch_add(1, Ordering::Relaxed);
        }
    }
}

type Answer<'a> = std::pin::Pin<
    Box<dyn Future<Output = reqwest_middleware::Result<reqwest::Response>> + Send + 'a>,
>;

/// For reqwest-retry: a middleware after the retries, so it sees every attempt. (A closure of
/// this shape is a `Middleware`; `middleware` gives it its signature.)
fn count_attempts(counts: Arc<Counts>) -> impl Middleware {
    fn middleware<F>(f: F) -> F
    where
        F: for<'a> Fn(reqwest::Request, &'a mut http::Extensions, Next<'a>) -> Answer<'a>,
    {
        f
    }
    middleware(move |req, ext, next| {
        let counts = counts.clone();
        Box::pin(async move {
            let out = next.run(req, ext).await;
            counts.attempt(out.as_ref().ok().map(|r| r.status()));
            out
        })
    })
}

/// The pacer the command line asks for, if any.
fn pacer(args: &Args) -> Result<Option<Pacer>, String> {
    if let Some(url) = &args.redis {
        if args.rate.is_none() && !args.adaptive {
            return Err("--redis shares a pace: it needs --rate R or --adaptive".to_owned());
        }
        return redis_pacer(url, args).map(Some);
    }
    Ok(match (args.rate.map(under_limit), args.adaptive) {
        (Some(rate), _) => Some(match args.burst {
            Some(burst) => Pacer::with_burst(rate, Duration::from_secs(1), burst),
            None => Pacer::per_second(rate),
        }),
        (None, true) => Some(Pacer::adaptive()),
        (None, false) => None,
    })
}

#[cfg(feature = "redis")]
fn redis_pacer(url: &str, args: &Args) -> Result<Pacer, String> {
    let pacer = match args.rate {
        Some(rate) => Pacer::redis_with_burst(
            url,
            args.redis_key.as_str(),
            under_limit(rate),
            Duration::from_secs(1),
            args.burst.unwrap_or(1),
        ),
        None => Pacer::redis_adaptive(url, args.redis_key.as_str()),
    };
    pacer.map_err(|e| format!("--redis {url:?}: {e}"))
}

#[cfg(not(feature = "redis"))]
fn redis_pacer(_url: &str, _args: &Args) -> Result<Pacer, String> {
    Err("--redis needs the examples' `redis` feature: \
         cargo run --features redis --example fetch -- --redis URL ..."
        .to_owned())
}

/// The client `--client` names, and whether it reports attempts itself.
fn client(args: &Args, url: &Url, counts: &Arc<Counts>) -> Result<ClientWithMiddleware, String> {
    let timeout = Duration::from_secs_f64(args.timeout);
    let plain = || reqwest::Client::builder().timeout(timeout);
    let build = |b: reqwest::ClientBuilder| b.build().map_err(|e| format!("HTTP client: {e}"));
    if args.client != Client::Politely {
        let only_ours = [
            (args.rate.is_some(), "--rate"),
            (args.adaptive, "--adaptive"),
            (args.redis.is_some(), "--redis"),
            (
                args.idempotency_key == KeyMode::Auto,
                "--idempotency-key auto",
            ),
        ];
        if let Some((_, flag)) = only_ours.iter().find(|(set, _)| *set) {
            return Err(format!(
                "{flag} is for --client politely (the other clients neither pace nor add keys)"
            ));
        }
    }
    Ok(match args.client {
        Client::Politely => {
            let policy = politely::expo()
                .max_value(Duration::from_secs(32))
                .max_time(Duration::from_secs_f64(args.max_time));
            let seen = counts.clone();
            let mut polite = PoliteMiddleware::new(policy)
                .on_backoff(move |d| {
                    // Attempts are counted from `Attempts`; the 429s retried are seen here.
                    let status = d.outcome.response().map(|r| r.status());
                    if status == Some(reqwest::StatusCode::TOO_MANY_REQUESTS) {
                        seen.status_429.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .idempotency_key(match args.idempotency_key {
                    KeyMode::Auto => IdempotencyKey::Auto,
                    KeyMode::Off => IdempotencyKey::Off,
                });
            if let Some(pacer) = pacer(args)? {
                polite = polite.pacer(pacer);
            }
            ClientBuilder::new(build(plain())?).with(polite).build()
        }
        Client::ReqwestRetry => {
            use reqwest_retry::RetryTransientMiddleware;
            use reqwest_retry::policies::ExponentialBackoff;
            let policy = ExponentialBackoff::builder().build_with_max_retries(args.max_retries);
            ClientBuilder::new(build(plain())?)
                .with(RetryTransientMiddleware::new_with_policy(policy))
                .with(count_attempts(counts.clone()))
                .build()
        }
        Client::ReqwestBuiltin => {
            let host = url.host_str().unwrap_or_default().to_owned();
            let seen = counts.clone();
            let retry = reqwest::retry::for_host(host)
                .max_retries_per_request(args.max_retries)
                .classify_fn(move |rr| {
                    seen.attempt(rr.status());
                    match rr.status() {
                        Some(s) if s == 429 || s.is_server_error() => rr.retryable(),
                        None if rr.error().is_some() => rr.retryable(),
                        _ => rr.success(),
                    }
                });
            ClientBuilder::new(build(plain().retry(retry))?).build()
        }
    })
}

/// Runs the command line's requests and totals them; `Err` is bad input, said in a sentence.
pub async fn run(args: &Args, bar: ProgressBar) -> Result<Summary, String> {
    let template = Arc::new(template(args)?);
    let counts = Arc::new(Counts::default());
    let client = client(args, &template.url, &counts)?;
    let plain = reqwest::Client::new();
    let politely = args.client == Client::Politely;

    bar.set_length(args.count);
    let (next, ok, failed) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let concurrency = args.concurrency.unwrap_or(args.count).min(args.count);
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, plain, template, counts, bar) = (
            client.clone(),
            plain.clone(),
            template.clone(),
            counts.clone(),
            bar.clone(),
        );
        let (next, ok, failed) = (next.clone(), ok.clone(), failed.clone());
        let count = args.count;
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let request = match template.request(&plain, i) {
                    Ok(r) => r,
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        say(&bar, format!("request {i}: {e}"));
                        bar.inc(1);
                        continue;
                    }
                };
                let mut ext = http::Extensions::new();
                let out = client.execute_with_extensions(request, &mut ext).await;
                if politely {
                    // The middleware says how many attempts the request took, after an error
                    // too; a final 429 was not retried, so `on_backoff` did not see it.
                    let attempts = ext.get::<Attempts>().map_or(1, |a| a.0);
                    counts
                        .attempts
                        .fetch_add(u64::from(attempts), Ordering::Relaxed);
                    if out.as_ref().is_ok_and(|r| r.status() == 429) {
                        counts.status_429.fetch_add(1, Ordering::Relaxed);
                    }
                }
                match out {
                    Ok(r) if r.status().is_success() || r.status().is_redirection() => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        say(&bar, format!("request {i}: {}", r.status()));
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        say(&bar, format!("request {i}: {}", error_chain(&e)));
                    }
                }
                bar.inc(1);
                bar.set_message(format!(
                    "attempts={} 429={} failed={}",
                    counts.attempts.load(Ordering::Relaxed),
                    counts.status_429.load(Ordering::Relaxed),
                    failed.load(Ordering::Relaxed)
                ));
            }
        }));
    }
    for worker in workers {
        worker.await.map_err(|e| format!("a worker died: {e}"))?;
    }
    bar.finish_and_clear();
    Ok(Summary {
        ok: ok.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        attempts: counts.attempts.load(Ordering::Relaxed),
        status_429: counts.status_429.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
    })
}

/// A line about one request: above the progress bar, or straight to stderr when the bar is
/// hidden (stderr not a terminal, as in `scripts/compare.sh`), where indicatif's `println`
/// would drop it and a failed request would go unnamed.
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// An error and its causes, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text += &format!(": {cause}");
        source = cause.source();
    }
    text
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args, progress_bar()).await {
        Ok(summary) => {
            println!("{}", summary.line());
            if summary.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("fetch: {e}");
            ExitCode::from(2)
        }
    }
}
