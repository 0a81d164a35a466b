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
