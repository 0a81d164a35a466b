#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Retries the annotated fn with Python `backoff`'s semantics: see the [crate docs](crate)
/// for every argument.
///
/// # The equivalent code without the attribute
///
/// The attribute keeps the fn's signature and replaces its body with a loop that runs the
/// original body once per attempt and asks the runtime what to do next (the decision that
/// [`State`] and the builder make too; the future keeps only the tries and the generator's
/// progress, see "State kept in the future vs recomputed" in the crate docs). Each
/// attempt is an `async move` block (a `move` closure in a sync fn), so `?` and `return` end
/// the attempt; the arguments the body names are copied into it first (owned ones cloned,
/// `&mut` ones reborrowed). The judgement (`on = error(...)`), the limits (literals written
/// in place, other expressions evaluated once per call) and the handlers are plain code
/// around that decision. This fn
///
/// ```
#[doc = include_str!("../backoff-macros/tests/expand/send_sms.rs")]
/// ```
///
/// expands to exactly this (the snapshot `backoff-macros/tests/expand/send_sms.expanded.rs`,
/// which a test compares with the macro's output; `__private` is the expansion's hidden
/// module of helpers):
///
/// ```
#[doc = include_str!("../backoff-macros/tests/expand/send_sms.expanded.rs")]
/// ```
///
/// # Misuse is a compile error
///
/// ```compile_fail
/// # use backoff::backoff;
/// #[backoff(expo, max_tries = 0)] // would never make an attempt
/// async fn f() -> Result<(), ()> { Ok(()) }
/// ```
///
/// ```compile_fail
/// # use backoff::backoff;
/// #[backoff(expo, max_trys = 3)] // unknown argument `max_trys`; did you mean `max_tries`?
/// async fn f() -> Result<(), ()> { Ok(()) }
/// ```
///
/// ```compile_fail
/// # use backoff::backoff;
/// #[backoff(expo)] // `u32` has no default judgement: say `predicate = |v| ...`
/// async fn f() -> u32 { 1 }
/// ```
#[doc(inline)]
pub use backoff_macros::backoff;

pub use backoff_core::RetryBudget;
pub use backoff_core::{
    Action, Backoff, Clock, Details, IntoSeconds, Jitter, Level, Policy, Retry, RetryAfter,
    RetryFuture, State, Verdict, Wait, builder, constant, decay, expo, fibo, intervals,
    parse_retry_after, runtime, sim, wait,
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
