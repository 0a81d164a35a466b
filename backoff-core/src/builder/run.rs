//! The builder's policy as it is kept ([`Conf`]), what a run changes between attempts
//! ([`Progress`]), and the decision after each attempt.
//!
//! This is the attribute's split ([`Run`](crate::state::Run) and [`Rules`](crate::state::Rules))
//! for values known only at run time: the run keeps its tries, what the jitter remembers and
//! the time queued; the policy stays where the builder put it (in the retry future, or in
//! the `Retry` a blocking call runs) and each decision borrows it. A success is decided
//! inline, by a count and a comparison; only a failure reaches the rules, the generator and
//! the jitter.
//!
//! The policy is kept so that the optimiser can see through it: plain numbers, the named
//! jitter as one byte, and only two fields that need dropping (the budget, and one pointer to
//! what is rarely set: a jitter function, callable limits). With a [`Policy`] inside (whose
//! jitter may hold an `Arc`) and two `Arc<dyn Fn>` limits, the drop glue of a `Backoff` was
//! not inlined, so every policy was built in memory and dropped through a call: a first-try
//! success of the builder took 17 ns where `backon`'s took 3.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tracing::Level;

use crate::budget::RetryBudget;
use crate::jitter::named::{Decorrelated, Equal, Full, Random};
use crate::jitter::{Jitter, Spread, unit_draw};
use crate::state::{Action, Details, Policy, Rules, Shown, Verdict};
use crate::wait::Wait;

/// A builder's policy, but for the generator.
#[derive(Clone)]
pub(crate) struct Conf {
    pub(crate) target: &'static str,
    pub(crate) max_tries: Option<u32>,
    pub(crate) max_time: Option<Duration>,
    pub(crate) retry_after_max: Option<Duration>,
    pub(crate) seed: Option<u64>,
    pub(crate) backoff_log_level: Option<Level>,
    pub(crate) giveup_log_level: Option<Level>,
    pub(crate) jitter: Named,
    pub(crate) budget: Option<RetryBudget>,
    /// A jitter function and callable limits, when set.
    pub(crate) rare: Option<Arc<Rare>>,
}

/// The jitter, by name; a function lives in [`Rare`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Named {
    None,
    Full,
    Random,
    Equal,
    Decorrelated,
    Custom,
}

/// What a policy rarely has: each is reference-counted, so a clone of the policy is cheap.
#[derive(Clone, Default)]
pub(crate) struct Rare {
    pub(crate) jitter: Option<Arc<dyn Fn(Duration) -> Duration + Send + Sync>>,
    /// Python's callable `max_tries`, evaluated once per run.
    pub(crate) max_tries: Option<Arc<dyn Fn() -> u32 + Send + Sync>>,
    /// Python's callable `max_time`, evaluated once per run.
    pub(crate) max_time: Option<Arc<dyn Fn() -> Duration + Send + Sync>>,
}

impl Rare {
    fn is_empty(&self) -> bool {
        self.jitter.is_none() && self.max_tries.is_none() && self.max_time.is_none()
    }
}

impl Conf {
    /// Python's defaults: no limits, full jitter, logging on.
    #[inline]
    pub(crate) const fn new() -> Self {
        Conf {
            target: "retry",
            max_tries: None,
            max_time: None,
            retry_after_max: None,
            seed: None,
            backoff_log_level: Some(Level::INFO),
            giveup_log_level: Some(Level::ERROR),
            jitter: Named::Full,
            budget: None,
            rare: None,
        }
    }

    /// Changes what is rarely set; nothing left, nothing kept.
    #[cold]
    pub(crate) fn rare_with(&mut self, change: impl FnOnce(&mut Rare)) {
        let mut rare = self
            .rare
            .take()
            .map(Arc::unwrap_or_clone)
            .unwrap_or_default();
        change(&mut rare);
        if !rare.is_empty() {
            self.rare = Some(Arc::new(rare));
        }
    }

    /// Sets the jitter.
    #[inline]
    pub(crate) fn set_jitter(&mut self, jitter: Jitter) {
        self.jitter = match jitter {
            Jitter::None => Named::None,
            Jitter::Full => Named::Full,
            Jitter::Random => Named::Random,
            Jitter::Equal => Named::Equal,
            Jitter::Decorrelated => Named::Decorrelated,
            Jitter::Custom(f) => {
                self.rare_with(|rare| rare.jitter = Some(f));
                return self.jitter = Named::Custom;
            }
        };
        if self.rare.as_ref().is_some_and(|rare| rare.jitter.is_some()) {
            self.rare_with(|rare| rare.jitter = None);
        }
    }

    /// The jitter as a [`Jitter`].
    fn jitter(&self) -> Jitter {
        match self.jitter {
            Named::None => Jitter::None,
            Named::Full => Jitter::Full,
            Named::Random => Jitter::Random,
            Named::Equal => Jitter::Equal,
            Named::Decorrelated => Jitter::Decorrelated,
            Named::Custom => match self.rare.as_ref().and_then(|rare| rare.jitter.clone()) {
                Some(f) => Jitter::Custom(f),
                None => Jitter::None,
            },
        }
    }

