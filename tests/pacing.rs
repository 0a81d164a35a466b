//! Pacing (`rate`, `pacer`) and Retry-After (`retry_after`) on tokio's paused clock: exact
//! attempt times.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::Calls;
use politely::{Pacer, backoff};
use tokio::time::Instant;

fn ms(start: Instant) -> u128 {
    start.elapsed().as_millis()
}

/// Records each attempt's start time (ms since `start`) and succeeds.
#[backoff(expo, rate = 2 per second, max_tries = 3)]
async fn paced(times: &Calls, start: Instant) -> Result<(), ()> {
    times.push(ms(start).to_string());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn calls_are_spaced_to_the_rate() {
    let (times, start) = (Calls::default(), Instant::now());
    for _ in 0..5 {
        paced(&times, start).await.unwrap();
    }
    assert_eq!(times.get(), ["0", "500", "1000", "1500", "2000"]);
}

/// Retries wait for the pacer too: the pacer's 1 s beats the generator's 0.1 s waits.
#[backoff(constant, interval = 0.1, jitter = none, max_tries = 3, rate = 1 per second)]
async fn paced_retries(times: &Calls, start: Instant) -> Result<(), ()> {
    times.push(ms(start).to_string());
    Err(())
}

#[tokio::test(start_paused = true)]
async fn retries_are_paced() {
    let (times, start) = (Calls::default(), Instant::now());
    assert_eq!(paced_retries(&times, start).await, Err(()));
    assert_eq!(times.get(), ["0", "1000", "2000"]);
}

/// Concurrent callers share the fn's pacer: 10 tasks at 10/s start 100 ms apart.
#[backoff(expo, rate = 10 per second, burst = 1)]
async fn shared(times: Arc<Calls>, start: Instant) -> Option<()> {
    times.push(ms(start).to_string());
    Some(())
}

/// Spawns `n` calls at once and returns their attempts' starts (ms), in order.
async fn starts_of<F: Future<Output = Option<()>> + Send + 'static>(
    n: usize,
    call: impl Fn(Arc<Calls>, Instant) -> F,
) -> Vec<u128> {
    let (times, start) = (Arc::new(Calls::default()), Instant::now());
    let tasks: Vec<_> = (0..n)
        .map(|_| tokio::spawn(call(times.clone(), start)))
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut got: Vec<u128> = times.get().iter().map(|t| t.parse().unwrap()).collect();
    got.sort_unstable();
    got
}

#[tokio::test(start_paused = true)]
async fn concurrent_calls_share_the_pacer() {
    let got = starts_of(10, shared).await;
    assert_eq!(got, (0..10).map(|i| i * 100).collect::<Vec<u128>>());
}

/// The first attempt after a pause opens a connection and reaches the server late. A paced
/// fn tells its pacer each answer (with `observe` or without), so the attempt after it waits
/// for that answer and leaves an interval after it; the next one, on the open connection,
/// cannot arrive early against it. By hand, `Pacer::ready` alone spaces departures.
static OPENING: std::sync::LazyLock<Pacer> = std::sync::LazyLock::new(|| Pacer::per_second(10.0));
static UNOBSERVED: std::sync::LazyLock<Pacer> =
    std::sync::LazyLock::new(|| Pacer::per_second(10.0));
static BY_HAND: std::sync::LazyLock<Pacer> = std::sync::LazyLock::new(|| Pacer::per_second(10.0));

/// Records the attempt's start and takes `took` ms to answer.
async fn send(times: &Calls, start: Instant, took: u64) -> Option<()> {
    times.push(ms(start).to_string());
    tokio::time::sleep(Duration::from_millis(took)).await;
    Some(())
}

#[backoff(expo, max_tries = 1, pacer = OPENING, observe = |_| politely::Feedback::accepted())]
async fn observed(times: Arc<Calls>, start: Instant, took: u64) -> Option<()> {
    send(&times, start, took).await
}

#[backoff(expo, max_tries = 1, pacer = UNOBSERVED)]
async fn unobserved(times: Arc<Calls>, start: Instant, took: u64) -> Option<()> {
    send(&times, start, took).await
}

async fn by_hand(times: Arc<Calls>, start: Instant, took: u64) -> Option<()> {
    BY_HAND.ready(None).await;
    send(&times, start, took).await
}

