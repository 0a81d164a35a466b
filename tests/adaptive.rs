//! Adaptive pacing through the attribute (`rate = adaptive`, `pacer = ..., observe`,
//! `observe = |out| ...`): an in-process server with a GCRA bucket on tokio's paused clock, 60
//! calls fired at once, and the goals' bounds; the observe step's count, feedback and order;
//! the sync path; one learned rate per key.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use backoff_testkit::{Bucket, ceil_secs};
use common::Calls;
use politely::{AdaptiveRate, Feedback, Pacer, RateFeedback, backoff};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The time a request takes each way.
const ONE_WAY: Duration = Duration::from_millis(25);

/// A rate-limited server: the shared GCRA bucket (`backoff-testkit`) whose rate follows a
/// schedule (counted from the first request), answering `429` beyond it, with a whole-second
/// `Retry-After` or (as nginx's `limit_req`) none.
struct Server {
    /// `(from, rate)`: the rate in requests per second from `from` seconds after the first
    /// request.
    schedule: Vec<(u64, f64)>,
    /// The requests the bucket lets through at once from rest: testkit's `burst`. nginx's
    /// `burst=5 nodelay` lets 1 + 5 through, testkit's burst 6.
    burst: u32,
    /// Whether a `429` says `Retry-After`.
    retry_after: bool,
    /// The time a request takes each way.
    one_way: Duration,
    /// Another client takes a token at the same instant, just before this server's request
    /// number `n` (from 1) arrives: a probe, a health check.
    foreign_before: Option<u32>,
    bucket: Mutex<Bucket>,
    requests: AtomicU32,
    refused: AtomicU32,
    /// Accepted requests per call id.
    accepted: Mutex<HashMap<u32, u32>>,
}

#[derive(Debug)]
struct Sent;

#[derive(Debug)]
struct Refused {
    retry_after: Option<Duration>,
}

impl RateFeedback for Sent {
    fn feedback(&self) -> Feedback {
        Feedback::accepted()
    }
}

impl RateFeedback for Refused {
    fn feedback(&self) -> Feedback {
        Feedback::throttled().with_retry_after(self.retry_after)
    }
}

impl Server {
    /// Burst 1, `Retry-After` on each `429`.
    fn new(schedule: &[(u64, f64)]) -> Arc<Server> {
        Server::with(schedule, 1, true, None)
    }

    /// As nginx's `limit_req rate=RATEr/s burst=BURST nodelay` answers: `1 + burst` at once
    /// from rest, no `Retry-After`; `one_way` each way.
    fn nginx(rate: f64, burst: u32, one_way: Duration) -> Arc<Server> {
        let mut server = Server::with(&[(0, rate)], 1 + burst, false, None);
        Arc::get_mut(&mut server).expect("not shared yet").one_way = one_way;
        server
    }

    fn with(
        schedule: &[(u64, f64)],
        burst: u32,
        retry_after: bool,
        foreign_before: Option<u32>,
    ) -> Arc<Server> {
        Arc::new(Server {
            schedule: schedule.to_vec(),
            burst,
            retry_after,
            one_way: ONE_WAY,
            foreign_before,
            bucket: Mutex::new(Bucket::stepped(schedule, burst)),
            requests: AtomicU32::new(0),
            refused: AtomicU32::new(0),
            accepted: Mutex::default(),
        })
    }

    /// Admits request number `n` (from 1) arriving `now`, or says how long until it would be.
    fn admit(&self, n: u32, now: Instant) -> Result<(), Duration> {
        let mut bucket = self.bucket.lock().unwrap();
        if self.foreign_before == Some(n) {
            bucket.take(now.into_std());
        }
        let decision = bucket.take(now.into_std());
        if decision.admitted {
            Ok(())
        } else {
            Err(decision.next_token)
        }
    }

