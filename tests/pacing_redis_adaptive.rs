//! Adaptive pacing shared through Redis, against a real `redis-server` on the real clock.
//!
//! Needs `REDIS_URL` (`REDIS_URL=redis://127.0.0.1:6379/ cargo test --features redis --test
//! pacing_redis_adaptive`, or `.ci/run`, which starts one). Without it the tests pass with one
//! "skipped" line, except under CI (`CI=true`), where they fail.
#![cfg(feature = "redis")]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use backoff_testkit::{RateSchedule, ceil_secs};
use politely::redis::{self, Commands};
use politely::{AdaptiveRate, Feedback, Pacer, RedisPacerBuilder};

const HOW: &str = "run `REDIS_URL=redis://127.0.0.1:6379/ cargo test --features redis --test \
                   pacing_redis_adaptive` (or .ci/run, which starts redis-server)";

fn redis_url() -> Option<String> {
    backoff_testkit::services::redis_url("pacing_redis_adaptive", HOW)
}

use backoff_testkit::services::fresh;

/// An adaptive pacer through Redis; a timeout of 2 s, not 200 ms: a loaded test machine is
/// not an outage (the outage test sets its own).
fn adaptive(url: &str, name: &str, rate: AdaptiveRate) -> Pacer {
    RedisPacerBuilder::adaptive(redis::Client::open(url).unwrap(), name, rate)
        .timeout(Duration::from_secs(2))
        .build()
}

fn policy(q: u32) -> Feedback {
    let fields = [("RateLimit-Policy", format!(r#""d";q={q};w=1"#))];
    Feedback::from_status(200, &fields, SystemTime::now())
}

/// The shared GCRA bucket (`backoff-testkit`) of burst 1 on the real clock, with no
/// tolerance: the server both workers send to. A refusal says `Retry-After` in whole seconds,
/// as servers do.
struct Bucket {
    bucket: backoff_testkit::Bucket,
    first: Option<Instant>,
    last: Option<Instant>,
    answered: u32,
    refused: u32,
}

impl Bucket {
    fn new(rate: f64) -> Self {
        Bucket {
            bucket: backoff_testkit::Bucket::new(rate, 1, &RateSchedule::none()),
            first: None,
            last: None,
            answered: 0,
            refused: 0,
        }
    }

    fn handle(&mut self) -> Feedback {
        let now = Instant::now();
        self.first.get_or_insert(now);
        let decision = self.bucket.take(now);
        self.answered += 1;
        if decision.admitted {
            self.last = Some(now);
            return Feedback::accepted();
        }
        self.refused += 1;
        let fields = [("Retry-After", ceil_secs(decision.next_token).to_string())];
        Feedback::from_status(429, &fields, SystemTime::now())
    }
}

#[derive(Debug)]
struct Outcome {
    elapsed: f64,
    answered: u32,
    refused: u32,
    rates: Vec<Option<f64>>,
    /// Messages accepted by the deadline.
    done: usize,
}

/// Each worker (pacer) fires `per_worker` messages at once against one bucket at `rate`;
/// each message waits for its slot, sends, tells its worker's pacer how it went, and on a
/// 429 sleeps the Retry-After and queues again.
async fn run(workers: &[Arc<Pacer>], per_worker: usize, rate: f64, deadline: Duration) -> Outcome {
    let until = tokio::time::Instant::now() + deadline;
    let bucket = Arc::new(Mutex::new(Bucket::new(rate)));
    let mut tasks = Vec::new();
    for pacer in workers {
        for _ in 0..per_worker {
            let (bucket, pacer) = (bucket.clone(), pacer.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    pacer.ready(None).await;
                    let sent = Pacer::now();
                    let feedback = bucket.lock().unwrap().handle();
                    pacer.observe(None, &feedback, sent);
                    if !feedback.throttled {
                        return;
                    }
                    let wait = feedback.hints.retry_after.unwrap_or(Duration::from_secs(1));
                    tokio::time::sleep(wait).await;
                }
            }));
        }
    }
    let mut done = 0;
    for t in tasks {
        let abort = t.abort_handle();
        match tokio::time::timeout_at(until, t).await {
            Ok(r) => {
                r.unwrap();
                done += 1;
            }
            Err(_) => abort.abort(),
        }
    }
    let b = bucket.lock().unwrap();
    Outcome {
        elapsed: (b.last.unwrap() - b.first.unwrap()).as_secs_f64(),
        answered: b.answered,
        refused: b.refused,
        rates: workers.iter().map(|p| p.learned_rate(None)).collect(),
        done,
    }
}

