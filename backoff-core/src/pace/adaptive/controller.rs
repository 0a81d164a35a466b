//! Adaptive pacing: learn a rate limit the client is not told, and follow it when it moves.
//!
//! An [`AdaptiveRate`] watches how each attempt went ([`Feedback`]: throttled or not, and
//! whatever rate-limit fields the response carried) and keeps the rate a pacer should hold.
//! It plugs into a GCRA pacer as "the interval is now X": [`AdaptiveRate::interval`], read
//! each time a slot is handed out, and [`AdaptiveRate::not_before`], a time before which
//! nothing should start (the server said so).
//!
//! # The algorithm: a bracketing search with backed-off probes
//!
//! The controller keeps the largest rate it has *seen* the server accept (`good`), the
//! smallest it has seen refused (`bad`), and holds the pace at `good`. It leaves `good` only
//! to probe:
//!
//! - **Start**: pace at the initial guess (one request per second unless told), and double
//!   the rate on every accepted attempt (TCP's slow start, per attempt rather than per round
//!   trip) until the first throttle. That throttle brackets the limit between the last two
//!   rates: `good`, then `bad = 2 × good`. A limit anywhere from 0.001/s to 10⁶/s is found
//!   within about twenty attempts.
//! - **Probe**: after `gap` attempts accepted in a row at `good`, try a faster rate: the
//!   geometric middle of `good` and `bad` while they are more than 25 % apart (bisection),
//!   else `good` plus `step` (5 % at first). A probe that holds for three attempts becomes
//!   `good` (and a `bad` at or below it is forgotten: the limit went up); the next probe then
//!   follows at once with `step` doubled (up to 100 %), so a raised limit is found in a few
//!   probes. A probe that is refused returns the rate to `good` (not below it: `good` is
//!   known to pass), lowers `bad`, and doubles `gap` (up to 256): near a limit the client
//!   cannot beat, probes get rarer and rarer, a few per hundred attempts, and never stop.
//!   When responses are slow, `gap` is multiplied by the attempts in flight (rate × smoothed
//!   response time): a refused probe costs every attempt sent at its rate before the refusal
//!   came back.
//! - **Edge, then cut**: a first throttle at `good` itself is most often the edge of the
//!   limit, not a new limit: pacing at exactly a bucket's rate with burst 1, a request that
//!   arrives 2 ms early (a timer, a scheduler, a loaded machine) finds the bucket a
//!   fraction of a token short. So it takes 3 % off (`bad` becomes the refused rate, `good`
//!   is forgotten until three attempts pass at the new one). A second throttle before that
//!   rate is proven means the limit fell (or another client shares it): halve the rate
//!   refused at the edge (the 3 % was a hedge for timing), and keep the probe backoff (the
//!   limit just fell, not rose). A refusal in slow start before a rate was proven (nothing
//!   accepted yet, or only the first attempt, which paces nothing) is taken as the edge
//!   too: most often another client (a probe, a health check) took the bucket's token a
//!   moment before. Halving there cost 16-20 s below the limit before probing back: 60
//!   requests at 1/s took 1.27-1.30 × the physical time after one such refusal, against
//!   1.06-1.10 × now. (Halving on the first edge throttle, as this did at first, ran half
//!   of the real-clock runs of a 1/s batch at 0.5/s after one unlucky arrival: 1.4-1.6 ×
//!   the physical time.) With no proven rate to fall back on, a `Retry-After` longer than
//!   its one-second resolution (and at most a minute) bounds the cut: a bucket's next token
//!   comes within it, so its interval is at most the time since the last accepted attempt
//!   plus that wait. That is a floor under the server's rate, so the pacer climbs back from
//!   it as in slow start. A longer wait is a pause (a window's or a quota's reset), not a
//!   refill: it holds attempts and the rate is cut as for any throttle, so a pacer told to
//!   wait an hour resumes near its rate (no slower than half) when the hour is over, not at
//!   one attempt an hour.
//! - **Refusals bound the limit, whatever the bucket's depth**: a refused attempt found the
//!   server's bucket holding less than one token, and since the last accepted start it held
//!   at least none and gave nothing: so the limit is under one token per the time between
//!   that start and this one. With a burst of 1 that is the refused rate, as above. A deeper
//!   bucket (nginx's `burst=5 nodelay` lets 6 through at once) hides the limit from slow
//!   start, which rides the stored tokens up to 32-64/s for a limit of 1/s: the refused rate
//!   says nothing then, and halving from it took one refusal per halving (15 of 75 requests
//!   answered 429). So every refusal, at the current rate or in flight from an older one,
//!   caps the pace at 3 % under that bound (`bad` too). From the third refusal in a row with
//!   nothing accepted between, the pace is far above the limit: it goes to 0.6 of the bound,
//!   so the time since the last accepted start grows 2.7-fold a refusal instead of 2-fold
//!   (from 64/s to 1/s in 4 refusals rather than 6); the first acceptance after that returns
//!   it to 3 % under the last bound, as the run overshoots by up to 1/0.6 and a deep bucket
//!   paced under its limit fills.
//! - **Overshot, descend faster**: a refusal at a pace more than 4 times the average rate
//!   accepted since the first start says slow start rode stored tokens (7 accepted in 2 s,
//!   then refused at 32-64/s). From the second refusal in a row, the pace then goes to half
//!   the bound and no faster than that average; and the first acceptance after the first
//!   refusal does not end the run: it most often found the bucket about to earn its token as
//!   that refusal came (it reset the run, and the descent took 5-6 refusals; now 4-5).
//! - **A deep bucket is proven, and then measured**: the bucket gave every accepted attempt
//!   from the first start on, at most its depth plus what it earned, and holds less than one
//!   token at a refusal: its depth is over `accepted - 1 - elapsed × bound`, `bound` the
//!   smallest of the bounds the times since the last accepted start put on the limit.
//!   Once that is 2 or more, four things change. A refusal before a rate is proven no longer
//!   halves it: the bucket's stored tokens ran out, the limit did not fall, and a halving
//!   let the bucket fill again and hid the limit from every probe back up (with arrivals
//!   spread by a few milliseconds, 4 of 16 runs against a bucket 11 deep ended at 1.12-1.57 ×
//!   the ideal time, two halvings under the limit; now all at 1.01-1.04 ×). The bounds take
//!   the pace down instead: 3 % under the refused rate right after an acceptance, further
//!   when the refusals come in a row. The refusals measure the limit: from the
//!   first refusal on (the bucket then under one token), the tokens the server gave are the
//!   accepted attempts, so at each later refusal the limit is under `(accepted + 1) /
//!   elapsed`, a bound that closes on the limit as the window grows; and from any attempt
//!   in the window (the bucket then at least empty), under `(accepted since + 1) / time
//!   since`. The tightest comes from an acceptance that found the bucket a hair over one
//!   token, most often the first after a refusal: where the window's count closed on the
//!   limit one refusal at a time (1.31, 1.27, 1.13, 1.04/s in a real run), it bounds it at
//!   1.04/s from the second refusal after the descent. (Only on a deep bucket:
//!   one of depth 1 refills to full at every pause longer than its interval, and the tokens
//!   it then loses would put that count under the limit.) A probe above the limit passes
//!   until the tokens stored while pacing under it are spent, so it is proven only after
//!   `(depth - 1) × rate / (rate - good)` attempts (three on a bucket of depth 1). And probes
//!   come `depth` times further apart, and not at all above `bad` (that is what the refusals
//!   proved; the gap doubles instead). On tokio's paused clock, 60 requests fired at once at
//!   a bucket of 1/s that lets 6 through at once, with no `Retry-After`: 5 of 65 answered 429
//!   (from 6 of 66, and 15 of 75 before that) in 55.9 s against the 54 s the bucket allows;
//!   100 ms away, 7 of 67 in 55.5 s (the attempts in flight when the first refusals come
//!   back are refused too); with both ways spread by 0-10 ms, at most 6 of 66 (up to 10 of
//!   70 before, as in real runs).
//! - **Only attempts sent at the current rate count**: an attempt that started before the
//!   rate last changed says nothing about the new rate, so the attempts in flight when a
//!   probe is refused or the limit falls do not cut again (TCP's one cut per round trip), and
//!   slow start doubles once per round trip.
//! - **Attempts that do not use the rate prove nothing**: an accepted attempt counts only
//!   when it started within 1.5 intervals of the previous one (the client was actually
//!   sending at that pace). An idle client does not "learn" that the server takes more and
//!   then flood it when work arrives (RFC 7661's congestion-window validation, for rates).
//!
//! Why not CUBIC, as the AWS SDKs' adaptive retry mode, or AIMD? Both come from TCP, where a
//! lost packet is cheap, many flows share a link, and the sender must keep pushing into the
//! loss to stay fair. They settle into a sawtooth that crosses the limit on every cycle;
//! CUBIC's probing speed is an absolute constant (0.4 requests/s³ in the SDKs), so at a
//! limit of one request per second it crosses the limit every couple of seconds. A rate
//! limit is the opposite case: one client's quota, no one to be fair to, and every refused
//! request costs a whole slot of the server's bucket plus a retry (a bucket with burst 1 at
//! 1/s refuses *every other* request of a client that sends 10 % too fast). Measured on such
//! a bucket, the SDK's adaptive mode took 2.3-2.7 × the physical time for 60 requests with
//! 66 % of them refused. The bracketing search spends its refusals deliberately: one to find
//! the limit, then probes whose rate decays geometrically, and it is scale-free (counted in
//! attempts and ratios, not in requests per second).
//!
//! # What the server says
//!
//! Rate-limit fields, when present ([`Hints`](crate::Hints)), replace guessing:
//!
//! - A quota with its window (`RateLimit-Policy: "d";q=100;w=60`, `RateLimit-Limit: 10;w=1`)
//!   is the server's sustained rate: the controller jumps straight to it and never probes
//!   above it. A refusal at the advertised rate shaves 2 % off the share of it used (down to
//!   half; then the search takes over, under the advertised rate): a timer that wakes a
//!   millisecond late against a bucket with no tolerance, or a quota shared with another
//!   client, is not an unknown limit. When the advertised rate changes, the old refusals are
//!   forgotten and it jumps to the new one.
//! - `X-RateLimit-Limit` has no window: the window is taken as the longest reset seen
//!   (a window's reset counts down from the window's length), refreshed each window.
//! - Requests remaining and the reset: with some left, the pace is capped so they last
//!   until the reset; with none left and a reset longer than one interval plus the one-second
//!   resolution of the field, nothing starts before the reset ([`AdaptiveRate::not_before`]).
//! - `Retry-After` longer than one interval plus that second holds every attempt until then,
//!   not only the refused one (a wait of a second or less at a pace of about one a second is
//!   the rounding of the next slot, not a pause).
//! - **No server can hold a client for longer than [`AdaptiveRate::max_hold`]** (one hour by
//!   default): a `Retry-After`, a reset and a quota's window count for at most that long, the
//!   pace never falls below one attempt per `max_hold`, and a cap or a hold ends on time even
//!   when no response comes meanwhile. A `Retry-After` of 10²⁰ seconds, a reset in the year
//!   3000 or in microseconds, `RateLimit-Policy: "d";q=1;w=100000000`: each holds or paces an
//!   hour at most.
//!
//! Tunables: the initial rate (or none: pace nothing until the first throttle or hint), a
//! floor and a ceiling, which win over everything else, and `max_hold`.

