//! The builder API, for retrying without the attribute. It runs the same [`State`] machine as
//! the attribute's expansion.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tracing::Level;

use crate::jitter::Jitter;
use crate::secs::IntoSeconds;
use crate::state::{Action, Details, Policy, Shown, State, Verdict};
use crate::wait::{Constant, Decay, Expo, Fibo, Intervals, Runtime, Wait};

type Handler<R> = Arc<dyn Fn(&Details<'_, R>) + Send + Sync>;

/// Handlers typed by the outcome `R` they receive. Start from [`NoHooks`]; the first
/// `on_*` call fixes `R`.
pub struct Hooks<R: ?Sized> {
    success: Vec<Handler<R>>,
    backoff: Vec<Handler<R>>,
    giveup: Vec<Handler<R>>,
}

impl<R: ?Sized> Clone for Hooks<R> {
    fn clone(&self) -> Self {
        Hooks {
            success: self.success.clone(),
            backoff: self.backoff.clone(),
            giveup: self.giveup.clone(),
        }
    }
}

impl<R: ?Sized> fmt::Debug for Hooks<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("on_success", &self.success.len())
            .field("on_backoff", &self.backoff.len())
            .field("on_giveup", &self.giveup.len())
            .finish()
    }
}

/// No handlers yet.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHooks;

/// Handlers the builder can call for outcomes of type `R`.
pub trait HookSet<R: ?Sized> {
    /// Calls the handlers for `action` (success, backoff or give-up) in the order added.
    fn call(&self, action: Action, details: &Details<'_, R>);

    /// Whether there are no handlers at all (then nothing reads the elapsed time).
    fn is_empty(&self) -> bool;
}

impl<R: ?Sized> HookSet<R> for NoHooks {
    fn call(&self, _: Action, _: &Details<'_, R>) {}

    fn is_empty(&self) -> bool {
        true
    }
}

impl<R: ?Sized> HookSet<R> for Hooks<R> {
    fn call(&self, action: Action, details: &Details<'_, R>) {
        let list = match action {
            Action::Success => &self.success,
            Action::Backoff(_) => &self.backoff,
            Action::GiveUp => &self.giveup,
            Action::Propagate => return,
        };
        for handler in list {
            handler(details);
        }
    }

    fn is_empty(&self) -> bool {
        self.success.is_empty() && self.backoff.is_empty() && self.giveup.is_empty()
    }
}

/// A retry configuration: a wait generator `W`, a [`Policy`] and handlers `H`.
///
/// ```
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
pub struct Backoff<W, H = NoHooks> {
    wait: W,
    policy: Policy,
    target: &'static str,
    hooks: H,
    limits: Limits,
}

/// Limits evaluated once per run (Python's callable `max_tries`/`max_time`).
#[derive(Clone, Default)]
struct Limits {
    max_tries: Option<Arc<dyn Fn() -> u32 + Send + Sync>>,
    max_time: Option<Arc<dyn Fn() -> Duration + Send + Sync>>,
}

impl fmt::Debug for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limits")
            .field("max_tries", &self.max_tries.as_ref().map(|_| ".."))
            .field("max_time", &self.max_time.as_ref().map(|_| ".."))
            .finish()
    }
}

/// Exponential waits `factor * base^n`: 1, 2, 4, 8… seconds by default.
///
/// Python's `backoff.expo(base=2, factor=1, max_value=None)`. Bad numbers never panic: a
/// value that is NaN or negative waits zero, one that overflows waits [`Duration::MAX`]
/// (before `max_value` caps it).
pub fn expo() -> Backoff<Expo> {
    Backoff::new(Expo::default())
}

/// Fibonacci waits 1, 1, 2, 3, 5… seconds (Python's `backoff.fibo`). Saturates, never
/// overflows.
pub fn fibo() -> Backoff<Fibo> {
    Backoff::new(Fibo::default())
}

/// The same wait between every attempt (Python's `backoff.constant(interval=1)`).
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
pub fn decay() -> Backoff<Decay> {
    Backoff::new(Decay::default())
}

/// Waits computed from the failed outcome (Python's `backoff.runtime(value=...)`): the hook
/// for a server's `Retry-After`. Returning `None` gives up.
pub fn runtime<F>(value: F) -> Backoff<Runtime<F>> {
    Backoff::new(Runtime(value))
}

