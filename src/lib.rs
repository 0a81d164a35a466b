//! Python's [`backoff`](https://pypi.org/project/backoff/) decorator for Rust.
#![doc = include_str!("../README.md")]

#[doc(inline)]
pub use backoff_macros::backoff;

pub use backoff_core::{
    Action, Backoff, Clock, Details, HookSet, Hooks, IntoHooks, IntoSeconds, Jitter, Level,
    NoHooks, Policy, State, Verdict, Wait, constant, decay, expo, fibo, intervals, runtime,
    saturating_secs, sim, wait,
};

#[doc(hidden)]
pub mod __private {
    pub use backoff_core::__private::*;
}
