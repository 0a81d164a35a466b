//! What the service and the policy read of a request: the rules it is retried by, its
//! pacing key, and a copy of it for each attempt.

use http::Request;

use super::super::classify::RequestRules;

/// The rules for `req` ([`RequestRules::new`]).
pub(super) fn rules<B>(req: &Request<B>, retry_5xx: bool, retry_408: bool) -> RequestRules {
    RequestRules::new(req.method(), req.headers(), retry_5xx, retry_408)
}

/// The host of `uri`, with its port when the URI names one (`host` or `host:port`), as the
/// reqwest middleware keys a request.
pub(super) fn host_key(uri: &http::Uri) -> Option<String> {
    let host = uri.host()?;
    Some(match uri.port_u16() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// A copy of `req`, body, headers and extensions included (an `http::Request` is not
/// `Clone`, whatever its body).
pub(super) fn copy<B: Clone>(req: &Request<B>) -> Request<B> {
    let mut copy = Request::new(req.body().clone());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    *copy.extensions_mut() = req.extensions().clone();
    copy
}
