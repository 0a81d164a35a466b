//! Pacing shared through Redis: one rate limit for every process that names the same key.
//!
//! Each reservation is one round trip: a Lua script (loaded once, then run by its SHA with
//! `EVALSHA`) runs the same GCRA reservation as the local pacer on the server's clock
//! (`TIME`), so the workers' clocks need not agree. A budget is one sorted set: the member
//! `tat` holds the theoretical arrival time (µs since the epoch), `iv` and `tol` the interval
//! and burst tolerance (µs) of the pacer that last reserved, and each other member is a slot
//! given back by a cancelled reservation (a *hole*, named `h<pacer id>-<slot>`), which the
//! next caller takes before a fresh slot. The key expires a few intervals after its
//! theoretical arrival time, so idle budgets leave nothing behind.
//!
//! # Every unused slot goes back
//!
//! A reservation is made by a task of its own, which waits for Redis's reply up to a minute
//! ([`LATE_REPLY`]) even after the caller gave up on it (the caller waits the pacer's
//! timeout): a reply that comes after the caller was cancelled, or after the timeout (the
//! caller then paced locally), has its slot given back when it arrives. So does a slot whose
//! caller is dropped while waiting for it, and a slot of the local pacing during an outage
//! dropped before it comes. The blocking calls are made by one thread per pacer, for the same
//! reason. The latest reservation given back undoes the budget's arrival time, together with
//! the holes just before it; an earlier one leaves a hole. So a storm of cancelled calls
//! leaves the budget where it was.
//!
//! # Bounds
//!
//! No pacer reserves a slot more than [`MAX_AHEAD`] (an hour) ahead, or one interval and
//! burst if longer: a caller that finds the budget reserved that far waits until it is not and
//! asks again. So a budget whose next slot lies further ahead than that and one more interval
//! and burst (a second of slack) is corrupt: someone else wrote it, or Redis's clock went
//! back. The script resets such a budget, replaces a key that holds another type (a string,
//! a list), drops members that no pacer wrote, and re-seeds a budget that has vanished
//! (flushed, evicted) from where this process last saw it (as far as its own callers waiting
//! for slots reach: one interval each, and one more). Each of these is logged as a
//! warning naming the key, at most once a minute per pacer and kind, as is a budget whose
//! `iv` or `tol` is not this pacer's (two processes pace it at different rates): the faster
//! rate wins, the latest slot of a slower pacer counting as one slot at the faster rate (and
//! never more than an hour), so neither waits behind the other for longer than that.
//!
//! # Outages
//!
//! When Redis does not answer within the timeout (down, slow, restarting), the pacer declares
//! an outage (one warning) and paces locally at the same rate; one caller every 500 ms
//! probes Redis. Once a probe is answered, callers go back to Redis at once, but the outage is
//! over (one all-clear line) only when Redis has answered for [`STEADY`](super::link::STEADY) (2 s) without a
//! failure: a connection that flaps is one outage in the log. Answers and failures of
//! requests sent before the last change are not counted: a storm of replies that were queued
//! before an outage neither ends it nor starts another. With
//! [`RedisPacerBuilder::fail_closed`](crate::RedisPacerBuilder::fail_closed) callers wait for Redis instead: one probes every
//! 500 ms, the others wait for its answer.

use std::fmt;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rand::RngExt;
use redis::aio::ConnectionManager;
use redis::{RedisError, RedisResult};

use super::give_back::{Giver, Pending};
use super::link::{Found, LATE_REPLY, Link, OnOutage, timed_out};
use super::scripts::{
    Answer, Booking, CORRUPT, FOREIGN, LOST, MAX_US, MISMATCH, micros, reserve_script,
};
use super::views::{BudgetQuota, LocalSlot, Views};
use super::worker::{Hand, Job, work};
use crate::pace::common::lock;

type Instant = tokio::time::Instant;
type StdInstant = std::time::Instant;

