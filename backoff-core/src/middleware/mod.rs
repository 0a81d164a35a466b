//! HTTP client middleware: every request of a client retried and paced with a builder policy,
//! the attribute's rules and log lines, without writing a retry loop around each call.
//!
//! [`PoliteMiddleware`] is a `reqwest_middleware::Middleware`: add it to a
//! `reqwest_middleware::ClientBuilder` and each request the client sends runs through a
//! [`Backoff`](crate::Backoff) policy, paced by a [`Pacer`](crate::Pacer) per host,
//! honouring `Retry-After`, drawing on a [`RetryBudget`](crate::RetryBudget), and retrying a
//! `POST` only when that cannot send it twice. The facade's `politely::middleware` module is
//! the guide.

mod classify;
mod idempotency;
mod overrides;
mod reqwest;

pub use idempotency::IdempotencyKey;
pub use overrides::{Attempts, NoRetry, RateKey};
pub use reqwest::{Outcome, PoliteMiddleware};

/// The `reqwest-middleware` crate the middleware plugs into, for its `ClientBuilder`.
pub use reqwest_middleware;
