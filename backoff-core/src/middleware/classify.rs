//! What an attempt's outcome says: whether the request reached the server, and whether
//! another attempt may help.

use std::error::Error as _;
use std::io;

use reqwest::{Method, StatusCode};

use crate::decide::Verdict;
use crate::hints::{Feedback, Hints, RateFeedback};

use reqwest::Response;

/// An attempt's result.
type Outcome = Result<Response, reqwest_middleware::Error>;

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
    /// The verdict on an attempt: a response the rules do not retry is returned as it is
    /// (success: the server answered); a retryable failure the method makes unsafe to send
    /// again is given up (the give-up log line says so).
    pub(super) fn verdict(&self, outcome: &Outcome) -> Verdict {
        match failure(outcome) {
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

/// Whether sending `method` twice has the effect of sending it once (RFC 9110, 9.2.2).
pub(super) fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// What an attempt's outcome proves; `None` for an answer that is not a failure to retry.
pub(super) fn failure(outcome: &Outcome) -> Option<Failure> {
    match outcome {
        Ok(response) => match response.status() {
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                Some(Failure::NotProcessed)
            }
            StatusCode::REQUEST_TIMEOUT => Some(Failure::RequestTimeout),
            s if s.is_server_error() => Some(Failure::Server),
            _ => None,
        },
        Err(reqwest_middleware::Error::Reqwest(e)) => Some(reqwest_failure(e)),
        Err(reqwest_middleware::Error::Middleware(e)) => Some(
            e.chain()
                .find_map(error_failure)
                .unwrap_or(Failure::Permanent),
        ),
    }
}

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
