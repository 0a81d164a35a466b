//! No answer a server gives can stall an adaptive pacer past its cap (`AdaptiveRate::max_hold`,
//! one hour by default), and the pacer recovers once the cap is over. On tokio's paused clock:
//! every wait is exact.
#![cfg(feature = "tokio")]

use std::time::{Duration, SystemTime};

use backoff_core::PacerInstant as Instant;
use backoff_core::{AdaptiveRate, Feedback, Pacer};
use proptest::prelude::*;

const HOUR: Duration = Duration::from_secs(3600);

fn response(status: u16, fields: &[(&str, String)]) -> Feedback {
    Feedback::from_status(status, fields, SystemTime::now())
}

/// Unix seconds of an instant `years` from now.
fn years_ahead(years: u64) -> u64 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    now + years * 365 * 86_400
}

/// Sends `n` attempts that the server accepts, each as soon as the pacer allows; returns how
/// many started within `within` of the first.
async fn accepted_run(pacer: &Pacer, n: usize, within: Duration) -> usize {
    let first = Instant::now();
    let mut started = 0;
    for _ in 0..n {
        pacer.ready(None).await;
        let sent = Pacer::now();
        if sent.duration_since(first) <= within {
            started += 1;
        }
        pacer.observe(None, &Feedback::accepted(), sent);
    }
    started
}

/// One 429 that asks for an absurd pause (more seconds than a `u64` holds, or an HTTP-date in
/// the year 9999) holds the pacer an hour, not 11.6 days; then it resumes near its rate (a
/// first refusal is the edge of the limit: 3 % less): at least 55 attempts in the first
/// minute of a server taking 1/s.
#[tokio::test(start_paused = true)]
async fn an_absurd_retry_after_holds_an_hour_and_the_pacer_recovers() {
    for value in [
        "99999999999999999999",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "86400",
    ] {
        let pacer = Pacer::adaptive();
        let t0 = Instant::now();
        pacer.ready(None).await;
        let refused = response(429, &[("Retry-After", value.to_owned())]);
        pacer.observe(None, &refused, t0);
        assert_eq!(pacer.ready(None).await, HOUR, "{value}");
        assert_eq!(pacer.learned_rate(None), Some(0.97), "{value}");
        pacer.observe(None, &Feedback::accepted(), Pacer::now());
        let started = accepted_run(&pacer, 80, Duration::from_secs(60)).await;
        assert!(
            started >= 40,
            "{value}: {started} attempts in the minute after the hold"
        );
    }
}

/// A quota's reset counts for the cap at most, and ends on time though nothing is observed:
/// `X-RateLimit-Remaining: 1` with a reset in the year 3000 (or a reset written in
/// microseconds) paces one attempt in the hour, and the hour after, the rate is the pacer's
/// own again.
#[tokio::test(start_paused = true)]
async fn a_remaining_count_with_an_absurd_reset_caps_the_pace_for_an_hour() {
    for reset in [years_ahead(974), years_ahead(0) * 1_000_000] {
        let pacer = Pacer::adaptive();
        let t0 = Instant::now();
        pacer.ready(None).await;
        let fields = [
            ("X-RateLimit-Remaining", "1".to_owned()),
            ("X-RateLimit-Reset", reset.to_string()),
        ];
        pacer.observe(None, &response(200, &fields), t0);
        assert_eq!(pacer.interval(), Some(HOUR), "{reset}");
        assert_eq!(pacer.ready(None).await, HOUR, "{reset}");
        // The cap ended with the hour: back to one per second with no response in between.
        assert_eq!(pacer.learned_rate(None), Some(1.0), "{reset}");
        assert_eq!(pacer.ready(None).await, Duration::from_secs(1), "{reset}");
    }
}

