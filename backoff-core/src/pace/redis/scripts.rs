//! The Lua scripts of the fixed-rate Redis pacer (RESERVE, RELEASE), run by their SHA, and
//! what they answer.

use std::sync::OnceLock;
use std::time::Duration;

use redis::{RedisError, RedisResult, Script};

type Instant = tokio::time::Instant;

/// The largest interval or burst tolerance handed to the script, in µs (about 115 days):
/// times stay exact as Lua numbers (doubles) and expiry times stay in Redis's range. Scores
/// up to it are settings (`iv`, `tol`), above it times.
pub(super) const MAX_US: u64 = 10_000_000_000_000;

/// What a reserve reply says the script found (bits of its `flags`).
pub(super) const FOREIGN: i64 = 1;
pub(super) const CORRUPT: i64 = 2;
pub(super) const MISMATCH: i64 = 4;
pub(super) const LOST: i64 = 8;

/// Lua shared by both scripts. `collapse` drops the holes that end the schedule below the
/// arrival time `back` (each the slot of the reservation that moved it there: `back` less
/// one interval and the burst tolerance), at most `most`, and returns the arrival time
/// without them: as if those reservations had never been made.
pub(super) const COMMON: &str = r"
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
pub(super) const RESERVE: &str = r"
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
pub(super) const RELEASE: &str = r"
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

pub(super) fn reserve_script() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::new(&format!("{COMMON}{RESERVE}")))
}

pub(super) fn release_script() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::new(&format!("{COMMON}{RELEASE}")))
}

pub(super) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(MAX_US).min(MAX_US)
}

pub(super) fn parse_error(what: &'static str) -> RedisError {
    RedisError::from((redis::ErrorKind::Parse, what))
}

/// A slot reserved in Redis, as RESERVE gave it (µs on Redis's clock): what RELEASE needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Booking {
    pub(super) slot: i64,
    /// The arrival time it set (0: the slot was a hole).
    pub(super) tat: i64,
    /// The arrival time before it (0: none).
    pub(super) prev: i64,
}

/// RESERVE's reply.
#[derive(Debug, Clone, Copy)]
pub(super) struct Answer {
    /// `None`: the budget is full until `slot`.
    pub(super) reserved: Option<Booking>,
    /// Redis's now, µs.
    pub(super) now: i64,
    /// The slot, or (full) when there will be room.
    pub(super) slot: i64,
    /// The budget's arrival time after the call (0: none).
    pub(super) tat: i64,
    pub(super) flags: i64,
    /// The interval and tolerance that the budget held (0: none).
    pub(super) stored: (i64, i64),
}

impl Answer {
    pub(super) fn parse(reply: &[i64]) -> RedisResult<Answer> {
        let &[status, now, slot, tat_set, prev, tat, flags, stored, stol] = reply else {
            return Err(parse_error(
                "the pacing script answered with an unexpected reply",
            ));
        };
        Ok(Answer {
            reserved: (status == 0).then_some(Booking {
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
    pub(super) fn here(&self, us: i64, arrived: Instant) -> Instant {
        at(us, self.now, arrived)
    }
}

/// `us` on this process's clock, `now_us` being `arrived`.
pub(super) fn at(us: i64, now_us: i64, arrived: Instant) -> Instant {
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

#[cfg(test)]
mod tests {
    use super::*;

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
