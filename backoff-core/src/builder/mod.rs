//! The builder, for retrying without the attribute: one entry point and chained options, the
//! way `backon` reads, over the same rules as the attribute ([`Rules`](crate::decide::Rules):
//! the limits, the budget, the log lines) with the semantics of
//! [`State::decide_with_hint`](crate::State::decide_with_hint).
//!
//! A run is written in three parts:
//!
//! 1. the policy, which does not depend on the operation: a wait generator ([`expo`],
//!    [`fibo`], [`constant`], [`intervals`], [`decay`], [`runtime`] or [`Backoff::new`]) and
//!    its limits, jitter, seed, logging and [retry budget](Backoff::budget);
//! 2. the operation: [`Backoff::retry`] for an async one (the result is a future),
//!    [`Backoff::retry_blocking`] for a sync one (run it with [`Retry::call`]);
//! 3. how the operation is judged and run, now that its outcome type is known (so closures
//!    need no type annotations): [`when`](Retry::when), [`giveup`](Retry::giveup),
//!    [`predicate`](Retry::predicate), [`judge`](Retry::judge),
//!    [`retry_after`](Retry::retry_after), [`pacer`](Retry::pacer) and
//!    [`rate_key`](Retry::rate_key) (and, for an adaptive pacer, [`observe`](Retry::observe)),
//!    [`sleep`](Retry::sleep), [`clock`](Retry::clock), and the
//!    handlers [`on_success`](Retry::on_success), [`on_backoff`](Retry::on_backoff) and
//!    [`on_giveup`](Retry::on_giveup), sync or async.
//!
#![cfg_attr(feature = "tokio", doc = "```")]
#![cfg_attr(not(feature = "tokio"), doc = "```ignore")]
//! # #[derive(Debug)] enum ApiError { RateLimited(Option<u64>), Server(u16), BadRequest }
//! # async fn send(_: &str) -> Result<u32, ApiError> { Ok(1) }
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let pacer = backoff_core::Pacer::per_second(20.0);
//! let id = backoff_core::expo()
//!     .max_value(32)
//!     .max_time(300)
//!     .retry(|| send("+15550100"))
//!     .when(|e| matches!(e, ApiError::RateLimited(_) | ApiError::Server(_)))
//!     .retry_after(|e| match e {
//!         ApiError::RateLimited(after) => *after,
//!         _ => None,
//!     })
//!     .pacer(&pacer)
//!     .on_backoff(|d| eprintln!("retrying in {:?} after {:?}", d.wait, d.outcome))
//!     .await;
//! # assert_eq!(id.unwrap(), 1);
//! # }
//! ```
//!
//! The same run for a blocking operation:
//!
//! ```
//! # fn send(_: &str) -> Result<u32, std::io::Error> { Ok(1) }
//! let id = backoff_core::expo()
//!     .max_tries(5)
//!     .retry_blocking(|| send("+15550100"))
//!     .on_giveup(|d| eprintln!("gave up after {} tries", d.tries))
//!     .call();
//! # assert_eq!(id.unwrap(), 1);
//! ```
//!
//! Nothing is allocated per run unless you ask for it: the options are stored by type (an
//! async handler's future lives inside the retry future, not in a box), and the clock is read
//! only when `max_time` or a handler needs it.
//!
//! The files: `backoff.rs` ([`Backoff`] and its constructors), `retry.rs` ([`Retry`]),
//! `future.rs` and `blocking.rs` (the async and the sync loop), `parts.rs` (the options,
//! stored by type), `hooks.rs` (the handlers), `run.rs` (what a run keeps), `markers.rs` and
//! `clock.rs` ([`Clock`]). This file only declares and re-exports them.

mod backoff;
mod blocking;
pub(crate) mod clock;
mod future;
mod hooks;
mod markers;
mod parts;
mod retry;
mod run;

pub use backoff::{Backoff, constant, decay, expo, fibo, intervals, runtime};
pub use clock::Clock;
pub use future::RetryFuture;
pub use retry::Retry;

/// The builder's type state: the types a [`Retry`] carries for what each chained option
/// set (how to judge, sleep, pace, report), and the traits that bound them.
///
/// A program names them only to store a configured [`Retry`] in a field or return one from a
/// fn; otherwise type inference fills them in.
pub mod typestate {
    pub use super::hooks::{
        AsyncHooks, BlockingHooks, Deferred, HandlerOutput, Hook, Immediate, NoHooks,
    };
    pub use super::markers::{Async, Blocking};
    pub use super::parts::{
        Always, AsyncOp, AsyncSleep, Auto, BlockingSleep, DefaultClock, DefaultSleep, ErrorHint,
        ErrorJudge, Errors, Judge, Judged, Mode, Never, NoHint, NoKey, NoObserve, NoPacer, Now,
        Observe, ObserveOutput, Observes, OutcomeHint, Pace, PaceKey, Paced, PacedWait, Predicate,
        RetryAfterHint, Slot, Test,
    };
}
