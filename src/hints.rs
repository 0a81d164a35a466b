//! What a response says about a limit: the server's wait, its stated quota, and whether it
//! throttled the attempt.
//!
//! A server that refuses an attempt usually says more than "no". `429 Too Many Requests` (or a
//! `503`) may carry `Retry-After`, in seconds or as an HTTP date; many APIs also state their limit
//! on every response, in the IETF httpapi draft's `RateLimit-Policy` / `RateLimit` fields or in
//! the widespread `X-RateLimit-Limit` / `-Remaining` / `-Reset`. This module reads them:
//!
//! - [`parse_retry_after`] reads one `Retry-After` value, either form; [`RetryAfter`] reads it
//!   from what carries it: an `http::HeaderMap` (feature `http`), a `reqwest::Response` (feature
//!   `reqwest`), a `Duration`, an `Option` or a reference of these, or a type of yours that
//!   implements it. The attribute's `retry_after = |e| ...` and the builder's
//!   `.retry_after(|e| ...)` take its answer as a floor under the next wait.
//! - [`Hints`] is what one response states: the [`Quota`] (`limit`), the requests `remaining`,
//!   the time to the `reset`, and `retry_after`. [`Hints::from_fields`] reads `(name, value)`
//!   pairs; `Hints::from_headers` reads an `http::HeaderMap` (feature `http`). The parser is
//!   lenient and tested against junk: a member that does not parse is skipped, the rest still
//!   counts, nothing panics.
//! - [`Feedback`] is how one attempt went, for an adaptive pacer: throttled or not, and its
//!   hints. Throttled means a `429`, a `503` *with* `Retry-After` (the server asks to come back
//!   later), or a `403` with no requests remaining (as GitHub answers); any other status passed
//!   the rate limiter. [`Feedback::from_status`] reads a status and fields,
//!   `Feedback::from_http` an `http` status and headers; [`Feedback::throttled`] and
//!   [`Feedback::accepted`] say it by hand.
//! - [`RateFeedback`] is implemented by what tells its own feedback: `Feedback`,
//!   `http::Response<B>` (feature `http`), `reqwest::Response` and `reqwest::Error` (feature
//!   `reqwest`), and a `Result` of two such types. A fn whose output is one needs only a bare
//!   `observe` (or `rate = adaptive`, which implies it); any other says it with
//!   `observe = |out| ...`.
//!
//! ```
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//! use politely::hints::{Feedback, Hints, parse_retry_after};
//!
//! // Both forms of the header.
//! assert_eq!(parse_retry_after("120", SystemTime::now()), Some(Duration::from_secs(120)));
//! let now = UNIX_EPOCH + Duration::from_secs(1_445_412_470);
//! assert_eq!(
//!     parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
//!     Some(Duration::from_secs(10)),
//! );
//!
//! // A 429 stating a quota of 100 requests a minute, none left, reset in 30 s.
//! let fields = [
//!     ("RateLimit-Policy", "\"default\";q=100;w=60"),
//!     ("RateLimit", "\"default\";r=0;t=30"),
//!     ("Retry-After", "30"),
//! ];
//! let feedback = Feedback::from_status(429, &fields, now);
//! assert!(feedback.throttled);
//! assert_eq!(feedback.hints.retry_after, Some(Duration::from_secs(30)));
//!
//! let hints = Hints::from_fields(&fields, now);
//! assert_eq!(hints.limit.map(|q| q.count), Some(100));
//! assert_eq!(hints.remaining, Some(0));
//! ```
//!
//! What an adaptive pacer does with each hint is in [the pace guide](crate::pace#adaptive-pacing-a-limit-the-client-is-not-told):
//! a stated quota is the rate at once, requests remaining spread over the time to the reset, and
//! a long `Retry-After` holds every attempt, not only the refused one.
//!
//! A type of your own tells its feedback by implementing [`RateFeedback`]:
//!
//! ```
//! use politely::{backoff, hints::{Feedback, RateFeedback}};
//!
//! #[derive(Debug)]
//! struct Reply { status: u16, retry_after: Option<u64> }
//!
//! impl RateFeedback for Reply {
//!     fn feedback(&self) -> Feedback {
//!         match self.status {
//!             429 => Feedback::throttled()
//!                 .with_retry_after(self.retry_after.map(std::time::Duration::from_secs)),
//!             _ => Feedback::accepted(),
//!         }
//!     }
//! }
//!
//! // The reply tells the adaptive pacer how each attempt went; 429s and 5xx are retried.
//! #[backoff(expo, max_time = 300, rate = adaptive,
//!           predicate = |r: &Reply| r.status == 429 || r.status >= 500)]
//! async fn send(to: &str) -> Reply {
//!     Reply { status: 202, retry_after: None }
//! }
//! ```

pub use backoff_core::{Feedback, Hints, Quota, RateFeedback, RetryAfter, parse_retry_after};
