//! The options a [`Retry`](super::Retry) is built from, each stored by type: how an outcome
//! is judged, where a server's wait is read, the pacer, the sleep and the clock. The unit
//! types are the defaults.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::__private::{DefaultJudge, judge_predicate};
use crate::decide::Verdict;
use crate::hints::RateFeedback;
use crate::pace::{Pacer, PacerInstant, Reservation};
use crate::secs::IntoSeconds;

use super::clock::Clock;
use super::markers::{Async, Blocking};

// The operation.

/// An async operation: a closure returning a future, called once per attempt.
pub trait AsyncOp {
    /// The attempt's future.
    type Fut: Future;
    /// Starts an attempt.
    fn call(&mut self) -> Self::Fut;
}

impl<F: FnMut() -> Fut, Fut: Future> AsyncOp for F {
    type Fut = Fut;
    fn call(&mut self) -> Fut {
        self()
    }
}

/// What an attempt of `Op` returns in this mode ([`Async`] or [`Blocking`]).
pub trait Mode<Op> {
    /// The outcome that is judged, logged, handed to handlers and returned.
    type Outcome;
}

impl<Op: AsyncOp> Mode<Op> for Async {
    type Outcome = <Op::Fut as Future>::Output;
}

impl<Op: FnMut() -> R, R> Mode<Op> for Blocking {
    type Outcome = R;
}

// Judging.

/// How an outcome is judged: the builder's `when`/`giveup`, `predicate` and `judge`.
#[diagnostic::on_unimplemented(
    message = "this retry cannot judge an outcome of type `{R}`",
    label = "no judgement for `{R}`",
    note = "`Result` retries on `Err`, `bool` on `false`, `Option` on `None`; for any other type say when to retry with `.predicate(|value| ...)` (true means retry) or `.judge(|value| Verdict::...)`"
)]
pub trait Judge<R: ?Sized> {
    /// The verdict on one attempt's outcome.
    fn verdict(&self, outcome: &R) -> Verdict;
}

/// The default judgement, the attribute's: `Result` fails on `Err`, `bool` on `false`,
/// `Option` on `None`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Auto;

impl<R: DefaultJudge> Judge<R> for Auto {
    #[inline]
    fn verdict(&self, outcome: &R) -> Verdict {
        crate::__private::judge_default(outcome)
    }
}

/// Judges the errors of a `Result`: `when` says which are retried (the others propagate at
/// once, untouched, with no handler and no log line: Python's exception outside
/// `exception`), `giveup` which of those end the run (with `on_giveup`).
#[derive(Clone, Copy, Debug)]
pub struct Errors<Wh, G> {
    pub(crate) when: Wh,
    pub(crate) giveup: G,
}

/// A test on an error: a closure `Fn(&E) -> bool`, or [`Always`]/[`Never`].
pub trait Test<E: ?Sized> {
    /// The answer.
    fn test(&self, error: &E) -> bool;
}

impl<E: ?Sized, F: Fn(&E) -> bool> Test<E> for F {
    #[inline]
    fn test(&self, error: &E) -> bool {
        self(error)
    }
}

/// Every error is retried (the default `when`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Always;

impl<E: ?Sized> Test<E> for Always {
    #[inline]
    fn test(&self, _: &E) -> bool {
        true
    }
}

/// No error gives up early (the default `giveup`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Never;

impl<E: ?Sized> Test<E> for Never {
    #[inline]
    fn test(&self, _: &E) -> bool {
        false
    }
}

impl<T, E, Wh: Test<E>, G: Test<E>> Judge<Result<T, E>> for Errors<Wh, G> {
    #[inline]
    fn verdict(&self, outcome: &Result<T, E>) -> Verdict {
        match outcome {
            Ok(_) => Verdict::Success,
            Err(e) if !self.when.test(e) => Verdict::Propagate,
            Err(e) if self.giveup.test(e) => Verdict::GiveUp,
            Err(_) => Verdict::Retry,
        }
    }
}

/// The judges that `.when` and `.giveup` refine: [`Auto`] (a `Result` retried on every
/// error) and [`Errors`].
pub trait ErrorJudge {
    /// The `when` so far.
    type When;
    /// The `giveup` so far.
    type GiveUp;
    /// Both parts.
    fn parts(self) -> Errors<Self::When, Self::GiveUp>;
}

impl ErrorJudge for Auto {
    type When = Always;
    type GiveUp = Never;
    fn parts(self) -> Errors<Always, Never> {
        Errors {
            when: Always,
            giveup: Never,
        }
    }
}

