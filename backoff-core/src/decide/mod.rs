//! The decision after each attempt, shared by the attribute's expansion and the builder:
//! succeed, give up, or back off for how long; with Python's logging.
//!
//! - `policy.rs`: the [`Policy`] a caller configures and the [`Rules`] a decision reads;
//! - `state.rs`: [`State`], the whole decision for a loop of your own;
//! - `run.rs`: [`Run`], what the attribute's future keeps between attempts;
//! - `log.rs`: the log lines a decision writes and how an outcome is shown in them;
//! - `details.rs`: [`Details`], what handlers receive.

mod details;
mod log;
mod policy;
mod run;
mod state;

use std::time::Duration;

use tracing::Level;

pub use details::Details;
pub use log::{Line, Shown};
pub use policy::{Policy, Rules};
pub use run::{Queued, Run, Unpaced};
pub use state::State;

/// How the caller judged one attempt's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a failure: return it (after `on_success`).
    Success,
    /// A failure worth retrying, if the limits allow.
    Retry,
    /// A permanent failure (Python's `giveup(e)` was true): give up now.
    GiveUp,
    /// An error the loop does not handle (Python: an exception outside `exception`): return it
    /// at once, with no handler called and nothing logged.
    Propagate,
}

/// What the loop does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Call the `on_success` handlers and return the outcome.
    Success,
    /// Call the `on_backoff` handlers, sleep this long, try again.
    Backoff(Duration),
    /// Call the `on_giveup` handlers and return the outcome unchanged.
    GiveUp,
    /// Return the outcome unchanged; no handlers.
    Propagate,
}

/// Whether anything may record an event at `level`: with no subscriber, or one whose
/// maximum level is below it, a log line costs this one check, and the outcome is never
/// formatted. (A subscriber that filters per event is asked by `tracing` itself, still
/// before any formatting.)
#[inline]
fn on(level: Level) -> bool {
    level <= tracing::level_filters::STATIC_MAX_LEVEL
        && level <= tracing::level_filters::LevelFilter::current()
}
