//! The builder through the facade, side by side with the attribute: the same configuration
//! gives the same waits, handler calls and log lines, since both apply the same rules.

mod common;

use common::{Calls, capture};
use politely::{Details, Level, backoff};
use tokio::time::Instant;

type Out = Result<(), String>;

fn record(calls: &Calls, kind: &str, d: &Details<'_, Out>) {
    calls.push(format!(
        "{kind} tries={} elapsed={} wait={}",
        d.tries,
        d.elapsed.as_secs_f64(),
        d.wait.map_or("-".into(), |w| w.as_secs_f64().to_string()),
    ));
}

fn attempt(calls: &Calls, start: Instant) -> Out {
    calls.push(format!("attempt t={}", start.elapsed().as_secs()));
    Err("429".to_owned())
}

#[backoff(expo, max_tries = 3, jitter = none,
    on_backoff = |d| record(calls, "backoff", d), on_giveup = |d| record(calls, "giveup", d))]
async fn send_sms(calls: &Calls, start: Instant) -> Out {
    attempt(calls, start)
}

#[tokio::test(start_paused = true)]
async fn the_builder_logs_and_calls_handlers_as_the_attribute_does() {
    let (captured, _guard) = capture();
    let (by_attribute, start) = (Calls::default(), Instant::now());
    let a = send_sms(&by_attribute, start).await;
    let logged = captured.lines().len();

    let (by_builder, start) = (Calls::default(), Instant::now());
    let b = politely::expo()
        .max_tries(3)
        .jitter(politely::Jitter::None)
        .target("send_sms")
        .retry(|| std::future::ready(attempt(&by_builder, start)))
        .on_backoff(|d| record(&by_builder, "backoff", d))
        .on_giveup(|d| record(&by_builder, "giveup", d))
        .await;

    assert_eq!(a, b);
    assert_eq!(by_attribute.get(), by_builder.get());
    assert_eq!(
        by_builder.get(),
        [
            "attempt t=0",
            "backoff tries=1 elapsed=0 wait=1",
            "attempt t=1",
            "backoff tries=2 elapsed=1 wait=2",
            "attempt t=3",
            "giveup tries=3 elapsed=3 wait=-",
        ]
    );
    let lines = captured.lines();
    assert_eq!(lines.len(), 2 * logged, "{lines:#?}");
    assert_eq!(lines[..logged], lines[logged..]);
    assert!(
        lines[0].starts_with(r#" INFO backoff: Backing off send_sms(...) for 1.0s (Err("429"))"#),
        "{}",
        lines[0]
    );
}

#[tokio::test(start_paused = true)]
async fn log_levels_are_configurable_and_logging_can_be_turned_off() {
    let (captured, _guard) = capture();
    let levels = politely::expo()
        .max_tries(2)
        .jitter(politely::Jitter::None)
        .backoff_log_level(Some(Level::DEBUG))
        .giveup_log_level(Some(Level::WARN))
        .retry(|| async { None::<u8> })
        .await;
    let silent = politely::expo()
        .max_tries(2)
        .backoff_log_level(None)
        .giveup_log_level(None)
        .retry_blocking(|| None::<u8>)
        .sleep(|_| {})
        .call();
    assert_eq!((levels, silent), (None, None));
    let lines = captured.lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].starts_with("DEBUG backoff: Backing off retry(...) for 1.0s (None)"));
    assert!(lines[1].starts_with(" WARN backoff: Giving up retry(...) after 2 tries (None)"));
}

#[test]
fn the_log_line_comes_before_the_users_handler() {
    let (captured, _guard) = capture();
    let _ = politely::constant(0)
        .max_tries(2)
        .retry_blocking(|| Err::<(), _>("no"))
        .on_backoff(|_| tracing::info!("user handler"))
        .call();
    let lines = captured.lines();
    assert!(lines[0].contains("Backing off"), "{lines:#?}");
    assert!(lines[1].contains("user handler"), "{lines:#?}");
    assert!(lines[2].contains("Giving up"), "{lines:#?}");
}

// The retry budget (`.budget`), as the attribute's `budget = ...`.

