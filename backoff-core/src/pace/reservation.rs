//! A slot reserved on a [`Pacer`]: what it holds, how it is used, and how it goes back.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::common::Instant;
use super::gcra::Ticket;
use super::pacer::{Backend, Pacer};

/// What a reservation holds until it is used or given back.
#[derive(Debug)]
pub(super) enum Held {
    /// A slot of a local schedule.
    Local {
        ticket: Ticket,
        reserved_at: Instant,
        key: Option<Arc<str>>,
        /// The caller will tell the attempt's answer ([`Pacer::observe`]).
        told: bool,
    },
    /// A slot reserved in Redis (`release`: how to give it back; `None` for a slot of the
    /// local view during an outage, which is not given back).
    #[cfg(feature = "redis")]
    Redis {
        slot: Instant,
        reserved_at: Instant,
        release: Option<Box<crate::pace::redis::fixed::RedisHeld>>,
    },
    /// Nothing (an adaptive pacer): the slot is taken when the reservation is used.
    Deferred {
        /// When a caller arriving at the reservation would have started.
        estimate: Instant,
        reserved_at: Instant,
        key: Option<Box<str>>,
    },
}

impl Held {
    pub(super) fn reserved_at(&self) -> Instant {
        match self {
            Held::Local { reserved_at, .. } | Held::Deferred { reserved_at, .. } => *reserved_at,
            #[cfg(feature = "redis")]
            Held::Redis { reserved_at, .. } => *reserved_at,
        }
    }

    /// The slot (for a deferred reservation, the estimate made when it was reserved).
    pub(super) fn slot(&self) -> Instant {
        match self {
            Held::Local { ticket, .. } => ticket.slot,
            Held::Deferred { estimate, .. } => *estimate,
            #[cfg(feature = "redis")]
            Held::Redis { slot, .. } => *slot,
        }
    }
}

/// A slot reserved on a [`Pacer`] ([`Pacer::reserve`]): use it with
/// [`ready`](Reservation::ready), [`ready_blocking`](Reservation::ready_blocking) or
/// [`consume`](Reservation::consume); drop it unused and the slot goes back to the pacer.
/// On an adaptive pacer it holds no slot ([`Pacer::reserve`] says what it does there).
#[must_use = "a reservation dropped unused gives its slot back at once"]
pub struct Reservation<'a> {
    pub(super) pacer: &'a Pacer,
    /// `None` when the pacer paces nothing, or once the slot is used.
    pub(super) held: Option<Held>,
    /// When [`leave`](Reservation::leave) last asked for a wait, and how long.
    asked: Option<(Instant, Duration)>,
}

impl fmt::Debug for Reservation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("wait", &self.wait())
            .finish_non_exhaustive()
    }
}

