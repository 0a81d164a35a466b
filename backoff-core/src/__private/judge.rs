//! What `expand/judge.rs` emits: whether an outcome is a failure to retry, and the
//! server's `retry_after`.

use std::time::Duration;

use crate::decide::Verdict;
use crate::secs::IntoSeconds;

/// `retry_after = ...`: the server's wait read from the outcome (or the error), as seconds.
pub fn retry_after<'o, R: ?Sized, F, S>(outcome: &'o R, f: F) -> Option<Duration>
where
    F: FnOnce(&'o R) -> Option<S>,
    S: IntoSeconds,
{
    f(outcome).map(IntoSeconds::into_duration)
}

/// How the expansion judges an outcome when `on` names no predicate: `Result` fails on `Err`,
/// `bool` on `false`, `Option` on `None`.
#[diagnostic::on_unimplemented(
    message = "`#[backoff]` cannot tell whether a `{Self}` is a failure",
    label = "this return type has no default judgement",
    note = "`Result` retries on `Err`, `bool` on `false`, `Option` on `None`; for any other type say when to retry: `on = predicate, predicate = |value: &{Self}| ...` (true means retry)"
)]
pub trait DefaultJudge {
    /// Whether this outcome is a failure to retry.
    fn is_failure(&self) -> bool;
}

impl<T, E> DefaultJudge for Result<T, E> {
    fn is_failure(&self) -> bool {
        self.is_err()
    }
}

impl DefaultJudge for bool {
    fn is_failure(&self) -> bool {
        !*self
    }
}

impl<T> DefaultJudge for Option<T> {
    fn is_failure(&self) -> bool {
        self.is_none()
    }
}

/// The default judgement of an outcome.
pub fn judge_default<R: DefaultJudge>(outcome: &R) -> Verdict {
    judge_predicate(outcome.is_failure())
}

/// A predicate's answer as a verdict: true means retry.
pub fn judge_predicate(failed: bool) -> Verdict {
    if failed {
        Verdict::Retry
    } else {
        Verdict::Success
    }
}

/// `predicate = ...`, called with the outcome so a closure's argument type is known.
pub fn predicate<'o, R: ?Sized, F: FnOnce(&'o R) -> bool>(outcome: &'o R, f: F) -> bool {
    f(outcome)
}

/// `giveup = ...`, called with the error.
pub fn giveup<'e, E: ?Sized, F: FnOnce(&'e E) -> bool>(error: &'e E, f: F) -> bool {
    f(error)
}
