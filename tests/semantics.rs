//! What the attribute decides: which outcomes are retried, per-call limits, runtime waits,
//! exhaustion, handlers (sync and async), jitter, cancellation.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::Calls;
use politely::{Details, backoff};
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq)]
enum ApiError {
    RateLimited { retry_after: Option<u64> },
    Timeout(u32),
    BadRequest,
    Unauthorized,
}

/// Serves the errors in `script` in order, then `Ok`.
fn serve(script: &[ApiError], n: &AtomicU32) -> Result<u32, ApiError> {
    let i = n.fetch_add(1, Ordering::SeqCst) as usize;
    match script.get(i) {
        Some(e) => Err(e.clone()),
        None => Ok(i as u32),
    }
}

fn h(calls: &Calls, kind: &str, d: &Details<'_, Result<u32, ApiError>>) {
    calls.push(format!("{kind}:{}:{:?}", d.tries, d.error()));
}

#[backoff(constant, interval = 1, max_tries = 5, jitter = none,
    on = error(ApiError::RateLimited { .. } | ApiError::Timeout(_)),
    giveup = |e: &ApiError| matches!(e, ApiError::Timeout(n) if *n > 3),
    on_backoff = |d| h(calls, "backoff", d), on_giveup = |d| h(calls, "giveup", d),
    on_success = |d| h(calls, "success", d))]
async fn filtered(script: &[ApiError], n: &AtomicU32, calls: &Calls) -> Result<u32, ApiError> {
    serve(script, n)
}

#[tokio::test(start_paused = true)]
async fn error_pattern_retries_only_matching_errors() {
    let (n, calls) = (AtomicU32::new(0), Calls::default());
    let script = [
        ApiError::RateLimited { retry_after: None },
        ApiError::Timeout(1),
    ];
    assert_eq!(filtered(&script, &n, &calls).await, Ok(2));
    assert_eq!(
        calls.get(),
        [
            "backoff:1:Some(RateLimited { retry_after: None })",
            "backoff:2:Some(Timeout(1))",
            "success:3:None"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_error_outside_the_pattern_returns_at_once_without_handlers() {
    let (n, calls) = (AtomicU32::new(0), Calls::default());
    let script = [
        ApiError::Timeout(1),
        ApiError::BadRequest,
        ApiError::Timeout(1),
    ];
    let start = Instant::now();
    assert_eq!(
        filtered(&script, &n, &calls).await,
        Err(ApiError::BadRequest)
    );
    assert_eq!(n.load(Ordering::SeqCst), 2);
    assert_eq!(calls.get(), ["backoff:1:Some(Timeout(1))"]);
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn giveup_predicate_gives_up_with_handlers() {
    let (n, calls) = (AtomicU32::new(0), Calls::default());
    let script = [ApiError::Timeout(9), ApiError::Timeout(1)];
    assert_eq!(
        filtered(&script, &n, &calls).await,
        Err(ApiError::Timeout(9))
    );
    assert_eq!(calls.get(), ["giveup:1:Some(Timeout(9))"]);
}

/// No `on`: `Result` retries every `Err`; `giveup` still applies.
#[backoff(constant, interval = 1, max_tries = 4, jitter = none,
    giveup = |e| *e == ApiError::Unauthorized)]
async fn default_result(script: &[ApiError], n: &AtomicU32) -> Result<u32, ApiError> {
    serve(script, n)
}

#[tokio::test(start_paused = true)]
async fn result_retries_on_err_by_default() {
    let n = AtomicU32::new(0);
    let script = [ApiError::BadRequest, ApiError::Timeout(0)];
    assert_eq!(default_result(&script, &n).await, Ok(2));
    let n = AtomicU32::new(0);
    let script = [
        ApiError::BadRequest,
        ApiError::Unauthorized,
        ApiError::BadRequest,
    ];
    assert_eq!(
        default_result(&script, &n).await,
        Err(ApiError::Unauthorized)
    );
    assert_eq!(n.load(Ordering::SeqCst), 2);
}

/// `bool` retries on `false`, `Option` on `None`, and the last value is returned on give-up.
#[backoff(constant, interval = 1, max_tries = 3, jitter = none)]
async fn flag(n: &AtomicU32, ok_at: u32) -> bool {
    n.fetch_add(1, Ordering::SeqCst) + 1 >= ok_at
}

#[backoff(constant, interval = 0, max_tries = 3, jitter = none)]
fn maybe(n: &AtomicU32, some_at: u32) -> Option<u32> {
    let i = n.fetch_add(1, Ordering::SeqCst) + 1;
    (i >= some_at).then_some(i)
}

#[tokio::test(start_paused = true)]
async fn bool_and_option_have_default_predicates() {
    let n = AtomicU32::new(0);
    assert!(flag(&n, 2).await);
    assert_eq!(n.load(Ordering::SeqCst), 2);
    let n = AtomicU32::new(0);
    assert!(!flag(&n, 10).await);
    assert_eq!(n.load(Ordering::SeqCst), 3);
    let n = AtomicU32::new(0);
    assert_eq!(maybe(&n, 3), Some(3));
    let n = AtomicU32::new(0);
    assert_eq!(maybe(&n, 9), None);
}

/// A predicate on any type: retry while it is true; the last value comes back on give-up.
#[backoff(constant, interval = 2, max_tries = 4, jitter = none, on = predicate,
    predicate = |status| *status == 429)]
