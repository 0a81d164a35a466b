//! `PoliteMiddleware` in a `reqwest_middleware` client: which outcomes it retries for which
//! methods, `Retry-After`, idempotency keys, bodies that cannot be cloned, per-request
//! overrides and pacing per host, on tokio's paused clock against a scripted server (a
//! middleware after it in the chain that answers instead of the network); then a refused
//! connection on the real clock. Against the stand-in Messages API on loopback (nothing lost,
//! nothing delivered twice): `standin/tests/middleware.rs`.
#![cfg(feature = "reqwest-middleware")]

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backoff_core::middleware::reqwest_middleware::{
    self, ClientBuilder, ClientWithMiddleware, Middleware, Next,
};
use backoff_core::middleware::{Attempts, IdempotencyKey, NoRetry, PoliteMiddleware, RateKey};
use backoff_core::{Jitter, Pacer, RetryBudget};
use http::Extensions;
use reqwest::{Method, Request, Response};
use tokio::time::Instant;

/// One scripted answer.
#[derive(Clone, Copy, Debug)]
enum Step {
    Status(u16),
    /// A status with `Retry-After` in seconds.
    After(u16, u64),
    /// An I/O error of this kind, as a transport middleware would report it.
    Io(io::ErrorKind),
    /// A status with `RateLimit-Policy: "d";q=5;w=1` (5 requests a second).
    Policy(u16),
}

/// What the server saw of one attempt.
#[derive(Clone, Debug)]
struct Seen {
    at: Duration,
    method: Method,
    host: String,
    key: Option<String>,
}

/// The network's stand-in: answers each attempt with the next step (then 200) and records it.
#[derive(Clone)]
struct Script {
    steps: Arc<Mutex<VecDeque<Step>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    start: Instant,
}