#[tokio::test(start_paused = true)]
async fn the_first_answer_after_a_pause_spaces_the_next_attempt() {
    /// Two calls at once, a pause, two more: the first of each pair opens a connection
    /// (150 ms to answer, then 60 ms), the second uses it (5 ms).
    async fn pairs<F: Future<Output = Option<()>> + Send + 'static>(
        call: impl Fn(Arc<Calls>, Instant, u64) -> F,
    ) -> Vec<String> {
        let (times, start) = (Arc::new(Calls::default()), Instant::now());
        let mut tasks = Vec::new();
        for (i, took) in [150, 5, 60, 5].into_iter().enumerate() {
            if i == 2 {
                tokio::time::sleep_until(start + Duration::from_millis(700)).await;
            }
            tasks.push(tokio::spawn(call(times.clone(), start, took)));
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        times.get()
    }
    // Each second call waits for the first one's answer (at 150 and at 760 ms) and leaves
    // 100 ms after it. By hand: 100 ms after each departure, the second while the first is
    // still opening its connection.
    assert_eq!(pairs(observed).await, ["0", "250", "700", "860"]);
    assert_eq!(pairs(unobserved).await, ["0", "250", "700", "860"]);
    assert_eq!(pairs(by_hand).await, ["0", "100", "700", "800"]);
}

/// Answers slower than two intervals: after the pause's first, only the second waits (for
/// an interval past its turn, the first's answer being late); the rest keep the rate.
static SLOW: std::sync::LazyLock<Pacer> = std::sync::LazyLock::new(|| Pacer::per_second(10.0));

#[backoff(expo, max_tries = 1, pacer = SLOW, observe = |_| politely::Feedback::accepted())]
async fn slow_answers(times: Arc<Calls>, start: Instant) -> Option<()> {
    send(&times, start, 1000).await
}

#[tokio::test(start_paused = true)]
async fn answers_slower_than_two_intervals_cost_one_interval() {
    let got = starts_of(20, slow_answers).await;
    let expected: Vec<u128> = [0]
        .into_iter()
        .chain((0..19).map(|i| 200 + i * 100))
        .collect();
    assert_eq!(got, expected);
}

/// An answer that takes longer than usual may have waited before the server stamped it (a
/// busy machine delays one request and not the next): the next attempt leaves that much
/// later, so it does not arrive early against it.
#[backoff(expo, max_tries = 1, rate = 10 per second)]
async fn lately_answered(times: Arc<Calls>, start: Instant, took: u64) -> Option<()> {
    send(&times, start, took).await
}

#[tokio::test(start_paused = true)]
async fn an_answer_late_by_30_ms_moves_the_next_attempt_30_ms() {
    let (times, start) = (Arc::new(Calls::default()), Instant::now());
    for took in [5, 5, 5, 35, 5, 5] {
        lately_answered(times.clone(), start, took).await;
    }
    // The first opens (the next leaves 100 ms after its answer); the second's answer is the
    // first on the open connection, with no usual time yet: its 5 ms move the third to 210;
    // then answers usually take 5 ms; the one sent at 310 took 35, so the next leaves at
    // 440, not 410.
    assert_eq!(times.get(), ["0", "105", "210", "310", "440", "540"]);
}

/// A burst lets that many through at once, then the rate applies.
#[backoff(expo, rate = 1 per second, burst = 3)]
async fn bursty(times: &Calls, start: Instant) -> bool {
    times.push(ms(start).to_string());
    true
}

#[tokio::test(start_paused = true)]
async fn burst_then_rate() {
    let (times, start) = (Calls::default(), Instant::now());
    for _ in 0..5 {
        bursty(&times, start).await;
    }
    assert_eq!(times.get(), ["0", "0", "0", "1000", "2000"]);
}

/// `rate_key`: each key has its own budget at the rate.
#[backoff(expo, rate = 1 per minute, rate_key = sender)]
async fn per_sender(sender: &str, times: &Calls, start: Instant) -> bool {
    times.push(format!("{sender}@{}", start.elapsed().as_secs()));
    true
}

#[tokio::test(start_paused = true)]
async fn keys_are_paced_apart() {
    let (times, start) = (Calls::default(), Instant::now());
    for sender in ["a", "b", "a", "b"] {
        per_sender(sender, &times, start).await;
    }
    // a's second call waits for a's slot at 60 s; b's slot is free by then.
    assert_eq!(times.get(), ["a@0", "b@0", "a@60", "b@60"]);
}

