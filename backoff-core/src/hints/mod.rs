//! What a response says about the server's limit: rate-limit fields ([`Hints`]), `Retry-After`
//! ([`RetryAfter`], [`parse_retry_after`]), and how an attempt went ([`Feedback`],
//! [`RateFeedback`]), for [`AdaptiveRate`](crate::AdaptiveRate) to learn from.
//!
//! The fields are read in `fields.rs`, `Retry-After` in `retry_after.rs`.
//!
//! Three families of fields are read, the first one present winning for each value:
//!
//! 1. The IETF httpapi draft in its current form (draft-ietf-httpapi-ratelimit-headers-08
//!    to -11): two structured-field lists of items named after a policy,
//!    `RateLimit-Policy: "default";q=100;w=60` (a quota of `q` units per window of `w`
//!    seconds; `qu` names the unit, `requests` by default; `pk` a partition key) and
//!    `RateLimit: "default";r=50;t=30` (`r` units left in the next `t` seconds). Older drafts
//!    are read too: draft-07's dictionary `RateLimit: limit=100, remaining=50, reset=30` and
//!    its `RateLimit-Policy: 100;w=60`, and drafts 00-06's three fields `RateLimit-Limit`
//!    (`100` or `100, 100;w=60`), `RateLimit-Remaining` and `RateLimit-Reset` (delay-seconds).
//! 2. The widespread `X-RateLimit-Limit` / `X-RateLimit-Remaining` / `X-RateLimit-Reset`
//!    (and their `X-Rate-Limit-*` spelling). Their reset is delay-seconds in some APIs and a
//!    Unix timestamp in others (GitHub's): a value of at least 10^9 is taken as a timestamp
//!    in seconds (10^9 s is 31.7 years as a delay, and September 2001 as a timestamp: no real
//!    delay is that long and no real timestamp that early), at least 10^12 as a timestamp in
//!    milliseconds, anything smaller as delay-seconds; fractions are allowed, and an
//!    HTTP-date is read as a date. A timestamp in the past resets now.
//! 3. `Retry-After`, through [`parse_retry_after`].
//!
//! When a response names several policies the most restrictive wins: the smallest
//! sustained rate (`q / w`) for [`Hints::limit`], the fewest units left for
//! [`Hints::remaining`] (with its `t`). Policies counted in other units than requests
//! (`qu="content-bytes"`, `qu="concurrent-requests"`) say nothing about a request rate and are
//! skipped, with their `RateLimit` items. Partition keys are ignored: one
//! [`AdaptiveRate`](crate::AdaptiveRate) learns one partition's rate.
//!
//! Junk never panics and never poisons the rest: a member that does not parse (a negative or
//! non-numeric `q`, a missing `r`, an unterminated string) is skipped and the other members
//! and fields still count, where the draft asks to ignore a malformed field whole. Hints are
//! hints; being lenient costs at worst a wrong guess that the next 429 corrects.

mod fields;
mod retry_after;

use std::time::{Duration, SystemTime};

pub use retry_after::{RetryAfter, parse_retry_after};

/// A quota: `count` requests per `window` (the window unknown for `X-RateLimit-Limit`, which
/// does not say it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Requests allowed per window.
    pub count: u64,
    /// The window, when the server says it.
    pub window: Option<Duration>,
}

impl Quota {
    /// The sustained rate in requests per second, when the window is known and not zero.
    pub fn rate(&self) -> Option<f64> {
        let window = self.window?.as_secs_f64();
        (window > 0.0).then(|| self.count as f64 / window)
    }
}

/// What one response's fields say about the rate limit. Every value is optional: servers
/// send any subset, or none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hints {
    /// The quota: `RateLimit-Policy` (`q`, `w`), `RateLimit-Limit` or `X-RateLimit-Limit`.
    pub limit: Option<Quota>,
    /// Requests left before the reset: `RateLimit` (`r`), `RateLimit-Remaining` or
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// Time until `remaining` no longer binds: `RateLimit` (`t`), `RateLimit-Reset` or
    /// `X-RateLimit-Reset`.
    pub reset: Option<Duration>,
    /// `Retry-After`.
    pub retry_after: Option<Duration>,
}

