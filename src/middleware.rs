//! Every request of an HTTP client retried and paced: the attribute's powers as a
//! `reqwest_middleware::Middleware` (feature `reqwest-middleware`) or a `tower::Layer`
//! (feature `tower`, [below](#tower)), with nothing written around each call.
//!
//! [`PoliteMiddleware`] takes a builder policy ([`expo`](crate::expo), [`fibo`](crate::fibo),
//! [`constant`](crate::constant)… with their limits and jitter) and runs each request through
//! it, as [`Backoff::retry`](crate::Backoff::retry) would: the same waits, `Retry-After`
//! handling, [retry budget](crate::budget), log lines and handlers as `#[backoff(...)]`.
//!
//! ```
//! use politely::Pacer;
//! use politely::middleware::{Attempts, IdempotencyKey, PoliteMiddleware};
//! use politely::middleware::reqwest_middleware::ClientBuilder;
//! # use politely::middleware::reqwest_middleware::{self, Middleware, Next};
//! # use http::Extensions;
//! # use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
//! # use std::{future::Future, pin::Pin};
//! # type Answer<'a> =
//! #     Pin<Box<dyn Future<Output = reqwest_middleware::Result<reqwest::Response>> + Send + 'a>>;
//! # /// The server, without a network: a 503 asking for 2 s, then a 202. (A closure of this
//! # /// shape is a `Middleware` too; `middleware` only gives it its signature.)
//! # fn server() -> impl Middleware {
//! #     fn middleware<F>(f: F) -> F
//! #     where F: for<'a> Fn(reqwest::Request, &'a mut Extensions, Next<'a>) -> Answer<'a> { f }
//! #     let calls = AtomicU32::new(0);
//! #     middleware(move |_, _, _| {
//! #         let busy = calls.fetch_add(1, SeqCst) == 0;
//! #         let answer = http::Response::builder().status(if busy { 503 } else { 202 });
//! #         let answer = if busy { answer.header("retry-after", "2") } else { answer };
//! #         Box::pin(std::future::ready(Ok(answer.body("").unwrap().into())))
//! #     })
//! # }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), reqwest_middleware::Error> {
//! let polite = PoliteMiddleware::new(politely::expo().max_value(32).max_time(60))
//!     .pacer(Pacer::per_second(10.0)) // at most 10 attempts a second to each host
//!     .idempotency_key(IdempotencyKey::Auto); // so a POST can be retried safely
//! let client = ClientBuilder::new(reqwest::Client::new())
//!     .with(polite)
//! #   .with(server())
//!     .build();
//!
//! let start = tokio::time::Instant::now();
//! let response = client
//!     .post("https://api.example.com/v1/messages")
//!     .body(r#"{"to":"15550100","text":"hi"}"#)
//!     .send()
//!     .await?;
//! assert_eq!(response.status(), 202);
//! // Answered 503 with `Retry-After: 2` first: retried once, no earlier than 2 s later.
//! assert_eq!(response.extensions().get::<Attempts>(), Some(&Attempts(2)));
//! assert!(start.elapsed() >= std::time::Duration::from_secs(2));
//! # Ok(()) }
//! ```
//!
//! Middleware after it in the chain (tracing, auth) runs once per attempt.
//!
//! # What is retried
//!
//! | outcome | `GET`, `HEAD`, `OPTIONS`, `PUT`, `DELETE`, `TRACE`, or any request with an `Idempotency-Key` | `POST`, `PATCH` without a key |
//! |---|---|---|
//! | connection failed before sending (refused, DNS, TLS, connect timeout) | retried | retried |
//! | `429`, `503` | retried, after `Retry-After` | retried, after `Retry-After` |
//! | timeout or reset after sending | retried | given up: the server may have applied it |
//! | other 5xx ([`retry_5xx`](PoliteMiddleware::retry_5xx), on by default) | retried | given up |
//! | `408` ([`retry_408`](PoliteMiddleware::retry_408), on by default) | retried | given up |
//! | any other answer (2xx, 3xx, `404`…) | returned | returned |
//! | another error (a bad URL, a redirect loop) | returned | returned |
//!
//! `Retry-After` is honoured as the attribute honours it: the server's wait (cut to
//! `max_value`) is a floor, and the generator's jittered wait is added on top, so clients told
//! the same wait do not all come back at once. With [`IdempotencyKey::Auto`] every `POST` and
//! `PATCH` without a key gets one, a random UUID set once and sent unchanged on every attempt,
//! and is then retried like a `PUT` (the server must honour the key).
//!
//! When the run gives up, the caller gets what reqwest would have given for the last attempt:
//! the response (a `503` is an `Ok`) or the error. The response carries the number of attempts
//! in its extensions ([`Attempts`]); so do the request's extensions, after an error too, when
//! the request is sent with `ClientWithMiddleware::execute_with_extensions`. A request whose
//! body cannot be cloned (a stream) is sent once: paced, never retried, never an error for it.
//!
//! # Pacing
//!
//! [`pacer`](PoliteMiddleware::pacer) paces every attempt, retries included: a fixed pacer
//! ([`Pacer::per_second`](crate::Pacer::per_second)), an adaptive one (it learns each host's
//! limit from the responses by itself: the middleware tells it how each attempt went) or one
//! shared through Redis. Each host has its own budget (`host`, or `host:port` when the URL
//! names a port); [`key_by`](PoliteMiddleware::key_by) picks another key per request (`None`:
//! the pacer's shared budget).
//!
//! # Per request
//!
//! Settings for one request ride in its extensions
//! (`reqwest_middleware::RequestBuilder::with_extension`):
//!
//! - [`NoRetry`]: send it once (still paced);
//! - [`RateKey`]: pace it on this key instead.
//!
//! ```
//! # async fn f(client: politely::middleware::reqwest_middleware::ClientWithMiddleware) {
//! use politely::middleware::{NoRetry, RateKey};
//!
//! let charge = client
//!     .post("https://pay.example.com/v1/charges")
//!     .with_extension(NoRetry)
//!     .with_extension(RateKey::new("payments"))
//!     .send()
//!     .await;
//! # }
//! ```
//!
//! # Budget and handlers
//!
//! [`budget`](PoliteMiddleware::budget) draws the retries of every request from a
//! [`RetryBudget`](crate::RetryBudget) (share it between middlewares to bound a whole
//! client's retries); [`on_backoff`](PoliteMiddleware::on_backoff) and
//! [`on_giveup`](PoliteMiddleware::on_giveup) see each attempt's [`Outcome`], as the
//! builder's handlers do. The log lines are the builder's (set their target and levels on the
//! policy: [`Backoff::target`](crate::Backoff::target)); they show a response by its status,
//! its URL's path and its `Retry-After`, and an error by its kind and causes: no headers, no
//! query, no URL.
//!
//! # tower
//!
//! With the feature `tower`, [`PoliteLayer`] brings the same rules to any tower `Service`
//! of `http::Request<B>` whose body is `Clone` (each attempt sends a copy): hyper's and
//! hyper-util's clients, a tonic channel, a stack of tower middleware. Its service waits
//! inside the future `call` returns (`poll_ready` is the inner service's), and every clone of
//! it shares one set of settings and one pacer, so ten clones in ten tasks keep one rate.
//!
//! ```
//! use std::time::Duration;
//! use politely::Pacer;
//! use politely::middleware::{Attempts, PoliteLayer};
//! use politely::middleware::tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! // The server, without a network: a 503 asking for 2 s, then a 200.
//! let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
//! let server = service_fn(move |_req: http::Request<String>| {
//!     let busy = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
//!     let answer = http::Response::builder().status(if busy { 503 } else { 200 });
//!     let answer = if busy { answer.header("retry-after", "2") } else { answer };
//!     async move { Ok::<_, std::convert::Infallible>(answer.body(String::new()).unwrap()) }
//! });
//!
//! let polite = PoliteLayer::new(politely::expo().max_value(32).max_time(60))
//!     .pacer(Pacer::per_second(10.0)); // at most 10 attempts a second to each host
//! let service = polite.layer(server);
//!
//! let start = tokio::time::Instant::now();
//! let request = http::Request::get("https://api.example.com/v1/status")
//!     .body(String::new())
//!     .unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.extensions().get::<Attempts>(), Some(&Attempts(2)));
//! assert!(start.elapsed() >= Duration::from_secs(2));
//! # }
//! ```
//!
//! What is retried is the table above, read from the response's status, and from its
//! `grpc-status` header for gRPC (a trailers-only answer carries it there): `8
//! RESOURCE_EXHAUSTED` counts as a `429` and `14 UNAVAILABLE` as a `503`, retried for every
//! method; `grpc-retry-pushback-ms` is the server's wait, a floor as `Retry-After` is, and a
//! negative or malformed one means "do not retry", as gRPC's retry design says.
//!
//! A service's errors are of any type, so the layer cannot tell by itself whether a failed
//! request reached the server: unless [`classify`](PoliteLayer::classify) says otherwise,
//! every error is ambiguous ([`Fault::Ambiguous`]), retried for an idempotent or keyed
//! request and given up for a `POST` or `PATCH` without a key. [`Fault::of`] reads the usual
//! causes (a refused connection, reqwest's connect errors) from a `std::error::Error`, such
//! as tower's `BoxError`: `.classify(|e: &BoxError| Fault::of(e.as_ref()))`.
//!
//! The layer's handlers, [`on_backoff`](PoliteLayer::on_backoff) and
//! [`on_giveup`](PoliteLayer::on_giveup), see each attempt as an [`Attempted`] (the response's
//! status and headers, or the error), whatever the inner service's body and error types:
//!
//! ```
//! use politely::middleware::PoliteLayer;
//!
//! let polite = PoliteLayer::new(politely::expo().max_time(300)).on_giveup(|d| {
//!     // Page on-call: the API has been failing for five minutes.
//!     eprintln!("giving up after {} attempts ({:?}): {:?}", d.tries, d.elapsed, d.outcome);
//! });
//! # let _ = polite;
//! ```
//!
//! `reqwest::Client` is a tower `Service` of `reqwest::Request`, not of `http::Request`:
//! use the reqwest middleware above, or wrap the client in a `service_fn` that converts
//! (`reqwest::Request::try_from(request)`, `http::Response::from(response)`).
//!
//! For a stack that already has tower's `RetryLayer`, [`PolitePolicy`] is the same rules
//! as a `tower::retry::Policy`; tower consults a policy only after a result, so it cannot
//! pace a first attempt (put `PoliteLayer` in the stack for that). A
//! [`RetryBudget`](crate::RetryBudget) is a `tower::retry::budget::Budget` too, for a policy
//! of one's own.

#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use backoff_core::middleware::{
    Attempted, Classify, Fault, PoliteLayer, PolitePolicy, PoliteService, ServiceOutcome,
    Unclassified, tower,
};
pub use backoff_core::middleware::{Attempts, IdempotencyKey, NoRetry, RateKey};
#[cfg(feature = "reqwest-middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
pub use backoff_core::middleware::{Outcome, PoliteMiddleware, reqwest_middleware};
