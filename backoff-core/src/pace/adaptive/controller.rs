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
//!   arrives 2 ms early (a timer, a scheduler, a loaded machine) finds the bucket a fraction
//!   of a token short. So it takes 3 % off (`bad` becomes the refused rate, `good` is
//!   forgotten until three attempts pass at the new one). A second throttle before that
//!   rate is proven means the limit fell (or another client shares it): halve the rate at
//!   once, and keep the probe backoff (the limit just fell, not rose). A refusal in slow
//!   start before any attempt was accepted is taken as the edge too: most often another
//!   client (a probe, a health check) took the bucket's token a moment before; halving there
//!   cost 20 s below the limit before probing back (1.30 × the physical time for 60
//!   requests at 1/s, against 1.10 ×). (Halving on the first
//!   edge throttle, as this did at first, ran half of the real-clock runs of a 1/s batch at
//!   0.5/s after one unlucky arrival: 1.4-1.6 × the physical time.) With no proven rate to fall
//!   back on, a `Retry-After` longer than its one-second resolution (and at most a minute)
//!   bounds the cut: a bucket's next token comes within it, so its interval is at most the
//!   time since the last accepted attempt plus that wait. That is a floor under the server's
//!   rate, so the pacer climbs back from it as in slow start. A longer wait is a pause (a
//!   window's or a quota's reset), not a refill: it holds attempts and the rate is cut as
//!   for any throttle, so a pacer told to wait an hour resumes near its rate (no slower than
//!   half) when the hour is over, not at one attempt an hour.
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
//! Rate-limit fields, when present ([`Hints`]), replace guessing:
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

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::hints::{Feedback, Hints, Quota};

#[cfg(feature = "tokio")]
type Instant = tokio::time::Instant;
#[cfg(not(feature = "tokio"))]
type Instant = std::time::Instant;

/// The first guess when nothing is known: one request per second, the coarsest rate that
/// whole-second rate-limit fields describe without fractions.
const DEFAULT_INITIAL: f64 = 1.0;
/// The cut when the limit falls.
const BETA: f64 = 0.5;
/// The step down after a first throttle at the proven rate: the edge of the limit.
const EDGE: f64 = 0.97;
/// Accepted attempts in a row that prove a rate.
const CONFIRM: u32 = 3;
/// Accepted attempts at `good` before the first probe, and the most the probe backoff waits.
const GAP: u32 = 8;
const MAX_GAP: u32 = 256;
/// A probe's first and largest increase.
const MIN_STEP: f64 = 0.05;
const MAX_STEP: f64 = 1.0;
/// While `good` and `bad` are further apart than this ratio, probes bisect.
const BISECT_ABOVE: f64 = 1.25;
/// A refusal at the advertised rate uses this much less of it, down to half.
const SHAVE: f64 = 0.98;
const MIN_MARGIN: f64 = 0.5;
/// An accepted attempt counts when it came within this many intervals of the previous one.
const PACED: f64 = 1.5;
/// The resolution of delay-seconds fields: waits up to one interval plus this are rounding.
const FIELD_RESOLUTION: Duration = Duration::from_secs(1);
/// The longest wait a server can impose by default: a hold, or the interval of a rate that a
/// response pushes the pacer to.
const MAX_HOLD: Duration = Duration::from_secs(3600);
/// The shortest such cap that may be set.
const MIN_MAX_HOLD: Duration = Duration::from_secs(1);
/// The longest `Retry-After` read as the refill of a bucket (and so as a bound on its rate):
/// a longer one is a pause, the reset of a window or a quota, which says nothing about the
/// rate once it is over. A minute: per-minute limits are the slowest whose reset is their
/// interval.
const MAX_TOLD: Duration = Duration::from_secs(60);
/// The fastest rate ever returned, one request per nanosecond, and the slowest, one per
/// 11.6 days (halving never runs the interval out of range).
const MAX_RATE: f64 = 1e9;
const MIN_RATE: f64 = 1e-6;

/// A rate controller that learns the server's limit from how attempts went, for a pacer to
/// follow. The algorithm and its reasoning are in the module documentation (`backoff-core/src/pace/adaptive/controller.rs`).
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use std::time::Duration;
/// use backoff_core::{AdaptiveRate, Feedback};
/// use tokio::time::Instant;
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
/// # }
/// ```
///
/// Thread-safe: one mutex, taken once per attempt by [`observe`](AdaptiveRate::observe) and
/// once per slot by [`interval`](AdaptiveRate::interval).
pub struct AdaptiveRate {
    config: Config,
    state: Mutex<State>,
}