impl<W> Backoff<W> {
    /// A configuration around any wait generator, with Python's defaults: no limits, full
    /// jitter, logging on.
    pub fn new(wait: W) -> Self {
        Backoff {
            wait,
            policy: Policy::default(),
            target: "retry",
            hooks: NoHooks,
            limits: Limits::default(),
        }
    }
}

impl<H> Backoff<Expo, H> {
    /// The base of the exponent (default 2).
    pub fn base(mut self, base: impl Into<f64>) -> Self {
        self.wait.base = base.into();
        self
    }
    /// The multiplier, in seconds (default 1).
    pub fn factor(mut self, factor: impl IntoSeconds) -> Self {
        self.wait.factor = factor.into_duration().as_secs_f64();
        self
    }
    /// The cap: once a wait is not below it, every later wait is this.
    pub fn max_value(mut self, max_value: impl IntoSeconds) -> Self {
        self.wait.max_value = Some(max_value.into_duration());
        self
    }
}

impl<H> Backoff<Fibo, H> {
    /// The cap: once a wait is not below it, every later wait is this.
    pub fn max_value(mut self, max_value: impl IntoSeconds) -> Self {
        self.wait.max_value = Some(max_value.into_duration());
        self
    }
}

impl<H> Backoff<Decay, H> {
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

impl<W, H> Backoff<W, H> {
    /// At most this many attempts in all. `0` acts as `1`: the first attempt always runs and
    /// nothing can loop forever (Python loops forever on `max_tries=0`).
    pub fn max_tries(mut self, max_tries: u32) -> Self {
        self.policy.max_tries = Some(max_tries);
        self.limits.max_tries = None;
        self
    }

    /// Give up once this much time has passed; the last wait is cut to what remains.
    pub fn max_time(mut self, max_time: impl IntoSeconds) -> Self {
        self.policy.max_time = Some(max_time.into_duration());
        self.limits.max_time = None;
        self
    }

    /// `max_tries` computed at the start of each run (Python's callable `max_tries`).
    pub fn max_tries_with(mut self, f: impl Fn() -> u32 + Send + Sync + 'static) -> Self {
        self.limits.max_tries = Some(Arc::new(f));
        self
    }

    /// `max_time` computed at the start of each run (Python's callable `max_time`).
    pub fn max_time_with<S: IntoSeconds>(
        mut self,
        f: impl Fn() -> S + Send + Sync + 'static,
    ) -> Self {
        self.limits.max_time = Some(Arc::new(move || f().into_duration()));
        self
    }

    /// The jitter (default [`Jitter::Full`]).
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.policy.jitter = jitter;
        self
    }

    /// Seeds the jitter's randomness so a run is reproducible.
    pub fn seed(mut self, seed: u64) -> Self {
        self.policy.seed = Some(seed);
        self
    }

    /// The name in log lines and [`Details::target`] (default `retry`).
    pub fn target(mut self, target: &'static str) -> Self {
        self.target = target;
        self
    }

    /// The level of "Backing off" events (default INFO); `None` silences them.
    pub fn backoff_log_level(mut self, level: Option<Level>) -> Self {
        self.policy.backoff_log_level = level;
        self
    }

    /// The level of "Giving up" events (default ERROR); `None` silences them.
    pub fn giveup_log_level(mut self, level: Option<Level>) -> Self {
        self.policy.giveup_log_level = level;
        self
    }

    /// The policy as configured.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn with_hooks<R: ?Sized>(self, add: impl FnOnce(&mut Hooks<R>)) -> Backoff<W, Hooks<R>>
    where
        H: IntoHooks<R>,
    {
        let mut hooks = self.hooks.into_hooks();
        add(&mut hooks);
        Backoff {
            wait: self.wait,
            policy: self.policy,
            target: self.target,
            hooks,
            limits: self.limits,
        }
    }

