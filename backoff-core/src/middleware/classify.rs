//! What an attempt's outcome says: whether the request reached the server, and whether
//! another attempt may help. The rules are the same for every client: a status (and a gRPC
//! status) is read here for any `http::Response`; the errors of each client are read by its
//! own part of this file (reqwest's below, a tower service's through a [`Fault`]).

#[cfg(feature = "reqwest")]
use std::error::Error as _;
use std::io;
#[cfg(feature = "tower")]
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};

use super::idempotency;
use crate::decide::Verdict;
#[cfg(feature = "reqwest-middleware")]
use crate::hints::{Feedback, Hints, RateFeedback};

/// An attempt's result.
#[cfg(feature = "reqwest-middleware")]
type Outcome = Result<reqwest::Response, reqwest_middleware::Error>;

/// A failed attempt, by what it proves about the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// The server did not process it: the connection failed (refused, DNS, TLS, a connect
    /// timeout), or the server answered 429 or 503. Retried for every method.
    NotProcessed,
    /// It may have been processed: a timeout or a reset after it was sent. Retried only for
    /// an idempotent method or a request with an `Idempotency-Key`.
    Ambiguous,
    /// `408 Request Timeout`: retried when asked ([`retry_408`](super::PoliteMiddleware::retry_408)),
    /// as [`Ambiguous`](Failure::Ambiguous).
    RequestTimeout,
    /// Another 5xx: retried when asked ([`retry_5xx`](super::PoliteMiddleware::retry_5xx)), as
    /// [`Ambiguous`](Failure::Ambiguous).
    Server,
    /// An error no retry mends (a bad URL, a redirect loop, another middleware's own error):
    /// returned at once.
    Permanent,
}

/// The middleware's retry rules for one request.
#[derive(Clone, Copy, Debug)]
pub(super) struct RequestRules {
    /// Its method is idempotent, or it carries an `Idempotency-Key`.
    pub(super) repeatable: bool,
    pub(super) retry_5xx: bool,
    pub(super) retry_408: bool,
}

impl RequestRules {
    /// The rules for a request with `method` and `headers`: repeatable when the method is
    /// idempotent or the request carries an `Idempotency-Key`.
    pub(super) fn new(
        method: &Method,
        headers: &HeaderMap,
        retry_5xx: bool,
        retry_408: bool,
    ) -> RequestRules {
        RequestRules {
            repeatable: idempotency::idempotent(method)
                || headers.contains_key(idempotency::HEADER),
            retry_5xx,
            retry_408,
        }
    }

    /// The verdict on an attempt: a response the rules do not retry is returned as it is
    /// (success: the server answered); a retryable failure the method makes unsafe to send
    /// again is given up (the give-up log line says so).
    #[cfg(feature = "reqwest-middleware")]
    pub(super) fn verdict(&self, outcome: &Outcome) -> Verdict {
        self.verdict_of(failure(outcome))
    }

    /// The verdict on an attempt that failed as `failure` (`None`: it did not).
    pub(super) fn verdict_of(&self, failure: Option<Failure>) -> Verdict {
        match failure {
            None => Verdict::Success,
            Some(Failure::Permanent) => Verdict::Propagate,
            Some(Failure::NotProcessed) => Verdict::Retry,
            Some(Failure::Server) if !self.retry_5xx => Verdict::Success,
            Some(Failure::RequestTimeout) if !self.retry_408 => Verdict::Success,
            Some(Failure::Ambiguous | Failure::Server | Failure::RequestTimeout) => {
                if self.repeatable {
                    Verdict::Retry
                } else {
                    Verdict::GiveUp
                }
            }
        }
    }
}

