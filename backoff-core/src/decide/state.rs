//! The whole decision for a retry loop of your own.

use std::fmt;
use std::time::Duration;

use super::details::Details;
use super::policy::Policy;
use super::verdict::{Action, Verdict};
use crate::jitter::JitterState;
use crate::wait::Wait;

/// One run of a retry loop of your own: tries so far, the generator, the jitter's randomness,
/// and the [`Policy`], with the decisions the attribute and the builder make.
///
/// Your loop runs an attempt, measures the elapsed time, judges the outcome and calls
/// [`decide`](State::decide); then it calls the handlers that the [`Action`] names and sleeps
/// or returns. (The attribute's expansion and [`Backoff`](crate::Backoff) keep the same
/// decisions split in two, the constant part read in place and only what changes in the run:
/// see [`Run`](super::Run).)
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
