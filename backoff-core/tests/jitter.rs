//! Each jitter stays in its range, and a seed reproduces the same waits.

use std::time::Duration;

use backoff_core::{Action, Jitter, Policy, State, Verdict, Wait};

/// The waits a run would sleep with `jitter` over `generator`, for `n` failed attempts.
fn waits<W: Wait<()>>(generator: W, jitter: Jitter, seed: Option<u64>, n: usize) -> Vec<Duration> {
    let policy = Policy {
        jitter,
        seed,
        backoff_log_level: None,
        giveup_log_level: None,
        ..Policy::default()
    };
    let mut state = State::new("f", generator, policy);
    (0..n)
        .map(
            |_| match state.decide(&(), Verdict::Retry, Duration::ZERO, &"x") {
                Action::Backoff(w) => w,
                other => panic!("expected a backoff, got {other:?}"),
            },
        )
        .collect()
}

fn constant(s: u64) -> std::iter::Repeat<u64> {
    std::iter::repeat(s)
}

const N: usize = 2000;

#[test]
fn full_is_uniform_between_zero_and_v() {
    let w = waits(constant(10), Jitter::Full, None, N);
    assert!(w.iter().all(|w| *w <= Duration::from_secs(10)));
    // Spread over the range: some below 1 s and some above 9 s out of 2000 draws.
    assert!(w.iter().any(|w| *w < Duration::from_secs(1)));
    assert!(w.iter().any(|w| *w > Duration::from_secs(9)));
    let mean = w.iter().sum::<Duration>().as_secs_f64() / N as f64;
    assert!((mean - 5.0).abs() < 0.5, "mean {mean}");
}

#[test]
fn random_adds_up_to_one_second() {
    let w = waits(constant(10), Jitter::Random, None, N);
    assert!(
        w.iter()
            .all(|w| (Duration::from_secs(10)..=Duration::from_secs(11)).contains(w))
    );
    assert!(w.iter().any(|w| *w > Duration::from_millis(10_900)));
}

#[test]
fn equal_keeps_at_least_half() {
    let w = waits(constant(10), Jitter::Equal, None, N);
    assert!(
        w.iter()
            .all(|w| (Duration::from_secs(5)..=Duration::from_secs(10)).contains(w))
    );
    assert!(w.iter().any(|w| *w < Duration::from_millis(5_100)));
    assert!(w.iter().any(|w| *w > Duration::from_millis(9_900)));
}

#[test]
fn decorrelated_stays_between_base_and_the_generators_cap() {
    // Generator 1, 2, 4, … capped at 60: base 1 s, cap = the generator's value.
    let gen_values = |i: usize| Duration::from_secs((1u64 << i.min(20)).min(60));
    let generator = (0..).map(gen_values);
    let w = waits(generator, Jitter::Decorrelated, Some(7), 200);
    for (i, wait) in w.iter().enumerate() {
        assert!(
            *wait >= Duration::from_secs(1).min(gen_values(i)),
            "{i}: {wait:?}"
        );
        assert!(*wait <= gen_values(i), "{i}: {wait:?}");
    }
    // Each wait is at most three times the previous one.
    for pair in w.windows(2) {
        assert!(pair[1] <= pair[0] * 3, "{pair:?}");
    }
    // It does not collapse to the base: later waits reach well past it.
    assert!(w[100..].iter().any(|w| *w > Duration::from_secs(20)));
}

#[test]
fn none_and_custom() {
    assert_eq!(
        waits(constant(3), Jitter::None, None, 3),
        vec![Duration::from_secs(3); 3]
    );
    let half = Jitter::custom(|v| v / 2);
    assert_eq!(
        waits(constant(3), half, None, 2),
        vec![Duration::from_millis(1500); 2]
    );
}

#[test]
fn a_seed_reproduces_the_waits_and_another_seed_differs() {
    let a = waits(constant(10), Jitter::Full, Some(42), 20);
    let b = waits(constant(10), Jitter::Full, Some(42), 20);
    let c = waits(constant(10), Jitter::Full, Some(43), 20);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn jitter_never_overflows_at_duration_max() {
    for jitter in [
        Jitter::Full,
        Jitter::Random,
        Jitter::Equal,
        Jitter::Decorrelated,
    ] {
        let w = waits(
            std::iter::repeat(Duration::MAX),
            jitter.clone(),
            Some(1),
            50,
        );
        assert!(w.iter().all(|w| *w <= Duration::MAX), "{jitter:?}");
    }
}
