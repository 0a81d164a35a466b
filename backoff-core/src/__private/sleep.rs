//! What `expand/sleep.rs` emits: the clock and the sleep between attempts, default or
//! `sleep = ...`, `clock = ...`.

use std::future::Future;
use std::time::Duration;

pub use crate::builder::clock::Clock;

/// The clock of async retries: tokio's, so `tokio::time::pause` governs it.
#[cfg(feature = "tokio")]
pub fn async_now() -> tokio::time::Instant {
    tokio::time::Instant::now()
}

/// The clock of async retries without tokio: the standard monotonic clock.
#[cfg(not(feature = "tokio"))]
pub fn async_now() -> std::time::Instant {
    std::time::Instant::now()
}

/// The default async sleep.
#[cfg(feature = "tokio")]
pub fn async_sleep(wait: Duration) -> tokio::time::Sleep {
    tokio::time::sleep(wait)
}

/// Without tokio there is no default async sleep: an async fn must say `sleep = ...`.
#[cfg(not(feature = "tokio"))]
#[diagnostic::on_unimplemented(
    message = "this async fn needs `sleep = ...`: `politely` is built without its `tokio` feature, so it has no async sleep of its own",
    label = "no async sleep for this fn",
    note = "turn on the `tokio` feature of `backoff`, or name your runtime's sleep and clock: `#[backoff(..., sleep = async_std::task::sleep, clock = std::time::Instant::now)]`"
)]
pub trait AsyncSleepNeedsTokio {}

/// Stands in for the default async sleep when tokio is off: it cannot be called, and the
/// error says what to do.
#[cfg(not(feature = "tokio"))]
pub fn async_sleep<W: AsyncSleepNeedsTokio>(_: W) -> std::future::Pending<()> {
    std::future::pending()
}

/// The clock of sync retries.
pub fn sync_now() -> std::time::Instant {
    std::time::Instant::now()
}

/// The default sync sleep.
pub fn sync_sleep(wait: Duration) {
    std::thread::sleep(wait);
}

/// Time since `start` on the same clock.
pub fn elapsed<C: Clock>(start: &C, now: C) -> Duration {
    now.since(start)
}

/// Calls `f()`: the attribute's closures (`max_time = || ...`, `clock = || ...`) are called
/// through this so the call is not a closure called where it is declared.
pub fn call0<T>(f: impl FnOnce() -> T) -> T {
    f()
}

/// What an async fn's `sleep = ...` must return.
#[diagnostic::on_unimplemented(
    message = "`sleep` in an async fn must return a future, but it returns `{Self}`",
    label = "not a future",
    note = "pass your runtime's async sleep, e.g. `sleep = async_std::task::sleep`; a blocking sleep would stall the executor"
)]
pub trait SleepFuture: Future<Output = ()> {}
impl<F: Future<Output = ()>> SleepFuture for F {}

/// `sleep = ...` in an async fn.
pub fn sleep_async<T: SleepFuture>(
    f: impl FnOnce(Duration) -> T,
    wait: Duration,
) -> impl Future<Output = ()> {
    f(wait)
}

/// Calls `f(wait)`: `sleep = ...`.
pub fn call_sleep<T>(f: impl FnOnce(Duration) -> T, wait: Duration) -> T {
    f(wait)
}
