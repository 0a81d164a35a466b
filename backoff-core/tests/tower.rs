//! The tower side of the middleware: `PoliteLayer`'s service around a scripted inner service
//! (a `tower::service_fn` that records when each attempt arrives), `PolitePolicy` under
//! `tower::retry::Retry`, and `RetryBudget` as tower's budget. All on tokio's paused clock:
//! every arrival time asserted is exact.
#![cfg(feature = "tower")]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backoff_core::middleware::{
    Attempted, Attempts, Fault, IdempotencyKey, NoRetry, PoliteLayer, PolitePolicy,
};
use backoff_core::{Details, Jitter, Pacer, RetryBudget, constant};
use http::{Method, Request, Response};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

/// The inner service's error: the connection broke after the request was sent, or it was
/// refused before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Broken {
    Reset,
    Refused,
}

type Scripted = Result<Response<String>, Broken>;

/// What the inner service saw: each attempt's arrival (since the test's start), method and
/// `Idempotency-Key`.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Arrival>>>);

type Arrival = (Duration, Method, Option<String>);

impl Seen {
    fn times(&self) -> Vec<Duration> {
        self.0.lock().unwrap().iter().map(|(t, ..)| *t).collect()
    }
    fn keys(&self) -> Vec<Option<String>> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, _, k)| k.clone())
            .collect()
    }
}

/// An inner service answering from `script` in order (then `200`), recording arrivals.
fn server(
    script: Vec<Scripted>,
) -> (
    impl Service<Request<String>, Response = Response<String>, Error = Broken, Future: Send>
    + Clone
    + Send
    + 'static,
    Seen,
) {
    let start = Instant::now();
    let seen = Seen::default();
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let log = seen.clone();
    let service = tower::service_fn(move |req: Request<String>| {
        let key = req
            .headers()
            .get("idempotency-key")
            .map(|v| v.to_str().unwrap().to_owned());
        log.0
            .lock()
            .unwrap()
            .push((start.elapsed(), req.method().clone(), key));
        let answer = script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Ok(status(200)));
        async move { answer }
    });
    (service, seen)
}

fn status(code: u16) -> Response<String> {
    Response::builder()
        .status(code)
        .body(String::new())
        .unwrap()
}

fn with_header(code: u16, pairs: &[(&str, &str)]) -> Response<String> {
    let mut answer = Response::builder().status(code);
    for (name, value) in pairs {
        answer = answer.header(*name, *value);
    }
    answer.body(String::new()).unwrap()
}

fn request(method: Method) -> Request<String> {
    Request::builder()
        .method(method)
        .uri("http://api.example.com/v1/messages")
        .body("{}".to_owned())
        .unwrap()
}

