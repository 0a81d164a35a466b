//! A predicate layer over an error layer, as Python stacks `on_predicate` over
//! `on_exception`: the predicate judges the `Ok` value; an `Err` from the inner layer
//! passes through untouched, with no handler. `on = outcome` judges the whole `Result`.
use std::sync::atomic::{AtomicU32, Ordering};

use politely::backoff;

static CALLS: AtomicU32 = AtomicU32::new(0);
static OUTER_HANDLERS: AtomicU32 = AtomicU32::new(0);

#[backoff(constant, interval = 0, max_tries = 3, jitter = none, predicate = |n: &u32| *n < 10,
          on_success = |_| { OUTER_HANDLERS.fetch_add(1, Ordering::SeqCst); },
          on_giveup = |_| { OUTER_HANDLERS.fetch_add(1, Ordering::SeqCst); })]
#[backoff(constant, interval = 0, max_tries = 2, jitter = none)]
fn always_fails() -> Result<u32, String> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    Err("down".into())
}

#[backoff(constant, interval = 0, max_tries = 3, jitter = none, on = outcome,
          predicate = |r: &Result<u32, String>| r.is_err())]
fn whole_result() -> Result<u32, String> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    Err("down".into())
}

fn main() {
    assert_eq!(always_fails(), Err("down".into()));
    // The inner layer's two tries, once: the outer layer returned the `Err` at once.
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    assert_eq!(OUTER_HANDLERS.load(Ordering::SeqCst), 0);
    CALLS.store(0, Ordering::SeqCst);
    assert_eq!(whole_result(), Err("down".into()));
    assert_eq!(CALLS.load(Ordering::SeqCst), 3);
}
