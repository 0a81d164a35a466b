//! [`RedisPacerBuilder`] and the `Pacer::redis*` constructors.

use std::time::Duration;

use redis::{Client, RedisError};

use super::fixed::RedisPacer;
use super::link::{Link, OnOutage};
use super::scripts::MAX_US;
use crate::pace::Pacer;
use crate::pace::adaptive::controller::AdaptiveRate;
use crate::pace::redis::adaptive::RedisAdaptive;
use crate::secs::IntoSeconds;

/// How long one call to Redis may take before the pacer stops waiting for it, by default.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_millis(200);

/// The key prefix by default: a budget named `sms` lives at `backoff:sms`.
pub(super) const DEFAULT_PREFIX: &str = "backoff:";

/// Builds a [`Pacer`] whose budget lives in Redis and is shared by every process that uses
/// the same key: `RedisPacerBuilder::new(client, "sms", 1.0, Duration::from_secs(1)).build()`
/// is one attempt per second; `.burst(5)` lets five start at once.
///
/// The rate reads as everywhere else, `count` then `per` ([`Pacer::new`]); the burst is only
/// ever set by a method that names it. [`Pacer::redis`] and [`Pacer::redis_with_burst`] are
/// the short forms for a URL.
///
/// # Bounds, and what goes wrong
///
/// - **Every unused slot goes back.** A call dropped while its reservation is in flight or
///   while it waits for its slot, a reservation whose answer came after the timeout (the
///   call went on without it), and a slot of the local pacing of an outage dropped before
///   it comes are all given back (an answer is awaited up to a minute for this). The latest
///   slot given back undoes the budget's arrival time, an earlier one leaves a hole that the
///   next caller takes: 10,000 calls cancelled by a 1 ms timeout leave the next call within
///   an interval of now.
/// - **An hour ahead at most.** No pacer reserves a slot more than an hour ahead (or one
///   interval and burst, if that is longer): a caller that finds the budget reserved so far
///   waits until it is not and asks again ([`Pacer::reserve`] blocks meanwhile).
/// - **Outages** begin when Redis does not answer a call within the timeout (one `WARN`): each
///   process then paces locally, and one caller every 500 ms asks Redis. Callers use Redis
///   again as soon as it answers, but the outage ends (one `INFO`) only once Redis has
///   answered for 2 s without a failure, and answers or failures of requests sent before
///   the last change count for nothing: a connection that flaps, or a backlog of late
///   answers, is one outage in the log, not a line per flap.
/// - **Failing closed** ([`fail_closed`](RedisPacerBuilder::fail_closed)), a call waits for
///   the outage, then at most 500 ms and a timeout (700 ms by default) for a probe to find
///   Redis back, then for its place in the budget (an hour at most, as above).
/// - **What no pacer wrote.** A key that holds another type (a string, a list) is replaced
///   by a budget; a budget whose next slot lies further ahead than any pacer reserves (a
///   year, say, or after Redis's clock went back) is reset; members no pacer wrote are
///   dropped. A budget that vanished with slots reserved (`FLUSHALL`, an eviction, a
///   restart) is re-seeded from where this process last saw it (as far as its callers that
///   wait for slots reach, an interval each, and one more), so the calls queued behind
///   it do not run alongside new ones at twice the rate. Each is logged as a `WARN` naming
///   the key, at most once a minute per pacer and kind.
/// - **Two rates on one budget** (processes configured differently) log a `WARN` naming the
///   key and both rates, at most once a minute per pacer. The faster wins: a pacer that
///   finds the latest slot taken at a slower rate counts it as one of its own slots (and
///   waits at most an hour behind it), and a slower pacer waits for the faster one's slots
///   as they are; so neither waits behind the other for longer than an hour, and together
///   they go at most at the faster rate (the slower keeps its own spacing only while the
///   faster one takes no slot in between).
/// - **Memory.** Each process keeps, per budget it used whose next slot is still ahead, where
///   Redis last put it (to re-seed it) or where the local pacing of an outage got to: about
///   120 bytes per live key (measured with keys of a dozen bytes; up to 170 while the map
///   grows). Idle keys are swept when the map has doubled since the last sweep, or a minute
///   after it, in amortised constant time per new key, and the memory goes back to the
///   allocator: a million keys, a thousand live at a time, keep 0.34 MiB.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `.build()`"]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub struct RedisPacerBuilder {
    client: Client,
    name: String,
    count: f64,
    per: Duration,
    burst: u32,
    prefix: String,
    timeout: Duration,
    on_outage: OnOutage,
    /// `Some` for an adaptive pacer ([`RedisPacerBuilder::adaptive`]).
    adaptive: Option<Tunables>,
}