    /// Adds a handler called when an attempt succeeds.
    pub fn on_success<R: ?Sized>(
        self,
        f: impl Fn(&Details<'_, R>) + Send + Sync + 'static,
    ) -> Backoff<W, Hooks<R>>
    where
        H: IntoHooks<R>,
    {
        self.with_hooks(|h| h.success.push(Arc::new(f)))
    }

    /// Adds a handler called before each wait.
    pub fn on_backoff<R: ?Sized>(
        self,
        f: impl Fn(&Details<'_, R>) + Send + Sync + 'static,
    ) -> Backoff<W, Hooks<R>>
    where
        H: IntoHooks<R>,
    {
        self.with_hooks(|h| h.backoff.push(Arc::new(f)))
    }

    /// Adds a handler called when the run gives up.
    pub fn on_giveup<R: ?Sized>(
        self,
        f: impl Fn(&Details<'_, R>) + Send + Sync + 'static,
    ) -> Backoff<W, Hooks<R>>
    where
        H: IntoHooks<R>,
    {
        self.with_hooks(|h| h.giveup.push(Arc::new(f)))
    }

    fn start(&self) -> State<W>
    where
        W: Clone,
    {
        let mut policy = self.policy.clone();
        if let Some(f) = &self.limits.max_tries {
            policy.max_tries = Some(f());
        }
        if let Some(f) = &self.limits.max_time {
            policy.max_time = Some(f());
        }
        State::new(self.target, self.wait.clone(), policy)
    }

    /// Retries an async operation while it returns `Err`, sleeping on tokio.
    #[cfg(feature = "tokio")]
    pub async fn retry<T, E, Fut>(&self, op: impl FnMut() -> Fut) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        W: Wait<Result<T, E>> + Clone,
        H: HookSet<Result<T, E>>,
        Result<T, E>: fmt::Debug,
    {
        self.retry_judged(op, judge_result).await
    }

    /// Retries an async operation while `failed` says its value is a failure (Python's
    /// `on_predicate`), sleeping on tokio.
    #[cfg(feature = "tokio")]
    pub async fn retry_while<R, Fut>(
        &self,
        op: impl FnMut() -> Fut,
        failed: impl Fn(&R) -> bool,
    ) -> R
    where
        Fut: Future<Output = R>,
        W: Wait<R> + Clone,
        H: HookSet<R>,
        R: fmt::Debug,
    {
        self.retry_judged(op, |r| judge_predicate(failed(r))).await
    }

    /// Retries an async operation judged by `judge`, sleeping on tokio.
    #[cfg(feature = "tokio")]
    pub async fn retry_judged<R, Fut>(
        &self,
        op: impl FnMut() -> Fut,
        judge: impl Fn(&R) -> Verdict,
    ) -> R
    where
        Fut: Future<Output = R>,
        W: Wait<R> + Clone,
        H: HookSet<R>,
        R: fmt::Debug,
    {
        self.retry_judged_with_sleep(op, judge, tokio::time::sleep, tokio::time::Instant::now)
            .await
    }

    /// Retries an async operation on any runtime: `sleep` waits, `now` reads that runtime's
    /// monotonic clock (any `Instant`-like type whose difference is a `Duration`).
    pub async fn retry_judged_with_sleep<R, Fut, S, I>(
        &self,
        mut op: impl FnMut() -> Fut,
        judge: impl Fn(&R) -> Verdict,
        sleep: impl Fn(Duration) -> S,
        now: impl Fn() -> I,
    ) -> R
    where
        Fut: Future<Output = R>,
        S: Future<Output = ()>,
        I: Clock,
        W: Wait<R> + Clone,
        H: HookSet<R>,
        R: fmt::Debug,
    {
        let mut state = self.start();
        let start = self.needs_clock::<R>(&state).then(&now);
        loop {
            let outcome = op().await;
            let action = self.step(&mut state, &outcome, &judge, start.as_ref(), &now);
            match action {
                Action::Backoff(wait) => sleep(wait).await,
                _ => return outcome,
            }
        }
    }

    /// Retries a blocking operation while it returns `Err`, sleeping the thread.
    pub fn retry_blocking<T, E>(&self, op: impl FnMut() -> Result<T, E>) -> Result<T, E>
    where
        W: Wait<Result<T, E>> + Clone,
        H: HookSet<Result<T, E>>,
        Result<T, E>: fmt::Debug,
    {
        self.retry_blocking_judged(op, judge_result)
    }

    /// Retries a blocking operation while `failed` says its value is a failure.
    pub fn retry_blocking_while<R>(&self, op: impl FnMut() -> R, failed: impl Fn(&R) -> bool) -> R
    where
        W: Wait<R> + Clone,
        H: HookSet<R>,
        R: fmt::Debug,
    {
        self.retry_blocking_judged(op, |r| judge_predicate(failed(r)))
    }

    /// Retries a blocking operation judged by `judge`, sleeping the thread.
    pub fn retry_blocking_judged<R>(
        &self,
        op: impl FnMut() -> R,
        judge: impl Fn(&R) -> Verdict,
    ) -> R
    where
        W: Wait<R> + Clone,
        H: HookSet<R>,
        R: fmt::Debug,
    {
        self.retry_blocking_judged_with_sleep(
            op,
            judge,
            std::thread::sleep,
            std::time::Instant::now,
        )
    }

    /// Retries a blocking operation with your own `sleep` and clock (`now`), e.g. a
    /// [`SimClock`](crate::sim::SimClock) in tests.
    pub fn retry_blocking_judged_with_sleep<R, I: Clock>(
        &self,
        mut op: impl FnMut() -> R,
        judge: impl Fn(&R) -> Verdict,
        sleep: impl Fn(Duration),
        now: impl Fn() -> I,
    ) -> R
    where
        W: Wait<R> + Clone,
        H: HookSet<R>,
        R: fmt::Debug,
    {
        let mut state = self.start();
        let start = self.needs_clock::<R>(&state).then(&now);
        loop {
            let outcome = op();
            let action = self.step(&mut state, &outcome, &judge, start.as_ref(), &now);
            match action {
                Action::Backoff(wait) => sleep(wait),
                _ => return outcome,
            }
        }
    }

    /// Elapsed time is read only by `max_time` and by handlers; without either, the clock is
    /// never read.
    fn needs_clock<R>(&self, state: &State<W>) -> bool
    where
        H: HookSet<R>,
    {
        state.policy().max_time.is_some() || !self.hooks.is_empty()
    }

    /// After an attempt: measure, decide (logging), call the handlers. Both loops use it.
    #[inline]
    fn step<R, I: Clock>(
        &self,
        state: &mut State<W>,
        outcome: &R,
        judge: impl Fn(&R) -> Verdict,
        start: Option<&I>,
        now: impl Fn() -> I,
    ) -> Action
    where
        W: Wait<R>,
        H: HookSet<R>,
        R: fmt::Debug,
    {
        let elapsed = start.map_or(Duration::ZERO, |s| now().since(s));
        let action = state.decide(outcome, judge(outcome), elapsed, &Shown(outcome));
        let wait = match action {
            Action::Backoff(wait) => Some(wait),
            _ => None,
        };
        self.hooks
            .call(action, &state.details(outcome, elapsed, wait));
        action
    }
}

fn judge_result<T, E>(outcome: &Result<T, E>) -> Verdict {
    judge_predicate(outcome.is_err())
}

fn judge_predicate(failed: bool) -> Verdict {
    if failed {
        Verdict::Retry
    } else {
        Verdict::Success
    }
}

/// Turns the builder's handlers into [`Hooks<R>`]: [`NoHooks`] becomes an empty set.
pub trait IntoHooks<R: ?Sized> {
    /// The handlers so far.
    fn into_hooks(self) -> Hooks<R>;
}

impl<R: ?Sized> IntoHooks<R> for NoHooks {
    fn into_hooks(self) -> Hooks<R> {
        Hooks {
            success: Vec::new(),
            backoff: Vec::new(),
            giveup: Vec::new(),
        }
    }
}

impl<R: ?Sized> IntoHooks<R> for Hooks<R> {
    fn into_hooks(self) -> Hooks<R> {
        self
    }
}

/// A monotonic instant: `std::time::Instant`, `tokio::time::Instant`, or your runtime's.
#[diagnostic::on_unimplemented(
    message = "a clock must give instants that `backoff::Clock` can subtract, found `{Self}`",
    label = "not an instant",
    note = "`clock = ...` returns `std::time::Instant`, `tokio::time::Instant`, `backoff::sim::SimInstant`, or your type implementing `backoff::Clock`"
)]
pub trait Clock {
    /// Time from `earlier` to `self`, zero if `earlier` is later.
    fn since(&self, earlier: &Self) -> Duration;
}

impl Clock for std::time::Instant {
    fn since(&self, earlier: &Self) -> Duration {
        self.saturating_duration_since(*earlier)
    }
}

#[cfg(feature = "tokio")]
impl Clock for tokio::time::Instant {
    fn since(&self, earlier: &Self) -> Duration {
        self.saturating_duration_since(*earlier)
    }
}