/// An advertised quota whose window is absurd (a hundred million seconds, or
/// `X-RateLimit-Limit: 1` with a reset in the year 3000) is read over the cap's window: one
/// attempt an hour, not one in 11.6 days.
#[tokio::test(start_paused = true)]
async fn an_absurd_quota_window_paces_one_attempt_per_cap() {
    let cases = [
        vec![("RateLimit-Policy", r#""d";q=1;w=100000000"#.to_owned())],
        vec![
            ("X-RateLimit-Limit", "1".to_owned()),
            ("X-RateLimit-Reset", years_ahead(974).to_string()),
        ],
    ];
    for fields in cases {
        let pacer = Pacer::adaptive();
        let t0 = Instant::now();
        pacer.ready(None).await;
        pacer.observe(None, &response(200, &fields), t0);
        assert_eq!(pacer.interval(), Some(HOUR), "{fields:?}");
        assert_eq!(pacer.ready(None).await, HOUR, "{fields:?}");
        // A saner answer is followed at once.
        let sane = [("RateLimit-Policy", r#""d";q=10;w=1"#.to_owned())];
        pacer.observe(None, &response(200, &sane), Pacer::now());
        assert_eq!(
            pacer.interval(),
            Some(Duration::from_millis(100)),
            "{fields:?}"
        );
    }
}

/// The cap is the caller's to set.
#[tokio::test(start_paused = true)]
async fn the_cap_is_configurable() {
    let pacer = Pacer::adaptive_with(AdaptiveRate::new().max_hold(Duration::from_secs(90)));
    let t0 = Instant::now();
    pacer.ready(None).await;
    let refused = response(429, &[("Retry-After", "86400".to_owned())]);
    pacer.observe(None, &refused, t0);
    assert_eq!(pacer.ready(None).await, Duration::from_secs(90));
}

/// A `Retry-After` within a minute still says how slow a bucket is: the pacer jumps down to
/// it, then climbs back by doubling when it was a quota's reset rather than the bucket's
/// interval (a minute's wait, then one per second again within two minutes).
#[tokio::test(start_paused = true)]
async fn a_told_rate_is_a_floor_to_climb_from() {
    let pacer = Pacer::adaptive();
    let t0 = Instant::now();
    pacer.ready(None).await;
    let refused = response(429, &[("Retry-After", "59".to_owned())]);
    pacer.observe(None, &refused, t0);
    assert_eq!(pacer.learned_rate(None), Some(1.0 / 59.0));
    assert_eq!(pacer.ready(None).await, Duration::from_secs(59));
    pacer.observe(None, &Feedback::accepted(), Pacer::now());
    let resumed = Instant::now();
    accepted_run(&pacer, 8, Duration::MAX).await;
    assert!(
        resumed.elapsed() <= Duration::from_secs(120),
        "{:?} to climb back",
        resumed.elapsed()
    );
    assert!(pacer.learned_rate(None).unwrap() >= 1.0);
}

fn field() -> impl Strategy<Value = (&'static str, String)> {
    let name = prop::sample::select(vec![
        "Retry-After",
        "RateLimit-Policy",
        "RateLimit",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    ]);
    let value = prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        (0u64..100_000).prop_map(|n| n.to_string()),
        Just("99999999999999999999999".to_owned()),
        Just("Fri, 31 Dec 9999 23:59:59 GMT".to_owned()),
        (any::<u32>(), any::<u32>()).prop_map(|(q, w)| format!(r#""p";q={q};w={w}"#)),
        (any::<u32>(), any::<u64>()).prop_map(|(r, t)| format!(r#""p";r={r};t={t}"#)),
        ".*",
    ];
    (name, value)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever a server answers (any status, any rate-limit fields, any values), the next
    /// wait is at most the cap, and an hour after the last answer the pacer starts an
    /// attempt within the cap.
    #[test]
    fn no_answer_holds_the_pacer_past_the_cap(
        answers in proptest::collection::vec(
            (
                prop::sample::select(vec![200u16, 429, 503, 500]),
                proptest::collection::vec(field(), 0..4),
                0u64..5_000,
            ),
            1..12,
        ),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let pacer = Pacer::adaptive();
            for (status, fields, after_ms) in &answers {
                let waited = pacer.ready(None).await;
                prop_assert!(waited <= HOUR, "waited {waited:?}");
                let sent = Pacer::now();
                tokio::time::sleep(Duration::from_millis(*after_ms)).await;
                pacer.observe(None, &response(*status, fields), sent);
                prop_assert!(pacer.interval().is_none_or(|i| i <= HOUR));
                prop_assert!(pacer.reserve(None).wait() <= HOUR);
            }
            let waited = pacer.ready(None).await;
            prop_assert!(waited <= HOUR, "waited {waited:?}");
            Ok(())
        })?;
    }
}
