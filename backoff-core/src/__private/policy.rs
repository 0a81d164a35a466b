//! What `expand/policy.rs` emits: the limits (`max_tries`, `max_time`), the jitter, the
//! seed, the retry budget and the log level, as the run's `Rules`.

use std::time::Duration;

pub use crate::budget::RetryBudget;
pub use crate::decide::Rules;
pub use crate::jitter::named as jitters;
pub use crate::jitter::{FnJitter, Jitter, Spread};
use crate::secs::IntoSeconds;
pub use tracing::Level;

/// Seconds (a number or a `Duration`) as a `Duration`, saturating.
pub fn secs(value: impl IntoSeconds) -> Duration {
    value.into_duration()
}

/// A count of tries from any integer: negative gives 0 (which acts as 1), huge gives
/// `u32::MAX`.
#[diagnostic::on_unimplemented(
    message = "`max_tries` must be an integer, found `{Self}`",
    label = "expected an integer number of attempts"
)]
pub trait IntoTries {
    /// The count, saturated into `u32`.
    fn into_tries(self) -> u32;
}

numeric!(IntoTries::into_tries -> u32 =
    |v| u32::try_from(v).unwrap_or(if v > Self::default() { u32::MAX } else { 0 });
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

/// `max_tries = <expr>`.
pub fn tries(value: impl IntoTries) -> u32 {
    value.into_tries()
}

/// `max_time = || ...`: called once per call.
pub fn secs_of<S: IntoSeconds>(f: impl FnOnce() -> S) -> Duration {
    f().into_duration()
}

/// `max_tries = || ...`: called once per call.
pub fn tries_of<N: IntoTries>(f: impl FnOnce() -> N) -> u32 {
    f().into_tries()
}

/// A seed from any integer (`seed = 7`).
#[diagnostic::on_unimplemented(
    message = "`seed` must be an integer, found `{Self}`",
    label = "expected an integer seed"
)]
pub trait IntoSeed {
    /// The seed.
    fn into_seed(self) -> u64;
}

numeric!(IntoSeed::into_seed -> u64 = |v| v as u64;
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

/// `seed = ...`.
pub fn seed(value: impl IntoSeed) -> u64 {
    value.into_seed()
}

/// What `budget = <expr>` accepts: a `RetryBudget`, or anything that derefs to one
/// (`&RetryBudget`, `Arc<RetryBudget>`, `LazyLock<RetryBudget>`…).
#[diagnostic::on_unimplemented(
    message = "`budget` must be a `politely::RetryBudget` (or a reference, `Arc`, `LazyLock`… of one), found `{Self}`",
    label = "not a retry budget",
    note = "make one with `politely::RetryBudget::new(0.2)` and keep it where every call to the same server can see it (a field of your client, a static)"
)]
pub trait AsBudget {
    /// The budget.
    fn as_budget(&self) -> &RetryBudget;
}

impl AsBudget for RetryBudget {
    fn as_budget(&self) -> &RetryBudget {
        self
    }
}

impl<T: core::ops::Deref<Target = RetryBudget>> AsBudget for T {
    fn as_budget(&self) -> &RetryBudget {
        self
    }
}

/// `budget = <expr>`: a handle on that budget for the policy.
pub fn budget<B: AsBudget + ?Sized>(budget: &B) -> RetryBudget {
    budget.as_budget().clone()
}

/// `jitter = <expr>`: a [`Jitter`] value or a function of the generated wait.
#[diagnostic::on_unimplemented(
    message = "`jitter` must be `full`, `random`, `equal`, `decorrelated`, `none`, a `politely::Jitter`, or a `Fn(Duration) -> Duration`; found `{Self}`",
    label = "not a jitter"
)]
pub trait IntoJitter {
    /// What spreads the waits when the value is kept as it is: the `Jitter` itself, or
    /// the function.
    type Spread: Spread;
    /// The value as it is.
    fn into_spread(self) -> Self::Spread;
    /// The value as a `Jitter` (a function in an `Arc`).
    fn into_jitter(self) -> Jitter;
}

impl IntoJitter for Jitter {
    type Spread = Jitter;
    fn into_spread(self) -> Jitter {
        self
    }
    fn into_jitter(self) -> Jitter {
        self
    }
}

impl<F: Fn(Duration) -> Duration + Send + Sync + 'static> IntoJitter for F {
    type Spread = FnJitter<F>;
    fn into_spread(self) -> FnJitter<F> {
        FnJitter(self)
    }
    fn into_jitter(self) -> Jitter {
        Jitter::custom(self)
    }
}

/// `jitter = <expr>`, evaluated once per call, as a `Jitter` whatever the expression, so
/// that a wrong one is one error. A function goes into an `Arc`: the expansion takes this
/// path for anything but a lower-case path (see [`jitter_path`]) and a closure
/// ([`jitter_fn`]).
pub fn jitter(value: impl IntoJitter) -> Jitter {
    value.into_jitter()
}

/// `jitter = <lower_case::path>`, most likely a fn: kept as it is (a fn item is zero-sized:
/// nothing boxed, nothing allocated per call). A `Jitter` variable works too. A wrong type
/// is reported on the path, with a follow-up error or two that [`jitter`] avoids.
pub fn jitter_path<J: IntoJitter>(value: J) -> J::Spread {
    value.into_spread()
}

/// `jitter = |v| ...`: the closure, its argument typed.
pub fn jitter_fn<F: Fn(Duration) -> Duration>(f: F) -> FnJitter<F> {
    FnJitter(f)
}
