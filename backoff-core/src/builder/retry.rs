//! [`Retry`]: an operation with its policy and options; awaited (async) or
//! [`call`](Retry::call)ed (blocking). Both loops make one decision after each attempt, with
//! the attribute's rules and semantics (see `run.rs`).

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;

use crate::decide::{Action, Details, Shown, Verdict};
use crate::pace::{Pacer, PacerInstant};
use crate::secs::IntoSeconds;
use crate::wait::Wait;

use super::hooks::{AsyncHooks, BlockingHooks, HandlerOutput, Hook, NoHooks, On};
use super::parts::{
    AsyncOp, AsyncSleep, Auto, BlockingSleep, DefaultClock, DefaultSleep, ErrorHint, ErrorJudge,
    Errors, Judge, Judged, Mode, NoHint, NoKey, NoObserve, NoPacer, Now, Observe, ObserveOutput,
    Observes, OutcomeHint, Pace, Paced, Predicate, RetryAfterHint, Slot,
};
use super::run::{Conf, Progress, parts};
use super::{Backoff, Clock};

/// Marks a [`Retry`] of an async operation: await it.
#[derive(Clone, Copy, Debug)]
pub enum Async {}

/// Marks a [`Retry`] of a blocking operation: run it with [`call`](Retry::call).
#[derive(Clone, Copy, Debug)]
pub enum Blocking {}

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
/// `max_time` read then. The [`RetryFuture`] is `Send` whenever the operation, its
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
    backoff: Backoff<W>,
    op: Op,
    judge: J,
    sleep: S,
    clock: C,
    hint: A,
    pacer: P,
    hooks: H,
    mode: PhantomData<fn() -> M>,
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
    /// (or anything [`RateFeedback`](crate::RateFeedback)) from its outcome, and the pacer is
    /// told ([`Pacer::observe`]) as soon as the attempt returns, with the attempt's start
    /// (after its pacing wait) as `sent`. A no-op for a fixed-rate or Redis pacer.
    ///
    /// ```
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
        O: crate::RateFeedback,
    {
        let Paced { pacer, key, .. } = self.pacer;
        with!(self, pacer: Paced { pacer, key, observer: Observe(f) })
    }

    /// [`observe`](Retry::observe) when the outcome is its own
    /// [`RateFeedback`](crate::RateFeedback): `Result<reqwest::Response, reqwest::Error>`,
    /// `http::Response<B>`, [`Feedback`](crate::Feedback), or a `Result` of those.
    pub fn observe_output(self) -> Retry<W, Op, M, J, S, C, A, Paced<'p, K, ObserveOutput>, H>
    where
        M::Outcome: crate::RateFeedback,
    {
        let Paced { pacer, key, .. } = self.pacer;
        with!(self, pacer: Paced { pacer, key, observer: ObserveOutput })
    }
}

