//! Pacing shared through Redis, against a real `redis-server` on the real clock.
//!
//! Tests that only need a server use `REDIS_URL`; tests that stop and restart one start their
//! own `redis-server` (from `PATH`, or `REDIS_SERVER`) on a free loopback port. Without them
//! the tests pass with one "skipped" line, except under CI (`CI=true`), where they fail.
#![cfg(feature = "redis")]

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use backoff::redis::{self, Commands};
use backoff::{Pacer, RedisPacerBuilder, backoff};
use tokio::time::Instant;

const HOW: &str = "run `REDIS_URL=redis://127.0.0.1:6379/ cargo test --features redis --test pacing_redis` \
                   with redis-server on PATH (or .ci/run, which starts one)";

/// Passes (with one line on stderr) outside CI; fails under CI, where Redis must be there.
fn skip(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}: under CI the Redis tests must run; {HOW}");
    }
    static ONCE: Once = Once::new();
    // Straight to stderr, past the test harness's capture: the line shows in a plain run.
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "pacing_redis: tests skipped ({why}); {HOW}"
        );
    });
}

/// `REDIS_URL`, or `None` after `skip`.
fn redis_url() -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip("REDIS_URL is not set");
            None
        }
    }
}

/// A budget name no other test (or earlier run) uses.
fn fresh(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("test-{name}-{}-{nanos}", std::process::id())
}

/// A `redis-server` of the test's own, on 127.0.0.1 and a free port, persistence off.
struct Server {
    child: Option<Child>,
    port: u16,
}

