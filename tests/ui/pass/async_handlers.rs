//! Handler lists mixing sync and async handlers, closures and fns, in async fns.
use politely::{Details, backoff};
use std::sync::atomic::{AtomicU32, Ordering};

static EVENTS: AtomicU32 = AtomicU32::new(0);

type Outcome = Result<u32, String>;

fn log_sync(details: &Details<'_, Outcome>) {
    assert!(details.tries >= 1);
    EVENTS.fetch_add(1, Ordering::SeqCst);
}

async fn log_async(details: &Details<'_, Outcome>) {
    tokio::task::yield_now().await;
    assert_eq!(details.target, "flaky");
    EVENTS.fetch_add(1, Ordering::SeqCst);
}

#[backoff(
    constant,
    interval = 0,
    max_tries = 3,
    jitter = none,
    on_backoff = [
        log_sync,
        log_async,
        |d| assert!(d.wait.is_some()),
        |d| async move {
            assert!(d.error().is_some());
            EVENTS.fetch_add(1, Ordering::SeqCst);
        },
    ],
    on_giveup = log_async,
    on_success = [log_sync, |_| async {}],
)]
async fn flaky(fail_until: u32, calls: &AtomicU32) -> Outcome {
    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
    if n < fail_until { Err(format!("try {n}")) } else { Ok(n) }
}

/// A custom async sleep, and a `bool` fn's handlers see the `bool`.
#[backoff(
    fibo,
    max_tries = 2,
    sleep = |_wait| async {},
    on_giveup = [|d: &Details<'_, bool>| assert!(!*d.outcome), |_d| async {}],
)]
async fn never() -> bool {
    false
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let calls = AtomicU32::new(0);
    assert_eq!(flaky(3, &calls).await, Ok(3));
    // Two backoffs with three counting handlers each, then one `on_success` that counts.
    assert_eq!(EVENTS.load(Ordering::SeqCst), 7);

    EVENTS.store(0, Ordering::SeqCst);
    let calls = AtomicU32::new(0);
    assert_eq!(flaky(10, &calls).await, Err("try 3".to_owned()));
    // Two backoffs with three counting handlers each, then one `on_giveup` that counts.
    assert_eq!(EVENTS.load(Ordering::SeqCst), 7);

    assert!(!never().await);
}