/// What an error a client returned says about its request: whether the server can have
/// processed it. A tower service's errors are of any type, so
/// [`PoliteLayer::classify`](super::PoliteLayer::classify) and
/// [`PolitePolicy::classify`](super::PolitePolicy::classify) take a function that says it;
/// without one, every error is [`Ambiguous`](Fault::Ambiguous).
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
#[cfg(feature = "tower")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The request was not sent, or the server refused it unprocessed (a refused connection,
    /// a DNS or TLS failure, a connect timeout): retried for every method.
    Unsent,
    /// It may have been processed (a timeout or a reset after it was sent): retried only for
    /// an idempotent method or a request with an `Idempotency-Key`.
    Ambiguous,
    /// No retry mends it (a bad URL, a request the client refused to build): returned at once.
    Permanent,
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
#[cfg(feature = "tower")]
impl Fault {
    /// Reads an error and its causes: a refused connection (`io::ErrorKind::ConnectionRefused`,
    /// or a `reqwest::Error` that failed to connect, with the feature `reqwest`) is
    /// [`Unsent`](Fault::Unsent); a reqwest error no retry mends (a bad URL, a redirect loop)
    /// is [`Permanent`](Fault::Permanent); anything else, a reset, a timeout or an error this
    /// does not know, is [`Ambiguous`](Fault::Ambiguous).
    ///
    /// For a service whose error is tower's `BoxError`:
    /// `.classify(|e: &tower::BoxError| Fault::of(e.as_ref()))`.
    pub fn of(error: &(dyn std::error::Error + 'static)) -> Fault {
        let mut source = Some(error);
        while let Some(e) = source {
            match error_failure(e) {
                Some(Failure::NotProcessed) => return Fault::Unsent,
                Some(Failure::Permanent) => return Fault::Permanent,
                Some(_) => return Fault::Ambiguous,
                None => source = e.source(),
            }
        }
        Fault::Ambiguous
    }

    /// As a failure of the rules.
    pub(super) fn failure(self) -> Failure {
        match self {
            Fault::Unsent => Failure::NotProcessed,
            Fault::Ambiguous => Failure::Ambiguous,
            Fault::Permanent => Failure::Permanent,
        }
    }
}

/// How a tower service's errors are read: a [`Fault`] for each. A closure `Fn(&E) -> Fault`
/// is one; [`Unclassified`], the default, reads every error as [`Fault::Ambiguous`].
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
#[cfg(feature = "tower")]
pub trait Classify<E> {
    /// What `error` says about its request.
    fn classify(&self, error: &E) -> Fault;
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
#[cfg(feature = "tower")]
impl<E, F: Fn(&E) -> Fault> Classify<E> for F {
    fn classify(&self, error: &E) -> Fault {
        self(error)
    }
}

/// The default [`Classify`]: a service's error type says nothing this crate can read, so
/// every error is [`Fault::Ambiguous`], the safe reading (retried for an idempotent method or
/// a request with an `Idempotency-Key`, given up for a `POST` or `PATCH` without one).
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
#[cfg(feature = "tower")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unclassified;

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
#[cfg(feature = "tower")]
impl<E> Classify<E> for Unclassified {
    fn classify(&self, _: &E) -> Fault {
        Fault::Ambiguous
    }
}

#[cfg(feature = "tower")]
/// What a gRPC answer (its `grpc-status` in the headers: a trailers-only response) proves:
/// `8 RESOURCE_EXHAUSTED` as a `429`, `14 UNAVAILABLE` as a `503`, both refusals the
/// server did not process; every other status is an answer to return.
pub(super) fn grpc_failure(headers: &HeaderMap) -> Option<Failure> {
    let status = headers.get("grpc-status")?.to_str().ok()?.trim();
    matches!(status, "8" | "14").then_some(Failure::NotProcessed)
}

#[cfg(feature = "tower")]
/// Whether a gRPC answer is `RESOURCE_EXHAUSTED` (a throttle, for an adaptive pacer).
pub(super) fn grpc_exhausted(headers: &HeaderMap) -> bool {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "8")
}

#[cfg(feature = "tower")]
/// The server's `grpc-retry-pushback-ms` (gRPC's retry design, A6): `None` when absent,
/// `Some(Some(wait))` for a wait in milliseconds, `Some(None)` when the value is negative
/// or not an integer, which means "do not retry".
pub(super) fn pushback(headers: &HeaderMap) -> Option<Option<Duration>> {
    let value = headers.get("grpc-retry-pushback-ms")?;
    let ms = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(|ms| u64::try_from(ms).ok());
    Some(ms.map(Duration::from_millis))
}

#[cfg(feature = "tower")]
/// What a response proves, its HTTP status first, then its gRPC status.
pub(super) fn response_failure(status: StatusCode, headers: &HeaderMap) -> Option<Failure> {
    status_failure(status).or_else(|| grpc_failure(headers))
}

#[cfg(feature = "tower")]
/// The verdict on a response: [`RequestRules::verdict_of`] on what it proves, except that a
/// retry the server forbids (a negative or malformed `grpc-retry-pushback-ms`) gives up.
pub(super) fn response_verdict(
    rules: &RequestRules,
    status: StatusCode,
    headers: &HeaderMap,
) -> Verdict {
    match rules.verdict_of(response_failure(status, headers)) {
        Verdict::Retry if pushback(headers) == Some(None) => Verdict::GiveUp,
        verdict => verdict,
    }
}

#[cfg(feature = "tower")]
/// The server's wait: `grpc-retry-pushback-ms` when valid, else `Retry-After`.
pub(super) fn server_wait(headers: &HeaderMap) -> Option<Duration> {
    match pushback(headers) {
        Some(wait) => wait,
        None => crate::hints::RetryAfter::retry_after(headers),
    }
}

/// What a response's status proves; `None` for an answer that is not a failure to retry.
pub(super) fn status_failure(status: StatusCode) -> Option<Failure> {
    match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
            Some(Failure::NotProcessed)
        }
        StatusCode::REQUEST_TIMEOUT => Some(Failure::RequestTimeout),
        s if s.is_server_error() => Some(Failure::Server),
        _ => None,
    }
}

