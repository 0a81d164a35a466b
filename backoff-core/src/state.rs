//! The per-attempt decisions that the attribute's expansion and the builder share: after each
//! attempt, succeed, give up, or back off for how long; with Python's logging.

use std::fmt;
use std::time::Duration;

use tracing::Level;

use crate::budget::RetryBudget;
use crate::jitter::{Jitter, JitterState, Spread, unit_draw};
use crate::wait::{Schedule, Wait};

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

/// Whether anything may record an event at `level`: with no subscriber, or one whose
/// maximum level is below it, a log line costs this one check, and the outcome is never
/// formatted. (A subscriber that filters per event is asked by `tracing` itself, still
/// before any formatting.)
#[inline]
fn on(level: Level) -> bool {
    level <= tracing::level_filters::STATIC_MAX_LEVEL
        && level <= tracing::level_filters::LevelFilter::current()
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

/// One run of a retry loop of your own: tries so far, the generator, the jitter's randomness,
/// and the [`Policy`], with the decisions the attribute and the builder make.
///
/// Your loop runs an attempt, measures the elapsed time, judges the outcome and calls
/// [`decide`](State::decide); then it calls the handlers that the [`Action`] names and sleeps
/// or returns. (The attribute's expansion and [`Backoff`](crate::Backoff) keep the same
/// decisions split in two, the constant part read in place and only what changes in the run:
/// see [`Run`].)
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
    /// gives one, cut to [`Policy::retry_after_max`], the generator's jittered wait is added
    /// to it (never earlier than the server said; callers told the same wait spread out after
    /// it), and the sum is cut to what remains of `max_time`. It is asked only when
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
        if let Verdict::Success | Verdict::Propagate = verdict {
            // What `Rules::decide` does with these, without building the rules.
            self.tries = self.tries.saturating_add(1);
            if self.tries == 1
                && let Some(budget) = &self.policy.budget
            {
                budget.deposit();
            }
            return match verdict {
                Verdict::Success => Action::Success,
                _ => Action::Propagate,
            };
        }
        let elapsed = elapsed.saturating_sub(self.queued);
        let rules = self.policy.rules(self.target);
        let (wait, jitter) = (&mut self.wait, &mut self.jitter);
        rules.decide(&mut self.tries, verdict, elapsed, shown, |_| {
            let value = wait.next_wait(outcome)?;
            let own = jitter.apply(&self.policy.jitter, value);
            Some(match hint() {
                Some(server) => rules.server(server).saturating_add(own),
                None => own,
            })
        })
    }
}

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

/// Where a decision's log line goes.
pub(crate) trait LogTo<'a> {
    fn line(&mut self, line: Line<'a>);
}

/// Written at once, with the outcome shown so.
impl<'a> LogTo<'a> for &dyn fmt::Display {
    #[inline]
    fn line(&mut self, line: Line<'a>) {
        line.write(*self);
    }
}

/// Kept for the caller.
struct Later<'a>(Option<Line<'a>>);

impl<'a> LogTo<'a> for Later<'a> {
    #[inline]
    fn line(&mut self, line: Line<'a>) {
        self.0 = Some(line);
    }
}

/// A log line a decision asked for (its level enabled), not yet written: see
/// [`Run::fail_later`].
#[derive(Clone, Copy, Debug)]
pub struct Line<'a> {
    kind: LineKind,
    level: Level,
    target: &'a str,
    tries: u32,
}

#[derive(Clone, Copy, Debug)]
enum LineKind {
    Backoff(Duration),
    GiveUp,
    BudgetSpent,
}

