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
//! - **Cut**: a throttle at `good` itself means the limit fell (or another client shares
//!   it): halve the rate at once, forget `good` until three attempts pass at the new rate,
//!   and keep the probe backoff (the limit just fell, not rose). At most one cut per
//!   interval, so the attempts already in flight when the limit fell do not cut it again.
//! - **Attempts that do not use the rate prove nothing**: an accepted attempt counts only
//!   when it came within 1.5 intervals of the previous one (the client was actually sending
//!   at that pace). An idle client does not "learn" that the server takes more and then
//!   flood it when work arrives (RFC 7661's congestion-window validation, for rates).
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
//!   above it. (Unless the server refused attempts at or below that rate: then it still
//!   searches, under the advertised rate.) When the advertised rate changes, the old
//!   refusals are forgotten and it jumps to the new one.
//! - `X-RateLimit-Limit` has no window: the window is taken as the longest reset seen
//!   (a window's reset counts down from the window's length), refreshed each window.
//! - Requests remaining and the reset: with some left, the pace is capped so they last
//!   until the reset; with none left and a reset longer than one interval plus the one-second
//!   resolution of the field, nothing starts before the reset ([`AdaptiveRate::not_before`]).
//! - `Retry-After` longer than one interval plus that second holds every attempt until then,
//!   not only the refused one (a wait of a second or less at a pace of about one a second is
//!   the rounding of the next slot, not a pause). Holds are capped at one hour.
//!
//! Tunables: the initial rate (or none: pace nothing until the first throttle or hint), a
//! floor and a ceiling, which win over everything else.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::ratelimit::{Feedback, Hints};

#[cfg(feature = "tokio")]
type Instant = tokio::time::Instant;
#[cfg(not(feature = "tokio"))]
type Instant = std::time::Instant;

/// The first guess when nothing is known: one request per second, the coarsest rate that
/// whole-second rate-limit fields describe without fractions.
const DEFAULT_INITIAL: f64 = 1.0;
/// The cut when the limit falls.
const BETA: f64 = 0.5;
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
/// An accepted attempt counts when it came within this many intervals of the previous one.
const PACED: f64 = 1.5;
/// The resolution of delay-seconds fields: waits up to one interval plus this are rounding.
const FIELD_RESOLUTION: Duration = Duration::from_secs(1);
/// The longest hold a server can impose.
const MAX_HOLD: Duration = Duration::from_secs(3600);
/// The fastest rate ever returned: one request per nanosecond.
const MAX_RATE: f64 = 1e9;

