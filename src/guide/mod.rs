//! Chapters that belong to no one module: read them in any order.
//!
//! - [`python`]: Python `backoff` 2.2.1's semantics side by side, and where this crate
//!   deliberately differs.
//! - [`idempotency`]: retrying calls that are not idempotent, with idempotency keys.
//! - [`jitter`]: jitter and contention, and why the default is `expo` with full jitter.
//! - [`performance`]: what the retry machinery costs, and what its future keeps.
//!
//! The chapters on pacing, rate-limit hints and the retry budget are the docs of the modules
//! they belong to: [`pace`](crate::pace), [`hints`](crate::hints), [`budget`](crate::budget).

pub mod idempotency;
pub mod jitter;
pub mod performance;
pub mod python;
