//! The generators as the attribute's expansion and the builder's loop use them: split in two,
//! parameters and progress, so a call's future keeps only the progress between attempts.

use std::time::Duration;

use super::{Constant, Decay, Expo, Fibo, Wait};

/// A generator split in two, as the attribute's expansion uses it: the parameters (`self`,
/// rebuilt at each decision from the attribute's literals, or from values evaluated once per
/// call) and the progress (kept in the caller's future between attempts). [`Stored`] makes
/// any [`Wait`] one, whole generator kept.
pub trait Schedule<R: ?Sized> {
    /// What changes between waits.
    type Progress;
    /// The wait before the next attempt, or `None` to give up.
    fn next_wait(self, progress: &mut Self::Progress, outcome: &R) -> Option<Duration>;
}

/// A whole [`Wait`] kept as the progress: user-supplied generators, `runtime(value = ...)`.
pub struct Stored<W>(std::marker::PhantomData<fn() -> W>);

impl<W> Stored<W> {
    /// The marker.
    #[inline]
    #[must_use]
    pub const fn new() -> Self {
        Stored(std::marker::PhantomData)
    }
}

impl<W> Default for Stored<W> {
    fn default() -> Self {
        Stored::new()
    }
}

impl<R: ?Sized, W: Wait<R>> Schedule<R> for Stored<W> {
    type Progress = W;
    #[inline]
    fn next_wait(self, wait: &mut W, outcome: &R) -> Option<Duration> {
        wait.next_wait(outcome)
    }
}

impl<R: ?Sized> Schedule<R> for Expo {
    type Progress = u32;
    #[inline]
    fn next_wait(self, n: &mut u32, _: &R) -> Option<Duration> {
        Some(self.step(n))
    }
}

impl<R: ?Sized> Schedule<R> for Fibo {
    /// How many waits were taken (the cap is not a step).
    type Progress = u32;
    fn next_wait(self, n: &mut u32, _: &R) -> Option<Duration> {
        // The `n`th number, walked from (1, 1): once it saturates it stays `Duration::MAX`,
        // so the walk is at most a hundred steps whatever `n`.
        let (mut a, mut b) = (self.a, self.b);
        for _ in 0..*n {
            if a == Duration::MAX {
                break;
            }
            (a, b) = (b, a.saturating_add(b));
        }
        match self.max_value {
            Some(max) if a >= max => Some(max),
            _ => {
                *n = n.saturating_add(1);
                Some(a)
            }
        }
    }
}

impl<R: ?Sized> Schedule<R> for Constant {
    type Progress = ();
    #[inline]
    fn next_wait(self, (): &mut (), _: &R) -> Option<Duration> {
        Some(self.interval)
    }
}

impl<R: ?Sized> Schedule<R> for Decay {
    type Progress = u32;
    #[inline]
    fn next_wait(self, t: &mut u32, _: &R) -> Option<Duration> {
        Some(self.step(t))
    }
}