mod drain;
mod refusals;
mod state;

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::hints::Feedback;
use state::{
    Config, ControllerState, DEFAULT_INITIAL, MAX_HOLD, MIN_MAX_HOLD, PACED, interval_of,
    max_instant,
};

use crate::pace::common::{Instant, PacerInstant};

/// A rate controller that learns the server's limit from how attempts went, for a pacer to
/// follow. The algorithm and its reasoning are in the module documentation (`backoff-core/src/pace/adaptive/controller.rs`).
///
/// ```
/// use std::time::Duration;
/// use backoff_core::{AdaptiveRate, Feedback, PacerInstant as Instant};
///
/// let rate = AdaptiveRate::new();
/// assert_eq!(rate.interval(), Some(Duration::from_secs(1))); // the first guess
///
/// // A response that states the policy: the controller jumps straight to it.
/// let now = Instant::now();
/// let fields = [("RateLimit-Policy", r#""default";q=10;w=1"#)];
/// rate.observe(&Feedback::from_status(200, &fields, std::time::SystemTime::now()), now, now);
/// assert_eq!(rate.rate(), Some(10.0));
/// assert_eq!(rate.interval(), Some(Duration::from_millis(100)));
/// ```
///
/// Thread-safe: one mutex, taken once per attempt by [`observe`](AdaptiveRate::observe) and
/// once per slot by [`interval`](AdaptiveRate::interval).
pub struct AdaptiveRate {
    config: Config,
    state: Mutex<ControllerState>,
}

