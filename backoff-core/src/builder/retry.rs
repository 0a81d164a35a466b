//! [`Retry`]: an operation with its policy and options, and the combinators that set them;
//! awaited (async, `future.rs`) or [`call`](Retry::call)ed (blocking, `blocking.rs`). Both
//! loops make one decision after each attempt, with the attribute's rules and semantics (see
//! `run.rs`).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use crate::decide::{Action, Details, Shown, Verdict};
use crate::pace::Pacer;
use crate::secs::IntoSeconds;
use crate::wait::Wait;

use super::backoff::Backoff;
use super::clock::Clock;
use super::hooks::{HandlerOutput, Hook, NoHooks, On};
use super::markers::{Async, Blocking};
use super::parts::{
    Auto, DefaultClock, DefaultSleep, ErrorHint, ErrorJudge, Errors, Judge, Judged, Mode, NoHint,
    NoKey, NoObserve, NoPacer, Observe, ObserveOutput, OutcomeHint, Paced, Predicate,
    RetryAfterHint,
};
use super::run::{Conf, Progress, parts};

/// An operation, its policy, and how to judge, pace, sleep, time and report it: made by
/// [`Backoff::retry`] (await it) or [`Backoff::retry_blocking`] (run it with
/// [`call`](Retry::call)).
///
/// The type parameters are the options, each stored by type so nothing is boxed: the
/// policy's generator `W`, the operation `Op`, the mode `M` ([`Async`] or [`Blocking`]), the
/// judge `J`, the sleep `S`, the clock `C`, the `Retry-After` reader `A`, the pacer `P` and
/// the handlers `H`. You never write them: chain the options and await (or `call`).
///
/// An async `Retry` is [`IntoFuture`]: `.await` it, or call `.into_future()` to hand it to
/// `tokio::spawn` or `select!`. The run starts when the future is first polled, as an
/// attributed async fn's body does: callable limits are evaluated and the clock for
/// `max_time` read then. The [`RetryFuture`](super::RetryFuture) is `Send` whenever the operation, its
/// future and outcome, and the options are.
///
/// Misuse does not compile: an async handler in a blocking retry,
///
/// ```compile_fail
/// let _ = backoff_core::expo()
///     .retry_blocking(|| Err::<(), ()>(()))
///     .on_backoff(|_| async {})
///     .call();
/// ```
///
/// or judging errors of an operation that returns no `Result`:
///
/// ```compile_fail
/// # async fn run() {
/// let _ = backoff_core::expo().retry(|| async { true }).when(|_| true).await;
/// # }
/// ```
#[must_use = "a retry does nothing until it is awaited (async) or `.call()`ed (blocking)"]
pub struct Retry<W, Op, M, J, S, C, A, P, H> {
    pub(super) backoff: Backoff<W>,
    pub(super) op: Op,
    pub(super) judge: J,
    pub(super) sleep: S,
    pub(super) clock: C,
    pub(super) hint: A,
    pub(super) pacer: P,
    pub(super) hooks: H,
    pub(super) mode: PhantomData<fn() -> M>,
}

impl<W: fmt::Debug, Op, M, J: fmt::Debug, S, C, A, P: fmt::Debug, H> fmt::Debug
    for Retry<W, Op, M, J, S, C, A, P, H>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("backoff", &self.backoff)
            .field("judge", &self.judge)
            .field("pacer", &self.pacer)
            .finish_non_exhaustive()
    }
}

/// A fresh [`Retry`] in mode `M` with the default options.
type Fresh<W, Op, M> = Retry<W, Op, M, Auto, DefaultSleep, DefaultClock, NoHint, NoPacer, NoHooks>;

impl<W> Backoff<W> {
    /// Retries an async operation: `op` is called for each attempt and its future awaited.
    /// Chain the options on the result, then `.await` it.
    ///
    /// By default a `Result` is retried on `Err`, a `bool` on `false` and an `Option` on
    /// `None`; waits sleep on tokio and time is read from tokio's clock (so
    /// `tokio::time::pause` governs both).
    #[inline]
    pub fn retry<Op, Fut>(self, op: Op) -> Fresh<W, Op, Async>
    where
        Op: FnMut() -> Fut,
        Fut: Future,
    {
        self.fresh(op)
    }

    /// Retries a blocking operation: `op` is called for each attempt. Chain the options on
    /// the result, then run it with [`call`](Retry::call). Waits sleep the thread and time is
    /// read from the standard monotonic clock.
    #[inline]
    pub fn retry_blocking<Op, R>(self, op: Op) -> Fresh<W, Op, Blocking>
    where
        Op: FnMut() -> R,
    {
        self.fresh(op)
    }

