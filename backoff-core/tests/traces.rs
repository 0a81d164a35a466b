//! The reference's worked traces through the builder, async on tokio's paused clock and sync
//! on a simulated clock: exact waits, tries, elapsed, handler order and final outcome. Then
//! each option the attribute has, through the builder, tested the way the attribute's are.

use std::future::IntoFuture;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backoff_core::sim::SimClock;
use backoff_core::{Backoff, Details, Jitter, Pacer, Verdict, Wait};
use tokio::time::Instant;

const S: fn(u64) -> Duration = Duration::from_secs;

type Out = Result<(), String>;

/// An ordered record of calls.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    fn get(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// A handler that records `kind:tries:elapsed:wait`.
fn rec<R>(kind: &'static str, log: &Log) -> impl Fn(&Details<'_, R>) + use<R> {
    let log = log.clone();
    move |d| {
        log.push(format!(
            "{kind}:{}:{}:{}",
            d.tries,
            d.elapsed.as_secs_f64(),
            d.wait
                .map_or("-".to_owned(), |w| w.as_secs_f64().to_string())
        ));
    }
}

struct Case {
    waits: Vec<u64>,
    tries: u32,
    elapsed: u64,
}

async fn run_async<W: Wait<Out>>(b: Backoff<W>) -> (Case, Vec<String>) {
    let log = Log::default();
    let start = Instant::now();
    let mut calls = 0u32;
    let mut sleeps = Vec::new();
    let mut last = start;
    let out = b
        .jitter(Jitter::None)
        .retry(|| {
            calls += 1;
            let now = Instant::now();
            if calls > 1 {
                sleeps.push((now - last).as_secs());
            }
            last = now;
            async { Err::<(), _>("down".to_owned()) }
        })
        .on_success(rec("success", &log))
        .on_backoff(rec("backoff", &log))
        .on_giveup(rec("giveup", &log))
        .await;
    assert_eq!(out, Err("down".to_owned()));
    let case = Case {
        waits: sleeps,
        tries: calls,
        elapsed: start.elapsed().as_secs(),
    };
    (case, log.get())
}

fn run_sync<W: Wait<Out>>(b: Backoff<W>) -> (Case, Vec<String>) {
    let log = Log::default();
    let clock = SimClock::new();
    let mut calls = 0u32;
    let out = b
        .jitter(Jitter::None)
        .retry_blocking(|| {
            calls += 1;
            Err::<(), _>("down".to_owned())
        })
        .sleep(|w| clock.sleep(w))
        .clock(|| clock.now())
        .on_success(rec("success", &log))
        .on_backoff(rec("backoff", &log))
        .on_giveup(rec("giveup", &log))
        .call();
    assert_eq!(out, Err("down".to_owned()));
    let case = Case {
        waits: clock.sleeps().iter().map(Duration::as_secs).collect(),
        tries: calls,
        elapsed: clock.now().0.as_secs(),
    };
    (case, log.get())
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
    let mut calls = 0;
    let out = backoff_core::expo()
        .max_tries(5)
        .jitter(Jitter::None)
        .retry(|| {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err("no".to_owned()) } else { Ok(()) } }
        })
        .on_success(rec("success", &log))
        .on_backoff(rec("backoff", &log))
        .on_giveup(rec("giveup", &log))
        .await;
    assert_eq!(out, Ok(()));
    assert_eq!(
        log.get(),
        ["backoff:1:0:1", "backoff:2:1:2", "success:3:3:-"]
    );
}

#[tokio::test(start_paused = true)]
async fn predicate_retries_while_true_and_returns_the_last_value() {
    let mut calls = 0u32;
    let out = backoff_core::constant(1)
        .max_tries(3)
        .jitter(Jitter::None)
        .retry(|| {
            calls += 1;
            let n = calls;
            async move { n }
        })
        .predicate(|n| *n < 10)
        .await;
    assert_eq!((out, calls), (3, 3));

    // Blocking, with the default judgement of `bool` and `Option`.
    let clock = SimClock::new();
    let mut polls = 0;
    let done = backoff_core::constant(2)
        .max_tries(5)
        .jitter(Jitter::None)
        .retry_blocking(|| {
            polls += 1;
            polls == 3
        })
        .sleep(|w| clock.sleep(w))
        .call();
    assert!(done);
    assert_eq!(clock.sleeps(), [S(2), S(2)]);
    let none = backoff_core::constant(0)
        .max_tries(2)
        .retry_blocking(|| None::<u8>)
        .call();
    assert_eq!(none, None);
}

