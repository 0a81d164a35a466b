//! Pacing shared through Redis: one rate limit for every process that names the same key.
//!
//! Each reservation is one round trip: a Lua script (loaded once, then run by its SHA with
//! `EVALSHA`) runs the same GCRA reservation as the local pacer on the server's clock
//! (`TIME`), so the workers' clocks need not agree. A budget is one sorted set: the member
//! `tat` holds the theoretical arrival time (µs since the epoch) and each other member is a
//! slot given back by a cancelled reservation (a *hole*), which the next caller takes before
//! a fresh slot. The key expires a few intervals after its theoretical arrival time, so
//! idle budgets leave nothing behind.
//!
//! When Redis does not answer within the timeout (down, slow, restarting), the pacer paces
//! locally at the same rate, logs one warning for the outage, probes Redis again every
//! 500 ms and goes back to it once it answers (logging that too). With
//! [`RedisPacerBuilder::fail_closed`] it waits for Redis instead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use rand::RngExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, RedisResult, Script};

use crate::AdaptiveRate;
use crate::pace::Pacer;
use crate::pace_redis_adaptive::RedisAdaptive;
use crate::secs::IntoSeconds;

type Instant = tokio::time::Instant;

/// Past this many budgets in a process's local view, the idle ones are dropped.
const LOCAL_VIEW_PRUNE: usize = 1024;

/// How long one call to Redis may take before the pacer stops waiting for it, by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(200);

/// How often a pacer whose Redis is out tries it again.
pub(crate) const PROBE_EVERY: Duration = Duration::from_millis(500);

/// The key prefix by default: a budget named `sms` lives at `backoff:sms`.
const DEFAULT_PREFIX: &str = "backoff:";

/// The largest interval or burst tolerance handed to the script, in µs (about 115 days):
/// times stay exact as Lua numbers (doubles) and expiry times stay in Redis's range.
const MAX_US: u64 = 10_000_000_000_000;

/// GCRA reservation. KEYS[1]: the budget. ARGV: interval (µs), burst tolerance (µs), the
/// earliest start as a delay from now (µs; after an outage, where the local pacing left off).
/// Returns {wait, slot, tat set (0 if the slot came from a hole), previous tat (0 if none)},
/// times in µs on the server's clock.
const RESERVE: &str = r"
local key = KEYS[1]
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local delay = tonumber(ARGV[3])
local function n(x) return string.format('%.0f', x) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- Holes in the past are of no use, and a tat in the past means the same as none.
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. n(now))
local prev = tonumber(redis.call('ZSCORE', key, 'tat'))
local tat = prev or now
local slot = math.max(tat - tolerance, now + delay)
-- A slot given back by a cancelled reservation, earlier than the fresh one, goes first.
local holes = redis.call('ZRANGEBYSCORE', key, n(now + delay), '(' .. n(slot), 'WITHSCORES', 'LIMIT', 0, 2)
for i = 1, #holes, 2 do
  if holes[i] ~= 'tat' then
    redis.call('ZREM', key, holes[i])
    local hole = tonumber(holes[i + 1])
    return {hole - now, hole, 0, 0}
  end
end
local nxt = math.max(tat, slot) + interval
redis.call('ZADD', key, n(nxt), 'tat')
redis.call('PEXPIRE', key, n(math.floor((nxt - now + 3 * interval) / 1000) + 1))
return {slot - now, slot, nxt, prev or 0}
";

/// Gives back a reservation dropped before its slot. KEYS[1]: the budget. ARGV: slot, tat
/// set, previous tat (as RESERVE returned them), the hole's member name.
/// Returns 0 (the slot has come: nothing to give back), 1 (the latest reservation: tat
/// undone) or 2 (an earlier one: left as a hole).
const RELEASE: &str = r"
local key = KEYS[1]
local slot = tonumber(ARGV[1])
local nxt = tonumber(ARGV[2])
local prev = tonumber(ARGV[3])
local function n(x) return string.format('%.0f', x) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if slot <= now then return 0 end
if nxt > 0 and tonumber(redis.call('ZSCORE', key, 'tat')) == nxt then
  if prev > now then redis.call('ZADD', key, n(prev), 'tat') else redis.call('ZREM', key, 'tat') end
  return 1