    #[inline]
    fn fresh<Op, M>(self, op: Op) -> Fresh<W, Op, M> {
        Retry {
            backoff: self,
            op,
            judge: Auto,
            sleep: DefaultSleep,
            clock: DefaultClock,
            hint: NoHint,
            pacer: NoPacer,
            hooks: NoHooks,
            mode: PhantomData,
        }
    }
}

/// Rebuilds a `Retry` with one option replaced.
macro_rules! with {
    ($s:ident, judge: $v:expr) => {
        with!(@ $s, $v, $s.sleep, $s.clock, $s.hint, $s.pacer, $s.hooks)
    };
    ($s:ident, sleep: $v:expr) => {
        with!(@ $s, $s.judge, $v, $s.clock, $s.hint, $s.pacer, $s.hooks)
    };
    ($s:ident, clock: $v:expr) => {
        with!(@ $s, $s.judge, $s.sleep, $v, $s.hint, $s.pacer, $s.hooks)
    };
    ($s:ident, hint: $v:expr) => {
        with!(@ $s, $s.judge, $s.sleep, $s.clock, $v, $s.pacer, $s.hooks)
    };
    ($s:ident, pacer: $v:expr) => {
        with!(@ $s, $s.judge, $s.sleep, $s.clock, $s.hint, $v, $s.hooks)
    };
    ($s:ident, hooks: $v:expr) => {
        with!(@ $s, $s.judge, $s.sleep, $s.clock, $s.hint, $s.pacer, $v)
    };
    (@ $s:ident, $judge:expr, $sleep:expr, $clock:expr, $hint:expr, $pacer:expr, $hooks:expr) => {
        Retry {
            judge: $judge,
            sleep: $sleep,
            clock: $clock,
            hint: $hint,
            pacer: $pacer,
            hooks: $hooks,
            backoff: $s.backoff,
            op: $s.op,
            mode: PhantomData,
        }
    };
}

// Each option is a type parameter (nothing is boxed), so the options' signatures are long.
#[allow(clippy::type_complexity)]
impl<W, Op, M: Mode<Op>, J, S, C, A, P, H> Retry<W, Op, M, J, S, C, A, P, H> {
    /// Judges the whole outcome with `failed` (Python's `on_predicate`): true means retry;
    /// the last outcome is returned when the run gives up. For a `Result` this sees `Ok` and
    /// `Err` alike.
    #[inline]
    pub fn predicate<F>(self, failed: F) -> Retry<W, Op, M, Predicate<F>, S, C, A, P, H>
    where
        F: Fn(&M::Outcome) -> bool,
    {
        with!(self, judge: Predicate(failed))
    }

    /// Judges each outcome with `judge`: [`Verdict::Retry`], [`Verdict::GiveUp`] (handlers
    /// and the give-up log line run), [`Verdict::Propagate`] (returned at once, no handler, no
    /// log line) or [`Verdict::Success`].
    #[inline]
    pub fn judge<F>(self, judge: F) -> Retry<W, Op, M, Judged<F>, S, C, A, P, H>
    where
        F: Fn(&M::Outcome) -> Verdict,
    {
        with!(self, judge: Judged(judge))
    }

    /// A server-requested wait read from the whole outcome (seconds or a `Duration`), asked
    /// only when the run goes on; see [`retry_after`](Retry::retry_after) for a `Result`'s
    /// error.
    pub fn retry_after_outcome<F, T>(self, f: F) -> Retry<W, Op, M, J, S, C, OutcomeHint<F>, P, H>
    where
        F: Fn(&M::Outcome) -> Option<T>,
        T: IntoSeconds,
    {
        with!(self, hint: OutcomeHint(f))
    }

