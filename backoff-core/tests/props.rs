//! Property tests over the whole parameter space: no configuration, input or attempt count
//! panics, overflows or loops forever, and no wait passes a cap or the deadline.

use std::time::Duration;

use backoff_core::sim::SimClock;
use backoff_core::wait::{Decay, Expo, Fibo, Intervals};
use backoff_core::{Action, IntoSeconds, Jitter, Policy, State, Verdict, Wait};
use proptest::prelude::*;

/// Any f64 at all: NaN, infinities, negatives, subnormals, huge.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        -1e3..1e3f64,
        0.0..10.0f64,
    ]
}

fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        any::<u64>().prop_map(Duration::from_secs),
        any::<u64>().prop_map(Duration::from_nanos),
        (0u64..1000).prop_map(Duration::from_secs),
    ]
}

fn any_jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Random),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
    ]
}

fn drive<W: Wait<()>>(mut w: W, steps: usize, cap: Option<Duration>) -> Result<(), TestCaseError> {
    for _ in 0..steps {
        if let (Some(v), Some(cap)) = (w.next_wait(&()), cap) {
            prop_assert!(v <= cap, "{v:?} above cap {cap:?}");
        }
    }
    Ok(())
}

proptest! {
    /// Seconds as `f64` take a fast path for whole seconds and `try_from_secs_f64` for the
    /// rest: the same Duration as the exact conversion, for every f64.
    #[test]
    fn f64_seconds_are_the_exact_conversion(
        x in prop_oneof![any_f64(), (0u64..1u64 << 40).prop_map(|n| n as f64), any::<i64>().prop_map(|n| n as f64)]
    ) {
        let exact = if x.is_nan() || x <= 0.0 {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64(x).unwrap_or(Duration::MAX)
        };
        prop_assert_eq!(x.into_duration(), exact);
    }

    /// Full jitter scales the wait on its nanoseconds: never above it, and within a
    /// nanosecond of `Duration::mul_f64` wherever that is exact (below 2^52 ns).
    #[test]
    fn full_jitter_scales_within_a_nanosecond(v in any_duration(), k in prop_oneof![0.0..1.0f64, any_f64()]) {
        use backoff_core::__private::{Spread, jitters::Full};
        let got = Full.spread(v, &mut (), || k);
        prop_assert!(got <= v, "{got:?} above {v:?}");
        if v.as_nanos() < 1u128 << 52 && (0.0..=1.0).contains(&k) {
            let std = v.mul_f64(k);
            let diff = got.abs_diff(std);
            prop_assert!(diff <= Duration::from_nanos(1), "{v:?} x {k}: {got:?} against {std:?}");
        }
    }

    #[test]
    fn seconds_never_panic(x in any_f64()) {
        let d = x.into_duration();
        if x.is_nan() || x <= 0.0 {
            prop_assert_eq!(d, Duration::ZERO);
        }
    }

    #[test]
    fn expo_never_panics_and_respects_its_cap(
        base in any_f64(), factor in any_f64(), cap in proptest::option::of(any_duration()),
    ) {
        drive(Expo::new(base, factor, cap), 300, cap)?;
    }

    #[test]
    fn fibo_never_panics_and_respects_its_cap(cap in proptest::option::of(any_duration())) {
        drive(Fibo::new(cap), 300, cap)?;
    }

    #[test]
    fn decay_never_panics(init in any_f64(), factor in any_f64(), floor in proptest::option::of(any_duration())) {
        drive(Decay::new(init, factor, floor), 300, None)?;
    }

    #[test]
    fn intervals_never_panic(list in proptest::collection::vec(any_f64(), 0..8)) {
        let n = list.len();
        let mut w = Intervals::new(list);
        for _ in 0..n {
            prop_assert!(w.next_wait(&()).is_some());
        }
        prop_assert!(w.next_wait(&()).is_none());
    }

    /// Whatever the limits, jitter and elapsed times: no panic, the wait never passes what is
    /// left of max_time, and the run ends by max_tries.
    #[test]
    fn decide_never_panics_nor_passes_the_deadline(
        max_tries in proptest::option::of(prop_oneof![0u32..20, Just(u32::MAX)]),
        max_time in proptest::option::of(any_duration()),
        jitter in any_jitter(),
        elapsed in proptest::collection::vec(any_duration(), 1..40),
        base in any_f64(),
        factor in any_f64(),
        seed in any::<u64>(),
    ) {
        let policy = Policy {
            max_tries,
            max_time,
            jitter,
            seed: Some(seed),
            retry_after_max: None,
            budget: None,
            backoff_log_level: None,
            giveup_log_level: None,
        };
        let mut state = State::new("f", Expo::new(base, factor, None), policy);
        let mut gave_up = false;
        for (i, e) in elapsed.iter().enumerate() {
            match state.decide(&(), Verdict::Retry, *e, &"") {
                Action::Backoff(w) => {
                    prop_assert!(!gave_up);
                    if let Some(max) = max_time {
                        prop_assert!(*e < max);
                        prop_assert!(w <= max - *e, "wait {w:?} past the deadline");
                    }
                    if let Some(max) = max_tries {
                        prop_assert!((i as u64 + 1) < u64::from(max.max(1)));
                    }
                }
                Action::GiveUp => { gave_up = true; break; }
                other => prop_assert!(false, "unexpected {other:?}"),
            }
        }
        if let Some(max) = max_tries
            && elapsed.len() as u64 >= u64::from(max.max(1))
        {
            prop_assert!(gave_up, "ran past max_tries");
        }
    }

    /// A whole run on a simulated clock always ends: by max_tries (0 acts as 1) or max_time,
    /// with the total sleep within max_time.
    #[test]
    fn runs_always_end(
        max_tries in 0u32..60,
        max_time in proptest::option::of(0u64..100_000),
        jitter in any_jitter(),
        base in 1.0..10.0f64,
        factor in any_f64(),
    ) {
        let clock = SimClock::new();
        let mut b = backoff_core::Backoff::new(Expo::new(base, factor, None))
            .max_tries(max_tries)
            .jitter(jitter)
            .seed(1)
            .backoff_log_level(None)
            .giveup_log_level(None);
        if let Some(t) = max_time {
            b = b.max_time(t);
        }
        let mut calls = 0u32;
        let out = b
            .retry_blocking(|| { calls += 1; Err::<(), ()>(()) })
            .judge(|_| Verdict::Retry)
            .sleep(|w| clock.sleep(w))
            .clock(|| clock.now())
            .call();
        prop_assert_eq!(out, Err(()));
        prop_assert!(calls >= 1 && calls <= max_tries.max(1));
        if let Some(t) = max_time {
            prop_assert!(clock.now().0 <= Duration::from_secs(t).max(Duration::ZERO));
        }
    }
}
