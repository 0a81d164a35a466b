//! Proactive pacing: keep requests at or under a rate limit instead of finding it with 429s.
//!
//! A [`Pacer`] schedules each attempt's start on GCRA (the generic cell rate algorithm, as
//! servers' token buckets do): attempt `n` may start no earlier than one interval after
//! attempt `n - 1`'s slot, with `burst` slots available at once. The attribute's
//! `rate = 1 per second` keeps one pacer for every call of the fn (optionally one per
//! `rate_key`); `pacer = <expr>` uses yours (a field of your client, say). Async code waits on
//! tokio's clock, so `tokio::time::pause` governs the pacing in tests; sync code on the
//! standard monotonic clock.
//!
//! Each caller *reserves* its slot and then sleeps until it. (A check-then-sleep loop, which is
//! what `governor` offers, re-counts the next interval from whenever the sleeper woke up; tokio
//! wakes timers up to a couple of milliseconds late, which made a paced client run 1.5 % under
//! its rate at 10/s and 3-4 % under at 20/s. Reservations keep the slots on their grid.)
//!
//! A reservation dropped before its slot is reached (a call cancelled by a timeout, a
//! [`Reservation`] dropped unused) gives the slot back: the next caller takes it, or, at the
//! end of the queue, the queue shortens; a slot already reached counts as used. So after any
//! number of cancelled calls, a fresh call's slot is never later than GCRA gives over the
//! attempts that ran or still hold slots, as if the cancelled calls had never been made (with
//! burst 1, at most one interval past the earliest slot that keeps to the rate), and the
//! attempts that run always keep to the rate (`schedule.rs` says why).

mod schedule;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::secs::IntoSeconds;
use schedule::{Quota, Schedule, Ticket};

#[cfg(feature = "tokio")]
type Instant = tokio::time::Instant;
#[cfg(not(feature = "tokio"))]
type Instant = std::time::Instant;

/// A rate limit to pace attempts to: `Pacer::per_second(20.0)`,
/// `Pacer::new(1.0, Duration::from_secs(60))`.
///
/// Bad rates never panic: a rate that is zero, negative, NaN or infinite paces nothing (the
/// pacer lets every attempt through at once; the attribute rejects such literals at compile
/// time), and so does [`Pacer::unlimited`].
///
/// Keyed budgets (`rate_key`, or `Some(key)` here) are kept while they constrain anything:
/// a key whose schedule has gone idle (its next slot is already free, as for a key never
/// seen) is forgotten when the map reaches twice its size after the last sweep (and at least
/// 64 keys), so the map stays bounded by the keys still queued or used within the last
/// interval, not by every key ever seen.
pub struct Pacer {
    /// How far apart slots are; `None` paces nothing.
    quota: Option<Quota>,
    backend: Backend,
    /// A budget shared through Redis, which then does the pacing of `ready` and
    /// `ready_blocking` (`quota` stays for `interval()`).
    #[cfg(feature = "redis")]
    redis: Option<Box<crate::pace_redis::RedisPacer>>,
}

/// Where the schedules live. Only in this process for now; a shared store (several
/// processes behind one limit) and an adaptive limit are the variants to come.
enum Backend {
    Local(Local),
}

/// Schedules kept in this process's memory.
struct Local {
    shared: Mutex<Schedule>,
    keyed: Mutex<Keyed>,
}

/// One schedule per key, forgotten once idle. (A reservation that outlives its key's
/// schedule holds a slot that has passed, which is never given back, so it cannot disturb the
/// key's next schedule.)
#[derive(Default)]
struct Keyed {
    map: HashMap<Arc<str>, Entry>,
    /// Sweep idle schedules when the map reaches this size.
    sweep_at: usize,
}

struct Entry {
    /// The map's key, shared with the reservations made on this schedule.
    name: Arc<str>,
    schedule: Schedule,
}

/// The smallest map size that triggers a sweep of idle keys.
const MIN_SWEEP: usize = 64;

impl fmt::Debug for Pacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pacer")
            .field("interval", &self.interval())
            .finish_non_exhaustive()
    }
}

impl Pacer {
    /// `count` attempts per `per` (e.g. `Pacer::new(1.0, Duration::from_secs(1))`), burst 1.
    pub fn new(count: f64, per: impl IntoSeconds) -> Self {
        Pacer::with_burst(count, per, 1)
    }

    /// `rate` attempts per second, burst 1.
    pub fn per_second(rate: f64) -> Self {
        Pacer::new(rate, Duration::from_secs(1))
    }

    /// A pacer that paces nothing: for code that takes a pacer but may not want one.
    pub fn unlimited() -> Self {
        Pacer::with_burst(0.0, Duration::ZERO, 1)
    }