/// `pacer = ...`: a pacer the caller owns, e.g. one per client.
struct Client {
    pacer: Pacer,
    times: Calls,
}

impl Client {
    #[backoff(expo, pacer = self.pacer)]
    async fn send(&self, start: Instant) -> bool {
        self.times.push(ms(start).to_string());
        true
    }
}

#[tokio::test(start_paused = true)]
async fn an_owned_pacer_per_client() {
    let start = Instant::now();
    let fast = Client {
        pacer: Pacer::per_second(4.0),
        times: Calls::default(),
    };
    let slow = Client {
        pacer: Pacer::per_second(1.0),
        times: Calls::default(),
    };
    for _ in 0..3 {
        fast.send(start).await;
    }
    for _ in 0..2 {
        slow.send(start).await;
    }
    assert_eq!(fast.times.get(), ["0", "250", "500"]);
    assert_eq!(slow.times.get(), ["500", "1500"]);
}

#[test]
fn bad_rates_pace_nothing_instead_of_panicking() {
    assert_eq!(Pacer::unlimited().interval(), None);
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let p = Pacer::per_second(rate);
        assert_eq!(p.interval(), None, "{rate}");
        p.ready_blocking(None); // returns at once
    }
    assert_eq!(
        Pacer::per_second(4.0).interval(),
        Some(Duration::from_millis(250))
    );
}

/// "Almost never" is not "unlimited": a rate too slow for a `Duration` (or for slot
/// arithmetic on instants) paces one attempt per 10^7 s. (It paced nothing: the interval
/// overflowed to no interval, or the next slot stopped moving.)
#[tokio::test(start_paused = true)]
async fn rates_too_slow_to_represent_pace_at_the_slowest_interval() {
    let slowest = Duration::from_secs(10_000_000);
    for p in [
        Pacer::per_second(1e-20),
        Pacer::new(1.0, Duration::MAX),
        Pacer::new(1.0, 10_000_000_000_000_000_000u64),
    ] {
        assert_eq!(p.interval(), Some(slowest));
        p.reserve(None).consume();
        let second = p.reserve(None);
        assert!(second.wait() > Duration::ZERO, "{p:?}");
        drop(second);
    }
    let p = Pacer::per_second(1e-20);
    p.reserve(None).consume();
    assert_eq!(p.reserve(None).wait(), slowest);
    // Just above the cap, the rate is kept as given.
    assert_eq!(
        Pacer::new(1.0, 9_000_000).interval(),
        Some(Duration::from_secs(9_000_000))
    );
}

// Retry-After.

#[derive(Debug, Clone, PartialEq)]
enum ApiError {
    TooMany(Option<u64>),
}

static SCRIPT_POS: AtomicU32 = AtomicU32::new(0);

#[backoff(expo, max_value = 10, jitter = none, max_tries = 5,
    retry_after = |e: &ApiError| match e { ApiError::TooMany(s) => *s },
    on_backoff = |d| waits.push(d.wait.unwrap().as_secs_f64().to_string()))]
async fn throttled(script: &[Option<u64>], waits: &Calls) -> Result<u32, ApiError> {
    let i = SCRIPT_POS.fetch_add(1, Ordering::SeqCst) as usize;
    match script.get(i) {
        Some(after) => Err(ApiError::TooMany(*after)),
        None => Ok(i as u32),
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_a_floor_under_the_generators_wait_and_capped() {
    SCRIPT_POS.store(0, Ordering::SeqCst);
    let waits = Calls::default();
    // 7 s as asked, then expo's 1 s; 30 s capped by max_value = 10, then expo's 2 s; no
    // header: expo's 4 s alone.
    let out = throttled(&[Some(7), Some(30), None], &waits).await;
    assert_eq!(out, Ok(3));
    assert_eq!(waits.get(), ["8", "12", "4"]);
}

static LIMITED_CALLS: AtomicU32 = AtomicU32::new(0);

#[backoff(expo, max_time = 20, max_tries = 3,
    retry_after = |_e: &ApiError| Some(15))]
