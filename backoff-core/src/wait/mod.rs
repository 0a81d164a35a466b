//! Wait generators: the sequences of waits between attempts, exactly as Python's `backoff`
//! yields them.
//!
//! A generator is anything implementing [`Wait`]. Each run of a retry loop starts from a fresh
//! generator (the builder clones its template; the attribute evaluates its arguments per call).
//! Returning `None` ends the run: the loop gives up, as Python does when an iterable `interval`
//! runs out.
//!
//! `schedule.rs` is the same generators split into parameters and progress, as the attribute's
//! expansion and the builder's loop keep them (not public API).

pub(crate) mod schedule;

use std::time::Duration;

use crate::secs::{IntoSeconds, saturating_secs};

/// A wait generator. `outcome` is the failed attempt's judged outcome (the whole return value),
/// which only [`Runtime`] looks at.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a wait generator",
    label = "expected an iterator of waits (seconds or `Duration`s) or a `politely::Wait`",
    note = "for one fixed wait, write `constant, interval = ...`; for a list, `constant, interval = [1, 2, 4]`"
)]
pub trait Wait<R: ?Sized> {
    /// The wait before the next attempt, or `None` to give up.
    fn next_wait(&mut self, outcome: &R) -> Option<Duration>;
}

/// Any iterator of seconds is a finite (or endless) generator: Python's `constant(interval=[..])`
/// and any user-supplied generator.
impl<R: ?Sized, I> Wait<R> for I
where
    I: Iterator,
    I::Item: IntoSeconds,
{
    fn next_wait(&mut self, _: &R) -> Option<Duration> {
        self.next().map(IntoSeconds::into_duration)
    }
}

/// `factor * base^n` seconds for n = 0, 1, 2…; once a value is not below `max_value`,
/// `max_value` forever. See [`expo`](crate::expo).
#[derive(Clone, Debug, PartialEq)]
pub struct Expo {
    pub(crate) base: f64,
    pub(crate) factor: f64,
    pub(crate) max_value: Option<Duration>,
    n: u32,
}

impl Default for Expo {
    fn default() -> Self {
        Expo::new(2.0, 1.0, None)
    }
}

impl Expo {
    /// `base` and `factor` (seconds) as numbers; see [`expo`](crate::expo) for how bad values
    /// are handled.
    pub fn new(base: f64, factor: f64, max_value: Option<Duration>) -> Self {
        Expo {
            base,
            factor,
            max_value,
            n: 0,
        }
    }
}

/// `base^n` as Python's `base ** n`; for base 2 by repeated doubling (exact, as `powf` is,
/// and a few instructions against `powf`'s ~50).
#[inline]
fn power(base: f64, n: u32) -> f64 {
    if base == 2.0 {
        return 2f64.powi(i32::try_from(n).unwrap_or(i32::MAX));
    }
    base.powf(f64::from(n))
}

impl Expo {
    /// The wait at step `n`, advancing `n` unless the cap is reached.
    #[inline]
    pub(super) fn step(&self, n: &mut u32) -> Duration {
        let value = if self.factor == 0.0 {
            Duration::ZERO
        } else {
            saturating_secs(self.factor * power(self.base, *n))
        };
        match self.max_value {
            Some(max) if value >= max => max,
            _ => {
                *n = n.saturating_add(1);
                value
            }
        }
    }
}

impl<R: ?Sized> Wait<R> for Expo {
    fn next_wait(&mut self, _: &R) -> Option<Duration> {
        let mut n = self.n;
        let wait = self.step(&mut n);
        self.n = n;
        Some(wait)
    }
}

/// 1, 1, 2, 3, 5, 8… seconds, capped at `max_value` like [`Expo`]. See [`fibo`](crate::fibo).
#[derive(Clone, Debug, PartialEq)]
pub struct Fibo {
    pub(crate) max_value: Option<Duration>,
    pub(super) a: Duration,
    pub(super) b: Duration,
}

impl Default for Fibo {
    fn default() -> Self {
        Fibo::new(None)
    }
}

