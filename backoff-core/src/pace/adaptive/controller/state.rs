//! The controller's state machine: its settings, what it has learned, and how each
//! attempt's feedback moves it (slow start, probes, throttles, the server's fields).

use std::time::Duration;

use super::drain::Drain;
use crate::hints::{Feedback, Hints, Quota};

#[cfg(feature = "tokio")]
type Instant = tokio::time::Instant;
#[cfg(not(feature = "tokio"))]
type Instant = std::time::Instant;

/// The first guess when nothing is known: one request per second, the coarsest rate that
/// whole-second rate-limit fields describe without fractions.
pub(super) const DEFAULT_INITIAL: f64 = 1.0;
/// The cut when the limit falls.
pub(super) const BETA: f64 = 0.5;
/// The step down after a first throttle at the proven rate: the edge of the limit.
pub(super) const EDGE: f64 = 0.97;
/// Accepted attempts in a row that prove a rate.
pub(super) const CONFIRM: u32 = 3;
/// A bucket proven to hold at least this many requests is deep: pausing below its limit
/// stores tokens that let a probe above it pass for a while.
pub(super) const DEEP: f64 = 2.0;
/// From this many refusals in a row on, the pace after a refusal is this share of its bound.
pub(super) const IN_A_ROW: u32 = 3;
pub(super) const FAST_DESCENT: f64 = 0.6;
/// A refusal at a pace more than this many times the average rate accepted since the first
/// start: slow start rode a deep bucket's stored tokens far above its limit. From the second
/// refusal in a row on, the pace then goes to this share of its bound, and no faster than
/// that average.
pub(super) const OVERSHOOT: f64 = 4.0;
pub(super) const OVERSHOT_IN_A_ROW: u32 = 2;
pub(super) const OVERSHOT_DESCENT: f64 = 0.5;
/// Accepted attempts at `good` before the first probe, and the most the probe backoff waits.
pub(super) const GAP: u32 = 8;
pub(super) const MAX_GAP: u32 = 256;
/// A probe's first and largest increase.
pub(super) const MIN_STEP: f64 = 0.05;
pub(super) const MAX_STEP: f64 = 1.0;
/// While `good` and `bad` are further apart than this ratio, probes bisect.
pub(super) const BISECT_ABOVE: f64 = 1.25;
/// A refusal at the advertised rate uses this much less of it, down to half.
pub(super) const SHAVE: f64 = 0.98;
pub(super) const MIN_MARGIN: f64 = 0.5;
/// An accepted attempt counts when it came within this many intervals of the previous one.
pub(super) const PACED: f64 = 1.5;
/// The resolution of delay-seconds fields: waits up to one interval plus this are rounding.
pub(super) const FIELD_RESOLUTION: Duration = Duration::from_secs(1);
/// The longest wait a server can impose by default: a hold, or the interval of a rate that a
/// response pushes the pacer to.
pub(super) const MAX_HOLD: Duration = Duration::from_secs(3600);
/// The shortest such cap that may be set.
pub(super) const MIN_MAX_HOLD: Duration = Duration::from_secs(1);
/// The longest `Retry-After` read as the refill of a bucket (and so as a bound on its rate):
/// a longer one is a pause, the reset of a window or a quota, which says nothing about the
/// rate once it is over. A minute: per-minute limits are the slowest whose reset is their
/// interval.
pub(super) const MAX_TOLD: Duration = Duration::from_secs(60);
/// The fastest rate ever returned, one request per nanosecond, and the slowest, one per
/// 11.6 days (halving never runs the interval out of range).
pub(super) const MAX_RATE: f64 = 1e9;
pub(super) const MIN_RATE: f64 = 1e-6;

#[derive(Clone, Copy, Debug)]
pub(super) struct Config {
    pub(super) initial: Option<f64>,
    pub(super) floor: f64,
    pub(super) ceiling: f64,
    /// The longest wait a server can impose.
    pub(super) max_hold: Duration,
}

