//! A panic in the body, a handler or a predicate propagates unchanged: never retried, never
//! swallowed, and no attempt or handler runs after it. A paced fn's pacer is not disturbed.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use politely::backoff;

/// How often each part of a call ran.
#[derive(Default)]
struct Count {
    attempts: AtomicU32,
    predicate: AtomicU32,
    backoff: AtomicU32,
    giveup: AtomicU32,
    success: AtomicU32,
}

impl Count {
    fn bump(n: &AtomicU32) -> u32 {
        n.fetch_add(1, Ordering::SeqCst) + 1
    }
    /// attempts, predicate, backoff, giveup, success
    fn get(&self) -> [u32; 5] {
        [
            &self.attempts,
            &self.predicate,
            &self.backoff,
            &self.giveup,
            &self.success,
        ]
        .map(|n| n.load(Ordering::SeqCst))
    }
}

/// Which step panics, and on which attempt.
#[derive(Clone, Copy, PartialEq)]
enum Panic {
    Body(u32),
    Predicate(u32),
    OnBackoff,
    OnSuccess,
}

fn message(payload: Box<dyn Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// Fails on attempt 1, succeeds on attempt 2: a panic set for attempt 1 or 2 comes before
/// or after a backoff.
fn judge(c: &Count, at: Panic, v: &Option<u32>) -> bool {
    let n = Count::bump(&c.predicate);
    if at == Panic::Predicate(n) {
        panic!("predicate panicked on attempt {n}");
    }
    v.is_none()
}

#[backoff(constant, interval = 1, jitter = none, max_tries = 5,
    predicate = |v| judge(&c, at, v),
    on_backoff = |_d| if Count::bump(&c.backoff) > 0 && at == Panic::OnBackoff { panic!("on_backoff panicked") },
    on_giveup = |_d| { Count::bump(&c.giveup); },
    on_success = |_d| if Count::bump(&c.success) > 0 && at == Panic::OnSuccess { panic!("on_success panicked") })]
async fn call_async(c: Arc<Count>, at: Panic) -> Option<u32> {
    let n = Count::bump(&c.attempts);
    if at == Panic::Body(n) {
        panic!("body panicked on attempt {n}");
    }
    (n >= 2).then_some(n)
}

#[backoff(constant, interval = 0, jitter = none, max_tries = 5,
    predicate = |v| judge(c, at, v),
    on_backoff = |_d| if Count::bump(&c.backoff) > 0 && at == Panic::OnBackoff { panic!("on_backoff panicked") },
    on_giveup = |_d| { Count::bump(&c.giveup); },
    on_success = |_d| if Count::bump(&c.success) > 0 && at == Panic::OnSuccess { panic!("on_success panicked") })]
fn call_sync(c: &Count, at: Panic) -> Option<u32> {
    let n = Count::bump(&c.attempts);
    if at == Panic::Body(n) {
        panic!("body panicked on attempt {n}");
    }
    (n >= 2).then_some(n)
}

/// Each case: where the panic is, its message, and the counts of
/// [attempts, predicate calls, on_backoff, on_giveup, on_success] when it propagated.
const CASES: [(Panic, &str, [u32; 5]); 6] = [
    (
        Panic::Body(1),
        "body panicked on attempt 1",
        [1, 0, 0, 0, 0],
    ),
    (
        Panic::Body(2),
        "body panicked on attempt 2",
        [2, 1, 1, 0, 0],
    ),
    (
        Panic::Predicate(1),
        "predicate panicked on attempt 1",
        [1, 1, 0, 0, 0],
    ),
    (
        Panic::Predicate(2),
        "predicate panicked on attempt 2",
        [2, 2, 1, 0, 0],
    ),
    (Panic::OnBackoff, "on_backoff panicked", [1, 1, 1, 0, 0]),
    (Panic::OnSuccess, "on_success panicked", [2, 2, 1, 0, 1]),
];

#[tokio::test(start_paused = true)]
async fn async_panics_propagate_unchanged_and_stop_the_run() {
    for (at, msg, counts) in CASES {
        let c = Arc::new(Count::default());
        let start = tokio::time::Instant::now();
        let err = tokio::spawn(call_async(c.clone(), at)).await.unwrap_err();
        assert_eq!(message(err.into_panic()), msg);
        assert_eq!(c.get(), counts, "{msg}");
        // No wait after the panic either: only the one backoff before attempt 2, if reached
        // (a panicking `on_backoff` comes before its wait).
        let waited = if counts[0] >= 2 { 1 } else { 0 };
        assert_eq!(start.elapsed(), Duration::from_secs(waited), "{msg}");
    }
    // Without a panic: the run goes on as usual.
    let c = Arc::new(Count::default());
    assert_eq!(call_async(c.clone(), Panic::Body(0)).await, Some(2));
    assert_eq!(c.get(), [2, 2, 1, 0, 1]);
}

