//! The log lines a decision writes (Python's "Backing off ..." and "Giving up ..."), and
//! how an outcome is shown in them.

use std::fmt;
use std::time::Duration;

use tracing::Level;

/// Where a decision's log line goes.
pub(crate) trait LogTo<'a> {
    fn line(&mut self, line: Line<'a>);
}

/// Written at once, with the outcome shown so.
impl<'a> LogTo<'a> for &dyn fmt::Display {
    #[inline]
    fn line(&mut self, line: Line<'a>) {
        line.write(*self);
    }
}

/// Kept for the caller.
pub(super) struct Later<'a>(pub(super) Option<Line<'a>>);

impl<'a> LogTo<'a> for Later<'a> {
    #[inline]
    fn line(&mut self, line: Line<'a>) {
        self.0 = Some(line);
    }
}

/// A log line a decision asked for (its level enabled), not yet written: see
/// [`Run::fail_later`](super::Run::fail_later).
#[derive(Clone, Copy, Debug)]
pub struct Line<'a> {
    pub(super) kind: LineKind,
    pub(super) level: Level,
    pub(super) target: &'a str,
    pub(super) tries: u32,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum LineKind {
    Backoff(Duration),
    GiveUp,
    BudgetSpent,
}

impl Line<'_> {
    /// Writes the line about `outcome`, which `describe` shows, and hands the outcome back.
    #[cold]
    #[inline(never)]
    pub fn emit<R>(
        self,
        outcome: R,
        describe: impl Fn(&R, &mut fmt::Formatter<'_>) -> fmt::Result,
    ) -> R {
        self.write(&Described(&outcome, describe));
        outcome
    }

    fn write(self, shown: &dyn fmt::Display) {
        match self.kind {
            LineKind::Backoff(wait) => log_backoff(self.level, self.target, wait, shown),
            LineKind::GiveUp => log_giveup(self.level, self.target, self.tries, shown),
            LineKind::BudgetSpent => {
                log_budget_spent(self.level, self.target, self.tries, shown);
            }
        }
    }
}

/// An outcome shown through the expansion's `describe` (which picks `Debug` or the type's
/// name where the type is known).
struct Described<'a, R, F>(&'a R, F);

impl<R, F: Fn(&R, &mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Described<'_, R, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.1)(self.0, f)
    }
}

macro_rules! at_level {
    ($level:expr, $($rest:tt)*) => {
        match $level {
            Level::TRACE => tracing::event!(target: "backoff", Level::TRACE, $($rest)*),
            Level::DEBUG => tracing::event!(target: "backoff", Level::DEBUG, $($rest)*),
            Level::INFO => tracing::event!(target: "backoff", Level::INFO, $($rest)*),
            Level::WARN => tracing::event!(target: "backoff", Level::WARN, $($rest)*),
            Level::ERROR => tracing::event!(target: "backoff", Level::ERROR, $($rest)*),
        }
    };
}

#[cold]
#[inline(never)]
fn log_backoff(level: Level, target: &str, wait: Duration, shown: &dyn fmt::Display) {
    at_level!(
        level,
        function = target,
        wait_s = wait.as_secs_f64(),
        "Backing off {target}(...) for {:.1}s ({shown})",
        wait.as_secs_f64()
    );
}

#[cold]
#[inline(never)]
fn log_giveup(level: Level, target: &str, tries: u32, shown: &dyn fmt::Display) {
    at_level!(
        level,
        function = target,
        tries,
        "Giving up {target}(...) after {tries} tries ({shown})"
    );
}

#[cold]
#[inline(never)]
fn log_budget_spent(level: Level, target: &str, tries: u32, shown: &dyn fmt::Display) {
    at_level!(
        level,
        function = target,
        tries,
        budget_exhausted = true,
        "Giving up {target}(...) after {tries} tries: retry budget exhausted ({shown})"
    );
}

/// Describes an outcome for the log: `Debug` where the type has it.
pub struct Shown<'a>(pub &'a dyn fmt::Debug);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

