//! Every jitter keyword, a `Jitter` value, a closure and a fn.
use politely::{Jitter, backoff};
use std::time::Duration;

fn no_sleep(_: Duration) {}

fn halve(wait: Duration) -> Duration {
    wait / 2
}

macro_rules! with_jitter {
    ($name:ident, $($jitter:tt)+) => {
        #[backoff(constant, interval = 0.001, max_tries = 2, sleep = no_sleep, jitter = $($jitter)+)]
        fn $name() -> Option<u32> {
            None
        }
    };
}

with_jitter!(full, full);
with_jitter!(random, random);
with_jitter!(equal, equal);
with_jitter!(decorrelated, decorrelated);
with_jitter!(none_lower, none);
with_jitter!(none_upper, None);
with_jitter!(value, Jitter::Equal);
with_jitter!(path, politely::Jitter::None);
with_jitter!(closure, |wait| wait / 4);
with_jitter!(fn_item, halve);

/// Without `jitter`, the default (`full`).
#[backoff(constant, interval = 0.001, max_tries = 2, sleep = no_sleep)]
fn default_jitter() -> Option<u32> {
    None
}

fn main() {
    for f in [
        full,
        random,
        equal,
        decorrelated,
        none_lower,
        none_upper,
        value,
        path,
        closure,
        fn_item,
        default_jitter,
    ] {
        assert_eq!(f(), None);
    }
}