async fn status(codes: &[u16], n: &AtomicU32) -> u16 {
    codes[n.fetch_add(1, Ordering::SeqCst) as usize]
}

#[tokio::test(start_paused = true)]
async fn predicate_on_any_type() {
    let n = AtomicU32::new(0);
    assert_eq!(status(&[429, 429, 202], &n).await, 202);
    let n = AtomicU32::new(0);
    assert_eq!(status(&[429, 429, 429, 429, 202], &n).await, 429);
    assert_eq!(n.load(Ordering::SeqCst), 4);
}

/// Limits are expressions evaluated once per call: here from the arguments and a closure.
static LIMIT_EVALS: AtomicU32 = AtomicU32::new(0);

#[backoff(constant, interval = 1, jitter = none, max_tries = tries,
    max_time = || { LIMIT_EVALS.fetch_add(1, Ordering::SeqCst); Duration::from_secs(budget) })]
async fn per_call(tries: u32, budget: u64, n: &AtomicU32) -> Option<()> {
    n.fetch_add(1, Ordering::SeqCst);
    None
}

#[tokio::test(start_paused = true)]
async fn limits_are_evaluated_per_call() {
    let n = AtomicU32::new(0);
    per_call(3, 100, &n).await;
    assert_eq!(n.load(Ordering::SeqCst), 3);
    let n = AtomicU32::new(0);
    let start = Instant::now();
    per_call(100, 5, &n).await;
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(n.load(Ordering::SeqCst), 6);
    assert_eq!(LIMIT_EVALS.load(Ordering::SeqCst), 2);
}

/// `runtime`: the wait comes from the error (the Retry-After hook); no value gives up.
#[backoff(runtime, value = |e: &ApiError| match e {
    ApiError::RateLimited { retry_after } => *retry_after,
    _ => None,
}, jitter = none, max_tries = 5)]
async fn retry_after(script: &[ApiError], n: &AtomicU32) -> Result<u32, ApiError> {
    serve(script, n)
}

#[tokio::test(start_paused = true)]
async fn runtime_waits_read_the_error() {
    let n = AtomicU32::new(0);
    let start = Instant::now();
    let script = [
        ApiError::RateLimited {
            retry_after: Some(7),
        },
        ApiError::RateLimited {
            retry_after: Some(3),
        },
    ];
    assert_eq!(retry_after(&script, &n).await, Ok(2));
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    let n = AtomicU32::new(0);
    let script = [
        ApiError::RateLimited {
            retry_after: Some(1),
        },
        ApiError::Timeout(0),
    ];
    assert_eq!(retry_after(&script, &n).await, Err(ApiError::Timeout(0)));
    assert_eq!(n.load(Ordering::SeqCst), 2);
}

