//! Per-request settings, carried in the request's `http::Extensions`
//! (`reqwest_middleware::RequestBuilder::with_extension`, `http::Request::extensions_mut`),
//! and what the middleware leaves there.

/// Sends this request once: no retry, whatever the outcome (it is still paced).
///
/// ```
/// # #[cfg(feature = "reqwest-middleware")]
/// # async fn f(client: reqwest_middleware::ClientWithMiddleware) {
/// let _ = client
///     .post("http://127.0.0.1:9/charge")
///     .with_extension(backoff_core::middleware::NoRetry)
///     .send()
///     .await;
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoRetry;

/// Paces this request on another key of the middleware's pacer than the one its `key_by`
/// would pick (its host by default).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RateKey(pub String);

impl RateKey {
    /// A key from anything string-like.
    pub fn new(key: impl Into<String>) -> Self {
        RateKey(key.into())
    }
}

/// How many attempts the middleware made for a request: put in the response's extensions
/// (`response.extensions().get::<Attempts>()`); the reqwest middleware puts it in the
/// request's too (read them with `ClientWithMiddleware::execute_with_extensions`, which also
/// tells it after an error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attempts(pub u32);
