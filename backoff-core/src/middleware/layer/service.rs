//! [`PoliteService`]: a request's run through the builder, with the inner service called once
//! per attempt.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use crate::decide::Details;
use crate::hints::{Feedback, RateFeedback};
use crate::http_shown::HttpShown;
use crate::pace::Pacer;
use crate::wait::{Expo, Wait};

use super::super::classify::{self, Classify, Unclassified};
use super::super::idempotency;
use super::super::overrides::{Attempts, NoRetry};
use super::attempted::Attempted;
use super::request;
use super::settings::{AttemptHandler, PoliteLayer};

/// One attempt's outcome, as the policy's generator and the log lines see it: the inner
/// service's response or error ([`result`](ServiceOutcome::result)).
///
/// Its `Debug`, which the log lines print, shows a response by its status and its
/// `Retry-After` (not its headers or body), and an error by its `Debug`.
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub struct ServiceOutcome<R, E>(Result<Response<R>, E>);

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<R, E> ServiceOutcome<R, E> {
    /// What the attempt returned: the response (any status) or the error.
    pub fn result(&self) -> &Result<Response<R>, E> {
        &self.0
    }

    /// The response, whatever its status, if the attempt got one.
    pub fn response(&self) -> Option<&Response<R>> {
        self.0.as_ref().ok()
    }

    /// The error, if the attempt got no response.
    pub fn error(&self) -> Option<&E> {
        self.0.as_ref().err()
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<R, E: fmt::Debug> fmt::Debug for ServiceOutcome<R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", HttpShown(&self.0))
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<R, E: fmt::Debug> Attempted for ServiceOutcome<R, E> {
    fn status(&self) -> Option<http::StatusCode> {
        self.response().map(Response::status)
    }

    fn headers(&self) -> Option<&http::HeaderMap> {
        self.response().map(Response::headers)
    }

    fn is_error(&self) -> bool {
        self.error().is_some()
    }
}

/// Calls `handler`, if any, with the attempt seen as [`Attempted`].
fn call<R: 'static, E: fmt::Debug + 'static>(
    handler: Option<&AttemptHandler>,
    d: &Details<'_, ServiceOutcome<R, E>>,
) {
    if let Some(f) = handler {
        f(&Details {
            target: d.target,
            tries: d.tries,
            elapsed: d.elapsed,
            wait: d.wait,
            outcome: d.outcome as &dyn Attempted,
        });
    }
}

/// A response tells an adaptive pacer what its status and headers say; gRPC's
/// `RESOURCE_EXHAUSTED` is a throttle too, its `grpc-retry-pushback-ms` the server's wait.
/// An error is no throttle.
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<R, E> RateFeedback for ServiceOutcome<R, E> {
    fn feedback(&self) -> Feedback {
        match &self.0 {
            Ok(response) => {
                let mut feedback = Feedback::from_http(response.status(), response.headers());
                if classify::grpc_exhausted(response.headers()) {
                    feedback.throttled = true;
                    feedback.hints.retry_after = classify::server_wait(response.headers());
                }
                feedback
            }
            Err(_) => Feedback::accepted(),
        }
    }
}

/// The service [`PoliteLayer`] makes: each request waits for its slot on the pacer, is sent
/// (a copy of it) to the inner service, and is judged, until it succeeds or the policy gives
/// up; the caller gets the last response (a `503` is an `Ok`) or the last error, and the
/// response carries the [`Attempts`] made.
///
/// The waits happen inside the future `call` returns; `poll_ready` is the inner service's.
/// Cloning it is cheap, and every clone shares the settings and the pacer.
///
/// A request with a [`NoRetry`] extension is sent once (paced). `reqwest::Client` is a
/// `Service<reqwest::Request>`, not of `http::Request`: wrap it in a `tower::service_fn` that
/// converts (`reqwest::Request::try_from(http_request)`, `http::Response::from(response)`), or
/// use the reqwest middleware.
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub struct PoliteService<S, W = Expo, C = Unclassified> {
    inner: S,
    layer: Arc<PoliteLayer<W, C>>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<S: Clone, W, C> Clone for PoliteService<S, W, C> {
    fn clone(&self) -> Self {
        PoliteService {
            inner: self.inner.clone(),
            layer: Arc::clone(&self.layer),
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<S: fmt::Debug, W: fmt::Debug, C: fmt::Debug> fmt::Debug for PoliteService<S, W, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoliteService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<S, W: Clone, C: Clone> Layer<S> for PoliteLayer<W, C> {
    type Service = PoliteService<S, W, C>;

    fn layer(&self, inner: S) -> Self::Service {
        PoliteService {
            inner,
            layer: Arc::new(self.clone()),
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<S, W, C> PoliteService<S, W, C> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

/// A pacer that paces nothing, for a layer given none.
fn unpaced() -> &'static Pacer {
    static UNPACED: OnceLock<Pacer> = OnceLock::new();
    UNPACED.get_or_init(Pacer::unlimited)
}

type Outcome<R, E> = ServiceOutcome<R, E>;

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<S, W, C, B, R> Service<Request<B>> for PoliteService<S, W, C>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: fmt::Debug + Send + Sync + 'static,
    B: Clone + Send + Sync + 'static,
    R: Send + Sync + 'static,
    W: Wait<Outcome<R, S::Error>> + Clone + Send + Sync + 'static,
    C: Classify<S::Error> + Send + Sync + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The service polled ready makes the first attempt; clones make the others.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        Box::pin(run(Arc::clone(&self.layer), ready, req))
    }
}

/// One request's run.
async fn run<S, W, C, B, R>(
    layer: Arc<PoliteLayer<W, C>>,
    ready: S,
    mut req: Request<B>,
) -> Result<Response<R>, S::Error>
where
    S: Service<Request<B>, Response = Response<R>> + Clone,
    S::Error: fmt::Debug + 'static,
    B: Clone,
    R: 'static,
    W: Wait<Outcome<R, S::Error>> + Clone,
    C: Classify<S::Error>,
{
    let method = req.method().clone();
    idempotency::add_if_asked(layer.idempotency, &method, req.headers_mut());
    let rules = request::rules(&req, layer.retry_5xx, layer.retry_408);
    let key = layer.key_of(&req);
    let mut policy = layer.policy.clone();
    if req.extensions().get::<NoRetry>().is_some() {
        policy = policy.max_tries(1);
    }

    let tries = AtomicU32::new(0);
    let template = ready.clone();
    let mut first = Some(ready);
    let (tries_ref, req_ref) = (&tries, &req);
    let op = move || {
        tries_ref.fetch_add(1, Ordering::Relaxed);
        let mut service = first.take().unwrap_or_else(|| template.clone());
        let attempt = request::copy(req_ref);
        async move {
            let out = match service.ready().await {
                Ok(service) => service.call(attempt).await,
                Err(e) => Err(e),
            };
            ServiceOutcome(out)
        }
    };
    let classifier = &layer.classify;
    let retry = policy
        .retry(op)
        .judge(move |out: &Outcome<R, S::Error>| match &out.0 {
            Ok(response) => {
                classify::response_verdict(&rules, response.status(), response.headers())
            }
            Err(e) => rules.verdict_of(Some(classifier.classify(e).failure())),
        })
        .retry_after_outcome(|out: &Outcome<R, S::Error>| {
            out.response()
                .and_then(|response| classify::server_wait(response.headers()))
        });
    let pacer: &Pacer = match &layer.pacer {
        Some(pacer) => pacer,
        None => unpaced(),
    };
    let handlers = &*layer;
    let on_backoff = move |d: &Details<'_, Outcome<R, S::Error>>| {
        call(handlers.on_backoff.as_ref(), d);
    };
    let on_giveup = move |d: &Details<'_, Outcome<R, S::Error>>| {
        call(handlers.on_giveup.as_ref(), d);
    };
    let ServiceOutcome(mut out) = match key {
        Some(key) => {
            retry
                .pacer(pacer)
                .rate_key(key)
                .observe_output()
                .on_backoff(on_backoff)
                .on_giveup(on_giveup)
                .await
        }
        None => {
            retry
                .pacer(pacer)
                .observe_output()
                .on_backoff(on_backoff)
                .on_giveup(on_giveup)
                .await
        }
    };
    if let Ok(response) = &mut out {
        response
            .extensions_mut()
            .insert(Attempts(tries.load(Ordering::Relaxed)));
    }
    out
}