    /// Waits for `pacer` before every attempt, retries included (the attribute's
    /// `pacer = ...`); [`rate_key`](Retry::rate_key) picks a per-key budget. The pacing wait
    /// sleeps on this retry's [`sleep`](Retry::sleep), holding the slot's
    /// [`Reservation`](crate::Reservation): a run dropped before its slot gives the slot back,
    /// as the attribute's does. A pacer that times its own wait (an adaptive one, or one shared
    /// through Redis) waits on tokio (async) or the thread (blocking), as [`Pacer::ready`]
    /// does; in an async retry that wait is boxed, one allocation per paced attempt (and a
    /// copy of the `rate_key`), where the attribute allocates nothing. Time queued is not
    /// counted in `max_time` or [`Details::elapsed`].
    #[inline]
    pub fn pacer(self, pacer: &Pacer) -> Retry<W, Op, M, J, S, C, A, Paced<'_, NoKey>, H> {
        with!(self, pacer: Paced { pacer, key: NoKey, observer: NoObserve })
    }

    /// How to sleep: async, `Fn(Duration) -> impl Future<Output = ()>` (your runtime's sleep);
    /// blocking, `Fn(Duration)`. Used for the backoff waits and the pacer's.
    #[inline]
    pub fn sleep<F, O>(self, sleep: F) -> Retry<W, Op, M, J, F, C, A, P, H>
    where
        F: Fn(Duration) -> O,
    {
        with!(self, sleep: sleep)
    }

    /// The monotonic clock that `max_time` and [`Details::elapsed`] read: a function
    /// returning any [`Clock`] instant (e.g. a [`SimClock`](crate::sim::SimClock)'s).
    #[inline]
    pub fn clock<F, I>(self, now: F) -> Retry<W, Op, M, J, S, F, A, P, H>
    where
        F: Fn() -> I,
        I: Clock,
    {
        with!(self, clock: now)
    }

    /// Adds a handler called when an attempt succeeds. Handlers get the [`Details`] and
    /// return `()` or, in async code, a future (which must not borrow the details: copy out
    /// what it needs first). They run in the order added.
    #[inline]
    pub fn on_success<F, O, K>(self, f: F) -> Retry<W, Op, M, J, S, C, A, P, Hook<H, F, O, K>>
    where
        F: Fn(&Details<'_, M::Outcome>) -> O,
        O: HandlerOutput<K>,
    {
        with!(self, hooks: Hook::new(self.hooks, On::Success, f))
    }

    /// Adds a handler called before each wait ([`Details::wait`] is set). See
    /// [`on_success`](Retry::on_success).
    #[inline]
    pub fn on_backoff<F, O, K>(self, f: F) -> Retry<W, Op, M, J, S, C, A, P, Hook<H, F, O, K>>
    where
        F: Fn(&Details<'_, M::Outcome>) -> O,
        O: HandlerOutput<K>,
    {
        with!(self, hooks: Hook::new(self.hooks, On::Backoff, f))
    }

    /// Adds a handler called when the run gives up. See [`on_success`](Retry::on_success).
    #[inline]
    pub fn on_giveup<F, O, K>(self, f: F) -> Retry<W, Op, M, J, S, C, A, P, Hook<H, F, O, K>>
    where
        F: Fn(&Details<'_, M::Outcome>) -> O,
        O: HandlerOutput<K>,
    {
        with!(self, hooks: Hook::new(self.hooks, On::GiveUp, f))
    }
}

// Each option is a type parameter (nothing is boxed), so the options' signatures are long.
#[allow(clippy::type_complexity)]
impl<W, Op, M, T, E, J, S, C, A, P, H> Retry<W, Op, M, J, S, C, A, P, H>
where
    M: Mode<Op, Outcome = Result<T, E>>,
{
    /// Retries only the errors for which `retry` is true (the attribute's
    /// `on = error(Pattern)`); any other error is returned at once, untouched, with no
    /// handler and no log line (Python's exception outside `exception`).
    #[inline]
    pub fn when<F>(self, retry: F) -> Retry<W, Op, M, Errors<F, J::GiveUp>, S, C, A, P, H>
    where
        F: Fn(&E) -> bool,
        J: ErrorJudge,
    {
        let giveup = self.judge.parts().giveup;
        with!(self, judge: Errors { when: retry, giveup })
    }

    /// Gives up at once on the errors for which `giveup` is true (Python's `giveup`):
    /// `on_giveup` handlers and the give-up log line run.
    #[inline]
    pub fn giveup<F>(self, giveup: F) -> Retry<W, Op, M, Errors<J::When, F>, S, C, A, P, H>
    where
        F: Fn(&E) -> bool,
        J: ErrorJudge,
    {
        let when = self.judge.parts().when;
        with!(self, judge: Errors { when, giveup })
    }

    /// A server-requested wait (`Retry-After`, seconds or a `Duration`) read from the error:
    /// when it gives one, cut to the generator's `max_value`, the generator's jittered wait is
    /// added to it, so the retry never comes earlier than the server said and callers told
    /// the same wait do not all come back at once; the sum is cut to what remains of
    /// `max_time`. It is asked only when the run goes on.
    #[inline]
    pub fn retry_after<F, Secs>(self, f: F) -> Retry<W, Op, M, J, S, C, ErrorHint<F>, P, H>
    where
        F: Fn(&E) -> Option<Secs>,
        Secs: IntoSeconds,
    {
        with!(self, hint: ErrorHint(f))
    }
}

impl<'p, W, Op, M, J, S, C, A, O, H> Retry<W, Op, M, J, S, C, A, Paced<'p, NoKey, O>, H> {
    /// Paces on `key`'s own budget (the attribute's `rate_key`): keep the key set bounded (a
    /// sender, not a request id). An adaptive pacer learns each key's rate apart.
    pub fn rate_key<K: AsRef<str>>(
        self,
        key: K,
    ) -> Retry<W, Op, M, J, S, C, A, Paced<'p, K, O>, H> {
        let Paced {
            pacer, observer, ..
        } = self.pacer;
        with!(self, pacer: Paced { pacer, key, observer })
    }
}

// Each option is a type parameter (nothing is boxed), so the options' signatures are long.
#[allow(clippy::type_complexity)]
impl<'p, W, Op, M: Mode<Op>, J, S, C, A, K, H>
    Retry<W, Op, M, J, S, C, A, Paced<'p, K, NoObserve>, H>
{
    /// Tells the pacer how each attempt went, for an adaptive pacer ([`Pacer::adaptive`])
    /// to learn the server's limit from: `f` reads the attempt's [`Feedback`](crate::Feedback)
    /// (or anything [`RateFeedback`](crate::hints::RateFeedback)) from its outcome, and the pacer is
    /// told ([`Pacer::observe`]) as soon as the attempt returns, with the attempt's start
    /// (after its pacing wait) as `sent`. A fixed-rate pacer learns no rate from it (with or
    /// without `observe`, it is told when each answer came: [`Pacer::observe`]).
    ///
    // Awaiting a run needs tokio (the default feature); without it the example is not run.
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use backoff_core::{Feedback, Pacer};
    ///
    /// let pacer = Pacer::adaptive();
    /// let status: Result<u16, u16> = backoff_core::expo()
    ///     .retry(|| async { Ok(200) })
    ///     .pacer(&pacer)
    ///     .observe(|out: &Result<u16, u16>| match out {
    ///         Ok(s) | Err(s) => Feedback::from_status(*s, &[("RateLimit-Policy", "\"d\";q=5;w=1")], std::time::SystemTime::now()),
    ///     })
    ///     .await;
    /// assert_eq!(status, Ok(200));
    /// assert_eq!(pacer.learned_rate(None), Some(5.0));
    /// # }
    /// ```
    pub fn observe<F, O>(self, f: F) -> Retry<W, Op, M, J, S, C, A, Paced<'p, K, Observe<F>>, H>
    where
        F: Fn(&M::Outcome) -> O,
        O: crate::hints::RateFeedback,
    {
        let Paced { pacer, key, .. } = self.pacer;
        with!(self, pacer: Paced { pacer, key, observer: Observe(f) })
    }

    /// [`observe`](Retry::observe) when the outcome is its own
    /// [`RateFeedback`](crate::hints::RateFeedback): `Result<reqwest::Response, reqwest::Error>`,
    /// `http::Response<B>`, [`Feedback`](crate::Feedback), or a `Result` of those.
    pub fn observe_output(self) -> Retry<W, Op, M, J, S, C, A, Paced<'p, K, ObserveOutput>, H>
    where
        M::Outcome: crate::hints::RateFeedback,
    {
        let Paced { pacer, key, .. } = self.pacer;
        with!(self, pacer: Paced { pacer, key, observer: ObserveOutput })
    }
}

/// The decision after an attempt: the attribute's, [`Run::decide`](crate::decide::Run::decide),
/// with the policy's rules and jitter.
#[inline(always)]
pub(super) fn decide<W, R, J, A>(
    run: &mut Progress<W>,
    conf: &Conf,
    judge: &J,
    hint: &A,
    outcome: &R,
    elapsed: Duration,
) -> Action
where
    W: Wait<R>,
    R: fmt::Debug,
    J: Judge<R>,
    A: RetryAfterHint<R>,
{
    let verdict = judge.verdict(outcome);
    run.decide(
        conf.budget.as_ref(),
        || parts(conf),
        conf,
        outcome,
        verdict,
        elapsed,
        &Shown(outcome),
        |outcome| hint.hint(outcome),
    )
}

pub(super) fn wait_of(action: Action) -> Option<Duration> {
    match action {
        Action::Backoff(wait) => Some(wait),
        _ => None,
    }
}