#[test]
fn sync_panics_propagate_unchanged_and_stop_the_run() {
    for (at, msg, counts) in CASES {
        let c = Count::default();
        let err = catch_unwind(AssertUnwindSafe(|| call_sync(&c, at))).unwrap_err();
        assert_eq!(message(err), msg);
        assert_eq!(c.get(), counts, "{msg}");
    }
    let c = Count::default();
    assert_eq!(call_sync(&c, Panic::Body(0)), Some(2));
    assert_eq!(c.get(), [2, 2, 1, 0, 1]);
}

/// `giveup` is a predicate too: its panic propagates, with no handler after it.
#[backoff(expo, max_tries = 5, giveup = |_e| panic!("giveup panicked"),
    on_giveup = |_d| { Count::bump(&c.giveup); }, on_backoff = |_d| { Count::bump(&c.backoff); })]
fn giveup_panics(c: &Count) -> Result<(), ()> {
    Count::bump(&c.attempts);
    Err(())
}

#[test]
fn a_panicking_giveup_propagates() {
    let c = Count::default();
    let err = catch_unwind(AssertUnwindSafe(|| giveup_panics(&c))).unwrap_err();
    assert_eq!(message(err), "giveup panicked");
    assert_eq!(c.get(), [1, 0, 0, 0, 0]);
}

// A paced fn: the panicking call used its slot (its attempt ran), and the pacer goes on.

#[backoff(constant, interval = 0, max_tries = 3, rate = 1 per second)]
async fn paced(
    times: Arc<std::sync::Mutex<Vec<Duration>>>,
    start: tokio::time::Instant,
    boom: bool,
) -> Result<(), ()> {
    times.lock().unwrap().push(start.elapsed());
    if boom {
        panic!("paced body panicked");
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_a_paced_fn_leaves_the_pacer_working() {
    let times = Arc::new(std::sync::Mutex::new(Vec::new()));
    let start = tokio::time::Instant::now();
    paced(times.clone(), start, false).await.unwrap();
    let err = tokio::spawn(paced(times.clone(), start, true))
        .await
        .unwrap_err();
    assert_eq!(message(err.into_panic()), "paced body panicked");
    // The next calls get exactly their slots: 2 s and 3 s, after the panicking call's 1 s.
    paced(times.clone(), start, false).await.unwrap();
    paced(times.clone(), start, false).await.unwrap();
    assert_eq!(
        *times.lock().unwrap(),
        [0, 1, 2, 3].map(Duration::from_secs)
    );
}

static SYNC_PACER: std::sync::LazyLock<politely::Pacer> =
    std::sync::LazyLock::new(|| politely::Pacer::per_second(50.0));

#[backoff(constant, interval = 0, max_tries = 3, pacer = SYNC_PACER)]
fn paced_sync(times: &std::sync::Mutex<Vec<std::time::Instant>>, boom: bool) -> Result<(), ()> {
    times.lock().unwrap().push(std::time::Instant::now());
    if boom {
        panic!("paced body panicked");
    }
    Ok(())
}

#[test]
fn a_panic_in_a_paced_sync_fn_leaves_the_pacer_working() {
    let times = std::sync::Mutex::new(Vec::new());
    let t0 = std::time::Instant::now();
    paced_sync(&times, false).unwrap();
    let err = catch_unwind(AssertUnwindSafe(|| paced_sync(&times, true))).unwrap_err();
    assert_eq!(message(err), "paced body panicked");
    // The next slot is at most one interval (20 ms) away: nothing stuck or poisoned.
    assert!(SYNC_PACER.reserve(None).wait() <= Duration::from_millis(20));
    paced_sync(&times, false).unwrap();
    // And the pacer still paces: attempt `k` started no earlier than its slot, `20 ms * k`.
    let times = times.into_inner().unwrap();
    assert_eq!(times.len(), 3);
    for (k, t) in (0u32..).zip(times) {
        assert!(t - t0 >= Duration::from_millis(20) * k, "{k}: {:?}", t - t0);
    }
}
