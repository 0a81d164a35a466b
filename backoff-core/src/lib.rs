//! The runtime of [`politely`](https://docs.rs/politely): wait generators, jitter, limits,
//! handlers and logging, with Python `backoff` 2.2.1's semantics.
//!
//! Most users depend on the facade crate `politely` and write `#[backoff(...)]`; everything
//! here is re-exported there. The [`Backoff`] builder retries without the attribute, with the
//! same rules as the attribute's expansion: see [`builder`]. [`State`] is the same decisions
//! as one value, for writing a retry loop of your own.
//!
//! # Features
//!
//! - `tokio` (default): async retries sleep on tokio and read its clock (so
//!   `tokio::time::pause` governs them), `Pacer::ready` and `Reservation::ready` wait on
//!   it, and `tokio::time::Instant` is a builder [`Clock`]. Without it, an async retry needs a
//!   sleep of its own (`sleep = ...`, [`Retry::sleep`](builder::Retry::sleep)).
//! - `http`: [`RetryAfter`] for `http::HeaderMap`, [`RateFeedback`] for `http::Response<B>`,
//!   `Feedback::from_http` and `Hints::from_headers`; the attribute's log lines show an
//!   `http::Response` by its status and `Retry-After`.
//! - `reqwest` (with `http`): [`RetryAfter`] for `reqwest::Response`; [`RateFeedback`] for
//!   `reqwest::Response` and `reqwest::Error`, so `Result<reqwest::Response, reqwest::Error>`
//!   tells an adaptive pacer how each attempt went by itself; the attribute's log lines show
//!   a response by its status, path and `Retry-After`.
//! - `redis` (with `tokio`): `Pacer::redis`, `Pacer::redis_with_burst`,
//!   `Pacer::redis_adaptive` and `RedisPacerBuilder`, one rate limit shared by every process
//!   through Redis, and the `redis` crate they take, re-exported.
//! - `redis-tls` (with `redis`): `rediss://` URLs, TLS to a managed Redis through the redis
//!   crate's rustls support; building a Redis pacer installs rustls' aws-lc-rs provider as
//!   the process default when the program has installed none.
//! - `reqwest-middleware` (with `reqwest` and `tokio`): `middleware::PoliteMiddleware`, a
//!   `reqwest_middleware::Middleware` that runs every request of a client through a builder
//!   policy (pacing, `Retry-After`, the retry budget, idempotency keys), and the
//!   `reqwest_middleware` crate it plugs into, re-exported.
//! - `tower` (with `http` and `tokio`): `middleware::PoliteLayer`, a `tower::Layer` whose
//!   service paces and retries any `Service<http::Request<B>>` with the same rules (gRPC's
//!   `RESOURCE_EXHAUSTED`, `UNAVAILABLE` and `grpc-retry-pushback-ms` too), its state shared
//!   by every clone; `middleware::PolitePolicy`, a `tower::retry::Policy`; and
//!   `tower::retry::budget::Budget` for [`RetryBudget`].
//!
//! Each item a feature adds says so in these docs (on docs.rs, built with every feature).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod budget;
pub mod builder;
mod decide;
mod hints;
#[cfg(feature = "http")]
mod http_shown;
mod jitter;
#[cfg(any(feature = "reqwest-middleware", feature = "tower"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "reqwest-middleware", feature = "tower")))
)]
pub mod middleware;
mod pace;
mod secs;
pub mod sim;
pub mod wait;

#[doc(hidden)]
pub mod __private;

pub use budget::RetryBudget;
pub use builder::{
    Backoff, Clock, Retry, RetryFuture, constant, decay, expo, fibo, intervals, runtime,
};
pub use decide::{Action, Details, Policy, State, Verdict};
pub use hints::{Feedback, Hints, Quota, RateFeedback};
pub use hints::{RetryAfter, parse_retry_after};
pub use jitter::Jitter;
pub use pace::adaptive::AdaptiveRate;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use pace::redis::RedisPacerBuilder;
pub use pace::{Pacer, PacerInstant, Reservation, under_limit};
/// The `redis` crate this one builds on, for [`RedisPacerBuilder::new`]'s client.
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis;
pub use secs::IntoSeconds;
pub use tracing::Level;
pub use wait::Wait;