/// The farthest ahead a pacer reserves (or one interval and burst, if longer).
pub(crate) const MAX_AHEAD: Duration = Duration::from_secs(3600);

/// The Redis side of a [`Pacer`](crate::Pacer) made by [`RedisPacerBuilder`](crate::RedisPacerBuilder).
pub(crate) struct RedisPacer {
    link: Link,
    interval_us: u64,
    tolerance_us: u64,
    quota: BudgetQuota,
    /// This process's view of each budget ([`Views`]), shared with the tasks that give slots
    /// back.
    views: Arc<Mutex<Views>>,
    /// Names this pacer's holes apart from other processes'.
    id: u64,
    /// The thread that makes the blocking calls, started on the first one.
    worker: Mutex<Option<mpsc::Sender<Job>>>,
}

/// A caller waiting for a slot reserved in Redis: counted in its view while it waits, and
/// the slot given back if dropped before it comes (the caller was cancelled).
pub(super) struct Release<'a> {
    pacer: &'a RedisPacer,
    key: &'a str,
    armed: Option<(Giver, ConnectionManager, Booking)>,
}

impl<'a> Release<'a> {
    pub(super) fn new(
        pacer: &'a RedisPacer,
        key: &'a str,
        manager: ConnectionManager,
        r: Booking,
    ) -> Self {
        lock(&pacer.views).hold(pacer.suffix(key), true);
        Release {
            pacer,
            key,
            armed: Some((pacer.giver(key), manager, r)),
        }
    }
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        lock(&self.pacer.views).hold(self.pacer.suffix(self.key), false);
        if let Some((giver, manager, r)) = self.armed.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(giver.give_back(manager, r));
        }
    }
}

/// Gives back a slot of the local pacing if dropped before it comes.
pub(super) struct LocalRelease<'a> {
    pacer: &'a RedisPacer,
    key: &'a str,
    held: Option<LocalSlot>,
}

impl Drop for LocalRelease<'_> {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            self.pacer.give_back_locally(self.key, held);
        }
    }
}

impl RedisPacer {
    pub(super) fn new(link: Link, interval: Duration, tolerance: Duration) -> Self {
        RedisPacer {
            link,
            interval_us: micros(interval).max(1),
            tolerance_us: micros(tolerance),
            quota: BudgetQuota {
                interval,
                tolerance,
            },
            views: Arc::default(),
            id: rand::rng().random::<u64>(),
            worker: Mutex::new(None),
        }
    }

    pub(super) fn key_for(&self, key: Option<&str>) -> String {
        match key {
            None => self.link.key.clone(),
            Some(k) => format!("{}:{k}", self.link.key),
        }
    }

