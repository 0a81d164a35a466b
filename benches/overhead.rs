//! What the retry machinery costs, against its peers measured in the same run: a direct call,
//! a hand-written loop, `backon`, and this crate's builder.
//!
//! Two paths: `first_try` (the operation succeeds at once: the common case, pure overhead) and
//! `two_retries` (fails twice, then succeeds: the decision path). Every contender sleeps
//! through a no-op sleep there, since tokio's timer would round each wait up to a millisecond
//! and drown what is measured.
//! Logging stays at its default (on, no subscriber installed), as a user would run it.
//!
//! Run: `cargo bench --bench overhead`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backoff::backoff;
use backon::Retryable;
use criterion::{Criterion, criterion_group, criterion_main};

static FAILS_LEFT: AtomicU32 = AtomicU32::new(0);

async fn op(x: u64) -> Result<u64, &'static str> {
    if FAILS_LEFT.load(Ordering::Relaxed) > 0 {
        FAILS_LEFT.fetch_sub(1, Ordering::Relaxed);
        Err("busy")
    } else {
        Ok(black_box(x) + 1)
    }
}

#[backoff(constant, interval = 0, max_tries = 5, jitter = none, sleep = no_sleep)]
async fn attributed(x: u64) -> Result<u64, &'static str> {
    op(x).await
}

async fn no_sleep(_: Duration) {}

async fn hand_written(x: u64) -> Result<u64, &'static str> {
    let mut tries = 0;
    loop {
        tries += 1;
        match op(x).await {
            Ok(v) => return Ok(v),
            Err(e) if tries >= 5 => return Err(e),
            Err(_) => no_sleep(Duration::ZERO).await,
        }
    }
}

async fn with_backon(x: u64) -> Result<u64, &'static str> {
    (|| op(x))
        .retry(
            backon::ConstantBuilder::default()
                .with_delay(Duration::ZERO)
                .with_max_times(4),
        )
        .sleep(no_sleep)
        .await
}

async fn with_builder(x: u64) -> Result<u64, &'static str> {
    backoff::constant(0)
        .max_tries(5)
        .jitter(backoff::Jitter::None)
        .retry(|| op(x))
        .sleep(no_sleep)
        .await
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    for (path, fails) in [("first_try", 0u32), ("two_retries", 2)] {
        let mut group = c.benchmark_group(path);
        macro_rules! case {
            ($name:literal, $f:expr) => {
                group.bench_function($name, |b| {
                    b.to_async(&rt).iter(|| async {
                        FAILS_LEFT.store(fails, Ordering::Relaxed);
                        black_box($f(black_box(1)).await)
                    })
                });
            };
        }
        if fails == 0 {
            case!("direct", op);
        }
        case!("hand_written", hand_written);
        case!("attribute", attributed);
        case!("builder", with_builder);
        case!("backon", with_backon);
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
