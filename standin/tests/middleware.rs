//! `politely`'s reqwest middleware against the stand-in Messages API on loopback, on the real
//! clock: paced POSTs land once each, a dropped connection is retried only when the request
//! carries an idempotency key, and under a fault mix (30 % accepted then dropped,
//! 10 % slow past the timeout, 10 % `500`, 5 % reset) every message lands exactly once with a
//! key, and without one no POST is sent again after an ambiguous failure (all counted on the
//! stand-in's side). The middleware's own tests, on tokio's paused clock, are backoff-core's
//! `tests/middleware.rs`.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use backoff_standin::{Fault, Faults};
use politely::Pacer;
use politely::middleware::reqwest_middleware::{
    ClientBuilder, ClientWithMiddleware, Middleware, RequestBuilder,
};
use politely::middleware::{Attempts, IdempotencyKey, PoliteMiddleware};
use politely::pace::under_limit;

use common::{APP, key, token};

// The stand-in Messages API, on the real clock.

async fn stand_in(rate: f64) -> backoff_standin::StandIn {
    stand_in_with_faults(rate, Faults::none()).await
}

async fn stand_in_with_faults(rate: f64, faults: Faults) -> backoff_standin::StandIn {
    backoff_standin::StandIn::start(backoff_standin::Config {
        application_id: APP.to_owned(),
        public_key_pem: key().1.clone(),
        enforce_limit: true,
        rate,
        burst: 1,
        retry_after: true,
        rate_headers: backoff_standin::RateHeaders::Off,
        rate_schedule: backoff_standin::RateSchedule::none(),
        faults,
    })
    .await
    .unwrap()
}

/// Message `i` as the SMS client POSTs it to the stand-in's `url`, signed with `token`.
fn post_message(client: &ClientWithMiddleware, url: &str, token: &str, i: usize) -> RequestBuilder {
    let body = serde_json::json!({
        "from": { "type": "sms", "number": "15550100" },
        "to": { "type": "sms", "number": format!("1555020{:04}", i) },
        "message": { "content": { "type": "text", "text": format!("hello {i}") } },
    });
    client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
}

