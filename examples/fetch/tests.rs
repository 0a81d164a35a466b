//! The example's `run` against the stand-in Messages API on loopback, and its command line's
//! errors.

use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use indicatif::ProgressBar;

use super::{Args, run};

const APP: &str = "11111111-2222-4333-8444-555555555555";

/// A stand-in at `rate` requests/s, burst 1, and a bearer token it accepts.
async fn stand_in(rate: f64) -> (backoff_standin::StandIn, String) {
    let private = backoff_standin::generate_private_key_pem_with_bits(1024).unwrap();
    let public = backoff_standin::public_key_pem(&private).unwrap();
    let server = backoff_standin::StandIn::start(backoff_standin::Config {
        application_id: APP.to_owned(),
        public_key_pem: public,
        enforce_limit: true,
        rate,
        burst: 1,
        retry_after: true,
        rate_headers: backoff_standin::RateHeaders::Off,
        rate_schedule: backoff_standin::RateSchedule::none(),
        faults: backoff_standin::Faults::none(),
    })
    .await
    .unwrap();
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &serde_json::json!({ "application_id": APP, "iat": iat, "exp": iat + 600, "jti": "j" }),
        &jsonwebtoken::EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
    )
    .unwrap();
    (server, token)
}

const MESSAGE: &str = r#"{"from":{"type":"sms","number":"15550100"},"to":{"type":"sms","number":"155502{i}00"},"message":{"content":{"type":"text","text":"hello {i}"}}}"#;