end
redis.call('ZADD', key, n(slot), ARGV[4])
if redis.call('PTTL', key) < 0 then
  redis.call('PEXPIRE', key, n(math.floor((slot - now) / 1000) + 1000))
end
return 2
";

fn reserve_script() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::new(RESERVE))
}

fn release_script() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::new(RELEASE))
}

/// A slot reserved in Redis: RESERVE's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reservation {
    /// From the server's now to the slot, µs.
    wait: u64,
    slot: i64,
    tat: i64,
    prev: i64,
}

impl Reservation {
    fn from_reply(reply: &[i64]) -> RedisResult<Self> {
        match *reply {
            [wait, slot, tat, prev] => Ok(Reservation {
                wait: u64::try_from(wait).unwrap_or(0),
                slot,
                tat,
                prev,
            }),
            _ => Err(RedisError::from((
                redis::ErrorKind::Parse,
                "the pacing script answered with an unexpected reply",
            ))),
        }
    }

    fn wait(&self) -> Duration {
        Duration::from_micros(self.wait)
    }

    /// The slot on this process's clock: the wait counts from the answer's arrival (later
    /// than the server's now by up to a round trip, so on the slow side).
    fn slot_here(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(self.wait()).unwrap_or(now)
    }
}

/// What a pacer does while Redis does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnOutage {
    /// Pace locally at the same rate (each process on its own) until Redis answers.
    PaceLocally,
    /// Wait for Redis.
    Wait,
}

