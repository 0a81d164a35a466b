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
//! over (one all-clear line) only when Redis has answered for [`STEADY`] (2 s) without a
//! failure: a connection that flaps is one outage in the log. Answers and failures of
//! requests sent before the last change are not counted: a storm of replies that were queued
//! before an outage neither ends it nor starts another. With
//! [`RedisPacerBuilder::fail_closed`] callers wait for Redis instead: one probes every
//! 500 ms, the others wait for its answer.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, mpsc};
use std::time::Duration;

use rand::RngExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, RedisResult, Script};

use crate::AdaptiveRate;
use crate::pace::redis::adaptive::RedisAdaptive;
use crate::pace::{Pacer, lock};
use crate::secs::IntoSeconds;

type Instant = tokio::time::Instant;
type StdInstant = std::time::Instant;

/// How long one call to Redis may take before the pacer stops waiting for it, by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(200);

/// How often a pacer whose Redis is out tries it again.
pub(crate) const PROBE_EVERY: Duration = Duration::from_millis(500);

/// How long Redis must answer without a failure before an outage is declared over.
pub(crate) const STEADY: Duration = Duration::from_secs(2);

/// How long a reply is awaited after its caller gave up on it, so that its slot goes back: a
/// frozen Redis holds at most this many seconds of probes (one each 500 ms) unanswered.
pub(crate) const LATE_REPLY: Duration = Duration::from_secs(60);

/// The farthest ahead a pacer reserves (or one interval and burst, if longer).
pub(crate) const MAX_AHEAD: Duration = Duration::from_secs(3600);

/// The least time between two warnings of one kind about what a pacer found in Redis.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The key prefix by default: a budget named `sms` lives at `backoff:sms`.
const DEFAULT_PREFIX: &str = "backoff:";

/// The largest interval or burst tolerance handed to the script, in µs (about 115 days):
/// times stay exact as Lua numbers (doubles) and expiry times stay in Redis's range. Scores
/// up to it are settings (`iv`, `tol`), above it times.
const MAX_US: u64 = 10_000_000_000_000;

/// The smallest local view that is swept of idle budgets, and the longest time between two
/// sweeps of a view that gets new keys.
const MIN_SWEEP: usize = 64;
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// What a reserve reply says the script found (bits of its `flags`).
const FOREIGN: i64 = 1;
const CORRUPT: i64 = 2;
const MISMATCH: i64 = 4;
const LOST: i64 = 8;

/// Lua shared by both scripts. `collapse` drops the holes that end the schedule below the
/// arrival time `back` (each the slot of the reservation that moved it there: `back` less
/// one interval and the burst tolerance), at most `most`, and returns the arrival time
/// without them: as if those reservations had never been made.
const COMMON: &str = r"
local function n(x) return string.format('%.0f', x) end
local function is_hole(m) return string.match(m, '^h%x+%-%d+$') ~= nil end
local function kind(key)
  local t = redis.call('TYPE', key)
  if type(t) == 'table' then t = t['ok'] end
  return t
