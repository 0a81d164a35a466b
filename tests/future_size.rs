//! The attribute's future against a hand-written loop around the same body (the goal: at
//! most 64 bytes more), for the shapes measured: `expo` with `max_value` and full
//! jitter, with and without `max_time` and two handlers, on tokio's sleep and on a no-op
//! sleep; and the benchmark's shape (`constant`, `max_tries`, no jitter).
//!
//! The ceilings in bytes were measured under `cargo test` (the dev profile) on rustc 1.95
//! (before the expansion was slimmed: 360, 280, 392, 312 and 256 bytes): a change that grows the
//! future fails here.

use std::future::Future;
use std::hint::black_box;
use std::time::Duration;

use politely::{Details, backoff};

type Out = Result<u64, &'static str>;

async fn op(x: u64) -> Out {
    if black_box(x) == 0 {
        Err("busy")
    } else {
        Ok(x)
    }
}

async fn no_sleep(_: Duration) {}

fn wait_of(n: u32) -> Duration {
    Duration::from_secs_f64(2f64.powi(n.min(6).cast_signed()).min(60.0) * black_box(0.5))
}

/// The hand-written loop the issue compares with: the same body, expo capped at 60 s with a
/// jitter, tokio's sleep.
async fn hand_tokio(x: u64) -> Out {
    let mut n = 0u32;
    loop {
        match op(x).await {
            Ok(v) => return Ok(v),
            Err(_) => {
                let wait = wait_of(n);
                n += 1;
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// The same with a no-op sleep.
async fn hand_noop(x: u64) -> Out {
    let mut n = 0u32;
    loop {
        match op(x).await {
            Ok(v) => return Ok(v),
            Err(_) => {
                let wait = wait_of(n);
                n += 1;
                no_sleep(wait).await;
            }
        }
    }
}

fn h1(_: &Details<'_, Out>) {}
fn h2(_: &Details<'_, Out>) {}

#[backoff(expo, max_value = 60, jitter = full)]
async fn attr_tokio(x: u64) -> Out {
    op(x).await
}

#[backoff(expo, max_value = 60, jitter = full, sleep = no_sleep)]
async fn attr_noop(x: u64) -> Out {
    op(x).await
}

#[backoff(expo, max_value = 60, jitter = full, max_time = 300, on_backoff = h1, on_giveup = h2)]
async fn full_tokio(x: u64) -> Out {
    op(x).await
}

#[backoff(expo, max_value = 60, jitter = full, max_time = 300, on_backoff = h1, on_giveup = h2,
          sleep = no_sleep)]
async fn full_noop(x: u64) -> Out {
    op(x).await
}

#[backoff(constant, interval = 0, max_tries = 5, jitter = none, sleep = no_sleep)]
async fn bench_shape(x: u64) -> Out {
    op(x).await
}

fn size<F: Future>(f: F) -> usize {
    std::mem::size_of_val(&f)
}

#[test]
fn the_future_is_at_most_64_bytes_more_than_a_hand_written_loop() {
    let hand_t = size(hand_tokio(1));
    let hand_n = size(hand_noop(1));
    let rows = [
        ("expo, tokio sleep", size(attr_tokio(1)), hand_t),
        ("expo, no-op sleep", size(attr_noop(1)), hand_n),
        (
            "+ max_time, 2 handlers, tokio sleep",
            size(full_tokio(1)),
            hand_t,
        ),
        (
            "+ max_time, 2 handlers, no-op sleep",
            size(full_noop(1)),
            hand_n,
        ),
        ("benchmark shape, no-op sleep", size(bench_shape(1)), hand_n),
    ];
    for (shape, attr, hand) in rows {
        eprintln!("{shape}: attribute {attr} B, hand-written loop {hand} B");
    }
    for (shape, attr, hand) in rows {
        assert!(attr <= hand + 64, "{shape}: {attr} B > {hand} B + 64");
    }
    // And no larger than now (dev profile, rustc 1.95), as the module doc says: a change that
    // grows the future fails here.
    let ceilings = [144, 64, 176, 96, 56];
    for ((shape, attr, _), ceiling) in rows.into_iter().zip(ceilings) {
        assert!(attr <= ceiling, "{shape}: {attr} B > {ceiling} B");
    }
}