#[derive(Debug, Default)]
pub(super) struct ControllerState {
    /// The searched rate; `None` before anything is known with no initial rate.
    pub(super) search: Option<f64>,
    /// The largest rate seen accepted, `None` while the current one is unproven.
    pub(super) good: Option<f64>,
    /// The smallest rate seen refused since the limit last went up.
    pub(super) bad: Option<f64>,
    pub(super) slow_start: bool,
    /// Accepted, paced attempts in a row at the current rate.
    pub(super) streak: u32,
    pub(super) gap: u32,
    pub(super) step: f64,
    /// The latest start of an attempt observed, and of an accepted one.
    pub(super) last_sent: Option<Instant>,
    pub(super) last_accepted: Option<Instant>,
    /// The smoothed response time.
    pub(super) rtt: Option<Duration>,
    /// The attempts since the refusal that opened the current drain window: the bucket held
    /// less than one token then, so every token the server gave since was earned at its rate.
    pub(super) drain: Option<Drain>,
    /// The first attempt's start and the accepted attempts since: what the server's bucket
    /// gave from the start, for a bound on its depth.
    pub(super) first_sent: Option<Instant>,
    pub(super) accepted_total: u32,
    /// How many requests the server's bucket holds at least (its burst); 1 until refusals
    /// prove more.
    pub(super) depth: f64,
    /// Refusals since the last accepted attempt, and the latest start of one.
    pub(super) refused_in_row: u32,
    /// A refusal came at a pace far above the average accepted since the first start, and
    /// no descent has ended since.
    pub(super) overshot: bool,
    pub(super) last_refused: Option<Instant>,
    /// When the searched rate last changed.
    pub(super) changed_at: Option<Instant>,
    /// The server's advertised sustained rate.
    pub(super) hint: Option<f64>,
    /// The share of the advertised rate used: shaved when the server refuses it (its clock
    /// and ours disagree, or another client shares the quota).
    pub(super) margin: f64,
    /// For `X-RateLimit-Limit`: the longest reset seen, and when.
    pub(super) window: Option<(Duration, Instant)>,
    /// A cap so the requests remaining last until the reset: (rate, until).
    pub(super) budget: Option<(f64, Instant)>,
    pub(super) hold: Option<Instant>,
    /// The rate last published (for the change event).
    pub(super) published: Option<f64>,
}

pub(super) fn interval_of(rate: f64) -> Option<Duration> {
    (rate > 0.0)
        .then(|| Duration::try_from_secs_f64(1.0 / rate.min(MAX_RATE)).ok())
        .flatten()
}

pub(super) fn max_instant(a: Option<Instant>, b: Instant) -> Instant {
    a.map_or(b, |a| a.max(b))
}

