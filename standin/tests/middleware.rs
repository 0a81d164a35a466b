//! `politely`'s reqwest middleware against the stand-in Messages API on loopback, on the real
//! clock: paced POSTs land once each, and a dropped connection is retried only when the request
//! carries an idempotency key (counted on the stand-in's side). The middleware's own tests, on
//! tokio's paused clock, are backoff-core's `tests/middleware.rs`.

mod common;

use std::time::Duration;

use politely::Pacer;
use politely::middleware::reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware};
use politely::middleware::{Attempts, IdempotencyKey, PoliteMiddleware};

use common::{APP, key, token};

// The stand-in Messages API, on the real clock.

async fn stand_in(rate: f64) -> backoff_standin::StandIn {
    backoff_standin::StandIn::start(backoff_standin::Config {
        application_id: APP.to_owned(),
        public_key_pem: key().1.clone(),
        enforce_limit: true,
        rate,
        burst: 1,
        retry_after: true,
        rate_headers: backoff_standin::RateHeaders::Off,
        rate_schedule: backoff_standin::RateSchedule::none(),
        faults: backoff_standin::Faults::none(),
    })
    .await
    .unwrap()
}

fn message(i: usize) -> String {
    serde_json::json!({
        "from": { "type": "sms", "number": "15550100" },
        "to": { "type": "sms", "number": format!("1555020{:04}", i) },
        "message": { "content": { "type": "text", "text": format!("hello {i}") } },
    })
    .to_string()
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
    let sends = (0..20).map(|i| {
        client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(message(i))
            .send()
    });
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
    let send = |client: &ClientWithMiddleware, i| {
        client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(message(i))
            .send()
    };
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
