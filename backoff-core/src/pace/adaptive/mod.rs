//! Adaptive pacing: the controller that learns a rate limit from how attempts went
//! (`controller.rs`, [`AdaptiveRate`]) and the lanes that queue callers on what it learned,
//! one per key (`lanes.rs`).

pub(crate) mod controller;
mod lanes;

pub use controller::AdaptiveRate;
pub(super) use lanes::AdaptiveLanes;
