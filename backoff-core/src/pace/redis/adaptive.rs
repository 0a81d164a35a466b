//! An adaptive pacer shared through Redis: every worker naming the same budget learns the
//! same rate, from what the server told any of them, and the workers together keep to it.
//!
//! # Shared learning by replay
//!
//! Each worker appends every observation ([`Pacer::observe`](crate::Pacer::observe): the
//! [`Feedback`] and the attempt's start) to a Redis stream per budget, stamped on Redis's
//! clock (`TIME`) by the script that appends it. Each worker's own [`AdaptiveRate`] is fed
//! *only* from that stream, in stream order: so every controller sees the same inputs in the
//! same order and, the controller being deterministic given its inputs, holds the same
//! learned rate. Learning from the aggregate is also what is right: the server's limit is on
//! the traffic of all workers together, and the stream is that traffic.
//!
//! Redis times are mapped to this process's clock with one offset (an *anchor*: Redis's
//! `TIME` against the local instant halfway through the round trip that read it), measured at
//! the first reply and never again. The controller's decisions depend only on differences of
//! the instants it is given, so a constant offset, however imprecise, changes nothing it
//! learns; measuring it again would shift the instants replayed after it by that reply's
//! delay, and on a loaded machine two workers' controllers then diverged. The assumptions:
//! Redis's wall clock and this process's monotonic clock run at the same speed (NTP slews by
//! at most 0.05 %), and Redis's clock is not stepped while the pacer lives (a step shifts
//! what is replayed after it once, as a reply delay would); the anchor's error (half the first
//! round trip, connecting included) shifts only pauses the server asked for
//! (`Retry-After`, a reset), by about a millisecond on a LAN.
//!
//! A worker that joins replays the last [`JOIN`](stream::JOIN) observations, which brings it to about the
//! others' rate (not always exactly: the rest of their history is not replayed). So does a
//! worker back from an outage, having learned alone meanwhile: the workers' rates agree
//! again as the same observations keep coming, not at once.
//!
//! # Slots: the adaptive rule on Redis's clock
//!
//! The adaptive backend's rule (`pace/adaptive/lanes.rs`), run in Redis: a budget keeps `last`, the
//! start of the latest attempt of any worker, and the head of a worker's local queue may start
//! when `max(last + interval, not_before)` has come, `interval` being the rate learned *now*;
//! it then sets `last` to Redis's now. Nothing is reserved ahead, so a change of the rate
//! binds the very next attempt of every worker (a GCRA reservation would have fixed each
//! worker's next slot at the old rate). The check and the set are one script, so two workers
//! never share a slot. The same script first returns the observations this worker has not
//! replayed yet, and takes no slot when there are some: the worker replays them and asks
//! again, so every slot is taken at the rate learned from every observation recorded before
//! it (after two such rounds, it takes with what it has: the loop is bounded however fast
//! observations come).
//!
//! Redis sets `last` when it gives the slot, but the attempt starts when the reply reaches
//! the worker, which a loaded machine delays by milliseconds: a worker whose reply came late
//! and the next whose reply came early would start closer than the interval, and a bucket of
//! burst 1 refuses that (a refusal at the proven rate halves it). So a worker, once it has its
//! slot, also moves `last` up to the moment this reaches Redis (off the attempt's path): the
//! next slot counts from whichever is later.
//!
//! # Outages and bounds
//!
//! When Redis does not answer within the timeout, the pacer goes on locally (one warning):
//! observations feed its controller directly, slots follow its last local one; it probes
//! Redis every 500 ms and goes back to it once it answers (replaying what the others recorded
//! meanwhile); the outage is logged as over once Redis has answered for 2 s (the `Link` it
//! shares with the fixed pacer, `pace/redis/fixed.rs`).
//! [`RedisPacerBuilder::fail_closed`](crate::RedisPacerBuilder::fail_closed) waits for Redis
//! instead (one caller probes, the others wait for its answer). Each script first replaces
//! what no pacer wrote: a stream or `last` key of another type, a `last` that is not a number
//! or lies ahead of Redis's clock (a pacer would wait for it for ever). Every call is bounded
//! by the pacer's timeout, a stream is trimmed to about [`KEEP_OBSERVATIONS`] entries and
//! expires an hour after its last observation, `last` a second after its slot, and unused
//! keys are forgotten as the local adaptive pacer does.

