//! [`PoliteMiddleware`]: a `reqwest_middleware::Middleware` that runs each request through
//! the builder.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::budget::RetryBudget;
use crate::builder::Backoff;
use crate::decide::Details;
use crate::hints::{Feedback, RateFeedback, RetryAfter};
use crate::http_shown::HttpShown;
use crate::pace::Pacer;
use crate::wait::{Expo, Wait};

use super::classify::RequestRules;
use super::idempotency::{self, IdempotencyKey};
use super::overrides::{Attempts, NoRetry, RateKey};

/// One attempt's outcome, as the policy's generator, the handlers and the log lines see it:
/// the response or the error ([`result`](Outcome::result)).
///
/// Its `Debug`, which the log lines print, shows a response by its status, its URL's path
/// and its `Retry-After` (not its headers, nor the query, which may carry credentials), and
/// an error by its kind and causes (not its URL).
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
pub struct Outcome(Result<Response, reqwest_middleware::Error>);

#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
impl Outcome {
    /// What the attempt returned: the response (any status) or the error.
    pub fn result(&self) -> &Result<Response, reqwest_middleware::Error> {
        &self.0
    }

    /// The response, whatever its status, if the attempt got one.
    pub fn response(&self) -> Option<&Response> {
        self.0.as_ref().ok()
    }

