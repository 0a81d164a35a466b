//! How the caller judged an attempt ([`Verdict`]) and what the loop does next ([`Action`]).

use std::time::Duration;

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
