//! Default judgements of `bool`, `Option` and `Result`, and `on = predicate`.
use politely::backoff;
use std::sync::atomic::{AtomicU32, Ordering};

static CALLS: AtomicU32 = AtomicU32::new(0);

fn tick() -> u32 {
    CALLS.fetch_add(1, Ordering::SeqCst) + 1
}

#[backoff(constant, interval = 0)]
fn until_true() -> bool {
    tick() >= 3
}

#[backoff(constant, interval = 0)]
fn until_some() -> Option<u32> {
    let n = tick();
    (n >= 2).then_some(n)
}

#[backoff(constant, interval = 0, max_tries = 4)]
fn until_ok() -> std::io::Result<u32> {
    let n = tick();
    if n >= 4 { Ok(n) } else { Err(std::io::Error::other("down")) }
}

#[backoff(constant, interval = 0, on = predicate, predicate = |n: &u32| *n < 3)]
fn count() -> u32 {
    tick()
}

/// `on = outcome`: a predicate on a `Result` judges the whole value, `Ok` included.
#[backoff(constant, interval = 0, on = outcome, predicate = |r: &Result<u32, String>| !matches!(r, Ok(n) if *n >= 2))]
fn result_by_value() -> Result<u32, String> {
    Ok(tick())
}

/// `predicate` without `on` works on any type.
#[backoff(constant, interval = 0, max_tries = 5, predicate = |s| *s == "busy")]
fn status() -> &'static str {
    if tick() < 2 { "busy" } else { "ok" }
}

/// No arguments at all: `expo`, no limits, `full` jitter.
#[backoff]
fn first_time() -> bool {
    tick() >= 1
}

fn counted<T>(f: impl FnOnce() -> T) -> (T, u32) {
    CALLS.store(0, Ordering::SeqCst);
    let r = f();
    (r, CALLS.load(Ordering::SeqCst))
}

fn main() {
    assert_eq!(counted(until_true), (true, 3));
    assert_eq!(counted(until_some), (Some(2), 2));
    assert_eq!(counted(until_ok).1, 4);
    assert_eq!(counted(count), (3, 3));
    assert_eq!(counted(result_by_value), (Ok(2), 2));
    assert_eq!(counted(status), ("ok", 2));
    assert_eq!(counted(first_time), (true, 1));
}
