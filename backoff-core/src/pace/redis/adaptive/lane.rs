//! A lane: one learned rate (the shared budget's, or a key's), where this worker has read its
//! stream to, and the queue of callers that pace on it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::hints::Feedback;
use crate::pace::adaptive::controller::AdaptiveRate;
use crate::pace::common::lock;

type Instant = tokio::time::Instant;

use super::stream::{BATCH, JOIN, StreamId, micros};

/// One learned rate (the shared budget's, or a key's) and the queue that paces on it.
pub(super) struct Lane {
    pub(super) rate: AdaptiveRate,
    /// The budget's stream and `last` in Redis.
    pub(super) stream: String,
    pub(super) last_key: String,
    /// The last entry replayed (`None`: this worker has replayed nothing; it joins).
    pub(super) cursor: Mutex<Option<StreamId>>,
    /// This worker's latest start here (local pacing during an outage goes on from it).
    pub(super) last: Mutex<Option<Instant>>,
    pub(super) queue: tokio::sync::Mutex<()>,
    pub(super) changed: tokio::sync::Notify,
    pub(super) queue_blocking: Mutex<()>,
    /// Counts the changes of what the head waits for (the rate, a pause), so that a blocking
    /// head sleeping towards its slot wakes at one ([`changed_blocking`](Lane::changed_blocking)).
    pub(super) changes: Mutex<u64>,
    pub(super) changed_blocking: std::sync::Condvar,
}

/// How long an unused key's lane is kept.
pub(super) const KEEP_LEARNED: Duration = Duration::from_secs(60);

impl Lane {
    pub(super) fn new(rate: AdaptiveRate, base: &str) -> Lane {
        Lane {
            rate,
            stream: format!("{base}:obs"),
            last_key: format!("{base}:last"),
            cursor: Mutex::new(None),
            last: Mutex::new(None),
            queue: tokio::sync::Mutex::new(()),
            changed: tokio::sync::Notify::new(),
            queue_blocking: Mutex::new(()),
            changes: Mutex::new(0),
            changed_blocking: std::sync::Condvar::new(),
        }
    }

    /// Wakes the waiting heads, async and blocking: what they wait for changed.
    pub(super) fn wake(&self) {
        self.changed.notify_waiters();
        let mut changes = lock(&self.changes);
        *changes = changes.wrapping_add(1);
        self.changed_blocking.notify_all();
    }

    /// The count of changes so far, read before a slot is asked for.
    pub(super) fn changes(&self) -> u64 {
        *lock(&self.changes)
    }

    /// Blocks the thread for `wait`, or until a change after `seen` (returning at once if
    /// there has been one).
    pub(super) fn sleep_unless_changed(&self, seen: u64, wait: Duration) {
        let changes = lock(&self.changes);
        let _ = self
            .changed_blocking
            .wait_timeout_while(changes, wait, |now| *now == seen)
            .unwrap_or_else(PoisonError::into_inner);
    }

    /// The cursor to send, and how many entries to ask for: a worker that has replayed
    /// nothing joins with the last [`JOIN`].
    pub(super) fn cursor(&self) -> (String, usize) {
        lock(&self.cursor).map_or_else(|| (String::new(), JOIN), |c| (c.render(), BATCH))
    }

    /// The earliest start by this worker's own view: after its last start and any pause.
    pub(super) fn local_slot(&self, now: Instant) -> Instant {
        let last = *lock(&self.last);
        let paced = match (last, self.rate.interval()) {
            (Some(last), Some(interval)) => last.checked_add(interval).unwrap_or(last),
            _ => now,
        };
        self.rate
            .hold()
            .map_or(paced, |hold| paced.max(hold))
            .max(now)
    }

    /// The earliest start Redis should give, as a delay from now (µs): a pause the server
    /// asked for, or (`after_outage`) where the local pacing left off.
    pub(super) fn delay_us(&self, now: Instant, after_outage: bool) -> u64 {
        let hold = self.rate.hold().unwrap_or(now);
        let earliest = if after_outage {
            hold.max(self.local_slot(now))
        } else {
            hold
        };
        micros(earliest.saturating_duration_since(now))
    }

    pub(super) fn took(&self, at: Instant) {
        let mut last = lock(&self.last);
        *last = Some(last.map_or(at, |l| l.max(at)));
    }

    /// Learns from one attempt directly (Redis is out); wakes the waiting head on a change.
    pub(super) fn learn_locally(&self, feedback: &Feedback, sent: Instant) {
        if self.rate.observe_changed(feedback, sent, Instant::now()) {
            self.wake();
        }
    }

    pub(super) fn forgettable(&self, now: Instant, held: &Arc<Lane>) -> bool {
        Arc::strong_count(held) == 1
            && lock(&self.last)
                .is_none_or(|last| now.saturating_duration_since(last) >= KEEP_LEARNED)
            && self.rate.hold().is_none_or(|hold| hold <= now)
    }
}