pub(super) fn min_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl ControllerState {
    /// Drops a cap on the rate or a hold that has run out.
    pub(super) fn expire(&mut self, now: Instant) {
        if self.budget.is_some_and(|(_, until)| now >= until) {
            self.budget = None;
        }
        if self.hold.is_some_and(|until| now >= until) {
            self.hold = None;
        }
    }

    /// Publishes the effective rate; tells whether it changed.
    pub(super) fn publish(&mut self, config: &Config, reason: &'static str) -> bool {
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

    pub(super) fn start(config: &Config) -> ControllerState {
        ControllerState {
            search: config.initial,
            slow_start: true,
            gap: GAP,
            step: MIN_STEP,
            margin: 1.0,
            depth: 1.0,
            published: config.initial.map(|r| config.clamp(r)),
            ..ControllerState::default()
        }
    }

    /// The share of the advertised rate to use.
    pub(super) fn advertised(&self) -> Option<f64> {
        self.hint.map(|h| h * self.margin)
    }

    /// The fastest the search may go: the ceiling and the server's advertised rate.
    pub(super) fn cap(&self, config: &Config) -> f64 {
        self.advertised()
            .unwrap_or(f64::INFINITY)
            .min(config.ceiling)
    }

    pub(super) fn effective(&self, config: &Config) -> Option<f64> {
        let rate = min_opt(self.search, self.advertised())?;
        let rate = min_opt(Some(rate), self.budget.map(|(b, _)| b))?;
        Some(config.clamp(rate))
    }

    /// A probe above `good`: bisect a wide bracket, else step.
    pub(super) fn probe(&self, good: f64, config: &Config) -> f64 {
        let stepped = good * (1.0 + self.step);
        let next = match self.bad {
            Some(bad) if bad > good * BISECT_ABOVE => (good * bad).sqrt(),
            Some(bad) if stepped > bad => good * (1.0 + MIN_STEP),
            _ => stepped,
        };
        next.min(self.cap(config))
    }

    /// The accepted attempts in a row that prove a probe at `rate` above `good`: three, or on
    /// a deep bucket, enough to drain what it may have stored (its depth less the token in
    /// use) had the limit stayed at `good`.
    pub(super) fn confirm(&self, rate: f64, good: f64) -> f64 {
        let drain = (self.depth - 1.0) * rate / (rate - good);
        drain.max(f64::from(CONFIRM))
    }

    pub(super) fn accepted(&mut self, config: &Config) -> Option<&'static str> {
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
                if f64::from(self.streak) < self.confirm(rate, good) {
                    return None;
                }
                self.good = Some(rate);
                if self.bad.is_some_and(|b| b <= rate) {
                    // The limit went up: the drain window's count is of the old one.
                    self.bad = None;
                    self.drain = None;
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
                // On a deep bucket, a probe above the limit passes until the tokens stored
                // meanwhile are spent, and is refused all the same: space them by its depth.
                let in_flight = self.rtt.map_or(0.0, |rtt| good * rtt.as_secs_f64());
                let gap = (f64::from(self.gap) * in_flight.max(1.0) * self.depth)
                    .min(f64::from(u32::MAX));
                if f64::from(self.streak) < gap || good >= cap {
                    return None;
                }
                self.streak = 0;
                // On a deep bucket, `bad` is what its refusals proved: a probe above it is
                // refused unless the limit rose. Skip it, and wait twice as long for the next.
                if self.depth >= DEEP && self.bad.is_some_and(|b| good * (1.0 + MIN_STEP) > b) {
                    self.gap = self.gap.saturating_mul(2).min(MAX_GAP);
                    return None;
                }
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
    pub(super) fn throttled(
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
                None if told.is_none() => {
                    // Refused before a rate was proven (nothing accepted, or only the first
                    // attempt, which paces nothing): most often the bucket's last token went
                    // to another client (a probe, a health check) a moment before; the edge
                    // of the limit, not a limit below it. A second refusal before the rate is
                    // proven halves (the `None` arm below).
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
            // On a deep bucket, a refusal before the rate is proven is no sign that the limit
            // fell: its stored tokens ran out. What the refusals bound (below) takes the pace
            // down instead of a blind halving, which let the bucket fill again and hid the
            // limit from every probe back up (1.2-1.6 x the ideal time).
            None if self.depth >= DEEP && told.is_none() => {
                self.bad = Some(rate);
                self.search = Some(rate * EDGE);
                Some("edge of a deep bucket")
            }
            None => {
                // The limit fell. Halve from the rate refused before, at most 3 % over this
                // one: the step under the edge was a hedge for timing, and the pace after a
                // fall should not depend on whether the first refusal came at the edge.
                let from = self.bad.map_or(rate, |b| b.min(rate / EDGE)).max(rate);
                self.bad = Some(rate);
                self.search = Some(cut(from));
                self.slow_start = told_cut(from).is_some();
                Some("cut")
            }
        }
    }

    /// Takes in what the response said; returns a reason when the search state jumped.
    pub(super) fn learn_hints(
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
    pub(super) fn clamp(&self, rate: f64) -> f64 {
        let slowest = 1.0 / self.max_hold.as_secs_f64();
        rate.max(slowest)
            .min(self.ceiling)
            .max(self.floor)
            .clamp(MIN_RATE, MAX_RATE)
    }
}