#[tokio::test(start_paused = true)]
async fn a_spent_budget_makes_a_run_give_up_at_once() {
    let (captured, _guard) = capture();
    // No floor, no ratio: the budget never grants a retry.
    let spent = politely::RetryBudget::new(0.0).min_per_sec(0.0);
    let (calls, start) = (Calls::default(), Instant::now());
    let out = politely::constant(1)
        .max_tries(5)
        .jitter(politely::Jitter::None)
        .budget(&spent)
        .retry(|| std::future::ready(attempt(&calls, start)))
        .on_backoff(|d| record(&calls, "backoff", d))
        .on_giveup(|d| record(&calls, "giveup", d))
        .await;
    assert_eq!(out, Err("429".to_owned()));
    assert_eq!(
        calls.get(),
        ["attempt t=0", "giveup tries=1 elapsed=0 wait=-"]
    );
    assert_eq!(start.elapsed(), std::time::Duration::ZERO);
    let lines = captured.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains("Giving up retry(...) after 1 tries: retry budget exhausted"),
        "{}",
        lines[0]
    );

    // The first attempt never depends on the budget: a success goes through, in both modes.
    let ok = politely::expo()
        .budget(&spent)
        .retry(|| async { Ok::<_, ()>(7) })
        .await;
    let blocking = Calls::default();
    let failed = politely::constant(1)
        .max_tries(5)
        .budget(&spent)
        .retry_blocking(|| attempt(&blocking, start))
        .on_giveup(|d| blocking.push(format!("giveup tries={}", d.tries)))
        .sleep(|_| panic!("a spent budget sleeps no wait"))
        .call();
    assert_eq!((ok, failed), (Ok(7), Err("429".to_owned())));
    assert_eq!(blocking.get(), ["attempt t=0", "giveup tries=1"]);
}

#[tokio::test(start_paused = true)]
async fn runs_share_the_budget_their_first_attempts_fill() {
    // Each first attempt deposits half a token; each retry costs one.
    let budget = politely::RetryBudget::new(0.5).min_per_sec(0.0);
    let policy = politely::constant(1)
        .max_tries(3)
        .jitter(politely::Jitter::None)
        .budget(&budget);
    let mut tries = Vec::new();
    for _ in 0..4 {
        let calls = Calls::default();
        let start = Instant::now();
        let _ = policy
            .clone()
            .retry(|| std::future::ready(attempt(&calls, start)))
            .await;
        tries.push(calls.get().len());
    }
    // 0.5: no retry; 1.0: one retry (spent); 0.5: none; 1.0: one.
    assert_eq!(tries, [1, 2, 1, 2]);
    assert_eq!(budget.earned(), 0.0);
}

// Pacing: the builder paces as the attribute does.

