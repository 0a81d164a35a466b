//! What `expand/wait.rs` emits: the wait generator, built from the attribute's arguments.

use std::time::Duration;

use super::{IntoSeconds, ToF64};
pub use crate::wait::{
    Constant, Decay, Expo, Fibo, Intervals, OnErr, Runtime, Schedule, Steps, Stored, Wait,
};

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