fn real_client<W>(polite: PoliteMiddleware<W>) -> ClientWithMiddleware
where
    PoliteMiddleware<W>: Middleware,
{
    ClientBuilder::new(reqwest::Client::new())
        .with(polite)
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn told_the_rate_twenty_posts_at_once_all_land_once() {
    let server = stand_in(10.0).await;
    let polite = PoliteMiddleware::new(politely::expo().max_time(30))
        .pacer(Pacer::per_second(10.0))
        .idempotency_key(IdempotencyKey::Auto);
    let client = real_client(polite);
    let url = format!("{}/v0.1/messages", server.base_url());
    let token = token();
    let sends = (0..20).map(|i| post_message(&client, &url, &token, i).send());
    for response in futures_join_all(sends).await {
        assert_eq!(response.unwrap().status(), 202);
    }
    let stats = server.stats();
    assert_eq!((stats.delivered, stats.duplicates), (20, 0), "{stats:?}");
    assert_eq!(stats.max_deliveries_per_key, 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_retried_only_with_a_key() {
    let server = stand_in(1000.0).await;
    let url = format!("{}/v0.1/messages", server.base_url());
    let token = token();
    let policy = politely::constant(Duration::from_millis(10)).max_tries(4);
    let send = |client: &ClientWithMiddleware, i| post_message(client, &url, &token, i).send();
    // Without a key: the server may have it, so no second attempt.
    let plain = real_client(PoliteMiddleware::new(policy.clone()));
    server.drop_next_connections(1);
    let err = send(&plain, 1).await.unwrap_err();
    assert!(!err.is_connect(), "{err:?}");
    assert_eq!(server.stats().dropped_connections, 1);
    // With the middleware's key: retried until it lands, once.
    let keyed = real_client(PoliteMiddleware::new(policy).idempotency_key(IdempotencyKey::Auto));
    server.drop_next_connections(2);
    let response = send(&keyed, 2).await.unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(response.extensions().get::<Attempts>(), Some(&Attempts(3)));
    let stats = server.stats();
    assert_eq!(
        (stats.dropped_connections, stats.delivered),
        (3, 1),
        "{stats:?}"
    );
}

// The fault mix of scripts/compare.sh, shortened to run in seconds.

/// Messages per fault-mix test.
const MIX_COUNT: usize = 30;
/// The stand-in's limit in the fault-mix tests, requests/s (burst 1).
const MIX_RATE: f64 = 25.0;
/// The client's timeout per attempt: a slow reply comes after it, a normal one well before
/// (even with 20 copies of the test on two loaded cores).
const MIX_TIMEOUT: Duration = Duration::from_millis(1500);
/// The seed of the draws: the stand-in draws the same faults, in the same order, on every run
/// (which message meets which depends on the order the paced requests arrive in). For 30
/// messages sent once each it draws every kind: 10 accepted then dropped, 3 slow, 3 `500`, 2
/// reset, give or take the draw of a request refused 429.
const MIX_SEED: u64 = 7;

/// 30 % accepted then dropped, 10 % slow past the client's timeout, 10 % `500`, 5 % reset
/// before anything is done.
fn fault_mix() -> Faults {
    Faults::new(
        vec![
            Fault::AcceptThenDrop(0.3),
            Fault::Slow(0.1, MIX_TIMEOUT * 2),
            Fault::Status500(0.1),
            Fault::Reset(0.05),
        ],
        MIX_SEED,
    )
    .unwrap()
}

/// The client of the fault-mix tests: paced a margin under the stand-in's limit, short waits,
/// tries enough that a keyed message outlasts any run of faults the seed draws.
fn mix_client(key: IdempotencyKey) -> ClientWithMiddleware {
    let polite = PoliteMiddleware::new(politely::constant(Duration::from_millis(10)).max_tries(40))
        .pacer(Pacer::per_second(under_limit(MIX_RATE)))
        .idempotency_key(key);
    ClientBuilder::new(
        reqwest::Client::builder()
            .timeout(MIX_TIMEOUT)
            .build()
            .unwrap(),
    )
    .with(polite)
    .build()
}

/// Message `i`'s recipient.
fn recipient(i: usize) -> String {
    format!("1555020{:04}", i)
}

/// What the client got for each message, in order: the status, or the error.
async fn send_all(
    client: &ClientWithMiddleware,
    server: &backoff_standin::StandIn,
) -> Vec<Result<u16, politely::middleware::reqwest_middleware::Error>> {
    let url = format!("{}/v0.1/messages", server.base_url());
    let token = token();
    let sends = (0..MIX_COUNT).map(|i| post_message(client, &url, &token, i).send());
    futures_join_all(sends)
        .await
        .into_iter()
        .map(|out| out.map(|r| r.status().as_u16()))
        .collect()
}

/// The fault kinds the stand-in injected, each at least once: else the test proves nothing.
fn every_fault_met(stats: &backoff_standin::Stats) {
    let met = [
        stats.accept_then_drop,
        stats.slow,
        stats.status_500,
        stats.reset,
    ];
    assert!(met.iter().all(|n| *n >= 1), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_mix_with_a_key_every_message_lands_exactly_once() {
    let server = stand_in_with_faults(MIX_RATE, fault_mix()).await;
    let out = send_all(&mix_client(IdempotencyKey::Auto), &server).await;
    for (i, out) in out.iter().enumerate() {
        assert!(matches!(out, Ok(202)), "message {i}: {out:?}");
    }
    let stats = server.stats();
    every_fault_met(&stats);
    // Retried after the ambiguous failures too: the stand-in had the message already and
    // answered the key's original 202 again.
    assert!(stats.replayed >= 1, "{stats:?}");
    // On the server's side: none lost, none twice.
    assert_eq!(
        (
            stats.delivered,
            stats.duplicates,
            stats.max_deliveries_per_key
        ),
        (MIX_COUNT as u64, 0, 1),
        "{stats:?}"
    );
    let delivered: BTreeSet<String> = server.deliveries().into_iter().map(|d| d.to).collect();
    let sent: BTreeSet<String> = (0..MIX_COUNT).map(recipient).collect();
    assert_eq!(delivered, sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_mix_without_a_key_no_post_is_sent_again_after_an_ambiguous_failure() {
    let server = stand_in_with_faults(MIX_RATE, fault_mix()).await;
    let out = send_all(&mix_client(IdempotencyKey::Off), &server).await;
    let stats = server.stats();
    every_fault_met(&stats);
    // On the server's side: each message reached it once, plus once after each 429 (the
    // only answer that proves a POST was not processed). No second request followed a drop
    // after accepting, a slow reply, a reset or a `500`.
    assert_eq!(
        stats.requests,
        MIX_COUNT as u64 + stats.throttled,
        "{stats:?}"
    );
    assert_eq!(stats.duplicates, 0, "{stats:?}");
    // Delivered: all but those reset before anything was done and those answered 500.
    assert_eq!(
        stats.delivered,
        MIX_COUNT as u64 - stats.reset - stats.status_500,
        "{stats:?}"
    );
    // The client reports every ambiguous one as failed (an error, not a connection refused),
    // and the `500`s as answered.
    let errors: Vec<usize> = (0..MIX_COUNT).filter(|i| out[*i].is_err()).collect();
    for i in &errors {
        let e = out[*i].as_ref().unwrap_err();
        assert!(!e.is_connect(), "message {i}: {e:?}");
    }
    assert_eq!(
        errors.len() as u64,
        stats.accept_then_drop + stats.slow + stats.reset,
        "{out:?} {stats:?}"
    );
    let status = |code| {
        out.iter()
            .filter(|o| matches!(o, Ok(c) if *c == code))
            .count() as u64
    };
    assert_eq!(status(500), stats.status_500, "{out:?} {stats:?}");
    assert_eq!(
        status(202),
        MIX_COUNT as u64 - stats.accept_then_drop - stats.slow - stats.reset - stats.status_500,
        "{out:?} {stats:?}"
    );
    // Among the failed, the server holds exactly those accepted then dropped or slow: the
    // client cannot tell, and did not send them again.
    let delivered: BTreeSet<String> = server.deliveries().into_iter().map(|d| d.to).collect();
    let failed_but_delivered = errors
        .iter()
        .filter(|i| delivered.contains(&recipient(**i)))
        .count() as u64;
    assert_eq!(
        failed_but_delivered,
        stats.accept_then_drop + stats.slow,
        "{out:?} {stats:?}"
    );
}

/// Runs the futures at once (no `futures` dependency): one task each.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}
