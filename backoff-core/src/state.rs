//! The per-attempt decisions that the attribute's expansion and the builder share: after each
//! attempt, succeed, give up, or back off for how long; with Python's logging.

use std::fmt;
use std::time::Duration;

use tracing::Level;

use crate::budget::RetryBudget;
use crate::jitter::{Jitter, JitterState};
use crate::wait::Wait;

/// The limits, jitter and logging of a retry loop; the part of a configuration that is not
/// the wait generator. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Attempts in all (Python's `max_tries`); `None` for no limit. `Some(0)` acts as `Some(1)`.
    pub max_tries: Option<u32>,
    /// The whole run's time budget, measured on a monotonic clock when each attempt ends: the
    /// time spent in attempts and backoff waits, not the time queued for a pacer.
    pub max_time: Option<Duration>,
    /// How each generated wait is randomised.
    pub jitter: Jitter,
    /// Level of the "Backing off" event; `None` to silence it.
    pub backoff_log_level: Option<Level>,
    /// Level of the "Giving up" event; `None` to silence it.
    pub giveup_log_level: Option<Level>,
    /// Seed for the jitter's randomness; `None` draws from the thread's generator.
    pub seed: Option<u64>,
    /// The longest server-requested wait (`Retry-After`) to honour; longer ones are cut to it.
    pub retry_after_max: Option<Duration>,
    /// The retry budget shared with other calls: each call's first attempt deposits into it,
    /// each retry withdraws; when it is spent, a failure that would be retried gives up.
    pub budget: Option<RetryBudget>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_tries: None,
            max_time: None,
            jitter: Jitter::Full,
            backoff_log_level: Some(Level::INFO),
            giveup_log_level: Some(Level::ERROR),
            seed: None,
            retry_after_max: None,
            budget: None,
        }
    }
}

/// How the caller judged one attempt's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a failure: return it (after `on_success`).
    Success,
    /// A failure worth retrying, if the limits allow.
    Retry,
    /// A permanent failure (Python's `giveup(e)` was true): give up now.
    GiveUp,
    /// An error the loop does not handle (Python: an exception outside `exception`): return it
    /// at once, with no handler called and nothing logged.
    Propagate,
}

/// What the loop does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Call the `on_success` handlers and return the outcome.
    Success,
    /// Call the `on_backoff` handlers, sleep this long, try again.
    Backoff(Duration),
    /// Call the `on_giveup` handlers and return the outcome unchanged.
    GiveUp,
    /// Return the outcome unchanged; no handlers.
    Propagate,
}

/// What every handler receives: Python's `details` dict, typed.
#[derive(Debug)]
#[non_exhaustive]
pub struct Details<'a, R: ?Sized> {
    /// The retried function's name.
    pub target: &'a str,
    /// Attempts made so far, this one included.
    pub tries: u32,
    /// Time since the run started, taken when this attempt ended, less the time queued for a
    /// pacer ([`State::add_queued`]): the time spent in attempts and backoff waits. (The
    /// attribute reads the clock only when something needs it: `max_time` or a handler.)
    pub elapsed: Duration,
    /// The wait before the next attempt (`on_backoff` only).
    pub wait: Option<Duration>,
    /// The judged outcome: the attempt's whole return value (`Result`, `bool`, `Option`…).
    pub outcome: &'a R,
}

impl<T, E> Details<'_, Result<T, E>> {
    /// The error, when the outcome is an `Err` (Python's `details["exception"]`).
    pub fn error(&self) -> Option<&E> {
        self.outcome.as_ref().err()
    }

    /// The value, when the outcome is an `Ok` (Python's `details["value"]`).
    pub fn value(&self) -> Option<&T> {
        self.outcome.as_ref().ok()
    }
}

/// One run of a retry loop: tries so far, the generator, the jitter's randomness.
///
/// The loop (the attribute's expansion, or [`Backoff`](crate::Backoff)) runs an attempt,
/// measures the elapsed time, judges the outcome and calls [`decide`](State::decide); then it
/// calls the handlers that the [`Action`] names and sleeps or returns.
#[derive(Debug)]
pub struct State<W> {
    target: &'static str,
    wait: W,
    policy: Policy,
    tries: u32,
    jitter: JitterState,
    /// Time queued for a pacer so far: not time spent failing.
    queued: Duration,
}

impl<W> State<W> {
    /// A fresh run of `target` (the function's name, for logs and handlers).
    pub fn new(target: &'static str, wait: W, policy: Policy) -> Self {
        let jitter = JitterState::new(policy.seed);
        State {
            target,
            wait,
            policy,
            tries: 0,
            jitter,
            queued: Duration::ZERO,
        }
    }

    /// Records time spent queued for a pacer (`Pacer::ready` and
    /// [`Pacer::ready_blocking`](crate::Pacer::ready_blocking) return it). Queueing is not failing: the `elapsed` that [`decide`](State::decide) and
    /// [`details`](State::details) receive is taken as the time since the run started, and
    /// the total queued is subtracted from it (saturating), so `max_time`, the cut of waits to
    /// it and [`Details::elapsed`] measure attempts and backoff waits only.
    pub fn add_queued(&mut self, d: Duration) {
        self.queued = self.queued.saturating_add(d);
    }

    /// Attempts decided so far.
    pub fn tries(&self) -> u32 {
        self.tries
    }