async fn limited() -> Result<(), ApiError> {
    LIMITED_CALLS.fetch_add(1, Ordering::SeqCst);
    Err(ApiError::TooMany(Some(15)))
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_cut_to_max_time_and_never_revives_a_run() {
    let start = Instant::now();
    assert!(limited().await.is_err());
    // 15 s, then the 5 s left of max_time (not 15); then max_time is spent: give up after 3
    // tries even though the server would have said 15 again.
    assert_eq!(start.elapsed(), Duration::from_secs(20));
    assert_eq!(LIMITED_CALLS.load(Ordering::SeqCst), 3);
}

/// A server that asks for a pause of 584 billion years, to a pacer that learns from it.
#[backoff(expo, max_tries = 3, rate = adaptive,
    retry_after = |e: &ApiError| match e { ApiError::TooMany(s) => *s },
    observe = |out: &Result<u32, ApiError>| match out {
        Err(ApiError::TooMany(s)) => {
            politely::Feedback::throttled().with_retry_after(s.map(Duration::from_secs))
        }
        Ok(_) => politely::Feedback::accepted(),
    })]
async fn hostile(n: &AtomicU32) -> Result<u32, ApiError> {
    match n.fetch_add(1, Ordering::SeqCst) {
        0 => Err(ApiError::TooMany(Some(u64::MAX))),
        i => Ok(i),
    }
}

/// Time queued for a pacer is not counted in `max_time`; a call is bounded, queueing
/// included, by `tokio::time::timeout` around it, and the server's pause is held to an hour.
#[tokio::test(start_paused = true)]
async fn a_call_is_bounded_queueing_included_and_no_pause_outlasts_an_hour() {
    let n = AtomicU32::new(0);
    let start = Instant::now();
    let bounded = tokio::time::timeout(Duration::from_secs(10), hostile(&n)).await;
    assert!(bounded.is_err(), "{bounded:?}");
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(n.load(Ordering::SeqCst), 1);
    // Unbounded, the next call waits out the pacer's hold: an hour after the 429.
    assert_eq!(hostile(&n).await, Ok(1));
    assert_eq!(start.elapsed(), Duration::from_secs(3600));
}

#[test]
fn retry_after_parses_both_forms() {
    use std::time::{SystemTime, UNIX_EPOCH};
    let now = UNIX_EPOCH + Duration::from_secs(1_445_412_470);
    assert_eq!(
        politely::parse_retry_after(" 3 ", now),
        Some(Duration::from_secs(3))
    );
    assert_eq!(
        politely::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
        Some(Duration::from_secs(10))
    );
    // A date in the past: no wait.
    let later = now + Duration::from_secs(100);
    assert_eq!(
        politely::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", later),
        Some(Duration::ZERO)
    );
    assert_eq!(politely::parse_retry_after("-1", now), None);
    assert_eq!(politely::parse_retry_after("", SystemTime::now()), None);
}

// Cancelled calls give their slots back.

/// The case: each call is cancelled by a 1 ms timeout.
#[backoff(constant, max_tries = 1, rate = 1 per second)]
async fn cancelled_one_by_one() -> Result<(), ()> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_call_after_cancelled_calls_waits_for_no_cancelled_slot() {
    let start = Instant::now();
    let mut done = 0;
    for _ in 0..100 {
        let call = tokio::time::timeout(Duration::from_millis(1), cancelled_one_by_one());
        done += u32::from(call.await.is_ok());
    }
    // The first call's slot was free; each of the other 99 waited 1 ms for its slot at 1 s.
    assert_eq!(done, 1);
    assert_eq!(start.elapsed(), Duration::from_millis(99));
    tokio::time::sleep(Duration::from_secs(10)).await;
    // Nothing ran for 10 s: a fresh call starts at once (it waited 89.9 s when cancelled
    // reservations kept their slots), and the next one a second later.
    let fresh = Instant::now();
    cancelled_one_by_one().await.unwrap();
    assert_eq!(fresh.elapsed(), Duration::ZERO);
    cancelled_one_by_one().await.unwrap();
    assert_eq!(fresh.elapsed(), Duration::from_secs(1));
}