#[tokio::test(start_paused = true)]
async fn elapsed_is_taken_when_the_attempt_ends() {
    // Each attempt takes 4 s, waits are 1 s, max_time = 10. Attempt 2 ends at t=9: 1 s is
    // left, so the wait is cut to it (no change here) and attempt 3 runs; it ends at t=14,
    // past max_time, and the run gives up then (Python measures elapsed before the call).
    let start = Instant::now();
    let ends = Log::default();
    let out = backoff_core::constant(1)
        .max_time(10)
        .jitter(Jitter::None)
        .retry(|| {
            let ends = ends.clone();
            async move {
                tokio::time::sleep(S(4)).await;
                ends.push(start.elapsed().as_secs().to_string());
                Err::<(), _>("slow")
            }
        })
        .await;
    assert_eq!(out, Err("slow"));
    assert_eq!(ends.get(), ["4", "9", "14"]);
}

#[tokio::test(start_paused = true)]
async fn a_wait_never_sleeps_past_the_deadline() {
    // Attempts take 2 s, waits 5 s, max_time 10: ends at 2, wait 5, ends at 9, wait cut to
    // 1, ends at 12: give up.
    let start = Instant::now();
    let ends = Log::default();
    let _ = backoff_core::constant(5)
        .max_time(10)
        .jitter(Jitter::None)
        .retry(|| {
            let ends = ends.clone();
            async move {
                tokio::time::sleep(S(2)).await;
                ends.push(start.elapsed().as_secs().to_string());
                Err::<(), _>(())
            }
        })
        .await;
    assert_eq!(ends.get(), ["2", "9", "12"]);
}

#[tokio::test(start_paused = true)]
async fn limits_from_closures_are_evaluated_once_per_run() {
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
            .clone()
            .retry(|| {
                calls += 1;
                async { Err::<(), ()>(()) }
            })
            .await;
        assert_eq!(calls, expected);
    }
    assert_eq!(evals.load(Ordering::SeqCst), 3);
    // max_time from a closure applies: 1 s waits, cut at 2.5 s.
    let start = Instant::now();
    let _ = backoff_core::constant(1)
        .jitter(Jitter::None)
        .max_time_with(|| 2.5)
        .retry(|| async { Err::<(), ()>(()) })
        .await;
    assert_eq!(start.elapsed(), Duration::from_millis(2500));
}

/// The last word wins between a limit and its callable form, and between a jitter function
/// and a named jitter (the builder keeps the callables and the function apart from the
/// numbers).
#[test]
fn the_last_limit_or_jitter_set_is_the_one_used() {
    use std::cell::RefCell;
    let run = |b: backoff_core::Backoff<backoff_core::wait::Constant>| {
        let (clock, waits) = (backoff_core::sim::SimClock::new(), RefCell::new(Vec::new()));
        let mut calls = 0;
        let _ = b
            .retry_blocking(|| {
                calls += 1;
                Err::<(), ()>(())
            })
            .sleep(|w| {
                waits.borrow_mut().push(w.as_secs());
                clock.sleep(w);
            })
            .clock(|| clock.now())
            .call();
        (calls, waits.into_inner())
    };
    let two_s = || backoff_core::constant(2).jitter(Jitter::None);
    assert_eq!(run(two_s().max_tries_with(|| 10).max_tries(2)).0, 2);
    assert_eq!(run(two_s().max_tries(2).max_tries_with(|| 3)).0, 3);
    assert_eq!(
        run(two_s().max_tries(9).max_time_with(|| 60).max_time(3)),
        (3, vec![2, 1])
    );
    let halve = || Jitter::custom(|w| w / 2);
    assert_eq!(run(two_s().max_tries(3).jitter(halve())).1, [1, 1]);
    assert_eq!(
        run(two_s().max_tries(3).jitter(halve()).jitter(Jitter::None)).1,
        [2, 2]
    );
    // The function survives a callable limit set and cleared after it.
    let b = two_s().jitter(halve()).max_tries_with(|| 9).max_tries(3);
    assert!(matches!(b.policy().jitter, Jitter::Custom(_)));
    assert_eq!(b.policy().max_tries, Some(3));
    assert_eq!(run(b).1, [1, 1]);
}

// Judging errors: `when` (the attribute's `on = error(Pattern)`) and `giveup`.

#[derive(Debug, Clone, PartialEq)]
enum ApiError {
    Busy,
    Fatal,
    Bug,
    TooMany(Option<u64>),
}

