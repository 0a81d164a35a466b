//! The stream every worker of an adaptive Redis budget appends its observations to: the Lua
//! scripts that read, trim and write it, and how an observation is encoded in an entry.

use std::sync::OnceLock;
use std::time::Duration;

use redis::{RedisError, RedisResult, Script};

use crate::hints::{Feedback, Hints, Quota};

/// Observations a stream keeps (about: trimmed with `MAXLEN ~`).
pub(super) const KEEP_OBSERVATIONS: usize = 10_000;
/// Observations a worker that joins replays.
pub(super) const JOIN: usize = 1_000;
/// The most observations one reply carries (the rest come with the next).
pub(super) const BATCH: usize = 512;
/// Rounds of replay before a head takes its slot with what it has learned.
pub(super) const MAX_SYNC_ROUNDS: u32 = 2;
/// How long a stream outlives its last observation, ms.
pub(super) const STREAM_TTL_MS: u64 = 3_600_000;
/// The largest interval or delay handed to the scripts, µs (as the fixed Redis pacer).
pub(super) const MAX_US: u64 = 10_000_000_000_000;
/// `repair` replaces what no pacer wrote: a stream key or a `last` key of another type, a
/// `last` that is not a number or lies ahead of Redis's now by more than a second (every
/// writer sets it to its now; so did Redis's clock, before a step back). Returns flags: 1
/// (another type replaced), 2 (a bad `last` dropped).
///
/// `entries` returns the entries of the stream KEYS[1] after the cursor ARGV[1] (`''`: the
/// last ARGV[2]), flattened into `out` as id, encoded observation.
pub(super) const ENTRIES: &str = r"
local function kind(key)
  local t = redis.call('TYPE', key)
  if type(t) == 'table' then t = t['ok'] end
  return t
end
local function repair(stream, last, now)
  local flags = 0
  local ks = kind(stream)
  if ks ~= 'stream' and ks ~= 'none' then
    redis.call('DEL', stream)
    flags = 1
  end
  if last then
    local kl = kind(last)
    if kl ~= 'string' and kl ~= 'none' then
      redis.call('DEL', last)
      flags = 1
    elseif kl == 'string' then
      local v = tonumber(redis.call('GET', last))
      if not v or v > now + 1000000 then
        redis.call('DEL', last)
        if flags == 0 then flags = 2 end
      end
    end
  end
  return flags
end
local function entries(stream, cursor, count, out)
  local es
  if cursor == '' then
    es = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', count)
    for i = #es, 1, -1 do
      out[#out + 1] = es[i][1]
      out[#out + 1] = es[i][2][2]
    end
    return
  end
  es = redis.call('XRANGE', stream, cursor, '+', 'COUNT', count + 1)
  for _, e in ipairs(es) do
    if e[1] ~= cursor and #out < 2 * count + 2 then
      out[#out + 1] = e[1]
      out[#out + 1] = e[2][2]
    end
  end
end
";

/// Takes the next slot if it has come and nothing is left to replay. KEYS: the stream,
/// `last`. ARGV: cursor, batch, interval (µs, 0: none), delay (µs: the earliest start from
/// now), force (1: take even with entries to replay). Returns {wait µs (0: taken; -1: replay
/// first), Redis now µs, repair flags, id, observation, ...}.
pub(super) const TAKE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function n(x) return string.format('%.0f', x) end
local out = {'', n(now), tostring(repair(KEYS[1], KEYS[2], now))}
entries(KEYS[1], ARGV[1], tonumber(ARGV[2]), out)
if #out > 3 and ARGV[5] ~= '1' then
  out[1] = '-1'
  return out
end
local interval = tonumber(ARGV[3])
local slot = now + tonumber(ARGV[4])
local last = tonumber(redis.call('GET', KEYS[2]))
if last and interval > 0 then slot = math.max(slot, last + interval) end
if slot <= now then
  redis.call('SET', KEYS[2], n(now), 'PX', n(math.floor(interval / 1000) + 1000))
  out[1] = '0'
else
  out[1] = n(slot - now)
end
return out
";

/// Appends an observation, then returns what the worker has not replayed (the new one
/// included). KEYS: the stream. ARGV: cursor, batch, the observation, its age (µs from the
/// attempt's start to now), the stream's length kept, its expiry (ms). Returns {'', Redis now
/// µs, repair flags, id, observation, ...}.
pub(super) const OBSERVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function n(x) return string.format('%.0f', x) end
local flags = repair(KEYS[1], nil, now)
local sent = now - tonumber(ARGV[4])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', 'o', n(sent) .. ' ' .. n(now) .. ' ' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
local out = {'', n(now), tostring(flags)}
entries(KEYS[1], ARGV[1], tonumber(ARGV[2]), out)
return out
";

/// Moves `last` up to Redis's now (the taker has started by now). KEYS: `last`. ARGV: its
/// expiry (ms).
pub(super) const TOUCH: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local kind = redis.call('TYPE', KEYS[1])
if type(kind) == 'table' then kind = kind['ok'] end
if kind ~= 'string' then return 0 end
local last = tonumber(redis.call('GET', KEYS[1]))
if not last or last < now then
  redis.call('SET', KEYS[1], string.format('%.0f', now), 'PX', ARGV[1])
end
return 0
";

pub(super) fn touch_script() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::new(TOUCH))
}

pub(super) fn take_script() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::new(&format!("{ENTRIES}{TAKE}")))
}

