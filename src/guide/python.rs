//! Python `backoff` 2.2.1's semantics, and where this crate deliberately differs.
//!
//! The attribute ports the decorators `on_exception` and `on_predicate` of Python's
//! [`backoff`](https://pypi.org/project/backoff/) 2.2.1: the same wait generators (`expo`,
//! `fibo`, `constant`, `runtime`, and upstream's unreleased `decay`), the same jitter and limits,
//! the same handlers and log lines. Tests replay the package's worked traces (jitter off, calls
//! taking no time): `expo, max_tries = 5` always failing waits 1, 2, 4, 8 s and gives up at
//! try 5 after 15 s; `expo, max_time = 10` waits 1, 2, 4, then 3 s (cut to what remains) and
//! gives up at 10 s; `fibo, max_tries = 8` waits 1, 1, 2, 3, 5, 8, 13 s.
//!
//! ```
//! use politely::backoff;
//!
//! #[derive(Debug)]
//! struct Timeout;
//!
//! // Python:
//! //     @backoff.on_exception(backoff.expo, TimeoutError, max_tries=5, jitter=None)
//! //     def fetch(): ...
//! #[backoff(expo, max_tries = 5, jitter = none, on = error(Timeout))]
//! fn fetch() -> Result<u32, Timeout> {
//!     Ok(1)
//! }
//!
//! // Python:
//! //     @backoff.on_predicate(backoff.constant, interval=2, max_time=60, jitter=None)
//! //     def poll(): ...          # retried while the result is falsy
//! #[backoff(constant, interval = 2, max_time = 60, jitter = none)]
//! fn poll() -> Option<String> {
//!     Some("done".to_owned())
//! }
//!
//! assert_eq!(fetch().unwrap(), 1);
//! assert_eq!(poll().as_deref(), Some("done"));
//! ```
//!
//! # Side by side
//!
//! | | Python 2.2.1 | this crate |
//! |---|---|---|
//! | generators | `expo`, `fibo`, `constant`, `runtime` | the same sequences, plus upstream's unreleased `decay` |
//! | jitter | `full_jitter` (default), `random_jitter`, `None` | `full` (default), `random`, `none`, plus `equal`, `decorrelated`, any fn |
//! | order | wait = generator, then jitter, then cut to what remains of `max_time` | the same |
//! | `max_tries` | attempts in all; `0` loops forever | attempts in all; a literal `0` is a compile error, a runtime `0` acts as `1` |
//! | elapsed | wall clock, taken before the call | monotonic (tokio's clock in async code, so `tokio::time::pause` works), taken when the attempt ends, less the time queued for a pacer (`rate`, `pacer`): `Details::elapsed` and `max_time` count the time spent in attempts and backoff waits only |
//! | unmatched error | propagates, no handler | returned at once, no handler, no log line |
//! | give-up | `on_giveup`, then re-raise or return the value; generator exhaustion differs by path | one path: `on_giveup`, then the last outcome returned unchanged, whatever ended the run |
//! | handlers | `details` dict: `target`, `args`, `kwargs`, `tries`, `elapsed`, `wait`, `value`/`exception` | `Details`: `target`, `tries`, `elapsed`, `wait`, `outcome` (the whole return value; `.error()`, `.value()`); sync or async handlers |
//! | predicates | plain functions (async ones never awaited) | plain functions; handlers may be async |
//! | `on_predicate` over `on_exception` | the exception escapes the outer decorator, no handler | the same: a `predicate` on a `Result` fn judges the `Ok` value, an `Err` is returned at once with no handler and no log line (`on = outcome` judges the whole `Result`) |
//! | logging | logger `backoff`: `Backing off f(...) for 1.2s (...)` at INFO, `Giving up f(...) after 5 tries (...)` at ERROR, default handler first | the same lines on `tracing` target `backoff` (outcome by `Debug`, else its type name; with the `http` or `reqwest` feature, an HTTP response, alone or in a `Result`, by its status, its URL's path and `Retry-After`: `Ok(Response { status: 429 Too Many Requests, path: "/sms", retry_after: "1" })`; the builder, generic over the outcome, keeps `Debug`), default first; levels configurable, `logger = none` |
//! | stacked decorators | nest | nest |
//! | `max_time` at the deadline | every client still retrying makes its last call at the deadline | the same (it is what "never sleep past `max_time`" means); with a pacer, that last call may start later, once its slot comes, since queueing is not counted: bound a whole call, queueing included, with `tokio::time::timeout` |
//!
//! The deliberate differences are fixes of upstream's known bugs: `elapsed` read from the wall
//! clock and taken before the call (so the last attempt could overrun `max_time`), `max_tries = 0`
//! looping forever, two give-up paths that behave differently when the generator runs out, async
//! predicates that are never awaited, and duplicate log lines when one decorator object is reused
//! (each expansion here is its own).
//!
//! # Bad values never panic
//!
//! Bad runtime values never panic, overflow or loop forever: every duration saturates; NaN or
//! negative seconds wait zero; a generator value past `Duration::MAX` waits `Duration::MAX`;
//! `max_tries` of `0` (or negative) makes one attempt; `Duration::MAX` limits are fine; `fibo` and
//! `expo` saturate after any number of tries; a pacer's rate that is zero, negative, NaN or infinite paces nothing,
//! one too slow to represent (`1e-20` per second) paces one attempt per 10^7 s (about 115 days);
//! a `Retry-After` of more seconds than a `u64` holds waits `Duration::MAX` (then capped by
//! `max_value` and `max_time`). Property tests (`backoff-core/tests/props.rs`) check the
//! generators, jitter and limits over the whole parameter space. A misused attribute is a compile error on the token
//! at fault (the UI tests hold over a hundred cases).
