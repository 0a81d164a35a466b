//! The blocking retry loop: [`Retry::call`].

use std::fmt;
use std::time::Duration;

use crate::decide::Action;
use crate::pace::Pacer;
use crate::wait::Wait;

use super::backoff::Backoff;
use super::clock::Clock;
use super::hooks::BlockingHooks;
use super::markers::Blocking;
use super::parts::{BlockingSleep, Judge, Now, Observes, Pace, RetryAfterHint};
use super::retry::{Retry, decide, wait_of};
use super::run::{Progress, parts};

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
