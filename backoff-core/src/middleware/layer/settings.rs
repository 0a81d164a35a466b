//! [`PoliteLayer`]: the settings every [`PoliteService`](super::PoliteService) it makes
//! shares, and their builder.

use std::fmt;
use std::sync::Arc;

use crate::budget::RetryBudget;
use crate::builder::Backoff;
use crate::decide::Details;
use crate::pace::Pacer;
use crate::wait::Expo;

use super::super::classify::Unclassified;
use super::super::idempotency::IdempotencyKey;
use super::super::overrides::RateKey;
use super::attempted::Attempted;
use super::request;

/// A request's pacing key, read from its URI and headers.
pub(super) type KeyFn = Arc<dyn Fn(&http::Uri, &http::HeaderMap) -> Option<String> + Send + Sync>;

/// A handler, called with what an attempt got whatever the inner service's types.
pub(super) type AttemptHandler = Arc<dyn Fn(&Details<'_, dyn Attempted>) + Send + Sync>;

/// A `tower::Layer` whose [`PoliteService`](super::PoliteService) paces and retries every
/// request of the service it wraps with a builder policy, by the reqwest middleware's rules
/// (the table of the facade's `politely::middleware` guide): each request is one run of
/// [`Backoff::retry`], so the waits, `Retry-After`, the budget and the log lines are the
/// attribute's.
///
/// The service wraps any `S: Service<http::Request<B>, Response = http::Response<R>> + Clone`
/// whose body `B` is `Clone` (each attempt sends a copy). Every clone of the service, and
/// every service this layer makes, shares these settings and the pacer behind an `Arc`: ten
/// clones firing at once keep one rate limit.
///
/// - Retried for every method: `429`, `503`, gRPC's `RESOURCE_EXHAUSTED` (8) and
///   `UNAVAILABLE` (14), and errors the [classifier](PoliteLayer::classify) reads as
///   [`Fault::Unsent`](super::super::Fault::Unsent).
/// - Retried for an idempotent method or a request with an `Idempotency-Key` only: other
///   5xx, `408`, and [ambiguous](super::super::Fault::Ambiguous) errors (every error, without
///   a classifier).
/// - Never retried: other answers (a `404` is returned as it is), a gRPC answer whose
///   `grpc-retry-pushback-ms` is negative or not an integer (the server says not to), and
///   [permanent](super::super::Fault::Permanent) errors.
///
/// The server's wait, `grpc-retry-pushback-ms` or else `Retry-After`, is a floor: the
/// generator's jittered wait is added on top, as the attribute does.
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub struct PoliteLayer<W = Expo, C = Unclassified> {
    pub(super) policy: Backoff<W>,
    pub(super) pacer: Option<Arc<Pacer>>,
    pub(super) key_by: Option<KeyFn>,
    pub(super) retry_5xx: bool,
    pub(super) retry_408: bool,
    pub(super) idempotency: IdempotencyKey,
    pub(super) classify: C,
    pub(super) on_backoff: Option<AttemptHandler>,
    pub(super) on_giveup: Option<AttemptHandler>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<W: Clone, C: Clone> Clone for PoliteLayer<W, C> {
    fn clone(&self) -> Self {
        PoliteLayer {
            policy: self.policy.clone(),
            pacer: self.pacer.clone(),
            key_by: self.key_by.clone(),
            retry_5xx: self.retry_5xx,
            retry_408: self.retry_408,
            idempotency: self.idempotency,
            classify: self.classify.clone(),
            on_backoff: self.on_backoff.clone(),
            on_giveup: self.on_giveup.clone(),
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<W: fmt::Debug, C: fmt::Debug> fmt::Debug for PoliteLayer<W, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoliteLayer")
            .field("policy", &self.policy)
            .field("pacer", &self.pacer)
            .field("key_by", &self.key_by.as_ref().map(|_| "custom"))
            .field("retry_5xx", &self.retry_5xx)
            .field("retry_408", &self.retry_408)
            .field("idempotency", &self.idempotency)
            .field("classify", &self.classify)
            .finish_non_exhaustive()
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<W> PoliteLayer<W> {
    /// A layer retrying with `policy`, unpaced, retrying 5xx and `408`, adding no
    /// `Idempotency-Key`, reading every error of the inner service as ambiguous.
    pub fn new(policy: Backoff<W>) -> Self {
        PoliteLayer {
            policy,
            pacer: None,
            key_by: None,
            retry_5xx: true,
            retry_408: true,
            idempotency: IdempotencyKey::Off,
            classify: Unclassified,
            on_backoff: None,
            on_giveup: None,
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<W, C> PoliteLayer<W, C> {
    /// Paces every attempt, retries included, on `pacer`, one budget per host (the URI's
    /// host, with its port when it names one) unless [`key_by`](Self::key_by) says otherwise.
    /// A request's [`RateKey`](super::super::RateKey) extension overrides both.
    pub fn pacer(mut self, pacer: impl Into<Arc<Pacer>>) -> Self {
        self.pacer = Some(pacer.into());
        self
    }

    /// The pacing key of each request, from its URI and headers: `None` paces it on the
    /// pacer's shared budget. Keep the key set bounded (a host, a tenant; not a request id).
    pub fn key_by(
        mut self,
        key: impl Fn(&http::Uri, &http::HeaderMap) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.key_by = Some(Arc::new(key));
        self
    }

    /// Draws every retry from `budget` (see [`Backoff::budget`]).
    pub fn budget(mut self, budget: &RetryBudget) -> Self {
        self.policy = self.policy.budget(budget);
        self
    }

    /// Whether a 5xx other than `503` is retried (default true; only for an idempotent
    /// method or a request with an `Idempotency-Key`). A `503` always is.
    pub fn retry_5xx(mut self, retry: bool) -> Self {
        self.retry_5xx = retry;
        self
    }

    /// Whether `408 Request Timeout` is retried (default true; only for an idempotent method
    /// or a request with an `Idempotency-Key`).
    pub fn retry_408(mut self, retry: bool) -> Self {
        self.retry_408 = retry;
        self
    }

    /// Whether the service gives a `POST` or `PATCH` an `Idempotency-Key`
    /// ([`IdempotencyKey::Auto`]), so it can be retried after any retryable failure.
    pub fn idempotency_key(mut self, mode: IdempotencyKey) -> Self {
        self.idempotency = mode;
        self
    }

    /// How the inner service's errors are read (a closure `Fn(&E) -> Fault`): whether the
    /// request can have reached the server. Without it every error is ambiguous: retried
    /// for an idempotent or keyed request, given up for a `POST` without a key. For tower's
    /// `BoxError`, [`Fault::of`](super::super::Fault::of) reads the usual causes.
    pub fn classify<F>(self, classify: F) -> PoliteLayer<W, F> {
        PoliteLayer {
            policy: self.policy,
            pacer: self.pacer,
            key_by: self.key_by,
            retry_5xx: self.retry_5xx,
            retry_408: self.retry_408,
            idempotency: self.idempotency,
            classify,
            on_backoff: self.on_backoff,
            on_giveup: self.on_giveup,
        }
    }

    /// Sets the handler called before each wait, as the builder's
    /// [`on_backoff`](crate::Retry::on_backoff) (sync); a second call replaces the first. It
    /// sees the attempt through [`Attempted`]: the response's status and headers, or the error.
    pub fn on_backoff(
        mut self,
        f: impl Fn(&Details<'_, dyn Attempted>) + Send + Sync + 'static,
    ) -> Self {
        self.on_backoff = Some(Arc::new(f));
        self
    }

    /// Sets the handler called when a request is given up, as the builder's
    /// [`on_giveup`](crate::Retry::on_giveup) (sync): the place to page someone. A second call
    /// replaces the first.
    pub fn on_giveup(
        mut self,
        f: impl Fn(&Details<'_, dyn Attempted>) + Send + Sync + 'static,
    ) -> Self {
        self.on_giveup = Some(Arc::new(f));
        self
    }

    /// The pacing key of a request: its `RateKey`, else `key_by`'s, else its host.
    pub(super) fn key_of<B>(&self, req: &http::Request<B>) -> Option<String> {
        if let Some(RateKey(key)) = req.extensions().get::<RateKey>() {
            return Some(key.clone());
        }
        match &self.key_by {
            Some(f) => f(req.uri(), req.headers()),
            None => request::host_key(req.uri()),
        }
    }
}