/// A rate controller that learns the server's limit from how attempts went, for a pacer to
/// follow. See the [module docs](self) for the algorithm and why.
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
/// rate.observe(&Feedback::from_status(200, &fields, std::time::SystemTime::now()), now);
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
    last_seen: Option<Instant>,
    last_cut: Option<Instant>,
    /// The server's advertised sustained rate.
    hint: Option<f64>,
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
        self.lock().published
    }

    /// The interval between attempts a GCRA pacer should use now; `None` paces nothing.
    pub fn interval(&self) -> Option<Duration> {
        self.rate().and_then(interval_of)
    }

    /// No attempt should start before this instant: the server asked for a pause
    /// (`Retry-After`, or no requests remaining until a reset) longer than the pace explains.
    pub fn not_before(&self) -> Option<Instant> {
        self.lock().hold
    }

    /// Learns from one attempt: `feedback` is how it went, `now` when its response came.
    /// Emits a `tracing` event (target `backoff::adaptive`, level DEBUG) when the rate
    /// changes.
    pub fn observe(&self, feedback: &Feedback, now: Instant) {
        let config = &self.config;
        let mut s = self.lock();
        let paced = match (s.last_seen, s.published.and_then(interval_of)) {
            (Some(prev), Some(interval)) => {
                now.saturating_duration_since(prev) <= interval.mul_f64(PACED)
            }
            _ => false,
        };
        s.last_seen = Some(max_instant(s.last_seen, now));
        let mut reason = s.learn_hints(&feedback.hints, now, config);
        if feedback.throttled {
            reason = s.throttled(feedback, now, config).or(reason);
        } else if paced {
            reason = s.accepted(config).or(reason);
        }
        s.search = s.search.map(|r| config.clamp(r));
        if s.budget.is_some_and(|(_, until)| now >= until) {
            s.budget = None;
        }
        if s.hold.is_some_and(|until| now >= until) {
            s.hold = None;
        }
        let rate = s.effective(config);
        if rate != s.published {
            s.published = rate;
            tracing::event!(
                target: "backoff::adaptive",
                tracing::Level::DEBUG,
                rate = rate.unwrap_or(0.0),
                interval = ?rate.and_then(interval_of),
                reason = reason.unwrap_or("hint"),
                "paced rate changed",
            );
        }
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
    fn start(config: &Config) -> State {
        State {
            search: config.initial,
            slow_start: true,
            gap: GAP,
            step: MIN_STEP,
            published: config.initial.map(|r| config.clamp(r)),
            ..State::default()
        }
    }

    /// The fastest the search may go: the ceiling and the server's advertised rate.
    fn cap(&self, config: &Config) -> f64 {
        self.hint.unwrap_or(f64::INFINITY).min(config.ceiling)
    }

    fn effective(&self, config: &Config) -> Option<f64> {
        let rate = min_opt(self.search, self.hint)?;
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
                if self.streak < self.gap || good >= cap {
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

    fn throttled(
        &mut self,
        feedback: &Feedback,
        now: Instant,
        config: &Config,
    ) -> Option<&'static str> {
        self.streak = 0;
        let Some(rate) = self.search else {
            // Unpaced until now: the server's Retry-After, or one per second, is the guess.
            let guess = feedback
                .hints
                .retry_after
                .filter(|w| !w.is_zero())
                .map_or(DEFAULT_INITIAL, |w| 1.0 / w.as_secs_f64());
            self.search = Some(guess.min(self.cap(config)));
            self.slow_start = false;
            self.last_cut = Some(now);
            return Some("first throttle");
        };
        let interval = interval_of(rate).unwrap_or_default();
        if self
            .last_cut
            .is_some_and(|cut| now.saturating_duration_since(cut) < interval)
        {
            return None;
        }
        self.last_cut = Some(now);
        self.step = MIN_STEP;
        if self.slow_start {
            self.slow_start = false;
            self.bad = Some(rate);
            match self.good {
                Some(good) if good < rate => self.search = Some(good),
                _ => {
                    self.good = None;
                    self.search = Some(rate * BETA);
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
            _ => {
                self.bad = Some(rate);
                self.good = None;
                self.search = Some(rate * BETA);
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
        // The sustained rate: a quota with its window, or `X-RateLimit-Limit` over the longest
        // reset seen in the current window.
        let advertised = hints.limit.and_then(|quota| {
            quota.rate().or_else(|| {
                let reset = hints.reset.filter(|r| !r.is_zero())?;
                let window = match self.window {
                    Some((w, seen))
                        if now.saturating_duration_since(seen) <= w + FIELD_RESOLUTION =>
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
                    self.search = Some(hint.min(config.ceiling));
                    self.good = self.search;
                    self.slow_start = false;
                    self.streak = 0;
                    reason = Some("advertised rate");
                }
            }
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
            .or_else(|| hints.reset.filter(|_| hints.remaining == Some(0)));
        if let Some(pause) = pause.filter(|p| *p > pace.saturating_add(FIELD_RESOLUTION)) {
            let until = now + pause.min(MAX_HOLD);
            self.hold = Some(self.hold.map_or(until, |h| h.max(until)));
            reason = Some("server asked for a pause");
        }
        // Make what remains last until the reset.
        if let (Some(left), Some(reset)) = (hints.remaining, hints.reset)
            && left > 0
            && !reset.is_zero()
        {
            let rate = left as f64 / reset.as_secs_f64();
            self.budget = Some((rate, now + reset.min(MAX_HOLD)));
        }
        reason
    }
}

impl Config {
    fn clamp(&self, rate: f64) -> f64 {
        rate.min(self.ceiling).max(self.floor).min(MAX_RATE)
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
            c.observe(&ok(), *now);
        }
    }

    #[test]
    fn slow_start_doubles_until_the_first_throttle() {
        let c = AdaptiveRate::new();
        let mut now = Instant::now();
        c.observe(&ok(), now); // the first attempt proves nothing
        assert_eq!(c.rate(), Some(1.0));
        pass(&c, &mut now, 3);
        assert_eq!(c.rate(), Some(8.0));
        now += c.interval().unwrap();
        c.observe(&no(), now);
        assert_eq!(c.rate(), Some(4.0), "back to the last rate accepted");
    }

    #[test]
    fn probes_back_off_and_return_to_good() {
        let c = AdaptiveRate::new();
        let mut now = Instant::now();
        c.observe(&ok(), now);
        pass(&c, &mut now, 1);
        now += c.interval().unwrap();
        c.observe(&no(), now); // at 2/s: good 1, bad 2
        assert_eq!(c.rate(), Some(1.0));
        pass(&c, &mut now, GAP as usize);
        let probe = c.rate().unwrap();
        assert!(probe > 1.0 && probe < 2.0, "{probe}");
        now += c.interval().unwrap();
        c.observe(&no(), now);
        assert_eq!(c.rate(), Some(1.0));
        // The next probe waits twice as long.
        pass(&c, &mut now, 2 * GAP as usize - 1);
        assert_eq!(c.rate(), Some(1.0));
        pass(&c, &mut now, 1);
        assert!(c.rate().unwrap() > 1.0);
    }

    #[test]
    fn a_throttle_at_the_proven_rate_halves_it() {
        let c = AdaptiveRate::new().initial(Some(4.0));
        let mut now = Instant::now();
        c.observe(&ok(), now);
        pass(&c, &mut now, 1);
        now += c.interval().unwrap();
        c.observe(&no(), now);
        assert_eq!(c.rate(), Some(4.0));
        now += c.interval().unwrap();
        c.observe(&no(), now);
        assert_eq!(c.rate(), Some(2.0));
        // A second throttle within one interval of the cut does not cut again.
        c.observe(&no(), now + Duration::from_millis(100));
        assert_eq!(c.rate(), Some(2.0));
    }

    #[test]
    fn idle_successes_prove_nothing() {
        let c = AdaptiveRate::new();
        let mut now = Instant::now();
        for _ in 0..10 {
            now += Duration::from_secs(10);
            c.observe(&ok(), now);
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
        c.observe(&hinted(r#""d";q=5;w=1"#), now);
        assert_eq!(c.rate(), Some(5.0));
        for _ in 0..100 {
            now += c.interval().unwrap();
            c.observe(&hinted(r#""d";q=5;w=1"#), now);
        }
        assert_eq!(c.rate(), Some(5.0), "never probes above the policy");
        c.observe(&hinted(r#""d";q=2;w=1"#), now);
        assert_eq!(c.rate(), Some(2.0));
        c.observe(&hinted(r#""d";q=3;w=1"#), now);
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
        c.observe(&no().with_retry_after(Some(Duration::from_secs(1))), now);
        assert_eq!(c.not_before(), None);
        c.observe(&no().with_retry_after(Some(Duration::from_secs(30))), now);
        assert_eq!(c.not_before(), Some(now + Duration::from_secs(30)));
        let spent = Feedback::from_status(
            200,
            &[("RateLimit", r#""d";r=0;t=50"#)],
            std::time::SystemTime::now(),
        );
        c.observe(&spent, now);
        assert_eq!(c.not_before(), Some(now + Duration::from_secs(50)));
        c.observe(&ok(), now + Duration::from_secs(51));
        assert_eq!(c.not_before(), None);
        c.observe(&no().with_retry_after(Some(Duration::MAX)), now);
        assert_eq!(c.not_before(), Some(now + MAX_HOLD));
    }

    #[test]
    fn unpaced_start_seeds_from_retry_after() {
        let c = AdaptiveRate::new().initial(None);
        let now = Instant::now();
        assert_eq!((c.rate(), c.interval()), (None, None));
        c.observe(&ok(), now);
        c.observe(&ok(), now);
        assert_eq!(c.rate(), None);
        c.observe(&no().with_retry_after(Some(Duration::from_secs(4))), now);
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
        c.observe(&ok(), now);
        pass(&c, &mut now, 10);
        assert_eq!(c.rate(), Some(3.0));
        for _ in 0..10 {
            now += Duration::from_secs(100);
            c.observe(&no(), now);
        }
        assert_eq!(c.rate(), Some(0.5));
    }
}
