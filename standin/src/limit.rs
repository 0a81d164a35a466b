//! The rate limit: the shared bucket of `backoff-testkit` (a token bucket whose rate can follow
//! a schedule, and the response fields that describe it), put on axum's responses.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
pub use backoff_testkit::{
    Bucket, Decision, RateChange, RateHeaders, RateSchedule, ceil_secs, quota,
};

/// Adds the fields `mode` asks for to `headers`.
pub(crate) fn apply(decision: &Decision, mode: RateHeaders, headers: &mut HeaderMap) {
    for (name, value) in decision.fields(mode) {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::try_from(value).expect("digits and quotes are a valid header value"),
        );
    }
}
