//! The adaptive backend: pacing on a rate learned from the server ([`AdaptiveRate`]).
//!
//! Nothing is reserved ahead. A GCRA reservation fixes each queued caller's slot at the
//! interval of the moment it queued; when the learned rate changes mid-queue (a cut after a
//! 429, a jump to an advertised policy), every caller already queued must follow the new
//! rate at once, not after the queue drains. So callers queue FIFO (tokio's fair mutex for
//! async callers, a mutex for blocking ones), and only the head of the queue computes its
//! slot, `max(last + interval, not_before)`, from the rate as it is *now*. It sleeps until
//! that slot but wakes early when [`Lane::observe`] changes the rate or the pause, and
//! computes it again. At its slot it records `last = now` (the slot, or later if its timer
//! woke late: the server sees the real times, so a late wake must not shrink the next gap)
//! and leaves the queue.
//!
//! A caller dropped while queued or waiting gives nothing back: it held nothing. The slot is
//! taken under one lock by a check-and-set (`try_take`), so async and blocking callers of
//! the same lane never share a slot, whichever queue they came through.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::pace::common::{AnyLane, Instant, lock};

/// A lane of this backend, borrowed or held.
pub(crate) type LaneRef<'a> = AnyLane<'a, Lane>;
use super::controller::AdaptiveRate;
use crate::hints::Feedback;

/// The smallest map size that triggers a sweep of unused keys.
const MIN_SWEEP: usize = 64;
/// A key's learned rate is kept at least this long after its last slot (a key seen again
/// within it needs no fresh search).
const KEEP_LEARNED: Duration = Duration::from_secs(60);

/// The adaptive backend: one lane for the shared budget, one per key.
pub(in crate::pace) struct AdaptiveLanes {
    shared: Lane,
    keyed: Mutex<Lanes>,
}

#[derive(Default)]
struct Lanes {
    map: HashMap<Arc<str>, Arc<Lane>>,
    /// Sweep unused lanes when the map reaches this size.
    sweep_at: usize,
}

/// One learned rate and the queue that paces on it.
pub(in crate::pace) struct Lane {
    pub(in crate::pace) rate: AdaptiveRate,
    /// The start of the latest attempt paced (`None` before the first).
    last: Mutex<Option<Instant>>,
    /// Blocking callers waiting for their slot sleep on this (with `last`'s lock); woken
    /// early when the rate or the pause changes.
    changed_blocking: Condvar,
    /// Blocking callers queue here.
    queue_blocking: Mutex<()>,
    /// Async callers queue here (tokio's mutex is fair: FIFO).
    #[cfg(feature = "tokio")]
    queue: tokio::sync::Mutex<()>,
    /// Wakes the async head early when the rate or the pause changes.
    #[cfg(feature = "tokio")]
    changed: tokio::sync::Notify,
}

impl AdaptiveLanes {
    pub(in crate::pace) fn new(rate: AdaptiveRate) -> Self {
        AdaptiveLanes {
            shared: Lane::new(rate),
            keyed: Mutex::new(Lanes::default()),
        }
    }

    /// The lane of `key`: the shared one for `None`; made on first use (from the shared
    /// rate's tunables, having learned nothing).
    pub(in crate::pace) fn lane(&self, key: Option<&str>) -> LaneRef<'_> {
        let Some(key) = key else {
            return LaneRef::Shared(&self.shared);
        };
        let mut lanes = lock(&self.keyed);
        let lanes = &mut *lanes;
        if let Some(lane) = lanes.map.get(key) {
            return LaneRef::Keyed(Arc::clone(lane));
        }
        if lanes.map.len() >= lanes.sweep_at.max(MIN_SWEEP) {
            let now = Instant::now();
            lanes.map.retain(|_, lane| !lane.forgettable(now, lane));
            lanes.sweep_at = lanes.map.len().saturating_mul(2);
        }
        let lane = Arc::new(Lane::new(self.shared.rate.fresh()));
        lanes.map.insert(Arc::from(key), Arc::clone(&lane));
        LaneRef::Keyed(lane)
    }

    /// The lane of `key` if it exists (no lane is made to be read).
    pub(in crate::pace) fn existing(&self, key: Option<&str>) -> Option<LaneRef<'_>> {
        match key {
            None => Some(LaneRef::Shared(&self.shared)),
            Some(key) => lock(&self.keyed)
                .map
                .get(key)
                .map(|lane| LaneRef::Keyed(Arc::clone(lane))),
        }
    }

    #[cfg(test)]
    pub(in crate::pace) fn keys(&self) -> usize {
        lock(&self.keyed).map.len()
    }

    pub(in crate::pace) fn shared(&self) -> &Lane {
        &self.shared
    }
}

