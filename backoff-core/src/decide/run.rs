//! What the attribute's future keeps between attempts, and the decisions it makes on it.

use std::fmt;
use std::time::Duration;

use super::details::Details;
use super::log::{Later, Line, LogTo};
use super::policy::Rules;
use super::verdict::{Action, Verdict};
use crate::budget::RetryBudget;
use crate::jitter::{Spread, unit_draw};
use crate::wait::schedule::Schedule;

/// One run of the attribute's retry loop: all that its future keeps between attempts.
///
/// The tries so far, the generator's progress `P` (a `u32` for the built-in generators,
/// the whole generator for one of yours), what the jitter remembers `M` (nothing but for
/// decorrelated jitter) and the time queued for a pacer `Q` (only when the fn is paced).
/// Everything constant (the [`Rules`], the generator's parameters, the jitter) is passed
/// to [`decide`](Run::decide) instead.
#[derive(Debug)]
pub struct Run<P, M = (), Q = Unpaced> {
    tries: u32,
    progress: P,
    memory: M,
    queued: Q,
}

/// The time a run spent queued for a pacer: none.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unpaced;

/// The time a run spent queued for a pacer, in nanoseconds (saturating).
#[derive(Clone, Copy, Debug, Default)]
pub struct Queued(u64);

/// What a [`Run`] knows of time queued for a pacer.
pub trait Queue: Default {
    /// The total so far.
    fn queued(&self) -> Duration;
}

impl Queue for Unpaced {
    #[inline]
    fn queued(&self) -> Duration {
        Duration::ZERO
    }
}

impl Queue for Queued {
    #[inline]
    fn queued(&self) -> Duration {
        Duration::from_nanos(self.0)
    }
}

impl<P, M: Default, Q: Queue> Run<P, M, Q> {
    /// A fresh run from the generator's initial progress.
    #[inline]
    pub fn new(progress: P) -> Self {
        Run {
            tries: 0,
            progress,
            memory: M::default(),
            queued: Q::default(),
        }
    }

    /// Attempts decided so far.
    pub fn tries(&self) -> u32 {
        self.tries
    }

