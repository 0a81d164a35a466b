//! [`Pacer`]: its kinds (backends), constructors, and the waits and observations every kind
//! answers. Reserving a slot ahead, and giving it back, is in `reservation.rs`.

use std::fmt;
#[cfg(feature = "redis")]
use std::sync::Arc;
use std::time::Duration;

use super::adaptive::{AdaptiveLanes, AdaptiveRate};
use super::common::{Instant, PacerInstant};
use super::gcra::Spacing;
use super::local::Local;
use crate::hints::Feedback;
use crate::secs::IntoSeconds;

/// A rate limit to pace attempts to: `Pacer::per_second(20.0)`,
/// `Pacer::new(1.0, Duration::from_secs(60))`.
///
/// Four kinds, behind the same [`ready`](Pacer::ready), [`ready_blocking`](Pacer::ready_blocking)
/// and [`reserve`](Pacer::reserve):
///
/// - a fixed rate in this process (`per_second`, `new`, `with_burst`, `unlimited`);
/// - a fixed rate shared through Redis by every process naming the same budget
///   (`Pacer::redis`, with the `redis` feature);
/// - a rate learned from the server ([`Pacer::adaptive`]), told how each attempt went with
///   [`observe`](Pacer::observe);
/// - a rate learned from the server and shared through Redis: every process naming the same
///   budget learns the same rate and keeps to it with the others (`Pacer::redis_adaptive`,
///   `RedisPacerBuilder::adaptive`, with the `redis` feature).
///
/// [`observe`](Pacer::observe) teaches the two fixed kinds no rate (a local one reads when
/// answers come: the first after a pause spaces the next attempt, and the attribute, the
/// builder and the middleware tell it every answer).
///
/// Bad rates never panic: a rate that is zero, negative, NaN or infinite paces nothing (the
/// pacer lets every attempt through at once; the attribute rejects such literals at compile
/// time), and so does [`Pacer::unlimited`]. A rate slower than one attempt per 10^7 s (about
/// 115 days), however slow, paces one attempt per 10^7 s.
///
/// Keyed budgets (`rate_key`, or `Some(key)` here) are kept while they constrain anything:
/// a key whose schedule has gone idle (its next slot is already free, as for a key never
/// seen) is forgotten when the map reaches twice its size after the last sweep (and at least
/// 64 keys), so the map stays bounded by the keys still queued or used within the last
/// interval, not by every key ever seen.
pub struct Pacer {
    /// How far apart slots are; `None` paces nothing (and for an adaptive pacer, which
    /// reads its interval from what it learned).
    pub(super) quota: Option<Spacing>,
    pub(super) backend: Backend,
}

/// Where the schedules live and how slots are given.
pub(super) enum Backend {
    /// GCRA reservations in this process's memory (boxed: its schedule is most of a pacer).
    Local(Box<Local>),
    /// GCRA reservations in Redis, shared by every process naming the same budget.
    #[cfg(feature = "redis")]
    Redis(Box<crate::pace::redis::fixed::RedisPacer>),
    /// A rate learned from the server; nothing reserved ahead (`adaptive/lanes.rs`).
    Adaptive(Box<AdaptiveLanes>),
    /// A rate learned from the server by every process sharing it through Redis
    /// (`pace/redis/adaptive.rs`).
    #[cfg(feature = "redis")]
    RedisAdaptive(Arc<crate::pace::redis::adaptive::RedisAdaptive>),
}