/// `runtime` in predicate mode reads the value.
#[backoff(runtime, value = |v: &(bool, u64)| Some(v.1), jitter = none, max_tries = 3,
    predicate = |v| !v.0)]
fn runtime_value(n: &AtomicU32) -> (bool, u64) {
    let i = n.fetch_add(1, Ordering::SeqCst);
    (i == 2, u64::from(i) + 1)
}

#[test]
fn runtime_reads_the_value_in_predicate_mode() {
    let clock = politely::sim::SimClock::new();
    #[backoff(runtime, value = |v: &u64| Some(*v), jitter = none, max_tries = 3,
        predicate = |v| *v < 3, sleep = |w| clock.sleep(w), clock = || clock.now())]
    fn counting(n: &AtomicU32, clock: &politely::sim::SimClock) -> u64 {
        u64::from(n.fetch_add(1, Ordering::SeqCst)) + 1
    }
    let n = AtomicU32::new(0);
    assert_eq!(counting(&n, &clock), 3);
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(1), Duration::from_secs(2)]
    );
    let _ = runtime_value; // exercised for compilation of the tuple form
}

/// A finite interval list gives up when it runs out, through the same give-up path.
#[backoff(constant, interval = [1, 2], jitter = none, on_giveup = |d| calls.push(format!("giveup:{}", d.tries)))]
async fn exhausts(calls: &Calls) -> Option<()> {
    None
}

#[tokio::test(start_paused = true)]
async fn an_exhausted_interval_list_gives_up() {
    let calls = Calls::default();
    let start = Instant::now();
    assert_eq!(exhausts(&calls).await, None);
    assert_eq!(calls.get(), ["giveup:3"]);
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

/// Handlers: lists, sync and async mixed, run in order, async ones awaited.
async fn async_handler(calls: &Calls, d: &Details<'_, Option<()>>) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    calls.push(format!("async:{}", d.tries));
}

#[backoff(constant, interval = 1, max_tries = 2, jitter = none,
    on_backoff = [|d| calls.push(format!("sync:{}", d.tries)), async |d| async_handler(calls, d).await],
    on_giveup = async |d| async_handler(calls, d).await)]
async fn handlers(calls: &Calls) -> Option<()> {
    None
}

#[tokio::test(start_paused = true)]
async fn sync_and_async_handlers_run_in_order() {
    let calls = Calls::default();
    let start = Instant::now();
    handlers(&calls).await;
    assert_eq!(calls.get(), ["sync:1", "async:1", "async:2"]);
    // Two awaited async handlers of 0.5 s plus one 1 s wait.
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

/// Handlers generic over the outcome need not spell it: the same sync and async pair serve
/// a sync fn and an async fn of different outcomes (`Details<'_, Result<reqwest::Response,
/// reqwest::Error>>` is never written).
fn log_any<R: std::fmt::Debug>(d: &Details<'_, R>) {
    SEEN.with(|s| {
        s.borrow_mut()
            .push(format!("sync:{}:{:?}", d.tries, d.outcome))
    });
}

async fn log_any_async<R: std::fmt::Debug>(d: &Details<'_, R>) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    SEEN.with(|s| {
        s.borrow_mut()
            .push(format!("async:{}:{:?}", d.tries, d.outcome))
    });
}

thread_local! {
    static SEEN: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[backoff(constant, interval = 1, max_tries = 2, jitter = none,
    on_backoff = [log_any, log_any_async], on_giveup = [log_any_async, log_any])]
async fn generic_handlers_async(n: &AtomicU32) -> Result<u32, ApiError> {
    serve(&[ApiError::Timeout(1), ApiError::BadRequest], n)
}

#[backoff(constant, interval = 0, max_tries = 2, jitter = none,
    on_backoff = log_any, on_giveup = log_any, on_success = log_any)]
fn generic_handlers_sync(n: &AtomicU32) -> Option<u32> {
    (n.fetch_add(1, Ordering::SeqCst) > 0).then_some(7)
}