impl Default for AdaptiveRate {
    fn default() -> Self {
        AdaptiveRate::new()
    }
}

impl fmt::Debug for AdaptiveRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        f.debug_struct("AdaptiveRate")
            .field("rate", &s.published)
            .field("good", &s.good)
            .field("bad", &s.bad)
            .field("hint", &s.hint)
            .finish_non_exhaustive()
    }
}

impl AdaptiveRate {
    /// A controller that knows nothing: it starts at one request per second and searches.
    pub fn new() -> Self {
        let config = Config {
            initial: Some(DEFAULT_INITIAL),
            floor: 0.0,
            ceiling: f64::INFINITY,
            max_hold: MAX_HOLD,
        };
        AdaptiveRate {
            config,
            state: Mutex::new(ControllerState::start(&config)),
        }
    }

    /// Where the search starts: `Some(rate)` in requests per second, or `None` to pace nothing
    /// until the first throttle or rate-limit field (then the first throttle's `Retry-After`,
    /// or one per second, is the first guess). A rate that is not positive and finite is
    /// ignored.
    pub fn initial(mut self, rate: Option<f64>) -> Self {
        match rate {
            None => self.config.initial = None,
            Some(r) if r.is_finite() && r > 0.0 => self.config.initial = Some(r),
            Some(_) => {}
        }
        self.restart()
    }