    /// One request of call `id`: its answer comes back after the round trip.
    async fn request(&self, id: u32) -> Result<Sent, Refused> {
        tokio::time::sleep(self.one_way).await;
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let answer = match self.admit(n, Instant::now()) {
            Ok(()) => {
                *self.accepted.lock().unwrap().entry(id).or_default() += 1;
                Ok(Sent)
            }
            Err(wait) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                // Whole seconds, rounded up, as `Retry-After` says them.
                Err(Refused {
                    retry_after: self
                        .retry_after
                        .then(|| Duration::from_secs(ceil_secs(wait))),
                })
            }
        };
        tokio::time::sleep(self.one_way).await;
        answer
    }

    /// When a client that knew the schedule would send its `n`-th request at the earliest.
    fn ideal(&self, n: u32) -> Duration {
        backoff_testkit::ideal(Bucket::stepped(&self.schedule, self.burst), n)
    }

    /// Every call accepted exactly once.
    fn assert_each_once(&self, calls: u32) {
        let accepted = self.accepted.lock().unwrap();
        assert_eq!(accepted.len(), calls as usize, "calls accepted");
        assert!(accepted.values().all(|&n| n == 1), "{accepted:?}");
    }
}

/// Fires `calls` calls of `f` at once; returns when the last one ends, after how long.
async fn fire<F, Fut>(calls: u32, f: F) -> Duration
where
    F: Fn(u32) -> Fut,
    Fut: Future<Output = Result<Sent, Refused>> + Send + 'static,
{
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for id in 0..calls {
        tasks.spawn(f(id));
    }
    while let Some(done) = tasks.join_next().await {
        assert!(done.unwrap().is_ok(), "a call gave up");
    }
    start.elapsed()
}

/// Prints the figures of one run and returns `(elapsed / ideal, share answered 429)`.
fn report(case: &str, server: &Server, elapsed: Duration, ideal: Duration) -> (f64, f64) {
    let requests = server.requests.load(Ordering::Relaxed);
    let refused = server.refused.load(Ordering::Relaxed);
    let ratio = elapsed.as_secs_f64() / ideal.as_secs_f64();
    let share = f64::from(refused) / f64::from(requests);
    println!(
        "{case}: elapsed {:.3} s = {ratio:.3} x the ideal {:.2} s; {requests} requests, {refused} answered 429 ({:.1} %)",
        elapsed.as_secs_f64(),
        ideal.as_secs_f64(),
        share * 100.0,
    );
    (ratio, share)
}

/// The reqwest shape: the output (`Result` of two `RateFeedback` types) tells by itself, so
/// `rate = adaptive` is the one pacing argument.
#[backoff(expo, rate = adaptive, max_tries = 30,
          retry_after = |e: &Refused| e.retry_after)]
async fn send(server: Arc<Server>, id: u32) -> Result<Sent, Refused> {
    server.request(id).await
}

/// 60 calls fired at once at a server allowing 1/s, burst 1, with no rate headers: the
/// goals' bounds (at most 1.15 x the physical 59 s, at most 10 % answered 429), and every
/// call delivered exactly once.
#[tokio::test(start_paused = true)]
async fn sixty_at_once_against_one_per_second() {
    let server = Server::new(&[(0, 1.0)]);
    let elapsed = fire(60, |id| send(server.clone(), id)).await;
    // The physical limit: 59 s (the client's round trip comes on top).
    let ideal = server.ideal(60);
    let (ratio, share) = report("1/s, no headers", &server, elapsed, ideal);
    server.assert_each_once(60);
    assert!(ratio <= 1.15, "{ratio}");
    assert!(share <= 0.10, "{share}");
}

/// One call on a pacer of the test's own (`pacer = ...`): each test learns from scratch, and
/// the jitter is seeded by the call, so a run on the paused clock is the same every time.
#[backoff(expo, max_tries = 30, seed = u64::from(id), pacer = pacer, observe,
          retry_after = |e: &Refused| e.retry_after)]
async fn send_on(pacer: Arc<Pacer>, server: Arc<Server>, id: u32) -> Result<Sent, Refused> {
    server.request(id).await
}

/// Fires 60 calls at once on a fresh adaptive pacer; returns `(elapsed, requests, refused)`.
async fn sixty_on_a_fresh_pacer(server: &Arc<Server>) -> (Duration, u32, u32) {
    let pacer = Arc::new(Pacer::adaptive());
    let elapsed = fire(60, |id| send_on(pacer.clone(), server.clone(), id)).await;
    server.assert_each_once(60);
    let requests = server.requests.load(Ordering::Relaxed);
    let refused = server.refused.load(Ordering::Relaxed);
    (elapsed, requests, refused)
}

/// nginx on loopback: half a millisecond each way.
const LOOPBACK: Duration = Duration::from_micros(500);

