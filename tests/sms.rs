//! The SMS client of `examples/sms.rs` against its embedded stand-in API, on loopback, with
//! short waits and a fast token bucket so each test takes well under a few seconds.
//!
//! Most exercise the backoff-only client (no pacing, `Retry-After` ignored); the last ones
//! `Retry-After` and each client's own pacer. The paced run's figures against the rate limit
//! are checked in `tests/pacing_sms.rs`.

#[allow(dead_code)]
#[path = "../examples/common/sms.rs"]
mod sms;
#[allow(dead_code)]
#[path = "../examples/common/standin.rs"]
mod standin;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use sms::{Delivery, Pacing, RetryPolicy, Settings, SmsClient, SmsError, Summary};
use standin::StandIn;

const APPLICATION_ID: &str = "11111111-2222-4333-8444-555555555555";
const ONCALL: &str = "447700900999";

/// One key pair for the whole test binary: (private PEM, public PEM).
fn key() -> &'static (String, String) {
    static KEY: OnceLock<(String, String)> = OnceLock::new();
    KEY.get_or_init(|| {
        let private = standin::generate_private_key_pem().unwrap();
        let public = standin::public_key_pem(&private).unwrap();
        (private, public)
    })
}

fn settings(base_url: String, private_key_pem: String) -> Settings {
    Settings {
        base_url,
        application_id: APPLICATION_ID.to_owned(),
        private_key_pem,
        from: "447700900000".to_owned(),
        oncall: ONCALL.to_owned(),
        retry: RetryPolicy {
            factor: Duration::from_millis(10),
            max_value: Duration::from_millis(200),
            max_time: Duration::from_secs(10),
        },
        pacing: Pacing::Off,
        honour_retry_after: false,
        timeout: Duration::from_secs(5),
    }
}

async fn setup(rate: f64, burst: u32) -> (StandIn, Arc<SmsClient>) {
    setup_with(rate, burst, true, |_| {}).await
}

/// A stand-in (sending `Retry-After` on 429 or not) and a client with adjusted settings.
async fn setup_with(
    rate: f64,
    burst: u32,
    server_sends_retry_after: bool,
    adjust: impl FnOnce(&mut Settings),
) -> (StandIn, Arc<SmsClient>) {
    let (private, public) = key().clone();
    let server = StandIn::start(standin::Config {
        application_id: APPLICATION_ID.to_owned(),
        public_key_pem: public,
        rate,
        burst,
        retry_after: server_sends_retry_after,
    })
    .await
    .unwrap();
    let mut s = settings(server.base_url(), private);
    adjust(&mut s);
    let client = SmsClient::new(s).unwrap();
    (server, Arc::new(client))
}

fn numbers(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("4477009{i:05}")).collect()
}

