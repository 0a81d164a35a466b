//! A manual clock for tests and simulations of code that does not run on tokio: sync fns, or
//! async code on another runtime.
//!
//! ```
//! use std::time::Duration;
//! use backoff_core::sim::SimClock;
//!
//! let clock = SimClock::new();
//! let start = clock.now();
//! clock.sleep(Duration::from_secs(3));
//! assert_eq!(clock.now() - start, Duration::from_secs(3));
//! assert_eq!(clock.sleeps(), vec![Duration::from_secs(3)]);
//! ```

use std::ops::Sub;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::builder::Clock;

/// A clock that moves only when something sleeps on it (or [`advance`](SimClock::advance)
/// moves it); it records every sleep. Clones share the same time.
#[derive(Clone, Debug, Default)]
pub struct SimClock {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    now: Duration,
    sleeps: Vec<Duration>,
}

/// An instant on a [`SimClock`]: the time since the clock was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SimInstant(pub Duration);

impl SimClock {
    /// A clock at zero.
    pub fn new() -> Self {
        SimClock::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The current instant.
    pub fn now(&self) -> SimInstant {
        self.with(|i| SimInstant(i.now))
    }

    /// Records a sleep and moves the clock forward by it (saturating).
    pub fn sleep(&self, wait: Duration) {
        self.with(|i| {
            i.sleeps.push(wait);
            i.now = i.now.saturating_add(wait);
        });
    }

    /// The same as [`sleep`](SimClock::sleep), as a future that is ready at once.
    pub fn sleep_async(&self, wait: Duration) -> std::future::Ready<()> {
        self.sleep(wait);
        std::future::ready(())
    }

    /// Moves the clock forward without recording a sleep: an attempt that takes time.
    pub fn advance(&self, by: Duration) {
        self.with(|i| i.now = i.now.saturating_add(by));
    }

    /// Every sleep so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.with(|i| i.sleeps.clone())
    }
}

impl Sub for SimInstant {
    type Output = Duration;
    fn sub(self, earlier: SimInstant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Clock for SimInstant {
    fn since(&self, earlier: &Self) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}
