//! Pacing shared through Redis: the fixed-rate pacer and the outage fallback (`fixed.rs`,
//! [`RedisPacerBuilder`]) and the adaptive pacer that every process learns together
//! (`adaptive.rs`).

pub(crate) mod adaptive;
pub(crate) mod fixed;

pub use fixed::RedisPacerBuilder;