/// nginx's `limit_req rate=1r/s` (burst 1, no `Retry-After`): the goals' bounds, at most
/// 1.15 x the physical 59 s and at most 10 % answered 429, on loopback and 25 ms away.
#[tokio::test(start_paused = true)]
async fn sixty_at_once_against_nginx_without_burst() {
    for (one_way, figures) in [(LOOPBACK, (62_005, 64, 4)), (ONE_WAY, (62_053, 64, 4))] {
        let server = Server::nginx(1.0, 0, one_way);
        let (elapsed, requests, refused) = sixty_on_a_fresh_pacer(&server).await;
        let ideal = server.ideal(60);
        assert_eq!(ideal, Duration::from_secs(59));
        let (ratio, share) = report("nginx 1r/s", &server, elapsed, ideal);
        assert!(ratio <= 1.15 && share <= 0.10, "{ratio} {share}");
        assert_eq!((elapsed.as_millis(), requests, refused), figures);
    }
}

/// nginx's `limit_req rate=1r/s burst=5 nodelay` (6 at once from rest, no `Retry-After`): at
/// most 1.15 x the burst-adjusted 54 s and, on loopback, at most 10 % answered 429. Slow
/// start gets 7 through the bucket's depth in its first 2 s, whatever the rate behind them;
/// the refusals that follow bound the limit by the time since the last accepted start, and
/// as slow start's pace was far above the average accepted, descend to half that bound and
/// no faster than that average: 5 of 65 answered 429 in 55.9 s (6 of 66 in 54.4 s when
/// they descended to 0.6 of it from the third). 25 ms away, the attempts in flight when each
/// refusal comes back are refused too: 8 of 68.
#[tokio::test(start_paused = true)]
async fn sixty_at_once_against_nginx_with_burst_five() {
    for (one_way, figures) in [(LOOPBACK, (55_861, 65, 5)), (ONE_WAY, (55_639, 68, 8))] {
        let server = Server::nginx(1.0, 5, one_way);
        let (elapsed, requests, refused) = sixty_on_a_fresh_pacer(&server).await;
        let ideal = server.ideal(60);
        assert_eq!(ideal, Duration::from_secs(54));
        let (ratio, share) = report("nginx 1r/s burst=5 nodelay", &server, elapsed, ideal);
        assert!(ratio <= 1.15, "{ratio}");
        assert!(share <= 0.10 || one_way > LOOPBACK, "{share}");
        assert_eq!((elapsed.as_millis(), requests, refused), figures);
    }
}

/// Another client takes the token just before the second request (after one was accepted):
/// one early 429 costs a few intervals, not a halved rate for the batch.
#[tokio::test(start_paused = true)]
async fn one_early_refusal_costs_a_few_intervals() {
    let server = Server::with(&[(0, 1.0)], 1, true, Some(2));
    let (elapsed, requests, refused) = sixty_on_a_fresh_pacer(&server).await;
    // 61 tokens taken: the other client's and 60.
    let ideal = server.ideal(61);
    let (ratio, share) = report("one early 429", &server, elapsed, ideal);
    assert!(ratio <= 1.15 && share <= 0.10, "{ratio} {share}");
    assert_eq!((elapsed.as_millis(), requests, refused), (63_843, 63, 3));
}

/// The same before the first request: refused before anything was accepted.
#[tokio::test(start_paused = true)]
async fn a_refusal_before_any_acceptance_costs_a_few_intervals() {
    let server = Server::with(&[(0, 1.0)], 1, true, Some(1));
    let (elapsed, requests, refused) = sixty_on_a_fresh_pacer(&server).await;
    let ideal = server.ideal(61);
    let (ratio, share) = report("refused first", &server, elapsed, ideal);
    assert!(ratio <= 1.15 && share <= 0.10, "{ratio} {share}");
    assert_eq!((elapsed.as_millis(), requests, refused), (66_331, 64, 4));
}

/// The same shape told through a closure: `observe = |out| ...` maps the output to a
/// `Feedback` (here as a server's status would).
#[backoff(expo, rate = adaptive, max_tries = 30,
          retry_after = |e: &Refused| e.retry_after,
          observe = |out| match out {
              Ok(_) => Feedback::accepted(),
              Err(e) => Feedback::throttled().with_retry_after(e.retry_after),
          })]
async fn send_told(server: Arc<Server>, id: u32) -> Result<Sent, Refused> {
    server.request(id).await
}

