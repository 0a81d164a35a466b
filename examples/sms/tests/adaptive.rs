//! `--adaptive`: the client paces on a rate it learns (`Pacer::adaptive()`, told each
//! attempt's status and fields through `observe`), not on the stand-in's `--rate`. Short
//! batches on the real clock, each checked against the server's own counts; the goals'
//! figures are `scripts/adaptive.sh`'s (and `tests/adaptive.rs`'s, on the paused clock).

use std::sync::Arc;
use std::time::Duration;

use backoff_standin::{self as standin, StandIn};
use politely::{Feedback, Hints, RateFeedback};

use super::{key, numbers, send, settings, shared, standin_config};
use crate::client::{Pacing, Sent, Sms, SmsClient, SmsError};

/// A stand-in at `rate`/s, burst 1, with `Retry-After` and the given rate headers, and an
/// adaptive client for it.
async fn adaptive(rate: f64, headers: standin::RateHeaders) -> (StandIn, Arc<SmsClient>) {
    let server = StandIn::start(standin::Config {
        rate_headers: headers,
        ..standin_config(rate, 1, true)
    })
    .await
    .unwrap();
    let mut s = settings(server.base_url(), key().0.clone());
    s.pacing = Pacing::Adaptive;
    s.honour_retry_after = true;
    s.retry.max_time = Duration::from_secs(30);
    s.retry.max_value = Duration::from_secs(2);
    let client = SmsClient::new(s).unwrap();
    (server, Arc::new(client))
}

/// What an adaptive client has learned from one message's answer.
async fn learned_from_one(headers: standin::RateHeaders) -> Option<f64> {
    let (_server, client) = adaptive(5.0, headers).await;
    client
        .send_sms(&Sms::new("447700900998", "alone"))
        .await
        .unwrap();
    client.learned_rate()
}

/// Sends `n` messages fired at once and checks the batch against the server's own counts:
/// every message on the server once (none lost, none doubled), and the client's 429s are the
/// server's.
async fn batch(server: &StandIn, client: &Arc<SmsClient>, n: usize) -> String {
    let (deliveries, summary) = send(Some(server), client, &numbers(n)).await;
    let st = server.stats();
    let report = format!("{summary}\n{st:?}");
    assert!(deliveries.iter().all(|d| d.result.is_ok()), "{report}");
    assert_eq!((st.delivered, st.duplicates), (n as u64, 0), "{report}");
    assert_eq!(st.requests, summary.attempts, "{report}");
    assert_eq!(st.throttled, summary.rejected_429, "{report}");
    assert!(
        summary.to_string().contains(" pacing=adaptive "),
        "{report}"
    );
    // Paced, not fired: ten fired at once at burst 1 would see nine 429s in the first
    // round alone, and more on each round of retries.
    assert!(st.throttled < n as u64, "{report}");
    report
}

/// At 5/s with no rate headers, the pacer has only 429s and `Retry-After` to learn from: one
/// accepted answer proves nothing (the first guess, 1/s, stays), and the batch goes through
/// at a rate learned (a fixed pacer has none). The figures are timing's: not asserted here
/// (a loaded machine delays arrivals; `scripts/adaptive.sh` measures them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_batch_sends_each_message_once() {
    let _running = shared().await;
    assert_eq!(learned_from_one(standin::RateHeaders::Off).await, Some(1.0));
    let (server, client) = adaptive(5.0, standin::RateHeaders::Off).await;
    let report = batch(&server, &client, 10).await;
    assert!(client.learned_rate().is_some(), "{report}");
}

/// With `RateLimit-Policy` on every answer, the first 202 tells the pacer the limit: its
/// rate is the stated 5/s at once (without the fields, still the first guess, 1/s), so the
/// feedback carried the answer's fields; and it never paces above it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_batch_follows_the_stated_limit() {
    let _running = shared().await;
    assert_eq!(
        learned_from_one(standin::RateHeaders::Ietf).await,
        Some(5.0)
    );
    // `X-RateLimit-Limit: 5` has no window: the reset (`1`, whole seconds) gives it.
    assert_eq!(learned_from_one(standin::RateHeaders::X).await, Some(5.0));
    let (server, client) = adaptive(5.0, standin::RateHeaders::Ietf).await;
    let report = batch(&server, &client, 10).await;
    let learned = client.learned_rate().unwrap();
    assert!(learned <= 5.0, "{learned} {report}");
}

/// What each outcome tells the pacer.
#[test]
fn outcomes_tell_the_pacer() {
    let hints = Hints {
        retry_after: Some(Duration::from_secs(1)),
        remaining: Some(0),
        ..Hints::default()
    };
    let refused = SmsError::RateLimited {
        retry_after: Some(Duration::from_secs(1)),
        hints: hints.clone(),
    };
    assert_eq!(
        refused.feedback(),
        Feedback {
            throttled: true,
            hints
        }
    );
    let unavailable = SmsError::Server {
        status: 503,
        detail: String::new(),
        retry_after: Some(Duration::from_secs(2)),
    };
    assert_eq!(
        unavailable.feedback(),
        Feedback::throttled().with_retry_after(Some(Duration::from_secs(2)))
    );
    let outage = SmsError::Server {
        status: 503,
        detail: String::new(),
        retry_after: None,
    };
    assert_eq!(outage.feedback(), Feedback::accepted());
    assert_eq!(
        SmsError::Timeout("t".to_owned()).feedback(),
        Feedback::accepted()
    );
    let fields = [("RateLimit-Policy", r#""default";q=5;w=1"#)];
    let sent = Sent {
        message_uuid: "m".to_owned(),
        feedback: Feedback::from_status(202, &fields, std::time::SystemTime::now()),
    };
    assert_eq!(
        sent.feedback().hints.limit.and_then(|q| q.rate()),
        Some(5.0)
    );
    assert!(!sent.feedback().throttled);
}

/// The best time for a batch, as `main` prints it: the stand-in's bucket, full at the first
/// request, then refilled at the rate and as the schedule says.
#[test]
fn ideal_time_follows_the_schedule() {
    let none = standin::RateSchedule::none();
    assert_eq!(crate::ideal_seconds(60, 1.0, 1, &none), 59.0);
    assert!((crate::ideal_seconds(10, 5.0, 1, &none) - 1.8).abs() < 1e-9);
    assert_eq!(crate::ideal_seconds(10, 1.0, 3, &none), 7.0);
    assert_eq!(crate::ideal_seconds(1, 1.0, 1, &none), 0.0);
    assert_eq!(crate::ideal_seconds(0, 1.0, 1, &none), 0.0);
    // 2/s for 20 s (41 requests at 0, 0.5, ... 20), then 1/s: the 60th at 39 s.
    let drop: standin::RateSchedule = "20:1".parse().unwrap();
    assert_eq!(crate::ideal_seconds(60, 2.0, 1, &drop), 39.0);
    // A rise mid-interval: 1/s, then 4/s from 2.5 s: requests at 0, 1, 2, then the token
    // half-refilled at 2.5 s fills at 4/s by 2.625 s, then every 250 ms.
    let rise: standin::RateSchedule = "2.5:4".parse().unwrap();
    assert!((crate::ideal_seconds(5, 1.0, 1, &rise) - 2.875).abs() < 1e-9);
}