mod lane;
mod stream;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::{Client, RedisResult};

use crate::hints::Feedback;
use crate::pace::adaptive::controller::AdaptiveRate;
use crate::pace::common::lock;
use crate::pace::redis::link::{Found, Link, OnOutage, timed_out};

type Instant = tokio::time::Instant;
type StdInstant = std::time::Instant;

use lane::Lane;
use stream::{
    KEEP_OBSERVATIONS, MAX_SYNC_ROUNDS, MAX_US, Reply, STREAM_TTL_MS, encode, micros,
    observe_script, take_script, touch_script,
};

/// The smallest map size that triggers a sweep of unused keys.
const MIN_SWEEP: usize = 64;

/// The backend of [`Pacer`](crate::Pacer)s made by
/// [`RedisPacerBuilder::adaptive`](crate::RedisPacerBuilder::adaptive).
pub(crate) struct RedisAdaptive {
    link: Link,
    shared: Lane,
    keyed: Mutex<(HashMap<String, Arc<Lane>>, usize)>,
    /// Redis's clock (µs) against this process's, read at the same moment.
    anchor: Mutex<Option<(i64, Instant)>>,
}

/// A lane of this backend, borrowed or held.
type RedisLaneRef<'a> = crate::pace::common::AnyLane<'a, Lane>;

impl RedisAdaptive {
    pub(crate) fn new(
        client: Client,
        key: String,
        rate: AdaptiveRate,
        timeout: Duration,
        on_outage: OnOutage,
    ) -> Self {
        RedisAdaptive {
            shared: Lane::new(rate, &key),
            link: Link::new(
                client,
                key,
                timeout,
                on_outage,
                ("learning and pacing locally", "learning and pacing"),
            ),
            keyed: Mutex::new((HashMap::new(), 0)),
            anchor: Mutex::new(None),
        }
    }

