//! Every wait generator, with parameters as top-level keys and in parentheses.
use politely::backoff;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static CALLS: AtomicU32 = AtomicU32::new(0);

fn no_sleep(_: Duration) {}

fn tick() -> u32 {
    CALLS.fetch_add(1, Ordering::SeqCst) + 1
}

#[backoff(expo, base = 3, factor = 0.001, max_value = 0.01, max_tries = 3, sleep = no_sleep)]
fn expo_flat() -> Result<u32, String> {
    tick();
    Err("down".to_owned())
}

#[backoff(expo(base = 2.5, factor = Duration::from_millis(1), max_value = 1), max_tries = 3, sleep = no_sleep)]
fn expo_parens() -> Result<u32, String> {
    tick();
    Err("down".to_owned())
}

#[backoff(fibo, max_value = 5, max_tries = 3, sleep = no_sleep)]
fn fibo_bool() -> bool {
    tick();
    false
}

#[backoff(fibo(max_value = Duration::from_secs(2)), max_tries = 3, sleep = no_sleep)]
fn fibo_parens() -> Option<u32> {
    tick();
    None
}

#[backoff(constant, interval = 0.001, max_tries = 3, sleep = no_sleep)]
fn constant_scalar() -> Option<u32> {
    tick();
    None
}

#[backoff(constant(interval = [0.0, 0.001, 0.002]))]
fn constant_list() -> Option<u32> {
    // The list runs out after three waits: four attempts in all.
    tick();
    None
}

#[backoff(constant, interval = vec![Duration::ZERO; 2])]
fn constant_vec() -> Option<u32> {
    tick();
    None
}

#[backoff(decay, initial_value = 1, decay_factor = 0.5, min_value = 0.01, max_tries = 3, sleep = no_sleep)]
fn decay_flat() -> Result<u32, String> {
    tick();
    Err("down".to_owned())
}

#[backoff(decay(initial_value = 0.5, decay_factor = 2, min_value = 0), max_tries = 2, sleep = no_sleep)]
fn decay_parens() -> Result<u32, String> {
    tick();
    Err("down".to_owned())
}

/// `runtime` on a `Result` fn sees the error.
#[backoff(runtime, value = |retry_after: &u64| Some(Duration::from_millis(*retry_after)), max_tries = 3, jitter = none)]
fn runtime_on_error() -> Result<u32, u64> {
    tick();
    Err(0)
}

/// `runtime` with a predicate sees the value; `None` gives up.
#[backoff(runtime(value = |n: &u32| if *n >= 3 { None } else { Some(0.0) }), on = predicate, predicate = |n: &u32| *n < 10)]
fn runtime_on_value() -> u32 {
    tick()
}

/// Any iterator of seconds is a generator.
#[backoff(wait = [0u64, 0, 0].into_iter(), jitter = none)]
fn custom_wait() -> Result<u32, String> {
    tick();
    Err("down".to_owned())
}

fn count(f: impl FnOnce()) -> u32 {
    CALLS.store(0, Ordering::SeqCst);
    f();
    CALLS.load(Ordering::SeqCst)
}

fn main() {
    assert_eq!(count(|| assert!(expo_flat().is_err())), 3);
    assert_eq!(count(|| assert!(expo_parens().is_err())), 3);
    assert_eq!(count(|| assert!(!fibo_bool())), 3);
    assert_eq!(count(|| assert!(fibo_parens().is_none())), 3);
    assert_eq!(count(|| assert!(constant_scalar().is_none())), 3);
    assert_eq!(count(|| assert!(constant_list().is_none())), 4);
    assert_eq!(count(|| assert!(constant_vec().is_none())), 3);
    assert_eq!(count(|| assert!(decay_flat().is_err())), 3);
    assert_eq!(count(|| assert!(decay_parens().is_err())), 2);
    assert_eq!(count(|| assert!(runtime_on_error().is_err())), 3);
    assert_eq!(count(|| assert_eq!(runtime_on_value(), 3)), 3);
    assert_eq!(count(|| assert!(custom_wait().is_err())), 4);
}