/// 5 requests/s, burst 1, unknown to the client; two workers of 20 messages each.
const RATE: f64 = 5.0;
const PER_WORKER: usize = 20;
/// The ideal: 40 messages, the first at once, then one per interval.
const IDEAL: f64 = (2 * PER_WORKER - 1) as f64 / RATE;

fn tunables() -> AdaptiveRate {
    AdaptiveRate::new().initial(Some(RATE))
}

/// Two workers (separate pacers and connections) sharing one adaptive budget learn one rate
/// and keep to the server's limit together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_learn_one_rate_and_keep_to_it_together() {
    let Some(url) = redis_url() else { return };
    let name = fresh("together");
    let workers = [
        Arc::new(adaptive(&url, &name, tunables())),
        Arc::new(adaptive(&url, &name, tunables())),
    ];
    let o = run(&workers, PER_WORKER, RATE, Duration::from_secs(60)).await;
    assert_eq!(o.done, 2 * PER_WORKER);
    // Both replay what is left of the stream (once the last observations, recorded by
    // spawned tasks, are in), then hold the very same rate.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for w in &workers {
        w.ready(None).await;
    }
    let rates: Vec<_> = workers.iter().map(|w| w.learned_rate(None)).collect();
    let ratio = o.elapsed / IDEAL;
    eprintln!(
        "shared through Redis: elapsed {:.2} s = {ratio:.3} x ideal {IDEAL} s; {} requests, \
         {} answered 429 ({:.1} %); learned {rates:?}",
        o.elapsed,
        o.answered,
        o.refused,
        100.0 * f64::from(o.refused) / f64::from(o.answered),
    );
    assert_eq!(rates[0], rates[1], "both workers learned one rate");
    let learned = rates[0].unwrap();
    assert!((3.0..=RATE * 1.2).contains(&learned), "learned {learned}");
    assert!(ratio <= 1.2, "{ratio:.3} x ideal");
    assert!(
        f64::from(o.refused) <= 0.1 * f64::from(o.answered),
        "{} of {} answered 429",
        o.refused,
        o.answered
    );
}

/// The same two workers each learning alone (local adaptive pacers): each finds what is
/// left of the limit by hitting it. A measurement, not a property of the crate, and slow
/// (up to 4 × ideal): `--ignored` runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for docs/benchmarks.md (slow)"]
async fn two_local_adaptive_workers_overshoot() {
    if redis_url().is_none() {
        return;
    }
    let workers = [
        Arc::new(Pacer::adaptive_with(tunables())),
        Arc::new(Pacer::adaptive_with(tunables())),
    ];
    // Learning alone, they cut far below the limit after their collisions: bounded here.
    let deadline = Duration::from_secs_f64(4.0 * IDEAL);
    let o = run(&workers, PER_WORKER, RATE, deadline).await;
    eprintln!(
        "learning alone: {} of {} messages sent within {deadline:?} (4 x ideal), the last at \
         {:.2} s; {} requests, {} answered 429 ({:.1} %); learned {:?}",
        o.done,
        2 * PER_WORKER,
        o.elapsed,
        o.answered,
        o.refused,
        100.0 * f64::from(o.refused) / f64::from(o.answered),
        o.rates,
    );
    assert!(
        o.done < 2 * PER_WORKER
            || f64::from(o.refused) > 0.1 * f64::from(o.answered)
            || o.elapsed > 1.2 * IDEAL,
        "{o:?}"
    );
}