#[tokio::test(start_paused = true)]
async fn a_run_cancelled_before_its_slot_gives_the_slot_back() {
    use std::time::Duration;
    for key in [None, Some("ann")] {
        let pacer = politely::Pacer::per_second(1.0);
        let (times, start) = (Calls::default(), Instant::now());
        let run = || {
            let times = &times;
            let retry = politely::constant(0)
                .max_tries(1)
                .retry(move || {
                    times.push(start.elapsed().as_millis().to_string());
                    async { Ok::<_, ()>(()) }
                })
                .pacer(&pacer);
            async move {
                match key {
                    Some(key) => retry.rate_key(key).await,
                    None => retry.await,
                }
            }
        };
        run().await.unwrap(); // the slot at 0
        let mut done = 0;
        for _ in 0..100 {
            let call = tokio::time::timeout(Duration::from_millis(1), run());
            done += u32::from(call.await.is_ok());
        }
        // Each of the 100 waited 1 ms for its slot at 1 s and was dropped.
        assert_eq!(done, 0);
        assert_eq!(start.elapsed(), Duration::from_millis(100));
        // The slot at 1 s is free again (it was at 101 s when dropped runs kept theirs).
        run().await.unwrap();
        run().await.unwrap();
        assert_eq!(times.get(), ["0", "1000", "2000"], "{key:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn queued_time_is_not_counted_in_max_time() {
    use std::time::Duration;
    let pacer = politely::Pacer::per_second(1.0);
    for _ in 0..5 {
        pacer.reserve(None).consume(); // slots 0..4 s taken: the run's first is at 5 s
    }
    let (calls, start) = (Calls::default(), Instant::now());
    let out = politely::constant(1)
        .max_time(2)
        .jitter(politely::Jitter::None)
        .retry(|| std::future::ready(attempt(&calls, start)))
        .pacer(&pacer)
        .on_backoff(|d| record(&calls, "backoff", d))
        .on_giveup(|d| record(&calls, "giveup", d))
        .await;
    assert_eq!(out, Err("429".to_owned()));
    // 5 s queued before the first attempt, none counted: 3 attempts within max_time's 2 s.
    assert_eq!(
        calls.get(),
        [
            "attempt t=5",
            "backoff tries=1 elapsed=0 wait=1",
            "attempt t=6",
            "backoff tries=2 elapsed=1 wait=1",
            "attempt t=7",
            "giveup tries=3 elapsed=2 wait=-",
        ]
    );
    assert_eq!(start.elapsed(), Duration::from_secs(7));
}

#[test]
fn a_paced_retry_future_is_send() {
    fn is_send<T: Send>(_: &T) {}
    let pacer = politely::Pacer::per_second(1.0);
    let budget = politely::RetryBudget::new(0.2);
    let fut = std::future::IntoFuture::into_future(
        politely::expo()
            .budget(&budget)
            .retry(|| async { Ok::<_, ()>(()) })
            .pacer(&pacer)
            .rate_key(String::from("ann")),
    );
    is_send(&fut);
}

/// A retry future made early (to hand to `select!` or `spawn`) starts its run when first
/// polled, as an attributed async fn's body does: `max_time` and `Details::elapsed` do not
/// count the time before, and callable limits are evaluated then.
#[tokio::test(start_paused = true)]
async fn a_run_starts_when_its_future_is_first_polled() {
    use std::future::IntoFuture;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;
    static LIMIT_ASKED: AtomicU32 = AtomicU32::new(0);
    let (calls, start) = (Calls::default(), Instant::now());
    let fut = politely::constant(1)
        .max_time_with(|| {
            LIMIT_ASKED.fetch_add(1, Ordering::Relaxed);
            2
        })
        .jitter(politely::Jitter::None)
        .retry(|| std::future::ready(attempt(&calls, start)))
        .on_backoff(|d| record(&calls, "backoff", d))
        .on_giveup(|d| record(&calls, "giveup", d))
        .into_future();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        LIMIT_ASKED.load(Ordering::Relaxed),
        0,
        "evaluated before the run"
    );
    assert_eq!(fut.await, Err("429".to_owned()));
    assert_eq!(LIMIT_ASKED.load(Ordering::Relaxed), 1);
    assert_eq!(
        calls.get(),
        [
            "attempt t=10",
            "backoff tries=1 elapsed=0 wait=1",
            "attempt t=11",
            "backoff tries=2 elapsed=1 wait=1",
            "attempt t=12",
            "giveup tries=3 elapsed=2 wait=-",
        ]
    );
}

#[backoff(expo, max_tries = 6, seed = 7, backoff_log_level = None, giveup_log_level = None,
    on_backoff = |d| waits.push(format!("{:?}", d.wait)))]
async fn seeded(waits: &Calls) -> Out {
    Err("busy".to_owned())
}

/// With the same seed, the builder and the attribute wait exactly the same: both draw the
/// jitter for try `n` from (seed, n).
#[tokio::test(start_paused = true)]
async fn the_same_seed_gives_the_builder_and_the_attribute_the_same_waits() {
    let by_attribute = Calls::default();
    let _ = seeded(&by_attribute).await;
    let by_builder = Calls::default();
    let _ = politely::expo()
        .max_tries(6)
        .seed(7)
        .backoff_log_level(None)
        .giveup_log_level(None)
        .retry(|| async { Err::<(), _>("busy".to_owned()) })
        .on_backoff(|d| by_builder.push(format!("{:?}", d.wait)))
        .await;
    assert_eq!(by_attribute.get().len(), 5);
    assert_eq!(by_attribute.get(), by_builder.get());
    // Full jitter: each wait within [0, 2^n] s, and not all the same.
    let waits = by_builder.get();
    assert!(waits.windows(2).any(|w| w[0] != w[1]), "{waits:?}");
}

