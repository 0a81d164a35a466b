//! The rate limiter the test doubles share: the stand-in API's limit (`backoff-standin`), the
//! simulated servers of backoff-core's adaptive tests and the facade's. One GCRA bucket
//! ([`Bucket`]) with a burst and a rate that can follow a schedule ([`RateSchedule`]), what it
//! decided for each request ([`Decision`]) and the rate-limit fields that describe it
//! ([`RateHeaders`], [`Decision::fields`]). Also the rule for tests that need a server the
//! machine may lack ([`services`]: skip outside CI, fail under it).
//!
//! Std only, on [`std::time::Instant`]: a test on tokio's paused clock passes
//! `tokio::time::Instant::into_std()`, which keeps the paused time. The arithmetic is in whole
//! nanoseconds, so a request that arrives at the instant the bucket allows is let through:
//! on a paused clock the tests meet that instant exactly.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

pub mod services;

/// Which rate-limit fields every answer that passed the token bucket carries (`202`, `429`, and
/// the `422` of a reused key alike): `--rate-headers off|ietf|x`.
///
/// With `Ietf` (the IETF httpapi draft's current form, draft-ietf-httpapi-ratelimit-headers-08
/// to -11), at 1 request/s, burst 1, just after a request was let through:
///
/// ```text
/// RateLimit-Policy: "default";q=1;w=1
/// RateLimit: "default";r=0;t=1
/// ```
///
/// With `X`:
///
/// ```text
/// X-RateLimit-Limit: 1
/// X-RateLimit-Remaining: 0
/// X-RateLimit-Reset: 1
/// ```
///
/// The values, for the rate in force when the request arrived:
/// - the quota `q` (also `X-RateLimit-Limit`) per window `w` seconds states the sustained
///   rate: see [`quota`] (2/s is `q=2;w=1`, 0.5/s is `q=1;w=2`). The burst is not stated.
/// - `r` (`X-RateLimit-Remaining`): the whole tokens left in the bucket once this request
///   took its own.
/// - `t` (`X-RateLimit-Reset`): the seconds until the bucket holds one more whole token
///   (until `r` grows by one), rounded up: on a `429` the same as `Retry-After`. Always
///   delay-seconds, never a timestamp; at least 1. With a schedule it counts the rate
///   changes to come.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RateHeaders {
    /// No rate-limit fields (the default): the client learns from 429s and `Retry-After` alone.
    #[default]
    Off,
    /// `RateLimit-Policy` and `RateLimit`.
    Ietf,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`.
    X,
}

impl FromStr for RateHeaders {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "off" => Ok(RateHeaders::Off),
            "ietf" => Ok(RateHeaders::Ietf),
            "x" => Ok(RateHeaders::X),
            _ => Err(format!("rate headers {text:?}: expected off, ietf or x")),
        }
    }
}

impl fmt::Display for RateHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RateHeaders::Off => "off",
            RateHeaders::Ietf => "ietf",
            RateHeaders::X => "x",
        })
    }
}

/// One step of a [`RateSchedule`]: from `after` past the first request on, `rate` requests/s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateChange {
    /// Since the first message request the stand-in received.
    pub after: Duration,
    /// Requests per second from then on.
    pub rate: f64,
}

/// When the limit changes: `--rate-schedule T:RATE,...`, e.g. `20:1` (1 request/s from 20 s
/// after the first request on) or `10:2,30:0.5`. The burst stays.
///
/// The bucket keeps its tokens across a change and refills at the old rate up to the instant
/// of the change and at the new one after it: no free burst when the rate rises, no debt when
/// it falls.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateSchedule {
    changes: Vec<RateChange>,
}

impl RateSchedule {
    /// No change: the rate stays.
    pub fn none() -> Self {
        RateSchedule::default()
    }

    /// Changes in time order (strictly increasing `after`), each rate positive and finite.
    pub fn new(changes: Vec<RateChange>) -> Result<Self, String> {
        for (i, c) in changes.iter().enumerate() {
            if !(c.rate > 0.0 && c.rate.is_finite()) {
                return Err(format!(
                    "rate schedule: rate {} at {} s must be a positive number",
                    c.rate,
                    c.after.as_secs_f64()
                ));
            }
            if i > 0 && c.after <= changes[i - 1].after {
                return Err(format!(
                    "rate schedule: {} s is not after {} s: give the changes in time order",
                    c.after.as_secs_f64(),
                    changes[i - 1].after.as_secs_f64()
                ));
            }
        }
        Ok(RateSchedule { changes })
    }

    /// The changes, in time order.
    pub fn changes(&self) -> &[RateChange] {
        &self.changes
    }

    /// Whether the rate never changes.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

impl FromStr for RateSchedule {
    type Err = String;

    /// `T:RATE,...`: `T` seconds (a decimal allowed) after the first request, `RATE`
    /// requests/s; in time order.
    fn from_str(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err("rate schedule is empty: expected T:RATE,..., e.g. 20:1".to_owned());
        }
        let changes = text
            .split(',')
            .map(|entry| {
                let bad = |why: String| format!("rate schedule entry {entry:?}: {why}");
                let (t, rate) = entry
                    .split_once(':')
                    .ok_or_else(|| bad("expected T:RATE, e.g. 20:1".to_owned()))?;
                let secs: f64 = t
                    .trim()
                    .parse()
                    .map_err(|e| bad(format!("{t:?} is not seconds: {e}")))?;
                let after = Duration::try_from_secs_f64(secs)
                    .map_err(|e| bad(format!("{t:?} is not seconds: {e}")))?;
                let rate: f64 = rate
                    .trim()
                    .parse()
                    .map_err(|e| bad(format!("{rate:?} is not a rate: {e}")))?;
                Ok(RateChange { after, rate })
            })
            .collect::<Result<Vec<_>, String>>()?;
        RateSchedule::new(changes)
    }
}

impl fmt::Display for RateSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.changes.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}:{}", c.after.as_secs_f64(), c.rate)?;
        }
        Ok(())
    }
}

/// The quota stated for `rate` requests/s: `(q, w)`, `q` requests per `w` seconds, with the
/// smallest whole window from 1 s to an hour in which a whole quota states the rate exactly
/// (to 1 part in 10^9): 2/s is `(2, 1)`, 0.5/s `(1, 2)`, 0.3/s `(3, 10)`, 1.25/s `(5, 4)`.
/// A rate no such window fits is rounded: `q` the nearest whole number over an hour, or for
/// rates under one an hour, `(1, w)` with `w` the nearest whole number of seconds per request.
pub fn quota(rate: f64) -> (u64, u64) {
    if !(rate > 0.0 && rate.is_finite()) {
        return (0, 1);
    }
    for w in 1..=3600u64 {
        let exact = rate * w as f64;
        let q = exact.round();
        if q >= 1.0 && (exact - q).abs() <= 1e-9 * exact {
            return (q as u64, w);
        }
    }
    let per_hour = rate * 3600.0;
    if per_hour >= 1.0 {
        (per_hour.round() as u64, 3600)
    } else {
        (1, (1.0 / rate).round() as u64)
    }
}

/// What the bucket decided for one request, and its state just after.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// Let through (else answered 429).
    pub admitted: bool,
    /// The rate in force when it arrived.
    pub rate: f64,
    /// Whole tokens left.
    pub remaining: u64,
    /// From its arrival until the bucket holds one more whole token (on a 429: until a
    /// request would be let through, what `Retry-After` says).
    pub next_token: Duration,
    /// Since the first request.
    pub since_first: Duration,
}

/// Whole seconds, rounded up (noise under a microsecond ignored: an interval of 1/3 s is
/// 333 333 333 ns, so three of them fall a nanosecond short of a second), at least 1: what
/// `Retry-After` and the `t` of the rate-limit fields say for a wait.
pub fn ceil_secs(d: Duration) -> u64 {
    let d = d.saturating_sub(Duration::from_micros(1));
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

impl Decision {
    /// The fields `mode` asks for, as `(name, value)` with the name in lower case (as
    /// `http::HeaderName::from_static` takes it).
    pub fn fields(&self, mode: RateHeaders) -> Vec<(&'static str, String)> {
        let (q, w) = quota(self.rate);
        let (r, t) = (self.remaining, ceil_secs(self.next_token));
        match mode {
            RateHeaders::Off => Vec::new(),
            RateHeaders::Ietf => vec![
                ("ratelimit-policy", format!("\"default\";q={q};w={w}")),
                ("ratelimit", format!("\"default\";r={r};t={t}")),
            ],
            RateHeaders::X => vec![
                ("x-ratelimit-limit", q.to_string()),
                ("x-ratelimit-remaining", r.to_string()),
                ("x-ratelimit-reset", t.to_string()),
            ],
        }
    }
}

/// `1 / rate` seconds (`Duration::MAX` for a rate too small to say).
fn interval(rate: f64) -> Duration {
    Duration::try_from_secs_f64(1.0 / rate).unwrap_or(Duration::MAX)
}

/// `d` tokens' worth of time at interval `from`, restated at interval `to`: `d * to / from`.
fn rescale(d: Duration, from: Duration, to: Duration) -> Duration {
    let nanos = d.as_nanos() * to.as_nanos() / from.as_nanos().max(1);
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    Duration::new(secs, (nanos % 1_000_000_000) as u32)
}

/// A GCRA bucket `burst` deep (a token bucket kept as the instant it is full again), refilled
/// at a rate that follows a schedule counted from the first request. Full at the start.
///
/// Across a change of rate the bucket keeps its tokens: it refills at the old rate up to the
/// instant of the change and at the new one after it, so no free burst when the rate rises
/// and no debt when it falls.
#[derive(Clone, Debug)]
pub struct Bucket {
    rate: f64,
    /// Between two tokens at `rate`.
    interval: Duration,
    burst: u32,
    /// The theoretical arrival time: when the bucket is full again (`None`: full).
    tat: Option<Instant>,
    /// The first request's arrival: the origin of the schedule.
    origin: Option<Instant>,
    /// The latest arrival taken: the bucket's state is as of then.
    last: Option<Instant>,
    schedule: Vec<RateChange>,
    /// The first change not yet applied.
    next: usize,
}

impl Bucket {
    /// Full, at `rate` requests/s (positive and finite), `burst` deep (at least 1), the rate
    /// following `schedule` from the first request on.
    pub fn new(rate: f64, burst: u32, schedule: &RateSchedule) -> Bucket {
        Bucket {
            rate,
            interval: interval(rate),
            burst: burst.max(1),
            tat: None,
            origin: None,
            last: None,
            schedule: schedule.changes.clone(),
            next: 0,
        }
    }

    /// A bucket from `(seconds after the first request, rate)` steps, the first one's rate
    /// from the start (whatever its time): `&[(0, 2.0), (20, 1.0)]` is 2/s, then 1/s from 20 s
    /// on.
    pub fn stepped(steps: &[(u64, f64)], burst: u32) -> Bucket {
        let (&(_, rate), rest) = steps.split_first().expect("at least one step");
        let changes = rest
            .iter()
            .map(|&(after, rate)| RateChange {
                after: Duration::from_secs(after),
                rate,
            })
            .collect();
        let schedule = RateSchedule::new(changes).expect("steps in time order, rates positive");
        Bucket::new(rate, burst, &schedule)
    }

    /// Notes a request's arrival: the first one starts the schedule.
    pub fn arrived(&mut self, at: Instant) {
        if self.origin.is_none() {
            self.origin = Some(at);
        }
    }

    /// When change `i` takes effect; `None` when there is none, or it is too far to tell.
    fn change_at(&self, i: usize) -> Option<Instant> {
        let change = self.schedule.get(i)?;
        self.origin?.checked_add(change.after)
    }

    /// The rate of change `self.next` from `at` (its instant) on: what is still owed at the
    /// old rate is owed at the new one.
    fn change(&mut self, at: Instant) {
        let rate = self.schedule[self.next].rate;
        let interval = interval(rate);
        if let Some(tat) = self.tat.filter(|tat| *tat > at) {
            let owed = rescale(tat - at, self.interval, interval);
            self.tat = at.checked_add(owed);
        }
        (self.rate, self.interval) = (rate, interval);
        self.next += 1;
    }

    /// Applies the changes due by `at`.
    fn advance(&mut self, at: Instant) {
        while let Some(change) = self.change_at(self.next).filter(|c| *c <= at) {
            self.change(change);
        }
    }

    /// The tokens missing from a full bucket at `at`, rounded up.
    fn missing(&self, at: Instant) -> u64 {
        let owed = self
            .tat
            .map_or(Duration::ZERO, |tat| tat.saturating_duration_since(at));
        owed.as_nanos().div_ceil(self.interval.as_nanos().max(1)) as u64
    }

    /// From `at` until the bucket is `missing` tokens short of full, rates to come included.
    fn until_missing(&self, at: Instant, missing: u64) -> Duration {
        let mut walk = self.clone();
        loop {
            let Some(tat) = walk.tat else {
                return Duration::ZERO;
            };
            let short = walk
                .interval
                .saturating_mul(missing.min(u32::MAX.into()) as u32);
            let then = tat.checked_sub(short).unwrap_or(at);
            match walk.change_at(walk.next) {
                Some(change) if change < then => walk.change(change),
                _ => return then.saturating_duration_since(at),
            }
        }
    }

    /// Takes a token for a request that arrived `at`, if there is one. (Requests handled out
    /// of their order of arrival refill nothing for the earlier one: it finds the bucket as the
    /// latest arrival left it.)
    pub fn take(&mut self, at: Instant) -> Decision {
        self.arrived(at);
        let now = self.last.map_or(at, |last| last.max(at));
        self.last = Some(now);
        self.advance(now);
        let tat = self.tat.map_or(now, |tat| tat.max(now));
        let tolerance = self.interval.saturating_mul(self.burst - 1);
        let admitted = tat.saturating_duration_since(now) <= tolerance;
        if admitted {
            self.tat = Some(tat.checked_add(self.interval).unwrap_or(tat));
        }
        let missing = self.missing(now).min(self.burst.into());
        let next_token = if missing == 0 {
            self.interval
        } else {
            self.until_missing(now, missing - 1)
        };
        let origin = self.origin.unwrap_or(at);
        Decision {
            admitted,
            rate: self.rate,
            remaining: u64::from(self.burst) - missing,
            next_token: next_token.saturating_add(now.saturating_duration_since(at)),
            since_first: at.saturating_duration_since(origin),
        }
    }
}

/// When a client that knew the limit would send its `n`-th request (`n` from 1), counted from
/// its first: each one at the first instant the bucket lets it through.
pub fn ideal(mut bucket: Bucket, n: u32) -> Duration {
    let start = Instant::now();
    let mut at = start;
    for k in 1..n {
        let d = bucket.take(at);
        debug_assert!(d.admitted, "request {k} of the ideal client refused");
        if d.remaining == 0 {
            at += d.next_token;
        }
    }
    at - start
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    /// Equal to a microsecond.
    fn close(a: Duration, b: Duration) {
        assert!(a.abs_diff(b) < Duration::from_micros(1), "{a:?} != {b:?}");
    }

    fn schedule(text: &str) -> RateSchedule {
        text.parse().unwrap()
    }

    #[test]
    fn quotas() {
        assert_eq!(quota(1.0), (1, 1));
        assert_eq!(quota(2.0), (2, 1));
        assert_eq!(quota(0.5), (1, 2));
        assert_eq!(quota(0.3), (3, 10));
        assert_eq!(quota(1.25), (5, 4));
        assert_eq!(quota(1.0 / 3.0), (1, 3));
        assert_eq!(quota(1000.0), (1000, 1));
        assert_eq!(quota(0.001), (1, 1000));
        assert_eq!(quota(0.0001), (1, 10000)); // no window up to an hour fits
        assert_eq!(quota(1.0 / 7000.0), (1, 7000));
        assert_eq!(quota(1.0 + 1e-7), (3600, 3600));
        assert_eq!(quota(f64::NAN), (0, 1));
    }

    #[test]
    fn schedules_parse() {
        let s = schedule(" 20:1 , 40.5:0.5");
        assert_eq!(
            s.changes(),
            [
                RateChange {
                    after: Duration::from_secs(20),
                    rate: 1.0
                },
                RateChange {
                    after: MS(40_500),
                    rate: 0.5
                },
            ]
        );
        assert_eq!(s.to_string(), "20:1,40.5:0.5");
        assert_eq!(schedule("0:3").changes()[0].after, Duration::ZERO);
        for junk in [
            "",
            " ",
            "20",
            "20:",
            ":1",
            "x:1",
            "20:y",
            "20:0",
            "20:-1",
            "-1:1",
            "20:inf",
            "20:NaN",
            "nan:1",
            "1e30:1",
            "20:1,10:2",
            "20:1,20:2",
            "20:1,",
            "20:1;30:2",
        ] {
            assert!(junk.parse::<RateSchedule>().is_err(), "{junk:?} parsed");
        }
        assert_eq!("ietf".parse(), Ok(RateHeaders::Ietf));
        assert_eq!("x".parse(), Ok(RateHeaders::X));
        assert_eq!("off".parse(), Ok(RateHeaders::Off));
        assert!("X-RateLimit".parse::<RateHeaders>().is_err());
    }

    #[test]
    fn one_per_second_burst_one() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1.0, 1, &RateSchedule::none());
        let d = b.take(t0);
        assert!(d.admitted);
        assert_eq!((d.remaining, d.next_token), (0, Duration::from_secs(1)));
        let d = b.take(t0 + MS(250));
        assert!(!d.admitted);
        assert_eq!((d.remaining, d.next_token), (0, MS(750)));
        assert_eq!(d.since_first, MS(250));
        assert!(b.take(t0 + MS(1000)).admitted);
    }

    /// Burst 3 at 2/s: `r` counts whole tokens, `t` the time to the next one.
    #[test]
    fn burst_counts_whole_tokens() {
        let t0 = Instant::now();
        let mut b = Bucket::new(2.0, 3, &RateSchedule::none());
        let d = b.take(t0);
        assert_eq!((d.remaining, d.next_token), (2, MS(500)));
        let d = b.take(t0 + MS(100)); // 2.2 tokens, 1.2 left
        assert_eq!(d.remaining, 1);
        close(d.next_token, MS(400));
        let fields = d.fields(RateHeaders::Ietf);
        assert_eq!(fields[0].1, r#""default";q=2;w=1"#);
        assert_eq!(fields[1].1, r#""default";r=1;t=1"#);
    }

    /// The rate changes at the scheduled instant exactly, tokens kept: no free burst.
    #[test]
    fn schedule_changes_at_its_instant() {
        let t0 = Instant::now();
        let mut b = Bucket::new(2.0, 1, &schedule("10:1"));
        assert!(b.take(t0).admitted); // the first request: the schedule starts here
        // Still 2/s just before the change: 0.5 s between requests passes.
        for i in 1..20 {
            assert!(b.take(t0 + MS(500 * i)).admitted, "request {i}");
        }
        // The last token went at 9.5 s; at 2/s the next is at 10 s, the instant of the change.
        let d = b.take(t0 + MS(10_000));
        assert!(d.admitted);
        assert_eq!(d.rate, 1.0);
        assert_eq!(d.next_token, Duration::from_secs(1));
        // Half a second later: only half a token at the new rate.
        let d = b.take(t0 + MS(10_500));
        assert!(!d.admitted);
        assert_eq!(d.next_token, MS(500));
        assert!(b.take(t0 + MS(11_000)).admitted);
    }

    /// A request across a change refills at each rate for its own span.
    #[test]
    fn refill_splits_at_the_change() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1.0, 5, &schedule("2:4"));
        b.take(t0); // 4 left
        for _ in 0..4 {
            assert!(b.take(t0).admitted);
        }
        // 2 s at 1/s, then 0.125 s at 4/s: 2.5 tokens.
        let d = b.take(t0 + MS(2125));
        assert!(d.admitted);
        assert_eq!(d.remaining, 1);
        assert_eq!(d.rate, 4.0);
        // 1.5 left: half a token at 4/s.
        assert_eq!(d.next_token, MS(125));
    }

    /// The wait for the next token counts a change to come.
    #[test]
    fn next_token_across_a_change() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1.0, 1, &schedule("0.5:0.25"));
        let d = b.take(t0);
        // 0.5 token by 0.5 s, then 0.5 more at 0.25/s: 2 s.
        assert_eq!(d.next_token, MS(2500));
        assert_eq!(ceil_secs(d.next_token), 3);
        let d = b.take(t0 + MS(100));
        assert!(!d.admitted);
        close(d.next_token, MS(2400));
    }

    /// A request handled after a later one finds the bucket as the later one left it.
    #[test]
    fn out_of_order_refills_nothing() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1.0, 1, &RateSchedule::none());
        assert!(b.take(t0).admitted);
        assert!(b.take(t0 + MS(1000)).admitted);
        let d = b.take(t0 + MS(900));
        assert!(!d.admitted);
        assert_eq!(d.next_token, MS(1100));
    }

    /// The ideal client: one request per token, a burst at once, rates as scheduled.
    #[test]
    fn ideal_client() {
        assert_eq!(
            ideal(Bucket::stepped(&[(0, 2.0), (20, 1.0)], 1), 60),
            MS(39_000)
        );
        assert_eq!(ideal(Bucket::stepped(&[(0, 1.0)], 6), 60), MS(54_000));
        assert_eq!(ideal(Bucket::stepped(&[(0, 1.0)], 1), 1), Duration::ZERO);
    }

    #[test]
    fn off_says_nothing() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1.0, 1, &RateSchedule::none());
        assert!(b.take(t0).fields(RateHeaders::Off).is_empty());
    }
}
