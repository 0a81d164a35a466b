//! Jitter: random waits that stop clients' retries from bunching.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::secs::{between, scale};

/// How a generated wait `v` is randomised before it is cut to what remains of `max_time`.
///
/// | variant | wait |
/// |---|---|
/// | [`Full`](Jitter::Full) (default) | uniform in `[0, v]` |
/// | [`Random`](Jitter::Random) | `v` + uniform in `[0, 1 s]` |
/// | [`Equal`](Jitter::Equal) | `v/2` + uniform in `[0, v/2]` |
/// | [`Decorrelated`](Jitter::Decorrelated) | `min(v, uniform(base, 3 * previous wait))`, `base` the run's first generated wait |
/// | [`None`](Jitter::None) | `v` |
/// | [`Custom`](Jitter::Custom) | your function of `v` |
///
/// `Decorrelated` follows the AWS Architecture Blog's "Exponential Backoff and Jitter": the
/// generator's value is the cap, so pair it with `expo(max_value = ...)`.
#[derive(Clone, Default)]
pub enum Jitter {
    /// No jitter: the generator's waits as they are.
    None,
    /// Uniform in `[0, v]`: Python's `full_jitter`, the default.
    #[default]
    Full,
    /// `v` plus uniform in `[0, 1 s]`: Python's `random_jitter`.
    Random,
    /// `v/2` plus uniform in `[0, v/2]`.
    Equal,
    /// `min(v, uniform(base, 3 * previous))`.
    Decorrelated,
    /// A function of the generated wait.
    Custom(Arc<dyn Fn(Duration) -> Duration + Send + Sync>),
}

impl Jitter {
    /// A jitter from a function of the generated wait.
    pub fn custom(f: impl Fn(Duration) -> Duration + Send + Sync + 'static) -> Self {
        Jitter::Custom(Arc::new(f))
    }
}

impl fmt::Debug for Jitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Jitter::None => "None",
            Jitter::Full => "Full",
            Jitter::Random => "Random",
            Jitter::Equal => "Equal",
            Jitter::Decorrelated => "Decorrelated",
            Jitter::Custom(_) => "Custom(..)",
        })
    }
}

/// Where the randomness comes from: the thread's generator (fetched at each draw and never
/// held, so nothing random lives across an `.await`), or a seeded one for reproducible runs.
#[derive(Debug)]
pub(crate) enum Source {
    Thread,
    Seeded(Box<StdRng>),
}

impl Source {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        match seed {
            None => Source::Thread,
            Some(seed) => Source::Seeded(Box::new(StdRng::seed_from_u64(seed))),
        }
    }

    /// A uniform draw from `[0, 1)`.
    fn unit(&mut self) -> f64 {
        match self {
            Source::Thread => rand::rng().random::<f64>(),
            Source::Seeded(rng) => rng.random::<f64>(),
        }
    }
}

/// The per-run state that jitter needs: the randomness, and for `Decorrelated` the first
/// generated wait and the previous wait.
#[derive(Debug)]
pub(crate) struct JitterState {
    source: Source,
    decorrelated: Option<(Duration, Duration)>,
}

impl JitterState {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        JitterState {
            source: Source::new(seed),
            decorrelated: None,
        }
    }

    pub(crate) fn apply(&mut self, jitter: &Jitter, v: Duration) -> Duration {
        match jitter {
            Jitter::None => v,
            Jitter::Full => scale(v, self.source.unit()),
            Jitter::Random => v.saturating_add(scale(Duration::from_secs(1), self.source.unit())),
            Jitter::Equal => {
                let half = v / 2;
                half.saturating_add(scale(v - half, self.source.unit()))
            }
            Jitter::Decorrelated => {
                let (base, prev) = *self.decorrelated.get_or_insert((v, v));
                let wait = between(base, prev.saturating_mul(3), self.source.unit()).min(v);
                self.decorrelated = Some((base, wait));
                wait
            }
            Jitter::Custom(f) => f(v),
        }
    }
}
