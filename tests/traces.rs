//! The reference's worked traces through `#[backoff]`: async fns on tokio's paused clock, sync
//! fns on a simulated clock; exact waits, tries, elapsed, handler order, outcome and log lines.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{Calls, capture};
use politely::sim::SimClock;
use politely::{Details, backoff};
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

/// Records `t=<seconds since start>` for each attempt, and always fails.
fn attempt(times: &Calls, start: Instant) -> Out {
    times.push(format!("t={}", start.elapsed().as_secs()));
    Err("boom".to_owned())
}

#[backoff(expo, max_tries = 5, jitter = none,
    on_backoff = |d| record(calls, "backoff", d), on_giveup = |d| record(calls, "giveup", d))]
async fn expo_5(calls: &Calls, times: &Calls, start: Instant) -> Out {
    attempt(times, start)
}

#[backoff(expo, max_time = 10, jitter = none,
    on_backoff = |d| record(calls, "backoff", d), on_giveup = |d| record(calls, "giveup", d))]
async fn expo_10s(calls: &Calls, times: &Calls, start: Instant) -> Out {
    attempt(times, start)
}

#[backoff(fibo, max_tries = 8, jitter = none,
    on_backoff = |d| record(calls, "backoff", d), on_giveup = |d| record(calls, "giveup", d))]
async fn fibo_8(calls: &Calls, times: &Calls, start: Instant) -> Out {
    attempt(times, start)
}

#[backoff(constant, interval = 2, max_tries = 4, jitter = none,
    on_backoff = |d| record(calls, "backoff", d), on_giveup = |d| record(calls, "giveup", d))]
async fn constant_4(calls: &Calls, times: &Calls, start: Instant) -> Out {
    attempt(times, start)
}

/// The handler calls a trace must produce: one backoff per wait, then the give-up.
fn expected(waits: &[u64], tries: u32, elapsed: u64) -> (Vec<String>, Vec<String>) {
    let mut calls = Vec::new();
    let mut times = vec!["t=0".to_owned()];
    let mut t = 0;
    for (i, w) in waits.iter().enumerate() {
        calls.push(format!("backoff tries={} elapsed={t} wait={w}", i + 1));
        t += w;
        times.push(format!("t={t}"));
    }
    calls.push(format!("giveup tries={tries} elapsed={elapsed} wait=-"));
    assert_eq!(t, elapsed);
    (calls, times)
}

macro_rules! async_trace {
    ($name:ident, $f:ident, $waits:expr, $tries:expr, $elapsed:expr) => {
        #[tokio::test(start_paused = true)]
        async fn $name() {
            let (calls, times) = (Calls::default(), Calls::default());
            let start = Instant::now();
            let out = $f(&calls, &times, start).await;
            assert_eq!(out, Err("boom".to_owned()));
            assert_eq!(start.elapsed(), Duration::from_secs($elapsed));
            let (c, t) = expected(&$waits, $tries, $elapsed);
            assert_eq!(calls.get(), c);
            assert_eq!(times.get(), t);
        }
    };
}

async_trace!(async_expo_max_tries_5, expo_5, [1, 2, 4, 8], 5, 15);
async_trace!(async_expo_max_time_10, expo_10s, [1, 2, 4, 3], 5, 10);
async_trace!(
    async_fibo_max_tries_8,
    fibo_8,
    [1, 1, 2, 3, 5, 8, 13],
    8,
    33
);
async_trace!(async_constant_2_max_tries_4, constant_4, [2, 2, 2], 4, 6);

// The same traces for sync fns: the attribute's `sleep` and `clock` put them on a simulated
// clock, here one passed in as an argument.

fn sim_attempt(times: &Calls, clock: &SimClock) -> Out {
    times.push(format!("t={}", clock.now().0.as_secs()));
    Err("boom".to_owned())
}

#[backoff(expo, max_tries = 5, jitter = none, sleep = |w| clock.sleep(w), clock = || clock.now(),
    on_backoff = |d| record(calls, "backoff", d), on_giveup = |d| record(calls, "giveup", d))]
fn sync_expo_5(calls: &Calls, times: &Calls, clock: &SimClock) -> Out {
    sim_attempt(times, clock)
}

#[backoff(expo, max_time = 10, jitter = none, sleep = |w| clock.sleep(w), clock = || clock.now(),
    on_backoff = |d| record(calls, "backoff", d), on_giveup = |d| record(calls, "giveup", d))]