/// An adaptive builder's tunables; a clone has learned nothing.
#[derive(Debug)]
pub(super) struct Tunables(AdaptiveRate);

impl Clone for Tunables {
    fn clone(&self) -> Self {
        Tunables(self.0.fresh())
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
impl RedisPacerBuilder {
    /// `count` attempts per `per` (as [`Pacer::new`]), burst 1 until [`burst`], shared
    /// through the budget `name` on the Redis server that `client` points to. Connecting
    /// waits for the first reservation.
    ///
    /// [`burst`]: RedisPacerBuilder::burst
    pub fn new(client: Client, name: impl Into<String>, count: f64, per: impl IntoSeconds) -> Self {
        RedisPacerBuilder {
            client,
            name: name.into(),
            count,
            per: per.into_duration(),
            burst: 1,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            on_outage: OnOutage::PaceLocally,
            adaptive: None,
        }
    }

    /// An adaptive pacer shared through Redis: every process using the budget `name` learns
    /// the same rate (tell each pacer how its attempts went with
    /// [`Pacer::observe`]) and all of them together keep to it:
    /// `RedisPacerBuilder::adaptive(client, "sms", AdaptiveRate::new()).build()`.
    ///
    /// Each observation is appended to a Redis stream (`<prefix><name>:obs`, trimmed to about
    /// 10,000 entries, expiring an hour after the last) that every worker's controller
    /// replays in the same order, so they all hold the same rate; slots follow the adaptive
    /// pacer's rule (one interval, at the rate learned *now*, after the latest start of any
    /// worker, kept at `<prefix><name>:last`) on Redis's clock. Burst is 1 ([`burst`] is
    /// ignored). With a key (`rate_key`), each key learns its own rate
    /// (`<prefix><name>:<key>:obs`). While Redis is out, each process learns and paces on
    /// its own (or, [`fail_closed`], waits for Redis). A stream or `last` key holding
    /// another type, or a `last` ahead of Redis's clock, is replaced (a `WARN` names it, at
    /// most once a minute). `backoff-core/src/pace/redis/adaptive.rs` says how and why. On Redis Cluster, give the name a hash tag (`"{sms}"`): one script
    /// reads the stream and `last` together.
    ///
    /// [`burst`]: RedisPacerBuilder::burst
    /// [`fail_closed`]: RedisPacerBuilder::fail_closed
    pub fn adaptive(client: Client, name: impl Into<String>, rate: AdaptiveRate) -> Self {
        RedisPacerBuilder {
            adaptive: Some(Tunables(rate)),
            ..RedisPacerBuilder::new(client, name, 0.0, Duration::ZERO)
        }
    }

    /// Lets `burst` attempts start at once (0 acts as 1); 1 by default.
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }

    /// Prefixes the budget's Redis key (`backoff:` by default): the budget `name` lives at
    /// `<prefix><name>`, and `rate_key = k` at `<prefix><name>:<k>`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one call to Redis (connecting included) may take before the pacer treats
    /// Redis as out (200 ms by default; zero acts as 1 ms).
    pub fn timeout(mut self, timeout: impl IntoSeconds) -> Self {
        self.timeout = timeout.into_duration().max(Duration::from_millis(1));
        self
    }

    /// While Redis does not answer, wait for it instead of pacing locally: no attempt starts
    /// without Redis's slot.
    ///
    /// During an outage one caller asks Redis every 500 ms and the others wait for its
    /// answer, so a caller waits for the outage itself and at most a probe period and a
    /// timeout more (700 ms by default) once Redis answers again, then for its place in the
    /// budget, which no pacer reserves more than an hour ahead (or one interval, if longer).
    /// Requests that Redis answers late (frozen, overloaded) have their slots given back as
    /// their answers arrive, so an outage leaves no backlog behind. The outage itself is
    /// not bounded by the pacer: bound the caller's time yourself (a `tokio::time::timeout`
    /// around the call) if Redis may stay away.
    pub fn fail_closed(mut self) -> Self {
        self.on_outage = OnOutage::Wait;
        self
    }

    /// The pacer. A rate that paces nothing (zero, negative, NaN, infinite) makes a local
    /// pacer that lets everything through, without Redis.
    pub fn build(self) -> Pacer {
        #[cfg(feature = "redis-tls")]
        super::tls::ensure_crypto_provider();
        if let Some(Tunables(rate)) = self.adaptive {
            return Pacer::from_redis_adaptive(std::sync::Arc::new(RedisAdaptive::new(
                self.client,
                format!("{}{}", self.prefix, self.name),
                rate,
                self.timeout,
                self.on_outage,
            )));
        }
        let mut pacer = Pacer::with_burst(self.count, self.per, self.burst);
        if let Some(interval) = pacer.interval() {
            let interval = interval.min(Duration::from_micros(MAX_US));
            let tolerance = interval
                .saturating_mul(self.burst.max(1) - 1)
                .min(Duration::from_micros(MAX_US));
            let link = Link::new(
                self.client,
                format!("{}{}", self.prefix, self.name),
                self.timeout,
                self.on_outage,
                ("pacing locally at the same rate", "pacing"),
            );
            pacer.set_redis(Box::new(RedisPacer::new(link, interval, tolerance)));
        }
        pacer
    }
}

// The module is gated already; the item's own `cfg` is what the facade's docs, which inline
// `Pacer` from this crate, see to mark these methods.
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
impl Pacer {
    /// A pacer shared through Redis: `count` attempts per `per` (as [`Pacer::new`]), burst
    /// 1, for every process using the budget `name` on the server at `url`. The budget lives
    /// at the key `backoff:<name>`; see [`RedisPacerBuilder`] for the prefix, the timeout and
    /// failing closed, and [`Pacer::redis_with_burst`] for a burst.
    ///
    /// `url` is any string (`&str`, `String`, `&String`, `Arc<str>`…). For a
    /// `redis::ConnectionInfo` or a `(host, port)`, open a [`redis::Client`] from it and use
    /// [`RedisPacerBuilder::new`].
    ///
    /// Managed Redis: the URL may carry a password (`redis://:password@host:6379/`) or an ACL
    /// user (`redis://user:password@host:6379/`), and with the `redis-tls` feature it may be
    /// `rediss://` (TLS, the server's certificate checked against the system's trusted roots). A server
    /// whose certificate a private CA signed needs that CA: build the client with
    /// `redis::Client::build_with_tls` and give it to [`RedisPacerBuilder::new`]. A wrong
    /// password or a refused certificate is an outage like any other (one `WARN`, paced
    /// locally or, with `fail_closed`, waiting).
    ///
    /// Errs only on a URL that does not parse; nothing connects until the first attempt.
    /// While Redis does not answer, the pacer paces locally at the same rate.
    ///
    /// ```
    /// use std::time::Duration;
    /// use backoff_core::Pacer;
    ///
    /// let url: String = "redis://127.0.0.1:6379/".to_owned();
    /// // 60 messages per minute: one every second, like `Pacer::new(60.0, 60)`.
    /// let pacer = Pacer::redis(&url, "sms", 60.0, Duration::from_secs(60))?;
    /// assert_eq!(pacer.interval(), Some(Duration::from_secs(1)));
    /// # Ok::<(), backoff_core::redis::RedisError>(())
    /// ```
    pub fn redis(
        url: impl AsRef<str>,
        name: impl Into<String>,
        count: f64,
        per: impl IntoSeconds,
    ) -> Result<Pacer, RedisError> {
        Pacer::redis_with_burst(url, name, count, per, 1)
    }

