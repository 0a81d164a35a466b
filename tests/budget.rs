//! `budget = ...` through `#[backoff]` on tokio's paused clock: the give-up path when the
//! budget is spent, cancellation, and a property test over many interleaved calls.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Calls, capture};
use politely::{Details, RetryBudget, backoff};
use proptest::prelude::*;
use tokio::time::{Instant, sleep};

type Out = Result<(), String>;

fn record(calls: &Calls, kind: &str, d: &Details<'_, Out>) {
    calls.push(format!(
        "{kind} tries={} elapsed={} wait={}",
        d.tries,
        d.elapsed.as_secs_f64(),
        d.wait.map_or("-".into(), |w| w.as_secs_f64().to_string()),
    ));
}

#[backoff(expo, max_tries = 5, jitter = none, budget = budget,
    on_backoff = |d| record(calls, "backoff", d), on_giveup = |d| record(calls, "giveup", d))]
async fn failing(budget: &RetryBudget, calls: &Calls) -> Out {
    calls.push("attempt");
    Err("down".to_owned())
}

/// A spent budget gives up at once through the give-up path: `on_giveup` runs with the
/// tries made, the last outcome is returned, nothing sleeps, and the log says why.
#[tokio::test(start_paused = true)]
async fn a_spent_budget_gives_up_through_the_usual_path() {
    let (captured, _guard) = capture();
    // 50 %, no floor: the first call pays half a retry, the second the other half.
    let budget = RetryBudget::new(0.5).min_per_sec(0.0);
    let start = Instant::now();

    let calls = Calls::default();
    assert_eq!(failing(&budget, &calls).await, Err("down".to_owned()));
    assert_eq!(calls.get(), ["attempt", "giveup tries=1 elapsed=0 wait=-"]);
    assert_eq!(start.elapsed(), Duration::ZERO);

    let calls = Calls::default();
    assert_eq!(failing(&budget, &calls).await, Err("down".to_owned()));
    assert_eq!(
        calls.get(),
        [
            "attempt",
            "backoff tries=1 elapsed=0 wait=1",
            "attempt",
            "giveup tries=2 elapsed=1 wait=-",
        ]
    );
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(budget.earned(), 0.0);

    let lines = captured.lines();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(
        lines[0],
        "ERROR backoff: Giving up failing(...) after 1 tries: retry budget exhausted \
         (Err(\"down\")) function=\"failing\" tries=1 budget_exhausted=true"
    );
    assert!(lines[1].starts_with(" INFO backoff: Backing off failing(...) for 1.0s"));
    assert!(lines[2].contains("after 2 tries: retry budget exhausted"));
}

/// With tokens to spare, the run is the usual one: `max_tries` ends it and the log line
/// names no budget.
#[tokio::test(start_paused = true)]
async fn a_budget_with_tokens_changes_nothing() {
    let (captured, _guard) = capture();
    let budget = RetryBudget::new(1.0).min_per_sec(0.0);
    for _ in 0..4 {
        budget.deposit();
    }
    let calls = Calls::default();
    assert_eq!(failing(&budget, &calls).await, Err("down".to_owned()));
    assert_eq!(
        calls.get().len(),
        5 + 5,
        "5 attempts, 4 backoffs and a give-up"
    );
    assert_eq!(budget.earned(), 1.0, "the call's own deposit is left");
    let last = captured.lines().pop().unwrap();
    assert!(
        last.contains("Giving up failing(...) after 5 tries (Err(\"down\"))"),
        "{last}"
    );
    assert!(!last.contains("budget"), "{last}");
}

#[backoff(expo, max_tries = 3, jitter = none, budget = budget, logger = none)]
async fn slow(budget: &RetryBudget, attempts: &Calls, latency: Duration) -> Out {
    attempts.push(format!("start {}", attempts.get().len()));
    sleep(latency).await;
    Err("down".to_owned())
}

/// A call dropped while it sleeps before a retry has spent its token: nothing is refunded
/// (the budget errs on the side of fewer retries), and nothing is counted twice. A call
/// dropped during its first attempt has deposited nothing.
#[tokio::test(start_paused = true)]
async fn cancellation_neither_refunds_nor_counts_twice() {
    let budget = RetryBudget::new(1.0).min_per_sec(0.0);
    let attempts = Calls::default();

    // Dropped during the first attempt: no deposit.
    let r = tokio::time::timeout(
        Duration::from_millis(50),
        slow(&budget, &attempts, Duration::from_millis(100)),
    )
    .await;
    assert!(r.is_err());
    assert_eq!(budget.earned(), 0.0);

    // Deposits 1 at 100 ms, withdraws it for the retry, is dropped 0.5 s into its 1 s wait.
    let r = tokio::time::timeout(
        Duration::from_millis(600),
        slow(&budget, &attempts, Duration::from_millis(100)),
    )
    .await;
    assert!(r.is_err());
    assert_eq!(attempts.get().len(), 2, "no retry was made");
    assert_eq!(budget.earned(), 0.0, "and its token is not refunded");

    // Nothing more happens later: no late refund, no late withdrawal.
    sleep(Duration::from_secs(10)).await;
    assert_eq!(budget.earned(), 0.0);
    assert_eq!(attempts.get().len(), 2);

    // The next call finds the budget as the accounting says: its own deposit pays one retry.
    assert!(slow(&budget, &attempts, Duration::ZERO).await.is_err());
    assert_eq!(attempts.get().len(), 4, "first attempt and one retry");
    assert_eq!(budget.earned(), 0.0);
}