    /// `count` per `per`, letting `burst` attempts start at once (0 acts as 1).
    pub fn with_burst(count: f64, per: impl IntoSeconds, burst: u32) -> Self {
        let per = per.into_duration().as_secs_f64();
        let interval = if count.is_nan() || count <= 0.0 {
            None
        } else {
            Duration::try_from_secs_f64(per / count)
                .ok()
                .filter(|i| !i.is_zero())
        };
        Pacer {
            quota: interval.map(|interval| Quota {
                interval,
                tolerance: interval.saturating_mul(burst.max(1) - 1),
            }),
            backend: Backend::Local(Local {
                shared: Mutex::new(Schedule::default()),
                keyed: Mutex::new(Keyed::default()),
            }),
            #[cfg(feature = "redis")]
            redis: None,
        }
    }

    /// Paces through Redis.
    #[cfg(feature = "redis")]
    pub(crate) fn set_redis(&mut self, redis: Box<crate::pace_redis::RedisPacer>) {
        self.redis = Some(redis);
    }

    /// The interval between attempts, `None` when this pacer paces nothing.
    pub fn interval(&self) -> Option<Duration> {
        self.quota.map(|q| q.interval)
    }

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
    pub fn reserve(&self, key: Option<&str>) -> Reservation<'_> {
        let held = self.quota.map(|quota| {
            let now = Instant::now();
            let Backend::Local(local) = &self.backend;
            let (ticket, key) = local.reserve(key, now, quota);
            Held {
                ticket,
                reserved_at: now,
                key,
            }
        });
        Reservation { pacer: self, held }
    }

    /// Waits (on tokio's clock) until this attempt's slot, and returns how long that took.
    ///
    /// The slot is reserved when the future is first polled; dropping the future before the
    /// slot is reached gives it back. The time queued is measured on the pacer's clock (zero
    /// when the slot was free), and is what the attribute leaves out of `max_time` and
    /// `Details::elapsed`.
    #[cfg(feature = "tokio")]
    pub async fn ready(&self, key: Option<&str>) -> Duration {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            return redis.ready(key).await;
        }
        self.reserve(key).ready().await
    }

    /// Blocks the thread until this attempt's slot, and returns how long that took.
    pub fn ready_blocking(&self, key: Option<&str>) -> Duration {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            return redis.ready_blocking(key);
        }
        self.reserve(key).ready_blocking()
    }

    /// Whether this pacer paces through Redis.: the future of
    /// [`ready`](Pacer::ready), boxed so the retry future can hold it (its key is copied in),
    /// `None` for a local pacer (the builder then holds a [`Reservation`] while it sleeps).
    #[cfg(feature = "redis")]
    pub(crate) fn paces_through_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// The builder's pacing step when this pacer paces through Redis: the future of
    /// [`ready`](Pacer::ready), boxed so the retry future can hold it (its key is copied in),
    /// `None` for a local pacer (the builder then holds a [`Reservation`] while it sleeps).
    #[cfg(feature = "redis")]
    pub(crate) fn redis_ready(&self, key: Option<&str>) -> Option<RedisReady<'_>> {
        let redis = self.redis.as_deref()?;
        let key = key.map(str::to_owned);
        Some(Box::pin(async move { redis.ready(key.as_deref()).await }))
    }

    fn give_back(&self, held: Held) {
        let Some(quota) = self.quota else { return };
        let Backend::Local(local) = &self.backend;
        local.give_back(held, quota);
    }
}

/// [`Pacer::ready`]'s future through Redis, boxed (the builder's pacing step holds it).
#[cfg(feature = "redis")]
pub(crate) type RedisReady<'p> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Duration> + Send + 'p>>;

impl Local {
    fn reserve(&self, key: Option<&str>, now: Instant, quota: Quota) -> (Ticket, Option<Arc<str>>) {
        let Some(key) = key else {
            let ticket = lock(&self.shared).reserve(now, quota);
            return (ticket, None);
        };
        let mut keyed = lock(&self.keyed);
        let keyed = &mut *keyed;
        if let Some(entry) = keyed.map.get_mut(key) {
            let ticket = entry.schedule.reserve(now, quota);
            return (ticket, Some(Arc::clone(&entry.name)));
        }
        if keyed.map.len() >= keyed.sweep_at.max(MIN_SWEEP) {
            keyed.map.retain(|_, e| !e.schedule.is_idle(now));
            keyed.sweep_at = keyed.map.len().saturating_mul(2);
        }
        let mut schedule = Schedule::default();
        let ticket = schedule.reserve(now, quota);
        let name: Arc<str> = Arc::from(key);
        let entry = Entry {
            name: Arc::clone(&name),
            schedule,
        };
        keyed.map.insert(Arc::clone(&name), entry);
        (ticket, Some(name))
    }

