//! `Retry-After`: the server says how long to wait.
//!
//! The attribute's `retry_after = |e| ...` waits the server's value, when there is one, and
//! the generator's jittered wait on top (never earlier than the server asked; callers told the
//! same time do not come back together); the server's part is capped by the generator's
//! `max_value` (an hour without one), the sum by what remains of `max_time`, and it never
//! revives a run that has given up (the limits and the generator still decide whether there
//! is a next attempt).

use std::time::{Duration, SystemTime};

/// Parses a `Retry-After` value: delay-seconds (`"120"`) or an HTTP-date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`, measured from `now`; a date in the past waits zero).
/// Delay-seconds too large for a `u64` read as [`Duration::MAX`] (the caller's cap applies);
/// anything else unreadable is `None`.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use backoff_core::parse_retry_after;
/// assert_eq!(parse_retry_after("120", SystemTime::now()), Some(Duration::from_secs(120)));
/// let now = UNIX_EPOCH + Duration::from_secs(1_445_412_470);
/// assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(10)));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // `delay-seconds` too large for a u64: a very long wait, not no header (as RFC 9111
    // section 1.2.2 has a cache take an oversized delta-seconds as the greatest value it can
    // represent). Callers cap it (`max_value`, `max_time`).
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::MAX);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Things that may carry a server's `Retry-After`: `value.retry_after()`.
///
/// Implemented for a `reqwest::Response` (feature `reqwest`), an `http::HeaderMap` (feature
/// `http`; an `http::Response`'s is `resp.headers().retry_after()`), a [`Duration`], and an
/// `Option` or a reference of any of these. Without the feature, rustc says only that there
/// is "no method named `retry_after`" on a response; a bound (`T: RetryAfter`) names the
/// features.
#[diagnostic::on_unimplemented(
    message = "`politely` cannot read a `Retry-After` from `{Self}`: it is not `politely::RetryAfter`",
    label = "no `Retry-After` from `{Self}`",
    note = "`politely` reads it from a `reqwest::Response` with its feature `reqwest` and from an `http::HeaderMap` with its feature `http` (in Cargo.toml: `politely = {{ version = \"0.1\", features = [\"reqwest\"] }}`), from a `Duration`, and from an `Option` or a reference of these; for a type of your own, implement `politely::RetryAfter` for it"
)]
pub trait RetryAfter {
    /// The wait the server asked for, if any.
    fn retry_after(&self) -> Option<Duration>;
}

impl<T: RetryAfter + ?Sized> RetryAfter for &T {
    fn retry_after(&self) -> Option<Duration> {
        (**self).retry_after()
    }
}

impl RetryAfter for Duration {
    fn retry_after(&self) -> Option<Duration> {
        Some(*self)
    }
}

impl<T: RetryAfter> RetryAfter for Option<T> {
    fn retry_after(&self) -> Option<Duration> {
        self.as_ref().and_then(RetryAfter::retry_after)
    }
}

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl RetryAfter for http::HeaderMap {
    fn retry_after(&self) -> Option<Duration> {
        let value = self.get(http::header::RETRY_AFTER)?.to_str().ok()?;
        parse_retry_after(value, SystemTime::now())
    }
}

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
impl RetryAfter for reqwest::Response {
    fn retry_after(&self) -> Option<Duration> {
        self.headers().retry_after()
    }
}