/// What an attempt's outcome proves; `None` for an answer that is not a failure to retry.
#[cfg(feature = "reqwest-middleware")]
pub(super) fn failure(outcome: &Outcome) -> Option<Failure> {
    match outcome {
        Ok(response) => status_failure(response.status()),
        Err(reqwest_middleware::Error::Reqwest(e)) => Some(reqwest_failure(e)),
        Err(reqwest_middleware::Error::Middleware(e)) => Some(
            e.chain()
                .find_map(error_failure)
                .unwrap_or(Failure::Permanent),
        ),
    }
}

#[cfg(feature = "reqwest")]
fn reqwest_failure(e: &reqwest::Error) -> Failure {
    if e.is_connect() {
        // Before a byte of the request was written (a connect timeout too).
        return Failure::NotProcessed;
    }
    if e.is_builder() || e.is_redirect() || e.is_decode() || e.is_status() {
        return Failure::Permanent;
    }
    // A refused connection reported otherwise still proves nothing was sent.
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>()
            && io.kind() == io::ErrorKind::ConnectionRefused
        {
            return Failure::NotProcessed;
        }
        source = s.source();
    }
    // A timeout, a reset or a closed connection while sending or reading: the server may
    // have processed the request.
    Failure::Ambiguous
}

/// A failure read from one error of another middleware's chain: a `reqwest::Error`, or an
/// I/O error by its kind.
fn error_failure(e: &(dyn std::error::Error + 'static)) -> Option<Failure> {
    #[cfg(feature = "reqwest")]
    if let Some(e) = e.downcast_ref::<reqwest::Error>() {
        return Some(reqwest_failure(e));
    }
    let io = e.downcast_ref::<io::Error>()?;
    match io.kind() {
        io::ErrorKind::ConnectionRefused => Some(Failure::NotProcessed),
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::TimedOut
        | io::ErrorKind::UnexpectedEof => Some(Failure::Ambiguous),
        _ => None,
    }
}

/// A `reqwest_middleware::Error` tells an adaptive pacer what its `reqwest::Error` would;
/// another middleware's error is not a throttle.
#[cfg(feature = "reqwest-middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
impl RateFeedback for reqwest_middleware::Error {
    fn feedback(&self) -> Feedback {
        match self {
            reqwest_middleware::Error::Reqwest(e) => e.feedback(),
            reqwest_middleware::Error::Middleware(_) => Feedback {
                throttled: false,
                hints: Hints::default(),
            },
        }
    }
}