fn sync_expo_10s(calls: &Calls, times: &Calls, clock: &SimClock) -> Out {
    sim_attempt(times, clock)
}

#[backoff(fibo, max_tries = 8, jitter = none, sleep = |w| clock.sleep(w), clock = || clock.now(),
    on_backoff = |d| record(calls, "backoff", d), on_giveup = |d| record(calls, "giveup", d))]
fn sync_fibo_8(calls: &Calls, times: &Calls, clock: &SimClock) -> Out {
    sim_attempt(times, clock)
}

#[backoff(constant, interval = 2, max_tries = 4, jitter = none, sleep = |w| clock.sleep(w),
    clock = || clock.now(),
    on_backoff = |d| record(calls, "backoff", d), on_giveup = |d| record(calls, "giveup", d))]
fn sync_constant_4(calls: &Calls, times: &Calls, clock: &SimClock) -> Out {
    sim_attempt(times, clock)
}

macro_rules! sync_trace {
    ($name:ident, $f:ident, $waits:expr, $tries:expr, $elapsed:expr) => {
        #[test]
        fn $name() {
            let (calls, times, clock) = (Calls::default(), Calls::default(), SimClock::new());
            let out = $f(&calls, &times, &clock);
            assert_eq!(out, Err("boom".to_owned()));
            let waits: Vec<u64> = clock.sleeps().iter().map(Duration::as_secs).collect();
            assert_eq!(waits, $waits);
            assert_eq!(clock.now().0, Duration::from_secs($elapsed));
            let (c, t) = expected(&$waits, $tries, $elapsed);
            assert_eq!(calls.get(), c);
            assert_eq!(times.get(), t);
        }
    };
}

sync_trace!(sync_expo_max_tries_5, sync_expo_5, [1, 2, 4, 8], 5, 15);
sync_trace!(sync_expo_max_time_10, sync_expo_10s, [1, 2, 4, 3], 5, 10);
sync_trace!(
    sync_fibo_max_tries_8,
    sync_fibo_8,
    [1, 1, 2, 3, 5, 8, 13],
    8,
    33
);
sync_trace!(
    sync_constant_2_max_tries_4,
    sync_constant_4,
    [2, 2, 2],
    4,
    6
);

// Logging: Python's two lines, the default handler before the user's.

static ORDER: AtomicU32 = AtomicU32::new(0);

#[backoff(expo, max_tries = 3, jitter = none,
    on_backoff = |_| tracing::info!("user handler {}", ORDER.fetch_add(1, Ordering::SeqCst)))]
async fn send_sms(to: &str) -> Result<(), String> {
    Err(format!("429 for {to}"))
}

#[tokio::test(start_paused = true)]
async fn logs_python_messages_before_user_handlers() {
    let (captured, _guard) = capture();
    let _ = send_sms("+4470000").await;
    let lines = captured.lines();
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| l.split_once(": ").map_or(l.as_str(), |(_, m)| m))
        .collect();
    assert_eq!(
        messages,
        [
            r#"Backing off send_sms(...) for 1.0s (Err("429 for +4470000")) function="send_sms" wait_s=1.0"#,
            "user handler 0",
            r#"Backing off send_sms(...) for 2.0s (Err("429 for +4470000")) function="send_sms" wait_s=2.0"#,
            "user handler 1",
            r#"Giving up send_sms(...) after 3 tries (Err("429 for +4470000")) function="send_sms" tries=3"#,
        ]
    );
    assert!(lines[0].starts_with(" INFO backoff:"), "{}", lines[0]);
    assert!(lines[4].starts_with("ERROR backoff:"), "{}", lines[4]);
}

#[backoff(expo, max_tries = 2, jitter = none, backoff_log_level = debug, giveup_log_level = warn)]
async fn levels() -> Option<u8> {
    None
}

#[backoff(expo, max_tries = 2, jitter = none, logger = none)]
async fn silent() -> Option<u8> {
    None
}

struct NoDebug;

#[backoff(expo, max_tries = 2, jitter = none, predicate = |_| true)]
async fn opaque() -> NoDebug {
    NoDebug
}

#[tokio::test(start_paused = true)]
async fn log_levels_are_configurable_and_logging_can_be_turned_off() {
    let (captured, _guard) = capture();
    assert_eq!(levels().await, None);
    assert!(silent().await.is_none());
    let lines = captured.lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].starts_with("DEBUG backoff: Backing off levels(...) for 1.0s (None)"));
    assert!(lines[1].starts_with(" WARN backoff: Giving up levels(...) after 2 tries (None)"));
}

