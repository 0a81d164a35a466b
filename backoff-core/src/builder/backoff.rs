//! [`Backoff`], the retry policy the builder starts from, and the functions that make one
//! per wait generator.

use std::sync::Arc;

use tracing::Level;

use crate::budget::RetryBudget;
use crate::decide::Policy;
use crate::jitter::Jitter;
use crate::secs::IntoSeconds;
use crate::wait::{Constant, Decay, Expo, Fibo, Intervals, Runtime};

use super::run::Conf;

/// A retry policy: a wait generator `W` with its limits, jitter and logging. It does not
/// depend on the operation; [`retry`](Backoff::retry) or
/// [`retry_blocking`](Backoff::retry_blocking) takes the operation and returns a [`Retry`](super::Retry)
/// on which the rest is chained.
///
/// `retry` consumes the policy, so nothing is copied per run; clone it to run it again (a
/// clone is cheap: the generator, a few numbers, and reference counts for closures).
///
// Awaiting a run needs tokio (the default feature); without it the example is not run.
#[cfg_attr(feature = "tokio", doc = "```")]
#[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let mut calls = 0;
/// let result: Result<u32, &str> = backoff_core::expo()
///     .max_tries(3)
///     .jitter(backoff_core::Jitter::None)
///     .retry(|| {
///         calls += 1;
///         let n = calls;
///         async move { if n < 3 { Err("busy") } else { Ok(n) } }
///     })
///     .await;
/// assert_eq!(result, Ok(3));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Backoff<W> {
    pub(super) wait: W,
    pub(super) conf: Conf,
}

/// Exponential waits `factor * base^n`: 1, 2, 4, 8… seconds by default.
///
/// Python's `backoff.expo(base=2, factor=1, max_value=None)`. Bad numbers never panic: a
/// value that is NaN or negative waits zero, one that overflows waits [`Duration::MAX`](std::time::Duration::MAX)
/// (before `max_value` caps it).
#[inline]
pub fn expo() -> Backoff<Expo> {
    Backoff::new(Expo::default())
}

/// Fibonacci waits 1, 1, 2, 3, 5… seconds (Python's `backoff.fibo`). Saturates, never
/// overflows.
#[inline]
pub fn fibo() -> Backoff<Fibo> {
    Backoff::new(Fibo::default())
}

/// The same wait between every attempt (Python's `backoff.constant(interval=1)`).
#[inline]
pub fn constant(interval: impl IntoSeconds) -> Backoff<Constant> {
    Backoff::new(Constant::new(interval.into_duration()))
}

/// A finite list of waits; the run gives up when it runs out (Python's
/// `backoff.constant(interval=[...])`).
pub fn intervals<I: IntoIterator>(waits: I) -> Backoff<Intervals>
where
    I::Item: IntoSeconds,
{
    Backoff::new(Intervals::new(waits))
}

/// Waits that decay: `initial_value * e^(-t * decay_factor)`, floored at `min_value`
/// (upstream's unreleased `backoff.decay`).
#[inline]
pub fn decay() -> Backoff<Decay> {
    Backoff::new(Decay::default())
}

/// Waits computed from the failed outcome (Python's `backoff.runtime(value=...)`), given the
/// whole outcome (`&Result<T, E>` for a fallible operation). Returning `None` gives up.
/// For a server's `Retry-After` on top of another generator, see
/// [`Retry::retry_after`](super::Retry::retry_after).
pub fn runtime<F>(value: F) -> Backoff<Runtime<F>> {
    Backoff::new(Runtime(value))
}

impl<W> Backoff<W> {
    /// A policy around any wait generator, with Python's defaults: no limits, full jitter,
    /// logging on. (A `Retry-After` is capped only by [`max_value`](Backoff::max_value) set
    /// through the builder, as the attribute caps it by `max_value`.)
    #[inline]
    pub fn new(wait: W) -> Self {
        Backoff {
            wait,
            conf: Conf::new(),
        }
    }
}

impl Backoff<Expo> {
    /// The base of the exponent (default 2).
    #[inline]
    pub fn base(mut self, base: impl Into<f64>) -> Self {
        self.wait.base = base.into();
        self
    }
    /// The multiplier, in seconds (default 1).
    #[inline]
    pub fn factor(mut self, factor: impl IntoSeconds) -> Self {
        self.wait.factor = factor.into_duration().as_secs_f64();
        self
    }
    /// The cap: once a wait is not below it, every later wait is this. It caps a server's
    /// `Retry-After` too, as the attribute's `max_value` does.
    #[inline]
    pub fn max_value(mut self, max_value: impl IntoSeconds) -> Self {
        let max = max_value.into_duration();
        self.wait.max_value = Some(max);
        self.conf.retry_after_max = Some(max);
        self
    }
}

impl Backoff<Fibo> {
    /// The cap: once a wait is not below it, every later wait is this. It caps a server's
    /// `Retry-After` too, as the attribute's `max_value` does.
    #[inline]
    pub fn max_value(mut self, max_value: impl IntoSeconds) -> Self {
        let max = max_value.into_duration();
        self.wait.max_value = Some(max);
        self.conf.retry_after_max = Some(max);
        self
    }
}

