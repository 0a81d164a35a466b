//! `max_tries` and `max_time` as literals, expressions and closures evaluated per call.
use politely::backoff;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static CALLS: AtomicU32 = AtomicU32::new(0);
const LIMIT: usize = 3;

fn no_sleep(_: Duration) {}

fn fail() -> Result<u32, String> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    Err("down".to_owned())
}

#[backoff(constant, interval = 0, max_tries = 2)]
fn tries_literal() -> Result<u32, String> {
    fail()
}

#[backoff(constant, interval = 0, max_tries = LIMIT)]
fn tries_const() -> Result<u32, String> {
    fail()
}

/// An expression may read the fn's arguments.
#[backoff(constant, interval = 0, max_tries = attempts + 1)]
fn tries_from_arg(attempts: u8) -> Result<u32, String> {
    fail()
}

#[backoff(constant, interval = 0, max_tries = || 4u64)]
fn tries_closure() -> Result<u32, String> {
    fail()
}

#[backoff(expo, max_time = 300, max_tries = 2, sleep = no_sleep)]
fn time_int() -> Result<u32, String> {
    fail()
}

#[backoff(expo, max_time = 0.5, max_tries = 2, sleep = no_sleep)]
fn time_float() -> Result<u32, String> {
    fail()
}

#[backoff(expo, max_time = Duration::from_secs(60), max_tries = 2, sleep = no_sleep)]
fn time_duration() -> Result<u32, String> {
    fail()
}

#[backoff(expo, max_time = || Duration::from_millis(1500), max_tries = 2, sleep = no_sleep)]
fn time_closure_duration() -> Result<u32, String> {
    fail()
}

#[backoff(expo, max_time = || 2.5, max_tries = 2, sleep = no_sleep)]
fn time_closure_secs() -> Result<u32, String> {
    fail()
}

/// `max_time` alone ends the run: a tiny budget and real (short) sleeps.
#[backoff(constant, interval = 0.001, jitter = none, max_time = 0.02)]
fn time_only() -> Result<u32, String> {
    fail()
}

/// Integer literals too large for an `i32` but within the argument's range compile (rustc
/// inferred `i32` and rejected them as out of range: "literal out of range for `i32`").
#[backoff(constant, interval = 3000000000, max_tries = 3000000000, seed = 18446744073709551615,
          max_time = 99999999999999999999)]
fn wide_literals() -> Result<u32, String> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    Ok(7)
}

#[backoff(expo, base = 99999999999999999999999, factor = 99999999999999999999999,
          max_value = 5000000000, max_tries = 2)]
fn wide_generator_literals() -> Option<u32> {
    Some(8)
}

fn count(f: impl FnOnce() -> Result<u32, String>) -> u32 {
    CALLS.store(0, Ordering::SeqCst);
    assert!(f().is_err());
    CALLS.load(Ordering::SeqCst)
}

fn main() {
    assert_eq!(count(tries_literal), 2);
    assert_eq!(count(tries_const), 3);
    assert_eq!(count(|| tries_from_arg(4)), 5);
    assert_eq!(count(tries_closure), 4);
    assert_eq!(count(time_int), 2);
    assert_eq!(count(time_float), 2);
    assert_eq!(count(time_duration), 2);
    assert_eq!(count(time_closure_duration), 2);
    assert_eq!(count(time_closure_secs), 2);
    assert!(count(time_only) >= 2);
    assert_eq!(wide_literals(), Ok(7));
    assert_eq!(wide_generator_literals(), Some(8));
}