end
local function collapse(key, back, interval, tolerance, most)
  local left = most
  while left > 0 do
    local want = back - interval - tolerance
    local batch = math.min(left, 512)
    local found = redis.call('ZREVRANGEBYSCORE', key, n(want), '-inf', 'WITHSCORES', 'LIMIT', 0, batch)
    local gone = {}
    for i = 1, #found, 2 do
      if tonumber(found[i + 1]) ~= want or not is_hole(found[i]) then break end
      gone[#gone + 1] = found[i]
      back = back - interval
      want = want - interval
    end
    if #gone > 0 then redis.call('ZREM', key, unpack(gone)) end
    left = left - #gone
    if #gone < batch then break end
  end
  return back
end
";

/// GCRA reservation. KEYS[1]: the budget. ARGV: interval and burst tolerance (µs), the
/// earliest start as a delay from now (µs; after an outage, where the local pacing left off,
/// an interval and burst at most),
/// this process's last view of the budget's arrival time as a delay from now (µs; 0: none),
/// how far ahead a pacer reserves (µs), `MAX_US`.
/// Returns {0 (reserved) or 1 (full), now, slot (full: when there is room), tat set (0 if
/// the slot came from a hole), previous tat (0 if none), tat now (0 if none), flags, the
/// interval and tolerance found (0 if none)}, times in µs on the server's clock.
const RESERVE: &str = r"
local key = KEYS[1]
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local delay = tonumber(ARGV[3])
local floor = tonumber(ARGV[4])
local ahead = tonumber(ARGV[5])
local settings = tonumber(ARGV[6])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local flags = 0
local found_kind = kind(key)
if found_kind ~= 'zset' and found_kind ~= 'none' then
  redis.call('DEL', key)
  flags = flags + 1
end
-- Holes in the past are of no use, and a tat in the past means the same as none.
redis.call('ZREMRANGEBYSCORE', key, '(' .. n(settings), '(' .. n(now))
local stored = tonumber(redis.call('ZSCORE', key, 'iv'))
local stol = tonumber(redis.call('ZSCORE', key, 'tol'))
if stored and stored < 1 then stored = nil end
if stol and stol < 0 then stol = nil end
local iv = math.max(stored or interval, interval)
local tol = math.max(stol or tolerance, tolerance)
local room = math.max(ahead, interval + tolerance)
-- No pacer writes further ahead than its slot (at most an hour, or one interval and burst)
-- and one interval and burst past it.
local limit = now + math.max(ahead, iv + tol) + iv + tol + 1000000
local corrupt = redis.call('ZCOUNT', key, '(' .. n(limit), '+inf') > 0
if corrupt then
  redis.call('ZREMRANGEBYSCORE', key, n(now), '+inf')
end
local prev = tonumber(redis.call('ZSCORE', key, 'tat'))
if prev and stored then
  -- Holes left at the end by give-backs that came before the latest one's (a storm).
  local back = collapse(key, prev, stored, stol or 0, 64)
  if back < prev then
    prev = back
    if prev > now then redis.call('ZADD', key, n(prev), 'tat') else
      redis.call('ZREM', key, 'tat')
      prev = nil
    end
  end
end
local seeded = false
if not prev and floor > 0 and (not stored or corrupt or flags > 0) then
  -- Gone (flushed, evicted) or reset: go on from where this process last saw it.
  prev = now + math.min(floor, room + interval + tolerance)
  seeded = true
  if not stored and flags == 0 and not corrupt then flags = flags + 8 end
end
if stored and (stored ~= interval or (stol or 0) ~= tolerance) then flags = flags + 4 end
if stored and stored > interval and prev and prev > now then
  -- The latest reservation was made at a slower rate: it counts as one slot at this rate,
  -- and this pacer waits no more than `ahead` behind it.
  prev = math.min(math.max(now, prev - stored + interval), now + ahead)
end
local tat = prev or now
local slot = math.max(tat - tolerance, now + delay)
-- A slot given back by a cancelled reservation, earlier than the fresh one, goes first.
local hole, at = nil, slot
local found = redis.call('ZRANGEBYSCORE', key, n(now + delay), '(' .. n(slot), 'WITHSCORES', 'LIMIT', 0, 8)
for i = 1, #found, 2 do
  if is_hole(found[i]) then
    if not hole then hole, at = found[i], tonumber(found[i + 1]) end
  elseif found[i] ~= 'tat' then
    redis.call('ZREM', key, found[i])
    corrupt = true
  end
end
if corrupt then flags = flags + 2 end
local function keep(until_)
  redis.call('ZADD', key, n(interval), 'iv', n(tolerance), 'tol')
  if until_ then
    redis.call('PEXPIRE', key, n(math.floor((until_ - now + 3 * interval) / 1000) + 1))
  elseif redis.call('PTTL', key) < 0 then
    redis.call('PEXPIRE', key, n(math.floor((tat - now + 3 * interval) / 1000) + 1))
  end
end
if at - now > room then
  -- Full: come back when there is room (keeping a budget re-seeded meanwhile).
  if seeded then
    redis.call('ZADD', key, n(prev), 'tat')
    keep(prev)
  end
  return {1, now, at - room, 0, 0, prev or 0, flags, stored or 0, stol or 0}
end
if hole then
  redis.call('ZREM', key, hole)
  if seeded then redis.call('ZADD', key, n(prev), 'tat') end
  keep(nil)
  return {0, now, at, 0, 0, prev or 0, flags, stored or 0, stol or 0}
end
local nxt = math.max(tat, slot) + interval
redis.call('ZADD', key, n(nxt), 'tat')
keep(nxt)
return {0, now, slot, nxt, prev or 0, nxt, flags, stored or 0, stol or 0}
";

/// Gives back a reservation dropped before its slot. KEYS[1]: the budget. ARGV: slot, tat
/// set, previous tat (as RESERVE returned them), the hole's member name, the pacer's interval
/// and tolerance (µs).
/// Returns {0 (an earlier reservation whose slot has passed, or a key that holds no budget:
/// nothing to give back), 1 (the latest reservation: tat undone, with the holes just before
/// it) or 2 (an earlier one: left as a hole), now, tat now (0 if none)}.
const RELEASE: &str = r"
local key = KEYS[1]
local slot = tonumber(ARGV[1])
local nxt = tonumber(ARGV[2])
local prev = tonumber(ARGV[3])
local interval = tonumber(ARGV[5])
local tolerance = tonumber(ARGV[6])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if kind(key) ~= 'zset' then return {0, now, 0} end
local tat = tonumber(redis.call('ZSCORE', key, 'tat'))
-- Every reservation given back went unused, even one whose slot has passed (its answer
-- came late): the latest is undone whenever it comes back; an earlier one, a hole in the
-- past, is of no use.
if nxt > 0 and tat == nxt then
  -- Holes that end the schedule go too (a few milliseconds of Redis's time at most).
  local back = collapse(key, prev, interval, tolerance, 8192)
  if back > now then
    redis.call('ZADD', key, n(back), 'tat')
  else
    redis.call('ZREM', key, 'tat')
    back = 0
  end
  return {1, now, back}
end
if slot <= now then return {0, now, tat or 0} end
redis.call('ZADD', key, n(slot), ARGV[4])
if redis.call('PTTL', key) < 0 then
  redis.call('PEXPIRE', key, n(math.floor((slot - now) / 1000) + 1000))
end
return {2, now, tat or 0}
";

fn reserve_script() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::new(&format!("{COMMON}{RESERVE}")))
}

fn release_script() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::new(&format!("{COMMON}{RELEASE}")))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(MAX_US).min(MAX_US)
}

fn parse_error(what: &'static str) -> RedisError {
    RedisError::from((redis::ErrorKind::Parse, what))
}

/// A slot reserved in Redis, as RESERVE gave it (µs on Redis's clock): what RELEASE needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reservation {
    slot: i64,
    /// The arrival time it set (0: the slot was a hole).
    tat: i64,
    /// The arrival time before it (0: none).
    prev: i64,
}