/// A task of the property test: when it starts, how each attempt ends, when it is cancelled.
#[derive(Clone, Debug)]
struct Task {
    start_ms: u64,
    latency_ms: u64,
    /// Attempts that fail before one succeeds (beyond `max_tries`, it never does).
    failures: u32,
    cancel_after_ms: Option<u64>,
}

fn task() -> impl Strategy<Value = Task> {
    (
        0u64..5_000,
        0u64..300,
        0u32..6,
        proptest::option::weighted(0.3, 0u64..4_000),
    )
        .prop_map(|(start_ms, latency_ms, failures, cancel_after_ms)| Task {
            start_ms,
            latency_ms,
            failures,
            cancel_after_ms,
        })
}

#[derive(Default)]
struct Log {
    /// Nanoseconds since the start at which a first attempt ended (its deposit).
    deposits: Vec<u64>,
    /// ... at which a retry was granted (the `on_backoff` handler runs right after).
    withdrawals: Vec<u64>,
    /// ... at which a retry's attempt started.
    retries: Vec<u64>,
}

fn nanos(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap()
}

#[backoff(expo, factor = 0.1, max_tries = 5, jitter = full, budget = budget, logger = none,
    on_backoff = |_| log.lock().unwrap().withdrawals.push(nanos(start)))]
async fn prop_call(
    budget: &RetryBudget,
    log: &Mutex<Log>,
    start: Instant,
    t: &Task,
    tries: &Mutex<u32>,
) -> Out {
    let n = {
        let mut tries = tries.lock().unwrap();
        *tries += 1;
        *tries
    };
    if n > 1 {
        log.lock().unwrap().retries.push(nanos(start));
    }
    sleep(Duration::from_millis(t.latency_ms)).await;
    if n == 1 {
        log.lock().unwrap().deposits.push(nanos(start));
    }
    if n > t.failures {
        Ok(())
    } else {
        Err("down".to_owned())
    }
}

/// Events in `[t0, t1]`, of sorted `events`.
fn count(events: &[u64], t0: u64, t1: u64) -> u64 {
    (events.partition_point(|&t| t <= t1) - events.partition_point(|&t| t < t0)) as u64
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Many calls interleaved on one budget, with random starts, latencies, failures and
    /// cancellations: over every interval `[t0, t1]` between events, the retries granted stay
    /// within `cap + ratio × first attempts + burst + ⌊(t1 - t0) × min_per_sec⌋`; no call makes
    /// more retries than it was granted.
    #[test]
    fn retries_never_exceed_the_formula(
        ratio_milli in 0u64..600,
        floor in 0u32..6,
        cap in 0u32..8,
        tasks in proptest::collection::vec(task(), 1..80),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        let log = Arc::new(Mutex::new(Log::default()));
        #[allow(clippy::cast_precision_loss)]
        let budget = RetryBudget::new(ratio_milli as f64 / 1000.0).min_per_sec(f64::from(floor)).cap(cap);
        rt.block_on(async {
            let start = Instant::now();
            let mut handles = Vec::new();
            for t in tasks.clone() {
                let (budget, log) = (budget.clone(), log.clone());
                handles.push(tokio::spawn(async move {
                    sleep(Duration::from_millis(t.start_ms)).await;
                    let tries = Mutex::new(0);
                    let call = prop_call(&budget, &log, start, &t, &tries);
                    match t.cancel_after_ms {
                        Some(ms) => drop(tokio::time::timeout(Duration::from_millis(ms), call).await),
                        None => drop(call.await),
                    }
                }));
            }
            for h in handles {
                h.await.unwrap();
            }
        });
        let mut log = log.lock().unwrap();
        log.deposits.sort_unstable();
        log.withdrawals.sort_unstable();
        prop_assert!(log.retries.len() <= log.withdrawals.len());
        let r = u64::from(floor.max(1));
        let (interval, burst) = ((2_000_000_000 + r) / (2 * r), r);
        let times = &log.withdrawals;
        for (i, &t0) in times.iter().enumerate() {
            for &t1 in &times[i..] {
                let w = count(&log.withdrawals, t0, t1);
                let earned = (u64::from(cap) * 1000 + ratio_milli * count(&log.deposits, t0, t1)) / 1000;
                let floor_part = if floor == 0 { 0 } else { burst + (t1 - t0) / interval };
                prop_assert!(w <= earned + floor_part,
                    "{w} retries in [{t0}, {t1}] ns; allowed {earned} earned + {floor_part} floor");
            }
        }
    }
}