impl Lane {
    fn new(rate: AdaptiveRate) -> Self {
        Lane {
            rate,
            last: Mutex::new(None),
            changed_blocking: Condvar::new(),
            queue_blocking: Mutex::new(()),
            #[cfg(feature = "tokio")]
            queue: tokio::sync::Mutex::new(()),
            #[cfg(feature = "tokio")]
            changed: tokio::sync::Notify::new(),
        }
    }

    /// A keyed lane nobody holds (`held` is the map's own reference), unused for
    /// [`KEEP_LEARNED`] and past any pause: forgetting it loses nothing recent.
    fn forgettable(&self, now: Instant, held: &Arc<Lane>) -> bool {
        Arc::strong_count(held) == 1
            && lock(&self.last)
                .is_none_or(|last| now.saturating_duration_since(last) >= KEEP_LEARNED)
            && self.rate.hold().is_none_or(|hold| hold <= now)
    }

    /// The earliest start for the next attempt, given the last one.
    fn slot(&self, last: Option<Instant>, now: Instant) -> Instant {
        let paced = match (last, self.rate.interval()) {
            (Some(last), Some(interval)) => last.checked_add(interval).unwrap_or(last),
            _ => now,
        };
        self.rate.hold().map_or(paced, |hold| paced.max(hold))
    }

    /// Takes the next slot if it has come (recording now as the latest start); else says
    /// when it comes.
    #[cfg(feature = "tokio")]
    fn try_take(&self, now: Instant) -> Result<(), Instant> {
        let mut last = lock(&self.last);
        let slot = self.slot(*last, now);
        if slot <= now {
            *last = Some(now);
            Ok(())
        } else {
            Err(slot)
        }
    }

    /// When a caller arriving now, with nobody queued ahead, would start.
    pub(in crate::pace) fn estimate(&self, now: Instant) -> Instant {
        self.slot(*lock(&self.last), now).max(now)
    }

    /// Counts an attempt starting now, without waiting (a reservation consumed).
    pub(in crate::pace) fn take_now(&self) {
        let now = Instant::now();
        let mut last = lock(&self.last);
        *last = Some(last.map_or(now, |l| l.max(now)));
    }

    /// Learns from one attempt; wakes the waiting heads if what they wait for changed.
    pub(in crate::pace) fn observe(&self, feedback: &Feedback, sent: Instant) {
        if self.rate.observe_changed(feedback, sent, Instant::now()) {
            #[cfg(feature = "tokio")]
            self.changed.notify_waiters();
            // Taking the lock orders the notification after a waiter's check: a blocking
            // head between computing its slot and sleeping holds it.
            drop(lock(&self.last));
            self.changed_blocking.notify_all();
        }
    }

    /// Queues, waits for the slot on tokio's clock, and returns the time that took.
    #[cfg(feature = "tokio")]
    pub(in crate::pace) async fn ready(&self) -> Duration {
        let start = Instant::now();
        let _turn = self.queue.lock().await;
        loop {
            // Registered before the slot is computed: a change after it wakes this head.
            let notified = self.changed.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            let now = Instant::now();
            let slot = match self.try_take(now) {
                Ok(()) => return now.saturating_duration_since(start),
                Err(slot) => slot,
            };
            let mut sleep = std::pin::pin!(tokio::time::sleep_until(slot));
            std::future::poll_fn(|cx| {
                if notified.as_mut().poll(cx).is_ready() {
                    return std::task::Poll::Ready(());
                }
                sleep.as_mut().poll(cx)
            })
            .await;
        }
    }

    /// Queues, blocks the thread until the slot, and returns the time that took.
    pub(in crate::pace) fn ready_blocking(&self) -> Duration {
        let start = Instant::now();
        let _turn = lock(&self.queue_blocking);
        let mut last = lock(&self.last);
        loop {
            let now = Instant::now();
            let slot = self.slot(*last, now);
            if slot <= now {
                *last = Some(now);
                return now.saturating_duration_since(start);
            }
            let (guard, timeout) = self
                .changed_blocking
                .wait_timeout(last, slot.saturating_duration_since(now))
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            last = guard;
            if timeout.timed_out() {
                // Slept the whole wait the clock asked for: the slot is this caller's, even
                // should the clock not have moved (tokio's, paused, on this thread: looping
                // would never end).
                let now = Instant::now();
                *last = Some(slot.max(now));
                return now.saturating_duration_since(start);
            }
        }
    }
}