impl Script {
    fn new(steps: &[Step]) -> Self {
        Script {
            steps: Arc::new(Mutex::new(steps.iter().copied().collect())),
            seen: Arc::default(),
            start: Instant::now(),
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn tries(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

#[async_trait::async_trait]
impl Middleware for Script {
    async fn handle(
        &self,
        req: Request,
        _: &mut Extensions,
        _: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        self.seen.lock().unwrap().push(Seen {
            at: self.start.elapsed(),
            method: req.method().clone(),
            host: req.url().host_str().unwrap_or_default().to_owned(),
            key: req
                .headers()
                .get("idempotency-key")
                .map(|v| v.to_str().unwrap().to_owned()),
        });
        let step = self.steps.lock().unwrap().pop_front();
        let answer = |status: u16, field: Option<(&str, String)>| {
            let mut b = http::Response::builder().status(status);
            if let Some((name, value)) = field {
                b = b.header(name, value);
            }
            Ok(b.body("").unwrap().into())
        };
        match step {
            None => answer(200, None),
            Some(Step::Status(s)) => answer(s, None),
            Some(Step::After(s, after)) => answer(s, Some(("retry-after", after.to_string()))),
            Some(Step::Policy(s)) => answer(s, Some(("ratelimit-policy", "\"d\";q=5;w=1".into()))),
            Some(Step::Io(kind)) => Err(reqwest_middleware::Error::middleware(io::Error::new(
                kind, "scripted",
            ))),
        }
    }
}

/// Waits of 1, 2, 4… s, no jitter, at most 5 tries.
fn policy() -> backoff_core::Backoff<backoff_core::wait::Expo> {
    backoff_core::expo().jitter(Jitter::None).max_tries(5)
}

fn client(polite: PoliteMiddleware, script: &Script) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(polite)
        .with(script.clone())
        .build()
}

const URL: &str = "http://api.test/v1/messages";

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn retry_after_is_a_floor_under_the_generators_wait() {
    let script = Script::new(&[Step::After(429, 5), Step::After(503, 3)]);
    let client = client(PoliteMiddleware::new(policy()), &script);
    let response = client.get(URL).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.extensions().get::<Attempts>(), Some(&Attempts(3)));
    let at: Vec<Duration> = script.seen().iter().map(|s| s.at).collect();
    // 5 s asked + 1 s of the generator; then 3 s asked + 2 s.
    assert_eq!(
        at,
        [
            Duration::ZERO,
            Duration::from_secs(6),
            Duration::from_secs(11)
        ]
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_post_without_a_key_is_not_retried_after_an_ambiguous_failure() {
    for kind in [io::ErrorKind::ConnectionReset, io::ErrorKind::TimedOut] {
        let script = Script::new(&[Step::Io(kind), Step::Status(202)]);
        let client = client(PoliteMiddleware::new(policy()), &script);
        let err = client.post(URL).body("{}").send().await.unwrap_err();
        assert!(err.to_string().contains("scripted"), "{err}");
        assert_eq!(script.tries(), 1, "{kind:?}");
    }
    // 500 too: the server may have applied it.
    let script = Script::new(&[Step::Status(500)]);
    let client = client(PoliteMiddleware::new(policy()), &script);
    let response = client.post(URL).send().await.unwrap();
    assert_eq!((response.status().as_u16(), script.tries()), (500, 1));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_post_with_a_key_is_retried_after_an_ambiguous_failure() {
    let script = Script::new(&[
        Step::Io(io::ErrorKind::ConnectionReset),
        Step::Io(io::ErrorKind::TimedOut),
        Step::Status(500),
        Step::Status(202),
    ]);
    let client = client(PoliteMiddleware::new(policy()), &script);
    let response = client
        .post(URL)
        .header("Idempotency-Key", "k-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let keys: Vec<_> = script.seen().into_iter().map(|s| s.key).collect();
    assert_eq!(keys, vec![Some("k-1".to_owned()); 4]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_post_is_retried_when_it_was_not_processed() {
    let script = Script::new(&[
        Step::Io(io::ErrorKind::ConnectionRefused),
        Step::Status(429),
        Step::Status(503),
        Step::Status(202),
    ]);
    let client = client(PoliteMiddleware::new(policy()), &script);
    let response = client.post(URL).send().await.unwrap();
    assert_eq!((response.status().as_u16(), script.tries()), (202, 4));
    assert!(script.seen().iter().all(|s| s.key.is_none()));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_auto_key_is_one_per_request_and_the_same_on_every_attempt() {
    let script = Script::new(&[Step::Io(io::ErrorKind::ConnectionReset), Step::Status(500)]);
    let polite = PoliteMiddleware::new(policy()).idempotency_key(IdempotencyKey::Auto);
    let client = client(polite, &script);
    assert_eq!(client.post(URL).send().await.unwrap().status(), 200);
    assert_eq!(client.patch(URL).send().await.unwrap().status(), 200);
    assert_eq!(client.get(URL).send().await.unwrap().status(), 200);
    // The caller's own key is kept.
    let own = client.post(URL).header("Idempotency-Key", "mine").send();
    assert_eq!(own.await.unwrap().status(), 200);
    let seen = script.seen();
    let keys: Vec<_> = seen.iter().map(|s| s.key.clone()).collect();
    assert_eq!(seen.len(), 6);
    let first = keys[0].clone().unwrap();
    assert_eq!(first.len(), 36);
    assert_eq!(&first[14..15], "4");
    assert_eq!(keys[1..3], [Some(first.clone()), Some(first.clone())]);
    assert!(keys[3].is_some() && keys[3] != keys[0]);
    assert_eq!(seen[3].method, Method::PATCH);
    assert_eq!(keys[4], None);
    assert_eq!(keys[5].as_deref(), Some("mine"));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_body_that_cannot_be_cloned_is_sent_once() {
    let script = Script::new(&[Step::Status(503)]);
    let client = client(PoliteMiddleware::new(policy()), &script);
    let body = reqwest::Body::wrap(String::from("streamed"));
    let response = client.put(URL).body(body).send().await.unwrap();
    assert_eq!((response.status().as_u16(), script.tries()), (503, 1));
    assert_eq!(response.extensions().get::<Attempts>(), Some(&Attempts(1)));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn which_statuses_are_retried() {
    // (status, retry_5xx, retry_408, tries)
    for (status, on_5xx, on_408, tries) in [
        (404, true, true, 1),
        (400, true, true, 1),
        (503, false, false, 2),
        (429, false, false, 2),
        (500, true, true, 2),
        (502, true, true, 2),
        (500, false, true, 1),
        (408, true, true, 2),
        (408, true, false, 1),
    ] {
        let script = Script::new(&[Step::Status(status)]);
        let polite = PoliteMiddleware::new(policy())
            .retry_5xx(on_5xx)
            .retry_408(on_408);
        let response = client(polite, &script).get(URL).send().await.unwrap();
        let last = if tries == 1 { status } else { 200 };
        assert_eq!(
            (response.status().as_u16(), script.tries()),
            (last, tries),
            "{status} 5xx {on_5xx} 408 {on_408}"
        );
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn no_retry_sends_once_and_giving_up_returns_the_last_response() {
    let script = Script::new(&[Step::Status(503); 9]);
    let client = client(PoliteMiddleware::new(policy()), &script);
    let once = client
        .get(URL)
        .with_extension(NoRetry)
        .send()
        .await
        .unwrap();
    assert_eq!((once.status().as_u16(), script.tries()), (503, 1));
    let last = client.get(URL).send().await.unwrap();
    assert_eq!(last.status(), 503);
    assert_eq!(last.extensions().get::<Attempts>(), Some(&Attempts(5)));
    assert_eq!(script.tries(), 6);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn giving_up_on_an_error_returns_it_and_the_attempts_ride_in_the_extensions() {
    let script = Script::new(&[Step::Io(io::ErrorKind::ConnectionRefused); 9]);
    let gave_up = Arc::new(Mutex::new(None));
    let seen = gave_up.clone();
    let polite = PoliteMiddleware::new(policy().max_tries(3))
        .on_giveup(move |d| *seen.lock().unwrap() = Some(d.tries));
    let client = client(polite, &script);
    let mut ext = Extensions::new();
    let req = client.get(URL).build().unwrap();
    let err = client
        .execute_with_extensions(req, &mut ext)
        .await
        .unwrap_err();
    assert!(err.is_middleware());
    assert_eq!(ext.get::<Attempts>(), Some(&Attempts(3)));
    assert_eq!(*gave_up.lock().unwrap(), Some(3));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_budget_bounds_the_retries() {
    let script = Script::new(&[Step::Status(503); 9]);
    let budget = RetryBudget::new(0.0).min_per_sec(0.0);
    let client = client(PoliteMiddleware::new(policy()).budget(&budget), &script);
    let response = client.get(URL).send().await.unwrap();
    assert_eq!((response.status().as_u16(), script.tries()), (503, 1));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn each_host_is_paced_on_its_own_budget_unless_told_otherwise() {
    let script = Script::new(&[]);
    let polite = PoliteMiddleware::new(policy()).pacer(Pacer::per_second(1.0));
    let client = client(polite, &script);
    let (a1, a2, b) = tokio::join!(
        client.get("http://a.test/").send(),
        client.get("http://a.test/").send(),
        client.get("http://b.test/").send(),
    );
    assert!(a1.is_ok() && a2.is_ok() && b.is_ok());
    let at = |host: &str| -> Vec<Duration> {
        script
            .seen()
            .iter()
            .filter(|s| s.host == host)
            .map(|s| s.at)
            .collect()
    };
    assert_eq!(at("a.test"), [Duration::ZERO, Duration::from_secs(1)]);
    assert_eq!(at("b.test"), [Duration::ZERO]);
    // On a's key, b waits for a's next slot.
    let on_a = client
        .get("http://b.test/")
        .with_extension(RateKey::new("a.test"))
        .send()
        .await;
    assert!(on_a.is_ok());
    assert_eq!(script.seen().last().unwrap().at, Duration::from_secs(2));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_adaptive_pacer_learns_each_hosts_limit_from_the_responses() {
    let script = Script::new(&[Step::Policy(429), Step::Policy(200)]);
    let pacer = Arc::new(Pacer::adaptive());
    let polite = PoliteMiddleware::new(policy()).pacer(pacer.clone());
    let response = client(polite, &script)
        .get("http://a.test:8080/")
        .send()
        .await;
    assert_eq!(response.unwrap().status(), 200);
    assert_eq!(script.tries(), 2);
    // The advertised 5/s, less a margin for the throttle.
    let learned = pacer.learned_rate(Some("a.test:8080"));
    assert!(
        learned.is_some_and(|r| (4.5..=5.0).contains(&r)),
        "{learned:?}"
    );
    assert_eq!(pacer.learned_rate(Some("b.test")), None);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn handlers_and_log_lines_show_an_attempt_without_its_headers() {
    let script = Script::new(&[
        Step::After(503, 3),
        Step::Io(io::ErrorKind::ConnectionReset),
    ]);
    let shown = Arc::new(Mutex::new(Vec::new()));
    let seen = shown.clone();
    let polite = PoliteMiddleware::new(policy()).on_backoff(move |d| {
        seen.lock()
            .unwrap()
            .push((format!("{:?}", d.outcome), d.wait));
    });
    let client = client(polite, &script);
    let response = client.get(format!("{URL}?api_key=secret")).send().await;
    assert_eq!(response.unwrap().status(), 200);
    let shown = shown.lock().unwrap().clone();
    assert_eq!(shown.len(), 2);
    assert!(
        shown[0]
            .0
            .starts_with("Ok(Response { status: 503 Service Unavailable, path: ")
            && shown[0].0.ends_with(r#"retry_after: "3" })"#),
        "{shown:?}"
    );
    assert_eq!(shown[0].1, Some(Duration::from_secs(4)));
    assert_eq!(shown[1].0, "Err(middleware error: scripted)");
    assert!(shown.iter().all(|(s, _)| !s.contains("secret")));
}

// On the real clock: a port nobody listens on.

fn real_client<W>(polite: PoliteMiddleware<W>) -> ClientWithMiddleware
where
    PoliteMiddleware<W>: Middleware,
{
    ClientBuilder::new(reqwest::Client::new())
        .with(polite)
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_retried_for_a_post() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let shown = Arc::new(Mutex::new(String::new()));
    let seen = shown.clone();
    let client = real_client(
        PoliteMiddleware::new(backoff_core::constant(Duration::from_millis(10)).max_tries(3))
            .on_giveup(move |d| *seen.lock().unwrap() = format!("{:?}", d.outcome)),
    );
    let mut ext = Extensions::new();
    let req = client
        .post(format!("http://127.0.0.1:{port}/"))
        .body("{}")
        .build()
        .unwrap();
    let err = client
        .execute_with_extensions(req, &mut ext)
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert_eq!(ext.get::<Attempts>(), Some(&Attempts(3)));
    // The log line's form: the kind and the causes, not the URL.
    let shown = shown.lock().unwrap().clone();
    assert!(shown.starts_with("Err(reqwest connect error: "), "{shown}");
    assert!(!shown.contains(&port.to_string()), "{shown}");
}