impl Backoff<Decay> {
    /// The first wait, in seconds (default 1).
    pub fn initial_value(mut self, value: impl IntoSeconds) -> Self {
        self.wait.initial_value = value.into_duration().as_secs_f64();
        self
    }
    /// How fast the waits shrink (default 1).
    pub fn decay_factor(mut self, factor: impl Into<f64>) -> Self {
        self.wait.decay_factor = factor.into();
        self
    }
    /// The floor.
    pub fn min_value(mut self, min_value: impl IntoSeconds) -> Self {
        self.wait.min_value = Some(min_value.into_duration());
        self
    }
}

impl<W> Backoff<W> {
    /// At most this many attempts in all. `0` acts as `1`: the first attempt always runs and
    /// nothing can loop forever (Python loops forever on `max_tries=0`).
    #[inline]
    pub fn max_tries(mut self, max_tries: u32) -> Self {
        self.conf.max_tries = Some(max_tries);
        if self
            .conf
            .rare
            .as_ref()
            .is_some_and(|rare| rare.max_tries.is_some())
        {
            self.conf.rare_with(|rare| rare.max_tries = None);
        }
        self
    }

    /// Give up once this much time has passed; the last wait is cut to what remains.
    #[inline]
    pub fn max_time(mut self, max_time: impl IntoSeconds) -> Self {
        self.conf.max_time = Some(max_time.into_duration());
        if self
            .conf
            .rare
            .as_ref()
            .is_some_and(|rare| rare.max_time.is_some())
        {
            self.conf.rare_with(|rare| rare.max_time = None);
        }
        self
    }

    /// `max_tries` computed at the start of each run (Python's callable `max_tries`).
    pub fn max_tries_with(mut self, f: impl Fn() -> u32 + Send + Sync + 'static) -> Self {
        self.conf
            .rare_with(|rare| rare.max_tries = Some(Arc::new(f)));
        self
    }

    /// `max_time` computed at the start of each run (Python's callable `max_time`), in
    /// seconds or as a `Duration`, saturating as [`max_time`](Backoff::max_time) does.
    pub fn max_time_with<S: IntoSeconds>(
        mut self,
        f: impl Fn() -> S + Send + Sync + 'static,
    ) -> Self {
        self.conf
            .rare_with(|rare| rare.max_time = Some(Arc::new(move || f().into_duration())));
        self
    }

    /// The jitter (default [`Jitter::Full`]).
    ///
    /// A [`Jitter::Custom`] function is kept with the callable limits
    /// ([`max_tries_with`](Backoff::max_tries_with), [`max_time_with`](Backoff::max_time_with))
    /// behind one shared pointer, so that a policy without them is plain numbers: setting one
    /// allocates once per policy. Build such a policy once and clone it for each run (a clone
    /// allocates nothing).
    #[inline]
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.conf.set_jitter(jitter);
        self
    }

    /// Seeds the jitter's randomness so a run is reproducible.
    #[inline]
    pub fn seed(mut self, seed: u64) -> Self {
        self.conf.seed = Some(seed);
        self
    }

    /// The name in log lines and [`Details::target`](crate::Details::target) (default
    /// `retry`).
    #[inline]
    pub fn target(mut self, target: &'static str) -> Self {
        self.conf.target = target;
        self
    }

    /// The level of "Backing off" events (default INFO); `None` silences them.
    #[inline]
    pub fn backoff_log_level(mut self, level: Option<Level>) -> Self {
        self.conf.backoff_log_level = level;
        self
    }

    /// The level of "Giving up" events (default ERROR); `None` silences them.
    #[inline]
    pub fn giveup_log_level(mut self, level: Option<Level>) -> Self {
        self.conf.giveup_log_level = level;
        self
    }

    /// A retry budget shared with other runs (the attribute's `budget = ...`): each run's
    /// first attempt deposits into it and never depends on it; a retry that everything else
    /// allows withdraws from it, and when it is spent the run gives up at once (its
    /// `on_giveup` handlers run and its last outcome is returned). The handle is cheap to
    /// clone: every policy that names the same budget shares it.
    ///
    // Awaiting a run needs tokio (the default feature); without it the example is not run.
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let budget = backoff_core::RetryBudget::new(0.2).min_per_sec(0.0);
    /// let result: Result<(), &str> = backoff_core::expo()
    ///     .max_tries(5)
    ///     .budget(&budget)
    ///     .retry(|| async { Err("down") })
    ///     .await;
    /// assert_eq!(result, Err("down")); // gave up after one try: 0.2 of a token is no retry
    /// # }
    /// ```
    #[inline]
    pub fn budget(mut self, budget: &RetryBudget) -> Self {
        self.conf.budget = Some(budget.clone());
        self
    }

    /// A fresh run of this policy for a loop of one's own, its callable limits evaluated now.
    #[cfg(feature = "tower")]
    pub(crate) fn state(&self) -> crate::decide::State<W>
    where
        W: Clone,
    {
        let mut conf = self.conf.clone();
        conf.resolve_limits();
        crate::decide::State::new(conf.target, self.wait.clone(), conf.policy())
    }

    /// The policy as configured (the callable limits, [`max_tries_with`](Backoff::max_tries_with)
    /// and [`max_time_with`](Backoff::max_time_with), are not in it).
    pub fn policy(&self) -> Policy {
        self.conf.policy()
    }
}
