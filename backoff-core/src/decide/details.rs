//! What every handler receives.

use std::time::Duration;

/// What every handler receives: Python's `details` dict, typed.
#[derive(Debug)]
#[non_exhaustive]
pub struct Details<'a, R: ?Sized> {
    /// The retried function's name.
    pub target: &'a str,
    /// Attempts made so far, this one included.
    pub tries: u32,
    /// Time since the run started, taken when this attempt ended, less the time queued for a
    /// pacer ([`State::add_queued`](super::State::add_queued)): the time spent in attempts and backoff waits. (The
    /// attribute reads the clock only when something needs it: `max_time` or a handler.)
    pub elapsed: Duration,
    /// The wait before the next attempt (`on_backoff` only).
    pub wait: Option<Duration>,
    /// The judged outcome: the attempt's whole return value (`Result`, `bool`, `Option`…).
    pub outcome: &'a R,
}

impl<T, E> Details<'_, Result<T, E>> {
    /// The error, when the outcome is an `Err` (Python's `details["exception"]`).
    pub fn error(&self) -> Option<&E> {
        self.outcome.as_ref().err()
    }

    /// The value, when the outcome is an `Ok` (Python's `details["value"]`).
    pub fn value(&self) -> Option<&T> {
        self.outcome.as_ref().ok()
    }
}
