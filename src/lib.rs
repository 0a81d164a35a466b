#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The attribute; its reference (every argument, the equivalent code) is on the item itself.
#[doc(inline)]
pub use backoff_macros::backoff;

pub use backoff_core::RetryBudget;
pub use backoff_core::{
    Action, Backoff, Clock, Details, IntoSeconds, Jitter, Level, Opaque, Policy, Retry, RetryAfter,
    RetryFuture, Shown, State, Verdict, Wait, builder, constant, decay, expo, fibo, intervals,
    parse_retry_after, runtime, saturating_secs, sim, wait,
};
pub use backoff_core::{
    AdaptiveRate, Feedback, Hints, Pacer, PacerInstant, Quota, RateFeedback, Reservation,
};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use backoff_core::{RedisPacerBuilder, redis};

#[doc(hidden)]
pub mod __private {
    pub use backoff_core::__private::*;
}