impl Server {
    /// Starts one, or `None` after `skip` when there is no `redis-server`.
    fn start() -> Option<Server> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let mut server = Server { child: None, port };
        if server.restart() { Some(server) } else { None }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server (again) on its port and waits until it answers.
    fn restart(&mut self) -> bool {
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&bin)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(child) => self.child = Some(child),
            Err(e) => {
                skip(&format!("cannot start `{bin}`: {e}"));
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
        panic!(
            "redis-server on port {} did not answer within 5 s",
            self.port
        );
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

fn connection(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

/// Two pacers on separate connections (two workers) share one budget of 20/s: ten
/// reservations from both together start 50 ms apart, not 25.
#[tokio::test]
async fn two_pacers_share_one_budget() {
    let Some(url) = redis_url() else { return };
    let name = fresh("shared");
    let a = Arc::new(Pacer::redis(&url, &name, 20.0, 1).unwrap());
    let b = Arc::new(Pacer::redis(&url, &name, 20.0, 1).unwrap());
    let starts = Arc::new(Mutex::new(Vec::new()));
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let (p, starts) = (
                if i % 2 == 0 { a.clone() } else { b.clone() },
                starts.clone(),
            );
            tokio::spawn(async move {
                p.ready(None).await;
                starts.lock().unwrap().push(t0.elapsed());
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut starts = starts.lock().unwrap().clone();
    starts.sort();
    // A wake-up late by a few ms shortens the next gap by as much; two pacers that did not
    // share would start in pairs, 25 ms apart on average and 0 within a pair.
    for pair in starts.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(30), "{starts:?}");
    }
    let span = starts[9] - starts[0];
    assert!(span >= Duration::from_millis(420), "{starts:?}");
    assert!(span <= Duration::from_millis(600), "{starts:?}");
}

/// `rate_key` budgets are separate keys under the pacer's: `a` waits for `a`, `b` does not;
/// each key expires a few intervals past its theoretical arrival time.
#[tokio::test]
async fn keyed_budgets_are_separate_keys_that_expire() {
    let Some(url) = redis_url() else { return };
    let name = fresh("keyed");
    let client = redis::Client::open(url.as_str()).unwrap();
    let pacer = RedisPacerBuilder::new(client, &name, 5.0, Duration::from_secs(1))
        .prefix("bk-test:")
        .build();
    let t0 = Instant::now();
    pacer.ready(Some("a")).await;
    pacer.ready(Some("b")).await;
    assert!(t0.elapsed() < Duration::from_millis(100));
    pacer.ready(Some("a")).await;
    assert!(t0.elapsed() >= Duration::from_millis(195));

    let mut con = connection(&url);
    let ttl_a: i64 = con.pttl(format!("bk-test:{name}:a")).unwrap();
    let ttl_b: i64 = con.pttl(format!("bk-test:{name}:b")).unwrap();
    // tat is 200 ms ahead for `a` (two slots), at most one interval for `b`; plus 3 intervals.
    assert!((500..=1000).contains(&ttl_a), "{ttl_a}");
    assert!((300..=800).contains(&ttl_b), "{ttl_b}");
    let unkeyed: bool = con.exists(format!("bk-test:{name}")).unwrap();
    assert!(!unkeyed);
}

/// A reservation dropped before its slot is given back: the latest one undoes the budget's
/// arrival time, an earlier one leaves a hole that the next caller takes.
#[tokio::test]
async fn dropped_reservations_are_given_back() {
    let Some(url) = redis_url() else { return };
    let name = fresh("cancel");
    let pacer = Pacer::redis(&url, &name, 5.0, 1).unwrap(); // 200 ms apart
    let t0 = Instant::now();
    pacer.ready(None).await; // slot 0
    // Slot 200, given up at 50: the latest reservation, so the budget is as before it.
    let cut = tokio::time::timeout(Duration::from_millis(50), pacer.ready(None)).await;
    assert!(cut.is_err());
    tokio::time::sleep(Duration::from_millis(20)).await; // the release's round trip
    pacer.ready(None).await; // slot 200 again, not 400
    let at = t0.elapsed();
    assert!((195..300).contains(&at.as_millis()), "{at:?}");

    // Now two waiters for 400 and 600; the one for 400 goes away: its slot is a hole.
    let p = &pacer;
    let early = tokio::time::timeout(Duration::from_millis(50), p.ready(None));
    let (early, ()) = tokio::join!(early, async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let late = tokio::spawn({
            let url = url.clone();
            let name = name.clone();
            async move {
                let other = Pacer::redis(&url, &name, 5.0, 1).unwrap();
                other.ready(None).await;
                Instant::now()
            }
        });
        // The next caller, after the hole is made, takes the hole at 400.
        tokio::time::sleep(Duration::from_millis(80)).await;
        pacer.ready(None).await;
        let hole = t0.elapsed();
        assert!((395..500).contains(&hole.as_millis()), "{hole:?}");
        let late = late.await.unwrap() - t0;
        assert!((595..700).contains(&late.as_millis()), "{late:?}");
    });
    assert!(early.is_err());
}

/// `Pacer::reserve` on a Redis pacer reserves in Redis (it used to reserve in a local
/// schedule that nothing else saw): another pacer on the same budget queues behind the
/// reservation, and a reservation dropped unused is given back in Redis. Blocking (no
/// runtime: the give-back is a blocking round trip).
#[test]
fn reservations_hold_redis_slots() {
    let Some(url) = redis_url() else { return };
    let name = fresh("reserve");
    let a = Pacer::redis(&url, &name, 1.0, 1).unwrap(); // 1 s apart
    let b = Pacer::redis(&url, &name, 1.0, 1).unwrap();
    // Slots on this process's clock, compared with each other (each is late by its own
    // round trip at most: a loaded machine moves them all alike).
    let slot = |r: &backoff::Reservation<'_>| std::time::Instant::now() + r.wait();
    let ms = |later: std::time::Instant, earlier: std::time::Instant| {
        later.duration_since(earlier).as_millis() as i64
            - earlier.duration_since(later).as_millis() as i64
    };
    a.reserve(None).consume(); // slot 0
    let first = a.reserve(None); // slot 1 s
    let at_first = slot(&first);
    let second = b.reserve(None); // slot 2 s, seen through Redis
    assert!(
        (800..=1200).contains(&ms(slot(&second), at_first)),
        "{second:?}"
    );
    drop(second); // the latest: the budget is as before it
    drop(first); // and again
    let again = b.reserve(None); // slot 1 s again
    assert!(
        (-200..=200).contains(&ms(slot(&again), at_first)),
        "{again:?}"
    );
    again.consume();
    let next = a.reserve(None);
    assert!(
        (800..=1200).contains(&ms(slot(&next), at_first)),
        "{next:?}"
    );
}

/// The same in async code: the give-back is spawned on the runtime.
#[tokio::test]
async fn reservations_hold_redis_slots_async() {
    let Some(url) = redis_url() else { return };
    let name = fresh("reserve-async");
    let a = Pacer::redis(&url, &name, 2.0, 1).unwrap(); // 500 ms apart
    let b = Pacer::redis(&url, &name, 2.0, 1).unwrap();
    a.ready(None).await; // slot 0 (and the async connection)
    let t0 = Instant::now();
    let held = a.reserve(None); // slot 500
    assert!(held.wait() > Duration::from_millis(250), "{held:?}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(50)).await; // the release's round trip
    b.ready(None).await; // slot 500 again, not 1000
    let at = t0.elapsed();
    assert!(at < Duration::from_millis(800), "{at:?}");
    // A reservation used with `ready` waits for its Redis slot (1000).
    let waited = a.reserve(None).ready().await;
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
}

/// The blocking form paces through Redis too.
#[test]
fn blocking_callers_share_the_budget() {
    let Some(url) = redis_url() else { return };
    let name = fresh("blocking");
    let pacer = Arc::new(Pacer::redis_with_burst(&url, &name, 20.0, 1, 2).unwrap());
    let t0 = std::time::Instant::now();
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let p = pacer.clone();
            std::thread::spawn(move || {
                p.ready_blocking(None);
                t0.elapsed()
            })
        })
        .collect();
    let mut starts: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    starts.sort();
    // Burst 2: two at once, then 50 ms apart: the last at 200 ms.
    // (Counted from the first start: connecting can take a while on a loaded machine.)
    assert!(
        starts[1] - starts[0] < Duration::from_millis(30),
        "{starts:?}"
    );
    assert!(
        starts[5] - starts[0] >= Duration::from_millis(170),
        "{starts:?}"
    );
    assert!(
        starts[5] - starts[0] < Duration::from_millis(300),
        "{starts:?}"
    );
}

/// The attribute takes a Redis pacer like any other.
#[backoff(expo, max_tries = 2, pacer = pacer, rate_key = user)]
async fn send(pacer: &Pacer, user: &str) -> Result<(), ()> {
    let _ = user;
    Ok(())
}

#[tokio::test]
async fn the_attribute_paces_through_redis() {
    let Some(url) = redis_url() else { return };
    let name = fresh("attr");
    let pacer = Pacer::redis(&url, &name, 10.0, 1).unwrap();
    let t0 = Instant::now();
    for _ in 0..3 {
        send(&pacer, "ann").await.unwrap();
    }
    assert!(t0.elapsed() >= Duration::from_millis(195));
    let exists: bool = connection(&url)
        .exists(format!("backoff:{name}:ann"))
        .unwrap();
    assert!(exists);
}

/// The builder paces through Redis too: its attempt waits for a slot that another pacer on
/// the same budget took (a local pacer would start at once), async and blocking, keyed or not.
#[tokio::test]
async fn the_builder_paces_through_redis() {
    let Some(url) = redis_url() else { return };
    for key in [None, Some("ann")] {
        let name = fresh("builder");
        let ours = Pacer::redis(&url, &name, 2.0, 1).unwrap();
        let other = Pacer::redis(&url, &name, 2.0, 1).unwrap();
        other.ready(key).await; // the slot now; the next is 500 ms later
        let t0 = Instant::now();
        let started = Mutex::new(None);
        let retry = backoff::constant(0)
            .max_tries(1)
            .retry(|| {
                started.lock().unwrap().get_or_insert(t0.elapsed());
                async { Ok::<_, ()>(()) }
            })
            .pacer(&ours);
        match key {
            Some(key) => retry.rate_key(key).await,
            None => retry.await,
        }
        .unwrap();
        let started = started.lock().unwrap().unwrap();
        // Up to half a round trip early (the slot is on Redis's clock), never at once.
        assert!(
            started >= Duration::from_millis(450),
            "{key:?}: {started:?}"
        );
        assert!(
            started <= Duration::from_millis(1000),
            "{key:?}: {started:?}"
        );
        let redis_key = match key {
            Some(key) => format!("backoff:{name}:{key}"),
            None => format!("backoff:{name}"),
        };
        let exists: bool = connection(&url).exists(redis_key).unwrap();
        assert!(exists, "{key:?}");
    }
}

#[test]
fn the_blocking_builder_paces_through_redis() {
    let Some(url) = redis_url() else { return };
    let name = fresh("builder-blocking");
    let ours = Pacer::redis(&url, &name, 2.0, 1).unwrap();
    let other = Pacer::redis(&url, &name, 2.0, 1).unwrap();
    other.ready_blocking(None);
    let t0 = std::time::Instant::now();
    let mut started = None;
    backoff::constant(0)
        .max_tries(1)
        .retry_blocking(|| {
            started.get_or_insert(t0.elapsed());
            Ok::<_, ()>(())
        })
        .pacer(&ours)
        .sleep(|_| panic!("a Redis pacer times its own wait"))
        .call()
        .unwrap();
    let started = started.unwrap();
    assert!(started >= Duration::from_millis(450), "{started:?}");
    assert!(started <= Duration::from_millis(1000), "{started:?}");
}

/// A key that holds something else makes the script fail: the pacer paces locally.
#[tokio::test]
async fn a_foreign_key_falls_back_to_local_pacing() {
    let Some(url) = redis_url() else { return };
    let name = fresh("foreign");
    let _: () = connection(&url)
        .set_ex(format!("backoff:{name}"), "not a budget", 10)
        .unwrap();
    let pacer = Pacer::redis(&url, &name, 20.0, 1).unwrap();
    let (logs, _guard) = common::capture();
    let t0 = Instant::now();
    for _ in 0..3 {
        pacer.ready(None).await;
    }
    let at = t0.elapsed();
    assert!((95..200).contains(&at.as_millis()), "{at:?}");
    let warnings: Vec<_> = logs
        .lines()
        .into_iter()
        .filter(|l| l.contains("WARN"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("pacing locally"), "{warnings:?}");
}

/// Nothing listens: every call falls back within the timeout, one warning in all.
#[tokio::test]
async fn no_server_paces_locally_with_one_warning() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port(); // closed again: nothing listens there
    let url = format!("redis://127.0.0.1:{port}/");
    let pacer = Pacer::redis(url.as_str(), "nobody", 20.0, 1).unwrap();
    let (logs, _guard) = common::capture();
    let t0 = Instant::now();
    for _ in 0..5 {
        pacer.ready(None).await;
    }
    let at = t0.elapsed();
    assert!((195..600).contains(&at.as_millis()), "{at:?}");
    let warnings = logs.lines().iter().filter(|l| l.contains("WARN")).count();
    assert_eq!(warnings, 1, "{:?}", logs.lines());
    // The blocking form too, without a runtime in the way.
    let t0 = std::time::Instant::now();
    for _ in 0..2 {
        pacer.ready_blocking(None);
    }
    assert!(t0.elapsed() < Duration::from_millis(500));
}

#[test]
fn a_url_that_does_not_parse_is_an_error() {
    assert!(Pacer::redis("not a url", "x", 1.0, 1).is_err());
    assert!(Pacer::redis_with_burst(String::from("not a url"), "x", 1.0, 1, 2).is_err());
    assert!(Pacer::redis_adaptive("redis://", "x").is_err());
    // A rate that paces nothing needs no Redis at all.
    let p = Pacer::redis("redis://127.0.0.1:1/", "x", 0.0, 1).unwrap();
    assert_eq!(p.interval(), None);
}

/// Every rate reads `count, per`, as `Pacer::new`: the fourth argument of `Pacer::redis` is
/// the period, as it is of `RedisPacerBuilder::new` (it was the burst). No Redis needed: a
/// pacer does not connect before its first attempt.
#[test]
fn the_fourth_argument_is_the_period_everywhere() {
    let every_2s = Some(Duration::from_secs(2));
    assert_eq!(Pacer::new(1.0, 2).interval(), every_2s);
    let url = "redis://127.0.0.1:1/";
    assert_eq!(Pacer::redis(url, "x", 1.0, 2).unwrap().interval(), every_2s);
    let client = redis::Client::open(url).unwrap();
    let built = RedisPacerBuilder::new(client, "x", 1.0, 2).build();
    assert_eq!(built.interval(), every_2s);
}

/// A burst is set only by what names it, and leaves the rate alone; the URL and the name are
/// any string (a `&String` was rejected).
#[test]
fn burst_is_named_and_urls_are_any_string() {
    let url: String = "redis://127.0.0.1:1/".to_owned();
    let name: String = "x".to_owned();
    let every_2s = Some(Duration::from_secs(2));
    let burst = Pacer::redis_with_burst(&url, &name, 1.0, 2, 3).unwrap();
    assert_eq!(burst.interval(), every_2s);
    assert_eq!(
        Pacer::redis(&url, &name, 1.0, 2).unwrap().interval(),
        every_2s
    );
    assert_eq!(
        Pacer::redis(url.clone(), name.clone(), 1.0, 2)
            .unwrap()
            .interval(),
        every_2s
    );
    let shared: Arc<str> = url.as_str().into();
    assert_eq!(
        Pacer::redis(shared, "x", 1.0, 2).unwrap().interval(),
        every_2s
    );
    assert!(Pacer::redis_adaptive(&url, &name).unwrap().is_adaptive());
    let client = redis::Client::open(url.as_str()).unwrap();
    let built = RedisPacerBuilder::new(client, &name, 1.0, 2)
        .burst(3)
        .build();
    assert_eq!(built.interval(), every_2s);
}

/// Redis stops mid-run and comes back: calls keep going at the rate (locally, one warning),
/// then pace through the restarted server again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarting_mid_run() {
    let Some(mut server) = Server::start() else {
        return;
    };
    let pacer = Pacer::redis(server.url(), "restart", 20.0, 1).unwrap();
    let (logs, _guard) = common::capture();
    let mut starts = Vec::new();
    let t0 = Instant::now();
    // 5 calls through Redis, 10 while it is down, 30 after it is back.
    for phase in [5, 10, 30] {
        match phase {
            10 => server.stop(),
            30 => assert!(server.restart()),
            _ => {}
        }
        for _ in 0..phase {
            pacer.ready(None).await;
            starts.push(t0.elapsed());
        }
    }
    assert_eq!(starts.len(), 45);
    // Never a burst, not even where the pacing moves to local and back (slots stay on their
    // grid, so a late start, such as the first after the restart, shortens the next gap by
    // as much: a fresh schedule would start two within a few ms), never stuck: 45 calls at
    // 20/s plus the outage's timeouts.
    let close = starts
        .windows(2)
        .filter(|w| w[1] - w[0] < Duration::from_millis(20))
        .count();
    assert_eq!(close, 0, "{starts:?}");
    let total = starts[44];
    assert!(total < Duration::from_millis(44 * 50 + 1500), "{total:?}");
    let lines = logs.lines();
    let warnings: Vec<_> = lines.iter().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{lines:?}");
    // Back on Redis: the restarted server has the budget again. (Its INFO line is not
    // asserted: another test's thread, without a subscriber, may hit that callsite first,
    // and tracing then caches it as uninteresting for every thread.)
    let exists: bool = connection(&server.url()).exists("backoff:restart").unwrap();
    assert!(exists);
}

/// Failing closed: while Redis is down nobody starts; the call goes on once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_closed_waits_for_redis() {
    let Some(mut server) = Server::start() else {
        return;
    };
    let client = redis::Client::open(server.url()).unwrap();
    let pacer = Arc::new(
        RedisPacerBuilder::new(client, "closed", 20.0, Duration::from_secs(1))
            .fail_closed()
            .build(),
    );
    pacer.ready(None).await;
    server.stop();
    let t0 = Instant::now();
    let waiting = tokio::spawn({
        let pacer = pacer.clone();
        async move {
            pacer.ready(None).await;
            t0.elapsed()
        }
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!waiting.is_finished());
    assert!(server.restart());
    let at = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the call goes on once Redis is back")
        .unwrap();
    assert!(at >= Duration::from_millis(800), "{at:?}");
}

/// A Redis pacer's wait is `Send`, so paced fns can be spawned.
#[test]
fn the_wait_is_send() {
    fn is_send<T: Send>(_: &T) {}
    let pacer = Pacer::redis("redis://127.0.0.1:1/", "x", 1.0, 1).unwrap();
    is_send(&pacer.ready(None));
    is_send(&send(&pacer, "ann"));
}