/// One second between attempts, no jitter, at most four attempts.
fn layer() -> PoliteLayer {
    PoliteLayer::new(
        backoff_core::expo()
            .factor(1)
            .base(1)
            .jitter(Jitter::None)
            .max_tries(4),
    )
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

async fn send<S>(service: &mut S, req: Request<String>) -> Result<Response<String>, S::Error>
where
    S: Service<Request<String>, Response = Response<String>>,
{
    service.ready().await?.call(req).await
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_a_floor_under_the_generators_wait() {
    let (inner, seen) = server(vec![Ok(with_header(503, &[("retry-after", "2")]))]);
    let mut service = layer().layer(inner);
    let response = send(&mut service, request(Method::GET)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.extensions().get::<Attempts>(), Some(&Attempts(2)));
    // 2 s from the server, 1 s of the generator's on top.
    assert_eq!(seen.times(), [secs(0.0), secs(3.0)]);
}

#[tokio::test(start_paused = true)]
async fn grpc_unavailable_waits_for_the_pushback() {
    let (inner, seen) = server(vec![
        Ok(with_header(
            200,
            &[("grpc-status", "14"), ("grpc-retry-pushback-ms", "1500")],
        )),
        Ok(with_header(200, &[("grpc-status", "8")])),
        Ok(with_header(200, &[("grpc-status", "0")])),
    ]);
    let mut service = layer().layer(inner);
    let response = send(&mut service, request(Method::POST)).await.unwrap();
    assert_eq!(response.headers()["grpc-status"], "0");
    // 1.5 s pushback + 1 s; then RESOURCE_EXHAUSTED without pushback: 1 s. A POST too: both
    // are refusals the server did not process.
    assert_eq!(seen.times(), [secs(0.0), secs(2.5), secs(3.5)]);
}

#[tokio::test(start_paused = true)]
async fn a_negative_or_malformed_pushback_is_not_retried() {
    for value in ["-1", "soon", "1.5"] {
        let (inner, seen) = server(vec![Ok(with_header(
            200,
            &[("grpc-status", "8"), ("grpc-retry-pushback-ms", value)],
        ))]);
        let mut service = layer().layer(inner);
        let response = send(&mut service, request(Method::GET)).await.unwrap();
        assert_eq!(response.headers()["grpc-status"], "8", "{value}");
        assert_eq!(seen.times(), [secs(0.0)], "{value}");
    }
}

#[tokio::test(start_paused = true)]
async fn other_grpc_statuses_are_answers() {
    let (inner, seen) = server(vec![Ok(with_header(200, &[("grpc-status", "5")]))]);
    let mut service = layer().layer(inner);
    send(&mut service, request(Method::GET)).await.unwrap();
    assert_eq!(seen.times(), [secs(0.0)]);
}

#[tokio::test(start_paused = true)]
async fn a_post_is_not_retried_after_an_ambiguous_failure_without_a_key() {
    let (inner, seen) = server(vec![Err(Broken::Reset), Ok(status(500))]);
    let mut service = layer().layer(inner);
    assert_eq!(
        send(&mut service, request(Method::POST)).await.unwrap_err(),
        Broken::Reset
    );
    assert_eq!(
        send(&mut service, request(Method::POST))
            .await
            .unwrap()
            .status(),
        500
    );
    assert_eq!(seen.times(), [secs(0.0), secs(0.0)]);
}

#[tokio::test(start_paused = true)]
async fn a_post_with_a_key_is_retried_after_an_ambiguous_failure() {
    let (inner, seen) = server(vec![Err(Broken::Reset), Ok(status(502))]);
    let mut service = layer().layer(inner);
    let mut req = request(Method::POST);
    req.headers_mut()
        .insert("idempotency-key", "k-1".parse().unwrap());
    assert_eq!(send(&mut service, req).await.unwrap().status(), 200);
    assert_eq!(seen.times(), [secs(0.0), secs(1.0), secs(2.0)]);
    assert_eq!(seen.keys(), vec![Some("k-1".to_owned()); 3]);
}

#[tokio::test(start_paused = true)]
async fn auto_keys_a_post_once_for_all_its_attempts() {
    let (inner, seen) = server(vec![Err(Broken::Reset)]);
    let mut service = layer().idempotency_key(IdempotencyKey::Auto).layer(inner);
    assert_eq!(
        send(&mut service, request(Method::POST))
            .await
            .unwrap()
            .status(),
        200
    );
    let keys = seen.keys();
    assert_eq!(keys.len(), 2);
    assert!(keys[0].is_some());
    assert_eq!(keys[0], keys[1]);
}

#[tokio::test(start_paused = true)]
async fn a_classified_refusal_retries_a_post() {
    let (inner, seen) = server(vec![Err(Broken::Refused), Err(Broken::Reset)]);
    let mut service = layer()
        .classify(|e: &Broken| match e {
            Broken::Refused => Fault::Unsent,
            Broken::Reset => Fault::Ambiguous,
        })
        .layer(inner);
    // Refused: retried; then reset: a POST without a key gives up.
    assert_eq!(
        send(&mut service, request(Method::POST)).await.unwrap_err(),
        Broken::Reset
    );
    assert_eq!(seen.times(), [secs(0.0), secs(1.0)]);
}

#[tokio::test(start_paused = true)]
async fn a_404_is_never_retried() {
    let (inner, seen) = server(vec![Ok(status(404))]);
    let mut service = layer().layer(inner);
    let response = send(&mut service, request(Method::GET)).await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.extensions().get::<Attempts>(), Some(&Attempts(1)));
    assert_eq!(seen.times(), [secs(0.0)]);
}

#[tokio::test(start_paused = true)]
async fn no_retry_sends_once() {
    let (inner, seen) = server(vec![Ok(status(503))]);
    let mut service = layer().layer(inner);
    let mut req = request(Method::GET);
    req.extensions_mut().insert(NoRetry);
    assert_eq!(send(&mut service, req).await.unwrap().status(), 503);
    assert_eq!(seen.times(), [secs(0.0)]);
}

/// What a handler saw: tries, elapsed and wait (seconds), status, and whether it was an error.
type Called = (u32, f64, Option<f64>, Option<u16>, bool);

type Calls = Arc<Mutex<Vec<Called>>>;

/// A handler that records each call, and its record.
fn recorder() -> (
    Calls,
    impl Fn(&Details<'_, dyn Attempted>) + Send + Sync + 'static,
) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&calls);
    let f = move |d: &Details<'_, dyn Attempted>| {
        log.lock().unwrap().push((
            d.tries,
            d.elapsed.as_secs_f64(),
            d.wait.map(|w| w.as_secs_f64()),
            d.outcome.status().map(|s| s.as_u16()),
            d.outcome.is_error(),
        ));
    };
    (calls, f)
}