#[tokio::test(start_paused = true)]
async fn an_outcome_without_debug_is_logged_by_type_name() {
    let (captured, _guard) = capture();
    let _ = opaque().await;
    let lines = captured.lines();
    assert!(lines[0].contains("(<traces::NoDebug>)"), "{}", lines[0]);
}

// A sync fn with no `on_backoff` or `on_giveup` handler gets its log lines back from the
// decision unwritten and writes them with the outcome moved in and out (`Line::emit`): the
// same lines, levels, fields and descriptions as a lent outcome's.

#[backoff(expo, max_tries = 3, jitter = none, sleep = |_| ())]
fn send_sms_sync(to: &str) -> Result<(), String> {
    Err(format!("429 for {to}"))
}

#[backoff(expo, max_tries = 2, jitter = none, sleep = |_| (), backoff_log_level = debug,
    giveup_log_level = warn)]
fn levels_sync() -> Option<u8> {
    None
}

#[backoff(expo, max_tries = 2, jitter = none, sleep = |_| (), predicate = |_| true)]
fn opaque_sync() -> NoDebug {
    NoDebug
}

#[backoff(expo, jitter = none, sleep = |_| (), budget = budget)]
fn spent_sync(budget: &politely::RetryBudget) -> Result<(), &'static str> {
    Err("down")
}

#[test]
fn a_sync_fn_writes_the_same_log_lines_as_an_async_one() {
    let (captured, _guard) = capture();
    assert!(send_sms_sync("+4470000").is_err());
    assert_eq!(levels_sync(), None);
    let _ = opaque_sync();
    let budget = politely::RetryBudget::new(1.0).min_per_sec(0.0);
    assert_eq!(spent_sync(&budget), Err("down"));
    let lines = captured.lines();
    assert_eq!(
        lines,
        [
            r#" INFO backoff: Backing off send_sms_sync(...) for 1.0s (Err("429 for +4470000")) function="send_sms_sync" wait_s=1.0"#,
            r#" INFO backoff: Backing off send_sms_sync(...) for 2.0s (Err("429 for +4470000")) function="send_sms_sync" wait_s=2.0"#,
            r#"ERROR backoff: Giving up send_sms_sync(...) after 3 tries (Err("429 for +4470000")) function="send_sms_sync" tries=3"#,
            r#"DEBUG backoff: Backing off levels_sync(...) for 1.0s (None) function="levels_sync" wait_s=1.0"#,
            r#" WARN backoff: Giving up levels_sync(...) after 2 tries (None) function="levels_sync" tries=2"#,
            r#" INFO backoff: Backing off opaque_sync(...) for 1.0s (<traces::NoDebug>) function="opaque_sync" wait_s=1.0"#,
            r#"ERROR backoff: Giving up opaque_sync(...) after 2 tries (<traces::NoDebug>) function="opaque_sync" tries=2"#,
            // The call's own first attempt deposits the one token its first retry spends.
            r#" INFO backoff: Backing off spent_sync(...) for 1.0s (Err("down")) function="spent_sync" wait_s=1.0"#,
            r#"ERROR backoff: Giving up spent_sync(...) after 2 tries: retry budget exhausted (Err("down")) function="spent_sync" tries=2 budget_exhausted=true"#,
        ]
    );
}

// An HTTP response is shown by what a person reading the line needs: its status, its URL's
// path (a `reqwest::Response`; an `http::Response` has no URL) and the server's `Retry-After`,
// not its whole `Debug` (over 300 characters of URL, port and headers). Other outcomes, the
// error beside it in a `Result` included, keep their `Debug`.

#[cfg(feature = "reqwest")]
mod http_responses {
    use std::io::{Read, Write};

    use politely::backoff;

    use crate::common::capture;

