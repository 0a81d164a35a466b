//! Retry politely: Python's [`backoff`](https://pypi.org/project/backoff/) decorator for Rust,
//! pacing to rate limits, and a retry budget.
//!
//! APIs enforce rate limits: an SMS API may allow one message per second and answer
//! `429 Too Many Requests` beyond it. A client that retries at once makes things worse;
//! exponential backoff slows down, and jitter (random waits) stops many clients' retries from
//! bunching. Backoff finds a limit by hitting it, though: pacing requests to the limit beats both,
//! and keeps backoff for what pacing cannot foresee (other clients, outages). This crate does all
//! three, with Python `backoff` 2.2.1's semantics: the same wait generators, jitter, limits,
//! handlers and log lines, minus Python's known bugs.
//!
//! ```
//! use politely::backoff;
//!
//! #[derive(Debug)]
//! enum SmsError { RateLimited, Server(u16), Rejected(u16) }
//!
//! /// Retried on 429 and 5xx with exponential waits and full jitter for up to 5 minutes,
//! /// at most one attempt a second; any other error is returned at once.
//! #[backoff(expo, max_time = 300, jitter = full, rate = 1 per second,
//!           on = error(SmsError::RateLimited | SmsError::Server(_)))]
//! async fn send_sms(to: &str, text: &str) -> Result<(), SmsError> {
//!     /* POST to the Messages API */
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! send_sms("+15550100", "Your code is 1234").await.unwrap();
//! # }
//! ```
//!
//! # The attribute and the builder
//!
//! [`#[backoff(...)]`](backoff) rewrites an `async fn` (or a plain `fn`) into a retry loop; its
//! docs are the reference of every argument, with the code it expands to. Without the attribute,
//! the builder makes the same decisions (both apply the runtime's rules; with the same `seed` they
//! even wait the same). It has one entry point and chained options: the policy ([`expo`],
//! [`fibo`], [`constant`], [`decay`], [`runtime`], [`intervals`], or [`Backoff::new`] over any
//! iterator of seconds), then the operation, `.retry(op)` (async: await the result) or
//! `.retry_blocking(op)` (sync: `.call()` it), then how to judge, pace, sleep and report it; the
//! outcome type is known by then, so closures need no annotations:
//!
//! ```
//! # #[derive(Debug)]
//! # enum SmsError { RateLimited { retry_after: Option<u64> }, Server(u16), Rejected(u16) }
//! # async fn send_sms(_: &str) -> Result<(), SmsError> { Ok(()) }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let pacer = politely::Pacer::per_second(1.0);
//! let sent = politely::expo().max_value(32).max_time(300)
//!     .retry(|| send_sms("+15550100"))
//!     .when(|e| matches!(e, SmsError::RateLimited { .. } | SmsError::Server(_)))
//!     .retry_after(|e| match e {
//!         SmsError::RateLimited { retry_after } => *retry_after,
//!         _ => None,
//!     })
//!     .pacer(&pacer)
//!     .on_backoff(|d| eprintln!("retry {} in {:?}", d.tries, d.wait))
//!     .await;
//! assert!(sent.is_ok());
//! # }
//! ```
//!
//! | the attribute's | the builder's |
//! |---|---|
//! | `expo`, `fibo`, `constant`, `decay`, `runtime` and their parameters | `politely::expo().base(3).max_value(32)`, `politely::constant(2)`, `politely::intervals([1, 2])`… |
//! | `max_tries`, `max_time`, as values or closures | `.max_tries(5)`, `.max_time(60)`, `.max_tries_with(f)`, `.max_time_with(f)` |
//! | `jitter`, `seed`, `backoff_log_level`, `giveup_log_level` | `.jitter(Jitter::Equal)`, `.seed(7)`, `.backoff_log_level(Some(Level::DEBUG))`… |
//! | `on = error(Pattern)`, `giveup` | `.when(\|e\| matches!(e, Pattern))` (other errors propagate), `.giveup(\|e\| ...)` |
//! | `predicate` | `.predicate(\|v\| ...)` (true retries), or `.judge(\|v\| Verdict::...)` |
//! | `retry_after` (capped by `max_value`) | `.retry_after(\|e\| ...)` on the error, `.retry_after_outcome(\|v\| ...)` |
//! | `budget` | `.budget(&budget)` (a [`RetryBudget`] shared by runs: a spent one makes a failing run give up at once) |
//! | `rate`/`pacer`, `rate_key` | `.pacer(&pacer)`, `.rate_key(sender)` (a Redis pacer too) |
//! | `sleep`, `clock` | `.sleep(f)`, `.clock(f)` (e.g. a [`sim::SimClock`]'s) |
//! | `on_success`, `on_backoff`, `on_giveup`, sync or async | the same methods, sync or async, called in the order added |
//!
//! An async handler returns a future that does not borrow the details (copy out what it needs:
//! `|d| { let tries = d.tries; async move { ... } }`), so the retry future is `Send` whenever the
//! operation's future and outcome are. Nothing is boxed: each option is stored by type, and an
//! async handler's future lives inside the retry future. It paces as the attribute does: a run
//! sleeps towards its slot holding the reservation, so a run dropped before its slot (a timeout)
//! gives the slot back, and its queued time is not counted in `max_time`; a pacer that times its
//! own wait (adaptive, or shared through Redis) is awaited boxed in an async retry (one allocation
//! per paced attempt, only then; the attribute allocates none). An async run
//! starts when its future is first polled (callable limits are evaluated and the clock read then),
//! so a future made early for `select!` or `spawn` counts no time before that.
//!
//! [`State`] is the same decisions as one value, for a retry loop of your own.
//!
//! # Guides
//!
//! - [`backoff`]: every argument of the attribute, its defaults, and the equivalent code.
//! - [`pace`]: pace first, back off last. Fixed pacing (`rate = 2 per second`, a [`Pacer`] you
//!   own), adaptive pacing (a limit the client is not told), and one limit shared by every process
//!   through Redis.
//! - [`hints`]: what a response says about a limit: `Retry-After`, rate-limit headers, and the
//!   feedback an adaptive pacer learns from.
//! - [`budget`]: a retry budget, so retries add at most a share to the traffic of a failing server.
//! - [`guide::python`]: Python `backoff` 2.2.1's semantics side by side, and where this crate
//!   deliberately differs.
//! - [`guide::idempotency`]: retrying calls that are not idempotent (an SMS, a payment) with
//!   idempotency keys.
//! - [`guide::jitter`]: jitter and contention, the article's graphs, and why the default is
//!   `expo` with full jitter.
//! - [`guide::performance`]: what the retry machinery costs and what its future keeps.
//!
//! The measurements behind the guides' figures, with their commands and history, are in the
//! repository's [docs/benchmarks.md](https://github.com/politely-rs/politely/blob/main/docs/benchmarks.md).
//!
//! # Examples
//!
//! The repository's `examples/sms/` sends a batch of SMS through a rate-limited stand-in Messages
//! API: `cargo run --example sms` needs no account and no network. With no `--base-url` it starts
//! the stand-in on 127.0.0.1, which verifies each request's RS256 JWT and answers 429 beyond
//! 1 request/s (`--rate`, `--burst`); `--fault KIND=P` (repeatable) and `--fault-seed N` make it
//! lose answers, reset connections or answer late, `500` or `503`, and `--timeout S` bounds each
//! request. `--adaptive` makes the client learn the limit instead of being told it, `--workers K`
//! runs K processes, and `--redis URL` paces them through one budget in Redis.
//! `cargo run -p backoff-standin -- --addr ADDR` runs just the stand-in. `cargo run --example
//! attempts`, `outage` and `--release --example contention` reproduce the studies of
//! [`guide::jitter`] and [`budget`].
//!
//! # Cargo features
//!
//! | feature | what it adds |
//! |---|---|
//! | `tokio` (default) | async fns sleep on tokio and read its clock (so `tokio::time::pause` governs them), and `Pacer::ready` waits on it; without it an async fn needs `sleep = ...` |
//! | `http` | `RetryAfter` for `http::HeaderMap`; `RateFeedback` for `http::Response<B>` (`rate = adaptive` learns from it by itself); `Feedback::from_http`, `Hints::from_headers`; log lines show an `http::Response` by its status and `Retry-After` |
//! | `reqwest` (and `http`) | `RetryAfter` for `reqwest::Response` (`resp.retry_after()`); `RateFeedback` for `reqwest::Response` and `reqwest::Error`, so `Result<reqwest::Response, reqwest::Error>` needs no `observe`; log lines show a response by its status, path and `Retry-After` |
//! | `redis` (and `tokio`) | `Pacer::redis`, `Pacer::redis_with_burst`, `Pacer::redis_adaptive`, `RedisPacerBuilder` and `politely::redis`: one rate limit shared by every process ([`pace`](crate::pace#across-processes-redis)) |
//! | `redis-tls` (and `redis`) | `rediss://` URLs: TLS to a managed Redis through the redis crate's rustls support (with aws-lc-rs, installed as rustls' process default if the program has none) |
//! | `reqwest-middleware` (and `reqwest`, `tokio`) | [`middleware`]: `PoliteMiddleware`, a `reqwest_middleware::Middleware` that retries and paces every request of a client, with `Retry-After`, a retry budget and `POST`s retried only when safe |
//! | `tower` (and `http`, `tokio`) | [`middleware`]: `PoliteLayer`, a `tower::Layer` whose service paces and retries any `Service<http::Request<B>>` by the same rules (gRPC's `RESOURCE_EXHAUSTED`, `UNAVAILABLE` and `grpc-retry-pushback-ms` too), every clone sharing one limit; `PolitePolicy`, a `tower::retry::Policy`; `RetryBudget` as tower's retry budget |
//!
//! ```toml
//! politely = { version = "0.1", features = ["reqwest"] }
//! ```
//!
//! The API docs mark each item a feature adds with that feature (docs.rs builds them with every
//! feature). A bound that a feature satisfies says which one (`rate = adaptive` on a
//! `reqwest::Response` without `reqwest`, a `T: RetryAfter`). A method call cannot: without
//! `reqwest`, `resp.retry_after()` is rustc's plain "no method named `retry_after`" (on stable
//! Rust a missing method shows no message of the library's); the trait that error names,
//! `RetryAfter`, lists in its docs what implements it under which feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod budget;
pub mod guide;
pub mod hints;
#[cfg(any(feature = "reqwest-middleware", feature = "tower"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "reqwest-middleware", feature = "tower")))
)]
pub mod middleware;
pub mod pace;