impl Reservation<'_> {
    /// How long until the slot, from now (zero once it is reached, and always for a pacer
    /// that paces nothing). On an adaptive pacer, how long a caller arriving now would wait
    /// if nobody queued ahead of it, at the rate learned by now.
    pub fn wait(&self) -> Duration {
        let now = Instant::now();
        match &self.held {
            None => Duration::ZERO,
            Some(Held::Deferred { key, .. }) => self
                .pacer
                .estimate(key.as_deref(), now)
                .saturating_duration_since(now),
            Some(held) => held.slot().saturating_duration_since(now),
        }
    }

    /// How far after the reservation the slot lies: the time this caller is scheduled to
    /// queue (zero when the slot was free). On an adaptive pacer, the estimate made when it
    /// was reserved.
    pub fn queued(&self) -> Duration {
        self.held.as_ref().map_or(Duration::ZERO, |h| {
            h.slot().saturating_duration_since(h.reserved_at())
        })
    }

    /// Uses the slot now, without waiting for it: the caller has waited some other way (or
    /// chooses to go early). The slot stays taken. On an adaptive pacer, counts an attempt
    /// starting now: the next one starts an interval later.
    pub fn consume(mut self) {
        self.use_now();
    }

    /// One step towards leaving, for a caller that sleeps between steps (the builder, and
    /// [`ready`](Reservation::ready) and [`ready_blocking`](Reservation::ready_blocking)):
    /// leaves (`None`, the slot is used) when the slot has come and leaving keeps to the
    /// departures before it (and, after a pause, to the first one's answer), else how long to
    /// wait before asking again. A deferred slot (an adaptive pacer's) is used at once, as
    /// [`consume`](Reservation::consume) does; so is one whose caller's sleep did not wait at
    /// least half of what was asked last (a sleep that returns at once would else make its
    /// caller spin, or on a paused clock loop for ever).
    pub(crate) fn leave(&mut self) -> Option<Duration> {
        let now = Instant::now();
        if let Some((at, wait)) = self.asked
            && now.saturating_duration_since(at) < wait / 2
        {
            self.use_now();
            return None;
        }
        let wait = match &self.held {
            None => return None,
            Some(Held::Deferred { .. }) => {
                self.use_now();
                return None;
            }
            Some(held) => {
                let slot = held.slot();
                if slot > now {
                    slot.saturating_duration_since(now)
                } else {
                    match self.pacer.depart(held, now) {
                        Ok(()) => {
                            self.held = None;
                            return None;
                        }
                        Err(at) => at.saturating_duration_since(now),
                    }
                }
            }
        };
        self.asked = Some((now, wait));
        Some(wait)
    }

    /// Uses the slot now (see [`consume`](Reservation::consume)).
    fn use_now(&mut self) {
        match self.held.take() {
            Some(Held::Deferred { key, .. }) => self.pacer.take_now(key.as_deref()),
            Some(Held::Local {
                ticket, key, told, ..
            }) if !ticket.departed => {
                if let (Backend::Local(local), Some(quota)) =
                    (&self.pacer.backend, self.pacer.quota)
                {
                    local.go(key.as_ref(), Instant::now(), quota, told);
                }
            }
            _ => {}
        }
    }

    /// Waits (on tokio's clock) until the slot, uses it, and returns the time since the
    /// reservation. Dropping the future before the slot gives the slot back. On an adaptive
    /// pacer, queues as [`Pacer::ready`] does.
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn ready(mut self) -> Duration {
        let Some(held) = &self.held else {
            return Duration::ZERO;
        };
        let since = held.reserved_at();
        if let Held::Deferred { key, .. } = held {
            self.pacer.deferred_ready(key.as_deref()).await;
            self.held = None;
            return Instant::now().saturating_duration_since(since);
        }
        let mut waited = held.slot() > since;
        while let Some(wait) = self.leave() {
            tokio::time::sleep(wait).await;
            waited = true;
        }
        if waited {
            Instant::now().saturating_duration_since(since)
        } else {
            Duration::ZERO
        }
    }

    /// Blocks the thread until the slot, uses it, and returns the time since the reservation.
    /// On an adaptive pacer, queues as [`Pacer::ready_blocking`] does.
    pub fn ready_blocking(mut self) -> Duration {
        let Some(held) = &self.held else {
            return Duration::ZERO;
        };
        let since = held.reserved_at();
        if let Held::Deferred { key, .. } = held {
            self.pacer.ready_blocking(key.as_deref());
            self.held = None;
            return Instant::now().saturating_duration_since(since);
        }
        let mut waited = held.slot() > since;
        // A sleep that panics drops the reservation first: the slot goes back.
        while let Some(wait) = self.leave() {
            std::thread::sleep(wait);
            waited = true;
        }
        if waited {
            Instant::now().saturating_duration_since(since)
        } else {
            Duration::ZERO
        }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            self.pacer.give_back(held);
        }
    }
}