/// What one worker learns reaches the other at its next slot (an advertised policy), and a
/// keyed budget learns apart from the others.
#[tokio::test]
async fn a_lesson_reaches_every_worker_and_keys_learn_apart() {
    let Some(url) = redis_url() else { return };
    let name = fresh("lesson");
    let a = adaptive(&url, &name, AdaptiveRate::new());
    let b = adaptive(&url, &name, AdaptiveRate::new());
    a.ready(None).await;
    a.observe(None, &policy(20), Pacer::now());
    a.ready(Some("k")).await;
    a.observe(Some("k"), &policy(7), Pacer::now());
    // The observation is recorded by a spawned task: give it its round trip.
    for _ in 0..100 {
        if a.learned_rate(Some("k")) == Some(7.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(a.learned_rate(None), Some(20.0));
    assert_eq!(b.learned_rate(None), Some(1.0), "not replayed yet");
    b.ready(None).await;
    assert_eq!(b.learned_rate(None), Some(20.0));
    assert_eq!(b.learned_rate(Some("k")), None, "a key not seen");
    b.ready(Some("k")).await;
    assert_eq!(b.learned_rate(Some("k")), Some(7.0));
    b.ready(Some("other")).await;
    assert_eq!(b.learned_rate(Some("other")), Some(1.0));
    // A worker that joins later replays the stream.
    let c = adaptive(&url, &name, AdaptiveRate::new());
    c.ready(None).await;
    assert_eq!(c.learned_rate(None), Some(20.0));
    assert!(c.is_adaptive());
    assert_eq!(c.interval(), Some(Duration::from_millis(50)));
}

/// Slots are shared: after one worker's start, the other's next start waits one learned
/// interval (here 1/s, the default first guess), not zero.
#[tokio::test]
async fn slots_are_shared_between_workers() {
    let Some(url) = redis_url() else { return };
    let name = fresh("slots");
    let a = adaptive(&url, &name, AdaptiveRate::new().initial(Some(5.0)));
    let b = adaptive(&url, &name, AdaptiveRate::new().initial(Some(5.0)));
    a.ready(None).await;
    let t0 = Instant::now();
    b.ready(None).await;
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_millis(900),
        "{waited:?}"
    );
}

/// A fixed-rate Redis pacer's `observe` is a no-op: nothing learned, nothing written.
#[tokio::test]
async fn fixed_rate_redis_pacer_does_not_learn() {
    let Some(url) = redis_url() else { return };
    let name = fresh("fixed");
    let pacer = Pacer::redis(&url, &name, 2.0, 1).unwrap();
    pacer.ready(None).await;
    pacer.observe(None, &policy(50), Pacer::now());
    pacer.observe(None, &Feedback::throttled(), Pacer::now());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!pacer.is_adaptive());
    assert_eq!(pacer.learned_rate(None), None);
    assert_eq!(pacer.interval(), Some(Duration::from_millis(500)));
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let exists: bool = con.exists(format!("backoff:{name}:obs")).unwrap();
    assert!(!exists);
}

/// With Redis out, the pacer learns and paces on its own, with one warning, and does not
/// hang: every call is bounded by the timeout.
#[tokio::test]
async fn without_redis_it_learns_locally() {
    if redis_url().is_none() {
        return;
    }
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let pacer = RedisPacerBuilder::adaptive(client, fresh("down"), AdaptiveRate::new())
        .timeout(Duration::from_millis(50))
        .build();
    let t0 = Instant::now();
    pacer.ready(None).await;
    pacer.observe(None, &policy(10), Pacer::now());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(pacer.learned_rate(None), Some(10.0));
    pacer.ready(None).await;
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
}