    /// This policy as a [`Policy`] (the callable limits are not in it).
    pub(crate) fn policy(&self) -> Policy {
        Policy {
            max_tries: self.max_tries,
            max_time: self.max_time,
            jitter: self.jitter(),
            backoff_log_level: self.backoff_log_level,
            giveup_log_level: self.giveup_log_level,
            seed: self.seed,
            retry_after_max: self.retry_after_max,
            budget: self.budget.clone(),
        }
    }

    /// Evaluates the callable limits, if any (Python evaluates them once per call, before the
    /// first attempt).
    #[inline]
    pub(crate) fn resolve_limits(&mut self) {
        if let Some(rare) = &self.rare {
            if let Some(f) = &rare.max_tries {
                self.max_tries = Some(f());
            }
            if let Some(f) = &rare.max_time {
                self.max_time = Some(f());
            }
        }
    }

    /// The policy as the decisions read it.
    #[inline]
    fn rules(&self) -> Rules<'_> {
        Rules {
            target: self.target,
            max_tries: self.max_tries,
            max_time: self.max_time,
            backoff_log_level: self.backoff_log_level,
            giveup_log_level: self.giveup_log_level,
            seed: self.seed,
            retry_after_max: self.retry_after_max,
            budget: self.budget.as_ref(),
        }
    }

    /// The jittered wait for a generated wait `v`.
    #[inline]
    fn spread(
        &self,
        v: Duration,
        memory: &mut Option<(Duration, Duration)>,
        unit: impl FnOnce() -> f64,
    ) -> Duration {
        match self.jitter {
            Named::None => v,
            Named::Full => Full.spread(v, &mut (), unit),
            Named::Random => Random.spread(v, &mut (), unit),
            Named::Equal => Equal.spread(v, &mut (), unit),
            Named::Decorrelated => Decorrelated.spread(v, memory, unit),
            Named::Custom => match self.rare.as_ref().and_then(|rare| rare.jitter.as_ref()) {
                Some(f) => f(v),
                None => v,
            },
        }
    }
}

impl fmt::Debug for Conf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rare = self.rare.as_deref();
        f.debug_struct("Conf")
            .field("target", &self.target)
            .field("policy", &self.policy())
            .field(
                "max_tries_with",
                &rare.and_then(|r| r.max_tries.as_ref()).map(|_| ".."),
            )
            .field(
                "max_time_with",
                &rare.and_then(|r| r.max_time.as_ref()).map(|_| ".."),
            )
            .finish()
    }
}

/// One builder run: tries so far, decorrelated jitter's memory, time queued for a pacer. (The
/// generator is kept beside it, where the builder put it.)
#[derive(Debug, Default)]
pub(crate) struct Progress {
    tries: u32,
    /// For `Jitter::Decorrelated`: the first generated wait and the previous wait.
    memory: Option<(Duration, Duration)>,
    /// Time queued for a pacer, in nanoseconds (saturating): not time spent failing.
    queued: u64,
}

impl Progress {
    /// Records time queued for a pacer, as [`State::add_queued`](crate::State::add_queued).
    #[inline]
    pub(crate) fn add_queued(&mut self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.queued = self.queued.saturating_add(nanos);
    }

    #[inline]
    fn queued(&self) -> Duration {
        Duration::from_nanos(self.queued)
    }

    /// The details for a handler about the attempt just decided.
    #[inline]
    pub(crate) fn details<'a, R: ?Sized>(
        &self,
        target: &'a str,
        outcome: &'a R,
        elapsed: Duration,
        wait: Option<Duration>,
    ) -> Details<'a, R> {
        Details {
            target,
            tries: self.tries,
            elapsed: elapsed.saturating_sub(self.queued()),
            wait,
            outcome,
        }
    }

    /// The decision after an attempt: [`State::decide_with_hint`](crate::State::decide_with_hint)'s
    /// semantics, with the policy borrowed. `hint` (the server's wait) is asked only when the
    /// run goes on.
    #[inline(always)]
    pub(crate) fn decide<W: Wait<R>, R: fmt::Debug>(
        &mut self,
        wait: &mut W,
        conf: &Conf,
        verdict: Verdict,
        outcome: &R,
        elapsed: Duration,
        hint: impl FnOnce() -> Option<Duration>,
    ) -> Action {
        // What `Rules::decide` does with a success, without building the rules.
        self.tries = self.tries.saturating_add(1);
        if self.tries == 1
            && let Some(budget) = &conf.budget
        {
            budget.deposit();
        }
        match verdict {
            Verdict::Success => Action::Success,
            Verdict::Propagate => Action::Propagate,
            Verdict::GiveUp => conf.rules().give_up(self.tries, &Shown(outcome)),
            Verdict::Retry => self.retry(wait, conf, outcome, elapsed, hint),
        }
    }

    /// A failure worth retrying: the limits, the generator, the jitter or the server's wait.
    #[inline]
    fn retry<W: Wait<R>, R: fmt::Debug>(
        &mut self,
        wait: &mut W,
        conf: &Conf,
        outcome: &R,
        elapsed: Duration,
        hint: impl FnOnce() -> Option<Duration>,
    ) -> Action {
        let rules = conf.rules();
        let elapsed = elapsed.saturating_sub(self.queued());
        let memory = &mut self.memory;
        rules.retry(self.tries, elapsed, &Shown(outcome), |tries| {
            let value = wait.next_wait(outcome)?;
            Some(match hint() {
                Some(server) => rules.server(server),
                None => conf.spread(value, memory, || unit_draw(rules.seed, tries)),
            })
        })
    }
}
