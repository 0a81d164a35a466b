//! Every wait generator yields Python backoff 2.2.1's exact sequence, and saturates instead of
//! overflowing.

use std::time::Duration;

use backoff_core::__private::OnErr;
use backoff_core::wait::{Constant, Decay, Expo, Fibo, Intervals, Runtime};
use backoff_core::{IntoSeconds, Wait};

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn take<W: Wait<()>>(mut w: W, n: usize) -> Vec<Option<Duration>> {
    (0..n).map(|_| w.next_wait(&())).collect()
}

fn some(v: &[f64]) -> Vec<Option<Duration>> {
    v.iter().map(|s| Some(secs(*s))).collect()
}

#[test]
fn expo_defaults_double_from_one_second() {
    assert_eq!(
        take(Expo::default(), 6),
        some(&[1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    );
}

#[test]
fn expo_with_factor_base_and_cap_matches_python() {
    // Python: list(islice(expo(base=3, factor=0.5, max_value=4), 5)) == [0.5, 1.5, 4, 4, 4]
    let w = Expo::new(3.0, 0.5, Some(secs(4.0)));
    assert_eq!(take(w, 5), some(&[0.5, 1.5, 4.0, 4.0, 4.0]));
}

#[test]
fn expo_value_equal_to_cap_yields_cap() {
    // 1, 2, 4: 4 is "not < max_value", so it is the cap from then on.
    let w = Expo::new(2.0, 1.0, Some(secs(4.0)));
    assert_eq!(take(w, 5), some(&[1.0, 2.0, 4.0, 4.0, 4.0]));
}

#[test]
fn fibo_matches_python_with_and_without_cap() {
    assert_eq!(
        take(Fibo::default(), 8),
        some(&[1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0])
    );
    let capped = Fibo::new(Some(secs(5.0)));
    assert_eq!(
        take(capped, 8),
        some(&[1.0, 1.0, 2.0, 3.0, 5.0, 5.0, 5.0, 5.0])
    );
}

#[test]
fn constant_is_forever_and_intervals_run_out() {
    assert_eq!(take(Constant::new(secs(2.0)), 3), some(&[2.0, 2.0, 2.0]));
    let w = Intervals::new([1.0, 0.5]);
    assert_eq!(take(w, 3), vec![Some(secs(1.0)), Some(secs(0.5)), None]);
}

#[test]
fn any_iterator_of_seconds_is_a_generator() {
    let w = [3u64, 1].into_iter();
    assert_eq!(take(w, 3), vec![Some(secs(3.0)), Some(secs(1.0)), None]);
}

#[test]
fn decay_matches_upstream_formula_and_floor() {
    // initial_value * e^(-t * decay_factor), floored at min_value.
    let w = Decay::new(8.0, 0.5, Some(secs(2.0)));
    let got = take(w, 6);
    let expected: Vec<f64> = vec![8.0, 8.0 * (-0.5f64).exp(), 8.0 * (-1.0f64).exp()];
    for (g, e) in got.iter().zip(&expected) {
        let g = g.unwrap().as_secs_f64();
        assert!((g - e).abs() < 1e-6, "{g} vs {e}");
    }
    // 8 e^-1.5 = 1.79 < 2: floored from then on.
    assert_eq!(got[3], Some(secs(2.0)));
    assert_eq!(got[4], Some(secs(2.0)));
    assert_eq!(got[5], Some(secs(2.0)));
}

#[test]
fn runtime_reads_the_outcome_and_none_gives_up() {
    let mut w = Runtime(|retry_after: &Option<u64>| *retry_after);
    assert_eq!(w.next_wait(&Some(7)), Some(secs(7.0)));
    assert_eq!(w.next_wait(&None), None);
}

#[test]
fn on_err_gives_the_error_to_the_generator() {
    let mut w = OnErr(Runtime(|e: &u32| Some(f64::from(*e) / 2.0)));
    assert_eq!(w.next_wait(&Err::<(), u32>(3)), Some(secs(1.5)));
    assert_eq!(w.next_wait(&Ok::<(), u32>(())), None);
}

#[test]
fn huge_parameters_saturate() {
    // 1e300 * 1e300^n overflows f64 to +inf: Duration::MAX, never a panic.
    let got = take(Expo::new(1e300, 1e300, None), 4);
    assert!(got.iter().all(|w| *w == Some(Duration::MAX)));
    // Fibonacci past u64 seconds saturates.
    let mut f = Fibo::default();
    let mut last = Duration::ZERO;
    for _ in 0..200 {
        let w = f.next_wait(&()).unwrap();
        assert!(w >= last);
        last = w;
    }
    assert_eq!(last, Duration::MAX);
    // 2^n for n past 2^31 (i32) and u32 attempts.
    let mut e = Expo::default();
    for _ in 0..2000 {
        e.next_wait(&());
    }
    assert_eq!(e.next_wait(&()), Some(Duration::MAX));
}

#[test]
fn nan_and_negative_parameters_wait_zero() {
    // NaN^0 is 1 (as in Python), NaN^1 is NaN: zero.
    assert_eq!(take(Expo::new(f64::NAN, 1.0, None), 2), some(&[1.0, 0.0]));
    assert_eq!(
        take(Expo::new(2.0, -1.0, None), 2),
        vec![Some(Duration::ZERO); 2]
    );
    assert_eq!(take(Expo::new(-2.0, 1.0, None), 2), some(&[1.0, 0.0]));
    assert_eq!(
        take(Decay::new(-1.0, 1.0, None), 1),
        vec![Some(Duration::ZERO)]
    );
    // A zero factor times an infinite power is zero, not NaN.
    assert_eq!(
        take(Expo::new(f64::INFINITY, 0.0, None), 3),
        vec![Some(Duration::ZERO); 3]
    );
}

#[test]
fn seconds_conversions_saturate() {
    assert_eq!((-1i32).into_duration(), Duration::ZERO);
    assert_eq!(u128::MAX.into_duration(), Duration::from_secs(u64::MAX));
    assert_eq!(f64::NEG_INFINITY.into_duration(), Duration::ZERO);
    assert_eq!(1e30f64.into_duration(), Duration::MAX);
    assert_eq!(0.25f32.into_duration(), secs(0.25));
}
