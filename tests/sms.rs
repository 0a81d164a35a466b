//! The SMS client of `examples/sms.rs` against its embedded stand-in API, on loopback, with
//! short waits and a fast token bucket so each test takes well under a few seconds.

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

use sms::{Delivery, RetryPolicy, Settings, SmsClient, SmsError, Summary};
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
        timeout: Duration::from_secs(5),
    }
}

async fn setup(rate: f64, burst: u32) -> (StandIn, Arc<SmsClient>) {
    let (private, public) = key().clone();
    let server = StandIn::start(standin::Config {
        application_id: APPLICATION_ID.to_owned(),
        public_key_pem: public,
        rate,
        burst,
    })
    .await
    .unwrap();
    let client = SmsClient::new(settings(server.base_url(), private)).unwrap();
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
    let summary = Summary::new(&deliveries, client.stats(), start.elapsed());
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