/// Builds a [`Pacer`] whose budget lives in Redis and is shared by every process that uses
/// the same key: `RedisPacerBuilder::new(client, "sms", 1.0, Duration::from_secs(1)).build()`
/// is one attempt per second; `.burst(5)` lets five start at once.
///
/// The rate reads as everywhere else, `count` then `per` ([`Pacer::new`]); the burst is only
/// ever set by a method that names it. [`Pacer::redis`] and [`Pacer::redis_with_burst`] are
/// the short forms for a URL.
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
struct Tunables(AdaptiveRate);

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
    /// its own (or, [`fail_closed`], waits for Redis). `backoff-core/src/pace_redis_adaptive.rs`
    /// says how and why. On Redis Cluster, give the name a hash tag (`"{sms}"`): one script
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

    /// While Redis does not answer, wait for it (asking again every 500 ms) instead of
    /// pacing locally: no attempt starts without Redis's slot. Bound the caller's time
    /// yourself (a `tokio::time::timeout` around the call) if Redis may stay away.
    pub fn fail_closed(mut self) -> Self {
        self.on_outage = OnOutage::Wait;
        self
    }

    /// The pacer. A rate that paces nothing (zero, negative, NaN, infinite) makes a local
    /// pacer that lets everything through, without Redis.
    pub fn build(self) -> Pacer {
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
            let interval_us = u64::try_from(interval.as_micros())
                .unwrap_or(u64::MAX)
                .clamp(1, MAX_US);
            let tolerance_us = interval_us
                .saturating_mul(u64::from(self.burst.max(1) - 1))
                .min(MAX_US);
            pacer.set_redis(Box::new(RedisPacer {
                link: Link::new(
                    self.client,
                    format!("{}{}", self.prefix, self.name),
                    self.timeout,
                    self.on_outage,
                    ("pacing locally at the same rate", "pacing"),
                ),
                interval_us,
                tolerance_us,
                interval,
                tolerance: interval.saturating_mul(self.burst.max(1) - 1),
                local: Mutex::new(HashMap::new()),
                id: rand::rng().random::<u64>(),
                holes: AtomicU64::new(0),
            }));
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

/// The outage bookkeeping: when it began and when to try Redis again.
#[derive(Debug, Default)]
struct Outage {
    since: Option<std::time::Instant>,
    next_probe: Option<std::time::Instant>,
}

/// The connection to Redis of one pacer (fixed or adaptive) and what it knows of Redis's
/// health: its connections, the outage state, the warning and the all-clear.
pub(crate) struct Link {
    pub(crate) client: Client,
    /// The budget's key; a keyed budget appends `:<key>`.
    pub(crate) key: String,
    pub(crate) timeout: Duration,
    pub(crate) on_outage: OnOutage,
    /// What the pacer does on its own during an outage, and through Redis after it, for the
    /// log lines.
    doing: (&'static str, &'static str),
    /// Made on the first async use (it needs a tokio runtime); it reconnects.
    manager: OnceLock<Option<ConnectionManager>>,
    /// The blocking form's own connection; dropped after an error and made again.
    pub(crate) blocking: Mutex<Option<redis::Connection>>,
    /// Whether Redis is out (fast path of `outage`).
    down: AtomicBool,
    outage: Mutex<Outage>,
}

impl Link {
    /// `doing`: what the pacer does alone during an outage and through Redis after it.
    pub(crate) fn new(
        client: Client,
        key: String,
        timeout: Duration,
        on_outage: OnOutage,
        doing: (&'static str, &'static str),
    ) -> Self {
        Link {
            client,
            key,
            timeout,
            on_outage,
            doing,
            manager: OnceLock::new(),
            blocking: Mutex::new(None),
            down: AtomicBool::new(false),
            outage: Mutex::new(Outage::default()),
        }
    }

    /// Whether Redis is out (since a call failed, until one succeeds).
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// Whether to ask Redis now: always when it answers or when failing closed; during an
    /// outage, one caller per `PROBE_EVERY`.
    pub(crate) fn should_try(&self) -> bool {
        if self.on_outage == OnOutage::Wait || !self.down.load(Ordering::Acquire) {
            return true;
        }
        let now = std::time::Instant::now();
        let mut outage = self.outage.lock().unwrap_or_else(PoisonError::into_inner);
        match outage.next_probe {
            Some(at) if at > now => false,
            _ => {
                outage.next_probe = Some(now + PROBE_EVERY);
                true
            }
        }
    }

    /// Redis answered: if it was out, the outage is over.
    pub(crate) fn answered(&self) {
        if self.down.load(Ordering::Acquire) {
            let mut outage = self.outage.lock().unwrap_or_else(PoisonError::into_inner);
            if self.down.swap(false, Ordering::AcqRel) {
                let lasted = outage.since.take().map(|s| s.elapsed()).unwrap_or_default();
                outage.next_probe = None;
                tracing::info!(
                    target: "backoff",
                    "Redis at {} answers again after {:.1}s; {} `{}` through it",
                    self.client.get_connection_info().addr(),
                    lasted.as_secs_f64(),
                    self.doing.1,
                    self.key,
                );
            }
        }
    }

    /// Redis did not answer: one warning per outage.
    pub(crate) fn failed(&self, error: &RedisError) {
        let now = std::time::Instant::now();
        let mut outage = self.outage.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.down.swap(true, Ordering::AcqRel) {
            outage.since = Some(now);
            outage.next_probe = Some(now + PROBE_EVERY);
            let instead = match self.on_outage {
                OnOutage::PaceLocally => self.doing.0,
                OnOutage::Wait => "waiting for it (fail closed)",
            };
            tracing::warn!(
                target: "backoff",
                "Redis at {} did not answer ({error}); {instead} for `{}` until it does",
                self.client.get_connection_info().addr(),
                self.key,
            );
        }
    }

    /// The connection manager, made on first use (it needs a tokio runtime).
    pub(crate) fn manager(&self) -> RedisResult<ConnectionManager> {
        let manager = self.manager.get_or_init(|| {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(self.timeout))
                .set_response_timeout(Some(self.timeout))
                // One attempt per reconnection: the pacer's probes are the retries.
                .set_number_of_retries(0);
            // Fails only on settings this config does not use (resubscription).
            ConnectionManager::new_lazy_with_config(self.client.clone(), config).ok()
        });
        manager.clone().ok_or_else(|| {
            RedisError::from((
                redis::ErrorKind::Client,
                "could not set up the Redis connection manager",
            ))
        })
    }
}