/// The blocking loop reads the clock when it starts and after each failure (for `max_time`),
/// but not after a success unless an `on_success` handler wants `elapsed`, as the attribute's
/// sync fns do.
#[test]
fn a_blocking_success_reads_the_clock_only_for_on_success() {
    use std::sync::atomic::{AtomicU32, Ordering};
    let clock = politely::sim::SimClock::new();
    let run = |failures: u32, seen: Option<&Calls>| {
        let (fails, reads) = (AtomicU32::new(failures), AtomicU32::new(0));
        let op = || {
            if fails.load(Ordering::SeqCst) == 0 {
                return Ok(());
            }
            fails.fetch_sub(1, Ordering::SeqCst);
            Err(())
        };
        let retry = politely::constant(1)
            .max_time(10)
            .jitter(politely::Jitter::None)
            .retry_blocking(op)
            .sleep(|w| clock.sleep(w))
            .clock(|| {
                reads.fetch_add(1, Ordering::SeqCst);
                clock.now()
            });
        let out = match seen {
            Some(calls) => retry
                .on_success(|d| calls.push(format!("success:{}:{:?}", d.tries, d.elapsed)))
                .call(),
            None => retry.call(),
        };
        assert_eq!(out, Ok(()));
        reads.load(Ordering::SeqCst)
    };
    assert_eq!(run(0, None), 1);
    assert_eq!(run(2, None), 3);
    let seen = Calls::default();
    assert_eq!(run(2, Some(&seen)), 4);
    assert_eq!(seen.get(), ["success:3:2s"]);
}

/// A paced builder tells the pacer each answer (with `observe` or without): the attempt
/// after a pause's first waits for that one's answer (150 ms, it opened a connection) and
/// leaves an interval after it. By hand, `Pacer::ready` alone: an interval after the first's
/// departure.
#[tokio::test(start_paused = true)]
async fn a_paced_builder_waits_for_the_first_answer_after_a_pause() {
    use std::sync::Arc;
    use std::time::Duration;
    #[derive(Clone, Copy)]
    enum How {
        Observe,
        Plain,
        ByHand,
    }
    async fn two(how: How) -> Vec<String> {
        let pacer = Arc::new(politely::Pacer::per_second(10.0));
        let (calls, start) = (Arc::new(Calls::default()), Instant::now());
        let mut tasks = Vec::new();
        for took in [150, 5] {
            let (pacer, calls) = (pacer.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                let send = || async {
                    calls.push(start.elapsed().as_millis().to_string());
                    tokio::time::sleep(Duration::from_millis(took)).await;
                    Ok::<_, ()>(())
                };
                let run = politely::expo().max_tries(1).retry(send).pacer(&pacer);
                match how {
                    How::Observe => run.observe(|_| politely::Feedback::accepted()).await,
                    How::Plain => run.await,
                    How::ByHand => {
                        pacer.ready(None).await;
                        send().await
                    }
                }
            }));
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        calls.get()
    }
    assert_eq!(two(How::Observe).await, ["0", "250"]);
    assert_eq!(two(How::Plain).await, ["0", "250"]);
    assert_eq!(two(How::ByHand).await, ["0", "100"]);
}

/// A sleep that does not wait (a stub, a simulation) makes the pacer's step go on rather
/// than ask again for ever: each call still takes its slot, and none spins.
#[test]
fn a_sleep_that_does_not_wait_does_not_spin_on_the_pacer() {
    use std::time::Duration;
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let taken = rt.block_on(async {
            let pacer = politely::Pacer::per_second(1.0);
            for _ in 0..3 {
                let run = politely::constant(0)
                    .max_tries(1)
                    .retry(|| async { Ok::<_, ()>(()) })
                    .pacer(&pacer)
                    .sleep(|_| async {});
                run.await.unwrap();
            }
            // Three slots taken: the next is 3 s away.
            pacer.reserve(None).wait()
        });
        let _ = done.send(taken);
    });
    let taken = finished.recv_timeout(Duration::from_secs(20));
    assert_eq!(taken, Ok(Duration::from_secs(3)), "the pacing step spun");
}