    fn give_back(&self, held: Held, quota: Quota) {
        let now = Instant::now();
        match held.key {
            None => lock(&self.shared).give_back(held.ticket, now, quota),
            Some(key) => {
                if let Some(entry) = lock(&self.keyed).map.get_mut(&key) {
                    entry.schedule.give_back(held.ticket, now, quota);
                }
            }
        }
    }
}

/// No user code runs under these locks, but a poisoned one is still usable: the schedule is
/// consistent between calls.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a reservation holds until it is used or given back.
#[derive(Debug)]
struct Held {
    ticket: Ticket,
    reserved_at: Instant,
    key: Option<Arc<str>>,
}

/// A slot reserved on a [`Pacer`] ([`Pacer::reserve`]): use it with
/// [`ready`](Reservation::ready), [`ready_blocking`](Reservation::ready_blocking) or
/// [`consume`](Reservation::consume); drop it unused and the slot goes back to the pacer.
#[must_use = "a reservation dropped unused gives its slot back at once"]
pub struct Reservation<'a> {
    pacer: &'a Pacer,
    /// `None` when the pacer paces nothing, or once the slot is used.
    held: Option<Held>,
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
    /// that paces nothing).
    pub fn wait(&self) -> Duration {
        self.held.as_ref().map_or(Duration::ZERO, |h| {
            h.ticket.slot.saturating_duration_since(Instant::now())
        })
    }

    /// How far after the reservation the slot lies: the time this caller is scheduled to
    /// queue (zero when the slot was free).
    pub fn queued(&self) -> Duration {
        self.held.as_ref().map_or(Duration::ZERO, |h| {
            h.ticket.slot.saturating_duration_since(h.reserved_at)
        })
    }

    /// Uses the slot now, without waiting for it: the caller has waited some other way (or
    /// chooses to go early). The slot stays taken.
    pub fn consume(mut self) {
        self.held = None;
    }

    /// Waits (on tokio's clock) until the slot, uses it, and returns the time since the
    /// reservation. Dropping the future before the slot gives the slot back.
    #[cfg(feature = "tokio")]
    pub async fn ready(mut self) -> Duration {
        let Some(held) = &self.held else {
            return Duration::ZERO;
        };
        let (slot, since) = (held.ticket.slot, held.reserved_at);
        if slot <= since {
            self.held = None;
            return Duration::ZERO;
        }
        tokio::time::sleep_until(slot).await;
        self.held = None;
        Instant::now().saturating_duration_since(since)
    }

    /// Blocks the thread until the slot, uses it, and returns the time since the reservation.
    pub fn ready_blocking(mut self) -> Duration {
        let Some(held) = self.held.take() else {
            return Duration::ZERO;
        };
        let (slot, since) = (held.ticket.slot, held.reserved_at);
        if slot <= since {
            return Duration::ZERO;
        }
        let wait = slot.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        Instant::now().saturating_duration_since(since)
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            self.pacer.give_back(held);
        }
    }
}

#[cfg(all(test, feature = "tokio"))]
mod tests {
    use super::*;

    fn keys(pacer: &Pacer) -> usize {
        let Backend::Local(local) = &pacer.backend;
        lock(&local.keyed).map.len()
    }

    /// Idle keyed schedules are swept when the map doubles: a stream of distinct keys keeps
    /// the map bounded by the keys active within about one interval.
    #[tokio::test(start_paused = true)]
    async fn idle_keys_are_forgotten() {
        let pacer = Pacer::per_second(1.0);
        for i in 0..1000 {
            pacer.reserve(Some(&format!("k{i}"))).consume();
            tokio::time::advance(Duration::from_millis(100)).await;
        }
        // Each key stays active for 1 s, 10 keys at a time; sweeps come at 64 keys.
        assert!(keys(&pacer) <= MIN_SWEEP, "{}", keys(&pacer));
        // A key forgotten and seen again starts afresh, and one still active keeps its slot.
        assert_eq!(pacer.reserve(Some("k0")).wait(), Duration::ZERO);
        assert_eq!(
            pacer.reserve(Some("k999")).wait(),
            Duration::from_millis(900)
        );
    }

    /// A reservation that outlives its key's swept schedule gives nothing back to the next.
    #[tokio::test(start_paused = true)]
    async fn a_reservation_outliving_its_schedule_is_harmless() {
        let pacer = Pacer::per_second(1.0);
        let old = pacer.reserve(Some("a"));
        tokio::time::advance(Duration::from_secs(2)).await;
        for i in 0..MIN_SWEEP {
            pacer.reserve(Some(&format!("k{i}"))).consume();
        }
        let Backend::Local(local) = &pacer.backend;
        assert!(!lock(&local.keyed).map.contains_key("a"));
        assert_eq!(keys(&pacer), MIN_SWEEP);
        pacer.reserve(Some("a")).consume(); // a new schedule for "a": slot now
        drop(old);
        assert_eq!(pacer.reserve(Some("a")).wait(), Duration::from_secs(1));
    }
}
