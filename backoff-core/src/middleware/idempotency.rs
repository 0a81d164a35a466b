//! `Idempotency-Key`: one key per logical request, the same on every attempt, so a server
//! that honours keys (the IETF draft `draft-ietf-httpapi-idempotency-key-header`, Stripe,
//! many payment and messaging APIs) applies a retried `POST` at most once.

use http::Method;
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// The header's name, `Idempotency-Key`.
pub(super) const HEADER: HeaderName = HeaderName::from_static("idempotency-key");

/// Whether the middleware gives requests an `Idempotency-Key` of its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdempotencyKey {
    /// Never (the default): a request keeps the key it carries, if any.
    #[default]
    Off,
    /// A `POST` or `PATCH` without an `Idempotency-Key` gets one, a random UUID (version 4),
    /// set once before the first attempt and sent unchanged on every retry; such a request
    /// is then retried like a `PUT`. The server must honour the key, else a retried request
    /// can still be applied twice. (Other methods are idempotent already: they get none.)
    Auto,
}

/// Whether sending `method` twice has the effect of sending it once (RFC 9110, 9.2.2).
pub(super) fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// Gives a request with `method` and `headers` its own key when `mode` asks for one: a
/// `POST` or `PATCH` (a method that is not idempotent) that carries none.
pub(super) fn add_if_asked(mode: IdempotencyKey, method: &Method, headers: &mut HeaderMap) {
    if mode == IdempotencyKey::Auto && !idempotent(method) && !headers.contains_key(HEADER) {
        headers.insert(HEADER, new_key());
    }
}

/// A random UUID, version 4 (122 random bits), in its usual hyphenated lowercase form.
pub(super) fn new_key() -> HeaderValue {
    let mut n: u128 = rand::random();
    n = (n & !(0xf << 76)) | (0x4 << 76); // version 4
    n = (n & !(0x3 << 62)) | (0x2 << 62); // variant RFC 9562
    let h = format!("{n:032x}");
    let text = format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    );
    HeaderValue::try_from(text).expect("hex and hyphens are a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_uuid_v4_and_differ() {
        let a = new_key();
        let b = new_key();
        assert_ne!(a, b);
        let a = a.to_str().unwrap();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(a.matches('-').count(), 4);
    }
}
