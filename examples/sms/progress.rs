//! What the operator sees while the batch runs: attempts, retries by cause and the
//! deduplicated replays the server reported, so faults show as they happen.

use crate::client::Snapshot;

/// The progress bar's message: `attempts=<a> retries: 429=<n> 5xx=<n> connection=<n>
/// timeout=<n> replays=<n>`.
pub fn message(s: &Snapshot) -> String {
    format!(
        "attempts={} retries: 429={} 5xx={} connection={} timeout={} replays={}",
        s.attempts,
        s.retries_429,
        s.retries_5xx,
        s.retries_connection,
        s.retries_timeout,
        s.replays
    )
}