/// Fails with each error of `script` in turn, then succeeds with the attempt count.
fn scripted(script: &[ApiError]) -> impl FnMut() -> Result<usize, ApiError> + '_ {
    let mut i = 0;
    move || {
        i += 1;
        script.get(i - 1).cloned().map_or(Ok(i), Err)
    }
}

#[tokio::test(start_paused = true)]
async fn when_propagates_other_errors_untouched_and_giveup_ends_the_run() {
    for (script, out, trail) in [
        // Retried, then a permanent error: give up at once, with on_giveup.
        (
            vec![ApiError::Busy, ApiError::Fatal],
            Err(ApiError::Fatal),
            vec!["backoff:1:0:1", "giveup:2:1:-"],
        ),
        // An error `when` does not retry: returned at once, no handler at all.
        (
            vec![ApiError::Busy, ApiError::Bug],
            Err(ApiError::Bug),
            vec!["backoff:1:0:1"],
        ),
        (
            vec![ApiError::Busy],
            Ok(2),
            vec!["backoff:1:0:1", "success:2:1:-"],
        ),
    ] {
        // `giveup` before `when` and after it build the same judge.
        let log = Log::default();
        let mut op = scripted(&script);
        let got = backoff_core::constant(1)
            .max_tries(5)
            .jitter(Jitter::None)
            .retry(|| std::future::ready(op()))
            .giveup(|e| *e == ApiError::Fatal)
            .when(|e| matches!(e, ApiError::Busy | ApiError::Fatal))
            .on_success(rec("success", &log))
            .on_backoff(rec("backoff", &log))
            .on_giveup(rec("giveup", &log))
            .await;
        assert_eq!(got, out);
        assert_eq!(log.get(), trail);

        let (log, clock) = (Log::default(), SimClock::new());
        let got = backoff_core::constant(1)
            .max_tries(5)
            .jitter(Jitter::None)
            .retry_blocking(scripted(&script))
            .when(|e| matches!(e, ApiError::Busy | ApiError::Fatal))
            .giveup(|e| *e == ApiError::Fatal)
            .sleep(|w| clock.sleep(w))
            .clock(|| clock.now())
            .on_success(rec("success", &log))
            .on_backoff(rec("backoff", &log))
            .on_giveup(rec("giveup", &log))
            .call();
        assert_eq!(got, out);
        assert_eq!(log.get(), trail);
    }
}

#[tokio::test(start_paused = true)]
async fn judge_gives_the_verdict_itself() {
    let log = Log::default();
    let mut n = 0;
    let out = backoff_core::constant(1)
        .jitter(Jitter::None)
        .retry(|| {
            n += 1;
            std::future::ready(n)
        })
        .judge(|n| match n {
            1 => Verdict::Retry,
            _ => Verdict::Propagate,
        })
        .on_backoff(rec("backoff", &log))
        .on_giveup(rec("giveup", &log))
        .on_success(rec("success", &log))
        .await;
    assert_eq!(out, 2);
    assert_eq!(log.get(), ["backoff:1:0:1"]);
}

// Retry-After, capped like the attribute's.

