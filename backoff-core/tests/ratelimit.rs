//! The rate-limit hint parser never panics, whatever the fields hold.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backoff_core::{Feedback, Hints};
use proptest::prelude::*;

const NAMES: [&str; 10] = [
    "RateLimit-Policy",
    "RateLimit",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Rate-Limit-Reset",
    "Retry-After",
];

/// Arbitrary text, and text made of the fields' own alphabet (quotes, separators, digits,
/// parameter names), which reaches deeper into the parser than random unicode does.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        r#"[ "\\,;=:?*qwrtpkuli0-9.eE+-]{0,40}"#,
        (any::<i64>(), any::<i64>(), any::<u64>())
            .prop_map(|(q, w, r)| format!(r#""p";q={q};w={w}, "p";r={r};t={w}"#)),
        any::<f64>().prop_map(|f| f.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
    ]
}

fn now() -> impl Strategy<Value = SystemTime> {
    prop_oneof![
        Just(UNIX_EPOCH),
        any::<u32>().prop_map(|s| UNIX_EPOCH + Duration::from_secs(s.into())),
        Just(SystemTime::now()),
    ]
}

proptest! {
    #[test]
    fn arbitrary_fields_never_panic(
        fields in proptest::collection::vec((0..NAMES.len(), value()), 0..8),
        status in any::<u16>(),
        now in now(),
    ) {
        let fields: Vec<(&str, String)> =
            fields.into_iter().map(|(n, v)| (NAMES[n], v)).collect();
        let hints = Hints::from_fields(&fields, now);
        if let Some(limit) = hints.limit {
            let rate = limit.rate();
            prop_assert!(rate.is_none_or(|r| r >= 0.0 && !r.is_nan()));
        }
        let feedback = Feedback::from_status(status, &fields, now);
        prop_assert_eq!(feedback.hints, hints);
    }
}

fn any_rate() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(0.0),
        0.001..1000.0f64
    ]
}

fn any_wait() -> impl Strategy<Value = Option<Duration>> {
    proptest::option::of(prop_oneof![
        Just(Duration::MAX),
        any::<u64>().prop_map(Duration::from_nanos),
        (0u64..100).prop_map(Duration::from_secs),
    ])
}

/// Any sequence of outcomes and hints, at any spacing and out of order: no panic, and the
/// rate stays positive, finite and within the floor and ceiling.
#[cfg(feature = "tokio")]
mod controller {
    use super::*;
    use backoff_core::PacerInstant as Instant;
    use backoff_core::{AdaptiveRate, Quota};

    proptest! {
        #[test]
        fn arbitrary_feedback_never_panics(
            initial in proptest::option::of(any_rate()),
            floor in any_rate(),
            ceiling in any_rate(),
            steps in proptest::collection::vec((
                any::<bool>(),
                proptest::option::of((any::<u64>(), any_wait())),
                proptest::option::of(any::<u64>()),
                any_wait(),
                any_wait(),
                0u64..5_000,
                0u64..5_000,
            ), 0..200),
        ) {
            let c = AdaptiveRate::new().initial(initial).floor(floor).ceiling(ceiling);
            let start = Instant::now();
            let mut at = start;
            for (throttled, limit, remaining, reset, retry_after, gap, rtt) in steps {
                at += Duration::from_millis(gap);
                let mut feedback = if throttled { Feedback::throttled() } else { Feedback::accepted() };
                feedback.hints.limit = limit.map(|(count, window)| Quota { count, window });
                feedback.hints.remaining = remaining;
                feedback.hints.reset = reset;
                feedback.hints.retry_after = retry_after;
                // Responses may come back in any order: `sent` is not monotonic.
                let sent = at.checked_sub(Duration::from_millis(rtt)).unwrap_or(start);
                c.observe(&feedback, sent, at);
                if let Some(rate) = c.rate() {
                    prop_assert!(rate.is_finite() && rate > 0.0, "{rate}");
                    prop_assert!(c.interval().is_some_and(|i| !i.is_zero()));
                }
                let _ = c.not_before();
            }
        }
    }
}