    fn lane(&self, key: Option<&str>) -> RedisLaneRef<'_> {
        let Some(key) = key else {
            return RedisLaneRef::Shared(&self.shared);
        };
        let mut keyed = lock(&self.keyed);
        let (map, sweep_at) = &mut *keyed;
        if let Some(lane) = map.get(key) {
            return RedisLaneRef::Keyed(Arc::clone(lane));
        }
        if map.len() >= (*sweep_at).max(MIN_SWEEP) {
            let now = Instant::now();
            map.retain(|_, lane| !lane.forgettable(now, lane));
            *sweep_at = map.len().saturating_mul(2);
        }
        let lane = Arc::new(Lane::new(
            self.shared.rate.fresh(),
            &format!("{}:{key}", self.link.key),
        ));
        map.insert(key.to_owned(), Arc::clone(&lane));
        RedisLaneRef::Keyed(lane)
    }

    fn existing(&self, key: Option<&str>) -> Option<RedisLaneRef<'_>> {
        match key {
            None => Some(RedisLaneRef::Shared(&self.shared)),
            Some(key) => lock(&self.keyed)
                .0
                .get(key)
                .cloned()
                .map(RedisLaneRef::Keyed),
        }
    }

    /// The shared budget's learned rate now.
    pub(crate) fn interval(&self) -> Option<Duration> {
        self.shared.rate.interval()
    }

    /// `key`'s learned rate, if this worker knows the key.
    pub(crate) fn learned_rate(&self, key: Option<&str>) -> Option<f64> {
        self.existing(key)?.rate.rate()
    }

    /// When a caller arriving now would start by this worker's view (an estimate: the other
    /// workers' starts count only once Redis is asked).
    pub(crate) fn estimate(&self, key: Option<&str>, now: Instant) -> Instant {
        self.lane(key).local_slot(now)
    }

    /// Maps a time on Redis's clock to this process's, through the anchor.
    fn local(&self, us: i64) -> Instant {
        let Some((at_us, at)) = *lock(&self.anchor) else {
            return Instant::now();
        };
        let d = us.saturating_sub(at_us);
        let shift = Duration::from_micros(d.unsigned_abs());
        if d >= 0 {
            at.checked_add(shift).unwrap_or(at)
        } else {
            at.checked_sub(shift).unwrap_or(at)
        }
    }

    /// Notes Redis's clock `now_us` read during a round trip from `asked` to `answered`: the
    /// first time only (see the module documentation).
    fn anchor(&self, now_us: i64, asked: Instant, answered: Instant) {
        let mid = asked + answered.saturating_duration_since(asked) / 2;
        lock(&self.anchor).get_or_insert((now_us, mid));
    }

    /// Feeds a reply's entries to the lane's controller, each once, in stream order; wakes
    /// the lane's head if what it waits for changed.
    fn replay(&self, lane: &Lane, reply: &Reply, asked: Instant) {
        self.anchor(reply.now, asked, Instant::now());
        self.heed(lane, reply);
        let mut changed = false;
        {
            let mut cursor = lock(&lane.cursor);
            for (id, o) in &reply.entries {
                if cursor.is_some_and(|c| *id <= c) {
                    continue;
                }
                *cursor = Some(*id);
                let (sent, now) = (self.local(o.sent), self.local(o.now));
                changed |= lane.rate.observe_changed(&o.feedback, sent, now);
            }
        }
        if changed {
            lane.wake();
        }
    }

    /// Warns about what a script repaired (naming the keys), at most once a minute a kind.
    fn heed(&self, lane: &Lane, reply: &Reply) {
        let (stream, last) = (&lane.stream, &lane.last_key);
        match reply.repaired {
            0 => {}
            1 => self.link.warn_found(
                Found::Foreign,
                format_args!(
                    "Redis key `{stream}` or `{last}` held a value of another type, not an \
                     adaptive pacer's: replaced"
                ),
            ),
            _ => self.link.warn_found(
                Found::Corrupt,
                format_args!(
                    "Redis key `{last}` held no adaptive pacer's last start (not a number, or \
                     ahead of Redis's clock): dropped"
                ),
            ),
        }
    }

    /// One script call, bounded by the timeout (one more try on a connection found dead).
    async fn invoke(&self, call: &redis::ScriptInvocation<'_>) -> RedisResult<Reply> {
        let mut manager = self.link.manager()?;
        let attempt = async {
            match call.invoke_async::<Vec<String>>(&mut manager).await {
                Err(e) if e.is_io_error() || e.is_unrecoverable_error() => {
                    call.invoke_async::<Vec<String>>(&mut manager).await
                }
                r => r,
            }
        };
        match tokio::time::timeout(self.link.timeout, attempt).await {
            Ok(reply) => Reply::parse(reply?),
            Err(_) => Err(timed_out()),
        }
    }

    /// The blocking form of [`invoke`](RedisAdaptive::invoke).
    fn invoke_blocking(&self, call: &redis::ScriptInvocation<'_>) -> RedisResult<Reply> {
        let mut slot = lock(&self.link.blocking);
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
        match call.invoke::<Vec<String>>(con) {
            Ok(reply) => Reply::parse(reply),
            Err(e) => {
                // After a timeout the connection may still owe a reply: start afresh.
                *slot = None;
                Err(e)
            }
        }
    }

    /// The take script's call for `lane`; after an outage, not before where the local pacing
    /// left off.
    fn take_call(&self, lane: &Lane, rounds: u32) -> redis::ScriptInvocation<'static> {
        let now = Instant::now();
        let after_outage = self.link.is_down();
        let interval = lane.rate.interval().map_or(0, |i| micros(i).max(1));
        let (cursor, count) = lane.cursor();
        let mut call = take_script().prepare_invoke();
        call.key(&lane.stream)
            .key(&lane.last_key)
            .arg(cursor)
            .arg(count)
            .arg(interval)
            .arg(lane.delay_us(now, after_outage))
            .arg(u8::from(rounds >= MAX_SYNC_ROUNDS));
        call
    }

    fn observe_call(
        lane: &Lane,
        feedback: &Feedback,
        sent: Instant,
    ) -> redis::ScriptInvocation<'static> {
        let age = micros(Instant::now().saturating_duration_since(sent));
        let (cursor, count) = lane.cursor();
        let mut call = observe_script().prepare_invoke();
        call.key(&lane.stream)
            .arg(cursor)
            .arg(count)
            .arg(encode(feedback))
            .arg(age)
            .arg(KEEP_OBSERVATIONS)
            .arg(STREAM_TTL_MS);
        call
    }

    /// Records how an attempt went in the budget's stream (and replays it with whatever else
    /// is new): spawned on tokio when a runtime is running, else one blocking round trip.
    /// While Redis is out, the controller learns from it directly.
    pub(crate) fn observe(self: &Arc<Self>, key: Option<&str>, feedback: &Feedback, sent: Instant) {
        let lane = self.lane(key);
        if self.link.is_down() && !self.link.should_try() {
            lane.learn_locally(feedback, sent);
            return;
        }
        let call = Self::observe_call(&lane, feedback, sent);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let (this, key, feedback) =
                (Arc::clone(self), key.map(str::to_owned), feedback.clone());
            handle.spawn(async move {
                let lane = this.lane(key.as_deref());
                let asked = Instant::now();
                let asked_at = StdInstant::now();
                match this.invoke(&call).await {
                    Ok(reply) => {
                        this.link.answered(asked_at);
                        this.replay(&lane, &reply, asked);
                    }
                    Err(e) => {
                        this.link.failed(asked_at, &e);
                        lane.learn_locally(&feedback, sent);
                    }
                }
            });
            return;
        }
        let asked = Instant::now();
        let asked_at = StdInstant::now();
        match self.invoke_blocking(&call) {
            Ok(reply) => {
                self.link.answered(asked_at);
                self.replay(&lane, &reply, asked);
            }
            Err(e) => {
                self.link.failed(asked_at, &e);
                lane.learn_locally(feedback, sent);
            }
        }
    }

    /// Counts an attempt starting now (a reservation consumed): `last` set in Redis (spawned
    /// when a runtime is running, else blocking) and locally.
    pub(crate) fn take_now(self: &Arc<Self>, key: Option<&str>) {
        let lane = self.lane(key);
        lane.took(Instant::now());
        if self.link.is_down() {
            return;
        }
        // Interval 0, forced: takes at once whatever the budget's state.
        let mut call = take_script().prepare_invoke();
        call.key(&lane.stream)
            .key(&lane.last_key)
            .arg(lane.cursor().0)
            .arg(0)
            .arg(0)
            .arg(0)
            .arg(1);
        let asked_at = StdInstant::now();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let this = Arc::clone(self);
            handle.spawn(async move {
                if let Err(e) = this.invoke(&call).await {
                    this.link.failed(asked_at, &e);
                }
            });
        } else if let Err(e) = self.invoke_blocking(&call) {
            self.link.failed(asked_at, &e);
        }
    }

    /// Records, after a slot was taken, that its attempt has started by the time this reaches
    /// Redis (spawned: off the attempt's path; the module documentation says why).
    fn touch(&self, lane: &Lane) {
        let (Ok(handle), Ok(manager)) =
            (tokio::runtime::Handle::try_current(), self.link.manager())
        else {
            return;
        };
        let interval_ms = lane.rate.interval().map_or(0, |i| micros(i) / 1000);
        let key = lane.last_key.clone();
        let timeout = self.link.timeout;
        handle.spawn(async move {
            let mut manager = manager;
            let mut call = touch_script().key(&key);
            call.arg(interval_ms.saturating_add(1000));
            let _ = tokio::time::timeout(timeout, call.invoke_async::<i64>(&mut manager)).await;
        });
    }

    /// Queues, waits (on tokio's clock) for the slot Redis gives at the rate learned by now,
    /// and returns the time that took.
    pub(crate) async fn ready(&self, key: Option<&str>) -> Duration {
        let start = Instant::now();
        let lane = self.lane(key);
        let _turn = lane.queue.lock().await;
        let mut rounds = 0;
        loop {
            // Registered before the slot is asked for: a change after it wakes this head.
            let notified = lane.changed.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            let mut until = None;
            if self.link.should_try() {
                let call = self.take_call(&lane, rounds);
                let asked = Instant::now();
                let asked_at = StdInstant::now();
                match self.invoke(&call).await {
                    Ok(reply) => {
                        self.link.answered(asked_at);
                        self.replay(&lane, &reply, asked);
                        match reply.wait {
                            None => {
                                rounds += 1;
                                continue;
                            }
                            Some(0) => {
                                let now = Instant::now();
                                lane.took(now);
                                self.touch(&lane);
                                return now.saturating_duration_since(start);
                            }
                            Some(wait) => {
                                // A wait is at most MAX_US, whatever a stray key says.
                                until = asked.checked_add(Duration::from_micros(wait.min(MAX_US)));
                            }
                        }
                    }
                    Err(e) => {
                        self.link.failed(asked_at, &e);
                        if self.link.on_outage == OnOutage::Wait {
                            until = Some(Instant::now() + self.link.until_probe());
                        }
                    }
                }
            } else if self.link.on_outage == OnOutage::Wait {
                // Another caller probes Redis: wait for its answer or the next probe.
                until = Some(Instant::now() + self.link.until_probe());
            }
            rounds = 0;
            let until = match until {
                Some(until) => until,
                // Redis is out: pace on this worker's own view.
                None => {
                    let now = Instant::now();
                    let slot = lane.local_slot(now);
                    if slot <= now {
                        lane.took(now);
                        return now.saturating_duration_since(start);
                    }
                    slot
                }
            };
            let mut sleep = std::pin::pin!(tokio::time::sleep_until(until));
            std::future::poll_fn(|cx| {
                if notified.as_mut().poll(cx).is_ready() {
                    return std::task::Poll::Ready(());
                }
                sleep.as_mut().poll(cx)
            })
            .await;
        }
    }

    /// The blocking form of [`ready`](RedisAdaptive::ready): the head wakes early when what
    /// it waits for changes (this worker learned something: its own observation, or another
    /// worker's replayed), and asks Redis again.
    pub(crate) fn ready_blocking(&self, key: Option<&str>) -> Duration {
        let start = std::time::Instant::now();
        let lane = self.lane(key);
        let _turn = lock(&lane.queue_blocking);
        let mut rounds = 0;
        loop {
            // Read before the slot is asked for: a change after it wakes this head.
            let seen = lane.changes();
            let mut until = None;
            if self.link.should_try() {
                let call = self.take_call(&lane, rounds);
                let asked = Instant::now();
                let asked_at = StdInstant::now();
                match self.invoke_blocking(&call) {
                    Ok(reply) => {
                        self.link.answered(asked_at);
                        self.replay(&lane, &reply, asked);
                        match reply.wait {
                            None => {
                                rounds += 1;
                                continue;
                            }
                            Some(0) => {
                                lane.took(Instant::now());
                                return start.elapsed();
                            }
                            Some(wait) => until = Some(Duration::from_micros(wait.min(MAX_US))),
                        }
                    }
                    Err(e) => {
                        self.link.failed(asked_at, &e);
                        if self.link.on_outage == OnOutage::Wait {
                            until = Some(self.link.until_probe());
                        }
                    }
                }
            } else if self.link.on_outage == OnOutage::Wait {
                until = Some(self.link.until_probe());
            }
            rounds = 0;
            match until {
                Some(wait) => lane.sleep_unless_changed(seen, wait),
                None => {
                    // Redis is out: the slot of this worker's own view is this caller's once
                    // slept (the clock may be tokio's, paused: looping would never end).
                    let now = Instant::now();
                    let slot = lane.local_slot(now);
                    std::thread::sleep(slot.saturating_duration_since(now));
                    lane.took(slot.max(Instant::now()));
                    return start.elapsed();
                }
            }
        }
    }
}

impl std::fmt::Debug for RedisAdaptive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdaptive")
            .field("key", &self.link.key)
            .field("on_outage", &self.link.on_outage)
            .field("down", &self.link.is_down())
            .finish_non_exhaustive()
    }
}