    /// The slowest rate the controller may choose, whatever the server says (0 by default).
    /// Not finite or negative: ignored.
    pub fn floor(mut self, rate: f64) -> Self {
        if rate.is_finite() && rate >= 0.0 {
            self.config.floor = rate;
        }
        self.restart()
    }

    /// The fastest rate the controller may choose (unbounded by default). Not positive or
    /// NaN: ignored.
    pub fn ceiling(mut self, rate: f64) -> Self {
        if rate > 0.0 {
            self.config.ceiling = rate;
        }
        self.restart()
    }

    /// The longest wait a server can impose, one hour by default: no `Retry-After`, reset
    /// or exhausted quota holds attempts longer than this, and no response slows the pace
    /// below one attempt per `max_hold` (a [`ceiling`](AdaptiveRate::ceiling) below that
    /// still wins: it is yours, not the server's). Under one second: one second.
    ///
    /// ```
    /// use std::time::Duration;
    /// use backoff_core::{AdaptiveRate, Feedback, PacerInstant as Instant};
    ///
    /// let rate = AdaptiveRate::new().max_hold(Duration::from_secs(60));
    /// let now = Instant::now();
    /// // A server that asks for a day's pause is held to a minute.
    /// let pause = Feedback::throttled().with_retry_after(Some(Duration::from_secs(86_400)));
    /// rate.observe(&pause, now, now);
    /// assert_eq!(rate.not_before(), Some(now + Duration::from_secs(60)));
    /// ```
    pub fn max_hold(mut self, max: Duration) -> Self {
        self.config.max_hold = max.max(MIN_MAX_HOLD);
        self.restart()
    }

    /// A controller with the same tunables that has learned nothing: one per `rate_key`
    /// (limits often differ per key: per country, per sender).
    pub fn fresh(&self) -> Self {
        AdaptiveRate {
            state: Mutex::new(ControllerState::start(&self.config)),
            config: self.config,
        }
    }