#[tokio::test(start_paused = true)]
async fn handlers_generic_over_the_outcome() {
    fn send<T: Send>(t: T) -> T {
        t
    }
    let n = AtomicU32::new(0);
    let start = Instant::now();
    assert_eq!(
        send(generic_handlers_async(&n)).await,
        Err(ApiError::BadRequest)
    );
    // Two awaited async handlers of 0.5 s plus one 1 s wait.
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(generic_handlers_sync(&AtomicU32::new(0)), Some(7));
    assert_eq!(
        SEEN.with(|s| s.take()),
        [
            "sync:1:Err(Timeout(1))",
            "async:1:Err(Timeout(1))",
            "async:2:Err(BadRequest)",
            "sync:2:Err(BadRequest)",
            "sync:1:None",
            "sync:2:Some(7)",
        ]
    );
}

/// Jitter: seeded through the attribute it is reproducible; a custom function applies.
#[backoff(expo, max_tries = 6, jitter = full, seed = seed, on_backoff = |d| calls.push(format!("{:?}", d.wait.unwrap())))]
async fn seeded(seed: u64, calls: &Calls) -> Option<()> {
    None
}

#[tokio::test(start_paused = true)]
async fn seeded_jitter_is_reproducible() {
    let (a, b, c) = (Calls::default(), Calls::default(), Calls::default());
    seeded(7, &a).await;
    seeded(7, &b).await;
    seeded(8, &c).await;
    assert_eq!(a.get(), b.get());
    assert_ne!(a.get(), c.get());
    assert_eq!(a.get().len(), 5);
}

#[backoff(expo, max_tries = 3, jitter = |w| w * 3)]
async fn tripled() -> Option<()> {
    None
}

#[backoff(expo, max_tries = 3, jitter = politely::Jitter::None)]
async fn jitter_value() -> Option<()> {
    None
}

#[tokio::test(start_paused = true)]
async fn custom_jitter_and_jitter_values() {
    let start = Instant::now();
    tripled().await;
    assert_eq!(start.elapsed(), Duration::from_secs(3 + 6));
    let start = Instant::now();
    jitter_value().await;
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[backoff(decay, initial_value = 8, decay_factor = 1, min_value = 2, max_tries = 4, jitter = none)]
async fn decaying() -> Option<()> {
    None
}

#[backoff(wait = [5u64, 1].into_iter(), jitter = none, max_tries = 10)]
async fn user_generator() -> Option<()> {
    None
}

#[tokio::test(start_paused = true)]
async fn decay_and_user_generators() {
    let start = Instant::now();
    decaying().await;
    // 8, 8/e = 2.94, then floored at 2 (tokio's timer rounds each sleep up to a millisecond).
    let expected = 8.0 + 8.0 * (-1.0f64).exp() + 2.0;
    let got = start.elapsed().as_secs_f64();
    assert!(
        got >= expected && got - expected < 0.002,
        "{got} vs {expected}"
    );
    let start = Instant::now();
    user_generator().await;
    assert_eq!(start.elapsed(), Duration::from_secs(6));
}

/// Cancellation: dropping the future mid-wait stops all further attempts.
#[backoff(constant, interval = 10, jitter = none)]
async fn forever(n: Arc<AtomicU32>) -> Option<()> {
    n.fetch_add(1, Ordering::SeqCst);
    None
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_mid_wait_stops_attempts() {
    let n = Arc::new(AtomicU32::new(0));
    let out = tokio::time::timeout(Duration::from_secs(25), forever(n.clone())).await;
    assert!(out.is_err());
    assert_eq!(n.load(Ordering::SeqCst), 3); // at 0, 10 and 20 s
    tokio::time::sleep(Duration::from_secs(100)).await;
    assert_eq!(n.load(Ordering::SeqCst), 3);
}

/// `crate = "..."` points the expansion at a re-export.
mod reexport {
    pub use politely as retry_lib;
}

#[backoff(crate = "reexport::retry_lib", constant, interval = 1, max_tries = 2, jitter = none)]
async fn via_reexport() -> bool {
    false
}

#[tokio::test(start_paused = true)]
async fn crate_path_argument() {
    assert!(!via_reexport().await);
}

/// Runtime limits of any integer type saturate: a negative `max_tries` acts as one attempt,
/// never as "forever".
#[backoff(constant, interval = 0, jitter = none, max_tries = tries)]
fn counted(tries: i64, n: &AtomicU32) -> bool {
    n.fetch_add(1, Ordering::SeqCst);
    false
}

#[test]
fn runtime_max_tries_saturates() {
    for (tries, expected) in [(-3i64, 1), (0, 1), (2, 2)] {
        let n = AtomicU32::new(0);
        assert!(!counted(tries, &n));
        assert_eq!(n.load(Ordering::SeqCst), expected, "max_tries = {tries}");
    }
}

/// The clock is read when a run starts and after each failed attempt (for `max_time`), but
/// not after a success unless an `on_success` handler asks for `elapsed`: a first-try
/// success costs one read, not two. Sync and async alike.
#[backoff(constant, interval = 1, max_time = 10, jitter = none,
    sleep = |w| clock.sleep(w), clock = || { reads.fetch_add(1, Ordering::SeqCst); clock.now() })]
