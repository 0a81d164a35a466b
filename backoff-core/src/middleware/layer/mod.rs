//! The tower side of the middleware: [`PoliteLayer`] and the [`PoliteService`] it makes,
//! which pace and retry any `Service<http::Request<B>>` through the builder; [`PolitePolicy`],
//! the same rules as a `tower::retry::Policy`; and `RetryBudget` as tower's retry budget.
//!
//! The files: `settings.rs` ([`PoliteLayer`]: the settings and their builder), `service.rs`
//! (the service and each request's run), `attempted.rs` (what its handlers see of an
//! attempt), `policy.rs`, `budget.rs`, and `request.rs` (what both read of a request: its
//! rules, its pacing key, a copy of it).

mod attempted;
mod budget;
mod policy;
mod request;
mod service;
mod settings;

pub use attempted::Attempted;
pub use policy::PolitePolicy;
pub use service::{PoliteService, ServiceOutcome};
pub use settings::PoliteLayer;
