//! The reference's worked traces through the builder, async on tokio's paused clock and sync
//! on a simulated clock: exact waits, tries, elapsed, handler order and final outcome.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use backoff_core::sim::SimClock;
use backoff_core::{Backoff, Details, Jitter, Verdict, Wait};

const S: fn(u64) -> Duration = Duration::from_secs;

type Log = Arc<Mutex<Vec<String>>>;

/// A builder with no jitter and handlers that record `kind:tries:elapsed:wait`.
fn recorded<W>(b: Backoff<W>, log: &Log) -> Backoff<W, backoff_core::Hooks<Result<(), String>>> {
    let rec = |kind: &'static str, log: &Log| {
        let log = log.clone();
        move |d: &Details<'_, Result<(), String>>| {
            log.lock().unwrap().push(format!(
                "{kind}:{}:{}:{}",
                d.tries,
                d.elapsed.as_secs_f64(),
                d.wait
                    .map_or("-".to_owned(), |w| w.as_secs_f64().to_string())
            ));
        }
    };
    b.jitter(Jitter::None)
        .on_success(rec("success", log))
        .on_backoff(rec("backoff", log))
        .on_giveup(rec("giveup", log))
}

struct Case {
    waits: Vec<u64>,
    tries: u32,
    elapsed: u64,
}

async fn run_async<W>(b: Backoff<W>) -> (Case, Vec<String>)
where
    W: Wait<Result<(), String>> + Clone,
{
    let log = Log::default();
    let b = recorded(b, &log);
    let start = tokio::time::Instant::now();
    let mut calls = 0u32;
    let mut sleeps = Vec::new();
    let mut last = start;
    let out = b
        .retry(|| {
            calls += 1;
            let now = tokio::time::Instant::now();
            if calls > 1 {
                sleeps.push((now - last).as_secs());
            }
            last = now;
            async { Err::<(), _>("down".to_owned()) }
        })
        .await;
    assert_eq!(out, Err("down".to_owned()));
    let case = Case {
        waits: sleeps,
        tries: calls,
        elapsed: start.elapsed().as_secs(),
    };
    (case, log.lock().unwrap().clone())
}

fn run_sync<W>(b: Backoff<W>) -> (Case, Vec<String>)
where
    W: Wait<Result<(), String>> + Clone,
{
    let log = Log::default();
    let b = recorded(b, &log);
    let clock = SimClock::new();
    let mut calls = 0u32;
    let out = b.retry_blocking_judged_with_sleep(
        || {
            calls += 1;
            Err::<(), _>("down".to_owned())
        },
        |r| {
            if r.is_err() {
                Verdict::Retry
            } else {
                Verdict::Success
            }
        },
        |w| clock.sleep(w),
        || clock.now(),
    );
    assert_eq!(out, Err("down".to_owned()));
    let case = Case {
        waits: clock.sleeps().iter().map(Duration::as_secs).collect(),
        tries: calls,
        elapsed: clock.now().0.as_secs(),
    };
    (case, log.lock().unwrap().clone())
}

fn check(case: Case, log: Vec<String>, waits: &[u64], tries: u32, elapsed: u64) {
    assert_eq!(case.waits, waits);
    assert_eq!(case.tries, tries);
    assert_eq!(case.elapsed, elapsed);
    // One on_backoff per wait, with the running tries and elapsed, then one on_giveup.
    let mut expected = Vec::new();
    let mut t = 0;
    for (i, w) in waits.iter().enumerate() {
        expected.push(format!("backoff:{}:{}:{}", i + 1, t, w));
        t += w;
    }
    expected.push(format!("giveup:{tries}:{elapsed}:-"));
    assert_eq!(log, expected);
}

#[tokio::test(start_paused = true)]
async fn expo_max_tries_5() {
    let (c, l) = run_async(backoff_core::expo().max_tries(5)).await;
    check(c, l, &[1, 2, 4, 8], 5, 15);
    let (c, l) = run_sync(backoff_core::expo().max_tries(5));
    check(c, l, &[1, 2, 4, 8], 5, 15);
}

#[tokio::test(start_paused = true)]
async fn expo_max_time_10_truncates_the_last_wait() {
    let (c, l) = run_async(backoff_core::expo().max_time(10)).await;
    check(c, l, &[1, 2, 4, 3], 5, 10);
    let (c, l) = run_sync(backoff_core::expo().max_time(10));
    check(c, l, &[1, 2, 4, 3], 5, 10);
}

#[tokio::test(start_paused = true)]
async fn fibo_max_tries_8() {
    let (c, l) = run_async(backoff_core::fibo().max_tries(8)).await;
    check(c, l, &[1, 1, 2, 3, 5, 8, 13], 8, 33);
    let (c, l) = run_sync(backoff_core::fibo().max_tries(8));
    check(c, l, &[1, 1, 2, 3, 5, 8, 13], 8, 33);
}

