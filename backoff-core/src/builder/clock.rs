//! [`Clock`]: the instants a retry loop measures its elapsed time with.

use std::time::Duration;

/// A monotonic instant: `std::time::Instant`, `tokio::time::Instant`, or your runtime's.
#[diagnostic::on_unimplemented(
    message = "a clock must give instants that `politely::Clock` can subtract, found `{Self}`",
    label = "not an instant",
    note = "`clock = ...` returns `std::time::Instant`, `tokio::time::Instant`, `politely::sim::SimInstant`, or your type implementing `politely::Clock`"
)]
pub trait Clock {
    /// Time from `earlier` to `self`, zero if `earlier` is later.
    fn since(&self, earlier: &Self) -> Duration;
}

impl Clock for std::time::Instant {
    fn since(&self, earlier: &Self) -> Duration {
        self.saturating_duration_since(*earlier)
    }
}

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl Clock for tokio::time::Instant {
    fn since(&self, earlier: &Self) -> Duration {
        self.saturating_duration_since(*earlier)
    }
}