impl<Wh, G> ErrorJudge for Errors<Wh, G> {
    type When = Wh;
    type GiveUp = G;
    fn parts(self) -> Self {
        self
    }
}

/// `.predicate(f)`: the whole outcome is a failure to retry when `f` says true (Python's
/// `on_predicate`).
#[derive(Clone, Copy, Debug)]
pub struct Predicate<F>(pub(crate) F);

impl<R: ?Sized, F: Fn(&R) -> bool> Judge<R> for Predicate<F> {
    #[inline]
    fn verdict(&self, outcome: &R) -> Verdict {
        judge_predicate((self.0)(outcome))
    }
}

/// `.judge(f)`: `f` gives the [`Verdict`] itself.
#[derive(Clone, Copy, Debug)]
pub struct Judged<F>(pub(crate) F);

impl<R: ?Sized, F: Fn(&R) -> Verdict> Judge<R> for Judged<F> {
    #[inline]
    fn verdict(&self, outcome: &R) -> Verdict {
        (self.0)(outcome)
    }
}

// A server's wait (Retry-After).

/// Where a server-requested wait is read: nowhere ([`NoHint`]), from a `Result`'s error
/// ([`ErrorHint`]) or from the whole outcome ([`OutcomeHint`]).
pub trait RetryAfterHint<R: ?Sized> {
    /// Whether this ever gives a wait.
    const ACTIVE: bool = true;
    /// The server's wait for this failed outcome, if it gave one.
    fn hint(&self, outcome: &R) -> Option<Duration>;
}

/// No `Retry-After` (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHint;

impl<R: ?Sized> RetryAfterHint<R> for NoHint {
    const ACTIVE: bool = false;
    #[inline]
    fn hint(&self, _: &R) -> Option<Duration> {
        None
    }
}

/// `.retry_after(f)`: `f` reads the server's wait (seconds or a `Duration`) from the error.
#[derive(Clone, Copy, Debug)]
pub struct ErrorHint<F>(pub(crate) F);

impl<T, E, F, S> RetryAfterHint<Result<T, E>> for ErrorHint<F>
where
    F: Fn(&E) -> Option<S>,
    S: IntoSeconds,
{
    fn hint(&self, outcome: &Result<T, E>) -> Option<Duration> {
        match outcome {
            Err(e) => (self.0)(e).map(IntoSeconds::into_duration),
            Ok(_) => None,
        }
    }
}

/// `.retry_after_outcome(f)`: `f` reads the server's wait from the whole outcome.
#[derive(Clone, Copy, Debug)]
pub struct OutcomeHint<F>(pub(crate) F);

impl<R: ?Sized, F, S> RetryAfterHint<R> for OutcomeHint<F>
where
    F: Fn(&R) -> Option<S>,
    S: IntoSeconds,
{
    fn hint(&self, outcome: &R) -> Option<Duration> {
        (self.0)(outcome).map(IntoSeconds::into_duration)
    }
}

// Pacing.

/// How an attempt waits for its slot ([`Pace::reserve`]).
#[derive(Debug)]
pub enum Slot<R, F> {
    /// The slot is free: the attempt starts now.
    Free,
    /// Sleep this long on the retry's sleep, holding the reservation `R`: dropped before the
    /// slot (the retry future dropped while it sleeps), it gives the slot back.
    Sleep(Duration, R),
    /// Await this future, which waits for the slot and returns the time queued (a pacer
    /// shared through Redis: it sleeps on tokio).
    Wait(F),
}

/// A pacer step before each attempt: [`NoPacer`] (the default) or [`Paced`]. It paces as
/// the attribute's `pacer = ...` does ([`Pacer::ready`], [`Pacer::ready_blocking`]).
pub trait Pace {
    /// Whether there is a pacer at all.
    const ACTIVE: bool = true;
    /// The reservation an attempt holds while it sleeps towards its slot.
    type Held;
    /// The wait for a slot that the pacer times itself (Redis).
    type Fut: Future<Output = Duration>;
    /// Reserves this attempt's slot.
    fn reserve(&self) -> Slot<Self::Held, Self::Fut>;
    /// The sleep towards the slot is over: leave now (`None`; the slot stays taken), or
    /// sleep this long more and ask again (the departures before it, a pause's first answer).
    fn leave(held: &mut Self::Held) -> Option<Duration>;
    /// The blocking step: waits for the slot (sleeping with `sleep` for a local pacer) and
    /// returns the time queued.
    fn ready_blocking<F: FnMut(Duration)>(&self, sleep: F) -> Duration;
}