/// RESERVE's reply.
#[derive(Debug, Clone, Copy)]
struct Answer {
    /// `None`: the budget is full until `slot`.
    reserved: Option<Reservation>,
    /// Redis's now, µs.
    now: i64,
    /// The slot, or (full) when there will be room.
    slot: i64,
    /// The budget's arrival time after the call (0: none).
    tat: i64,
    flags: i64,
    /// The interval and tolerance that the budget held (0: none).
    stored: (i64, i64),
}

impl Answer {
    fn parse(reply: &[i64]) -> RedisResult<Answer> {
        let &[status, now, slot, tat_set, prev, tat, flags, stored, stol] = reply else {
            return Err(parse_error(
                "the pacing script answered with an unexpected reply",
            ));
        };
        Ok(Answer {
            reserved: (status == 0).then_some(Reservation {
                slot,
                tat: tat_set,
                prev,
            }),
            now,
            slot,
            tat,
            flags,
            stored: (stored, stol),
        })
    }

    /// `us` (Redis's clock) on this process's clock: Redis's now is taken as the answer's
    /// arrival (later than it by up to a round trip, so on the slow side).
    fn here(&self, us: i64, arrived: Instant) -> Instant {
        at(us, self.now, arrived)
    }
}

/// `us` on this process's clock, `now_us` being `arrived`.
fn at(us: i64, now_us: i64, arrived: Instant) -> Instant {
    let d = us
        .saturating_sub(now_us)
        .clamp(-(MAX_US as i64), MAX_US as i64);
    let shift = Duration::from_micros(d.unsigned_abs());
    if d >= 0 {
        arrived.checked_add(shift).unwrap_or(arrived)
    } else {
        arrived.checked_sub(shift).unwrap_or(arrived)
    }
}

/// This process's view of its budgets: per key, the arrival time Redis last gave it (to
/// re-seed a budget that vanished), or where the local pacing of an outage has got to.
///
/// Budgets whose arrival time has passed are idle (a fresh view acts the same). A new key
/// sweeps them out when the map has doubled since the last sweep (and holds at least 64),
/// or when a minute has passed since it: a sweep visits at most twice the keys added since
/// the one before (or runs once a minute), so a new key costs amortised constant time, and
/// the map holds at most about twice the keys live at the last sweep. A sweep that leaves
/// the map under a quarter of its capacity gives the rest back to the allocator.
#[derive(Debug, Default)]
struct Views {
    /// By the Redis key's suffix after the pacer's key (`""` unkeyed, `":k"` for `k`).
    map: HashMap<Box<str>, View>,
    /// Sweep when the map reaches this size, or at this time.
    sweep_at: usize,
    swept: Option<Instant>,
}

#[derive(Debug)]
struct View {
    tat: Instant,
    /// When (Redis's clock, µs) Redis said what `tat` (or `local.redis`) holds: answers
    /// handled out of order (they come to different tasks) do not undo a later one.
    as_of: i64,
    /// The local pacing of an outage, if it has moved `tat` since Redis last gave a slot of
    /// this budget (the first reservation after it then starts no earlier than `tat`).
    local: Option<Local>,
    /// This process's callers waiting for slots Redis gave them: the local pacing of an
    /// outage starts no further than that many intervals ahead (and one more), however far
    /// Redis's arrival time was when it last answered (during a storm of reservations given
    /// back, far ahead).
    held: u32,
    /// Slots of the local pacing given back, not yet taken again (by slot: how many). Boxed:
    /// 8 bytes per key instead of an empty map's 24, and almost every view has none.
    #[allow(clippy::box_collection)]
    holes: Option<Box<BTreeMap<Instant, u32>>>,
}

/// What the local pacing of an outage has done to a view.
#[derive(Debug, Clone, Copy)]
struct Local {
    /// The fresh slots it gave that have not been given back: once they all are, the view
    /// is Redis's word again.
    fresh: u32,
    /// Redis's latest word on the budget's arrival time (its answers to give-backs keep
    /// coming during an outage).
    redis: Instant,
}

/// A slot of the local pacing, to give back if unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LocalSlot {
    slot: Instant,
    /// The arrival time it set (`None`: the slot was a hole).
    tat: Option<Instant>,
    /// The arrival time before it.
    prev: Instant,
}

/// A pacer's interval and burst tolerance.
#[derive(Debug, Clone, Copy)]
struct Quota {
    interval: Duration,
    tolerance: Duration,
}