/// The longest interval a fixed pacer keeps (10^7 s, about 115 days, as the Redis pacer's
/// limit): a rate slower than that paces at this one, so that slot arithmetic on instants
/// stays exact.
const MAX_INTERVAL: Duration = Duration::from_secs(10_000_000);

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
            // `per / count` is not negative nor NaN here: only too large a value fails, and
            // it means "almost never", not "unlimited".
            Some(
                Duration::try_from_secs_f64(per / count)
                    .unwrap_or(Duration::MAX)
                    .min(MAX_INTERVAL),
            )
            .filter(|i| !i.is_zero())
        };
        Pacer {
            quota: interval.map(|interval| Spacing {
                interval,
                tolerance: interval.saturating_mul(burst.max(1) - 1),
            }),
            backend: Backend::Local(Box::new(Local::new())),
        }
    }

    /// A pacer that learns the server's limit from how attempts went, with
    /// [`AdaptiveRate::new`]'s defaults (starting at one request per second, no floor, no
    /// ceiling): tell it each attempt's outcome with [`observe`](Pacer::observe).
    ///
    /// It reserves nothing ahead: callers queue first come, first served, and the caller at
    /// the head of the queue starts one *current* interval after the previous start (and not
    /// before a pause the server asked for), so when the learned rate changes, every caller
    /// already queued follows the new rate at once. Burst is 1. With a key (`rate_key`),
    /// each key learns its own rate (an [`AdaptiveRate::fresh`] copy of the tunables); a key
    /// unused for a minute may be forgotten once there are 64 or more.
    ///
    // Awaiting a run needs tokio (the default feature); without it the example is not run.
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use backoff_core::{Feedback, Pacer};
    ///
    /// let pacer = Pacer::adaptive();
    /// pacer.ready(None).await;
    /// let sent = Pacer::now();
    /// // ... send the request; its response said the policy is 10 per second:
    /// let fields = [("RateLimit-Policy", r#""default";q=10;w=1"#)];
    /// let feedback = Feedback::from_status(200, &fields, std::time::SystemTime::now());
    /// pacer.observe(None, &feedback, sent);
    /// assert_eq!(pacer.learned_rate(None), Some(10.0));
    /// # }
    /// ```
    pub fn adaptive() -> Self {
        Pacer::adaptive_with(AdaptiveRate::new())
    }

    /// An adaptive pacer (see [`adaptive`](Pacer::adaptive)) with your tunables:
    /// `Pacer::adaptive_with(AdaptiveRate::new().initial(None).ceiling(50.0))`.
    pub fn adaptive_with(rate: AdaptiveRate) -> Self {
        Pacer {
            quota: None,
            backend: Backend::Adaptive(Box::new(AdaptiveLanes::new(rate))),
        }
    }

    /// Paces through Redis.
    #[cfg(feature = "redis")]
    pub(crate) fn set_redis(&mut self, redis: Box<crate::pace::redis::fixed::RedisPacer>) {
        self.backend = Backend::Redis(redis);
    }

    /// Learns and paces through Redis.
    #[cfg(feature = "redis")]
    pub(crate) fn from_redis_adaptive(
        redis: Arc<crate::pace::redis::adaptive::RedisAdaptive>,
    ) -> Pacer {
        Pacer {
            quota: None,
            backend: Backend::RedisAdaptive(redis),
        }
    }

    /// The pacers' clock now: the instant to pass to [`observe`](Pacer::observe) as the
    /// attempt's start (read it right after [`ready`](Pacer::ready) returns).
    pub fn now() -> PacerInstant {
        PacerInstant::now()
    }

    /// The interval between attempts, `None` when this pacer paces nothing. For an
    /// adaptive pacer, the interval of its shared (unkeyed) learned rate now.
    pub fn interval(&self) -> Option<Duration> {
        match &self.backend {
            Backend::Adaptive(learned) => learned.shared().rate.interval(),
            #[cfg(feature = "redis")]
            Backend::RedisAdaptive(redis) => redis.interval(),
            _ => self.quota.map(|q| q.interval),
        }
    }

    /// Whether this pacer learns its rate ([`Pacer::adaptive`]).
    pub fn is_adaptive(&self) -> bool {
        match self.backend {
            Backend::Adaptive(_) => true,
            #[cfg(feature = "redis")]
            Backend::RedisAdaptive(_) => true,
            _ => false,
        }
    }

    /// The rate an adaptive pacer paces `key` to now, in requests per second (before it
    /// has learned anything, its initial guess); `None` for a fixed-rate pacer (local or Redis), for
    /// a key never seen (or forgotten), and while it paces nothing (no initial rate and
    /// nothing learned yet).
    pub fn learned_rate(&self, key: Option<&str>) -> Option<f64> {
        match &self.backend {
            Backend::Adaptive(learned) => learned.existing(key)?.rate.rate(),
            #[cfg(feature = "redis")]
            Backend::RedisAdaptive(redis) => redis.learned_rate(key),
            _ => None,
        }
    }

    /// Tells an adaptive pacer how the attempt that started at `sent` went (`feedback`: was
    /// it throttled, and what rate-limit fields did its response carry): its response has
    /// just arrived. `sent` is [`Pacer::now`] read when the attempt started, after
    /// [`ready`](Pacer::ready). Callers waiting for their slot follow a change of the rate
    /// at once.
    ///
    /// A fixed-rate pacer's rate is given, so it learns nothing; a local one reads only when
    /// the answer came. The first attempt after a pause (none for two intervals) opens a
    /// connection, a TLS handshake and all, and reaches the server that much later than it
    /// left; the next one, on the open connection, does not, and would arrive early against
    /// it (a limiter of burst 1 refuses it). So the next attempt leaves an interval after that
    /// answer, not after the departure, when the answer comes before it has left; and when the
    /// first attempt was paced by the attribute, the builder or the middleware (which tell
    /// every answer, with `observe` or without) at burst 1, the next waits for that answer,
    /// for at most an interval past its own turn (a burst goes out at once). The answer's
    /// time is paid once per pause (a request sent meanwhile would open a connection of its
    /// own, and arrive as unevenly). Called by hand after [`ready`](Pacer::ready), it moves
    /// the next departure but holds nobody. At burst 1, an answer to the latest attempt that
    /// took longer than usual (a moving average of the answers' times; the first, with no
    /// usual time yet, counts whole) moves the next departure by as much: the request may
    /// have waited that long before the server stamped it, and the next would arrive early
    /// against it.
    ///
    /// A fixed-rate Redis pacer ignores it. On a pacer shared
    /// through Redis (`Pacer::redis_adaptive`), the observation goes to Redis, in a task
    /// spawned on tokio when a runtime is running (else one blocking round trip), and every
    /// worker learns from it.
    /// Unkeyed, it takes one lock (two when the rate changes) and allocates nothing; a key
    /// not seen before gets its own learned rate.
    pub fn observe(&self, key: Option<&str>, feedback: &Feedback, sent: PacerInstant) {
        match &self.backend {
            Backend::Adaptive(learned) => learned.lane(key).observe(feedback, sent.0),
            #[cfg(feature = "redis")]
            Backend::RedisAdaptive(redis) => redis.observe(key, feedback, sent.0),
            _ => self.answered(key, sent),
        }
    }

    /// The answer to the attempt that started at `sent` came (what [`observe`](Pacer::observe)
    /// tells a fixed-rate pacer).
    pub(crate) fn answered(&self, key: Option<&str>, sent: PacerInstant) {
        if let (Backend::Local(local), Some(quota)) = (&self.backend, self.quota) {
            local.answered(key, sent.0, Instant::now(), quota);
        }
    }

    /// Waits (on tokio's clock) until this attempt's slot, and returns how long that took.
    ///
    /// The slot is reserved when the future is first polled; dropping the future before the
    /// slot is reached gives it back (an adaptive pacer reserves nothing: a caller dropped
    /// while queued leaves no trace). The time queued is measured on the pacer's clock (zero
    /// when the slot was free), and is what the attribute leaves out of `max_time` and
    /// `Details::elapsed`.
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn ready(&self, key: Option<&str>) -> Duration {
        self.ready_as(key, false).await
    }

    /// [`ready`](Pacer::ready) for a caller that will tell the attempt's answer
    /// ([`observe`](Pacer::observe)) when `told`: on a local fixed-rate pacer, the next caller
    /// may then wait for that answer (the first attempt after a pause opens a connection).
    #[cfg(feature = "tokio")]
    pub(crate) async fn ready_as(&self, key: Option<&str>, told: bool) -> Duration {
        match &self.backend {
            Backend::Local(_) => self.reserve_as(key, told).ready().await,
            #[cfg(feature = "redis")]
            Backend::Redis(redis) => redis.ready(key).await,
            Backend::Adaptive(learned) => learned.lane(key).ready().await,
            #[cfg(feature = "redis")]
            Backend::RedisAdaptive(redis) => redis.ready(key).await,
        }
    }

    /// Blocks the thread until this attempt's slot, and returns how long that took.
    pub fn ready_blocking(&self, key: Option<&str>) -> Duration {
        self.ready_blocking_as(key, false)
    }

    /// [`ready_blocking`](Pacer::ready_blocking) for a caller that will tell the attempt's
    /// answer when `told`, as [`ready_as`](Pacer::ready_as).
    pub(crate) fn ready_blocking_as(&self, key: Option<&str>, told: bool) -> Duration {
        match &self.backend {
            Backend::Local(_) => self.reserve_as(key, told).ready_blocking(),
            #[cfg(feature = "redis")]
            Backend::Redis(redis) => redis.ready_blocking(key),
            Backend::Adaptive(learned) => learned.lane(key).ready_blocking(),
            #[cfg(feature = "redis")]
            Backend::RedisAdaptive(redis) => redis.ready_blocking(key),
        }
    }

    /// Whether this pacer times its own waits (Redis, adaptive): the builder then awaits
    /// [`queued_ready`](Pacer::queued_ready) or calls [`ready_blocking`](Pacer::ready_blocking)
    /// instead of sleeping on a [`Reservation`](super::Reservation).
    pub(crate) fn queues(&self) -> bool {
        !matches!(self.backend, Backend::Local(_))
    }

    /// The builder's pacing step when this pacer times its own wait (Redis, adaptive): the
    /// future of [`ready`](Pacer::ready), boxed so the retry future can hold it (its key is
    /// copied in), `None` for a local pacer (the builder then holds a
    /// [`Reservation`](super::Reservation) while it sleeps).
    #[cfg(feature = "tokio")]
    pub(crate) fn queued_ready(&self, key: Option<&str>) -> Option<QueuedReady<'_>> {
        if !self.queues() {
            return None;
        }
        let key = key.map(str::to_owned);
        Some(Box::pin(async move { self.ready(key.as_deref()).await }))
    }
}

/// [`Pacer::ready`]'s future for a pacer that times its own waits, boxed (the builder's
/// pacing step holds it).
#[cfg(feature = "tokio")]
pub(crate) type QueuedReady<'p> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Duration> + Send + 'p>>;