#[tokio::test(start_paused = true)]
async fn retry_after_is_a_floor_under_the_generators_wait_and_capped() {
    let script = [
        ApiError::TooMany(Some(7)),
        ApiError::TooMany(Some(30)),
        ApiError::TooMany(None),
    ];
    // 7 s as asked, then expo's 1 s; 30 s capped by max_value = 10, then expo's 2 s; no
    // header: expo's 4 s alone.
    let check = |out: Result<usize, ApiError>, waits: Vec<Duration>| {
        assert_eq!(out, Ok(4));
        assert_eq!(waits, [S(8), S(12), S(4)]);
    };
    let hint = |e: &ApiError| match e {
        ApiError::TooMany(after) => *after,
        _ => None,
    };

    let waits = Log::default();
    let mut op = scripted(&script);
    let out = backoff_core::expo()
        .max_value(10)
        .jitter(Jitter::None)
        .max_tries(5)
        .retry(|| std::future::ready(op()))
        .retry_after(hint)
        .on_backoff(|d| waits.push(format!("{}", d.wait.unwrap().as_secs_f64())))
        .await;
    let waits = waits.get();
    check(
        out,
        waits
            .iter()
            .map(|w| Duration::from_secs_f64(w.parse().unwrap()))
            .collect(),
    );

    let clock = SimClock::new();
    let out = backoff_core::expo()
        .max_value(10)
        .jitter(Jitter::None)
        .max_tries(5)
        .retry_blocking(scripted(&script))
        .retry_after(hint)
        .sleep(|w| clock.sleep(w))
        .call();
    check(out, clock.sleeps());
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_cut_to_max_time_and_never_revives_a_run() {
    let start = Instant::now();
    let mut calls = 0;
    let out = backoff_core::expo()
        .max_time(20)
        .max_tries(3)
        .retry(|| {
            calls += 1;
            std::future::ready(Err::<(), _>(ApiError::TooMany(Some(15))))
        })
        .retry_after(|_| Some(15))
        .await;
    assert!(out.is_err());
    // 15 s, then the 5 s left of max_time (not 15); then max_time is spent: give up after 3
    // tries even though the server would have said 15 again.
    assert_eq!(start.elapsed(), S(20));
    assert_eq!(calls, 3);
}

/// A server's wait is cut to an hour when nothing else caps it: a `Retry-After` of a year
/// slept a year.
#[tokio::test(start_paused = true)]
async fn retry_after_is_cut_to_an_hour_without_max_value() {
    let year = Duration::from_secs(365 * 86_400);
    let start = Instant::now();
    let waits = Log::default();
    let out = backoff_core::expo()
        .jitter(Jitter::None)
        .max_tries(3)
        .retry(|| std::future::ready(Err::<(), _>(ApiError::TooMany(Some(1)))))
        .retry_after(|_| Some(year))
        .on_backoff(|d| waits.push(format!("{:?}", d.wait.unwrap())))
        .await;
    assert!(out.is_err());
    // An hour, then expo's 1 s and 2 s on top.
    assert_eq!(waits.get(), ["3601s", "3602s"]);
    assert_eq!(start.elapsed(), S(7203));

    let clock = SimClock::new();
    let out = backoff_core::expo()
        .jitter(Jitter::None)
        .max_tries(3)
        .retry_blocking(|| Err::<(), _>(ApiError::TooMany(Some(1))))
        .retry_after(|_| Some(year))
        .sleep(|w| clock.sleep(w))
        .call();
    assert!(out.is_err());
    assert_eq!(clock.sleeps(), [S(3601), S(3602)]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_from_a_predicate_outcome() {
    // A poller whose value carries the server's hint.
    let start = Instant::now();
    let mut polls = 0;
    let out = backoff_core::expo()
        .jitter(Jitter::None)
        .retry(|| {
            polls += 1;
            std::future::ready((polls >= 3, Duration::from_millis(1500)))
        })
        .predicate(|(done, _)| !done)
        .retry_after_outcome(|(_, after)| Some(*after))
        .await;
    assert!(out.0);
    // 1.5 s each time, then expo's 1 s and 2 s.
    assert_eq!(start.elapsed(), Duration::from_millis(6000));
}

// Pacing.

#[tokio::test(start_paused = true)]
async fn pacing_spaces_calls_and_retries_and_keys_have_their_own_budget() {
    let start = Instant::now();
    let times = Log::default();
    let stamp = |label: &str| times.push(format!("{label}@{}", start.elapsed().as_millis()));

    // Two calls at 2/s: 0 and 500.
    let pacer = Pacer::per_second(2.0);
    for _ in 0..2 {
        let _ = backoff_core::expo()
            .retry(|| {
                stamp("call");
                async { Some(()) }
            })
            .pacer(&pacer)
            .await;
    }
    // Retries wait for the pacer too: its 1 s beats the generator's 0.1 s.
    let slow = Pacer::per_second(1.0);
    let _ = backoff_core::constant(0.1)
        .jitter(Jitter::None)
        .max_tries(3)
        .retry(|| {
            stamp("retry");
            async { Err::<(), ()>(()) }
        })
        .pacer(&slow)
        .await;
    // Keys: 1 per minute each.
    let minute = Pacer::new(1.0, 60);
    for key in ["a", "b", "a"] {
        let _ = backoff_core::expo()
            .retry(|| {
                stamp(key);
                async { true }
            })
            .pacer(&minute)
            .rate_key(key)
            .await;
    }
    assert_eq!(
        times.get(),
        [
            "call@0",
            "call@500",
            "retry@500",
            "retry@1500",
            "retry@2500",
            "a@2500",
            "b@2500",
            "a@62500"
        ]
    );
}

#[test]
fn blocking_pacing_sleeps_until_the_slot() {
    // Real time, kept short: 3 attempts at 100/s cannot start within 20 ms.
    let pacer = Pacer::per_second(100.0);
    let sleeps = Log::default();
    let start = std::time::Instant::now();
    let out = backoff_core::constant(0)
        .max_tries(3)
        .retry_blocking(|| Err::<(), ()>(()))
        .pacer(&pacer)
        .sleep(|w| {
            sleeps.push(format!("{}", w.as_nanos()));
            std::thread::sleep(w);
        })
        .call();
    assert_eq!(out, Err(()));
    // The third slot is 20 ms after the first, and each pacing wait sleeps until its slot.
    assert!(start.elapsed() >= Duration::from_millis(20));
    // Up to two pacing waits of at most 10 ms (none if the thread was late for its slot; a
    // wait in two sleeps when the departure before left late and the slot came sooner than
    // an interval after it), and the generator's two zero waits.
    let sleeps: Vec<u128> = sleeps.get().iter().map(|s| s.parse().unwrap()).collect();
    assert!((2..=6).contains(&sleeps.len()), "{sleeps:?}");
    assert!(sleeps.iter().all(|&n| n <= 10_000_000), "{sleeps:?}");
}

// Handlers, sync and async.

#[tokio::test(start_paused = true)]
async fn async_handlers_are_awaited_in_order_before_the_wait() {
    let start = Instant::now();
    let log = Log::default();
    let at = |what: &str| format!("{what}@{}", start.elapsed().as_millis());
    let out = backoff_core::constant(1)
        .jitter(Jitter::None)
        .max_tries(2)
        .retry(|| {
            log.push(at("attempt"));
            async { Err::<(), &str>("down") }
        })
        .on_backoff(|d| log.push(at(&format!("sync{}", d.tries))))
        .on_backoff(|d| {
            // Copy out what the future needs: it may not borrow `d`.
            let (tries, log) = (d.tries, log.clone());
            async move {
                tokio::time::sleep(Duration::from_millis(250)).await;
                log.push(format!("async{tries}@{}", start.elapsed().as_millis()));
            }
        })
        .on_backoff(|_| log.push(at("after")))
        .on_giveup(|d| {
            let error = d.error().copied();
            let log = log.clone();
            async move { log.push(format!("giveup {error:?}")) }
        })
        .await;
    assert_eq!(out, Err("down"));
    assert_eq!(
        log.get(),
        [
            "attempt@0",
            "sync1@0",
            "async1@250",
            "after@250",
            "attempt@1250",
            "giveup Some(\"down\")"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_future_is_send_when_the_outcome_is_send_but_not_sync() {
    // `Box<dyn Error + Send>` is not `Sync`: no borrow of the outcome lives across an await.
    type Flaky = Result<u32, Box<dyn std::error::Error + Send>>;
    let handle = tokio::spawn(
        backoff_core::constant(1)
            .jitter(Jitter::None)
            .max_tries(3)
            .retry(|| async {
                let e: Box<dyn std::error::Error + Send> = Box::new(std::io::Error::other("down"));
                Err::<u32, _>(e) as Flaky
            })
            .on_backoff(|d| {
                let tries = d.tries;
                async move { tokio::time::sleep(Duration::from_millis(tries.into())).await }
            })
            .on_giveup(|d| assert!(d.error().is_some()))
            // To spawn (or select on) a retry without awaiting it here, make it a future.
            .into_future(),
    );
    assert!(handle.await.unwrap().is_err());
}

#[tokio::test(start_paused = true)]
async fn a_custom_async_sleep_and_clock() {
    // The async loop on a simulated clock: another runtime's sleep and clock.
    let clock = SimClock::new();
    let log = Log::default();
    let out = backoff_core::expo()
        .max_time(10)
        .jitter(Jitter::None)
        .retry(|| async { Err::<(), _>("down".to_owned()) })
        .sleep(|w| clock.sleep_async(w))
        .clock(|| clock.now())
        .on_giveup(rec("giveup", &log))
        .await;
    assert!(out.is_err());
    assert_eq!(clock.sleeps(), [S(1), S(2), S(4), S(3)]);
    assert_eq!(log.get(), ["giveup:5:10:-"]);
}

#[tokio::test(start_paused = true)]
async fn seed_makes_jitter_reproducible() {
    let run = |seed| async move {
        let clock = SimClock::new();
        let _ = backoff_core::expo()
            .max_tries(6)
            .seed(seed)
            .retry(|| async { None::<()> })
            .sleep(|w| clock.sleep_async(w))
            .await;
        clock.sleeps()
    };
    let (a, b, c) = (run(7).await, run(7).await, run(8).await);
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Full jitter: each wait within [0, 2^n].
    for (n, w) in a.iter().enumerate() {
        assert!(*w <= S(1 << n), "{a:?}");
    }
}