/// The decision after an attempt: the attribute's, [`Run::decide`](crate::decide::Run::decide),
/// with the policy's rules and jitter.
#[inline(always)]
fn decide<W, R, J, A>(
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

fn wait_of(action: Action) -> Option<Duration> {
    match action {
        Action::Backoff(wait) => Some(wait),
        _ => None,
    }
}

/// The outcome of an async operation.
type Out<Op> = <<Op as AsyncOp>::Fut as Future>::Output;

impl<W, Op, J, S, C, A, P, H> IntoFuture for Retry<W, Op, Async, J, S, C, A, P, H>
where
    Op: AsyncOp,
    Out<Op>: fmt::Debug,
    W: Wait<Out<Op>>,
    J: Judge<Out<Op>>,
    S: AsyncSleep,
    C: Now<Async>,
    A: RetryAfterHint<Out<Op>>,
    P: Pace + Observes<Out<Op>>,
    H: AsyncHooks<Out<Op>>,
{
    type Output = Out<Op>;
    type IntoFuture = RetryFuture<W, Op, J, S, C, A, P, H>;

    #[inline]
    fn into_future(self) -> Self::IntoFuture {
        // Only moves: the run starts when the future is first polled (the limits are
        // evaluated and the clock read then), as an attributed async fn's body does.
        let Backoff { wait, conf } = self.backoff;
        RetryFuture {
            run: Progress::new(wait),
            conf,
            start: None,
            op: self.op,
            judge: self.judge,
            sleep: self.sleep,
            clock: self.clock,
            hint: self.hint,
            pacer: self.pacer,
            hooks: self.hooks,
            phase: Phase::Fresh,
        }
    }
}

pin_project! {
    /// The future of an async [`Retry`]: the retry loop as a state machine that pacing, each
    /// attempt, the handlers and each wait step through.
    #[must_use = "futures do nothing unless awaited"]
    pub struct RetryFuture<W, Op, J, S, C, A, P, H>
    where
        Op: AsyncOp,
        S: AsyncSleep,
        C: Now<Async>,
        P: Pace,
    {
        run: Progress<W>,
        conf: Conf,
        start: Option<C::Instant>,
        op: Op,
        judge: J,
        sleep: S,
        clock: C,
        hint: A,
        pacer: P,
        #[pin]
        hooks: H,
        #[pin]
        phase: Phase<Op::Fut, S::Fut, P::Held, P::Fut, Out<Op>>,
    }
}

pin_project! {
    #[project = PhaseProj]
    // What is kept between polls lives in the phase that needs it, so a retry without
    // handlers or an adaptive pacer keeps no room for them.
    enum Phase<F, Z, R, Q, O> {
        // Not polled yet: the run has not started.
        Fresh,
        // Before an attempt: its pacing.
        Start,
        // Sleeping towards the slot, holding its reservation: dropped here, the retry
        // future gives the slot back (as the attribute's `Pacer::ready` does).
        Pacing { #[pin] sleep: Z, held: Option<R> },
        // Waiting for a slot that the pacer times itself (Redis).
        Queuing { #[pin] fut: Q },
        // `sent`: the attempt's start, for an adaptive pacer.
        Attempt { #[pin] fut: F, sent: Option<PacerInstant> },
        // The handlers for the outcome `O` run; `done` counts those passed.
        Handlers { outcome: Option<O>, elapsed: Duration, action: Action, done: usize },
        Sleeping { #[pin] sleep: Z },
        Done,
    }
}

impl<W, Op, J, S, C, A, P, H> fmt::Debug for RetryFuture<W, Op, J, S, C, A, P, H>
where
    W: fmt::Debug,
    Op: AsyncOp,
    S: AsyncSleep,
    C: Now<Async>,
    P: Pace,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryFuture")
            .field("run", &self.run)
            .field("conf", &self.conf)
            .finish_non_exhaustive()
    }
}

impl<W, Op, J, S, C, A, P, H> Future for RetryFuture<W, Op, J, S, C, A, P, H>
where
    Op: AsyncOp,
    Out<Op>: fmt::Debug,
    W: Wait<Out<Op>>,
    J: Judge<Out<Op>>,
    S: AsyncSleep,
    C: Now<Async>,
    A: RetryAfterHint<Out<Op>>,
    P: Pace + Observes<Out<Op>>,
    H: AsyncHooks<Out<Op>>,
{
    type Output = Out<Op>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Out<Op>> {
        let mut this = self.project();
        loop {
            match this.phase.as_mut().project() {
                PhaseProj::Fresh => {
                    this.conf.resolve_limits();
                    // Elapsed time is read only by `max_time` and by handlers.
                    if this.conf.max_time.is_some() || !H::EMPTY {
                        *this.start = Some(this.clock.now());
                    }
                    this.phase.set(Phase::Start);
                }
                PhaseProj::Start => {
                    if P::ACTIVE {
                        match this.pacer.reserve() {
                            Slot::Free => {}
                            Slot::Sleep(wait, held) => {
                                // Queued time is not failure time: the state takes it off
                                // `elapsed`, as the attribute's expansion does.
                                this.run.add_queued(wait);
                                let sleep = this.sleep.sleep(wait);
                                let held = Some(held);
                                this.phase.set(Phase::Pacing { sleep, held });
                                continue;
                            }
                            Slot::Wait(fut) => {
                                this.phase.set(Phase::Queuing { fut });
                                continue;
                            }
                        }
                    }
                    let sent = P::OBSERVES.then(Pacer::now);
                    let fut = this.op.call();
                    this.phase.set(Phase::Attempt { fut, sent });
                }
                PhaseProj::Pacing { sleep, held } => {
                    ready!(sleep.poll(cx));
                    // Taken before the phase changes: dropping it would give the slot back.
                    if let Some(held) = held.take() {
                        P::take(held);
                    }
                    let sent = P::OBSERVES.then(Pacer::now);
                    let fut = this.op.call();
                    this.phase.set(Phase::Attempt { fut, sent });
                }
                PhaseProj::Queuing { fut } => {
                    let queued = ready!(fut.poll(cx));
                    this.run.add_queued(queued);
                    let sent = P::OBSERVES.then(Pacer::now);
                    let fut = this.op.call();
                    this.phase.set(Phase::Attempt { fut, sent });
                }
                PhaseProj::Attempt { fut, sent } => {
                    let outcome = ready!(fut.poll(cx));
                    if let Some(sent) = sent.take() {
                        this.pacer.observe(&outcome, sent);
                    }
                    let elapsed = match this.start {
                        Some(start) => this.clock.now().since(start),
                        None => Duration::ZERO,
                    };
                    let action = decide(
                        this.run, this.conf, this.judge, this.hint, &outcome, elapsed,
                    );
                    match action {
                        Action::Backoff(wait) if H::EMPTY => {
                            let sleep = this.sleep.sleep(wait);
                            this.phase.set(Phase::Sleeping { sleep });
                        }
                        Action::Propagate => {
                            this.phase.set(Phase::Done);
                            return Poll::Ready(outcome);
                        }
                        _ if H::EMPTY => {
                            this.phase.set(Phase::Done);
                            return Poll::Ready(outcome);
                        }
                        _ => {
                            let outcome = Some(outcome);
                            let done = 0;
                            this.phase.set(Phase::Handlers {
                                outcome,
                                elapsed,
                                action,
                                done,
                            });
                        }
                    }
                }
                PhaseProj::Handlers {
                    outcome,
                    elapsed,
                    action,
                    done,
                } => {
                    let action = *action;
                    if let Some(outcome) = outcome.as_ref() {
                        let details =
                            this.run
                                .details(this.conf.target, outcome, *elapsed, wait_of(action));
                        ready!(this.hooks.as_mut().poll_run(action, done, &details, cx));
                    }
                    if let Action::Backoff(wait) = action {
                        let sleep = this.sleep.sleep(wait);
                        this.phase.set(Phase::Sleeping { sleep });
                    } else if let Some(outcome) = outcome.take() {
                        this.phase.set(Phase::Done);
                        return Poll::Ready(outcome);
                    } else {
                        panic!("`RetryFuture` polled after completion");
                    }
                }
                PhaseProj::Sleeping { sleep } => {
                    ready!(sleep.poll(cx));
                    this.phase.set(Phase::Start);
                }
                PhaseProj::Done => panic!("`RetryFuture` polled after completion"),
            }
        }
    }
}

impl<W, Op, R, J, S, C, A, P, H> Retry<W, Op, Blocking, J, S, C, A, P, H>
where
    Op: FnMut() -> R,
{
    /// Runs the blocking retry loop and returns the last outcome.
    // The bounds are on the method, so that a wrong option is reported with its own message
    // (an async handler, an async sleep) rather than as a missing method.
    #[inline(always)]
    pub fn call(self) -> R
    where
        R: fmt::Debug,
        W: Wait<R>,
        J: Judge<R>,
        S: BlockingSleep,
        C: Now<Blocking>,
        A: RetryAfterHint<R>,
        P: Pace + Observes<R>,
        H: BlockingHooks<R>,
    {
        // Inlined and taken apart into locals, so that only what a failure borrows (the
        // policy, the generator) needs to be in memory: the rest stays in registers.
        let Retry {
            backoff: Backoff { wait, mut conf },
            mut op,
            judge,
            sleep,
            clock,
            hint,
            pacer,
            hooks,
            mode: _,
        } = self;
        conf.resolve_limits();
        let mut run = Progress::new(wait);
        let start = (conf.max_time.is_some() || !H::EMPTY).then(|| clock.now());
        loop {
            if P::ACTIVE {
                let sleep = &sleep;
                run.add_queued(pacer.ready_blocking(|wait| sleep.sleep(wait)));
            }
            let sent = P::OBSERVES.then(Pacer::now);
            let mut outcome = op();
            if let Some(sent) = sent {
                pacer.observe(&outcome, sent);
            }
            let elapsed = || {
                start
                    .as_ref()
                    .map_or(Duration::ZERO, |start| clock.now().since(start))
            };
            if H::EMPTY {
                // As the attribute's sync fns: a success is returned before the outcome is
                // lent to anything, and a failure's log line is written with the outcome
                // moved in and out.
                let verdict = judge.verdict(&outcome);
                if run.settle(conf.budget.as_ref(), verdict) {
                    return outcome;
                }
                let (action, line) = run.fail_later(
                    || parts(&conf),
                    &conf,
                    &outcome,
                    verdict,
                    elapsed,
                    |outcome| hint.hint(outcome),
                );
                if let Some(line) = line {
                    outcome = line.emit(outcome, |outcome, f| fmt::Debug::fmt(outcome, f));
                }
                match action {
                    Action::Backoff(wait) => sleep.sleep(wait),
                    _ => return outcome,
                }
            } else {
                let elapsed = elapsed();
                let action = decide(&mut run, &conf, &judge, &hint, &outcome, elapsed);
                if action != Action::Propagate {
                    hooks.run(
                        action,
                        &run.details(conf.target, &outcome, elapsed, wait_of(action)),
                    );
                }
                match action {
                    Action::Backoff(wait) => sleep.sleep(wait),
                    _ => return outcome,
                }
            }
        }
    }
}
