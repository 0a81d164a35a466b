//! What `expand/wait.rs` emits: the wait generator, built from the attribute's arguments.

use std::time::Duration;

use crate::secs::IntoSeconds;
pub use crate::wait::schedule::{Schedule, Stored};
pub use crate::wait::{Constant, Decay, Expo, Fibo, Intervals, Runtime, Wait};

/// A number as `f64`, for `base`, `factor`-like parameters.
#[diagnostic::on_unimplemented(
    message = "`#[backoff]` expects a number here, found `{Self}`",
    label = "expected an integer or a float"
)]
pub trait ToF64 {
    /// The value as `f64`.
    fn to_f64(self) -> f64;
}

numeric!(ToF64::to_f64 -> f64 = |v| v as f64;
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

/// `expo(base, factor, max_value)` from the attribute's numbers.
pub fn expo(base: impl ToF64, factor: impl IntoSeconds, max_value: Option<Duration>) -> Expo {
    Expo::new(
        base.to_f64(),
        factor.into_duration().as_secs_f64(),
        max_value,
    )
}

/// `decay(initial_value, decay_factor, min_value)` from the attribute's numbers.
pub fn decay(
    initial_value: impl IntoSeconds,
    decay_factor: impl ToF64,
    min_value: Option<Duration>,
) -> Decay {
    Decay::new(
        initial_value.into_duration().as_secs_f64(),
        decay_factor.to_f64(),
        min_value,
    )
}

/// `wait = <expr>`, checked against the outcome type where it is written.
#[inline(always)]
pub fn custom_wait<R: ?Sized, W: Wait<R>>(wait: W) -> W {
    wait
}

/// `runtime(value = ...)` with the outcome type named, so a closure's argument type is known.
pub fn runtime<R: ?Sized, F, S>(value: F) -> Runtime<F>
where
    F: FnMut(&R) -> Option<S>,
    S: IntoSeconds,
{
    Runtime(value)
}

/// A list of waits rebuilt at each decision (the attribute's `interval = [..]`, an array):
/// only the position in it is kept between attempts.
#[derive(Clone, Copy, Debug)]
pub struct Steps<A>(pub A);

impl<R: ?Sized, A: AsRef<[Duration]>> Schedule<R> for Steps<A> {
    type Progress = u32;
    #[inline]
    fn next_wait(self, next: &mut u32, _: &R) -> Option<Duration> {
        let wait = usize::try_from(*next)
            .ok()
            .and_then(|i| self.0.as_ref().get(i))
            .copied();
        *next = next.saturating_add(1);
        wait
    }
}

/// Adapts a `Runtime` function over an error to a generator over `Result<T, E>`, so the
/// attribute's `runtime(value = |e: &E| ...)` sees the error, as Python's sees the exception.
#[derive(Clone, Debug)]
pub struct OnErr<W>(pub W);

impl<T, E, W: Wait<E>> Wait<Result<T, E>> for OnErr<W> {
    fn next_wait(&mut self, outcome: &Result<T, E>) -> Option<Duration> {
        match outcome {
            Err(e) => self.0.next_wait(e),
            // A custom judge may call an `Ok` a failure; an error-typed generator has
            // nothing to read then, so the run gives up rather than guess.
            Ok(_) => None,
        }
    }
}