impl Line<'_> {
    /// Writes the line about `outcome`, which `describe` shows, and hands the outcome back.
    #[cold]
    #[inline(never)]
    pub fn emit<R>(
        self,
        outcome: R,
        describe: impl Fn(&R, &mut fmt::Formatter<'_>) -> fmt::Result,
    ) -> R {
        self.write(&Described(&outcome, describe));
        outcome
    }

    fn write(self, shown: &dyn fmt::Display) {
        match self.kind {
            LineKind::Backoff(wait) => log_backoff(self.level, self.target, wait, shown),
            LineKind::GiveUp => log_giveup(self.level, self.target, self.tries, shown),
            LineKind::BudgetSpent => {
                log_budget_spent(self.level, self.target, self.tries, shown);
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

/// An outcome shown through the expansion's `describe` (which picks `Debug` or the type's
/// name where the type is known).
struct Described<'a, R, F>(&'a R, F);

impl<R, F: Fn(&R, &mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Described<'_, R, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.1)(self.0, f)
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

#[cold]
#[inline(never)]
fn log_backoff(level: Level, target: &str, wait: Duration, shown: &dyn fmt::Display) {
    at_level!(
        level,
        function = target,
        wait_s = wait.as_secs_f64(),
        "Backing off {target}(...) for {:.1}s ({shown})",
        wait.as_secs_f64()
    );
}

#[cold]
#[inline(never)]
fn log_giveup(level: Level, target: &str, tries: u32, shown: &dyn fmt::Display) {
    at_level!(
        level,
        function = target,
        tries,
        "Giving up {target}(...) after {tries} tries ({shown})"
    );
}

#[cold]
#[inline(never)]
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

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::fmt;
    use std::time::Duration;

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    use super::{Action, Rules, Run, Shown, Unpaced, Verdict};
    use crate::jitter::named::{Decorrelated, Full};
    use crate::wait::{Constant, Expo, Fibo, Schedule, Steps};

    thread_local! {
        static DEBUGS: Cell<u32> = const { Cell::new(0) };
    }

    /// An outcome that counts how often it is formatted.
    struct Counted;

    impl fmt::Debug for Counted {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            DEBUGS.with(|c| c.set(c.get() + 1));
            f.write_str("Counted")
        }
    }

    /// Records events up to `max`, formatting every field as a real subscriber would.
    /// `hint` says whether it tells `tracing` its maximum level up front.
    struct Up {
        max: Level,
        hint: bool,
    }

    struct Format;
    impl Visit for Format {
        fn record_debug(&mut self, _: &Field, value: &dyn fmt::Debug) {
            let _ = format!("{value:?}");
        }
    }

    impl Subscriber for Up {
        fn enabled(&self, m: &Metadata<'_>) -> bool {
            *m.level() <= self.max
        }
        fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
            self.hint
                .then(|| tracing::level_filters::LevelFilter::from_level(self.max))
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, e: &Event<'_>) {
            e.record(&mut Format);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    /// Two failures (each logged "Backing off" at INFO) and a give-up at `max_tries = 3`
    /// (logged at ERROR); the number of times the outcome was formatted.
    fn run_and_count() -> u32 {
        DEBUGS.with(|c| c.set(0));
        let rules = Rules {
            max_tries: Some(3),
            ..Rules::new("f")
        };
        let mut run = Run::<u32>::new(0);
        let outcome = Counted;
        let mut actions = Vec::new();
        for _ in 0..3 {
            actions.push(run.decide(
                None,
                || (rules, Expo::default()),
                &Full,
                &outcome,
                Verdict::Retry,
                Duration::ZERO,
                &Shown(&outcome),
                |_| None,
            ));
        }
        assert!(matches!(
            actions[..],
            [Action::Backoff(_), Action::Backoff(_), Action::GiveUp]
        ));
        DEBUGS.with(Cell::get)
    }

    #[test]
    fn logging_formats_nothing_without_a_subscriber_or_below_its_level() {
        assert_eq!(run_and_count(), 0, "no subscriber");
        for hint in [true, false] {
            let warn = Up {
                max: Level::WARN,
                hint,
            };
            // The two INFO lines are skipped before any formatting; the ERROR one is
            // recorded (which shows the count works).
            let n = tracing::subscriber::with_default(warn, run_and_count);
            assert_eq!(n, 1, "max WARN, hint {hint}");
            let off = Up {
                max: Level::TRACE,
                hint,
            };
            let n = tracing::subscriber::with_default(off, run_and_count);
            assert_eq!(n, 3, "everything on, hint {hint}");
        }
    }

    #[test]
    fn a_run_keeps_only_what_changes() {
        // Tries and the generator's step; the rest is passed to each decision.
        assert_eq!(size_of::<Run<u32>>(), 8);
        assert_eq!(size_of::<Run<()>>(), 4);
        assert_eq!(size_of::<Run<u32, (), super::Queued>>(), 16);
        assert_eq!(
            size_of::<Run<u32, <Decorrelated as crate::jitter::Spread>::Memory, Unpaced>>(),
            40
        );
    }

    /// The split generators give the same waits as the whole ones (Python's sequences).
    #[test]
    fn split_generators_match_their_sequences() {
        fn take<S: Schedule<()> + Clone>(s: S, mut p: S::Progress, n: usize) -> Vec<u64> {
            (0..n)
                .map(|_| {
                    s.clone()
                        .next_wait(&mut p, &())
                        .map_or(u64::MAX, |d| d.as_secs())
                })
                .collect()
        }
        let max = Some(Duration::from_secs(5));
        assert_eq!(take(Fibo::new(max), 0, 8), [1, 1, 2, 3, 5, 5, 5, 5]);
        assert_eq!(take(Fibo::new(None), 0, 8), [1, 1, 2, 3, 5, 8, 13, 21]);
        assert_eq!(
            take(Expo::new(2.0, 1.0, Some(Duration::from_secs(10))), 0, 6),
            [1, 2, 4, 8, 10, 10]
        );
        assert_eq!(
            take(Constant::new(Duration::from_secs(2)), (), 3),
            [2, 2, 2]
        );
        let list = [Duration::from_secs(1), Duration::from_secs(3)];
        assert_eq!(take(Steps(list), 0, 3), [1, 3, u64::MAX]);
        // A saturated Fibonacci step stays cheap and saturated however far the run goes.
        let mut far = u32::MAX - 1;
        assert_eq!(
            Schedule::<()>::next_wait(Fibo::new(None), &mut far, &()),
            Some(Duration::MAX)
        );
    }

    /// A seeded run's draws depend on (seed, try) only: reproducible, and spread over [0, 1).
    #[test]
    fn seeded_draws_are_reproducible_and_spread() {
        use crate::jitter::unit_draw;
        let a: Vec<f64> = (1..=1000).map(|n| unit_draw(Some(7), n)).collect();
        let b: Vec<f64> = (1..=1000).map(|n| unit_draw(Some(7), n)).collect();
        let c: Vec<f64> = (1..=1000).map(|n| unit_draw(Some(8), n)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = a.iter().sum::<f64>() / 1000.0;
        assert!((0.45..0.55).contains(&mean), "{mean}");
        let low = a.iter().filter(|u| **u < 0.1).count();
        assert!((60..140).contains(&low), "{low}");
    }
}