/// No pacing (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoPacer;

impl Pace for NoPacer {
    const ACTIVE: bool = false;
    type Held = ();
    type Fut = std::future::Ready<Duration>;
    fn reserve(&self) -> Slot<(), Self::Fut> {
        Slot::Free
    }
    fn leave((): &mut ()) -> Option<Duration> {
        None
    }
    fn ready_blocking<F: FnMut(Duration)>(&self, _: F) -> Duration {
        Duration::ZERO
    }
}

/// `.pacer(&pacer)`, with an optional [`rate_key`](super::Retry::rate_key) and an optional
/// way to tell an adaptive pacer how each attempt went ([`observe`](super::Retry::observe),
/// [`observe_output`](super::Retry::observe_output)).
#[derive(Clone, Copy)]
pub struct Paced<'p, K, O = NoObserve> {
    pub(crate) pacer: &'p Pacer,
    pub(crate) key: K,
    pub(crate) observer: O,
}

impl<K: fmt::Debug, O> fmt::Debug for Paced<'_, K, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Paced")
            .field("pacer", &self.pacer)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The pacer is not told how attempts went (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserve;

/// `.observe(f)`: `f` reads an attempt's [`Feedback`](crate::Feedback) from its outcome
/// (anything that is [`RateFeedback`]).
#[derive(Clone, Copy, Debug)]
pub struct Observe<F>(pub(crate) F);

/// `.observe_output()`: the outcome is its own [`RateFeedback`] (say
/// `Result<reqwest::Response, reqwest::Error>`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ObserveOutput;

/// How a pacing step tells its pacer the outcome of each attempt: for an adaptive pacer
/// ([`Pacer::observe`]); without [`observe`](super::Retry::observe), only that the answer
/// came (a fixed-rate pacer holds the attempt after a pause's first until that one's answer).
pub trait Observes<R: ?Sized> {
    /// Whether anything is observed (the attempt's start is read only then).
    const OBSERVES: bool = false;
    /// Tells the pacer how the attempt that started at `sent` went.
    fn observe(&self, _outcome: &R, _sent: PacerInstant) {}
}

impl<R: ?Sized> Observes<R> for NoPacer {}

impl<R: ?Sized, K: PaceKey> Observes<R> for Paced<'_, K, NoObserve> {
    const OBSERVES: bool = true;
    fn observe(&self, _: &R, sent: PacerInstant) {
        self.pacer.answered(self.key.key(), sent);
    }
}

impl<R: ?Sized, K: PaceKey, F, O> Observes<R> for Paced<'_, K, Observe<F>>
where
    F: Fn(&R) -> O,
    O: RateFeedback,
{
    const OBSERVES: bool = true;
    fn observe(&self, outcome: &R, sent: PacerInstant) {
        let feedback = (self.observer.0)(outcome).feedback();
        self.pacer.observe(self.key.key(), &feedback, sent);
    }
}

impl<R: RateFeedback + ?Sized, K: PaceKey> Observes<R> for Paced<'_, K, ObserveOutput> {
    const OBSERVES: bool = true;
    fn observe(&self, outcome: &R, sent: PacerInstant) {
        self.pacer
            .observe(self.key.key(), &outcome.feedback(), sent);
    }
}

/// A pacing key: [`NoKey`] (the pacer's shared budget) or anything that is a `str`.
pub trait PaceKey {
    /// The key, `None` for the shared budget.
    fn key(&self) -> Option<&str>;
}

/// The pacer's shared budget (no `rate_key`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoKey;

impl PaceKey for NoKey {
    fn key(&self) -> Option<&str> {
        None
    }
}

impl<K: AsRef<str>> PaceKey for K {
    fn key(&self) -> Option<&str> {
        Some(self.as_ref())
    }
}

/// The wait a [`Paced`] step awaits for a pacer that times its own waits (Redis, adaptive):
/// [`Pacer::ready`]'s future, boxed (one allocation per paced attempt, only for such a
/// pacer).
#[cfg(feature = "tokio")]
pub type PacedWait<'p> = crate::pace::QueuedReady<'p>;
/// The wait a [`Paced`] step awaits: never made without the `tokio` feature (an adaptive
/// pacer then sleeps on the retry's sleep until its estimated slot).
#[cfg(not(feature = "tokio"))]
pub type PacedWait<'p> = std::future::Ready<Duration>;