impl Fibo {
    /// A fresh sequence.
    pub fn new(max_value: Option<Duration>) -> Self {
        Fibo {
            max_value,
            a: Duration::from_secs(1),
            b: Duration::from_secs(1),
        }
    }
}

impl<R: ?Sized> Wait<R> for Fibo {
    fn next_wait(&mut self, _: &R) -> Option<Duration> {
        match self.max_value {
            Some(max) if self.a >= max => Some(max),
            _ => {
                let a = self.a;
                (self.a, self.b) = (self.b, self.a.saturating_add(self.b));
                Some(a)
            }
        }
    }
}

/// The same wait forever. See [`constant`](crate::constant).
#[derive(Clone, Debug, PartialEq)]
pub struct Constant {
    pub(crate) interval: Duration,
}

impl Constant {
    /// `interval` forever.
    pub fn new(interval: Duration) -> Self {
        Constant { interval }
    }
}

impl<R: ?Sized> Wait<R> for Constant {
    fn next_wait(&mut self, _: &R) -> Option<Duration> {
        Some(self.interval)
    }
}

/// A finite list of waits, walked in order; the run gives up when it runs out.
/// See [`intervals`](crate::intervals).
#[derive(Clone, Debug, PartialEq)]
pub struct Intervals {
    waits: Vec<Duration>,
    next: usize,
}

impl Intervals {
    /// The waits, in order.
    pub fn new<I: IntoIterator>(waits: I) -> Self
    where
        I::Item: IntoSeconds,
    {
        Intervals {
            waits: waits.into_iter().map(IntoSeconds::into_duration).collect(),
            next: 0,
        }
    }
}

impl<R: ?Sized> Wait<R> for Intervals {
    fn next_wait(&mut self, _: &R) -> Option<Duration> {
        let wait = self.waits.get(self.next).copied();
        self.next = self.next.saturating_add(1);
        wait
    }
}

/// `initial_value * e^(-t * decay_factor)` for t = 0, 1, 2…, floored at `min_value`
/// (upstream's unreleased `decay`). See [`decay`](crate::decay).
#[derive(Clone, Debug, PartialEq)]
pub struct Decay {
    pub(crate) initial_value: f64,
    pub(crate) decay_factor: f64,
    pub(crate) min_value: Option<Duration>,
    t: u32,
}

impl Default for Decay {
    fn default() -> Self {
        Decay::new(1.0, 1.0, None)
    }
}

impl Decay {
    /// A fresh sequence.
    pub fn new(initial_value: f64, decay_factor: f64, min_value: Option<Duration>) -> Self {
        Decay {
            initial_value,
            decay_factor,
            min_value,
            t: 0,
        }
    }
}

impl Decay {
    #[inline]
    pub(super) fn step(&self, t: &mut u32) -> Duration {
        let exponent = -f64::from(*t) * self.decay_factor;
        let value = if self.initial_value == 0.0 {
            Duration::ZERO
        } else {
            saturating_secs(self.initial_value * exponent.exp())
        };
        match self.min_value {
            Some(min) if value <= min => min,
            _ => {
                *t = t.saturating_add(1);
                value
            }
        }
    }
}

impl<R: ?Sized> Wait<R> for Decay {
    fn next_wait(&mut self, _: &R) -> Option<Duration> {
        let mut t = self.t;
        let wait = self.step(&mut t);
        self.t = t;
        Some(wait)
    }
}

/// The wait computed from the failed outcome: Python's `runtime(value=...)`, the Retry-After
/// hook. `None` from the function gives up. See [`runtime`](crate::runtime).
#[derive(Clone, Debug)]
pub struct Runtime<F>(pub F);

impl<R: ?Sized, F, S> Wait<R> for Runtime<F>
where
    F: FnMut(&R) -> Option<S>,
    S: IntoSeconds,
{
    fn next_wait(&mut self, outcome: &R) -> Option<Duration> {
        (self.0)(outcome).map(IntoSeconds::into_duration)
    }
}
