//! Pacing shared through Redis, against a real `redis-server` on the real clock.
//!
//! Tests that only need a server use `REDIS_URL`; tests that stop and restart one start their
//! own `redis-server` (from `PATH`, or `REDIS_SERVER`) on a free loopback port. Without them
//! the tests pass with one "skipped" line, except under CI (`CI=true`), where they fail.
#![cfg(feature = "redis")]

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use politely::redis::{self, Commands};
use politely::{Pacer, RedisPacerBuilder, backoff};
use tokio::time::Instant;

const HOW: &str = "run `REDIS_URL=redis://127.0.0.1:6379/ cargo test --features redis --test pacing_redis` \
                   with redis-server on PATH (or .ci/run, which starts one)";

/// Passes (with one line on stderr) outside CI; fails under CI, where Redis must be there.
fn skip(why: &str) {
    backoff_testkit::services::skip("pacing_redis", why, HOW);
}

/// `REDIS_URL`, or `None` after `skip`.
fn redis_url() -> Option<String> {
    backoff_testkit::services::redis_url("pacing_redis", HOW)
}

use backoff_testkit::services::fresh;

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

    /// Sends the server a signal (`STOP`: it freezes, its connections stay open and
    /// unanswered; `CONT`: it goes on, and answers what it was sent meanwhile).
    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("a running server").id();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
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
///
/// Each step waits until Redis shows the one before it (not a guessed sleep: on a loaded CI
/// machine a give-back took more than 20 ms, and a reservation made 10 ms after another could
/// land first), and slots are 1 s apart, so that those waits fit well inside a slot.
#[tokio::test]
async fn dropped_reservations_are_given_back() {
    let Some(url) = redis_url() else { return };
    let name = fresh("cancel");
    let key = format!("backoff:{name}");
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    // The budget's arrival time, and waiting (up to 700 ms) until Redis shows what is expected.
    let tat = |con: &mut redis::Connection| -> Option<f64> { con.zscore(&key, "tat").unwrap() };
    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        let give_up = Instant::now() + Duration::from_millis(700);
        while !done() {
            assert!(Instant::now() < give_up, "Redis never showed {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let pacer = Arc::new(Pacer::redis(&url, &name, 1.0, 1).unwrap()); // 1 s apart
    let t0 = Instant::now();
    pacer.ready(None).await; // slot 0
    let after_0 = tat(&mut con).expect("slot 0 leaves an arrival time");

    // Slot 1000, given up at 50: the latest reservation, so the budget is as before it.
    let cut = tokio::time::timeout(Duration::from_millis(50), pacer.ready(None)).await;
    assert!(cut.is_err());
    until("the slot given back", || tat(&mut con) == Some(after_0)).await;
    pacer.ready(None).await; // slot 1000 again, not 2000
    let at = t0.elapsed();
    assert!((995..1500).contains(&at.as_millis()), "{at:?}");
    let after_1 = tat(&mut con).unwrap();

    // Now two waiters for 2000 and 3000; the one for 2000 goes away: its slot is a hole.
    let early = tokio::spawn({
        let pacer = Arc::clone(&pacer);
        async move { pacer.ready(None).await }
    });
    until("the slot at 2000 taken", || tat(&mut con) != Some(after_1)).await;
    let after_2 = tat(&mut con).unwrap();
    let late = tokio::spawn({
        let url = url.clone();
        let name = name.clone();
        async move {
            let other = Pacer::redis(&url, &name, 1.0, 1).unwrap();
            other.ready(None).await;
            Instant::now()
        }
    });
    until("the slot at 3000 taken", || tat(&mut con) != Some(after_2)).await;
    early.abort();
    assert!(early.await.unwrap_err().is_cancelled());
    until("a hole", || {
        let members: Vec<String> = con.zrange(&key, 0, -1).unwrap();
        members.iter().any(|m| m.starts_with('h'))
    })
    .await;
    // The next caller takes the hole at 2000; the late one keeps its 3000.
    pacer.ready(None).await;
    let hole = t0.elapsed();
    assert!((1995..2500).contains(&hole.as_millis()), "{hole:?}");
    let late = late.await.unwrap() - t0;
    assert!((2995..3500).contains(&late.as_millis()), "{late:?}");
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
    let slot = |r: &politely::Reservation<'_>| std::time::Instant::now() + r.wait();
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
        let retry = politely::constant(0)
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
    politely::constant(0)
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

/// Two pacers (two processes) on `name`, failing closed or not.
fn two_pacers(url: &str, name: &str, fail_closed: bool) -> [Pacer; 2] {
    [(); 2].map(|()| {
        let client = redis::Client::open(url).unwrap();
        let b = RedisPacerBuilder::new(client, name, 20.0, 1);
        if fail_closed { b.fail_closed() } else { b }.build()
    })
}

/// Four calls taking turns on two pacers of one budget of 20/s: the time they took (three
/// intervals, 150 ms, when they share it), or `None` if one is still waiting after 2 s.
async fn four_shared_calls(pacers: &[Pacer; 2]) -> Option<Duration> {
    let t0 = Instant::now();
    for i in 0..4 {
        let call = pacers[i % 2].ready(None);
        tokio::time::timeout(Duration::from_secs(2), call)
            .await
            .ok()?;
    }
    Some(t0.elapsed())
}

/// The WARN lines that name `key`.
fn warnings_about(lines: &[String], key: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.contains("WARN") && l.contains(key))
        .cloned()
        .collect()
}

/// A key holding something no pacer wrote (a string, a list) is not a budget: it is replaced
/// by one, with a warning that names it, so every process shares the budget again at once
/// (pacing locally for good gave K processes K times the rate) and failing closed does not
/// wait for ever.
#[tokio::test]
async fn a_foreign_value_at_the_key_is_replaced_with_a_warning() {
    let Some(url) = redis_url() else { return };
    let (logs, _guard) = common::capture();
    for kind in ["string", "list"] {
        for fail_closed in [false, true] {
            let name = fresh(&format!("foreign-{kind}-{fail_closed}"));
            let key = format!("backoff:{name}");
            let mut con = connection(&url);
            let _: () = match kind {
                "string" => con.set_ex(&key, "not a budget", 10).unwrap(),
                _ => con.rpush(&key, &["a", "b", "c"]).unwrap(),
            };
            let pacers = two_pacers(&url, &name, fail_closed);
            let took = four_shared_calls(&pacers).await;
            let case = format!("{kind}, fail_closed {fail_closed}");
            let took = took.unwrap_or_else(|| panic!("{case}: still waiting after 2 s"));
            assert!((130..400).contains(&took.as_millis()), "{case}: {took:?}");
            let kind_now: String = redis::cmd("TYPE").arg(&key).query(&mut con).unwrap();
            assert_eq!(kind_now, "zset", "{case}");
            let warned = warnings_about(&logs.lines(), &key);
            assert!((1..=2).contains(&warned.len()), "{case}: {warned:?}");
        }
    }
}

/// A budget whose next slot is a year ahead (or that holds members no pacer wrote) is reset
/// with a warning naming it, not waited for: no pacer reserves more than an hour ahead.
#[tokio::test]
async fn a_budget_a_year_ahead_is_reset_with_a_warning() {
    let Some(url) = redis_url() else { return };
    let (logs, _guard) = common::capture();
    for fail_closed in [false, true] {
        let name = fresh(&format!("year-{fail_closed}"));
        let key = format!("backoff:{name}");
        let mut con = connection(&url);
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query(&mut con).unwrap();
        let now = secs * 1_000_000 + micros;
        let year = 365 * 86_400 * 1_000_000_i64;
        let _: () = con.zadd(&key, "tat", now + year).unwrap();
        let _: () = con.zadd(&key, "junk", now + 20_000).unwrap();
        let _: () = con.expire(&key, 10).unwrap();
        let pacers = two_pacers(&url, &name, fail_closed);
        let took = four_shared_calls(&pacers).await;
        let took = took.unwrap_or_else(|| panic!("fail_closed {fail_closed}: still waiting"));
        assert!((130..400).contains(&took.as_millis()), "{took:?}");
        let warned = warnings_about(&logs.lines(), &key);
        assert!((1..=2).contains(&warned.len()), "{warned:?}");
    }
}

/// Two processes naming one budget with different rates: each warns (naming the budget and
/// both rates), and neither waits behind the other's slower slots: the 10/s one that finds
/// a slot of the 1/day one counts it as one of its own.
#[tokio::test]
async fn two_rates_on_one_budget_warn_and_neither_starves() {
    let Some(url) = redis_url() else { return };
    let (logs, _guard) = common::capture();
    for (count, per) in [(1.0, 86_400), (1.0, 1)] {
        let name = fresh("rates");
        let key = format!("backoff:{name}");
        let slow = Pacer::redis(&url, &name, count, per).unwrap();
        let fast = Pacer::redis(&url, &name, 10.0, 1).unwrap();
        slow.ready(None).await;
        let t0 = Instant::now();
        for _ in 0..5 {
            let call = tokio::time::timeout(Duration::from_secs(3), fast.ready(None)).await;
            assert!(
                call.is_ok(),
                "{count}/{per}s: the 10/s pacer waits behind the other"
            );
        }
        let took = t0.elapsed();
        assert!(
            took < Duration::from_millis(900),
            "{count}/{per}s: {took:?}"
        );
        let t0 = Instant::now();
        let call = tokio::time::timeout(Duration::from_secs(3), slow.ready(None)).await;
        assert!(
            call.is_ok(),
            "{count}/{per}s: the slow pacer waits behind the other"
        );
        assert!(
            t0.elapsed() < Duration::from_millis(900),
            "{:?}",
            t0.elapsed()
        );
        let warned = warnings_about(&logs.lines(), &key);
        assert!(
            (1..=2).contains(&warned.len()) && warned.iter().all(|w| w.contains("rate")),
            "{warned:?}"
        );
    }
}

/// A budget lost mid-run (an eviction, a `FLUSHALL`) is re-seeded from where this process
/// last saw it: calls queued behind the backlog do not start alongside it (twice the rate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_budget_does_not_double_the_rate() {
    let Some(url) = redis_url() else { return };
    let name = fresh("lost");
    let pacer = Arc::new(Pacer::redis(&url, &name, 10.0, 1).unwrap());
    pacer.ready(None).await; // connected
    let starts = Arc::new(Mutex::new(Vec::new()));
    let spawn = |n: usize| -> Vec<_> {
        (0..n)
            .map(|_| {
                let (p, starts) = (pacer.clone(), starts.clone());
                tokio::spawn(async move {
                    p.ready(None).await;
                    starts.lock().unwrap().push(Instant::now());
                })
            })
            .collect()
    };
    let mut calls = spawn(15); // a backlog of 1.5 s
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _: () = connection(&url).del(format!("backoff:{name}")).unwrap();
    calls.extend(spawn(10));
    for c in calls {
        c.await.unwrap();
    }
    let mut starts = starts.lock().unwrap().clone();
    starts.sort();
    // 10/s: at most 11 starts in any second (a start at each end).
    let most = (0..starts.len())
        .map(|i| {
            starts[i..]
                .iter()
                .take_while(|&&s| s - starts[i] < Duration::from_millis(990))
                .count()
        })
        .max()
        .unwrap();
    assert!(most <= 11, "{most} starts within a second");
}

/// A runtime of two worker threads whose events `logs` captures too.
fn runtime(logs: &common::Captured) -> tokio::runtime::Runtime {
    let logs = logs.clone();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || common::capture_here(&logs))
        .build()
        .unwrap()
}