impl<'p, K: PaceKey, O> Pace for Paced<'p, K, O> {
    type Held = Reservation<'p>;
    type Fut = PacedWait<'p>;

    #[inline]
    fn reserve(&self) -> Slot<Reservation<'p>, PacedWait<'p>> {
        #[cfg(feature = "tokio")]
        if let Some(fut) = self.pacer.queued_ready(self.key.key()) {
            return Slot::Wait(fut);
        }
        // Every answer is told (the observe step), so the slot may wait for a pause's first.
        let mut reservation = self.pacer.reserve_as(self.key.key(), true);
        match reservation.leave() {
            None => Slot::Free,
            Some(wait) => Slot::Sleep(wait, reservation),
        }
    }

    #[inline]
    fn leave(held: &mut Reservation<'p>) -> Option<Duration> {
        held.leave()
    }

    fn ready_blocking<F: FnMut(Duration)>(&self, mut sleep: F) -> Duration {
        if self.pacer.queues() {
            return self.pacer.ready_blocking(self.key.key());
        }
        let mut reservation = self.pacer.reserve_as(self.key.key(), true);
        let mut queued = Duration::ZERO;
        while let Some(wait) = reservation.leave() {
            // A sleep that panics drops the reservation first: the slot goes back.
            sleep(wait);
            queued += wait;
        }
        queued
    }
}

// Sleeping.

/// The default sleep: tokio's in async code (so `tokio::time::pause` governs it), the
/// thread's in blocking code.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultSleep;

/// A sleep for async retries: `.sleep(f)` with `f: Fn(Duration) -> impl Future<Output = ()>`,
/// or [`DefaultSleep`] with the `tokio` feature.
#[diagnostic::on_unimplemented(
    message = "an async retry needs an async sleep, found `{Self}`",
    label = "not an async sleep",
    note = "pass your runtime's sleep: `.sleep(async_std::task::sleep)`; without the `tokio` feature there is no default"
)]
pub trait AsyncSleep {
    /// The sleep's future.
    type Fut: Future<Output = ()>;
    /// Sleeps for `wait`.
    fn sleep(&self, wait: Duration) -> Self::Fut;
}

impl<F: Fn(Duration) -> Fut, Fut: Future<Output = ()>> AsyncSleep for F {
    type Fut = Fut;
    fn sleep(&self, wait: Duration) -> Fut {
        self(wait)
    }
}

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl AsyncSleep for DefaultSleep {
    type Fut = tokio::time::Sleep;
    fn sleep(&self, wait: Duration) -> tokio::time::Sleep {
        tokio::time::sleep(wait)
    }
}

/// A sleep for blocking retries: `.sleep(f)` with `f: Fn(Duration)`, or [`DefaultSleep`].
#[diagnostic::on_unimplemented(
    message = "a blocking retry needs a sleep that returns `()`, found `{Self}`",
    label = "not a blocking sleep",
    note = "an async sleep cannot run here: use `.retry(op)` for an async operation"
)]
pub trait BlockingSleep {
    /// Sleeps for `wait`.
    fn sleep(&self, wait: Duration);
}

impl<F: Fn(Duration)> BlockingSleep for F {
    fn sleep(&self, wait: Duration) {
        self(wait);
    }
}

impl BlockingSleep for DefaultSleep {
    fn sleep(&self, wait: Duration) {
        std::thread::sleep(wait);
    }
}

// The clock.

/// The default clock: tokio's in async code (so paused time works), the standard monotonic
/// clock in blocking code, as the attribute's.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultClock;

/// A clock for mode `M`: `.clock(f)` with `f: Fn() -> I` and `I:` [`Clock`], or
/// [`DefaultClock`].
pub trait Now<M> {
    /// Its instants.
    type Instant: Clock;
    /// The current instant.
    fn now(&self) -> Self::Instant;
}

impl<M, F: Fn() -> I, I: Clock> Now<M> for F {
    type Instant = I;
    fn now(&self) -> I {
        self()
    }
}

impl Now<Async> for DefaultClock {
    #[cfg(feature = "tokio")]
    type Instant = tokio::time::Instant;
    #[cfg(not(feature = "tokio"))]
    type Instant = std::time::Instant;
    fn now(&self) -> Self::Instant {
        crate::__private::async_now()
    }
}

impl Now<Blocking> for DefaultClock {
    type Instant = std::time::Instant;
    fn now(&self) -> std::time::Instant {
        std::time::Instant::now()
    }
}
