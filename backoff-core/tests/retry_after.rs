//! `RetryAfter` on HTTP headers (the `http` feature; CI runs with `--all-features`).
#![cfg(feature = "http")]

use std::time::Duration;

use backoff_core::RetryAfter;
use http::HeaderMap;
use http::header::RETRY_AFTER;

#[test]
fn reads_seconds_and_ignores_garbage() {
    let mut h = HeaderMap::new();
    assert_eq!(h.retry_after(), None);
    h.insert(RETRY_AFTER, "17".parse().unwrap());
    assert_eq!(h.retry_after(), Some(Duration::from_secs(17)));
    h.insert(RETRY_AFTER, "later".parse().unwrap());
    assert_eq!(h.retry_after(), None);
    // Through a reference and an Option, as handlers and errors often hold them.
    let some: Option<&HeaderMap> = Some(&h);
    assert_eq!(some.retry_after(), None);
}

/// `delay-seconds` too large for a u64 is a very long wait (saturated, as RFC 9111 section
/// 1.2.2 has caches do with delta-seconds), not no header: it was read as garbage, and the
/// server's wait was dropped.
#[test]
fn reads_delay_seconds_too_large_for_a_u64_as_the_longest_wait() {
    let mut h = HeaderMap::new();
    h.insert(RETRY_AFTER, "99999999999999999999999".parse().unwrap());
    assert_eq!(h.retry_after(), Some(Duration::MAX));
    h.insert(RETRY_AFTER, " 18446744073709551616 ".parse().unwrap());
    assert_eq!(h.retry_after(), Some(Duration::MAX));
    h.insert(RETRY_AFTER, "18446744073709551615".parse().unwrap());
    assert_eq!(h.retry_after(), Some(Duration::from_secs(u64::MAX)));
    h.insert(RETRY_AFTER, "1e30".parse().unwrap());
    assert_eq!(h.retry_after(), None);
}

#[test]
fn reads_an_http_date_in_the_past_as_no_wait() {
    let mut h = HeaderMap::new();
    h.insert(
        RETRY_AFTER,
        "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
    );
    assert_eq!(h.retry_after(), Some(Duration::ZERO));
}