#[derive(Clone, Copy, Debug)]
struct Config {
    initial: Option<f64>,
    floor: f64,
    ceiling: f64,
    /// The longest wait a server can impose.
    max_hold: Duration,
}

#[derive(Debug, Default)]
struct State {
    /// The searched rate; `None` before anything is known with no initial rate.
    search: Option<f64>,
    /// The largest rate seen accepted, `None` while the current one is unproven.
    good: Option<f64>,
    /// The smallest rate seen refused since the limit last went up.
    bad: Option<f64>,
    slow_start: bool,
    /// Accepted, paced attempts in a row at the current rate.
    streak: u32,
    gap: u32,
    step: f64,
    /// The latest start of an attempt observed, and of an accepted one.
    last_sent: Option<Instant>,
    last_accepted: Option<Instant>,
    /// The smoothed response time.
    rtt: Option<Duration>,
    /// When the searched rate last changed.
    changed_at: Option<Instant>,
    /// The server's advertised sustained rate.
    hint: Option<f64>,
    /// The share of the advertised rate used: shaved when the server refuses it (its clock
    /// and ours disagree, or another client shares the quota).
    margin: f64,
    /// For `X-RateLimit-Limit`: the longest reset seen, and when.
    window: Option<(Duration, Instant)>,
    /// A cap so the requests remaining last until the reset: (rate, until).
    budget: Option<(f64, Instant)>,
    hold: Option<Instant>,
    /// The rate last published (for the change event).
    published: Option<f64>,
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
            state: Mutex::new(State::start(&config)),
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
    /// # #[cfg(feature = "tokio")] {
    /// use std::time::Duration;
    /// use backoff_core::{AdaptiveRate, Feedback};
    /// use tokio::time::Instant;
    ///
    /// let rate = AdaptiveRate::new().max_hold(Duration::from_secs(60));
    /// let now = Instant::now();
    /// // A server that asks for a day's pause is held to a minute.
    /// let pause = Feedback::throttled().with_retry_after(Some(Duration::from_secs(86_400)));
    /// rate.observe(&pause, now, now);
    /// assert_eq!(rate.not_before(), Some(now + Duration::from_secs(60)));
    /// # }
    /// ```
    pub fn max_hold(mut self, max: Duration) -> Self {
        self.config.max_hold = max.max(MIN_MAX_HOLD);
        self.restart()
    }

    /// A controller with the same tunables that has learned nothing: one per `rate_key`
    /// (limits often differ per key: per country, per sender).
    pub fn fresh(&self) -> Self {
        AdaptiveRate {
            state: Mutex::new(State::start(&self.config)),
            config: self.config,
        }
    }

