//! HTTP client middleware: every request of a client retried and paced with a builder policy,
//! the attribute's rules and log lines, without writing a retry loop around each call.
//!
//! [`PoliteMiddleware`] is a `reqwest_middleware::Middleware` (feature `reqwest-middleware`):
//! add it to a `reqwest_middleware::ClientBuilder` and each request the client sends runs
//! through a [`Backoff`](crate::Backoff) policy, paced by a [`Pacer`](crate::Pacer) per host,
//! honouring `Retry-After`, drawing on a [`RetryBudget`](crate::RetryBudget), and retrying a
//! `POST` only when that cannot send it twice. [`PoliteLayer`] (feature `tower`) does the same
//! for any tower `Service` of `http::Request`s, and [`PolitePolicy`] is a
//! `tower::retry::Policy` with the same rules. The facade's `politely::middleware` module is
//! the guide.
//!
//! The files: `classify.rs` (what an outcome proves, for every client), `idempotency.rs`
//! (`Idempotency-Key`), `overrides.rs` (per-request settings), `reqwest.rs`, and `layer/` (tower's).

mod classify;
mod idempotency;
#[cfg(feature = "tower")]
mod layer;
mod overrides;
#[cfg(feature = "reqwest-middleware")]
mod reqwest;

pub use idempotency::IdempotencyKey;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use layer::{Attempted, PoliteLayer, PolitePolicy, PoliteService, ServiceOutcome};
pub use overrides::{Attempts, NoRetry, RateKey};
#[cfg(feature = "reqwest-middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
pub use reqwest::{Outcome, PoliteMiddleware};

#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use classify::{Classify, Fault, Unclassified};

/// The `reqwest-middleware` crate the middleware plugs into, for its `ClientBuilder`.
#[cfg(feature = "reqwest-middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
pub use reqwest_middleware;

/// The `tower` crate the layer plugs into, for its `Layer`, `Service`, `ServiceBuilder`,
/// `service_fn` and `retry`.
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use tower;