    /// The details for a handler about the attempt just decided, as [`State::details`].
    #[inline]
    pub fn details<'a, R: ?Sized>(
        &self,
        target: &'a str,
        outcome: &'a R,
        elapsed: Duration,
        wait: Option<Duration>,
    ) -> Details<'a, R> {
        Details {
            target,
            tries: self.tries,
            elapsed: elapsed.saturating_sub(self.queued.queued()),
            wait,
            outcome,
        }
    }

    /// [`State::decide_with_hint`], with the constant parts passed in: `parts` makes the
    /// `rules` and the generator's parameters (called only when the run fails: a success
    /// builds neither), `budget` is the rules' budget (deposited into by the first attempt),
    /// `jitter` the jitter. It is [`settle`](Run::settle), then [`fail`](Run::fail)
    /// (the builder decides this way).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn decide<'r, R: ?Sized, S, J>(
        &mut self,
        budget: Option<&RetryBudget>,
        parts: impl FnOnce() -> (Rules<'r>, S),
        jitter: &J,
        outcome: &R,
        verdict: Verdict,
        elapsed: Duration,
        shown: &dyn fmt::Display,
        hint: impl FnOnce(&R) -> Option<Duration>,
    ) -> Action
    where
        S: Schedule<R, Progress = P>,
        J: Spread<Memory = M>,
    {
        if self.settle(budget, verdict) {
            return settled(verdict);
        }
        self.fail(parts, jitter, outcome, verdict, || elapsed, shown, hint)
    }

    /// Counts an attempt (the first one deposits into `budget`) and says whether its verdict
    /// settles the run at once: a success, or an error to propagate. The expansion returns
    /// the outcome then, having lent it to nothing; only a failure goes on to
    /// [`fail_later`](Run::fail_later), [`failed`](Run::failed) or [`fail`](Run::fail).
    #[inline(always)]
    pub fn settle(&mut self, budget: Option<&RetryBudget>, verdict: Verdict) -> bool {
        self.tries = self.tries.saturating_add(1);
        if self.tries == 1
            && let Some(budget) = budget
        {
            budget.deposit();
        }
        matches!(verdict, Verdict::Success | Verdict::Propagate)
    }

    /// The decision after a failed attempt ([`Verdict::Retry`] or [`Verdict::GiveUp`]), the
    /// outcome lent: [`Action::Backoff`] or [`Action::GiveUp`]. Out of line, so that the
    /// loop around it stays small enough for the caller to inline (the limits are constants
    /// the optimiser would otherwise unroll the loop over).
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    pub fn failed<'r, R: ?Sized, S, J>(
        &mut self,
        parts: impl FnOnce() -> (Rules<'r>, S),
        jitter: &J,
        outcome: &R,
        verdict: Verdict,
        elapsed: Duration,
        shown: &dyn fmt::Display,
        hint: impl FnOnce(&R) -> Option<Duration>,
    ) -> Action
    where
        S: Schedule<R, Progress = P>,
        J: Spread<Memory = M>,
    {
        self.fail(parts, jitter, outcome, verdict, || elapsed, shown, hint)
    }

    /// [`failed`](Run::failed), inlined: an async fn's decision (its outcome comes out of the
    /// attempt's future through memory anyway, and a call per failure measured slower).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn fail<'r, R: ?Sized, S, J>(
        &mut self,
        parts: impl FnOnce() -> (Rules<'r>, S),
        jitter: &J,
        outcome: &R,
        verdict: Verdict,
        elapsed: impl FnOnce() -> Duration,
        mut shown: &dyn fmt::Display,
        hint: impl FnOnce(&R) -> Option<Duration>,
    ) -> Action
    where
        S: Schedule<R, Progress = P>,
        J: Spread<Memory = M>,
    {
        let tries = self.tries;
        self.fail_to(
            parts, jitter, outcome, verdict, tries, elapsed, &mut shown, hint,
        )
    }

    /// [`fail`](Run::fail) with the log line handed back instead of written: a sync fn
    /// writes it with [`Line::emit`], which takes the outcome by value, so that the outcome
    /// is lent to no call on any other path.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn fail_later<'r, R: ?Sized, S, J>(
        &mut self,
        parts: impl FnOnce() -> (Rules<'r>, S),
        jitter: &J,
        outcome: &R,
        verdict: Verdict,
        elapsed: impl FnOnce() -> Duration,
        hint: impl FnOnce(&R) -> Option<Duration>,
    ) -> (Action, Option<Line<'r>>)
    where
        S: Schedule<R, Progress = P>,
        J: Spread<Memory = M>,
    {
        let mut later = Later(None);
        // The count passes an optimisation barrier (a store and a load, on a failure only):
        // with constant limits the optimiser would otherwise know how many times the loop
        // around this runs and unroll it once per try, which makes the fn too large for its
        // caller to inline (measured: 2.2 -> 6.8 ns for a first-try success, 4.4 -> 9.2 ns
        // with two failures).
        let tries = std::hint::black_box(self.tries);
        let action = self.fail_to(
            parts, jitter, outcome, verdict, tries, elapsed, &mut later, hint,
        );
        (action, later.0)
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn fail_to<'r, R: ?Sized, S, J>(
        &mut self,
        parts: impl FnOnce() -> (Rules<'r>, S),
        jitter: &J,
        outcome: &R,
        verdict: Verdict,
        tries: u32,
        elapsed: impl FnOnce() -> Duration,
        log: &mut impl LogTo<'r>,
        hint: impl FnOnce(&R) -> Option<Duration>,
    ) -> Action
    where
        S: Schedule<R, Progress = P>,
        J: Spread<Memory = M>,
    {
        let (rules, schedule) = parts();
        match verdict {
            Verdict::Success => Action::Success,
            Verdict::Propagate => Action::Propagate,
            Verdict::GiveUp => rules.give_up(tries, log),
            Verdict::Retry => {
                let elapsed = elapsed().saturating_sub(self.queued.queued());
                let (progress, memory) = (&mut self.progress, &mut self.memory);
                rules.retry(tries, elapsed, log, |tries| {
                    let value = schedule.next_wait(progress, outcome)?;
                    let own = jitter.spread(value, memory, || unit_draw(rules.seed, tries));
                    Some(match hint(outcome) {
                        Some(server) => rules.server(server).saturating_add(own),
                        None => own,
                    })
                })
            }
        }
    }
}

/// The action of a verdict that [`Run::settle`] settled.
#[inline(always)]
fn settled(verdict: Verdict) -> Action {
    if verdict == Verdict::Success {
        Action::Success
    } else {
        Action::Propagate
    }
}

impl<P, M> Run<P, M, Queued> {
    /// Records time spent queued for a pacer, as [`State::add_queued`].
    #[inline]
    pub fn add_queued(&mut self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.queued.0 = self.queued.0.saturating_add(nanos);
    }
}
