//! The builder's policy as it is kept ([`Conf`]), and what a run changes between attempts
//! ([`Progress`]).
//!
//! This is the attribute's split ([`Run`] and [`Rules`]) for values known only at run time:
//! the run keeps its tries, the generator, what the jitter remembers and the time queued; the
//! policy stays where the builder put it (in the retry future, or in the `Retry` a blocking
//! call runs) and each decision ([`Run::decide`], the attribute's) borrows it. A success is
//! decided inline, by a count and a comparison; only a failure builds the rules and reaches
//! the generator and the jitter.
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
use crate::decide::{Policy, Queued, Rules, Run};
use crate::jitter::named::{Decorrelated, Equal, Full, Random};
use crate::jitter::{Jitter, Spread};
use crate::wait::schedule::Stored;

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
    pub(crate) fn rules(&self) -> Rules<'_> {
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
}

/// The builder's jitter, as the decisions apply it: by name, or the function in [`Rare`].
///
/// This repeats [`Jitter`]'s dispatch on purpose: going through `self.jitter().spread(..)`
/// instead made the builder's retry path 1.5x slower (sync 16.9 -> 25.6 ns, async 34 -> 45 ns
/// with two failures), the temporary `Jitter` not folding away.
impl Spread for Conf {
    type Memory = Option<(Duration, Duration)>;

    #[inline]
    fn spread(
        &self,
        v: Duration,
        memory: &mut Self::Memory,
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

/// One builder run: the attribute's [`Run`], its progress the whole generator `W`, its
/// memory the decorrelated jitter's, its queue the time queued for a pacer. Each decision is
/// [`Run::decide`] with the [`Conf`]'s rules and jitter.
pub(crate) type Progress<W> = Run<W, <Conf as Spread>::Memory, Queued>;

/// The constant parts of a decision, as [`Run::decide`] asks for them: the rules (with the
/// policy's budget) and the generator, kept whole in the run.
#[inline]
pub(crate) fn parts<W>(conf: &Conf) -> (Rules<'_>, Stored<W>) {
    (conf.rules(), Stored::new())
}