#[backoff(constant, max_tries = 1, rate = 1 per second, rate_key = key)]
async fn cancelled_keyed(key: &str) -> Result<(), ()> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_keyed_call_after_cancelled_calls_waits_for_no_cancelled_slot() {
    for _ in 0..100 {
        let call = tokio::time::timeout(Duration::from_millis(1), cancelled_keyed("a"));
        let _ = call.await;
    }
    // Another key never waited for "a"'s cancelled calls.
    let b = Instant::now();
    cancelled_keyed("b").await.unwrap();
    assert_eq!(b.elapsed(), Duration::ZERO);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let fresh = Instant::now();
    cancelled_keyed("a").await.unwrap();
    assert_eq!(fresh.elapsed(), Duration::ZERO);
    cancelled_keyed("a").await.unwrap();
    assert_eq!(fresh.elapsed(), Duration::from_secs(1));
}

/// 100 concurrent callers under a 5 s timeout.
#[backoff(constant, max_tries = 1, rate = 1 per second)]
async fn crowded() -> Result<(), ()> {
    Ok(())
}

#[backoff(constant, max_tries = 1, rate = 1 per second, rate_key = key)]
async fn crowded_keyed(key: &'static str) -> Result<(), ()> {
    Ok(())
}

async fn crowd<F>(call: impl Fn() -> F) -> (usize, Duration)
where
    F: Future<Output = Result<(), ()>> + Send + 'static,
{
    let tasks: Vec<_> = (0..100)
        .map(|_| tokio::spawn(tokio::time::timeout(Duration::from_secs(5), call())))
        .collect();
    let mut done = 0;
    for t in tasks {
        done += usize::from(t.await.unwrap().is_ok());
    }
    let fresh = Instant::now();
    call().await.unwrap();
    (done, fresh.elapsed())
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_under_a_timeout_leave_no_queue_behind() {
    let start = Instant::now();
    // Slots 0 to 5 s ran; the other 94 callers gave up at 5 s. A fresh call then waits for
    // the slot after the last that ran, 6 s (it waited 95 s before).
    assert_eq!(crowd(crowded).await, (6, Duration::from_secs(1)));
    assert_eq!(start.elapsed(), Duration::from_secs(6));
    assert_eq!(
        crowd(|| crowded_keyed("k")).await,
        (6, Duration::from_secs(1))
    );
}

/// The same on the sync side: callers holding `Reservation`s that give up before their slot.
#[tokio::test(start_paused = true)]
async fn reservations_dropped_unused_give_their_slots_back() {
    let pacer = Pacer::per_second(1.0);
    for key in [None, Some("a")] {
        pacer.reserve(key).consume(); // an attempt that ran now
        let held: Vec<_> = (0..99).map(|_| pacer.reserve(key)).collect();
        assert_eq!(held[98].wait(), Duration::from_secs(99));
        // The middle one gives up: the next caller takes its slot.
        let mut held = held;
        drop(held.remove(49));
        assert_eq!(pacer.reserve(key).wait(), Duration::from_secs(50));
        drop(held);
        assert_eq!(pacer.reserve(key).wait(), Duration::from_secs(1));
    }
    // The slot is consumed once reached: `ready` returns the time queued.
    let first = pacer.ready(None).await;
    let second = pacer.ready(None).await;
    assert_eq!(
        (first, second),
        (Duration::from_secs(1), Duration::from_secs(1))
    );
}

/// Sync callers on the real clock: those whose slot lies past their deadline give up.
#[test]
fn sync_callers_that_give_up_give_their_slots_back() {
    let pacer = Pacer::per_second(10.0);
    let deadline = Duration::from_millis(250);
    let held: Vec<_> = (0..100).map(|_| pacer.reserve(None)).collect();
    let (run, gave_up): (Vec<_>, Vec<_>) = held.into_iter().partition(|r| r.wait() <= deadline);
    drop(gave_up);
    assert_eq!(run.len(), 3);
    for r in run {
        assert!(r.ready_blocking() <= Duration::from_millis(300));
    }
    // The next caller waits at most one interval past the last attempt (it waited 9.7 s).
    let next = pacer.reserve(None);
    assert!(
        next.wait() <= Duration::from_millis(100),
        "{:?}",
        next.wait()
    );
    assert!(next.ready_blocking() <= Duration::from_millis(150));
}

// Time queued for the pacer is not failure time.

/// A server that fails its first `fail_first` requests, then answers.
#[derive(Default)]
struct Server {
    requests: AtomicU32,
    fail_first: u32,
}

impl Server {
    fn handle(&self) -> Result<(), ()> {
        if self.requests.fetch_add(1, Ordering::SeqCst) < self.fail_first {
            Err(())
        } else {
            Ok(())
        }
    }
}

#[backoff(constant, interval = 1, jitter = none, max_time = 4, rate = 1 per second,
    on_giveup = |d| trace.push(format!("gave up: {} tries, {:?}", d.tries, d.elapsed)),
    on_backoff = |d| trace.push(format!("{}: {:?} + {:?}", d.tries, d.elapsed, d.wait.unwrap())))]