/// A reservation whose reply comes after the pacer's timeout (the call went on, paced
/// locally) is given back when the reply arrives: the budget is not held by a slot that
/// nobody uses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_after_the_timeout_is_given_back() {
    let Some(server) = Server::start() else {
        return;
    };
    let client = redis::Client::open(server.url()).unwrap();
    // One slot per 10 s: a slot not given back holds the budget 10 s.
    let pacer = RedisPacerBuilder::new(client, "late", 1.0, 10)
        .timeout(Duration::from_millis(100))
        .build();
    pacer.ready(Some("warm")).await; // connected, script loaded
    let mut con = connection(&server.url());
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(400)
        .arg("ALL")
        .query(&mut con)
        .unwrap();
    let t0 = Instant::now();
    pacer.ready(Some("k")).await; // no answer within 100 ms: paced locally, at once
    assert!(
        t0.elapsed() < Duration::from_millis(350),
        "{:?}",
        t0.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(800)).await; // the reply, then the give-back
    let ahead = next_free_us(&mut con, "backoff:late:k");
    assert!(ahead < 1_000_000, "the budget is held {ahead} µs ahead");
}

/// Failing closed through a frozen Redis (`SIGSTOP`, then `SIGCONT`): the callers go on at
/// the rate within a probe and a timeout of Redis's return, with no backlog left by the
/// requests it answered late.
#[test]
fn a_frozen_redis_leaves_no_backlog_behind_fail_closed_callers() {
    let Some(server) = Server::start() else {
        return;
    };
    let (logs, _guard) = common::capture();
    runtime(&logs).block_on(async {
        let client = redis::Client::open(server.url()).unwrap();
        let pacer = RedisPacerBuilder::new(client, "frozen", 20.0, 1)
            .fail_closed()
            .build();
        let pacer = Arc::new(pacer);
        pacer.ready(None).await;
        let starts = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let (p, starts) = (pacer.clone(), starts.clone());
                tokio::spawn(async move {
                    loop {
                        p.ready(None).await;
                        starts.lock().unwrap().push(Instant::now());
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(500)).await;
        server.signal("STOP");
        tokio::time::sleep(Duration::from_secs(2)).await;
        server.signal("CONT");
        let thawed = Instant::now();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        for t in tasks {
            t.abort();
        }
        let starts = starts.lock().unwrap().clone();
        let after: Vec<_> = starts
            .iter()
            .filter(|&&s| s >= thawed)
            .map(|&s| s - thawed)
            .collect();
        let first = after.first().copied();
        // 20/s from at most a probe (500 ms) and a timeout (200 ms) after Redis is back.
        let late = after
            .iter()
            .filter(|&&s| s >= Duration::from_secs(1))
            .count();
        eprintln!(
            "frozen 2 s: first start {first:?} after SIGCONT, {} starts in the 2.5 s after it \
             ({late} in the last 1.5 s)",
            after.len()
        );
        assert!(
            first.is_some_and(|f| f < Duration::from_millis(1000)),
            "{first:?}"
        );
        assert!(late >= 20, "{late} starts in 1.5 s at 20/s");
    });
    let (warned, ended) = outage_lines(&logs.lines(), "frozen");
    assert!(warned <= 1 && ended <= 1, "{:?}", logs.lines());
}

/// A connection that flaps (Redis frozen and thawed every 300 ms) is one outage in the log,
/// not a WARN/INFO pair per flap.
#[test]
fn a_flapping_redis_logs_one_outage() {
    let Some(server) = Server::start() else {
        return;
    };
    let (logs, _guard) = common::capture();
    runtime(&logs).block_on(async {
        let client = redis::Client::open(server.url()).unwrap();
        let pacer = RedisPacerBuilder::new(client, "flap", 20.0, 1)
            .timeout(Duration::from_millis(100))
            .build();
        let pacer = Arc::new(pacer);
        pacer.ready(None).await;
        let calls = tokio::spawn({
            let pacer = pacer.clone();
            async move {
                loop {
                    pacer.ready(None).await;
                }
            }
        });
        for _ in 0..6 {
            server.signal("STOP");
            tokio::time::sleep(Duration::from_millis(300)).await;
            server.signal("CONT");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        calls.abort();
    });
    let (warned, ended) = outage_lines(&logs.lines(), "flap");
    eprintln!("flapping 6 times: {warned} WARN, {ended} INFO");
    assert!(warned <= 1 && ended <= 1, "{warned} WARN, {ended} INFO");
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
    let outages: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("did not answer"))
        .collect();
    assert_eq!(outages.len(), 1, "{lines:?}");
    // The restarted server had lost the budget: re-seeded (and said so) from this process's
    // view, so the first slot after it keeps to the rate.
    let lost: Vec<_> = lines.iter().filter(|l| l.contains("was gone")).collect();
    assert!(lost.len() <= 1, "{lines:?}");
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

/// How far ahead of Redis's now the next free slot of `key` lies (what a fresh call would be
/// given: the earliest slot given back, else the theoretical arrival time), µs; zero when a
/// call would start at once.
fn next_free_us(con: &mut redis::Connection, key: &str) -> i64 {
    let (secs, micros): (i64, i64) = redis::cmd("TIME").query(con).unwrap();
    let now = secs * 1_000_000 + micros;
    let members: Vec<(String, f64)> = con.zrange_withscores(key, 0, -1).unwrap_or_default();
    let tat = members
        .iter()
        .find(|(m, _)| m == "tat")
        .map_or(now, |&(_, s)| (s as i64).max(now));
    let hole = members
        .iter()
        .filter(|(m, s)| m.starts_with('h') && *s as i64 >= now)
        .map(|&(_, s)| s as i64)
        .min();
    hole.map_or(tat, |h| h.min(tat)) - now
}

/// Waits until the next free slot of `key` has stopped moving for a second (the give-backs
/// of a storm have arrived), at most `max`, and returns it (µs ahead of now).
async fn settled_next_free(con: &mut redis::Connection, key: &str, max: Duration) -> i64 {
    let t0 = Instant::now();
    let mut last = next_free_us(con, key);
    let mut still = Instant::now();
    while t0.elapsed() < max && still.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = next_free_us(con, key);
        // A budget left alone moves down by the time waited: that is still too.
        if (now - last).abs() > 150_000 && now > 0 {
            still = Instant::now();
        }
        last = now;
    }
    last
}

/// The Redis log lines of one budget: outages declared (WARN) and ended (INFO).
fn outage_lines(lines: &[String], key: &str) -> (usize, usize) {
    let of = |what: &str| {
        lines
            .iter()
            .filter(|l| l.contains(what) && l.contains(key))
            .count()
    };
    (of("did not answer"), of("answers again"))
}

/// A storm of cancellations leaves the shared budget where it was: thousands of calls each
/// cancelled by a 1 ms timeout, then thousands queued for their slots and aborted, and the
/// next fresh call (a pacer that took no part, and the stormed one) starts within two
/// intervals. Two worker threads, as a server would run it. Prints the figures
/// (`--nocapture`).
#[test]
fn a_storm_of_cancelled_calls_leaves_the_budget_where_it_was() {
    let Some(url) = redis_url() else { return };
    let (logs, _guard) = common::capture();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start({
            let logs = logs.clone();
            move || common::capture_here(&logs)
        })
        .build()
        .unwrap();
    rt.block_on(storm(&url, &logs));
}

async fn storm(url: &str, logs: &common::Captured) {
    const CALLS: usize = 10_000;
    let interval = Duration::from_millis(100); // 10/s
    let two = 2 * interval.as_micros() as i64;
    let name = fresh("storm");
    let key = format!("backoff:{name}");
    let mut con = connection(url);
    let pacer = Arc::new(Pacer::redis(url, &name, 10.0, 1).unwrap());
    pacer.ready(None).await; // connected, script loaded: slot now
    let mut failures = Vec::new();

    // Where the next slot of a fresh pacer (another process's) and of the stormed one lies
    // (reserved, then given back), then how long the next calls of each took.
    async fn fresh_calls(
        url: &str,
        name: &str,
        stormed: &Arc<Pacer>,
    ) -> (Vec<Duration>, Vec<Duration>) {
        let other = Arc::new(Pacer::redis(url, name, 10.0, 1).unwrap());
        let mut slots = Vec::new();
        for p in [&other, stormed] {
            let p = p.clone();
            let wait = tokio::task::spawn_blocking(move || p.reserve(None).wait());
            slots.push(wait.await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(50)).await; // the give-backs
        let mut waits = Vec::new();
        for p in [&other, &other, &other, stormed] {
            let t = Instant::now();
            let done = tokio::time::timeout(Duration::from_secs(5), p.ready(None)).await;
            waits.push(if done.is_ok() {
                t.elapsed()
            } else {
                Duration::MAX
            });
        }
        (slots, waits)
    }

    for phase in ["cancelled by a 1 ms timeout", "queued, then aborted"] {
        tokio::time::sleep(2 * interval).await; // the budget is free again
        let (warned, ended) = outage_lines(&logs.lines(), &key);
        let t0 = Instant::now();
        let cancelled = phase.starts_with("cancelled");
        let calls: Vec<_> = (0..CALLS)
            .map(|_| {
                let p = pacer.clone();
                tokio::spawn(async move {
                    if cancelled {
                        let _ = tokio::time::timeout(Duration::from_millis(1), p.ready(None)).await;
                    } else {
                        p.ready(None).await;
                    }
                })
            })
            .collect();
        if !cancelled {
            // Every call has its reservation (or has given up on Redis) and waits.
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        for c in calls {
            c.abort();
            let _ = c.await;
        }
        let ahead = settled_next_free(&mut con, &key, Duration::from_secs(30)).await;
        let lines = logs.lines();
        let (w, i) = outage_lines(&lines, &key);
        let (slots, waits) = fresh_calls(url, &name, &pacer).await;
        let lost = ahead.max(0) / interval.as_micros() as i64;
        eprintln!(
            "storm ({phase}): {CALLS} calls in {:.1}s; next free slot {:.3}s ahead \
             (~{lost} slots lost); a fresh pacer's next slot {:.3?} ahead, the stormed \
             one's {:.3?}; fresh calls took {waits:.3?} (the last: the stormed pacer); \
             {} WARN / {} INFO",
            t0.elapsed().as_secs_f64(),
            ahead as f64 / 1e6,
            slots[0],
            slots[1],
            w - warned,
            i - ended,
        );
        if ahead > two {
            failures.push(format!("{phase}: next free slot {ahead} µs ahead"));
        }
        if slots.iter().any(|&s| s > 2 * interval) {
            failures.push(format!("{phase}: next slots {slots:?} ahead"));
        }
        if waits.contains(&Duration::MAX) {
            failures.push(format!(
                "{phase}: a fresh call still waiting after 5 s: {waits:?}"
            ));
        }
        if w - warned > 1 || i - ended > 1 {
            failures.push(format!("{phase}: {} WARN, {} INFO", w - warned, i - ended));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// While Redis is out, a slot of the local pacing dropped before it comes goes back too: a
/// thousand calls cancelled by a 1 ms timeout leave the next one an interval away at most
/// (they pushed it a thousand intervals ahead). Paused clock; nothing listens at the URL.
#[tokio::test(start_paused = true)]
async fn cancelled_calls_during_an_outage_give_their_local_slots_back() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port(); // closed again: nothing listens there
    let pacer =
        Arc::new(Pacer::redis(format!("redis://127.0.0.1:{port}/"), "gone", 10.0, 1).unwrap());
    pacer.ready(None).await; // an outage: the slot now, paced locally
    let calls: Vec<_> = (0..1000)
        .map(|_| {
            let p = pacer.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_millis(1), p.ready(None)).await;
            })
        })
        .collect();
    for c in calls {
        c.await.unwrap();
    }
    let t0 = Instant::now();
    pacer.ready(None).await;
    assert!(
        t0.elapsed() <= Duration::from_millis(100),
        "{:?}",
        t0.elapsed()
    );
}