/// The Redis side of a [`Pacer`] made by [`RedisPacerBuilder`].
pub(crate) struct RedisPacer {
    link: Link,
    interval_us: u64,
    tolerance_us: u64,
    interval: Duration,
    tolerance: Duration,
    /// This process's view of each budget: the theoretical arrival time of its next slot,
    /// fed by Redis's answers, and the schedule of the local pacing during an outage.
    local: Mutex<HashMap<String, Instant>>,
    /// Names this pacer's holes apart from other processes'.
    id: u64,
    holes: AtomicU64,
}

impl RedisPacer {
    fn key_for(&self, key: Option<&str>) -> String {
        match key {
            None => self.link.key.clone(),
            Some(k) => format!("{}:{k}", self.link.key),
        }
    }

    fn hole_name(&self) -> String {
        let n = self.holes.fetch_add(1, Ordering::Relaxed);
        format!("h{:016x}-{n}", self.id)
    }

    /// Notes a slot that Redis gave in this process's view of the budget (where the local
    /// pacing of an outage would go on from).
    fn note(&self, key: &str, slot: Instant) {
        let next = slot.checked_add(self.interval).unwrap_or(slot);
        let mut view = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        match view.get_mut(key) {
            Some(tat) => *tat = (*tat).max(next),
            None => {
                if view.len() >= LOCAL_VIEW_PRUNE {
                    let now = Instant::now();
                    view.retain(|_, tat| *tat > now);
                }
                view.insert(key.to_owned(), next);
            }
        }
    }

    /// The earliest start to ask Redis for, as a delay from now, µs: zero, except when
    /// asking after an outage, where the local pacing left off (the first slot after it
    /// could otherwise come right after the last local one).
    fn delay_us(&self, key: &str) -> u64 {
        if !self.link.is_down() {
            return 0;
        }
        let view = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        view.get(key).map_or(0, |tat| {
            let earliest = tat.checked_sub(self.tolerance).unwrap_or(*tat);
            let delay = earliest.saturating_duration_since(Instant::now());
            u64::try_from(delay.as_micros())
                .unwrap_or(MAX_US)
                .min(MAX_US)
        })
    }

    /// GCRA on the local view, for pacing while Redis is out: it goes on from the last slot
    /// Redis gave this process.
    fn reserve_locally(&self, key: &str) -> Instant {
        let now = Instant::now();
        let mut view = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        let tat = view.get(key).copied().unwrap_or(now);
        let slot = tat.checked_sub(self.tolerance).unwrap_or(now).max(now);
        let next = tat.max(slot);
        let next = next.checked_add(self.interval).unwrap_or(next);
        match view.get_mut(key) {
            Some(tat) => *tat = next,
            None => {
                view.insert(key.to_owned(), next);
            }
        }
        slot
    }