async fn batch_recovering(server: Arc<Server>, trace: Calls) -> Result<(), ()> {
    server.handle()
}

#[tokio::test(start_paused = true)]
async fn a_batch_larger_than_rate_times_max_time_survives_a_brief_outage() {
    let start = Instant::now();
    let server = Arc::new(Server {
        fail_first: 10,
        ..Server::default()
    });
    let traces: Vec<Calls> = (0..20).map(|_| Calls::default()).collect();
    let tasks: Vec<_> = traces
        .iter()
        .map(|t| tokio::spawn(batch_recovering(server.clone(), t.clone())))
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), Ok(()));
    }
    // The 20 first attempts take slots 0 to 19 s, the first 10 fail; their retries queue
    // behind the batch (slots 20 to 29 s) and succeed. None gave up, though 10 of them ran
    // 20 s past their start: each spent 1 s failing and backing off (it gave up after one
    // try at 4 to 9 s when the queueing counted).
    assert_eq!(server.requests.load(Ordering::SeqCst), 30);
    assert_eq!(start.elapsed(), Duration::from_secs(29));
    let mut retried = 0;
    for trace in &traces {
        match trace.get().as_slice() {
            [] => {}
            [one] => {
                assert_eq!(one, "1: 0ns + 1s");
                retried += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(retried, 10);
}

#[backoff(constant, interval = 1, jitter = none, max_time = 4, rate = 1 per second,
    on_giveup = |d| trace.push(format!("gave up: {} tries, {:?}", d.tries, d.elapsed)),
    on_backoff = |d| trace.push(format!("{}: {:?} + {:?}", d.tries, d.elapsed, d.wait.unwrap())))]
async fn batch_down(server: Arc<Server>, trace: Calls) -> Result<(), ()> {
    server.handle()
}

#[tokio::test(start_paused = true)]
async fn a_batch_against_a_dead_server_gives_up_after_max_time_of_failing() {
    let start = Instant::now();
    let server = Arc::new(Server {
        fail_first: u32::MAX,
        ..Server::default()
    });
    let traces: Vec<Calls> = (0..20).map(|_| Calls::default()).collect();
    let tasks: Vec<_> = traces
        .iter()
        .map(|t| tokio::spawn(batch_down(server.clone(), t.clone())))
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), Err(()));
    }
    // 100 attempts at 1 per second: the last call ends 99 s after it began, yet every call
    // gave up after exactly 4 s of failing and backing off, never sleeping past max_time.
    assert_eq!(server.requests.load(Ordering::SeqCst), 100);
    assert_eq!(start.elapsed(), Duration::from_secs(99));
    for trace in &traces {
        assert_eq!(
            trace.get(),
            [
                "1: 0ns + 1s",
                "2: 1s + 1s",
                "3: 2s + 1s",
                "4: 3s + 1s",
                "gave up: 5 tries, 4s"
            ]
        );
    }
}

/// `tokio::time::timeout` bounds a whole call, its queueing included.
#[backoff(constant, interval = 1, jitter = none, max_time = 4, rate = 1 per second)]
async fn bounded(server: Arc<Server>) -> Result<(), ()> {
    server.handle()
}

#[tokio::test(start_paused = true)]
async fn a_timeout_bounds_the_whole_call_queueing_included() {
    let server = Arc::new(Server {
        fail_first: u32::MAX,
        ..Server::default()
    });
    let start = Instant::now();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            tokio::spawn(tokio::time::timeout(
                Duration::from_secs(10),
                bounded(server.clone()),
            ))
        })
        .collect();
    let mut timed_out = 0;
    for t in tasks {
        timed_out += usize::from(t.await.unwrap().is_err());
    }
    // Slots 0 to 10 s ran (the one at 10 s just before its caller's deadline); every call
    // ended by 10 s, whether it gave up or timed out; the timed-out ones gave their slots back.
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(server.requests.load(Ordering::SeqCst), 11);
    assert_eq!(timed_out, 20);
}