/// The limit at 2/s for the first 20 s, then 1/s: at most 1.2 x the schedule's ideal, at
/// most 10 % answered 429, every call delivered exactly once.
#[tokio::test(start_paused = true)]
async fn sixty_at_once_when_the_limit_drops() {
    let server = Server::new(&[(0, 2.0), (20, 1.0)]);
    let elapsed = fire(60, |id| send_told(server.clone(), id)).await;
    let ideal = server.ideal(60);
    assert_eq!(ideal, Duration::from_secs(39));
    let (ratio, share) = report("2/s then 1/s after 20 s", &server, elapsed, ideal);
    server.assert_each_once(60);
    assert!(ratio <= 1.2, "{ratio}");
    assert!(share <= 0.10, "{share}");
}

/// `rate_key` keeps one learned rate per key: a key whose server takes 4/s is not held to the
/// 1/s of another key's server.
#[backoff(expo, rate = adaptive, rate_key = key, max_tries = 30, seed = u64::from(id),
          retry_after = |e: &Refused| e.retry_after)]
async fn send_keyed(server: Arc<Server>, key: &'static str, id: u32) -> Result<Sent, Refused> {
    server.request(id).await
}

#[tokio::test(start_paused = true)]
async fn one_learned_rate_per_key() {
    let slow = Server::new(&[(0, 1.0)]);
    let fast = Server::new(&[(0, 4.0)]);
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for id in 0..30 {
        let (slow, fast) = (slow.clone(), fast.clone());
        tasks.spawn(async move {
            send_keyed(slow, "slow", id)
                .await
                .map(|_| ("slow", start.elapsed()))
        });
        tasks.spawn(async move {
            send_keyed(fast, "fast", id)
                .await
                .map(|_| ("fast", start.elapsed()))
        });
    }
    let mut last = HashMap::new();
    while let Some(done) = tasks.join_next().await {
        let (key, at) = done.unwrap().unwrap();
        let e = last.entry(key).or_insert(Duration::ZERO);
        *e = (*e).max(at);
    }
    let (slow_ratio, slow_share) =
        report("keyed, slow key 1/s", &slow, last["slow"], slow.ideal(30));
    let (fast_ratio, fast_share) =
        report("keyed, fast key 4/s", &fast, last["fast"], fast.ideal(30));
    slow.assert_each_once(30);
    fast.assert_each_once(30);
    // Shared with the slow key, the fast key's 30 calls would take about as long as its 30.
    assert!(last["fast"] < Duration::from_secs(15), "{:?}", last["fast"]);
    // A refused call waits the server's second and its jittered backoff on top before it
    // queues again, behind the rest: the fast key's last call ends 1.54 x its ideal (seeded).
    assert!(
        slow_ratio <= 1.2 && fast_ratio <= 1.6,
        "{slow_ratio} {fast_ratio}"
    );
    assert!(
        slow_share <= 0.10 && fast_share <= 0.15,
        "{slow_share} {fast_share}"
    );
}

/// An output that records, in one log shared with the predicate, each time it is asked how
/// its attempt went.
struct Told {
    throttled: bool,
    log: Calls,
}

impl RateFeedback for Told {
    fn feedback(&self) -> Feedback {
        let said = if self.throttled {
            "throttled"
        } else {
            "accepted"
        };
        self.log.push(format!("observe {said}"));
        if self.throttled {
            Feedback::throttled()
        } else {
            Feedback::accepted()
        }
    }
}

static TOLD: LazyLock<Pacer> = LazyLock::new(Pacer::adaptive);

/// Attempts `script[n]` throttled or not; the predicate retries a throttled one.
#[backoff(constant, interval = 0, jitter = none, max_tries = 5, pacer = TOLD, observe,
          predicate = |t: &Told| { t.log.push("judge"); t.throttled })]
async fn scripted(log: Calls, script: Arc<Vec<bool>>, tries: Arc<AtomicU32>) -> Told {
    let n = tries.fetch_add(1, Ordering::Relaxed) as usize;
    log.push(format!("attempt at {} ms", START.elapsed().as_millis()));
    Told {
        throttled: script[n],
        log,
    }
}

static START: LazyLock<Instant> = LazyLock::new(Instant::now);