impl Views {
    fn view(&mut self, key: &str, now: Instant) -> &mut View {
        if !self.map.contains_key(key) {
            let len = self.map.len();
            if len >= self.sweep_at.max(MIN_SWEEP)
                || (len >= MIN_SWEEP
                    && self
                        .swept
                        .is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_EVERY))
            {
                self.map.retain(|_, v| v.tat > now || v.held > 0);
                let len = self.map.len();
                self.sweep_at = len.saturating_mul(2);
                self.swept = Some(now);
                if self.map.capacity() > 4 * len.max(MIN_SWEEP) {
                    self.map.shrink_to(2 * len.max(MIN_SWEEP));
                }
            }
            self.map.insert(
                key.into(),
                View {
                    tat: now,
                    as_of: 0,
                    local: None,
                    held: 0,
                    holes: None,
                },
            );
        }
        // Inserted above if missing.
        self.map.get_mut(key).expect("the view was just inserted")
    }

    /// Redis gave a slot of `key`'s budget, whose arrival time was `tat` at `as_of`.
    fn seen(&mut self, key: &str, tat: Instant, as_of: i64, now: Instant) {
        let view = self.view(key, now);
        if as_of >= view.as_of {
            view.tat = tat;
            view.as_of = as_of;
            view.local = None;
            view.holes = None;
        }
    }

    /// Redis took back a slot of `key`'s budget, whose arrival time was `tat` at `as_of`:
    /// noted (for when the local pacing, if it has moved on from what Redis said, is all
    /// given back).
    fn given_back(&mut self, key: &str, tat: Instant, as_of: i64) {
        if let Some(view) = self.map.get_mut(key)
            && as_of >= view.as_of
        {
            view.as_of = as_of;
            match &mut view.local {
                Some(local) => local.redis = tat,
                None => view.tat = tat,
            }
        }
    }

    /// A caller of this process waits for a slot of `key`'s budget that Redis gave it
    /// (`true`), or no longer (`false`).
    fn hold(&mut self, key: &str, waits: bool) {
        if let Some(view) = self.map.get_mut(key) {
            view.held = if waits {
                view.held.saturating_add(1)
            } else {
                view.held.saturating_sub(1)
            };
        }
    }

    /// The earliest start to ask Redis for: where the local pacing left off (less the
    /// burst), if it moved since Redis last answered, and one interval and burst at most. (A
    /// slot later than the budget's arrival time leaves the time between unused, for good if
    /// it is given back while later ones are held: a storm's worth of delays, each up to the
    /// local queue's length, left tens of seconds of the budget unused.)
    fn delay(&self, key: &str, now: Instant, quota: Quota) -> Duration {
        self.map
            .get(key)
            .filter(|v| v.local.is_some())
            .map_or(Duration::ZERO, |v| {
                let earliest = v.tat.checked_sub(quota.tolerance).unwrap_or(v.tat);
                earliest
                    .saturating_duration_since(now)
                    .min(quota.interval.saturating_add(quota.tolerance))
            })
    }

    /// How far ahead of now Redis last said `key`'s arrival time was (to re-seed a budget
    /// that vanished), no further than this process's own callers' slots can reach: what
    /// Redis said during a storm of reservations given back, or what the local pacing of an
    /// outage stacked on it, re-seeded a lost budget minutes ahead.
    fn floor(&self, key: &str, now: Instant, quota: Quota) -> Duration {
        self.map.get(key).map_or(Duration::ZERO, |v| {
            let word = v.local.map_or(v.tat, |local| local.redis);
            let reach = quota
                .interval
                .saturating_mul(v.held.saturating_add(1))
                .saturating_add(quota.tolerance);
            word.saturating_duration_since(now).min(reach)
        })
    }

    /// A slot of the local pacing (GCRA from this process's view; a slot given back first).
    fn reserve(&mut self, key: &str, now: Instant, quota: Quota) -> LocalSlot {
        let view = self.view(key, now);
        if view.local.is_none() {
            // Going on from Redis's word, but no further than this process's own callers'
            // slots can reach.
            let reach = quota.interval.saturating_mul(view.held.saturating_add(1));
            view.tat = view.tat.min(now.checked_add(reach).unwrap_or(now));
        }
        let fresh = view
            .tat
            .checked_sub(quota.tolerance)
            .map_or(now, |t| t.max(now));
        if let Some(holes) = &mut view.holes {
            // Holes in the past are of no use.
            let later = holes.split_off(&now);
            **holes = later;
            if let Some(mut first) = holes.first_entry()
                && *first.key() < fresh
            {
                let slot = *first.key();
                *first.get_mut() -= 1;
                if *first.get() == 0 {
                    first.remove();
                }
                if holes.is_empty() {
                    view.holes = None;
                }
                return LocalSlot {
                    slot,
                    tat: None,
                    prev: view.tat,
                };
            }
            if holes.is_empty() {
                view.holes = None;
            }
        }
        let prev = view.tat;
        let start = view.tat.max(fresh);
        let tat = start.checked_add(quota.interval).unwrap_or(start);
        let local = view.local.get_or_insert(Local {
            fresh: 0,
            redis: prev,
        });
        local.fresh = local.fresh.saturating_add(1);
        view.tat = tat;
        LocalSlot {
            slot: fresh,
            tat: Some(tat),
            prev,
        }
    }

    /// Gives back a slot of the local pacing that will not be used.
    fn give_back(&mut self, key: &str, held: LocalSlot, now: Instant, quota: Quota) {
        if held.slot <= now {
            return;
        }
        let Some(view) = self.map.get_mut(key) else {
            return;
        };
        if held.tat.is_some_and(|tat| tat == view.tat) {
            // The latest: undone, with the holes just before it.
            let mut back = held.prev;
            let mut undone = 1;
            let step = quota.interval.saturating_add(quota.tolerance);
            while let Some(holes) = &mut view.holes
                && let Some(at) = back.checked_sub(step)
                && let Some(n) = holes.get_mut(&at)
            {
                *n -= 1;
                if *n == 0 {
                    holes.remove(&at);
                }
                if holes.is_empty() {
                    view.holes = None;
                }
                back = back.checked_sub(quota.interval).unwrap_or(back);
                undone += 1;
            }
            view.tat = back;
            if let Some(local) = &mut view.local {
                local.fresh = local.fresh.saturating_sub(undone);
                if local.fresh == 0 {
                    // Every slot of the local pacing is back: Redis's word holds again.
                    view.tat = local.redis;
                    view.local = None;
                    view.holes = None;
                }
            }
        } else {
            *view
                .holes
                .get_or_insert_default()
                .entry(held.slot)
                .or_insert(0) += 1;
        }
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

/// Redis's health as a pacer sees it.
#[derive(Debug, Clone, Copy)]
enum Health {
    /// Redis answers (since `since`: a failure of a request sent before says nothing new).
    Up { since: Option<StdInstant> },
    /// An outage that began at `began`, down since `since`: callers go on without Redis and
    /// one every `PROBE_EVERY` asks it.
    Down {
        began: StdInstant,
        since: StdInstant,
        next_probe: StdInstant,
    },
    /// Redis answers again since `since`, after an outage that began at `began`: callers use
    /// it; the outage is over once it has answered for `STEADY` without a failure.
    Back {
        began: StdInstant,
        since: StdInstant,
    },
}

/// What a pacer found in Redis that it had not written: one warning of each kind a minute.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Found {
    Foreign,
    Corrupt,
    Mismatch,
    Lost,
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
    /// The blocking form's own connection (adaptive pacers); dropped after an error and made
    /// again.
    pub(crate) blocking: Mutex<Option<redis::Connection>>,
    /// Whether callers go without Redis (`Health::Down`; the fast path of `health`).
    down: AtomicBool,
    /// Whether `health` is anything but `Up` (the fast path of `answered`).
    unsettled: AtomicBool,
    health: Mutex<Health>,
    /// Wakes the callers waiting for Redis (failing closed) when a probe is answered.
    back: tokio::sync::Notify,
    /// When each kind of [`Found`] was last warned about.
    warned: Mutex<[Option<StdInstant>; 4]>,
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
            unsettled: AtomicBool::new(false),
            health: Mutex::new(Health::Up { since: None }),
            back: tokio::sync::Notify::new(),
            warned: Mutex::new([None; 4]),
        }
    }

    /// Whether callers go without Redis (an outage, until a probe is answered).
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// Whether to ask Redis now: always, except during an outage, where one caller per
    /// `PROBE_EVERY` does (failing closed too: the others wait for its answer).
    pub(crate) fn should_try(&self) -> bool {
        if !self.down.load(Ordering::Acquire) {
            return true;
        }
        let now = StdInstant::now();
        let mut health = lock(&self.health);
        match &mut *health {
            Health::Down { next_probe, .. } if *next_probe > now => false,
            Health::Down { next_probe, .. } => {
                *next_probe = now + PROBE_EVERY;
                true
            }
            _ => true,
        }
    }

    /// How long until the next probe (zero when Redis is not out).
    pub(crate) fn until_probe(&self) -> Duration {
        match *lock(&self.health) {
            Health::Down { next_probe, .. } => {
                next_probe.saturating_duration_since(StdInstant::now())
            }
            _ => Duration::ZERO,
        }
    }

    /// Waits (failing closed, on tokio's clock) until the next probe is due or a probe is
    /// answered.
    pub(crate) async fn wait_for_probe(&self) {
        let back = self.back.notified();
        let mut back = std::pin::pin!(back);
        back.as_mut().enable();
        if !self.is_down() {
            return;
        }
        let wait = self.until_probe().max(Duration::from_millis(1));
        let mut sleep = std::pin::pin!(tokio::time::sleep(wait));
        std::future::poll_fn(|cx| {
            if back.as_mut().poll(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
            sleep.as_mut().poll(cx)
        })
        .await;
    }

    /// The blocking form of [`wait_for_probe`](Link::wait_for_probe): sleeps until the next
    /// probe is due.
    pub(crate) fn wait_for_probe_blocking(&self) {
        std::thread::sleep(self.until_probe().max(Duration::from_millis(1)));
    }

    /// Redis answered a request sent at `asked`: a probe ends the outage's pacing without
    /// Redis; answers for `STEADY` end the outage (one `INFO` line).
    pub(crate) fn answered(&self, asked: StdInstant) {
        if !self.unsettled.load(Ordering::Acquire) {
            return;
        }
        let now = StdInstant::now();
        let mut health = lock(&self.health);
        match *health {
            Health::Up { .. } => {}
            Health::Down { began, since, .. } => {
                if asked >= since {
                    *health = Health::Back { began, since: now };
                    self.down.store(false, Ordering::Release);
                    self.back.notify_waiters();
                }
            }
            Health::Back { began, since } => {
                if now.saturating_duration_since(since) >= STEADY {
                    *health = Health::Up { since: Some(now) };
                    self.unsettled.store(false, Ordering::Release);
                    tracing::info!(
                        target: "backoff",
                        "Redis at {} answers again after {:.1}s; {} `{}` through it",
                        self.client.get_connection_info().addr(),
                        since.saturating_duration_since(began).as_secs_f64(),
                        self.doing.1,
                        self.key,
                    );
                }
            }
        }
    }

    /// Redis did not answer a request sent at `asked`: an outage (one warning for it, however
    /// often Redis answers and fails again before it has answered for `STEADY`).
    pub(crate) fn failed(&self, asked: StdInstant, error: &RedisError) {
        let now = StdInstant::now();
        let mut health = lock(&self.health);
        match *health {
            Health::Up { since } => {
                if since.is_some_and(|since| asked < since) {
                    return;
                }
                *health = Health::Down {
                    began: now,
                    since: now,
                    next_probe: now + PROBE_EVERY,
                };
                self.unsettled.store(true, Ordering::Release);
                self.down.store(true, Ordering::Release);
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
            Health::Back { began, since } => {
                if asked >= since {
                    *health = Health::Down {
                        began,
                        since: now,
                        next_probe: now + PROBE_EVERY,
                    };
                    self.down.store(true, Ordering::Release);
                }
            }
            Health::Down { .. } => {}
        }
    }

    /// Warns about something found in Redis (the message names the key), unless a warning of
    /// the same kind was given within the last minute.
    pub(crate) fn warn_found(&self, found: Found, message: fmt::Arguments<'_>) {
        let now = StdInstant::now();
        {
            let mut warned = lock(&self.warned);
            let last = &mut warned[found as usize];
            if last.is_some_and(|at| now.saturating_duration_since(at) < WARN_EVERY) {
                return;
            }
            *last = Some(now);
        }
        tracing::warn!(target: "backoff", "{message}");
    }

    /// The connection manager, made on first use (it needs a tokio runtime).
    pub(crate) fn manager(&self) -> RedisResult<ConnectionManager> {
        let manager = self.manager.get_or_init(|| {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(self.timeout))
                // No response timeout: the pacer bounds each caller's wait itself, and a reply
                // that comes later is still read, so that its slot can be given back.
                .set_response_timeout(None)
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
    quota: Quota,
    /// This process's view of each budget ([`Views`]), shared with the tasks that give slots
    /// back.
    views: Arc<Mutex<Views>>,
    /// Names this pacer's holes apart from other processes'.
    id: u64,
    /// The thread that makes the blocking calls, started on the first one.
    worker: Mutex<Option<mpsc::Sender<Job>>>,
}

/// What giving a slot back in Redis needs, owned: it runs in a task (or a thread) of its own.
#[derive(Clone)]
struct Giver {
    key: String,
    /// Where the key's suffix (the view's key) starts.
    suffix: usize,
    interval_us: u64,
    tolerance_us: u64,
    id: u64,
    views: Arc<Mutex<Views>>,
}

impl Giver {
    fn call(&self, r: &Reservation) -> redis::ScriptInvocation<'static> {
        let mut call = release_script().key(&self.key);
        call.arg(r.slot)
            .arg(r.tat)
            .arg(r.prev)
            .arg(format!("h{:016x}-{}", self.id, r.slot))
            .arg(self.interval_us)
            .arg(self.tolerance_us);
        call
    }

    /// Notes RELEASE's reply in this process's view.
    fn heed(&self, reply: RedisResult<Vec<i64>>) {
        if let Ok(reply) = reply
            && let &[_, now, tat] = reply.as_slice()
        {
            let here = if tat > 0 {
                at(tat, now, Instant::now())
            } else {
                Instant::now()
            };
            lock(&self.views).given_back(&self.key[self.suffix..], here, now);
        }
    }

    /// Gives `r` back (best effort: one that does not arrive errs on the slow side).
    async fn give_back(self, mut manager: ConnectionManager, r: Reservation) {
        let call = self.call(&r);
        if let Ok(reply) = tokio::time::timeout(LATE_REPLY, call.invoke_async(&mut manager)).await {
            self.heed(reply);
        }
    }

    fn give_back_blocking(&self, con: &mut redis::Connection, r: Reservation) -> RedisResult<()> {
        let reply = self.call(&r).invoke(con);
        let failed = reply.is_err();
        self.heed(reply);
        if failed {
            return Err(parse_error("the give-back failed"));
        }
        Ok(())
    }
}

/// A reservation's answer on its way to the caller. Dropped (the caller cancelled, or its
/// timeout fired) it takes no more and gives back a slot that arrived meanwhile.
struct Pending {
    rx: Option<tokio::sync::oneshot::Receiver<RedisResult<Answer>>>,
    giver: Giver,
    manager: ConnectionManager,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(Ok(Answer {
                reserved: Some(r), ..
            })) = rx.try_recv()
                && let Ok(handle) = tokio::runtime::Handle::try_current()
            {
                handle.spawn(self.giver.clone().give_back(self.manager.clone(), r));
            }
        }
    }
}