    /// The view's key of a Redis key.
    pub(super) fn suffix<'k>(&self, redis_key: &'k str) -> &'k str {
        &redis_key[self.link.key.len()..]
    }

    pub(super) fn giver(&self, redis_key: &str) -> Giver {
        Giver {
            key: redis_key.to_owned(),
            suffix: self.link.key.len(),
            interval_us: self.interval_us,
            tolerance_us: self.tolerance_us,
            id: self.id,
            views: Arc::clone(&self.views),
        }
    }

    /// RESERVE's call for `redis_key`, from this process's view.
    pub(super) fn reserve_call(&self, redis_key: &str) -> redis::ScriptInvocation<'static> {
        let now = Instant::now();
        let (delay, floor) = {
            let views = lock(&self.views);
            let key = self.suffix(redis_key);
            (
                views.delay(key, now, self.quota),
                views.floor(key, now, self.quota),
            )
        };
        let mut call = reserve_script().key(redis_key);
        call.arg(self.interval_us)
            .arg(self.tolerance_us)
            .arg(micros(delay))
            .arg(micros(floor))
            .arg(micros(MAX_AHEAD))
            .arg(MAX_US);
        call
    }

    /// Notes an answer in this process's view and warns about what the script found.
    pub(super) fn heed(&self, redis_key: &str, answer: &Answer, arrived: Instant) {
        if answer.tat > 0 {
            let tat = answer.here(answer.tat, arrived);
            lock(&self.views).seen(self.suffix(redis_key), tat, answer.now, arrived);
        }
        if answer.flags == 0 {
            return;
        }
        if answer.flags & FOREIGN != 0 {
            self.link.warn_found(
                Found::Foreign,
                format_args!(
                    "Redis key `{redis_key}` held a value of another type, not a pacing budget: \
                     replaced by a budget re-seeded from this process's view"
                ),
            );
        }
        if answer.flags & CORRUPT != 0 {
            self.link.warn_found(
                Found::Corrupt,
                format_args!(
                    "the pacing budget at Redis key `{redis_key}` held a slot further ahead \
                     than any pacer reserves (an hour) or members no pacer wrote: reset, \
                     re-seeded from this process's view"
                ),
            );
        }
        if answer.flags & MISMATCH != 0 {
            let (iv, tol) = answer.stored;
            let theirs = Duration::from_micros(iv.unsigned_abs());
            let burst = |tol: u64, iv: u64| tol / iv.max(1) + 1;
            self.link.warn_found(
                Found::Mismatch,
                format_args!(
                    "pacers sharing the budget at Redis key `{redis_key}` disagree on its rate: \
                     this one paces one every {:?} (burst {}), another one every {theirs:?} \
                     (burst {}); a slot of the slower counts as one of the faster",
                    self.quota.interval,
                    burst(self.tolerance_us, self.interval_us),
                    burst(tol.unsigned_abs(), iv.unsigned_abs()),
                ),
            );
        }
        if answer.flags & LOST != 0 {
            self.link.warn_found(
                Found::Lost,
                format_args!(
                    "the pacing budget at Redis key `{redis_key}` was gone (flushed, \
                     evicted, lost in a restart) with slots reserved ahead: re-seeded from this \
                     process's view"
                ),
            );
        }
    }

    /// A slot of the local pacing (Redis is out).
    pub(super) fn reserve_locally(&self, redis_key: &str) -> LocalSlot {
        let now = Instant::now();
        lock(&self.views).reserve(self.suffix(redis_key), now, self.quota)
    }

    pub(super) fn give_back_locally(&self, redis_key: &str, held: LocalSlot) {
        let now = Instant::now();
        lock(&self.views).give_back(self.suffix(redis_key), held, now, self.quota);
    }

    /// Reserves a slot in Redis: one round trip, in a task of its own, whose answer the
    /// caller awaits up to the timeout. The task awaits it longer ([`LATE_REPLY`]) and gives
    /// the slot back if the caller is gone by then; so does the caller, should the answer
    /// have come just as it gave up.
    pub(super) async fn reserve(
        &self,
        redis_key: &str,
    ) -> RedisResult<(Answer, ConnectionManager)> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(RedisError::from((
                redis::ErrorKind::Client,
                "Pacer::ready needs a tokio runtime to reach Redis",
            )));
        }
        let manager = self.link.manager()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let call = self.reserve_call(redis_key);
        let giver = self.giver(redis_key);
        let mut pending = Pending {
            rx: Some(rx),
            giver: giver.clone(),
            manager: manager.clone(),
        };
        let mut task_manager = manager.clone();
        tokio::spawn(async move {
            let attempt = async {
                // A connection found dead (Redis restarted) is made again at once by the
                // manager: one more try reaches the new one. (Should the dead one have
                // carried the script to Redis, that slot goes unused: the slow side.)
                match call.invoke_async::<Vec<i64>>(&mut task_manager).await {
                    Err(e) if e.is_connection_dropped() || e.is_unrecoverable_error() => {
                        call.invoke_async::<Vec<i64>>(&mut task_manager).await
                    }
                    r => r,
                }
            };
            let answer = match tokio::time::timeout(LATE_REPLY, attempt).await {
                Ok(reply) => reply.and_then(|reply| Answer::parse(&reply)),
                Err(_) => Err(timed_out()),
            };
            if let Err(Ok(Answer {
                reserved: Some(r), ..
            })) = tx.send(answer)
            {
                // The caller is gone: give the slot back.
                giver.give_back(task_manager, r).await;
            }
        });
        let rx = pending.rx.as_mut().expect("set above");
        match tokio::time::timeout(self.link.timeout, rx).await {
            Ok(Ok(answer)) => {
                pending.rx = None;
                answer.map(|a| (a, manager))
            }
            Ok(Err(_)) => Err(RedisError::from((
                redis::ErrorKind::Client,
                "the runtime shut down during the reservation",
            ))),
            // `pending`, dropped, gives back an answer that came just now.
            Err(_) => Err(timed_out()),
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
                let asked = StdInstant::now();
                match self.reserve(&redis_key).await {
                    Ok((answer, manager)) => {
                        self.link.answered(asked);
                        let arrived = Instant::now();
                        self.heed(&redis_key, &answer, arrived);
                        let slot = answer.here(answer.slot, arrived);
                        let Some(r) = answer.reserved else {
                            // Full: ask again when there is room.
                            tokio::time::sleep_until(slot.max(arrived + Duration::from_millis(1)))
                                .await;
                            continue;
                        };
                        if slot > arrived {
                            let mut guard = Release::new(self, &redis_key, manager, r);
                            tokio::time::sleep_until(slot).await;
                            guard.armed = None;
                        }
                        return start.elapsed();
                    }
                    Err(e) => self.link.failed(asked, &e),
                }
            }
            match self.link.on_outage {
                OnOutage::PaceLocally => {
                    let held = self.reserve_locally(&redis_key);
                    if held.slot > Instant::now() {
                        let mut guard = LocalRelease {
                            pacer: self,
                            key: &redis_key,
                            held: Some(held),
                        };
                        tokio::time::sleep_until(held.slot).await;
                        guard.held = None;
                    }
                    return start.elapsed();
                }
                OnOutage::Wait => self.link.wait_for_probe().await,
            }
        }
    }

    /// Hands a job to the worker thread, starting it if need be.
    pub(super) fn send(&self, job: Job) -> RedisResult<()> {
        let mut worker = lock(&self.worker);
        let job = match worker.as_ref() {
            Some(tx) => match tx.send(job) {
                Ok(()) => return Ok(()),
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let (tx, rx) = mpsc::channel();
        let (client, timeout) = (self.link.client.clone(), self.link.timeout);
        std::thread::Builder::new()
            .name("backoff-redis".into())
            .spawn(move || work(client, timeout, rx))
            .map_err(RedisError::from)?;
        let sent = tx.send(job).is_ok();
        *worker = Some(tx);
        if sent { Ok(()) } else { Err(timed_out()) }
    }

    /// One blocking reservation, made by the worker thread, awaited up to the timeout.
    pub(super) fn reserve_blocking(&self, redis_key: &str) -> RedisResult<Answer> {
        let hand = Arc::new(Hand::default());
        self.send(Job::Reserve {
            call: self.reserve_call(redis_key),
            giver: self.giver(redis_key),
            hand: Arc::clone(&hand),
        })?;
        hand.take(self.link.timeout)
    }

    /// Reserves a slot without waiting for it ([`Pacer::reserve`](crate::Pacer::reserve)): one blocking round trip
    /// (blocking longer only while the budget is full); while Redis is out, a slot of the
    /// local view, or, failing closed, it blocks until Redis answers. Returns the slot, and
    /// how to give it back.
    pub(crate) fn reserve_held(&self, key: Option<&str>) -> (Instant, Option<Box<RedisHeld>>) {
        let redis_key = self.key_for(key);
        loop {
            if self.link.should_try() {
                let asked = StdInstant::now();
                match self.reserve_blocking(&redis_key) {
                    Ok(answer) => {
                        self.link.answered(asked);
                        let arrived = Instant::now();
                        self.heed(&redis_key, &answer, arrived);
                        let slot = answer.here(answer.slot, arrived);
                        let Some(r) = answer.reserved else {
                            std::thread::sleep(
                                slot.saturating_duration_since(arrived)
                                    .max(Duration::from_millis(1)),
                            );
                            continue;
                        };
                        let held = (slot > arrived).then(|| {
                            Box::new(RedisHeld(SlotHeld::Redis {
                                giver: self.giver(&redis_key),
                                reservation: r,
                            }))
                        });
                        return (slot, held);
                    }
                    Err(e) => self.link.failed(asked, &e),
                }
            }
            match self.link.on_outage {
                OnOutage::PaceLocally => {
                    let held = self.reserve_locally(&redis_key);
                    let slot = held.slot;
                    return (
                        slot,
                        Some(Box::new(RedisHeld(SlotHeld::Local { redis_key, held }))),
                    );
                }
                OnOutage::Wait => self.link.wait_for_probe_blocking(),
            }
        }
    }

    /// Gives back a slot reserved by [`reserve_held`](RedisPacer::reserve_held) and not
    /// reached: spawned on tokio when a runtime is running, else by the worker thread.
    /// Best effort, as every give-back: one that does not arrive errs on the slow side.
    pub(crate) fn release_held(&self, held: RedisHeld) {
        match held.0 {
            SlotHeld::Local { redis_key, held } => self.give_back_locally(&redis_key, held),
            SlotHeld::Redis {
                giver,
                reservation: r,
            } => {
                if let Ok(handle) = tokio::runtime::Handle::try_current()
                    && let Ok(manager) = self.link.manager()
                {
                    handle.spawn(giver.give_back(manager, r));
                } else {
                    let _ = self.send(Job::Release { giver, r });
                }
            }
        }
    }

    /// The blocking form of [`RedisPacer::ready`].
    pub(crate) fn ready_blocking(&self, key: Option<&str>) -> Duration {
        let start = StdInstant::now();
        let redis_key = self.key_for(key);
        let sleep_until = |slot: Instant| {
            let wait = slot.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        };
        loop {
            if self.link.should_try() {
                let asked = StdInstant::now();
                match self.reserve_blocking(&redis_key) {
                    Ok(answer) => {
                        self.link.answered(asked);
                        let arrived = Instant::now();
                        self.heed(&redis_key, &answer, arrived);
                        let slot = answer.here(answer.slot, arrived);
                        if answer.reserved.is_none() {
                            sleep_until(slot.max(arrived + Duration::from_millis(1)));
                            continue;
                        }
                        sleep_until(slot);
                        return start.elapsed();
                    }
                    Err(e) => self.link.failed(asked, &e),
                }
            }
            match self.link.on_outage {
                OnOutage::PaceLocally => {
                    sleep_until(self.reserve_locally(&redis_key).slot);
                    return start.elapsed();
                }
                OnOutage::Wait => self.link.wait_for_probe_blocking(),
            }
        }
    }
}

impl fmt::Debug for RedisPacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisPacer")
            .field("key", &self.link.key)
            .field("on_outage", &self.link.on_outage)
            .field("down", &self.link.is_down())
            .finish_non_exhaustive()
    }
}

/// A slot reserved by [`Pacer::reserve`](crate::Pacer::reserve) on a Redis pacer, to give back if unused.
#[derive(Debug)]
pub(crate) struct RedisHeld(SlotHeld);

pub(super) enum SlotHeld {
    /// In Redis.
    Redis { giver: Giver, reservation: Booking },
    /// In the local pacing of an outage.
    Local { redis_key: String, held: LocalSlot },
}

impl fmt::Debug for SlotHeld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlotHeld::Redis { giver, reservation } => f
                .debug_struct("Redis")
                .field("key", &giver.key)
                .field("reservation", reservation)
                .finish(),
            SlotHeld::Local { redis_key, held } => f
                .debug_struct("Local")
                .field("key", redis_key)
                .field("held", held)
                .finish(),
        }
    }
}
