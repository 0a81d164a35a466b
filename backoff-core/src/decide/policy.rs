//! What a caller configures ([`Policy`]) and what each decision reads of it ([`Rules`]).

use std::fmt;
use std::time::Duration;

use tracing::Level;

use super::log::{Line, LineKind, LogTo, on};
use super::verdict::{Action, Verdict};
use crate::budget::RetryBudget;
use crate::jitter::Jitter;

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
    /// `None`: an hour.
    pub retry_after_max: Option<Duration>,
    /// The retry budget shared with other calls: each call's first attempt deposits into it,
    /// each retry withdraws; when it is spent, a failure that would be retried gives up.
    pub budget: Option<RetryBudget>,
}

/// The longest server-requested wait honoured when nothing else caps it (`max_value` on the
/// attribute and the builder, [`Policy::retry_after_max`]): an hour. A server can ask for
/// more (a `Retry-After` of a year, by mistake or malice); a run never sleeps longer than
/// this on its word.
pub(crate) const MAX_SERVER_WAIT: Duration = Duration::from_secs(3600);

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

impl Policy {
    /// The policy as the decisions read it.
    #[inline]
    pub(crate) fn rules<'a>(&'a self, target: &'a str) -> Rules<'a> {
        Rules {
            target,
            max_tries: self.max_tries,
            max_time: self.max_time,
            backoff_log_level: self.backoff_log_level,
            giveup_log_level: self.giveup_log_level,
            seed: self.seed,
            retry_after_max: self.retry_after_max,
            budget: self.budget.as_ref(),
        }
    }
}

/// What every decision of a run reads and none changes: a [`Policy`] without its jitter,
/// borrowed. The attribute's expansion rebuilds it at each decision from its literals (which
/// costs nothing) and from the values it evaluated once per call; so none of it is kept in
/// the caller's future.
#[derive(Clone, Copy, Debug)]
pub struct Rules<'a> {
    /// The retried function's name.
    pub target: &'a str,
    /// [`Policy::max_tries`].
    pub max_tries: Option<u32>,
    /// [`Policy::max_time`].
    pub max_time: Option<Duration>,
    /// [`Policy::backoff_log_level`].
    pub backoff_log_level: Option<Level>,
    /// [`Policy::giveup_log_level`].
    pub giveup_log_level: Option<Level>,
    /// [`Policy::seed`].
    pub seed: Option<u64>,
    /// [`Policy::retry_after_max`].
    pub retry_after_max: Option<Duration>,
    /// [`Policy::budget`].
    pub budget: Option<&'a RetryBudget>,
}

impl<'a> Rules<'a> {
    /// The defaults of [`Policy::default`] for `target`.
    #[must_use]
    pub const fn new(target: &'a str) -> Self {
        Rules {
            target,
            max_tries: None,
            max_time: None,
            backoff_log_level: Some(Level::INFO),
            giveup_log_level: Some(Level::ERROR),
            seed: None,
            retry_after_max: None,
            budget: None,
        }
    }

    /// The decision after an attempt, `tries` counting it; `elapsed` excludes queueing.
    /// `next` gives the wait before the next attempt (the generator's, jittered, or the
    /// server's), or `None` when the generator is exhausted; it is called only when the
    /// verdict and the limits let the run go on.
    ///
    /// The part a success takes is always inlined: a first-try success costs a count and a
    /// comparison, whatever the rest of the rules say.
    #[inline(always)]
    pub(crate) fn decide(
        &self,
        tries: &mut u32,
        verdict: Verdict,
        elapsed: Duration,
        mut shown: &dyn fmt::Display,
        next: impl FnOnce(u32) -> Option<Duration>,
    ) -> Action {
        *tries = tries.saturating_add(1);
        if *tries == 1
            && let Some(budget) = self.budget
        {
            budget.deposit();
        }
        match verdict {
            Verdict::Success => Action::Success,
            Verdict::Propagate => Action::Propagate,
            Verdict::GiveUp => self.give_up(*tries, &mut shown),
            Verdict::Retry => self.retry(*tries, elapsed, &mut shown, next),
        }
    }

    /// A failure worth retrying: the limits, the next wait, the budget, the log line.
    ///
    /// Only the call of `next` is generic: the rest is in fns of its own, compiled once for
    /// every annotated fn (in a dev build, where nothing is inlined, each fn's copy of this
    /// one is a few lines).
    #[inline]
    pub(crate) fn retry(
        &self,
        tries: u32,
        elapsed: Duration,
        log: &mut impl LogTo<'a>,
        next: impl FnOnce(u32) -> Option<Duration>,
    ) -> Action {
        let Some(remaining) = self.remaining(tries, elapsed) else {
            return self.give_up(tries, log);
        };
        let Some(wait) = next(tries) else {
            return self.give_up(tries, log);
        };
        self.back_off(tries, wait.min(remaining), log)
    }

    /// What remains of `max_time` for the next wait; `None` when `max_tries` or `max_time`
    /// ends the run.
    #[inline]
    fn remaining(&self, tries: u32, elapsed: Duration) -> Option<Duration> {
        if self.max_tries.is_some_and(|max| tries >= max) {
            return None;
        }
        match self.max_time {
            Some(max) => max.checked_sub(elapsed).filter(|left| !left.is_zero()),
            None => Some(Duration::MAX),
        }
    }

    /// A retry that the limits allow: the budget's say, then the log line.
    #[inline]
    fn back_off(&self, tries: u32, wait: Duration, log: &mut impl LogTo<'a>) -> Action {
        if let Some(budget) = self.budget
            && !budget.withdraw()
        {
            return self.budget_spent(tries, log);
        }
        if let Some(level) = self.backoff_log_level
            && on(level)
        {
            log.line(Line {
                kind: LineKind::Backoff(wait),
                level,
                target: self.target,
                tries,
            });
        }
        Action::Backoff(wait)
    }

    /// A server-requested wait, cut to `retry_after_max` (an hour when unset).
    #[inline]
    pub(crate) fn server(&self, wait: Duration) -> Duration {
        wait.min(self.retry_after_max.unwrap_or(MAX_SERVER_WAIT))
    }

    #[inline]
    pub(crate) fn give_up(&self, tries: u32, log: &mut impl LogTo<'a>) -> Action {
        if let Some(level) = self.giveup_log_level
            && on(level)
        {
            log.line(Line {
                kind: LineKind::GiveUp,
                level,
                target: self.target,
                tries,
            });
        }
        Action::GiveUp
    }

    /// Gives up a retry that the limits allowed but the budget did not.
    #[inline]
    fn budget_spent(&self, tries: u32, log: &mut impl LogTo<'a>) -> Action {
        if let Some(level) = self.giveup_log_level
            && on(level)
        {
            log.line(Line {
                kind: LineKind::BudgetSpent,
                level,
                target: self.target,
                tries,
            });
        }
        Action::GiveUp
    }
}