/// The reservation half of [`Pacer`]: a slot reserved ahead, used, or given back.
impl Pacer {
    /// Reserves the next slot (in `key`'s own budget, if given) without waiting for it.
    ///
    /// The returned [`Reservation`] holds the slot until it is used
    /// ([`ready`](Reservation::ready), [`ready_blocking`](Reservation::ready_blocking),
    /// [`consume`](Reservation::consume)); dropped unused, it gives the slot back. This is the
    /// step to use when a caller may decide not to wait, say on a deadline:
    ///
    /// ```
    /// use std::time::Duration;
    /// use backoff_core::Pacer;
    ///
    /// let pacer = Pacer::per_second(1.0);
    /// pacer.reserve(None).consume(); // an attempt that starts now
    /// let next = pacer.reserve(None);
    /// assert!(next.wait() > Duration::from_millis(500));
    /// drop(next); // too long to wait: the slot goes back
    /// assert!(pacer.reserve(None).wait() <= Duration::from_secs(1));
    /// ```
    ///
    /// By backend:
    ///
    /// - **Local** (`per_second`, `new`, `with_burst`): the slot is reserved in this
    ///   process at once.
    /// - **Redis** ([`Pacer::redis`]): the slot is reserved in Redis, in one *blocking*
    ///   round trip bounded by the pacer's timeout (while Redis is out, in this process's
    ///   view of the budget, as `ready` does); dropped before its slot, it is given back
    ///   (another round trip, spawned on tokio when a runtime is running). In async code,
    ///   prefer [`ready`](Pacer::ready), which does not block the thread.
    /// - **Adaptive** ([`Pacer::adaptive`]): nothing is reserved ahead (a slot fixed now
    ///   would not follow the rate learned meanwhile). The reservation holds no slot:
    ///   [`wait`](Reservation::wait) is when a caller arriving now would start if nobody
    ///   queued ahead of it (an estimate: callers queued in [`ready`](Pacer::ready) go
    ///   first); [`ready`](Reservation::ready) and
    ///   [`ready_blocking`](Reservation::ready_blocking) queue then, as `Pacer::ready`
    ///   does; [`consume`](Reservation::consume) counts an attempt starting now (the next
    ///   slot is one interval later); dropped, it gives nothing back, having held nothing.
    pub fn reserve(&self, key: Option<&str>) -> Reservation<'_> {
        self.reserve_as(key, false)
    }

    /// [`reserve`](Pacer::reserve) for a caller that will tell the attempt's answer
    /// ([`observe`](Pacer::observe)) when `told`.
    pub(crate) fn reserve_as(&self, key: Option<&str>, told: bool) -> Reservation<'_> {
        let now = Instant::now();
        let held = match &self.backend {
            Backend::Local(local) => self.quota.map(|quota| {
                let (ticket, key) = local.reserve(key, now, quota, told);
                Held::Local {
                    ticket,
                    reserved_at: now,
                    key,
                    told,
                }
            }),
            #[cfg(feature = "redis")]
            Backend::Redis(redis) => {
                let (slot, release) = redis.reserve_held(key);
                Some(Held::Redis {
                    slot,
                    reserved_at: now,
                    release,
                })
            }
            Backend::Adaptive(_) => Some(Held::Deferred {
                estimate: self.estimate(key, now),
                reserved_at: now,
                key: key.map(Box::from),
            }),
            #[cfg(feature = "redis")]
            Backend::RedisAdaptive(_) => Some(Held::Deferred {
                estimate: self.estimate(key, now),
                reserved_at: now,
                key: key.map(Box::from),
            }),
        };
        Reservation {
            pacer: self,
            held,
            asked: None,
        }
    }

    fn give_back(&self, held: Held) {
        match (held, &self.backend) {
            (
                Held::Local {
                    ticket,
                    reserved_at: _,
                    key,
                    told: _,
                },
                Backend::Local(local),
            ) => {
                if let Some(quota) = self.quota {
                    local.give_back(ticket, key, quota);
                }
            }
            #[cfg(feature = "redis")]
            (Held::Redis { slot, release, .. }, Backend::Redis(redis)) => {
                if let Some(release) = release
                    && slot > Instant::now()
                {
                    redis.release_held(*release);
                }
            }
            _ => {}
        }
    }

    /// A local slot reached at `now`: `Err(at)` while leaving now would come too close after
    /// the departures before it.
    fn depart(&self, held: &Held, now: Instant) -> Result<(), Instant> {
        match (held, &self.backend, self.quota) {
            (
                Held::Local {
                    ticket, key, told, ..
                },
                Backend::Local(local),
                Some(quota),
            ) if !ticket.departed => local.depart(key.as_ref(), now, quota, *told),
            _ => Ok(()),
        }
    }

    /// When a caller arriving now would start on an adaptive pacer (now on the others).
    fn estimate(&self, key: Option<&str>, now: Instant) -> Instant {
        match &self.backend {
            Backend::Adaptive(learned) => learned.lane(key).estimate(now),
            #[cfg(feature = "redis")]
            Backend::RedisAdaptive(redis) => redis.estimate(key, now),
            _ => now,
        }
    }

    /// Queues on an adaptive pacer (a deferred reservation used).
    #[cfg(feature = "tokio")]
    async fn deferred_ready(&self, key: Option<&str>) {
        match &self.backend {
            Backend::Adaptive(learned) => {
                learned.lane(key).ready().await;
            }
            #[cfg(feature = "redis")]
            Backend::RedisAdaptive(redis) => {
                redis.ready(key).await;
            }
            _ => {}
        }
    }

    /// Counts an attempt starting now on an adaptive pacer (a reservation consumed).
    fn take_now(&self, key: Option<&str>) {
        match &self.backend {
            Backend::Adaptive(learned) => learned.lane(key).take_now(),
            #[cfg(feature = "redis")]
            Backend::RedisAdaptive(redis) => redis.take_now(key),
            _ => {}
        }
    }
}