pub(super) fn observe_script() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::new(&format!("{ENTRIES}{OBSERVE}")))
}

/// A script's reply: the wait (µs; `None`: replay first), Redis's now (µs), what the script
/// repaired, the entries.
pub(super) struct Reply {
    pub(super) wait: Option<u64>,
    pub(super) now: i64,
    pub(super) repaired: u8,
    pub(super) entries: Vec<(StreamId, Observation)>,
}

impl Reply {
    pub(super) fn parse(reply: Vec<String>) -> RedisResult<Reply> {
        let bad = || RedisError::from((redis::ErrorKind::Parse, "unexpected script reply"));
        let (head, rest) = reply.split_at_checked(3).ok_or_else(bad)?;
        let wait = match head[0].as_str() {
            "-1" => None,
            "" => Some(0),
            w => Some(w.parse().map_err(|_| bad())?),
        };
        let now = head[1].parse().map_err(|_| bad())?;
        let repaired = head[2].parse().map_err(|_| bad())?;
        let entries = rest
            .chunks_exact(2)
            // A malformed entry (another version, junk written by hand) is skipped.
            .filter_map(|pair| Some((StreamId::parse(&pair[0])?, Observation::decode(&pair[1])?)))
            .collect();
        Ok(Reply {
            wait,
            now,
            repaired,
            entries,
        })
    }
}

/// A stream entry's id, `<ms>-<seq>`, ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct StreamId(u64, u64);

impl StreamId {
    pub(super) fn parse(s: &str) -> Option<StreamId> {
        let (ms, seq) = s.split_once('-')?;
        Some(StreamId(ms.parse().ok()?, seq.parse().ok()?))
    }

    pub(super) fn render(self) -> String {
        format!("{}-{}", self.0, self.1)
    }
}

/// One observation as the stream holds it: times on Redis's clock (µs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Observation {
    pub(super) sent: i64,
    pub(super) now: i64,
    pub(super) feedback: Feedback,
}

/// `throttled retry_after limit_count limit_window remaining reset`, durations in µs, `-` for
/// none (the script prepends `sent now`).
pub(super) fn encode(feedback: &Feedback) -> String {
    pub(super) fn us(d: Option<Duration>) -> String {
        d.map_or_else(
            || "-".into(),
            |d| d.as_micros().min(u128::from(MAX_US)).to_string(),
        )
    }
    pub(super) fn num(n: Option<u64>) -> String {
        n.map_or_else(|| "-".into(), |n| n.to_string())
    }
    let h = &feedback.hints;
    format!(
        "{} {} {} {} {} {}",
        u8::from(feedback.throttled),
        us(h.retry_after),
        num(h.limit.map(|q| q.count)),
        us(h.limit.and_then(|q| q.window)),
        num(h.remaining),
        us(h.reset),
    )
}

impl Observation {
    pub(super) fn decode(s: &str) -> Option<Observation> {
        fn opt<T: std::str::FromStr>(s: &str) -> Option<Option<T>> {
            if s == "-" {
                Some(None)
            } else {
                s.parse().ok().map(Some)
            }
        }
        let us = |s: &str| opt::<u64>(s).map(|o| o.map(Duration::from_micros));
        let f: Vec<&str> = s.split_ascii_whitespace().collect();
        let [
            sent,
            now,
            throttled,
            retry_after,
            count,
            window,
            remaining,
            reset,
        ] = f[..]
        else {
            return None;
        };
        let limit = opt::<u64>(count)?.map(|count| Quota {
            count,
            window: us(window).flatten(),
        });
        Some(Observation {
            sent: sent.parse().ok()?,
            now: now.parse().ok()?,
            feedback: Feedback {
                throttled: throttled == "1",
                hints: Hints {
                    limit,
                    remaining: opt(remaining)?,
                    reset: us(reset)?,
                    retry_after: us(retry_after)?,
                },
            },
        })
    }
}

pub(super) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(MAX_US).min(MAX_US)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_round_trip_through_their_encoding() {
        let full = Feedback {
            throttled: true,
            hints: Hints {
                limit: Some(Quota {
                    count: 100,
                    window: Some(Duration::from_secs(60)),
                }),
                remaining: Some(0),
                reset: Some(Duration::from_millis(1500)),
                retry_after: Some(Duration::from_secs(2)),
            },
        };
        for feedback in [Feedback::accepted(), Feedback::throttled(), full] {
            let line = format!("10 20 {}", encode(&feedback));
            let o = Observation::decode(&line).unwrap();
            assert_eq!((o.sent, o.now), (10, 20));
            assert_eq!(o.feedback, feedback);
        }
        for junk in [
            "",
            "1 2 3",
            "a 2 0 - - - - -",
            "1 2 0 x - - - -",
            "1 2 0 - - - - - 9",
        ] {
            assert_eq!(Observation::decode(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn stream_ids_order_as_redis_orders_them() {
        let a = StreamId::parse("1700000000000-2").unwrap();
        let b = StreamId::parse("1700000000000-10").unwrap();
        let c = StreamId::parse("1700000000001-0").unwrap();
        assert!(a < b && b < c);
        assert_eq!(StreamId::parse(&b.render()), Some(b));
        assert_eq!(StreamId::parse("12"), None);
    }
}
