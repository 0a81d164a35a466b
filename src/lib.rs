#![doc = include_str!("../README.md")]

/// Retries the annotated fn with Python `backoff`'s semantics: see the [crate docs](crate)
/// for every argument.
///
/// # The equivalent code without the attribute
///
/// The attribute keeps the fn's signature and replaces its body with a loop that runs the
/// original body once per attempt (as an `async` block, or a closure in a sync fn, so `?` and
/// `return` end the attempt) and asks the runtime's [`State`] what to do next. This
///
/// ```
/// # use backoff::backoff;
/// # #[derive(Debug)] enum SmsError { RateLimited, Server(u16), Rejected(u16) }
/// # async fn post(_: &str) -> Result<(), SmsError> { Ok(()) }
/// #[backoff(expo, max_time = 300, jitter = full,
///           on = error(SmsError::RateLimited | SmsError::Server(_)))]
/// async fn send_sms(to: &str) -> Result<(), SmsError> {
///     post(to).await
/// }
/// ```
///
/// behaves like this hand-written fn:
///
/// ```
/// # #[derive(Debug)] enum SmsError { RateLimited, Server(u16), Rejected(u16) }
/// # async fn post(_: &str) -> Result<(), SmsError> { Ok(()) }
/// use std::time::Duration;
/// use backoff::{Action, Jitter, Policy, Shown, State, Verdict, wait::Expo};
///
/// async fn send_sms(to: &str) -> Result<(), SmsError> {
///     let policy = Policy {
///         max_time: Some(Duration::from_secs(300)),
///         jitter: Jitter::Full,
///         ..Policy::default()
///     };
///     let mut state = State::new("send_sms", Expo::default(), policy);
///     let start = tokio::time::Instant::now(); // only read when max_time or a handler needs it
///     loop {
///         let outcome = async { post(to).await }.await;
///         let elapsed = start.elapsed();
///         let verdict = match &outcome {
///             Ok(_) => Verdict::Success,
///             Err(SmsError::RateLimited | SmsError::Server(_)) => Verdict::Retry,
///             Err(_) => Verdict::Propagate,
///         };
///         // Logs "Backing off send_sms(...) for 1.2s (Err(RateLimited))" or "Giving up ...".
///         match state.decide(&outcome, verdict, elapsed, &Shown(&outcome)) {
///             Action::Backoff(wait) => {
///                 // on_backoff handlers: handler(&state.details(&outcome, elapsed, Some(wait)))
///                 tokio::time::sleep(wait).await;
///             }
///             Action::Success | Action::GiveUp | Action::Propagate => {
///                 // on_success / on_giveup handlers (none for Propagate)
///                 return outcome;
///             }
///         }
///     }
/// }
/// ```
///
/// Owned arguments that the body names are re-bound per attempt
/// (`let to = to.clone();`) so each attempt sees them as the caller passed them.
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

pub use backoff_core::Pacer;
pub use backoff_core::{
    Action, Backoff, Clock, Details, HookSet, Hooks, IntoHooks, IntoSeconds, Jitter, Level,
    NoHooks, Opaque, Policy, RetryAfter, Shown, State, Verdict, Wait, constant, decay, expo, fibo,
    intervals, parse_retry_after, runtime, saturating_secs, sim, wait,
};
#[cfg(feature = "redis")]
pub use backoff_core::{RedisPacerBuilder, redis};

#[doc(hidden)]
pub mod __private {
    pub use backoff_core::__private::*;
}
