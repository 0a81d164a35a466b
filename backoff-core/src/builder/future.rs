//! The async retry loop: a [`Retry`] awaited is a [`RetryFuture`].

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;

use crate::decide::Action;
use crate::pace::{Pacer, PacerInstant};
use crate::wait::Wait;

use super::backoff::Backoff;
use super::clock::Clock;
use super::hooks::AsyncHooks;
use super::markers::Async;
use super::parts::{AsyncOp, AsyncSleep, Judge, Now, Observes, Pace, RetryAfterHint, Slot};
use super::retry::{Retry, decide, wait_of};
use super::run::{Conf, Progress};

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
                    // Used before the phase changes: dropping it unused would give it back.
                    if let Some(mut h) = held.take()
                        && let Some(wait) = P::leave(&mut h)
                    {
                        // Not yet: the departures before it, or a pause's first answer.
                        this.run.add_queued(wait);
                        let sleep = this.sleep.sleep(wait);
                        this.phase.set(Phase::Pacing {
                            sleep,
                            held: Some(h),
                        });
                        continue;
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