/// Whether anything may record an event at `level`: with no subscriber, or one whose
/// maximum level is below it, a log line costs this one check, and the outcome is never
/// formatted. (A subscriber that filters per event is asked by `tracing` itself, still
/// before any formatting.)
#[inline]
pub(super) fn on(level: Level) -> bool {
    level <= tracing::level_filters::STATIC_MAX_LEVEL
        && level <= tracing::level_filters::LevelFilter::current()
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::fmt;
    use std::time::Duration;

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    use super::Shown;
    use crate::__private::Steps;
    use crate::decide::{Action, Rules, Run, Unpaced, Verdict};
    use crate::jitter::named::{Decorrelated, Full};
    use crate::wait::schedule::Schedule;
    use crate::wait::{Constant, Expo, Fibo};

    thread_local! {
        static DEBUGS: Cell<u32> = const { Cell::new(0) };
    }

    /// An outcome that counts how often it is formatted.
    struct Counted;

    impl fmt::Debug for Counted {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            DEBUGS.with(|c| c.set(c.get() + 1));
            f.write_str("Counted")
        }
    }

    /// Records events up to `max`, formatting every field as a real subscriber would.
    /// `hint` says whether it tells `tracing` its maximum level up front.
    struct Up {
        max: Level,
        hint: bool,
    }

    struct Format;
    impl Visit for Format {
        fn record_debug(&mut self, _: &Field, value: &dyn fmt::Debug) {
            let _ = format!("{value:?}");
        }
    }

    impl Subscriber for Up {
        fn enabled(&self, m: &Metadata<'_>) -> bool {
            *m.level() <= self.max
        }
        fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
            self.hint
                .then(|| tracing::level_filters::LevelFilter::from_level(self.max))
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, e: &Event<'_>) {
            e.record(&mut Format);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    /// Two failures (each logged "Backing off" at INFO) and a give-up at `max_tries = 3`
    /// (logged at ERROR); the number of times the outcome was formatted.
    fn run_and_count() -> u32 {
        DEBUGS.with(|c| c.set(0));
        let rules = Rules {
            max_tries: Some(3),
            ..Rules::new("f")
        };
        let mut run = Run::<u32>::new(0);
        let outcome = Counted;
        let mut actions = Vec::new();
        for _ in 0..3 {
            actions.push(run.decide(
                None,
                || (rules, Expo::default()),
                &Full,
                &outcome,
                Verdict::Retry,
                Duration::ZERO,
                &Shown(&outcome),
                |_| None,
            ));
        }
        assert!(matches!(
            actions[..],
            [Action::Backoff(_), Action::Backoff(_), Action::GiveUp]
        ));
        DEBUGS.with(Cell::get)
    }

    #[test]
    fn logging_formats_nothing_without_a_subscriber_or_below_its_level() {
        assert_eq!(run_and_count(), 0, "no subscriber");
        for hint in [true, false] {
            let warn = Up {
                max: Level::WARN,
                hint,
            };
            // The two INFO lines are skipped before any formatting; the ERROR one is
            // recorded (which shows the count works).
            let n = tracing::subscriber::with_default(warn, run_and_count);
            assert_eq!(n, 1, "max WARN, hint {hint}");
            let off = Up {
                max: Level::TRACE,
                hint,
            };
            let n = tracing::subscriber::with_default(off, run_and_count);
            assert_eq!(n, 3, "everything on, hint {hint}");
        }
    }

    #[test]
    fn a_run_keeps_only_what_changes() {
        // Tries and the generator's step; the rest is passed to each decision.
        assert_eq!(size_of::<Run<u32>>(), 8);
        assert_eq!(size_of::<Run<()>>(), 4);
        assert_eq!(size_of::<Run<u32, (), crate::decide::Queued>>(), 16);
        assert_eq!(
            size_of::<Run<u32, <Decorrelated as crate::jitter::Spread>::Memory, Unpaced>>(),
            40
        );
    }

    /// The split generators give the same waits as the whole ones (Python's sequences).
    #[test]
    fn split_generators_match_their_sequences() {
        fn take<S: Schedule<()> + Clone>(s: S, mut p: S::Progress, n: usize) -> Vec<u64> {
            (0..n)
                .map(|_| {
                    s.clone()
                        .next_wait(&mut p, &())
                        .map_or(u64::MAX, |d| d.as_secs())
                })
                .collect()
        }
        let max = Some(Duration::from_secs(5));
        assert_eq!(take(Fibo::new(max), 0, 8), [1, 1, 2, 3, 5, 5, 5, 5]);
        assert_eq!(take(Fibo::new(None), 0, 8), [1, 1, 2, 3, 5, 8, 13, 21]);
        assert_eq!(
            take(Expo::new(2.0, 1.0, Some(Duration::from_secs(10))), 0, 6),
            [1, 2, 4, 8, 10, 10]
        );
        assert_eq!(
            take(Constant::new(Duration::from_secs(2)), (), 3),
            [2, 2, 2]
        );
        let list = [Duration::from_secs(1), Duration::from_secs(3)];
        assert_eq!(take(Steps(list), 0, 3), [1, 3, u64::MAX]);
        // A saturated Fibonacci step stays cheap and saturated however far the run goes.
        let mut far = u32::MAX - 1;
        assert_eq!(
            Schedule::<()>::next_wait(Fibo::new(None), &mut far, &()),
            Some(Duration::MAX)
        );
    }

    /// A seeded run's draws depend on (seed, try) only: reproducible, and spread over [0, 1).
    #[test]
    fn seeded_draws_are_reproducible_and_spread() {
        use crate::jitter::unit_draw;
        let a: Vec<f64> = (1..=1000).map(|n| unit_draw(Some(7), n)).collect();
        let b: Vec<f64> = (1..=1000).map(|n| unit_draw(Some(7), n)).collect();
        let c: Vec<f64> = (1..=1000).map(|n| unit_draw(Some(8), n)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = a.iter().sum::<f64>() / 1000.0;
        assert!((0.45..0.55).contains(&mean), "{mean}");
        let low = a.iter().filter(|u| **u < 0.1).count();
        assert!((60..140).contains(&low), "{low}");
    }
}
