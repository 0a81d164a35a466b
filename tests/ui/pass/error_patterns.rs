//! `on = error`, `on = error(Pattern)` and `giveup`, on `Result` and `Result` aliases.
use politely::backoff;
use std::cell::RefCell;

#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    RateLimited,
    Timeout(u32),
    Fatal,
}

type ApiResult<T> = Result<T, ApiError>;

thread_local! {
    static SCRIPT: RefCell<Vec<ApiResult<u32>>> = const { RefCell::new(Vec::new()) };
    static CALLS: RefCell<u32> = const { RefCell::new(0) };
}

fn next() -> ApiResult<u32> {
    CALLS.with(|c| *c.borrow_mut() += 1);
    SCRIPT.with(|s| s.borrow_mut().remove(0))
}

fn run(script: Vec<ApiResult<u32>>, f: fn() -> ApiResult<u32>) -> (ApiResult<u32>, u32) {
    SCRIPT.with(|s| *s.borrow_mut() = script);
    CALLS.with(|c| *c.borrow_mut() = 0);
    let r = f();
    (r, CALLS.with(|c| *c.borrow()))
}

#[backoff(
    constant,
    interval = 0,
    max_tries = 5,
    on = error(ApiError::RateLimited | ApiError::Timeout(_)),
    giveup = |e: &ApiError| matches!(e, ApiError::Timeout(secs) if *secs > 30),
)]
fn matching() -> ApiResult<u32> {
    next()
}

#[backoff(constant, interval = 0, max_tries = 5, on = error, giveup = |e| *e == ApiError::Fatal)]
fn any_error() -> ApiResult<u32> {
    next()
}

/// `giveup` without `on`: a `Result` fn retries errors by default.
#[backoff(constant, interval = 0, max_tries = 5, giveup = |e: &ApiError| *e == ApiError::Fatal)]
fn default_mode() -> Result<u32, ApiError> {
    next()
}

#[backoff(constant, interval = 0, max_tries = 3, on = error(std::io::ErrorKind::TimedOut))]
fn io_kind(kind: std::io::ErrorKind) -> Result<(), std::io::ErrorKind> {
    Err(kind)
}

fn main() {
    use ApiError::*;
    // Retried, then a success.
    assert_eq!(run(vec![Err(RateLimited), Err(Timeout(1)), Ok(7)], matching), (Ok(7), 3));
    // Not matching the pattern: returned at once.
    assert_eq!(run(vec![Err(Fatal)], matching), (Err(Fatal), 1));
    // Matching, but `giveup` says permanent.
    assert_eq!(run(vec![Err(RateLimited), Err(Timeout(60))], matching), (Err(Timeout(60)), 2));
    assert_eq!(run(vec![Err(Timeout(1)), Err(Fatal)], any_error), (Err(Fatal), 2));
    assert_eq!(run(vec![Err(RateLimited), Ok(1)], default_mode), (Ok(1), 2));
    assert_eq!(io_kind(std::io::ErrorKind::NotFound), Err(std::io::ErrorKind::NotFound));
}
