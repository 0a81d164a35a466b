//! The reqwest middleware's goals against a rate-limited server, on tokio's paused clock: 60
//! POSTs fired at once at a server that lets 1 request/s through (burst 1) and answers 429
//! beyond it (the shared GCRA test double, `backoff-testkit`), with an `Idempotency-Key` on
//! each. Told the rate: at most 1.05 times the 59 s the limit allows and at most 2 responses
//! 429. Not told (an adaptive pacer; the server sends no `Retry-After` and no rate headers,
//! as nginx's `limit_req` does): at most 1.15 times, at most 10 % of the requests refused.
//! Every message delivered exactly once, checked on the server's side.
#![cfg(feature = "reqwest-middleware")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backoff_core::middleware::reqwest_middleware::{
    self, ClientBuilder, ClientWithMiddleware, Middleware, Next,
};
use backoff_core::middleware::{IdempotencyKey, PoliteMiddleware};
use backoff_core::{Pacer, wait::Expo};
use backoff_testkit::{Bucket, RateSchedule, ceil_secs};
use http::Extensions;
use reqwest::{Request, Response};
use tokio::time::Instant;

/// The server: a 1/s bucket of depth 1 in front of an API that accepts everything.
#[derive(Clone)]
struct Limited {
    bucket: Arc<Mutex<Bucket>>,
    retry_after: bool,
    tally: Arc<Mutex<Tally>>,
}

#[derive(Default)]
struct Tally {
    requests: u32,
    refused: u32,
    /// Deliveries per idempotency key.
    delivered: HashMap<String, u32>,
    last: Duration,
}

#[async_trait::async_trait]
impl Middleware for Limited {
    async fn handle(
        &self,
        req: Request,
        _: &mut Extensions,
        _: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let now = Instant::now().into_std();
        let decision = self.bucket.lock().unwrap().take(now);
        let mut tally = self.tally.lock().unwrap();
        tally.requests += 1;
        tally.last = decision.since_first;
        let mut answer = http::Response::builder();
        if decision.admitted {
            let key = req
                .headers()
                .get("idempotency-key")
                .map(|v| v.to_str().unwrap().to_owned())
                .expect("every POST carries a key");
            *tally.delivered.entry(key).or_default() += 1;
            answer = answer.status(202);
        } else {
            tally.refused += 1;
            answer = answer.status(429);
            if self.retry_after {
                answer = answer.header("retry-after", ceil_secs(decision.next_token).to_string());
            }
        }
        Ok(answer.body("").unwrap().into())
    }
}

const N: usize = 60;
/// What the limit allows for 60 requests at 1/s, burst 1: the first at 0 s, the last at 59 s.
const LIMIT: f64 = 59.0;

/// Fires 60 POSTs at once through `polite` at the server; returns the server's tally.
async fn batch(polite: PoliteMiddleware<Expo>, retry_after: bool) -> Tally {
    let server = Limited {
        bucket: Arc::new(Mutex::new(Bucket::new(1.0, 1, &RateSchedule::none()))),
        retry_after,
        tally: Arc::default(),
    };
    let client: ClientWithMiddleware = ClientBuilder::new(reqwest::Client::new())
        .with(polite)
        .with(server.clone())
        .build();
    let sends: Vec<_> = (0..N)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .post("http://api.test/v1/messages")
                    .body(format!("message {i}"))
                    .send()
                    .await
            })
        })
        .collect();
    for send in sends {
        assert_eq!(send.await.unwrap().unwrap().status(), 202);
    }
    std::mem::take(&mut *server.tally.lock().unwrap())
}

/// Nothing lost, nothing delivered twice.
fn each_once(tally: &Tally) {
    assert_eq!(tally.delivered.len(), N, "messages delivered");
    assert!(
        tally.delivered.values().all(|&n| n == 1),
        "a message delivered twice"
    );
}

#[tokio::test(start_paused = true)]
async fn told_the_rate_keeps_to_the_limit() {
    let polite = PoliteMiddleware::new(backoff_core::expo().max_time(300))
        .pacer(Pacer::per_second(1.0))
        .idempotency_key(IdempotencyKey::Auto);
    let tally = batch(polite, true).await;
    each_once(&tally);
    let elapsed = tally.last.as_secs_f64();
    eprintln!(
        "told the rate: {elapsed:.1} s ({:.3}x), {} requests, {} refused",
        elapsed / LIMIT,
        tally.requests,
        tally.refused
    );
    assert!(elapsed <= 1.05 * LIMIT, "{elapsed} s");
    assert!(tally.refused <= 2, "{} responses 429", tally.refused);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_limit_is_learned_without_retry_after() {
    let polite = PoliteMiddleware::new(backoff_core::expo().max_time(300))
        .pacer(Pacer::adaptive())
        .idempotency_key(IdempotencyKey::Auto);
    let tally = batch(polite, false).await;
    each_once(&tally);
    let elapsed = tally.last.as_secs_f64();
    eprintln!(
        "adaptive: {elapsed:.1} s ({:.3}x), {} requests, {} refused",
        elapsed / LIMIT,
        tally.requests,
        tally.refused
    );
    assert!(elapsed <= 1.15 * LIMIT, "{elapsed} s");
    assert!(
        f64::from(tally.refused) <= 0.10 * f64::from(tally.requests),
        "{} of {} refused",
        tally.refused,
        tally.requests
    );
}
