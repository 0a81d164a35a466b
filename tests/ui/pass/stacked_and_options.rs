//! Stacked attributes, `crate = "..."`, log levels, `logger = none`, `seed`, `sleep`.
use politely::backoff;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static CALLS: AtomicU32 = AtomicU32::new(0);

fn no_sleep(_: Duration) {}

/// The first attribute is the outer loop: 2 outer tries of 3 inner tries each.
#[backoff(constant, interval = 0, max_tries = 2, crate = "politely", backoff_log_level = debug, giveup_log_level = warn)]
#[backoff(fibo, max_value = 0, max_tries = 3, logger = none, seed = 7u64, sleep = no_sleep)]
fn stacked() -> Result<u32, String> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    Err("down".to_owned())
}

#[backoff(expo, max_tries = 2, sleep = no_sleep, backoff_log_level = trace, giveup_log_level = off)]
fn levels_a() -> bool {
    false
}

#[backoff(expo, max_tries = 2, sleep = no_sleep, backoff_log_level = info, giveup_log_level = error)]
fn levels_b() -> bool {
    false
}

#[backoff(expo, max_tries = 2, sleep = no_sleep, backoff_log_level = off, giveup_log_level = debug)]
fn levels_c() -> bool {
    false
}

#[backoff(expo, max_tries = 2, sleep = no_sleep, crate = "::politely", seed = 42u64)]
fn absolute_crate() -> bool {
    false
}

mod nested {
    pub mod reexport {
        pub use politely::*;
    }
}

#[backoff(expo, max_tries = 2, sleep = no_sleep, crate = "nested::reexport")]
fn renamed_crate() -> bool {
    false
}

fn main() {
    assert!(stacked().is_err());
    assert_eq!(CALLS.load(Ordering::SeqCst), 6);
    assert!(!levels_a());
    assert!(!levels_b());
    assert!(!levels_c());
    assert!(!absolute_crate());
    assert!(!renamed_crate());
}