    fn restart(self) -> Self {
        AdaptiveRate {
            state: Mutex::new(State::start(&self.config)),
            config: self.config,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
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
    fn current(&self) -> std::sync::MutexGuard<'_, State> {
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
    pub fn not_before(&self) -> Option<Instant> {
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
    pub fn observe(&self, feedback: &Feedback, sent: Instant, now: Instant) {
        self.observe_changed(feedback, sent, now);
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
        let before = s.search;
        let mut reason = s.learn_hints(&feedback.hints, now, config);
        if feedback.throttled {
            if current {
                reason = s.throttled(feedback, since_accepted, config).or(reason);
            }
        } else {
            s.last_accepted = Some(max_instant(s.last_accepted, sent));
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

fn interval_of(rate: f64) -> Option<Duration> {
    (rate > 0.0)
        .then(|| Duration::try_from_secs_f64(1.0 / rate.min(MAX_RATE)).ok())
        .flatten()
}

fn max_instant(a: Option<Instant>, b: Instant) -> Instant {
    a.map_or(b, |a| a.max(b))
}

fn min_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl State {
    /// Drops a cap on the rate or a hold that has run out.
    fn expire(&mut self, now: Instant) {
        if self.budget.is_some_and(|(_, until)| now >= until) {
            self.budget = None;
        }
        if self.hold.is_some_and(|until| now >= until) {
            self.hold = None;
        }
    }

    /// Publishes the effective rate; tells whether it changed.
    fn publish(&mut self, config: &Config, reason: &'static str) -> bool {
        let rate = self.effective(config);
        if rate == self.published {
            return false;
        }
        self.published = rate;
        tracing::event!(
            target: "backoff::adaptive",
            tracing::Level::DEBUG,
            rate = rate.unwrap_or(0.0),
            interval = ?rate.and_then(interval_of),
            reason,
            "paced rate changed",
        );
        true
    }

    fn start(config: &Config) -> State {
        State {
            search: config.initial,
            slow_start: true,
            gap: GAP,
            step: MIN_STEP,
            margin: 1.0,
            published: config.initial.map(|r| config.clamp(r)),
            ..State::default()
        }
    }

    /// The share of the advertised rate to use.
    fn advertised(&self) -> Option<f64> {
        self.hint.map(|h| h * self.margin)
    }

    /// The fastest the search may go: the ceiling and the server's advertised rate.
    fn cap(&self, config: &Config) -> f64 {
        self.advertised()
            .unwrap_or(f64::INFINITY)
            .min(config.ceiling)
    }

    fn effective(&self, config: &Config) -> Option<f64> {
        let rate = min_opt(self.search, self.advertised())?;
        let rate = min_opt(Some(rate), self.budget.map(|(b, _)| b))?;
        Some(config.clamp(rate))
    }

    /// A probe above `good`: bisect a wide bracket, else step.
    fn probe(&self, good: f64, config: &Config) -> f64 {
        let stepped = good * (1.0 + self.step);
        let next = match self.bad {
            Some(bad) if bad > good * BISECT_ABOVE => (good * bad).sqrt(),
            Some(bad) if stepped > bad => good * (1.0 + MIN_STEP),
            _ => stepped,
        };
        next.min(self.cap(config))
    }

    fn accepted(&mut self, config: &Config) -> Option<&'static str> {
        let rate = self.search?;
        self.streak = self.streak.saturating_add(1);
        let cap = self.cap(config);
        if self.slow_start {
            self.good = Some(rate);
            self.streak = 0;
            if rate >= cap || rate >= MAX_RATE {
                self.slow_start = false;
                return None;
            }
            self.search = Some((rate * 2.0).min(cap));
            return Some("slow start");
        }
        match self.good {
            // A probe held: the limit is at least this.
            Some(good) if rate > good => {
                if self.streak < CONFIRM {
                    return None;
                }
                self.good = Some(rate);
                if self.bad.is_some_and(|b| b <= rate) {
                    self.bad = None;
                }
                self.step = (self.step * 2.0).min(MAX_STEP);
                self.streak = 0;
                if rate < cap {
                    self.search = Some(self.probe(rate, config));
                }
                Some("probe held")
            }
            Some(good) => {
                // A refused probe costs the attempts in flight at its rate (half of them, on a
                // bucket of burst 1): space probes further apart when many are in flight.
                let in_flight = self.rtt.map_or(0.0, |rtt| good * rtt.as_secs_f64());
                let gap = (f64::from(self.gap) * in_flight.max(1.0)).min(f64::from(u32::MAX));
                if f64::from(self.streak) < gap || good >= cap {
                    return None;
                }
                self.streak = 0;
                self.search = Some(self.probe(good, config));
                Some("probe")
            }
            None => {
                if self.streak >= CONFIRM {
                    self.good = Some(rate);
                    self.streak = 0;
                }
                None
            }
        }
    }

    /// `since_accepted`: from the start of the last accepted attempt to this one's.
    fn throttled(
        &mut self,
        feedback: &Feedback,
        since_accepted: Option<Duration>,
        config: &Config,
    ) -> Option<&'static str> {
        self.streak = 0;
        // What the server's Retry-After implies when it says more than its rounding: the next
        // token of a bucket comes within it, so the bucket's interval is at most the time since
        // the last accepted attempt plus that wait.
        let told = feedback
            .hints
            .retry_after
            .filter(|wait| *wait > FIELD_RESOLUTION && *wait <= MAX_TOLD)
            .map(|wait| {
                1.0 / since_accepted
                    .unwrap_or_default()
                    .saturating_add(wait)
                    .as_secs_f64()
            });
        let Some(rate) = self.search else {
            // Unpaced until now: that, or one per second, is the first guess. A guess from the
            // server's wait is a floor under its rate: climb from it as in slow start.
            self.search = Some(told.unwrap_or(DEFAULT_INITIAL).min(self.cap(config)));
            self.slow_start = told.is_some();
            return Some("first throttle");
        };
        // Refused at the rate the server advertised: our clocks disagree by a little (a timer
        // that wakes a millisecond late against a bucket without tolerance), or another client
        // shares the quota. Shave 2 % off the advertised rate rather than halve, down to half.
        if let Some(advertised) = self.advertised()
            && rate >= advertised
            && self.margin > MIN_MARGIN
        {
            self.margin = (self.margin * SHAVE).max(MIN_MARGIN);
            self.search = self.advertised();
            self.good = self.search;
            return Some("advertised rate refused");
        }
        // With no proven rate to fall back on, the server's word bounds the cut. Its wait is
        // a floor under the server's rate, and the rate cut to it climbs back as in slow
        // start: a refill that was a quota's reset costs a few doublings, not hours of probes.
        let told_cut = |rate: f64| told.filter(|t| *t < rate * BETA);
        let cut = |rate: f64| told_cut(rate).unwrap_or(rate * BETA);
        self.step = MIN_STEP;
        if self.slow_start {
            self.slow_start = false;
            self.bad = Some(rate);
            match self.good {
                Some(good) if good < rate => self.search = Some(good),
                None if told.is_none() && self.last_accepted.is_none() => {
                    // Refused before anything was accepted: most often the bucket's last
                    // token went to another client (a probe, a health check) a moment
                    // before; the edge of the limit, not a limit below it. A second refusal
                    // before the rate is proven halves (the `None` arm below).
                    self.search = Some(rate * EDGE);
                }
                _ => {
                    self.good = None;
                    self.search = Some(cut(rate));
                    self.slow_start = told_cut(rate).is_some();
                }
            }
            return Some("slow start ended");
        }
        match self.good {
            Some(good) if rate > good => {
                self.bad = Some(self.bad.map_or(rate, |b| b.min(rate)));
                self.search = Some(good);
                self.gap = self.gap.saturating_mul(2).min(MAX_GAP);
                Some("probe refused")
            }
            Some(_) => {
                // The edge of the limit; a second throttle before the step down is proven
                // (the arm below) halves.
                self.bad = Some(rate);
                self.good = None;
                self.search = Some(rate * EDGE);
                Some("edge of the limit")
            }
            None => {
                self.bad = Some(rate);
                self.search = Some(cut(rate));
                self.slow_start = told_cut(rate).is_some();
                Some("cut")
            }
        }
    }

    /// Takes in what the response said; returns a reason when the search state jumped.
    fn learn_hints(
        &mut self,
        hints: &Hints,
        now: Instant,
        config: &Config,
    ) -> Option<&'static str> {
        let mut reason = None;
        // No window, reset or pause the server gives lasts longer than the cap: past it, the
        // field is broken, hostile, or in other units (a reset in microseconds), and taking it
        // at its word would stall the pacer for days.
        let max = config.max_hold;
        let reset = hints.reset.map(|r| r.min(max));
        // The sustained rate: a quota with its window, or `X-RateLimit-Limit` over the longest
        // reset seen in the current window.
        let advertised = hints.limit.and_then(|quota| {
            let capped = Quota {
                count: quota.count,
                window: quota.window.map(|w| w.min(max)),
            };
            capped.rate().or_else(|| {
                let reset = reset.filter(|r| !r.is_zero())?;
                let window = match self.window {
                    Some((w, seen))
                        if now.saturating_duration_since(seen)
                            <= w.saturating_add(FIELD_RESOLUTION) =>
                    {
                        if reset > w {
                            self.window = Some((reset, now));
                        }
                        w.max(reset)
                    }
                    _ => {
                        self.window = Some((reset, now));
                        reset
                    }
                };
                Some(quota.count as f64 / window.as_secs_f64())
            })
        });
        if let Some(hint) = advertised.filter(|h| h.is_finite() && *h > 0.0) {
            if self.hint != Some(hint) {
                // A new policy: old refusals are about the old one.
                if self.hint.is_some() {
                    self.bad = None;
                }
                self.hint = Some(hint);
                if self.bad.is_none_or(|b| b > hint) {
                    self.search = Some((hint * self.margin).min(config.ceiling));
                    self.good = self.search;
                    self.slow_start = false;
                    self.streak = 0;
                    reason = Some("advertised rate");
                }
            }
            let hint = hint * self.margin;
            if let Some(good) = self.good.filter(|g| *g > hint) {
                self.good = Some(good.min(hint));
            }
        }
        // A pause: Retry-After takes precedence over the reset (the draft says so).
        let pace = self
            .effective(config)
            .and_then(interval_of)
            .unwrap_or_default();
        let pause = hints
            .retry_after
            .map(|p| p.min(max))
            .or_else(|| reset.filter(|_| hints.remaining == Some(0)));
        if let Some(pause) = pause.filter(|p| *p > pace.saturating_add(FIELD_RESOLUTION)) {
            // (An instant past the clock's range holds nothing: no real clock gets there.)
            if let Some(until) = now.checked_add(pause) {
                self.hold = Some(self.hold.map_or(until, |h| h.max(until)));
                reason = Some("server asked for a pause");
            }
        }
        // Make what remains last until the reset.
        if let (Some(left), Some(reset)) = (hints.remaining, reset)
            && left > 0
            && !reset.is_zero()
        {
            let rate = left as f64 / reset.as_secs_f64();
            if let Some(until) = now.checked_add(reset) {
                self.budget = Some((rate, until));
            }
        }
        reason
    }
}

impl Config {
    /// One attempt per `max_hold` at the slowest, then the ceiling and the floor: yours win
    /// over what the server says.
    fn clamp(&self, rate: f64) -> f64 {
        let slowest = 1.0 / self.max_hold.as_secs_f64();
        rate.max(slowest)
            .min(self.ceiling)
            .max(self.floor)
            .clamp(MIN_RATE, MAX_RATE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Feedback {
        Feedback::accepted()
    }

    fn no() -> Feedback {
        Feedback::throttled()
    }

    /// Feeds `n` accepted attempts, each at the controller's current interval.
    fn pass(c: &AdaptiveRate, now: &mut Instant, n: usize) {
        for _ in 0..n {
            *now += c.interval().unwrap();
            c.observe(&ok(), *now, *now);
        }
    }

    #[test]
    fn slow_start_doubles_until_the_first_throttle() {
        let c = AdaptiveRate::new();
        let mut now = Instant::now();
        c.observe(&ok(), now, now); // the first attempt proves nothing
        assert_eq!(c.rate(), Some(1.0));
        pass(&c, &mut now, 3);
        assert_eq!(c.rate(), Some(8.0));
        now += c.interval().unwrap();
        c.observe(&no(), now, now);
        assert_eq!(c.rate(), Some(4.0), "back to the last rate accepted");
    }

    #[test]
    fn probes_back_off_and_return_to_good() {
        let c = AdaptiveRate::new();
        let mut now = Instant::now();
        c.observe(&ok(), now, now);
        pass(&c, &mut now, 1);
        now += c.interval().unwrap();
        c.observe(&no(), now, now); // at 2/s: good 1, bad 2
        assert_eq!(c.rate(), Some(1.0));
        pass(&c, &mut now, GAP as usize);
        let probe = c.rate().unwrap();
        assert!(probe > 1.0 && probe < 2.0, "{probe}");
        now += c.interval().unwrap();
        c.observe(&no(), now, now);
        assert_eq!(c.rate(), Some(1.0));
        // The next probe waits twice as long.
        pass(&c, &mut now, 2 * GAP as usize - 1);
        assert_eq!(c.rate(), Some(1.0));
        pass(&c, &mut now, 1);
        assert!(c.rate().unwrap() > 1.0);
    }

    #[test]
    fn a_throttle_at_the_proven_rate_steps_down_and_a_second_halves() {
        let c = AdaptiveRate::new().initial(Some(4.0));
        let mut now = Instant::now();
        c.observe(&ok(), now, now);
        pass(&c, &mut now, 1);
        now += c.interval().unwrap();
        c.observe(&no(), now, now);
        assert_eq!(c.rate(), Some(4.0));
        // Refused at the proven rate: the edge of the limit, 3 % off.
        now += c.interval().unwrap();
        c.observe(&no(), now, now);
        assert_eq!(c.rate(), Some(4.0 * EDGE));
        // Refused again before the step down is proven: the limit fell, halve.
        now += c.interval().unwrap();
        c.observe(&no(), now, now);
        assert_eq!(c.rate(), Some(4.0 * EDGE * BETA));
        // An attempt sent before the cut, refused after it, does not cut again.
        c.observe(
            &no(),
            now - Duration::from_millis(10),
            now + Duration::from_millis(100),
        );
        assert_eq!(c.rate(), Some(4.0 * EDGE * BETA));
        // Three attempts proven at the new rate make it `good`: the next refusal at it is an
        // edge again (3 % off), not another halving.
        pass(&c, &mut now, CONFIRM as usize);
        let proven = c.rate().unwrap();
        now += c.interval().unwrap();
        c.observe(&no(), now, now);
        assert_eq!(c.rate(), Some(proven * EDGE));
    }

    #[test]
    fn idle_successes_prove_nothing() {
        let c = AdaptiveRate::new();
        let mut now = Instant::now();
        for _ in 0..10 {
            now += Duration::from_secs(10);
            c.observe(&ok(), now, now);
        }
        assert_eq!(c.rate(), Some(1.0));
    }

    #[test]
    fn advertised_policy_is_followed_and_caps_probing() {
        let c = AdaptiveRate::new();
        let mut now = Instant::now();
        let hinted = |q: &str| {
            Feedback::from_status(
                200,
                &[("RateLimit-Policy", q)],
                std::time::SystemTime::now(),
            )
        };
        c.observe(&hinted(r#""d";q=5;w=1"#), now, now);
        assert_eq!(c.rate(), Some(5.0));
        for _ in 0..100 {
            now += c.interval().unwrap();
            c.observe(&hinted(r#""d";q=5;w=1"#), now, now);
        }
        assert_eq!(c.rate(), Some(5.0), "never probes above the policy");
        c.observe(&hinted(r#""d";q=2;w=1"#), now, now);
        assert_eq!(c.rate(), Some(2.0));
        c.observe(&hinted(r#""d";q=3;w=1"#), now, now);
        assert_eq!(c.rate(), Some(3.0));
    }

    #[test]
    fn x_ratelimit_window_is_the_longest_reset() {
        let c = AdaptiveRate::new();
        let now = Instant::now();
        let fields = [
            ("X-RateLimit-Limit", "5000"),
            ("X-RateLimit-Remaining", "4999"),
            ("X-RateLimit-Reset", "3600"),
        ];
        c.observe(
            &Feedback::from_status(200, &fields, std::time::SystemTime::now()),
            now,
            now,
        );
        // The advertised 5000/3600 s, capped so the 4999 left last the 3600 s.
        let rate = c.rate().unwrap();
        assert!((rate - 4999.0 / 3600.0).abs() < 1e-9, "{rate}");
    }

    #[test]
    fn pauses() {
        let c = AdaptiveRate::new();
        let now = Instant::now();
        // A second at one a second: rounding, no pause.
        c.observe(
            &no().with_retry_after(Some(Duration::from_secs(1))),
            now,
            now,
        );
        assert_eq!(c.not_before(), None);
        c.observe(
            &no().with_retry_after(Some(Duration::from_secs(30))),
            now,
            now,
        );
        assert_eq!(c.not_before(), Some(now + Duration::from_secs(30)));
        let spent = Feedback::from_status(
            200,
            &[("RateLimit", r#""d";r=0;t=50"#)],
            std::time::SystemTime::now(),
        );
        c.observe(&spent, now, now);
        assert_eq!(c.not_before(), Some(now + Duration::from_secs(50)));
        c.observe(
            &ok(),
            now + Duration::from_secs(51),
            now + Duration::from_secs(51),
        );
        assert_eq!(c.not_before(), None);
        c.observe(&no().with_retry_after(Some(Duration::MAX)), now, now);
        assert_eq!(c.not_before(), Some(now + MAX_HOLD));
    }

    #[test]
    fn unpaced_start_seeds_from_retry_after() {
        let c = AdaptiveRate::new().initial(None);
        let now = Instant::now();
        assert_eq!((c.rate(), c.interval()), (None, None));
        c.observe(&ok(), now, now);
        c.observe(&ok(), now, now);
        assert_eq!(c.rate(), None);
        c.observe(
            &no().with_retry_after(Some(Duration::from_secs(4))),
            now,
            now,
        );
        assert_eq!(c.rate(), Some(0.25));
    }

    #[test]
    fn tunables_bound_everything_and_ignore_junk() {
        let c = AdaptiveRate::new()
            .initial(Some(f64::NAN))
            .floor(f64::NEG_INFINITY)
            .ceiling(f64::NAN)
            .floor(0.5)
            .ceiling(3.0);
        let mut now = Instant::now();
        assert_eq!(c.rate(), Some(1.0));
        c.observe(&ok(), now, now);
        pass(&c, &mut now, 10);
        assert_eq!(c.rate(), Some(3.0));
        for _ in 0..10 {
            now += Duration::from_secs(100);
            c.observe(&no(), now, now);
        }
        assert_eq!(c.rate(), Some(0.5));
        let fresh = c.fresh();
        assert_eq!(fresh.rate(), Some(1.0));
        let mut now = Instant::now();
        fresh.observe(&ok(), now, now);
        pass(&fresh, &mut now, 10);
        assert_eq!(fresh.rate(), Some(3.0), "same ceiling");
    }
}