/// How one attempt went, as far as the rate limit is concerned: whether the server refused it
/// for its rate, and what the response said.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use backoff_core::{Feedback, Quota};
///
/// let fields = [
///     ("RateLimit-Policy", r#""default";q=100;w=60"#),
///     ("RateLimit", r#""default";r=0;t=30"#),
///     ("Retry-After", "30"),
/// ];
/// let feedback = Feedback::from_status(429, &fields, SystemTime::now());
/// assert!(feedback.throttled);
/// let limit = feedback.hints.limit.unwrap();
/// assert_eq!(limit, Quota { count: 100, window: Some(Duration::from_secs(60)) });
/// assert_eq!(feedback.hints.remaining, Some(0));
/// assert_eq!(feedback.hints.reset, Some(Duration::from_secs(30)));
/// assert_eq!(feedback.hints.retry_after, Some(Duration::from_secs(30)));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Feedback {
    /// The server refused the attempt because of its rate (see [`Feedback::from_status`]).
    pub throttled: bool,
    /// What the response said, if anything.
    pub hints: Hints,
}

impl Feedback {
    /// An attempt the server accepted (or failed for other reasons than its rate).
    pub fn accepted() -> Self {
        Feedback::default()
    }

    /// An attempt the server refused for its rate, with nothing more said.
    pub fn throttled() -> Self {
        Feedback {
            throttled: true,
            hints: Hints::default(),
        }
    }

    /// The same, with the server's `Retry-After`.
    pub fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        self.hints.retry_after = wait;
        self
    }

    /// Reads a response's status and fields (`(name, value)` pairs, names in any case).
    ///
    /// Throttled means: `429 Too Many Requests`; `503 Service Unavailable` *with* a
    /// `Retry-After` (the server asks to come back later: overload shedding and the draft's
    /// "temporary reduced capacity", which a client should slow down for; a 503 without it is
    /// an outage, which says nothing about the rate); and `403 Forbidden` with no requests
    /// remaining (GitHub's primary rate limit answers so). Every other status is accepted as
    /// far as the rate is concerned: a 500 passed the rate limiter.
    pub fn from_status<'a, I, N, V>(status: u16, fields: I, now: SystemTime) -> Self
    where
        I: IntoIterator<Item = &'a (N, V)>,
        N: AsRef<str> + 'a,
        V: AsRef<str> + 'a,
    {
        let hints = Hints::from_fields(fields, now);
        let throttled = match status {
            429 => true,
            503 => hints.retry_after.is_some(),
            403 => hints.remaining == Some(0),
            _ => false,
        };
        Feedback { throttled, hints }
    }

    /// Reads an `http` response's status and headers (see [`Feedback::from_status`]).
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn from_http(status: http::StatusCode, headers: &http::HeaderMap) -> Self {
        let fields: Vec<(&str, &str)> = headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        Feedback::from_status(status.as_u16(), &fields, SystemTime::now())
    }
}

/// Things that tell how an attempt went: a response, an error carrying a status, or a
/// [`Feedback`] built by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not tell whether the server throttled an attempt: it is not `politely::RateFeedback`",
    label = "no rate feedback from `{Self}`",
    note = "with `#[backoff(rate = adaptive)]` or `observe`, say it from the fn's output: `observe = |out| ...` returning a `politely::Feedback` (`Feedback::throttled()` for a 429, `Feedback::accepted()` otherwise, `Feedback::from_http(status, headers)`); or implement `politely::RateFeedback` for `{Self}`",
    note = "`reqwest::Response`, `reqwest::Error`, `http::Response<B>` and `politely::Feedback` tell by themselves (features `reqwest`, `http`), and so does a `Result` of two such types"
)]
pub trait RateFeedback {
    /// The attempt's feedback.
    fn feedback(&self) -> Feedback;
}

impl RateFeedback for Feedback {
    fn feedback(&self) -> Feedback {
        self.clone()
    }
}

impl<T: RateFeedback + ?Sized> RateFeedback for &T {
    fn feedback(&self) -> Feedback {
        (**self).feedback()
    }
}

/// `Ok` and `Err` each tell their own story (`Result<reqwest::Response, reqwest::Error>`).
impl<T: RateFeedback, E: RateFeedback> RateFeedback for Result<T, E> {
    fn feedback(&self) -> Feedback {
        match self {
            Ok(t) => t.feedback(),
            Err(e) => e.feedback(),
        }
    }
}

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl<B> RateFeedback for http::Response<B> {
    fn feedback(&self) -> Feedback {
        Feedback::from_http(self.status(), self.headers())
    }
}

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
impl RateFeedback for reqwest::Response {
    fn feedback(&self) -> Feedback {
        Feedback::from_http(self.status(), self.headers())
    }
}

/// A `reqwest::Error` keeps the status (`error_for_status`) but not the headers: throttled or
/// not, without hints.
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
impl RateFeedback for reqwest::Error {
    fn feedback(&self) -> Feedback {
        let status = self.status().map_or(0, |s| s.as_u16());
        Feedback {
            throttled: status == 429,
            hints: Hints::default(),
        }
    }
}