    /// A loopback server that answers every request `429` with `Retry-After: 1` and the
    /// headers an API sends beside it, one connection per request. Returns a URL on it.
    fn throttling_server() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 429 Too Many Requests\r\n\
                      retry-after: 1\r\n\
                      content-type: application/json\r\n\
                      x-request-id: 0f8c2a8e-7d1b-4bde-9a36-5d1f0c7e2b44\r\n\
                      ratelimit-policy: \"default\";q=2;w=1\r\n\
                      content-length: 2\r\n\
                      connection: close\r\n\r\n{}",
                );
            }
        });
        format!("http://{addr}/v1/messages?to=%2B4470000")
    }

    type Reply = Result<reqwest::Response, reqwest::Error>;

    /// The lines of target `backoff` (reqwest's own are left out).
    fn ours(lines: Vec<String>) -> Vec<String> {
        lines
            .into_iter()
            .filter(|l| {
                l.trim_start()
                    .split_once(' ')
                    .is_some_and(|(_, rest)| rest.starts_with("backoff: "))
            })
            .collect()
    }

    #[backoff(expo, max_tries = 2, jitter = none, on = outcome,
        predicate = |r: &Reply| r.as_ref().is_ok_and(|r| r.status() == 429))]
    async fn send(client: &reqwest::Client, url: &str) -> Reply {
        client.get(url).send().await
    }

    #[tokio::test(start_paused = true)]
    async fn a_reqwest_response_shows_status_path_and_retry_after() {
        let url = throttling_server();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let (captured, _guard) = capture();
        let reply = send(&client, &url).await.unwrap();
        assert_eq!(reply.status(), 429);
        let shown = r#"Ok(Response { status: 429 Too Many Requests, path: "/v1/messages", retry_after: "1" })"#;
        assert_eq!(
            ours(captured.lines()),
            [
                format!(
                    r#" INFO backoff: Backing off send(...) for 1.0s ({shown}) function="send" wait_s=1.0"#
                ),
                format!(
                    r#"ERROR backoff: Giving up send(...) after 2 tries ({shown}) function="send" tries=2"#
                ),
            ]
        );
    }

    /// A response as a handler-less sync fn returns it (the line written with the outcome
    /// moved in and out).
    fn throttled() -> http::Response<Vec<u8>> {
        http::Response::builder()
            .status(503)
            .header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")
            .header("content-type", "application/json")
            .header("x-request-id", "0f8c2a8e-7d1b-4bde-9a36-5d1f0c7e2b44")
            .body(br#"{"error":"overloaded","detail":"try again later"}"#.to_vec())
            .unwrap()
    }

    #[backoff(constant, interval = 1, max_tries = 2, jitter = none, sleep = |_| (),
        predicate = |r: &http::Response<Vec<u8>>| r.status() == 503)]
    fn fetch_sync() -> http::Response<Vec<u8>> {
        throttled()
    }

    /// The error beside it keeps its `Debug`; a handler lends the outcome to the line.
    #[backoff(constant, interval = 1, max_tries = 3, jitter = none, on = outcome,
        predicate = |r: &Result<http::Response<Vec<u8>>, std::io::Error>|
            r.as_ref().map_or(true, |r| r.status() == 503),
        on_giveup = |_| ())]
    async fn fetch(
        tries: &std::sync::atomic::AtomicU32,
    ) -> Result<http::Response<Vec<u8>>, std::io::Error> {
        match tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => Err(std::io::Error::other("connection reset")),
            _ => Ok(throttled()),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_http_response_shows_status_and_retry_after() {
        let (captured, _guard) = capture();
        assert_eq!(fetch_sync().status(), 503);
        let tries = std::sync::atomic::AtomicU32::new(0);
        assert!(fetch(&tries).await.is_ok());
        let shown = r#"Response { status: 503 Service Unavailable, retry_after: "Wed, 21 Oct 2015 07:28:00 GMT" }"#;
        assert_eq!(
            captured.lines(),
            [
                format!(
                    r#" INFO backoff: Backing off fetch_sync(...) for 1.0s ({shown}) function="fetch_sync" wait_s=1.0"#
                ),
                format!(
                    r#"ERROR backoff: Giving up fetch_sync(...) after 2 tries ({shown}) function="fetch_sync" tries=2"#
                ),
                r#" INFO backoff: Backing off fetch(...) for 1.0s (Err(Custom { kind: Other, error: "connection reset" })) function="fetch" wait_s=1.0"#.to_owned(),
                format!(
                    r#" INFO backoff: Backing off fetch(...) for 1.0s (Ok({shown})) function="fetch" wait_s=1.0"#
                ),
                format!(
                    r#"ERROR backoff: Giving up fetch(...) after 3 tries (Ok({shown})) function="fetch" tries=3"#
                ),
            ]
        );
    }
}