/// Without a tokio runtime: `ready_blocking` and `observe` reach Redis in blocking round
/// trips; slots and lessons are shared as in async code.
#[test]
fn blocking_workers_share_slots_and_lessons() {
    let Some(url) = redis_url() else { return };
    let name = fresh("blocking");
    let a = adaptive(&url, &name, AdaptiveRate::new().initial(Some(5.0)));
    let b = adaptive(&url, &name, AdaptiveRate::new().initial(Some(5.0)));
    a.ready_blocking(None);
    let t0 = Instant::now();
    b.ready_blocking(None);
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    a.observe(None, &policy(20), Pacer::now());
    assert_eq!(
        a.learned_rate(None),
        Some(20.0),
        "recorded and replayed at once"
    );
    let t0 = Instant::now();
    b.ready_blocking(None);
    assert_eq!(b.learned_rate(None), Some(20.0));
    let waited = t0.elapsed();
    assert!(
        waited < Duration::from_millis(190),
        "the new rate: {waited:?}"
    );
}

/// A blocking head sleeping towards a slow slot wakes when its worker learns a faster rate,
/// and asks Redis again: at 1 per 10 s, the second caller returns within half a second of
/// the lesson, not 10 s in. (Short: at most about half a second.)
#[test]
fn a_blocking_head_wakes_early_when_the_rate_changes() {
    let Some(url) = redis_url() else { return };
    let name = fresh("blocking-wake");
    let slow = Arc::new(adaptive(
        &url,
        &name,
        AdaptiveRate::new().initial(Some(0.1)),
    ));
    slow.ready_blocking(None);
    let waiter = {
        let slow = slow.clone();
        std::thread::spawn(move || slow.ready_blocking(None))
    };
    std::thread::sleep(Duration::from_millis(100));
    slow.observe(None, &policy(20), Pacer::now());
    let waited = waiter.join().unwrap();
    assert!(waited >= Duration::from_millis(90), "{waited:?}");
    assert!(waited < Duration::from_millis(600), "{waited:?}");
    assert_eq!(slow.learned_rate(None), Some(20.0));
}

/// A reservation consumed on one worker counts as a start for the others.
#[tokio::test]
async fn a_consumed_reservation_counts_for_every_worker() {
    let Some(url) = redis_url() else { return };
    let name = fresh("consume");
    let a = adaptive(&url, &name, AdaptiveRate::new().initial(Some(5.0)));
    let b = adaptive(&url, &name, AdaptiveRate::new().initial(Some(5.0)));
    let r = a.reserve(None);
    assert_eq!(r.wait(), Duration::ZERO);
    let t0 = Instant::now();
    r.consume();
    // The start is recorded by a spawned task: wait until it is in.
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    for _ in 0..400 {
        if con.exists(format!("backoff:{name}:last")).unwrap() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    b.ready(None).await;
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_millis(190), "{waited:?}");
    assert!(b.reserve(None).wait() > Duration::from_millis(150));
}

/// A `redis-server` of the test's own on a free loopback port, persistence off (`None` after
/// the skip line when there is none on `PATH` or `REDIS_SERVER`).
struct Server {
    child: Option<std::process::Child>,
    port: u16,
}