fn timed(fails: &AtomicU32, reads: &AtomicU32, clock: &politely::sim::SimClock) -> Result<(), ()> {
    if fails.load(Ordering::SeqCst) == 0 {
        return Ok(());
    }
    fails.fetch_sub(1, Ordering::SeqCst);
    Err(())
}

#[backoff(constant, interval = 1, max_time = 10, jitter = none,
    on_success = |d| seen.push(format!("success:{}:{:?}", d.tries, d.elapsed)),
    sleep = |w| clock.sleep(w), clock = || { reads.fetch_add(1, Ordering::SeqCst); clock.now() })]
fn timed_seen(
    fails: &AtomicU32,
    reads: &AtomicU32,
    seen: &Calls,
    clock: &politely::sim::SimClock,
) -> Result<(), ()> {
    if fails.load(Ordering::SeqCst) == 0 {
        return Ok(());
    }
    fails.fetch_sub(1, Ordering::SeqCst);
    Err(())
}

#[backoff(constant, interval = 1, max_time = 10, jitter = none,
    clock = || { reads.fetch_add(1, Ordering::SeqCst); tokio::time::Instant::now() })]
async fn timed_async(fails: &AtomicU32, reads: &AtomicU32) -> Result<(), ()> {
    if fails.load(Ordering::SeqCst) == 0 {
        return Ok(());
    }
    fails.fetch_sub(1, Ordering::SeqCst);
    Err(())
}

#[tokio::test(start_paused = true)]
async fn a_success_reads_the_clock_only_for_on_success() {
    let clock = politely::sim::SimClock::new();
    for (failures, expected) in [(0, 1), (2, 3)] {
        let (fails, reads) = (AtomicU32::new(failures), AtomicU32::new(0));
        assert_eq!(timed(&fails, &reads, &clock), Ok(()));
        assert_eq!(
            reads.load(Ordering::SeqCst),
            expected,
            "sync, {failures} failures"
        );
        let (fails, reads) = (AtomicU32::new(failures), AtomicU32::new(0));
        assert_eq!(timed_async(&fails, &reads).await, Ok(()));
        assert_eq!(
            reads.load(Ordering::SeqCst),
            expected,
            "async, {failures} failures"
        );
    }
    // With `on_success`, the success's elapsed time is read for its details.
    let clock = politely::sim::SimClock::new();
    let (fails, reads, seen) = (AtomicU32::new(2), AtomicU32::new(0), Calls::default());
    assert_eq!(timed_seen(&fails, &reads, &seen, &clock), Ok(()));
    assert_eq!(reads.load(Ordering::SeqCst), 4);
    assert_eq!(seen.get(), ["success:3:2s"]);
}