    /// The error, if the attempt got no response.
    pub fn error(&self) -> Option<&reqwest_middleware::Error> {
        self.0.as_ref().err()
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Ok(response) => write!(f, "Ok({})", HttpShown(response)),
            Err(reqwest_middleware::Error::Reqwest(e)) => {
                let kind = if e.is_connect() {
                    "connect"
                } else if e.is_timeout() {
                    "timeout"
                } else if e.is_body() {
                    "body"
                } else if e.is_request() {
                    "request"
                } else if e.is_redirect() {
                    "redirect"
                } else if e.is_builder() {
                    "builder"
                } else if e.is_decode() {
                    "decode"
                } else {
                    "other"
                };
                write!(f, "Err(reqwest {kind} error")?;
                let mut source = std::error::Error::source(e);
                while let Some(s) = source {
                    write!(f, ": {s}")?;
                    source = s.source();
                }
                f.write_str(")")
            }
            Err(reqwest_middleware::Error::Middleware(e)) => {
                write!(f, "Err(middleware error: {e:#})")
            }
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
impl RateFeedback for Outcome {
    fn feedback(&self) -> Feedback {
        self.0.feedback()
    }
}

type Handler = Arc<dyn Fn(&Details<'_, Outcome>) + Send + Sync>;
type KeyFn = Arc<dyn Fn(&Request) -> Option<String> + Send + Sync>;

/// A `reqwest_middleware::Middleware` that retries and paces every request of a client with
/// a builder policy ([`expo`](crate::expo), [`fibo`](crate::fibo), [`constant`](crate::constant)
/// …, with their limits, jitter and [budget](crate::Backoff::budget)): each request is one run
/// of [`Backoff::retry`], so the waits, `Retry-After`, the log lines and the handlers are the
/// attribute's.
///
/// Each attempt waits for its slot on the [pacer](PoliteMiddleware::pacer) (per host by
/// default), sends a clone of the request down the rest of the chain, and is judged:
///
/// - retried for every method: a connection that failed before the request was sent, `429`
///   and `503` (after the server's `Retry-After`, with the generator's wait on top);
/// - retried for an idempotent method (`GET`, `HEAD`, `OPTIONS`, `PUT`, `DELETE`, `TRACE`)
///   or a request with an `Idempotency-Key` header: a timeout or a reset after the request was
///   sent, and the other 5xx and `408` (each can be turned off); for a `POST` or `PATCH`
///   without a key these give up at once, since the server may have applied it;
/// - never retried: any other answer (a `404` is returned as it is) and errors no retry
///   mends.
///
/// A request whose body cannot be cloned (a stream) is sent once, paced. When the run gives
/// up, the last response is returned (a `503` is an `Ok`, as reqwest returns it) or the
/// last error; the response carries the [`Attempts`] made.
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
pub struct PoliteMiddleware<W = Expo> {
    policy: Backoff<W>,
    pacer: Option<Arc<Pacer>>,
    key_by: Option<KeyFn>,
    retry_5xx: bool,
    retry_408: bool,
    idempotency: IdempotencyKey,
    on_backoff: Option<Handler>,
    on_giveup: Option<Handler>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
impl<W: fmt::Debug> fmt::Debug for PoliteMiddleware<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoliteMiddleware")
            .field("policy", &self.policy)
            .field("pacer", &self.pacer)
            .field("key_by", &self.key_by.as_ref().map(|_| "custom"))
            .field("retry_5xx", &self.retry_5xx)
            .field("retry_408", &self.retry_408)
            .field("idempotency", &self.idempotency)
            .finish_non_exhaustive()
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
impl<W> PoliteMiddleware<W> {
    /// A middleware retrying with `policy`, unpaced, retrying 5xx and `408`, adding no
    /// `Idempotency-Key`.
    pub fn new(policy: Backoff<W>) -> Self {
        PoliteMiddleware {
            policy,
            pacer: None,
            key_by: None,
            retry_5xx: true,
            retry_408: true,
            idempotency: IdempotencyKey::Off,
            on_backoff: None,
            on_giveup: None,
        }
    }

    /// Paces every attempt, retries included, on `pacer` (fixed, adaptive or shared through
    /// Redis; an adaptive one learns from each response by itself), one budget per host
    /// (`host` or `host:port` when the URL names a port) unless [`key_by`](Self::key_by) says
    /// otherwise. Pass an `Arc<Pacer>` to share it with other code.
    pub fn pacer(mut self, pacer: impl Into<Arc<Pacer>>) -> Self {
        self.pacer = Some(pacer.into());
        self
    }

    /// The pacing key of each request: `None` paces it on the pacer's shared budget. Keep the
    /// key set bounded (a host, a tenant; not a request id). A request's [`RateKey`]
    /// extension overrides it.
    pub fn key_by(
        mut self,
        key: impl Fn(&Request) -> Option<String> + Send + Sync + 'static,
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

    /// Whether the middleware gives a `POST` or `PATCH` an `Idempotency-Key`
    /// ([`IdempotencyKey::Auto`]), so it can be retried after any retryable failure.
    pub fn idempotency_key(mut self, mode: IdempotencyKey) -> Self {
        self.idempotency = mode;
        self
    }

    /// Sets the handler called before each wait, as the builder's
    /// [`on_backoff`](crate::Retry::on_backoff) (sync); a second call replaces the first.
    pub fn on_backoff(mut self, f: impl Fn(&Details<'_, Outcome>) + Send + Sync + 'static) -> Self {
        self.on_backoff = Some(Arc::new(f));
        self
    }

    /// Sets the handler called when a request is given up, as the builder's
    /// [`on_giveup`](crate::Retry::on_giveup) (sync); a second call replaces the first.
    pub fn on_giveup(mut self, f: impl Fn(&Details<'_, Outcome>) + Send + Sync + 'static) -> Self {
        self.on_giveup = Some(Arc::new(f));
        self
    }

    /// The pacing key of `req`: its [`RateKey`], else [`key_by`](Self::key_by)'s, else its
    /// host.
    fn key_of(&self, req: &Request, ext: &Extensions) -> Option<String> {
        if let Some(RateKey(key)) = ext.get::<RateKey>() {
            return Some(key.clone());
        }
        match &self.key_by {
            Some(f) => f(req),
            None => req.url().host_str().map(|host| match req.url().port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            }),
        }
    }
}

/// A pacer that paces nothing, for a middleware given none.
fn unpaced() -> &'static Pacer {
    static UNPACED: OnceLock<Pacer> = OnceLock::new();
    UNPACED.get_or_init(Pacer::unlimited)
}

/// The rest of the run once the pacing step is chosen (keyed or not: two types).
macro_rules! finish {
    ($retry:expr, $this:expr) => {{
        let on_backoff = $this.on_backoff.clone();
        let on_giveup = $this.on_giveup.clone();
        $retry
            .observe_output()
            .on_backoff(move |d: &Details<'_, Outcome>| {
                if let Some(f) = &on_backoff {
                    f(d)
                }
            })
            .on_giveup(move |d: &Details<'_, Outcome>| {
                if let Some(f) = &on_giveup {
                    f(d)
                }
            })
            .await
    }};
}

#[async_trait::async_trait]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
impl<W> Middleware for PoliteMiddleware<W>
where
    W: Wait<Outcome> + Clone + Send + Sync + 'static,
{
    async fn handle(
        &self,
        mut req: Request,
        ext: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let method = req.method().clone();
        idempotency::add_if_asked(self.idempotency, &method, req.headers_mut());
        let rules = RequestRules::new(&method, req.headers(), self.retry_5xx, self.retry_408);
        let key = self.key_of(&req, ext);
        let cloneable = req.try_clone().is_some();
        let mut policy = self.policy.clone();
        if !cloneable || ext.get::<NoRetry>().is_some() {
            policy = policy.max_tries(1);
        }

        // Attempts run one after another: each takes the extensions and gives them back, so
        // what the rest of the chain leaves there is seen by the next attempt and the caller.
        let shared = Mutex::new(std::mem::take(ext));
        let tries = AtomicU32::new(0);
        let mut original = Some(req);
        let (shared_ref, tries_ref) = (&shared, &tries);
        let op = move || {
            tries_ref.fetch_add(1, Ordering::Relaxed);
            let req = if cloneable {
                original.as_ref().and_then(Request::try_clone)
            } else {
                original.take()
            };
            let next = next.clone();
            async move {
                // A body that cannot be cloned makes a run of one attempt: never `None`.
                let req = req.expect("an attempt without its request");
                let mut ext =
                    std::mem::take(&mut *shared_ref.lock().unwrap_or_else(PoisonError::into_inner));
                let out = Outcome(next.run(req, &mut ext).await);
                *shared_ref.lock().unwrap_or_else(PoisonError::into_inner) = ext;
                out
            }
        };
        let retry = policy
            .retry(op)
            .judge(move |out: &Outcome| rules.verdict(&out.0))
            .retry_after_outcome(|out: &Outcome| out.response().and_then(RetryAfter::retry_after));
        let pacer: &Pacer = match &self.pacer {
            Some(pacer) => pacer,
            None => unpaced(),
        };
        let Outcome(mut out) = match key {
            Some(key) => finish!(retry.pacer(pacer).rate_key(key), self),
            None => finish!(retry.pacer(pacer), self),
        };

        let attempts = Attempts(tries.load(Ordering::Relaxed));
        *ext = shared.into_inner().unwrap_or_else(PoisonError::into_inner);
        ext.insert(attempts);
        if let Ok(response) = &mut out {
            response.extensions_mut().insert(attempts);
        }
        out
    }
}
