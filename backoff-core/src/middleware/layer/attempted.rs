//! [`Attempted`]: what the layer's handlers see of an attempt, whatever the inner service's
//! types.

use std::fmt;

/// What an attempt got, as the layer's handlers see it, whatever the inner service's response
/// body and error types: the response's status and headers, or the error. Its `Debug` is the
/// log lines': a response by its status and `Retry-After`, an error by its `Debug`.
///
/// ```
/// use backoff_core::middleware::PoliteLayer;
///
/// let layer = PoliteLayer::new(backoff_core::expo().max_time(60)).on_giveup(|d| {
///     match d.outcome.status() {
///         Some(status) => eprintln!("gave up after {} attempts: {status}", d.tries),
///         None => eprintln!("gave up after {} attempts: {:?}", d.tries, d.outcome),
///     }
/// });
/// # let _ = layer;
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub trait Attempted: fmt::Debug {
    /// The response's status, if the attempt got a response.
    fn status(&self) -> Option<http::StatusCode>;
    /// The response's headers, if the attempt got a response.
    fn headers(&self) -> Option<&http::HeaderMap>;
    /// Whether the attempt got an error rather than a response (the error shows in `Debug`).
    fn is_error(&self) -> bool;
}