    fn restart(self) -> Self {
        AdaptiveRate {
            state: Mutex::new(ControllerState::start(&self.config)),
            config: self.config,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ControllerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The rate to pace to now, in requests per second; `None` while nothing paces (no
    /// initial rate and nothing learned yet).
    pub fn rate(&self) -> Option<f64> {
        self.current().published
    }

    /// The state, with the server's caps and holds that have run out dropped: they end on
    /// time even when no attempt is observed meanwhile (a pacer held to a slow pace by a
    /// quota sends little to observe).
    fn current(&self) -> std::sync::MutexGuard<'_, ControllerState> {
        let mut s = self.lock();
        if s.budget.is_some() || s.hold.is_some() {
            s.expire(Instant::now());
            s.publish(&self.config, "server's cap ended");
        }
        s
    }

    /// The interval between attempts a GCRA pacer should use now; `None` paces nothing.
    pub fn interval(&self) -> Option<Duration> {
        self.rate().and_then(interval_of)
    }

    /// No attempt should start before this instant: the server asked for a pause
    /// (`Retry-After`, or no requests remaining until a reset) longer than the pace explains.
    pub fn not_before(&self) -> Option<PacerInstant> {
        self.hold().map(PacerInstant)
    }

    /// [`not_before`](AdaptiveRate::not_before) on the pacers' own clock type.
    pub(crate) fn hold(&self) -> Option<Instant> {
        self.current().hold
    }

    /// Learns from one attempt: `feedback` is how it went, `sent` when the attempt started
    /// (its slot), `now` when its response came. Emits a `tracing` event (target
    /// `backoff::adaptive`, level DEBUG) when the rate changes.
    ///
    /// Both instants matter once responses take time: an attempt sent before the rate last
    /// changed was sent at the old rate, and its outcome says nothing about the new one
    /// (without this, the requests already in flight when a probe is refused are all refused
    /// too, and each would cut the rate again).
    pub fn observe(&self, feedback: &Feedback, sent: PacerInstant, now: PacerInstant) {
        self.observe_changed(feedback, sent.0, now.0);
    }

    /// [`observe`](AdaptiveRate::observe), telling whether what a pacer reads changed: the
    /// rate or the time before which nothing starts.
    pub(crate) fn observe_changed(&self, feedback: &Feedback, sent: Instant, now: Instant) -> bool {
        let config = &self.config;
        let mut s = self.lock();
        let hold_before = s.hold;
        let paced = match (s.last_sent, s.published.and_then(interval_of)) {
            (Some(prev), Some(interval)) => {
                sent.saturating_duration_since(prev).as_secs_f64() <= interval.as_secs_f64() * PACED
            }
            _ => false,
        };
        let current = s.changed_at.is_none_or(|at| sent >= at);
        let since_accepted = s.last_accepted.map(|a| sent.saturating_duration_since(a));
        // The response time, smoothed as TCP does (1/8 of each new sample).
        let rtt = now.saturating_duration_since(sent);
        s.rtt = Some(s.rtt.map_or(rtt, |avg| {
            avg.mul_f64(0.875).saturating_add(rtt.mul_f64(0.125))
        }));
        s.last_sent = Some(max_instant(s.last_sent, sent));
        s.first_sent = Some(s.first_sent.map_or(sent, |f| f.min(sent)));
        let before = s.search;
        let mut reason = s.learn_hints(&feedback.hints, now, config);
        if feedback.throttled {
            s.deepen(sent, since_accepted);
            s.last_refused = Some(max_instant(s.last_refused, sent));
            if current {
                reason = s.throttled(feedback, since_accepted, config).or(reason);
            }
            reason = s.bounded(sent, since_accepted, current).or(reason);
        } else {
            s.last_accepted = Some(max_instant(s.last_accepted, sent));
            s.accepted_total = s.accepted_total.saturating_add(1);
            match s.drain {
                // An idle client let the bucket refill: the window proves nothing more.
                Some(_) if !paced => s.drain = None,
                Some(ref mut drain) => drain.record(sent, true),
                None => {}
            }
            // An attempt started before the latest refusal ends no run of refusals.
            if s.last_refused.is_none_or(|r| sent > r) {
                reason = s.descended().or(reason);
            }
            if paced && current {
                reason = s.accepted(config).or(reason);
            }
        }
        s.search = s.search.map(|r| config.clamp(r));
        if s.search != before {
            s.changed_at = Some(now);
        }
        s.expire(now);
        let changed = s.publish(config, reason.unwrap_or("hint"));
        changed || s.hold != hold_before
    }
}

#[cfg(test)]
mod tests;