impl Server {
    fn start() -> Option<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let mut server = Server { child: None, port };
        server.restart().then_some(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn restart(&mut self) -> bool {
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = std::process::Command::new(&bin)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        match child {
            Ok(child) => self.child = Some(child),
            Err(e) => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("cannot start `{bin}`: {e}; {HOW}");
                }
                return false;
            }
        }
        let client = redis::Client::open(self.url()).unwrap();
        for _ in 0..200 {
            if let Ok(mut con) = client.get_connection_with_timeout(Duration::from_millis(100))
                && redis::cmd("PING").query::<String>(&mut con).is_ok()
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("redis-server on port {} did not answer", self.port);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Redis goes away: the pacer learns on its own meanwhile; Redis comes back: it records and
/// replays through it again, and another worker learns what it records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_learns_alone_during_an_outage_and_rejoins() {
    if redis_url().is_none() {
        return;
    }
    let Some(mut server) = Server::start() else {
        return;
    };
    let url = server.url();
    let name = fresh("rejoin");
    let build = || {
        RedisPacerBuilder::adaptive(
            redis::Client::open(url.as_str()).unwrap(),
            &name,
            AdaptiveRate::new(),
        )
        .timeout(Duration::from_millis(200))
        .build()
    };
    let a = build();
    a.ready(None).await;
    a.observe(None, &policy(20), Pacer::now());
    a.ready(None).await;
    assert_eq!(a.learned_rate(None), Some(20.0));
    server.stop();
    let t0 = Instant::now();
    a.ready(None).await; // finds Redis out: paces locally
    a.observe(None, &policy(8), Pacer::now());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.learned_rate(None), Some(8.0), "learned alone");
    a.ready(None).await;
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert!(server.restart());
    // The next probe (within 500 ms) reaches Redis again.
    tokio::time::sleep(Duration::from_millis(600)).await;
    a.ready(None).await;
    a.observe(None, &policy(12), Pacer::now());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(a.learned_rate(None), Some(12.0));
    let b = build();
    b.ready(None).await;
    assert_eq!(
        b.learned_rate(None),
        Some(12.0),
        "recorded in Redis after the outage"
    );
}

/// Keys holding what no adaptive pacer wrote (a string at the stream's key, a list at
/// `last`, a `last` a year ahead of Redis's clock) are replaced with a warning naming them:
/// the pacer neither falls back to pacing alone for good nor waits for ever (failing closed,
/// or for a `last` a year ahead).
#[tokio::test]
async fn foreign_or_corrupt_keys_are_replaced_with_a_warning() {
    let Some(url) = redis_url() else { return };
    let (logs, _guard) = common::capture();
    for case in ["string stream", "list last", "last a year ahead"] {
        for fail_closed in [false, true] {
            let name = fresh("foreign");
            let (stream, last) = (
                format!("backoff:{name}:obs"),
                format!("backoff:{name}:last"),
            );
            let mut con = redis::Client::open(url.as_str())
                .unwrap()
                .get_connection()
                .unwrap();
            let _: () = match case {
                "string stream" => con.set_ex(&stream, "not a stream", 10).unwrap(),
                "list last" => con.rpush(&last, &["a", "b"]).unwrap(),
                _ => {
                    let (secs, _): (i64, i64) = redis::cmd("TIME").query(&mut con).unwrap();
                    let year = (secs + 365 * 86_400) * 1_000_000;
                    con.set_ex(&last, year, 10).unwrap()
                }
            };
            let client = redis::Client::open(url.as_str()).unwrap();
            let b =
                RedisPacerBuilder::adaptive(client, &name, AdaptiveRate::new().initial(Some(20.0)))
                    .timeout(Duration::from_secs(2));
            let pacer = if fail_closed { b.fail_closed() } else { b }.build();
            let t0 = Instant::now();
            let two = async {
                pacer.ready(None).await;
                pacer.observe(None, &policy(20), Pacer::now());
                pacer.ready(None).await;
            };
            let done = tokio::time::timeout(Duration::from_secs(3), two).await;
            let case = format!("{case}, fail_closed {fail_closed}");
            assert!(done.is_ok(), "{case}: still waiting after 3 s");
            assert!(
                t0.elapsed() < Duration::from_secs(1),
                "{case}: {:?}",
                t0.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(50)).await; // the observation
            let kinds: (String, String) = (
                redis::cmd("TYPE").arg(&stream).query(&mut con).unwrap(),
                redis::cmd("TYPE").arg(&last).query(&mut con).unwrap(),
            );
            assert_eq!(kinds, ("stream".into(), "string".into()), "{case}");
            let warned = logs
                .lines()
                .iter()
                .filter(|l| l.contains("WARN") && (l.contains(&stream) || l.contains(&last)))
                .count();
            assert_eq!(warned, 1, "{case}: {:?}", logs.lines());
        }
    }
}