/// A caller waiting for a slot reserved in Redis: counted in its view while it waits, and
/// the slot given back if dropped before it comes (the caller was cancelled).
struct Release<'a> {
    pacer: &'a RedisPacer,
    key: &'a str,
    armed: Option<(Giver, ConnectionManager, Reservation)>,
}

impl<'a> Release<'a> {
    fn new(
        pacer: &'a RedisPacer,
        key: &'a str,
        manager: ConnectionManager,
        r: Reservation,
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
struct LocalRelease<'a> {
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

/// A blocking call, made by the pacer's worker thread.
enum Job {
    Reserve {
        call: redis::ScriptInvocation<'static>,
        giver: Giver,
        hand: Arc<Hand>,
    },
    Release {
        giver: Giver,
        r: Reservation,
    },
}

/// A blocking reservation's answer on its way to the caller, who waits the pacer's timeout
/// for it; the worker gives back a slot whose caller has given up.
#[derive(Default)]
struct Hand {
    state: Mutex<Handed>,
    done: Condvar,
}

#[derive(Default)]
enum Handed {
    #[default]
    Waiting,
    Done(RedisResult<Answer>),
    Taken,
    GaveUp,
}

impl Hand {
    /// The worker's side: `Err` with the answer when the caller has given up.
    fn give(&self, answer: RedisResult<Answer>) -> Result<(), RedisResult<Answer>> {
        let mut state = lock(&self.state);
        if matches!(*state, Handed::GaveUp) {
            return Err(answer);
        }
        *state = Handed::Done(answer);
        self.done.notify_all();
        Ok(())
    }

    fn gave_up(&self) -> bool {
        matches!(*lock(&self.state), Handed::GaveUp)
    }

    /// The caller's side: the answer, or a timeout (the worker then gives back what comes).
    fn take(&self, timeout: Duration) -> RedisResult<Answer> {
        let state = lock(&self.state);
        let (mut state, _) = self
            .done
            .wait_timeout_while(state, timeout, |s| matches!(s, Handed::Waiting))
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match std::mem::replace(&mut *state, Handed::Taken) {
            Handed::Done(answer) => answer,
            _ => {
                *state = Handed::GaveUp;
                Err(timed_out())
            }
        }
    }
}

/// The worker thread: makes the blocking calls of one pacer on its own connection (a reply
/// is awaited up to [`LATE_REPLY`], so that a late one's slot goes back), until the pacer is
/// dropped.
fn work(client: Client, timeout: Duration, jobs: mpsc::Receiver<Job>) {
    let mut con: Option<redis::Connection> = None;
    let connected = |con: &mut Option<redis::Connection>| -> RedisResult<()> {
        if con.is_none() {
            let c = client.get_connection_with_timeout(timeout)?;
            c.set_read_timeout(Some(LATE_REPLY))?;
            c.set_write_timeout(Some(timeout))?;
            *con = Some(c);
        }
        Ok(())
    };
    for job in jobs {
        match job {
            Job::Reserve { call, giver, hand } => {
                if hand.gave_up() {
                    continue; // never sent: nothing reserved
                }
                let answer = connected(&mut con).and_then(|()| match con.as_mut() {
                    Some(c) => call
                        .invoke::<Vec<i64>>(c)
                        .and_then(|reply| Answer::parse(&reply)),
                    None => Err(timed_out()),
                });
                if answer.is_err() {
                    con = None;
                }
                if let Err(Ok(Answer {
                    reserved: Some(r), ..
                })) = hand.give(answer)
                    && let Some(c) = con.as_mut()
                    && giver.give_back_blocking(c, r).is_err()
                {
                    con = None;
                }
            }
            Job::Release { giver, r } => {
                if connected(&mut con).is_err() {
                    con = None;
                    continue;
                }
                if let Some(c) = con.as_mut()
                    && giver.give_back_blocking(c, r).is_err()
                {
                    con = None;
                }
            }
        }
    }
}

impl RedisPacer {
    fn new(link: Link, interval: Duration, tolerance: Duration) -> Self {
        RedisPacer {
            link,
            interval_us: micros(interval).max(1),
            tolerance_us: micros(tolerance),
            quota: Quota {
                interval,
                tolerance,
            },
            views: Arc::default(),
            id: rand::rng().random::<u64>(),
            worker: Mutex::new(None),
        }
    }

    fn key_for(&self, key: Option<&str>) -> String {
        match key {
            None => self.link.key.clone(),
            Some(k) => format!("{}:{k}", self.link.key),
        }
    }

    /// The view's key of a Redis key.
    fn suffix<'k>(&self, redis_key: &'k str) -> &'k str {
        &redis_key[self.link.key.len()..]
    }

