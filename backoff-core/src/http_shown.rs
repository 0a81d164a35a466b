//! HTTP responses in log lines: the status, the URL's path and the server's `Retry-After`,
//! which is what a person reading a retry line needs, instead of the whole `Debug` (a
//! `reqwest::Response`'s is some 300 characters, most of them headers).
//!
//! The expansion picks this description over `Debug` where the outcome's type is one of
//! these (`__private::Describe`). The builder, generic over the outcome, keeps `Debug`.

use std::fmt;

use http::header::{HeaderMap, RETRY_AFTER};

/// Shows an HTTP outcome ([`HttpOutcome`]) for the log, as
/// `Response { status: 429 Too Many Requests, path: "/sms", retry_after: "1" }`.
pub struct HttpShown<'a, T>(pub &'a T);

impl<T: HttpOutcome> fmt::Display for HttpShown<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.show(f)
    }
}

/// An outcome that [`HttpShown`] shows: a `reqwest::Response`, an `http::Response<B>`, or a
/// `Result` of one whose error is shown by `Debug`.
pub trait HttpOutcome {
    /// Writes the description.
    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
impl HttpOutcome for reqwest::Response {
    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        response(f, self.status(), Some(self.url().path()), self.headers())
    }
}

/// An `http::Response` has no URL: the status and `Retry-After` only.
impl<B> HttpOutcome for http::Response<B> {
    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        response(f, self.status(), None, self.headers())
    }
}

impl<T: HttpOutcome, E: fmt::Debug> HttpOutcome for Result<T, E> {
    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ok(response) => f.debug_tuple("Ok").field(&AsDebug(response)).finish(),
            Err(e) => f.debug_tuple("Err").field(e).finish(),
        }
    }
}

/// The response as a struct: the status with its reason, the path (quoted, as the URL has
/// it: percent-encoded; the query is left out, as it may carry credentials) and the first
/// `Retry-After` as the server sent it (quoted and escaped by `HeaderValue`'s `Debug`), only
/// when there is one.
fn response(
    f: &mut fmt::Formatter<'_>,
    status: http::StatusCode,
    path: Option<&str>,
    headers: &HeaderMap,
) -> fmt::Result {
    let mut s = f.debug_struct("Response");
    s.field("status", &Status(status));
    if let Some(path) = path {
        s.field("path", &path);
    }
    if let Some(retry_after) = headers.get(RETRY_AFTER) {
        s.field("retry_after", retry_after);
    }
    s.finish()
}

/// `429 Too Many Requests`; a code with no standard reason is the number alone.
struct Status(http::StatusCode);

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.canonical_reason() {
            Some(reason) => write!(f, "{} {reason}", self.0.as_u16()),
            None => write!(f, "{}", self.0.as_u16()),
        }
    }
}

/// An HTTP outcome inside a `Debug` tuple (`Ok(...)`).
struct AsDebug<'a, T>(&'a T);

impl<T: HttpOutcome> fmt::Debug for AsDebug<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.show(f)
    }
}

#[cfg(test)]
mod tests {
    use super::HttpShown;

    #[test]
    fn an_http_response_shows_its_status_and_retry_after() {
        let response = http::Response::builder()
            .status(429)
            .header("retry-after", "1")
            .header("x-padding", "x".repeat(200))
            .body(vec![0u8; 1000])
            .unwrap();
        assert_eq!(
            HttpShown(&response).to_string(),
            r#"Response { status: 429 Too Many Requests, retry_after: "1" }"#
        );
        let ok: Result<_, String> = Ok(response);
        assert_eq!(
            HttpShown(&ok).to_string(),
            r#"Ok(Response { status: 429 Too Many Requests, retry_after: "1" })"#
        );
        let err: Result<http::Response<()>, String> = Err("reset".to_owned());
        assert_eq!(HttpShown(&err).to_string(), r#"Err("reset")"#);
    }

    #[test]
    fn odd_statuses_and_headers_are_shown_as_they_are() {
        let response = http::Response::builder()
            .status(599)
            .header(
                "retry-after",
                http::HeaderValue::from_bytes(b"\xff soon").unwrap(),
            )
            .body(())
            .unwrap();
        assert_eq!(
            HttpShown(&response).to_string(),
            r#"Response { status: 599, retry_after: "\xff soon" }"#
        );
        let plain = http::Response::new(());
        assert_eq!(HttpShown(&plain).to_string(), "Response { status: 200 OK }");
    }
}