// The attribute: its reference (every argument, the equivalent code) is on the item.
#[doc(inline)]
pub use backoff_macros::backoff;

// The builder: a policy's entry points, then `.retry(op)` or `.retry_blocking(op)`; the wait
// generators behind them.
pub use backoff_core::{
    Backoff, Clock, Retry, RetryFuture, builder, constant, decay, expo, fibo, intervals, runtime,
    wait,
};

// Decisions and handlers: the rules of a run, what it decides, what its handlers see.
pub use backoff_core::{
    Action, Details, IntoSeconds, Jitter, Level, Policy, State, Verdict, Wait, sim,
};

// Pacing: the `pace` guide.
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use backoff_core::redis;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[doc(no_inline)]
pub use pace::RedisPacerBuilder;
#[doc(no_inline)]
pub use pace::{AdaptiveRate, Pacer, PacerInstant, Reservation};

// What a response says about a limit: the `hints` guide.
#[doc(no_inline)]
pub use hints::{Feedback, Hints, Quota, RateFeedback, RetryAfter, parse_retry_after};

// The retry budget: the `budget` guide.
#[doc(no_inline)]
pub use budget::RetryBudget;

#[doc(hidden)]
pub mod __private {
    pub use backoff_core::__private::*;
}

// The README's code blocks compile (and run) as doctests, so its tour cannot drift from the
// API; they carry no hidden lines, which a repository page would show.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