/// The observe step runs once per attempt, right after it and before the judge, with the
/// output's own feedback; the pacer learns from it (slow start doubles the rate on each
/// accepted, paced attempt, and a throttle returns it to the last rate accepted).
#[tokio::test(start_paused = true)]
async fn observe_once_per_attempt_before_the_judge() {
    LazyLock::force(&START);
    let log = Calls::default();
    // Four calls of one attempt, each accepted: 1/s, then 2, 4, 8/s.
    for _ in 0..4 {
        let script = Arc::new(vec![false]);
        let told = scripted(log.clone(), script, Arc::default()).await;
        assert!(!told.throttled);
    }
    assert_eq!(TOLD.learned_rate(None), Some(8.0));
    // A call throttled three times, then accepted.
    let tries = Arc::new(AtomicU32::new(0));
    scripted(
        log.clone(),
        Arc::new(vec![true, true, true, false]),
        tries.clone(),
    )
    .await;
    assert_eq!(tries.load(Ordering::Relaxed), 4);
    // Refused at 8/s: back to 4/s, the last rate accepted. Refused at 4/s, with nothing
    // accepted since 1750 ms: the limit is under one per 375 ms, so just under that
    // (2.59/s). Refused a third time in a row, 762 ms after the last accepted start: far
    // above the limit, so 0.6 of that bound (0.79/s). Accepted at last: back to just under
    // the last bound, 0.97 / 0.762 s.
    assert_eq!(TOLD.learned_rate(None), Some(1.0 / 0.762 * 0.97));
    let mut expected = Vec::new();
    for (at, said) in [
        (0, "accepted"),
        (1000, "accepted"),
        (1500, "accepted"),
        (1750, "accepted"),
        (1875, "throttled"),
        (2125, "throttled"),
        // 386.7 ms at 2.59/s (tokio's timer rounds up to the millisecond).
        (2512, "throttled"),
        // 1270 ms at 0.79/s.
        (3782, "accepted"),
    ] {
        expected.push(format!("attempt at {at} ms"));
        expected.push(format!("observe {said}"));
        expected.push("judge".to_owned());
    }
    assert_eq!(log.get(), expected);
}

/// A fixed pacer given `observe` learns no rate (and still paces); the first answer, a round
/// trip after the first departure, moves the second departure as far, and the second's (the
/// first on the open connection, with no usual answer time to be measured against) the third
/// (then each leaves 500 ms after the one before).
static FIXED: LazyLock<Pacer> = LazyLock::new(|| Pacer::per_second(2.0));

#[backoff(expo, max_tries = 1, pacer = FIXED, observe)]
async fn fixed(server: Arc<Server>, id: u32) -> Result<Sent, Refused> {
    server.request(id).await
}

#[tokio::test(start_paused = true)]
async fn a_fixed_pacer_learns_no_rate_from_observe() {
    let server = Server::new(&[(0, 2.0)]);
    let elapsed = fire(10, |id| fixed(server.clone(), id)).await;
    assert_eq!(elapsed, Duration::from_millis(4500) + 6 * ONE_WAY);
    assert_eq!(FIXED.learned_rate(None), None);
    server.assert_each_once(10);
}

/// The sync path (`ready_blocking`, the thread's clock): a `bool` fn told through a closure.
static SYNC: LazyLock<Pacer> =
    LazyLock::new(|| Pacer::adaptive_with(AdaptiveRate::new().initial(Some(10.0))));

#[backoff(constant, interval = 0, jitter = none, max_tries = 1, pacer = SYNC,
          observe = |ok: &bool| {
              LOG.push(format!("observe {ok}"));
              if *ok { Feedback::accepted() } else { Feedback::throttled() }
          })]
fn sync_call(ok: bool) -> bool {
    LOG.push("attempt");
    ok
}

static LOG: LazyLock<Calls> = LazyLock::new(Calls::default);

#[test]
fn sync_fn_observes_each_attempt() {
    let started = std::time::Instant::now();
    assert!(sync_call(true)); // the first attempt proves nothing
    assert_eq!(SYNC.learned_rate(None), Some(10.0));
    assert!(sync_call(true)); // 100 ms later: paced, so slow start doubles
    assert_eq!(SYNC.learned_rate(None), Some(20.0));
    assert!(!sync_call(false)); // 50 ms later, refused: back to 10/s
    assert_eq!(SYNC.learned_rate(None), Some(10.0));
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(
        LOG.get(),
        [
            "attempt",
            "observe true",
            "attempt",
            "observe true",
            "attempt",
            "observe false"
        ]
    );
}