    /// The policy this run follows.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The details for a handler, about the attempt just decided; `elapsed` is the time since
    /// the run started (the time queued for a pacer is taken off).
    pub fn details<'a, R: ?Sized>(
        &'a self,
        outcome: &'a R,
        elapsed: Duration,
        wait: Option<Duration>,
    ) -> Details<'a, R> {
        Details {
            target: self.target,
            tries: self.tries,
            elapsed: elapsed.saturating_sub(self.queued),
            wait,
            outcome,
        }
    }

    /// Decides what follows an attempt that ended `elapsed` after the run started (the time
    /// queued for a pacer is taken off).
    ///
    /// `shown` describes the outcome in log lines. Logging happens here, before the caller
    /// runs the user's handlers, as in Python.
    pub fn decide<R: ?Sized>(
        &mut self,
        outcome: &R,
        verdict: Verdict,
        elapsed: Duration,
        shown: &dyn fmt::Display,
    ) -> Action
    where
        W: Wait<R>,
    {
        self.decide_with_hint(outcome, verdict, elapsed, shown, || None)
    }

    /// [`decide`](State::decide), with a server-requested wait (`Retry-After`): when `hint`
    /// gives one, it replaces the generator's jittered wait, cut to
    /// [`Policy::retry_after_max`] and to what remains of `max_time`. It is asked only when
    /// the run goes on: the limits, the verdict and the generator's exhaustion still end it.
    ///
    /// With a [`Policy::budget`], a call's first decided attempt deposits into it (whatever
    /// its verdict), and a retry that everything else allows withdraws from it; when the budget
    /// is spent the run gives up ([`Action::GiveUp`], logged as "retry budget exhausted").
    pub fn decide_with_hint<R: ?Sized>(
        &mut self,
        outcome: &R,
        verdict: Verdict,
        elapsed: Duration,
        shown: &dyn fmt::Display,
        hint: impl FnOnce() -> Option<Duration>,
    ) -> Action
    where
        W: Wait<R>,
    {
        let elapsed = elapsed.saturating_sub(self.queued);
        self.tries = self.tries.saturating_add(1);
        if self.tries == 1
            && let Some(budget) = &self.policy.budget
        {
            budget.deposit();
        }
        match verdict {
            Verdict::Success => return Action::Success,
            Verdict::Propagate => return Action::Propagate,
            Verdict::GiveUp => return self.give_up(shown),
            Verdict::Retry => {}
        }
        let out_of_tries = self.policy.max_tries.is_some_and(|max| self.tries >= max);
        let remaining = match self.policy.max_time {
            Some(max) if elapsed >= max => return self.give_up(shown),
            Some(max) => max - elapsed,
            None => Duration::MAX,
        };
        if out_of_tries {
            return self.give_up(shown);
        }
        let Some(value) = self.wait.next_wait(outcome) else {
            return self.give_up(shown);
        };
        let wait = match hint() {
            Some(server) => server.min(self.policy.retry_after_max.unwrap_or(Duration::MAX)),
            None => self.jitter.apply(&self.policy.jitter, value),
        }
        .min(remaining);
        if let Some(budget) = &self.policy.budget
            && !budget.withdraw()
        {
            return self.budget_spent(shown);
        }
        if let Some(level) = self.policy.backoff_log_level {
            log_backoff(level, self.target, wait, shown);
        }
        Action::Backoff(wait)
    }

    fn give_up(&self, shown: &dyn fmt::Display) -> Action {
        if let Some(level) = self.policy.giveup_log_level {
            log_giveup(level, self.target, self.tries, shown);
        }
        Action::GiveUp
    }

    /// Gives up a retry that the limits allowed but the budget did not.
    fn budget_spent(&self, shown: &dyn fmt::Display) -> Action {
        if let Some(level) = self.policy.giveup_log_level {
            log_budget_spent(level, self.target, self.tries, shown);
        }
        Action::GiveUp
    }
}

macro_rules! at_level {
    ($level:expr, $($rest:tt)*) => {
        match $level {
            Level::TRACE => tracing::event!(target: "backoff", Level::TRACE, $($rest)*),
            Level::DEBUG => tracing::event!(target: "backoff", Level::DEBUG, $($rest)*),
            Level::INFO => tracing::event!(target: "backoff", Level::INFO, $($rest)*),
            Level::WARN => tracing::event!(target: "backoff", Level::WARN, $($rest)*),
            Level::ERROR => tracing::event!(target: "backoff", Level::ERROR, $($rest)*),
        }
    };
}

fn log_backoff(level: Level, target: &str, wait: Duration, shown: &dyn fmt::Display) {
    at_level!(
        level,
        function = target,
        wait_s = wait.as_secs_f64(),
        "Backing off {target}(...) for {:.1}s ({shown})",
        wait.as_secs_f64()
    );
}

fn log_giveup(level: Level, target: &str, tries: u32, shown: &dyn fmt::Display) {
    at_level!(
        level,
        function = target,
        tries,
        "Giving up {target}(...) after {tries} tries ({shown})"
    );
}

fn log_budget_spent(level: Level, target: &str, tries: u32, shown: &dyn fmt::Display) {
    at_level!(
        level,
        function = target,
        tries,
        budget_exhausted = true,
        "Giving up {target}(...) after {tries} tries: retry budget exhausted ({shown})"
    );
}

/// Describes an outcome for the log: `Debug` where the type has it.
pub struct Shown<'a>(pub &'a dyn fmt::Debug);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

/// Describes an outcome whose type has no `Debug`: its type name in angle brackets.
pub struct Opaque(pub &'static str);

impl fmt::Display for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.0)
    }
}