fn args(list: &[&str]) -> Result<Args, clap::Error> {
    Args::try_parse_from(std::iter::once("fetch").chain(list.iter().copied()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_posts_at_ten_a_second_land_once_each() {
    let (server, token) = stand_in(10.0).await;
    let url = format!("{}/v0.1/messages", server.base_url());
    let auth = format!("Authorization: Bearer {token}");
    let args = args(&[
        "--method",
        "POST",
        "--data",
        MESSAGE,
        "--header",
        &auth,
        "--header",
        "Content-Type: application/json",
        "--count",
        "20",
        "--rate",
        "10",
        "--idempotency-key",
        "auto",
        "--max-time",
        "30",
        &url,
    ])
    .unwrap();
    let summary = run(&args, ProgressBar::hidden()).await.unwrap();
    assert_eq!((summary.ok, summary.failed), (20, 0), "{summary:?}");
    assert!(summary.attempts >= 20, "{summary:?}");
    let stats = server.stats();
    assert_eq!((stats.delivered, stats.duplicates), (20, 0), "{stats:?}");
    assert_eq!(summary.attempts, stats.requests, "{summary:?} {stats:?}");
    assert_eq!(summary.status_429, stats.throttled, "{summary:?} {stats:?}");
    // Paced a margin under 10/s, 105 ms apart: the 20th starts 1.995 s after the first (at
    // exactly 10/s it would be 1.9 s).
    assert!(summary.elapsed.as_secs_f64() >= 1.99, "{summary:?}");

    let line = summary.line();
    let fields: Vec<&str> = line.strip_prefix("summary: ").unwrap().split(' ').collect();
    let names: Vec<&str> = fields
        .iter()
        .map(|f| f.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["ok", "failed", "attempts", "status_429", "elapsed_s"],
        "{line}"
    );
    assert!(
        line.starts_with("summary: ok=20 failed=0 attempts="),
        "{line}"
    );
    let elapsed = fields[4].strip_prefix("elapsed_s=").unwrap();
    assert!(elapsed.parse::<f64>().is_ok(), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_fails_and_is_counted() {
    // A loopback port nobody listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let args = args(&["--max-time", "1", "--count", "2", &url]).unwrap();
    let summary = run(&args, ProgressBar::hidden()).await.unwrap();
    assert_eq!((summary.ok, summary.failed), (0, 2), "{summary:?}");
    assert!(summary.attempts >= 2, "{summary:?}");
}

#[test]
fn rate_and_adaptive_conflict() {
    let err = args(&["--rate", "1", "--adaptive", "http://127.0.0.1/"]).unwrap_err();
    assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    let err = args(&["--burst", "2", "http://127.0.0.1/"]).unwrap_err();
    assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    assert!(args(&["--rate", "0", "http://127.0.0.1/"]).is_err());
    assert!(args(&["--count", "0", "http://127.0.0.1/"]).is_err());
}

#[tokio::test(flavor = "current_thread")]
async fn bad_input_is_an_error_message() {
    let bad = |list: &[&str]| {
        let args = args(list).unwrap();
        async move { run(&args, ProgressBar::hidden()).await.unwrap_err() }
    };
    let e = bad(&["--header", "no colon", "http://127.0.0.1/"]).await;
    assert!(e.contains("expected 'Name: value'"), "{e}");
    let e = bad(&["--header", "bad name: v", "http://127.0.0.1/"]).await;
    assert!(e.contains("bad name"), "{e}");
    let e = bad(&["not a url"]).await;
    assert!(e.starts_with("URL"), "{e}");
    let e = bad(&["--method", "GE T", "http://127.0.0.1/"]).await;
    assert!(e.starts_with("--method"), "{e}");
    let e = bad(&[
        "--client",
        "reqwest-retry",
        "--rate",
        "1",
        "http://127.0.0.1/",
    ])
    .await;
    assert!(e.contains("--client politely"), "{e}");
    let e = bad(&["--redis", "redis://127.0.0.1/", "http://127.0.0.1/"]).await;
    assert!(e.contains("--rate R or --adaptive"), "{e}");
    #[cfg(not(feature = "redis"))]
    {
        let e = bad(&[
            "--redis",
            "redis://127.0.0.1/",
            "--rate",
            "1",
            "http://127.0.0.1/",
        ])
        .await;
        assert!(e.contains("`redis` feature"), "{e}");
    }
}

/// Two clients, as two `fetch` processes would be, sharing one pace through Redis.
#[cfg(feature = "redis")]
mod shared_through_redis {
    use std::time::{Duration, Instant};

    use politely::Pacer;
    use politely::middleware::reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
    use politely::middleware::{IdempotencyKey, PoliteMiddleware};
    use politely::pace::under_limit;

    use super::*;

    const HOW: &str = "set REDIS_URL=redis://127.0.0.1:6379/ with a redis-server running \
                       (bash .ci/run starts one)";

    /// Outside CI a missing Redis skips the test with one line; under `CI=true` it fails.
    fn redis_url() -> Option<String> {
        backoff_testkit::services::redis_url("fetch", HOW)
    }

    /// A budget name no other test (or earlier run) uses.
    fn fresh(name: &str) -> String {
        backoff_testkit::services::fresh(&format!("fetch-{name}"))
    }

    /// One of the pair as `fetch --rate 10 --redis URL --redis-key K --idempotency-key auto`
    /// builds it, its connection to Redis made (a paced `GET /stats`, which the stand-in does
    /// not count): the pair is judged on the pace it shares, not on how long 20 copies of the
    /// test take to connect (the pacer paces locally while Redis takes over 200 ms).
    async fn warm_client(redis: &str, budget: &str, base: &str) -> ClientWithMiddleware {
        let pacer = Pacer::redis(redis, budget, under_limit(10.0), Duration::from_secs(1)).unwrap();
        let polite = PoliteMiddleware::new(politely::expo().max_time(Duration::from_secs(30)))
            .pacer(pacer)
            .idempotency_key(IdempotencyKey::Auto);
        let client = ClientBuilder::new(reqwest::Client::new())
            .with(polite)
            .build();
        let stats = client.get(format!("{base}/stats")).send().await.unwrap();
        assert_eq!(stats.status(), 200);
        client
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_clients_told_the_rate_share_it_through_one_redis_key() {
        let Some(redis) = redis_url() else { return };
        let (server, token) = stand_in(10.0).await;
        let base = server.base_url();
        let url = format!("{base}/v0.1/messages");
        let budget = fresh("pair");
        let clients = [
            warm_client(&redis, &budget, &base).await,
            warm_client(&redis, &budget, &base).await,
        ];
        let start = Instant::now();
        let sends: Vec<_> = (0..40)
            .map(|i| {
                let body = MESSAGE.replace("{i}", &i.to_string());
                let send = clients[i % 2]
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send();
                tokio::spawn(async move { send.await.map(|r| r.status()) })
            })
            .collect();
        for send in sends {
            assert_eq!(send.await.unwrap().unwrap(), 202);
        }
        let elapsed = start.elapsed().as_secs_f64();
        let stats = server.stats();
        assert_eq!(
            (
                stats.delivered,
                stats.duplicates,
                stats.max_deliveries_per_key
            ),
            (40, 0, 1),
            "{stats:?}"
        );
        // Each client alone would pace at 9.5/s: together 19/s against a limit of 10/s, 19
        // or 20 requests at the stand-in in the first second (and about 20 refused). Sharing
        // one budget, the pair sends 10 in it (slots 105 ms apart from the first): a request
        // woken late only moves out of it.
        let first_second = stats.arrivals.iter().filter(|r| r.t_s < 1.0).count();
        assert!(first_second <= 11, "{first_second} {stats:?}");
        // Refusals: 0 or 1 when the machine is quiet. Not asserted: with 20 copies of this
        // test on two loaded cores some runs saw a few (slots missed by late wake-ups); the
        // bound is judged on a quiet run by `scripts/compare.sh pair`.
        // 40 paced a margin under 10/s after the two warm-up slots: the last starts 39 x
        // 105 ms after the first.
        assert!(elapsed >= 4.0, "{elapsed} {stats:?}");
    }
}
