//! Jitter: random waits that stop clients' retries from bunching.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

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
    #[inline]
    pub(crate) fn new(seed: Option<u64>) -> Self {
        match seed {
            None => Source::Thread,
            Some(seed) => Self::seeded(seed),
        }
    }

    #[cold]
    fn seeded(seed: u64) -> Self {
        Source::Seeded(Box::new(StdRng::seed_from_u64(seed)))
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
    #[inline]
    pub(crate) fn new(seed: Option<u64>) -> Self {
        JitterState {
            source: Source::new(seed),
            decorrelated: None,
        }
    }

    pub(crate) fn apply(&mut self, jitter: &Jitter, v: Duration) -> Duration {
        let source = &mut self.source;
        jitter.spread(v, &mut self.decorrelated, || source.unit())
    }
}

/// A jitter as the attribute's expansion applies it: the named ones are types of their own
/// (so a run that cannot be decorrelated keeps no memory for it), a function is called in
/// place (no `Arc`, no allocation), and a [`Jitter`] value decides at run time.
pub trait Spread {
    /// What the jitter remembers between waits of one run: nothing, or for `Decorrelated`
    /// the first generated wait and the previous wait.
    type Memory: Default;

    /// The jittered wait for a generated wait `v`; `unit` is a uniform draw from `[0, 1)`,
    /// called at most once.
    fn spread(
        &self,
        v: Duration,
        memory: &mut Self::Memory,
        unit: impl FnOnce() -> f64,
    ) -> Duration;
}

impl Spread for Jitter {
    type Memory = Option<(Duration, Duration)>;

    fn spread(
        &self,
        v: Duration,
        memory: &mut Self::Memory,
        unit: impl FnOnce() -> f64,
    ) -> Duration {
        match self {
            Jitter::None => v,
            Jitter::Full => Full.spread(v, &mut (), unit),
            Jitter::Random => Random.spread(v, &mut (), unit),
            Jitter::Equal => Equal.spread(v, &mut (), unit),
            Jitter::Decorrelated => Decorrelated.spread(v, memory, unit),
            Jitter::Custom(f) => f(v),
        }
    }
}

/// The named jitters as types, for the attribute's `jitter = full` and the like.
pub mod named {
    use std::time::Duration;

    use super::Spread;
    use crate::secs::{between, scale};

    /// `jitter = none`.
    #[derive(Clone, Copy, Debug)]
    pub struct None;
    /// `jitter = full`: uniform in `[0, v]`.
    #[derive(Clone, Copy, Debug)]
    pub struct Full;
    /// `jitter = random`: `v` plus uniform in `[0, 1 s]`.
    #[derive(Clone, Copy, Debug)]
    pub struct Random;
    /// `jitter = equal`: `v/2` plus uniform in `[0, v/2]`.
    #[derive(Clone, Copy, Debug)]
    pub struct Equal;
    /// `jitter = decorrelated`: `min(v, uniform(base, 3 * previous))`.
    #[derive(Clone, Copy, Debug)]
    pub struct Decorrelated;

    impl Spread for None {
        type Memory = ();
        #[inline]
        fn spread(&self, v: Duration, (): &mut (), _: impl FnOnce() -> f64) -> Duration {
            v
        }
    }

    impl Spread for Full {
        type Memory = ();
        #[inline]
        fn spread(&self, v: Duration, (): &mut (), unit: impl FnOnce() -> f64) -> Duration {
            scale(v, unit())
        }
    }

    impl Spread for Random {
        type Memory = ();
        #[inline]
        fn spread(&self, v: Duration, (): &mut (), unit: impl FnOnce() -> f64) -> Duration {
            v.saturating_add(scale(Duration::from_secs(1), unit()))
        }
    }

    impl Spread for Equal {
        type Memory = ();
        #[inline]
        fn spread(&self, v: Duration, (): &mut (), unit: impl FnOnce() -> f64) -> Duration {
            let half = v / 2;
            half.saturating_add(scale(v - half, unit()))
        }
    }

    impl Spread for Decorrelated {
        type Memory = Option<(Duration, Duration)>;
        fn spread(
            &self,
            v: Duration,
            memory: &mut Self::Memory,
            unit: impl FnOnce() -> f64,
        ) -> Duration {
            let (base, prev) = *memory.get_or_insert((v, v));
            let wait = between(base, prev.saturating_mul(3), unit()).min(v);
            *memory = Some((base, wait));
            wait
        }
    }
}

use named::{Decorrelated, Equal, Full, Random};

/// A function of the generated wait, called in place: `jitter = |v| ...`.
#[derive(Clone, Copy, Debug)]
pub struct FnJitter<F>(pub F);

impl<F: Fn(Duration) -> Duration> Spread for FnJitter<F> {
    type Memory = ();
    #[inline]
    fn spread(&self, v: Duration, (): &mut (), _: impl FnOnce() -> f64) -> Duration {
        (self.0)(v)
    }
}

/// A uniform draw from `[0, 1)` for the `n`th decision of a run: from the thread's generator,
/// or, with a seed, a pure function of (seed, n) (SplitMix64), so that a seeded run keeps no
/// generator between its waits and the same seed gives the same waits.
#[inline]
pub(crate) fn unit_draw(seed: Option<u64>, n: u32) -> f64 {
    match seed {
        None => rand::rng().random::<f64>(),
        Some(seed) => {
            let mut z = seed.wrapping_add(u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            // The top 53 bits as a fraction of 2^53: uniform in [0, 1).
            #[allow(clippy::cast_precision_loss)]
            let u = (z >> 11) as f64 / (1u64 << 53) as f64;
            u
        }
    }
}