    /// [`Pacer::redis`] letting `burst` attempts start at once (0 acts as 1), as
    /// [`Pacer::with_burst`]: `Pacer::redis_with_burst(url, "sms", 10.0, 1, 5)?` is 10 per
    /// second, 5 at once.
    pub fn redis_with_burst(
        url: impl AsRef<str>,
        name: impl Into<String>,
        count: f64,
        per: impl IntoSeconds,
        burst: u32,
    ) -> Result<Pacer, RedisError> {
        let client = Client::open(url.as_ref())?;
        Ok(RedisPacerBuilder::new(client, name, count, per)
            .burst(burst)
            .build())
    }

    /// An adaptive pacer shared through Redis by every process using the budget `name` on
    /// the server at `url` (any string, as for [`Pacer::redis`]), with
    /// [`AdaptiveRate::new`]'s defaults
    /// (`Pacer::redis_adaptive("redis://127.0.0.1/", "sms")?`); see
    /// [`RedisPacerBuilder::adaptive`] for what it does and for the tunables, the prefix, the
    /// timeout and failing closed.
    ///
    /// Errs only on a URL that does not parse; nothing connects until the first attempt.
    pub fn redis_adaptive(
        url: impl AsRef<str>,
        name: impl Into<String>,
    ) -> Result<Pacer, RedisError> {
        let client = Client::open(url.as_ref())?;
        Ok(RedisPacerBuilder::adaptive(client, name, AdaptiveRate::new()).build())
    }
}