    fn giver(&self, redis_key: &str) -> Giver {
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
    fn reserve_call(&self, redis_key: &str) -> redis::ScriptInvocation<'static> {
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
    fn heed(&self, redis_key: &str, answer: &Answer, arrived: Instant) {
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
    fn reserve_locally(&self, redis_key: &str) -> LocalSlot {
        let now = Instant::now();
        lock(&self.views).reserve(self.suffix(redis_key), now, self.quota)
    }

    fn give_back_locally(&self, redis_key: &str, held: LocalSlot) {
        let now = Instant::now();
        lock(&self.views).give_back(self.suffix(redis_key), held, now, self.quota);
    }

    /// Reserves a slot in Redis: one round trip, in a task of its own, whose answer the
    /// caller awaits up to the timeout. The task awaits it longer ([`LATE_REPLY`]) and gives
    /// the slot back if the caller is gone by then; so does the caller, should the answer
    /// have come just as it gave up.
    async fn reserve(&self, redis_key: &str) -> RedisResult<(Answer, ConnectionManager)> {
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
    fn send(&self, job: Job) -> RedisResult<()> {
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
    fn reserve_blocking(&self, redis_key: &str) -> RedisResult<Answer> {
        let hand = Arc::new(Hand::default());
        self.send(Job::Reserve {
            call: self.reserve_call(redis_key),
            giver: self.giver(redis_key),
            hand: Arc::clone(&hand),
        })?;
        hand.take(self.link.timeout)
    }

    /// Reserves a slot without waiting for it ([`Pacer::reserve`]): one blocking round trip
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
                            Box::new(RedisHeld(Held::Redis {
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
                        Some(Box::new(RedisHeld(Held::Local { redis_key, held }))),
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
            Held::Local { redis_key, held } => self.give_back_locally(&redis_key, held),
            Held::Redis {
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

pub(crate) fn timed_out() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "no answer within the pacer's timeout",
    ))
}

/// A slot reserved by [`Pacer::reserve`] on a Redis pacer, to give back if unused.
#[derive(Debug)]
pub(crate) struct RedisHeld(Held);

enum Held {
    /// In Redis.
    Redis {
        giver: Giver,
        reservation: Reservation,
    },
    /// In the local pacing of an outage.
    Local { redis_key: String, held: LocalSlot },
}

impl fmt::Debug for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Held::Redis { giver, reservation } => f
                .debug_struct("Redis")
                .field("key", &giver.key)
                .field("reservation", reservation)
                .finish(),
            Held::Local { redis_key, held } => f
                .debug_struct("Local")
                .field("key", redis_key)
                .field("held", held)
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUOTA: Quota = Quota {
        interval: Duration::from_millis(100),
        tolerance: Duration::ZERO,
    };

    /// Slots of the local pacing given back in any order leave the view where it was: the
    /// latest undoes the arrival time and takes the holes just before it along.
    #[test]
    fn local_slots_given_back_in_any_order_leave_the_view_where_it_was() {
        let now = Instant::now();
        let orders: [&[usize]; 4] = [
            &[0, 1, 2, 3, 4, 5],
            &[5, 4, 3, 2, 1, 0],
            &[2, 0, 5, 1, 4, 3],
            &[1, 3, 5, 0, 2, 4],
        ];
        for order in orders {
            let mut views = Views::default();
            let first = views.reserve("", now, QUOTA); // used: slot now
            assert_eq!(first.slot, now);
            let held: Vec<_> = (0..6).map(|_| views.reserve("", now, QUOTA)).collect();
            assert_eq!(held[5].slot, now + 6 * QUOTA.interval);
            for &i in order {
                views.give_back("", held[i], now, QUOTA);
            }
            let view = &views.map[""];
            assert_eq!(view.tat, now + QUOTA.interval, "{order:?}");
            assert!(view.holes.is_none(), "{order:?}");
            // The slot used at `now` is still counted: the next is an interval later.
            assert_eq!(views.reserve("", now, QUOTA).slot, now + QUOTA.interval);
        }
    }

    /// A hole is taken before a fresh slot; one that has passed is not.
    #[test]
    fn holes_go_first_until_they_pass() {
        let now = Instant::now();
        let mut views = Views::default();
        let held: Vec<_> = (0..4).map(|_| views.reserve("", now, QUOTA)).collect();
        views.give_back("", held[1], now, QUOTA);
        views.give_back("", held[2], now, QUOTA);
        assert_eq!(views.reserve("", now, QUOTA).slot, held[1].slot);
        let later = held[2].slot + Duration::from_millis(1);
        assert_eq!(
            views.reserve("", later, QUOTA).slot,
            held[3].slot + QUOTA.interval
        );
    }

    /// Once every slot of the local pacing is back, Redis's word holds again, its latest (the
    /// first reservation after the outage asks for no delay); until then it does not.
    #[test]
    fn local_pacing_given_back_lets_redis_speak_again() {
        let now = Instant::now();
        let mut views = Views::default();
        // Nobody of this process waits for a slot: the local pacing starts an interval away
        // at most, however far Redis's arrival time was.
        views.seen(":a", now + 5 * QUOTA.interval, 1, now);
        assert_eq!(views.reserve(":a", now, QUOTA).slot, now + QUOTA.interval);
        // Four callers wait for Redis's slots: it goes on after them.
        views.seen(":k", now + 5 * QUOTA.interval, 1, now);
        for _ in 0..4 {
            views.hold(":k", true);
        }
        let held = views.reserve(":k", now, QUOTA);
        assert_eq!(held.slot, now + 5 * QUOTA.interval);
        // Where the local pacing left off, an interval at most.
        assert_eq!(views.delay(":k", now, QUOTA), QUOTA.interval);
        // Redis took back slots of this process meanwhile: its budget is free now.
        views.given_back(":k", now, 0);
        assert_eq!(
            views.map[":k"].local.unwrap().redis,
            now + 5 * QUOTA.interval,
            "older"
        );
        views.given_back(":k", now, 2);
        assert_eq!(
            views.map[":k"].tat,
            now + 6 * QUOTA.interval,
            "local pacing moved on"
        );
        views.give_back(":k", held, now, QUOTA);
        assert_eq!(views.delay(":k", now, QUOTA), Duration::ZERO);
        assert_eq!(views.floor(":k", now, QUOTA), Duration::ZERO);
        assert_eq!(views.reserve(":k", now, QUOTA).slot, now);
    }

    /// A vanished budget is re-seeded from Redis's last word, not from what the local pacing
    /// stacked on it, and no further than this process's waiting callers reach.
    #[test]
    fn the_floor_reaches_no_further_than_the_callers_waiting() {
        let now = Instant::now();
        let mut views = Views::default();
        views.seen(":k", now + 50 * QUOTA.interval, 1, now);
        assert_eq!(views.floor(":k", now, QUOTA), QUOTA.interval);
        for _ in 0..15 {
            views.hold(":k", true);
        }
        assert_eq!(views.floor(":k", now, QUOTA), 16 * QUOTA.interval);
        views.seen(":k", now + 3 * QUOTA.interval, 2, now);
        for _ in 0..100 {
            views.reserve(":k", now, QUOTA);
        }
        assert_eq!(views.floor(":k", now, QUOTA), 3 * QUOTA.interval);
    }

    /// Idle views are swept when the map doubles, or a minute after the last sweep; the map
    /// stays within about twice the live keys.
    #[test]
    fn idle_views_are_swept() {
        let now = Instant::now();
        let mut views = Views::default();
        for i in 0..10_000 {
            let at = now + Duration::from_millis(i);
            views.reserve(&format!(":{i}"), at, QUOTA); // live for 100 ms
        }
        assert!(
            views.map.len() <= 2 * 101 + MIN_SWEEP,
            "{}",
            views.map.len()
        );
        let later = now + Duration::from_secs(70);
        views.reserve(":new", later, QUOTA);
        assert_eq!(views.map.len(), 1);
        assert!(
            views.map.capacity() <= 4 * MIN_SWEEP,
            "{}",
            views.map.capacity()
        );
    }

    /// Late replies, replies that are not the script's, and give-back replies never panic.
    #[test]
    fn odd_replies_are_errors() {
        assert!(Answer::parse(&[]).is_err());
        assert!(Answer::parse(&[0, 1, 2]).is_err());
        let a = Answer::parse(&[1, 10, 20, 0, 0, 0, 0, 0, 0]).unwrap();
        assert!(a.reserved.is_none());
        let arrived = Instant::now();
        assert_eq!(
            a.here(i64::MAX, arrived),
            arrived + Duration::from_micros(MAX_US)
        );
        assert_eq!(
            a.here(i64::MIN, arrived),
            arrived
                .checked_sub(Duration::from_micros(MAX_US))
                .unwrap_or(arrived)
        );
    }
}