    /// Reserves a slot in Redis: one round trip, bounded by the timeout. The call runs in
    /// its own task, so a caller dropped while it is in flight still has its slot given back
    /// when the answer comes.
    async fn reserve(&self, key: &str) -> RedisResult<(Reservation, ConnectionManager)> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(RedisError::from((
                redis::ErrorKind::Client,
                "Pacer::ready needs a tokio runtime to reach Redis",
            )));
        }
        let mut manager = self.link.manager()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task_key = key.to_owned();
        let hole = self.hole_name();
        let (interval, tolerance, timeout) =
            (self.interval_us, self.tolerance_us, self.link.timeout);
        let delay = self.delay_us(key);
        let task_manager = manager.clone();
        tokio::spawn(async move {
            let mut call = reserve_script().key(&task_key);
            call.arg(interval).arg(tolerance).arg(delay);
            let attempt = async {
                // A connection found dead (Redis restarted) is made again at once by the
                // manager: one more try reaches the new one. (Should the dead one have
                // carried the script to Redis, that slot goes unused: the slow side.)
                match call.invoke_async::<Vec<i64>>(&mut manager).await {
                    Err(e) if e.is_io_error() || e.is_unrecoverable_error() => {
                        call.invoke_async::<Vec<i64>>(&mut manager).await
                    }
                    r => r,
                }
            };
            let result = match tokio::time::timeout(timeout, attempt).await {
                Ok(Ok(reply)) => Reservation::from_reply(&reply),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(timed_out()),
            };
            if let Err(Ok(r)) = tx.send(result) {
                // The caller is gone: give the slot back.
                release(manager, task_key, r, hole, timeout).await;
            }
        });
        match rx.await {
            Ok(r) => r.map(|r| (r, task_manager)),
            Err(_) => Err(RedisError::from((
                redis::ErrorKind::Client,
                "the runtime shut down during the reservation",
            ))),
        }
    }

    /// Waits (on tokio's clock) for a slot reserved in Redis and returns the time queued;
    /// while Redis is out, for a slot of the local pacing at the same rate (or, failing
    /// closed, for Redis).
    pub(crate) async fn ready(&self, key: Option<&str>) -> Duration {
        let start = Instant::now();
        let redis_key = self.key_for(key);
        loop {
            if self.link.should_try() {
                match self.reserve(&redis_key).await {
                    Ok((r, manager)) => {
                        self.link.answered();
                        let slot = r.slot_here();
                        self.note(&redis_key, slot);
                        if slot > Instant::now() {
                            let mut guard = Release {
                                armed: (!r.wait().is_zero())
                                    .then(|| (manager, redis_key, r, self.hole_name())),
                                timeout: self.link.timeout,
                            };
                            tokio::time::sleep_until(slot).await;
                            guard.armed = None;
                        }
                        return start.elapsed();
                    }
                    Err(e) => self.link.failed(&e),
                }
            }
            match self.link.on_outage {
                OnOutage::PaceLocally => {
                    // A slot of the local view, dropped before it comes, is not given back.
                    tokio::time::sleep_until(self.reserve_locally(&redis_key)).await;
                    return start.elapsed();
                }
                OnOutage::Wait => tokio::time::sleep(PROBE_EVERY).await,
            }
        }
    }

    fn reserve_blocking(&self, key: &str) -> RedisResult<Reservation> {
        let mut slot = self
            .link
            .blocking
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let con = match slot.as_mut() {
            Some(con) => con,
            None => {
                let con = self
                    .link
                    .client
                    .get_connection_with_timeout(self.link.timeout)?;
                con.set_read_timeout(Some(self.link.timeout))?;
                con.set_write_timeout(Some(self.link.timeout))?;
                slot.insert(con)
            }
        };
        let reply = reserve_script()
            .key(key)
            .arg(self.interval_us)
            .arg(self.tolerance_us)
            .arg(self.delay_us(key))
            .invoke::<Vec<i64>>(con);
        match reply {
            Ok(reply) => Reservation::from_reply(&reply),
            Err(e) => {
                // After a timeout the connection may still owe a reply: start afresh.
                *slot = None;
                Err(e)
            }
        }
    }

    /// Reserves a slot without waiting for it ([`Pacer::reserve`]): one blocking round trip;
    /// while Redis is out, a slot of the local view (not given back), or, failing closed, it
    /// blocks until Redis answers. Returns the slot, and how to give it back.
    pub(crate) fn reserve_held(&self, key: Option<&str>) -> (Instant, Option<Box<RedisHeld>>) {
        let redis_key = self.key_for(key);
        loop {
            if self.link.should_try() {
                match self.reserve_blocking(&redis_key) {
                    Ok(r) => {
                        self.link.answered();
                        let slot = r.slot_here();
                        self.note(&redis_key, slot);
                        let held = (!r.wait().is_zero()).then(|| {
                            Box::new(RedisHeld {
                                key: redis_key,
                                reservation: r,
                                hole: self.hole_name(),
                            })
                        });
                        return (slot, held);
                    }
                    Err(e) => self.link.failed(&e),
                }
            }
            match self.link.on_outage {
                OnOutage::PaceLocally => return (self.reserve_locally(&redis_key), None),
                OnOutage::Wait => std::thread::sleep(PROBE_EVERY),
            }
        }
    }

    /// Gives back a slot reserved by [`reserve_held`](RedisPacer::reserve_held) and not
    /// reached: spawned on tokio when a runtime is running, else one blocking round trip.
    /// Best effort, as every give-back: one that does not arrive errs on the slow side.
    pub(crate) fn release_held(&self, held: RedisHeld) {
        let RedisHeld {
            key,
            reservation: r,
            hole,
        } = held;
        if let Ok(handle) = tokio::runtime::Handle::try_current()
            && let Ok(manager) = self.link.manager()
        {
            handle.spawn(release(manager, key, r, hole, self.link.timeout));
            return;
        }
        let mut slot = self
            .link
            .blocking
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(con) = slot.as_mut() {
            let mut call = release_script().key(&key);
            call.arg(r.slot).arg(r.tat).arg(r.prev).arg(&hole);
            if call.invoke::<i64>(con).is_err() {
                *slot = None;
            }
        }
    }

    /// The blocking form of [`RedisPacer::ready`].
    pub(crate) fn ready_blocking(&self, key: Option<&str>) -> Duration {
        let start = std::time::Instant::now();
        let redis_key = self.key_for(key);
        let sleep_until = |slot: Instant| {
            let wait = slot.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        };
        loop {
            if self.link.should_try() {
                match self.reserve_blocking(&redis_key) {
                    Ok(r) => {
                        self.link.answered();
                        let slot = r.slot_here();
                        self.note(&redis_key, slot);
                        sleep_until(slot);
                        return start.elapsed();
                    }
                    Err(e) => self.link.failed(&e),
                }
            }
            match self.link.on_outage {
                OnOutage::PaceLocally => {
                    sleep_until(self.reserve_locally(&redis_key));
                    return start.elapsed();
                }
                OnOutage::Wait => std::thread::sleep(PROBE_EVERY),
            }
        }
    }
}