#[tokio::test(start_paused = true)]
async fn constant_interval_2_max_tries_4() {
    let (c, l) = run_async(backoff_core::constant(2).max_tries(4)).await;
    check(c, l, &[2, 2, 2], 4, 6);
    let (c, l) = run_sync(backoff_core::constant(2).max_tries(4));
    check(c, l, &[2, 2, 2], 4, 6);
}

#[tokio::test(start_paused = true)]
async fn success_after_failures_calls_on_success_once() {
    let log = Log::default();
    let b = recorded(backoff_core::expo().max_tries(5), &log);
    let mut calls = 0;
    let out = b
        .retry(|| {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err("no".to_owned()) } else { Ok(()) } }
        })
        .await;
    assert_eq!(out, Ok(()));
    assert_eq!(
        *log.lock().unwrap(),
        ["backoff:1:0:1", "backoff:2:1:2", "success:3:3:-"]
    );
}

#[tokio::test(start_paused = true)]
async fn predicate_retries_while_true_and_returns_the_last_value() {
    let mut calls = 0u32;
    let out = backoff_core::constant(1)
        .max_tries(3)
        .jitter(Jitter::None)
        .retry_while(
            || {
                calls += 1;
                let n = calls;
                async move { n }
            },
            |n| *n < 10,
        )
        .await;
    assert_eq!((out, calls), (3, 3));
}

#[tokio::test(start_paused = true)]
async fn elapsed_is_taken_when_the_attempt_ends() {
    // Each attempt takes 4 s, waits are 1 s, max_time = 10. Attempt 2 ends at t=9: 1 s is
    // left, so the wait is cut to it (no change here) and attempt 3 runs; it ends at t=14,
    // past max_time, and the run gives up then (Python measures elapsed before the call).
    let start = tokio::time::Instant::now();
    let ends = Arc::new(Mutex::new(Vec::new()));
    let out = backoff_core::constant(1)
        .max_time(10)
        .jitter(Jitter::None)
        .retry(|| {
            let ends = ends.clone();
            async move {
                tokio::time::sleep(S(4)).await;
                ends.lock().unwrap().push(start.elapsed().as_secs());
                Err::<(), _>("slow")
            }
        })
        .await;
    assert_eq!(out, Err("slow"));
    assert_eq!(*ends.lock().unwrap(), [4, 9, 14]);
}

#[tokio::test(start_paused = true)]
async fn a_wait_never_sleeps_past_the_deadline() {
    // Attempts take 3 s, waits 5 s, max_time 10: attempt 1 ends at 3 (wait 5), attempt 2 ends
    // at 11 >= 10: give up. With attempts of 2 s: ends at 2, wait 5, ends at 9, wait cut to 1,
    // ends at 12: give up.
    let start = tokio::time::Instant::now();
    let ends = Arc::new(Mutex::new(Vec::new()));
    let _ = backoff_core::constant(5)
        .max_time(10)
        .jitter(Jitter::None)
        .retry(|| {
            let ends = ends.clone();
            async move {
                tokio::time::sleep(S(2)).await;
                ends.lock().unwrap().push(start.elapsed().as_secs());
                Err::<(), _>(())
            }
        })
        .await;
    assert_eq!(*ends.lock().unwrap(), [2, 9, 12]);
}

#[tokio::test(start_paused = true)]
async fn limits_from_closures_are_evaluated_once_per_run() {
    use std::sync::atomic::{AtomicU32, Ordering};
    let evals = Arc::new(AtomicU32::new(0));
    let e = evals.clone();
    // Run n allows n + 1 tries.
    let b = backoff_core::constant(1)
        .jitter(Jitter::None)
        .max_tries_with(move || e.fetch_add(1, Ordering::SeqCst) + 2)
        .max_time_with(|| 100);
    for expected in [2, 3, 4] {
        let mut calls = 0;
        let _ = b
            .retry(|| {
                calls += 1;
                async { Err::<(), ()>(()) }
            })
            .await;
        assert_eq!(calls, expected);
    }
    assert_eq!(evals.load(Ordering::SeqCst), 3);
    // max_time from a closure applies: 1 s waits, cut at 2.5 s.
    let start = tokio::time::Instant::now();
    let _ = backoff_core::constant(1)
        .jitter(Jitter::None)
        .max_time_with(|| 2.5)
        .retry(|| async { Err::<(), ()>(()) })
        .await;
    assert_eq!(start.elapsed(), Duration::from_millis(2500));
}