async fn send(client: &Arc<SmsClient>, to: &[String]) -> (Vec<Delivery>, Summary) {
    let start = Instant::now();
    let mut done = 0;
    let deliveries = sms::send_batch(client, to, "hello from the tests", to.len(), |_| {
        done += 1;
    })
    .await;
    assert_eq!(done, to.len(), "on_done once per recipient");
    let summary = Summary::new(&deliveries, client, start.elapsed());
    // Nothing is lost: one delivery per recipient, in order.
    assert_eq!(
        deliveries.iter().map(|d| d.to.as_str()).collect::<Vec<_>>(),
        to.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(summary.sent + summary.gave_up, to.len());
    (deliveries, summary)
}

fn load(a: &std::sync::atomic::AtomicU64) -> u64 {
    a.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_sent_with_verified_jwts() {
    let (server, client) = setup(200.0, 20).await;
    let to = numbers(6);
    let (deliveries, summary) = send(&client, &to).await;

    assert!(
        deliveries.iter().all(|d| d.result.is_ok()),
        "{deliveries:?}"
    );
    let accepted = server.accepted();
    assert_eq!(accepted.len(), to.len());
    assert!(accepted.values().all(|ids| ids.len() == 1));
    for d in &deliveries {
        assert_eq!(d.result.as_ref().ok(), accepted[&d.to].first());
    }
    let c = server.counters();
    assert_eq!(load(&c.jwt_verified), to.len() as u64);
    assert_eq!(load(&c.jwt_rejected), 0);
    assert_eq!(load(&c.requests), summary.attempts);
    assert!(server.calls().is_empty());
    assert!(
        summary
            .to_string()
            .starts_with("summary: sent=6 of 6 attempts=6 rejected_429=0 gave_up=0 elapsed_s="),
        "{summary}"
    );
    assert!(
        summary
            .to_string()
            .ends_with(" pacing=off retry_after=ignored"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_is_a_fresh_rs256_application_token() {
    let (_server, client) = setup(200.0, 20).await;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_required_spec_claims(&["exp", "iat", "jti"]);
    let public = DecodingKey::from_rsa_pem(key().1.as_bytes()).unwrap();
    let mut ids = HashSet::new();
    for _ in 0..3 {
        let token = client.token().unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        let claims = jsonwebtoken::decode::<Value>(&token, &public, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims["application_id"], APPLICATION_ID);
        let (iat, exp) = (
            claims["iat"].as_u64().unwrap(),
            claims["exp"].as_u64().unwrap(),
        );
        assert_eq!(exp - iat, 15 * 60);
        ids.insert(claims["jti"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 3, "each token has its own jti");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_requests_are_retried() {
    let (server, client) = setup(25.0, 1).await;
    let to = numbers(8);
    let (deliveries, summary) = send(&client, &to).await;

    assert!(
        deliveries.iter().all(|d| d.result.is_ok()),
        "{deliveries:?}"
    );
    let stats = client.stats();
    assert!(stats.rejected_429 > 0, "{stats:?}");
    assert_eq!(stats.rejected_429, load(&server.counters().throttled));
    assert_eq!(stats.attempts, stats.sent + stats.rejected_429);
    assert_eq!(stats.backoffs, stats.rejected_429, "one wait per 429");
    assert_eq!(summary.rejected_429, stats.rejected_429);
    assert_eq!(summary.gave_up, 0);
    assert_eq!(server.accepted().len(), to.len());
    // 8 messages through a 25/s bucket of depth 1.
    assert!(summary.elapsed >= Duration::from_millis(250), "{summary}");
    assert!(summary.elapsed < Duration::from_secs(5), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_and_500s_are_retried() {
    let (server, client) = setup(200.0, 20).await;
    server.drop_next_connections(2);
    server.fail_next_requests(3);
    let to = numbers(5);
    let (deliveries, summary) = send(&client, &to).await;

    assert!(
        deliveries.iter().all(|d| d.result.is_ok()),
        "{deliveries:?}"
    );
    let c = server.counters();
    let stats = client.stats();
    assert_eq!(load(&c.dropped_connections), 2);
    assert_eq!(load(&c.server_errors), 3);
    assert_eq!(stats.connection_errors, 2, "{stats:?}");
    assert_eq!(stats.server_errors, 3, "{stats:?}");
    assert_eq!(stats.attempts, 5 + 2 + 3);
    assert_eq!(summary.gave_up, 0);
    assert!(server.calls().is_empty());
    assert_eq!(server.accepted().len(), to.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_request_gives_up_at_once_and_calls_oncall() {
    let (server, client) = setup(200.0, 20).await;
    let to = vec![
        "447700900001".to_owned(),
        "not-a-number".to_owned(),
        "447700900002".to_owned(),
    ];
    let (deliveries, summary) = send(&client, &to).await;

    assert!(deliveries[0].result.is_ok() && deliveries[2].result.is_ok());
    assert!(
        matches!(
            &deliveries[1].result,
            Err(SmsError::Rejected { status: 400, .. })
        ),
        "{:?}",
        deliveries[1]
    );
    assert_eq!(summary.sent, 2);
    assert_eq!(summary.gave_up, 1);
    assert!(summary.to_string().contains(" gave_up=1 "), "{summary}");
    assert_eq!(load(&server.counters().bad_requests), 1);

    // Given up at once: one attempt, no wait.
    let gave_up = client.gave_up();
    assert_eq!(gave_up.len(), 1);
    assert_eq!(gave_up[0].to, "not-a-number");
    assert_eq!(gave_up[0].tries, 1);
    assert_eq!(client.stats().backoffs, 0);
    assert_eq!(client.stats().gave_up, 1);

    // The on-call engineer was called through the Voice API.
    let call_id = gave_up[0].call.as_ref().expect("the call was placed");
    assert!(!call_id.is_empty());
    let calls = server.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["to"][0]["number"], ONCALL);
    assert_eq!(calls[0]["ncco"][0]["action"], "talk");
    let said = calls[0]["ncco"][0]["text"].as_str().unwrap();
    assert!(
        said.contains("not-a-number") && said.contains("after 1 attempts"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_from_another_key_is_rejected_at_once() {
    let (server, _) = setup(200.0, 20).await;
    let other = standin::generate_private_key_pem().unwrap();
    let client = Arc::new(SmsClient::new(settings(server.base_url(), other)).unwrap());
    let to = numbers(1);
    let (deliveries, summary) = send(&client, &to).await;

    assert!(
        matches!(
            &deliveries[0].result,
            Err(SmsError::Rejected { status: 401, .. })
        ),
        "{deliveries:?}"
    );
    assert_eq!(summary.attempts, 1);
    let c = server.counters();
    assert_eq!(load(&c.jwt_verified), 0);
    // The message and the (equally unauthorised) call to on-call.
    assert_eq!(load(&c.jwt_rejected), 2);
    let gave_up = client.gave_up();
    assert!(
        matches!(gave_up[0].call, Err(SmsError::Rejected { status: 401, .. })),
        "{gave_up:?}"
    );
    assert!(server.accepted().is_empty() && server.calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_is_retried_until_max_time_then_given_up() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut s = settings(format!("http://127.0.0.1:{port}"), key().0.clone());
    s.retry.max_time = Duration::from_secs(1);
    s.retry.max_value = Duration::from_millis(50);
    let client = Arc::new(SmsClient::new(s).unwrap());
    let (deliveries, summary) = send(&client, &numbers(2)).await;

    assert!(
        deliveries
            .iter()
            .all(|d| matches!(d.result, Err(SmsError::Connection(_)))),
        "{deliveries:?}"
    );
    assert_eq!(summary.gave_up, 2);
    let stats = client.stats();
    assert_eq!(stats.connection_errors, stats.attempts);
    for g in client.gave_up() {
        assert!(g.tries >= 3 && g.elapsed >= Duration::from_secs(1), "{g:?}");
        assert!(matches!(g.call, Err(SmsError::Connection(_))), "{g:?}");
    }
    assert!(summary.elapsed < Duration::from_secs(4), "{summary}");
}

/// Two messages at once through a bucket of 1/s, burst 1: the second is answered 429 with
/// `Retry-After: 1`.
async fn two_through_one_per_second(
    server_sends_retry_after: bool,
    adjust: impl FnOnce(&mut Settings),
) -> (StandIn, Arc<SmsClient>, Summary) {
    let (server, client) = setup_with(1.0, 1, server_sends_retry_after, adjust).await;
    let (deliveries, summary) = send(&client, &numbers(2)).await;
    assert!(
        deliveries.iter().all(|d| d.result.is_ok()),
        "{deliveries:?}"
    );
    (server, client, summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_replaces_the_generators_wait() {
    // The generator alone would retry after at most 10 ms, 20 ms, 40 ms...
    let (server, client, summary) = two_through_one_per_second(true, |s| {
        s.honour_retry_after = true;
        s.retry.max_value = Duration::from_secs(5);
    })
    .await;
    let stats = client.stats();
    assert_eq!(stats.rejected_429, 1, "{stats:?}");
    assert_eq!((stats.backoffs, stats.server_waits), (1, 1), "{stats:?}");
    // Exactly the server's second: not jittered.
    assert_eq!(stats.waited, Duration::from_secs(1), "{stats:?}");
    assert!(summary.elapsed >= Duration::from_secs(1), "{summary}");
    assert!(summary.elapsed < Duration::from_secs(3), "{summary}");
    assert!(
        summary.to_string().ends_with(" retry_after=honoured"),
        "{summary}"
    );
    assert_eq!(load(&server.counters().throttled), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_retry_after_the_generator_waits() {
    let (_server, client, _) = two_through_one_per_second(false, |s| {
        s.honour_retry_after = true;
        s.retry.max_value = Duration::from_secs(5);
    })
    .await;
    let stats = client.stats();
    // Waits of at most 10 ms, 20 ms, 40 ms... cannot cover the second the bucket needs at once.
    assert!(stats.rejected_429 >= 2, "{stats:?}");
    assert_eq!(stats.server_waits, 0, "{stats:?}");
    assert_eq!(stats.backoffs, stats.rejected_429, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_can_be_ignored() {
    let (server, client, summary) = two_through_one_per_second(true, |s| {
        s.honour_retry_after = false;
        s.retry.max_value = Duration::from_secs(5);
    })
    .await;
    let stats = client.stats();
    assert!(stats.rejected_429 >= 2, "{stats:?}");
    assert_eq!(stats.server_waits, 0, "{stats:?}");
    assert_eq!(load(&server.counters().throttled), stats.rejected_429);
    assert!(
        summary.to_string().ends_with(" retry_after=ignored"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_capped_by_max_value() {
    // The generator's waits would be jittered below 300 ms; the server's second is cut to
    // exactly 300 ms, each time.
    let (_server, client, summary) = two_through_one_per_second(true, |s| {
        s.honour_retry_after = true;
        s.retry.factor = Duration::from_secs(5);
        s.retry.max_value = Duration::from_millis(300);
    })
    .await;
    let stats = client.stats();
    assert!((3..=5).contains(&stats.rejected_429), "{stats:?}");
    assert_eq!(stats.server_waits, stats.backoffs, "{stats:?}");
    assert_eq!(
        stats.waited,
        Duration::from_millis(300) * u32::try_from(stats.backoffs).unwrap(),
        "{stats:?}"
    );
    assert!(summary.elapsed < Duration::from_secs(2), "{summary}");
}

#[test]
fn rate_limited_error_carries_retry_after() {
    let e = SmsError::RateLimited {
        retry_after: Some(Duration::from_secs(2)),
    };
    assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(e.to_string(), "429 Too Many Requests (Retry-After: 2 s)");
    assert_eq!(SmsError::Connection("reset".to_owned()).retry_after(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_modes() {
    let (_s1, off) = setup(200.0, 20).await;
    assert_eq!(off.pacing(), Pacing::Off);
    assert_eq!(off.pace_interval(), None, "Off paces nothing");
    let (_s2, on) = setup_with(200.0, 20, true, |s| {
        s.pacing = Pacing::To {
            rate: 10.0,
            headroom: 0.02,
        };
    })
    .await;
    let every = on.pace_interval().unwrap().as_secs_f64();
    assert!((every - 0.1 / 0.98).abs() < 1e-6, "{every}");
    assert_eq!(on.pacing().to_string(), "9.800/s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_client_has_its_own_pacer() {
    // Two APIs, each 10/s with burst 1, each with its own client paced to it: at the same
    // time, each batch takes its own ~0.9 s. One pacer shared by both (`rate = ...` on the
    // method would be) would let each have half the rate: ~1.8 s.
    let paced = |s: &mut Settings| {
        s.pacing = Pacing::To {
            rate: 10.0,
            headroom: 0.02,
        };
        s.honour_retry_after = true;
    };
    let (_a, client_a) = setup_with(10.0, 1, true, paced).await;
    let (_b, client_b) = setup_with(10.0, 1, true, paced).await;
    let to = numbers(10);
    let ((_, a), (_, b)) = tokio::join!(send(&client_a, &to), send(&client_b, &to));
    for summary in [a, b] {
        assert_eq!(summary.sent, 10, "{summary}");
        assert!(summary.elapsed >= Duration::from_millis(900), "{summary}");
        assert!(summary.elapsed < Duration::from_millis(1500), "{summary}");
    }
}