/// The test layer with both handlers recording: the layer, then what `on_backoff` and
/// `on_giveup` saw.
fn recorded() -> (PoliteLayer, Calls, Calls) {
    let (backoffs, on_backoff) = recorder();
    let (giveups, on_giveup) = recorder();
    let layer = layer().on_backoff(on_backoff).on_giveup(on_giveup);
    (layer, backoffs, giveups)
}

#[tokio::test(start_paused = true)]
async fn handlers_see_each_attempts_status_or_error() {
    let (inner, seen) = server(vec![Ok(status(503)), Err(Broken::Reset)]);
    let (layer, backoffs, giveups) = recorded();
    let mut service = layer.layer(inner);
    let response = send(&mut service, request(Method::GET)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(seen.times(), [secs(0.0), secs(1.0), secs(2.0)]);
    assert_eq!(
        *backoffs.lock().unwrap(),
        [
            (1, 0.0, Some(1.0), Some(503), false),
            (2, 1.0, Some(1.0), None, true)
        ]
    );
    assert!(giveups.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn on_giveup_is_called_once_with_the_last_answer() {
    let (inner, seen) = server(vec![Ok(status(503)); 4]);
    let (layer, backoffs, giveups) = recorded();
    let mut service = layer.layer(inner);
    let response = send(&mut service, request(Method::GET)).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(seen.times().len(), 4);
    assert_eq!(backoffs.lock().unwrap().len(), 3);
    assert_eq!(*giveups.lock().unwrap(), [(4, 3.0, None, Some(503), false)]);
}

#[tokio::test(start_paused = true)]
async fn a_post_given_up_after_an_ambiguous_error_reaches_on_giveup() {
    let (inner, seen) = server(vec![Err(Broken::Reset)]);
    let (layer, _, giveups) = recorded();
    let mut service = layer.layer(inner);
    let err = send(&mut service, request(Method::POST)).await.unwrap_err();
    assert_eq!(err, Broken::Reset);
    assert_eq!(seen.times(), [secs(0.0)]);
    assert_eq!(*giveups.lock().unwrap(), [(1, 0.0, None, None, true)]);
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_pacer() {
    let (inner, seen) = server(vec![]);
    let service = layer().pacer(Pacer::per_second(2.0)).layer(inner);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let clone = service.clone();
        for _ in 0..2 {
            let mut clone = clone.clone();
            tasks.push(tokio::spawn(async move {
                send(&mut clone, request(Method::GET)).await.unwrap()
            }));
        }
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().status(), 200);
    }
    let mut times = seen.times();
    times.sort();
    let expected: Vec<Duration> = (0..20).map(|i| secs(0.5 * f64::from(i))).collect();
    assert_eq!(times, expected);
}

#[tokio::test(start_paused = true)]
async fn hosts_are_paced_apart_by_default() {
    let (inner, seen) = server(vec![]);
    let service = layer().pacer(Pacer::per_second(1.0)).layer(inner);
    let mut tasks = Vec::new();
    for uri in [
        "http://a.example/",
        "http://b.example/",
        "http://a.example:8080/",
    ] {
        let mut clone = service.clone();
        let req = Request::get(uri).body(String::new()).unwrap();
        tasks.push(tokio::spawn(async move { send(&mut clone, req).await }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(seen.times(), [secs(0.0); 3]);
}

#[tokio::test(start_paused = true)]
async fn the_policy_retries_a_503_with_its_waits() {
    let (inner, seen) = server(vec![
        Ok(status(503)),
        Ok(with_header(503, &[("retry-after", "2")])),
    ]);
    let policy = PolitePolicy::new(constant(1).jitter(Jitter::None).max_tries(4));
    let mut service = tower::retry::Retry::new(policy, inner);
    let response = send(&mut service, request(Method::GET)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(seen.times(), [secs(0.0), secs(1.0), secs(4.0)]);
}

#[tokio::test(start_paused = true)]
async fn the_policy_keeps_max_tries_and_the_post_rules() {
    let (inner, seen) = server(vec![Ok(status(503)), Ok(status(503)), Ok(status(503))]);
    let policy = PolitePolicy::new(constant(1).jitter(Jitter::None).max_tries(2));
    let mut service = tower::retry::RetryLayer::new(policy).layer(inner);
    assert_eq!(
        send(&mut service, request(Method::GET))
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(seen.times(), [secs(0.0), secs(1.0)]);

    // A fresh run for the next request; a POST after a 500 gives up at once.
    let (inner, seen) = server(vec![Ok(status(500))]);
    let policy = PolitePolicy::new(constant(1).jitter(Jitter::None).max_tries(2));
    let mut service = tower::retry::Retry::new(policy, inner);
    assert_eq!(
        send(&mut service, request(Method::POST))
            .await
            .unwrap()
            .status(),
        500
    );
    assert_eq!(
        send(&mut service, request(Method::GET))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(seen.times(), [secs(0.0), secs(0.0)]);
}

/// `max_time` counts from before the first attempt, though tower asks the policy only after
/// it: each attempt here takes 250 ms, so a clock started at the first result would allow a
/// fourth attempt.
#[tokio::test(start_paused = true)]
async fn the_policys_max_time_counts_the_first_attempt() {
    let start = Instant::now();
    let seen = Seen::default();
    let log = seen.clone();
    let slow = tower::service_fn(move |req: Request<String>| {
        log.0
            .lock()
            .unwrap()
            .push((start.elapsed(), req.method().clone(), None));
        async {
            tokio::time::sleep(secs(0.25)).await;
            Ok::<_, Broken>(status(503))
        }
    });
    let policy = PolitePolicy::new(constant(1).jitter(Jitter::None).max_time(2.6));
    let mut service = tower::retry::Retry::new(policy, slow);
    assert_eq!(
        send(&mut service, request(Method::GET))
            .await
            .unwrap()
            .status(),
        503
    );
    // Ends at 0.25, 1.5 and 2.75 s: the third is past 2.6 s, so the run gives up.
    assert_eq!(seen.times(), [secs(0.0), secs(1.25), secs(2.5)]);
}

#[tokio::test(start_paused = true)]
async fn the_policy_draws_on_the_budget() {
    let budget = RetryBudget::new(1.0).min_per_sec(0.0);
    let (inner, seen) = server(vec![Ok(status(503)), Ok(status(503)), Ok(status(503))]);
    let policy = PolitePolicy::new(constant(1).jitter(Jitter::None).max_tries(5)).budget(&budget);
    let mut service = tower::retry::Retry::new(policy, inner);
    // The first attempt deposits one token: one retry, then the budget is spent.
    assert_eq!(
        send(&mut service, request(Method::GET))
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(seen.times(), [secs(0.0), secs(1.0)]);
}

#[test]
fn retry_budget_is_a_tower_budget() {
    use tower::retry::budget::Budget;
    fn withdraw(b: &impl Budget) -> bool {
        b.withdraw()
    }
    let budget = RetryBudget::new(0.5).min_per_sec(0.0);
    assert!(!withdraw(&budget));
    Budget::deposit(&budget);
    assert!(!withdraw(&budget)); // half a token
    Budget::deposit(&budget);
    assert!(withdraw(&budget));
    assert!(!withdraw(&budget));
    assert_eq!(budget.earned(), 0.0);
}

#[test]
fn fault_of_reads_io_errors() {
    use std::io;
    let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
    assert_eq!(Fault::of(&refused), Fault::Unsent);
    let reset = io::Error::from(io::ErrorKind::ConnectionReset);
    assert_eq!(Fault::of(&reset), Fault::Ambiguous);
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(refused);
    assert_eq!(Fault::of(boxed.as_ref()), Fault::Unsent);
}

/// `reqwest::Client` is a `Service<reqwest::Request>`: wrapped in a `service_fn` that converts
/// from and to `http` types, it runs under the layer, its errors read by `Fault::of`. On
/// loopback and the real clock (a few tens of milliseconds).
#[cfg(feature = "reqwest")]
#[tokio::test]
async fn reqwest_client_under_the_layer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        for answer in [
            "HTTP/1.1 503 Service Unavailable\r\nretry-after: 0\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
        ] {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "the client closed before its request ended");
                head.extend_from_slice(&buf[..n]);
            }
            socket.write_all(answer.as_bytes()).await.unwrap();
            socket.shutdown().await.unwrap();
        }
    });

    let client = reqwest::Client::new();
    let inner = tower::service_fn(move |req: Request<String>| {
        let client = client.clone();
        async move {
            let req = reqwest::Request::try_from(req)?;
            let response = client.execute(req).await?;
            Ok::<_, reqwest::Error>(Response::<reqwest::Body>::from(response))
        }
    });
    let layer = PoliteLayer::new(constant(0.01).jitter(Jitter::None).max_tries(3))
        .classify(|e: &reqwest::Error| Fault::of(e));
    let request = Request::get(format!("http://{addr}/status"))
        .body(String::new())
        .unwrap();
    let response = layer.layer(inner).oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.extensions().get::<Attempts>(), Some(&Attempts(2)));
    server.await.unwrap();
}
