//! [`PolitePolicy`]: the service's rules as a `tower::retry::Policy`.

use std::fmt;

use http::{Request, Response};
use tokio::time::{Instant, Sleep};

use crate::budget::RetryBudget;
use crate::builder::Backoff;
use crate::decide::{Action, State};
use crate::http_shown::HttpShown;
use crate::wait::{Expo, Wait};

use super::super::classify::{self, Classify, Unclassified};
use super::super::overrides::NoRetry;
use super::request;

/// A `tower::retry::Policy` for `tower::retry::RetryLayer`, with the rules of
/// [`PoliteLayer`](super::PoliteLayer): the same outcomes retried for the same methods, gRPC's
/// statuses and `grpc-retry-pushback-ms`, the server's wait as a floor under the generator's
/// jittered wait, and the policy's `max_tries`, `max_time`, budget and log lines.
///
/// tower consults a retry policy only after a result, so this one **cannot pace the first
/// attempt** of a request, nor add an `Idempotency-Key` to it: put
/// [`PoliteLayer`](super::PoliteLayer) in the stack to pace every attempt (it retries too).
/// A `POST` or `PATCH` is retried after an ambiguous failure only when it carries its own
/// `Idempotency-Key`.
///
/// Each request gets a fresh run: tower clones the policy per request, and a clone starts
/// with no tries; `max_time` counts from when tower first copies the request, just before
/// the first attempt.
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub struct PolitePolicy<W = Expo, C = Unclassified> {
    policy: Backoff<W>,
    retry_5xx: bool,
    retry_408: bool,
    classify: C,
    start: Option<Instant>,
    state: Option<State<W>>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<W: Clone, C: Clone> Clone for PolitePolicy<W, C> {
    /// A fresh run, started when the original was (tower copies the policy for each request
    /// right after it copied the request).
    fn clone(&self) -> Self {
        PolitePolicy {
            policy: self.policy.clone(),
            retry_5xx: self.retry_5xx,
            retry_408: self.retry_408,
            classify: self.classify.clone(),
            start: self.start,
            state: None,
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<W: fmt::Debug, C: fmt::Debug> fmt::Debug for PolitePolicy<W, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolitePolicy")
            .field("policy", &self.policy)
            .field("retry_5xx", &self.retry_5xx)
            .field("retry_408", &self.retry_408)
            .field("classify", &self.classify)
            .field("tries", &self.state.as_ref().map_or(0, State::tries))
            .finish()
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<W> PolitePolicy<W> {
    /// A policy retrying with `policy`, 5xx and `408` included, every error read as ambiguous.
    pub fn new(policy: Backoff<W>) -> Self {
        PolitePolicy {
            policy,
            retry_5xx: true,
            retry_408: true,
            classify: Unclassified,
            start: None,
            state: None,
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<W, C> PolitePolicy<W, C> {
    /// Draws every retry from `budget` (see [`Backoff::budget`]).
    pub fn budget(mut self, budget: &RetryBudget) -> Self {
        self.policy = self.policy.budget(budget);
        self
    }

    /// Whether a 5xx other than `503` is retried (default true; idempotent or keyed requests
    /// only).
    pub fn retry_5xx(mut self, retry: bool) -> Self {
        self.retry_5xx = retry;
        self
    }

    /// Whether `408` is retried (default true; idempotent or keyed requests only).
    pub fn retry_408(mut self, retry: bool) -> Self {
        self.retry_408 = retry;
        self
    }

    /// How the inner service's errors are read, as
    /// [`PoliteLayer::classify`](super::PoliteLayer::classify).
    pub fn classify<F>(self, classify: F) -> PolitePolicy<W, F> {
        PolitePolicy {
            policy: self.policy,
            retry_5xx: self.retry_5xx,
            retry_408: self.retry_408,
            classify,
            start: self.start,
            state: None,
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<W, C, B, R, E> tower::retry::Policy<Request<B>, Response<R>, E> for PolitePolicy<W, C>
where
    W: Wait<Result<Response<R>, E>> + Clone,
    C: Classify<E>,
    B: Clone,
    E: fmt::Debug,
{
    type Future = Sleep;

    fn retry(
        &mut self,
        req: &mut Request<B>,
        result: &mut Result<Response<R>, E>,
    ) -> Option<Sleep> {
        let now = Instant::now();
        let start = *self.start.get_or_insert(now);
        let rules = request::rules(req, self.retry_5xx, self.retry_408);
        let verdict = match &*result {
            Ok(response) => {
                classify::response_verdict(&rules, response.status(), response.headers())
            }
            Err(e) => rules.verdict_of(Some(self.classify.classify(e).failure())),
        };
        let policy = &self.policy;
        let state = self.state.get_or_insert_with(|| {
            if req.extensions().get::<NoRetry>().is_some() {
                policy.clone().max_tries(1).state()
            } else {
                policy.state()
            }
        });
        let result = &*result;
        let action = state.decide_with_hint(
            result,
            verdict,
            now.saturating_duration_since(start),
            &HttpShown(result),
            || {
                result
                    .as_ref()
                    .ok()
                    .and_then(|response| classify::server_wait(response.headers()))
            },
        );
        match action {
            Action::Backoff(wait) => Some(tokio::time::sleep(wait)),
            Action::Success | Action::GiveUp | Action::Propagate => None,
        }
    }

    fn clone_request(&mut self, req: &Request<B>) -> Option<Request<B>> {
        if self.state.is_none() {
            // Before the first attempt: the run starts now.
            self.start = Some(Instant::now());
        }
        Some(request::copy(req))
    }
}