impl std::fmt::Debug for RedisPacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPacer")
            .field("key", &self.link.key)
            .field("on_outage", &self.link.on_outage)
            .field("down", &self.link.is_down())
            .finish_non_exhaustive()
    }
}

pub(crate) fn timed_out() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "no answer within the pacer's timeout",
    ))
}

/// A slot reserved in Redis by [`Pacer::reserve`], to give back if unused.
#[derive(Debug)]
pub(crate) struct RedisHeld {
    key: String,
    reservation: Reservation,
    hole: String,
}

/// Gives back a slot reserved in Redis if dropped before it comes (the caller was cancelled
/// while waiting for its slot).
struct Release {
    armed: Option<(ConnectionManager, String, Reservation, String)>,
    timeout: Duration,
}

impl Drop for Release {
    fn drop(&mut self) {
        if let Some((manager, key, r, hole)) = self.armed.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(release(manager, key, r, hole, self.timeout));
        }
    }
}

async fn release(
    mut manager: ConnectionManager,
    key: String,
    r: Reservation,
    hole: String,
    timeout: Duration,
) {
    let mut call = release_script().key(&key);
    call.arg(r.slot).arg(r.tat).arg(r.prev).arg(&hole);
    // Best effort: a release that does not arrive errs on the slow side.
    let _ = tokio::time::timeout(timeout, call.invoke_async::<i64>(&mut manager)).await;
}
