//! Proactive pacing: keep requests at or under a rate limit instead of finding it with 429s.
//!
//! A [`Pacer`] is a GCRA rate limiter (governor's) that an attempt waits on before it starts.
//! The attribute's `rate = 1 per second` keeps one pacer for every call of the fn (optionally
//! one per `rate_key`); `pacer = <expr>` uses yours (a field of your client, say). Async code
//! waits on tokio's clock, so `tokio::time::pause` governs the pacing in tests; sync code on
//! the standard monotonic clock.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::ops::Add;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::secs::IntoSeconds;

/// A point on the pacer's clock: tokio's when the `tokio` feature is on (so paused time
/// works), else the standard clock's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PaceInstant(Instant);

#[cfg(feature = "tokio")]
type Instant = tokio::time::Instant;
#[cfg(not(feature = "tokio"))]
type Instant = std::time::Instant;

impl Add<Nanos> for PaceInstant {
    type Output = PaceInstant;
    fn add(self, other: Nanos) -> PaceInstant {
        let d = Duration::from(other);
        PaceInstant(self.0.checked_add(d).unwrap_or(self.0))
    }
}

impl Reference for PaceInstant {
    fn duration_since(&self, earlier: Self) -> Nanos {
        self.0.saturating_duration_since(earlier.0).into()
    }
    fn saturating_sub(&self, duration: Nanos) -> Self {
        PaceInstant(self.0.checked_sub(duration.into()).unwrap_or(self.0))
    }
}

/// The pacer's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct PaceClock;

impl Clock for PaceClock {
    type Instant = PaceInstant;
    fn now(&self) -> PaceInstant {
        PaceInstant(Instant::now())
    }
}

type Direct = RateLimiter<NotKeyed, InMemoryState, PaceClock, NoOpMiddleware<PaceInstant>>;

/// A rate limit to pace attempts to: `per_second(20.0)`, `new(1.0, Duration::from_secs(60))`.
///
/// Bad rates never panic: a rate that is zero, negative or NaN paces nothing (the pacer lets
/// every attempt through; the attribute rejects such literals at compile time), and a rate so
/// high that its interval rounds to zero does the same.
pub struct Pacer {
    limiter: Option<Direct>,
    quota: Option<Quota>,
    keyed: Mutex<HashMap<String, Arc<Direct>>>,
}

impl fmt::Debug for Pacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pacer")
            .field("quota", &self.quota)
            .finish_non_exhaustive()
    }
}

impl Pacer {
    /// `count` attempts per `per` (e.g. `Pacer::new(1, Duration::from_secs(1))`), burst 1.
    pub fn new(count: f64, per: impl IntoSeconds) -> Self {
        Pacer::with_burst(count, per, 1)
    }

    /// `rate` attempts per second, burst 1.
    pub fn per_second(rate: f64) -> Self {
        Pacer::new(rate, Duration::from_secs(1))
    }

    /// `count` per `per`, letting `burst` attempts through at once (0 acts as 1).
    pub fn with_burst(count: f64, per: impl IntoSeconds, burst: u32) -> Self {
        let per = per.into_duration();
        let quota = if count.is_nan() || count <= 0.0 {
            None
        } else {
            let period =
                Duration::try_from_secs_f64(per.as_secs_f64() / count).unwrap_or(Duration::MAX);
            Quota::with_period(period)
                .map(|q| q.allow_burst(NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN)))
        };
        Pacer {
            limiter: quota.map(|q| RateLimiter::direct_with_clock(q, PaceClock)),
            quota,
            keyed: Mutex::new(HashMap::new()),
        }
    }

    /// The interval between attempts, `None` when this pacer paces nothing.
    pub fn interval(&self) -> Option<Duration> {
        self.quota.map(|q| q.replenish_interval())
    }

    fn limiter_for(&self, key: Option<&str>) -> Option<Arc<Direct>> {
        let (quota, key) = (self.quota?, key?);
        let mut map = self.keyed.lock().unwrap_or_else(PoisonError::into_inner);
        Some(
            map.entry(key.to_owned())
                .or_insert_with(|| Arc::new(RateLimiter::direct_with_clock(quota, PaceClock)))
                .clone(),
        )
    }

    /// How long to wait before the next attempt may start (zero: now), claiming its slot when
    /// it is zero. With a `key`, each key has its own budget at this rate.
    fn check(&self, key: Option<&str>) -> Duration {
        let keyed = self.limiter_for(key);
        let Some(limiter) = keyed.as_deref().or(self.limiter.as_ref()) else {
            return Duration::ZERO;
        };
        match limiter.check() {
            Ok(()) => Duration::ZERO,
            // Never zero while refused: wait at least a microsecond so the loop progresses.
            Err(not_until) => not_until
                .wait_time_from(PaceClock.now())
                .max(Duration::from_micros(1)),
        }
    }

    /// Waits (on tokio's clock) until an attempt may start, and claims its slot.
    #[cfg(feature = "tokio")]
    pub async fn ready(&self, key: Option<&str>) {
        loop {
            match self.check(key) {
                Duration::ZERO => return,
                wait => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Blocks the thread until an attempt may start, and claims its slot.
    pub fn ready_blocking(&self, key: Option<&str>) {
        loop {
            match self.check(key) {
                Duration::ZERO => return,
                wait => std::thread::sleep(wait),
            }
        }
    }
}
