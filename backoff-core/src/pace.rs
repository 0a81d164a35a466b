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
//! A reservation dropped before its slot (a cancelled call) is not given back: the pacer errs
//! on the slow side.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::secs::IntoSeconds;

#[cfg(feature = "tokio")]
type Instant = tokio::time::Instant;
#[cfg(not(feature = "tokio"))]
type Instant = std::time::Instant;

/// GCRA's state for one budget: the theoretical arrival time of the next attempt.
#[derive(Debug, Default)]
struct Schedule {
    tat: Option<Instant>,
}

impl Schedule {
    /// Reserves the earliest slot at or after `now` and returns it.
    fn reserve(&mut self, now: Instant, interval: Duration, tolerance: Duration) -> Instant {
        let tat = self.tat.unwrap_or(now);
        // The earliest start: the theoretical arrival time, less what the burst allows.
        let earliest = tat.checked_sub(tolerance).unwrap_or(now);
        let slot = earliest.max(now);
        let next = tat.max(slot);
        self.tat = Some(next.checked_add(interval).unwrap_or(next));
        slot
    }
}

/// A rate limit to pace attempts to: `Pacer::per_second(20.0)`,
/// `Pacer::new(1.0, Duration::from_secs(60))`.
///
/// Bad rates never panic: a rate that is zero, negative, NaN or infinite paces nothing (the
/// pacer lets every attempt through at once; the attribute rejects such literals at compile
/// time), and so does [`Pacer::unlimited`].
pub struct Pacer {
    /// The interval between attempts and the burst's tolerance; `None` paces nothing.
    quota: Option<(Duration, Duration)>,
    shared: Mutex<Schedule>,
    keyed: Mutex<HashMap<String, Schedule>>,
    /// A budget shared through Redis, which then does all the pacing (`quota` stays for
    /// `interval()`).
    #[cfg(feature = "redis")]
    redis: Option<Box<crate::pace_redis::RedisPacer>>,
}

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
            quota: interval.map(|i| (i, i.saturating_mul(burst.max(1) - 1))),
            shared: Mutex::new(Schedule::default()),
            keyed: Mutex::new(HashMap::new()),
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
        self.quota.map(|(interval, _)| interval)
    }

    /// Reserves the next slot (for `key`'s own budget, if given); `None` when there is no
    /// pacing.
    fn reserve(&self, key: Option<&str>) -> Option<Instant> {
        let (interval, tolerance) = self.quota?;
        let now = Instant::now();
        let slot = match key {
            None => self
                .shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .reserve(now, interval, tolerance),
            Some(key) => {
                let mut map = self.keyed.lock().unwrap_or_else(PoisonError::into_inner);
                match map.get_mut(key) {
                    Some(s) => s.reserve(now, interval, tolerance),
                    None => map
                        .entry(key.to_owned())
                        .or_default()
                        .reserve(now, interval, tolerance),
                }
            }
        };
        Some(slot)
    }

    /// Waits (on tokio's clock) until this attempt's slot.
    #[cfg(feature = "tokio")]
    pub async fn ready(&self, key: Option<&str>) {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            redis.ready(key).await;
            return;
        }
        if let Some(slot) = self.reserve(key)
            && slot > Instant::now()
        {
            tokio::time::sleep_until(slot).await;
        }
    }

    /// Blocks the thread until this attempt's slot.
    pub fn ready_blocking(&self, key: Option<&str>) {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            redis.ready_blocking(key);
            return;
        }
        if let Some(slot) = self.reserve(key) {
            let wait = slot.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slots stay on their grid when a caller comes late to its slot; an idle pacer restarts
    /// from now; a burst lets that many through at once.
    #[test]
    fn reservations_keep_the_grid() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let at = |slot: Instant| slot.duration_since(t0).as_millis();
        let interval = Duration::from_millis(100);
        let mut s = Schedule::default();
        assert_eq!(at(s.reserve(ms(0), interval, Duration::ZERO)), 0);
        assert_eq!(at(s.reserve(ms(0), interval, Duration::ZERO)), 100);
        // The caller of slot 100 woke 3 ms late and asks again at 103: slot 200, not 203.
        assert_eq!(at(s.reserve(ms(103), interval, Duration::ZERO)), 200);
        // Idle past the grid: the next slot is now.
        assert_eq!(at(s.reserve(ms(350), interval, Duration::ZERO)), 350);
        assert_eq!(at(s.reserve(ms(350), interval, Duration::ZERO)), 450);

        let mut b = Schedule::default();
        let tolerance = interval * 2; // burst 3
        let slots: Vec<u128> = (0..5)
            .map(|_| at(b.reserve(ms(1000), interval, tolerance)))
            .collect();
        assert_eq!(slots, [1000, 1000, 1000, 1100, 1200]);
    }
}
