//! What the retry machinery costs, against its peers measured in the same run: a direct call,
//! a hand-written loop, `backon`, the `#[backoff]` attribute and this crate's builder.
//!
//! Two paths: `first_try` (the operation succeeds at once: the common case, pure overhead) and
//! `two_retries` (fails twice, then succeeds: the decision path). Every contender runs the same
//! body (`op`) and sleeps through the same no-op sleep, since tokio's timer would round each
//! wait up to a millisecond and drown what is measured; inputs and outputs go through
//! `black_box`. Each path is measured for async fns (`async/...` groups, polled by criterion's
//! tokio executor) and for sync fns (`sync/...` groups, with a no-op blocking sleep), and for
//! sync fns once more around a body the compiler cannot inline (`sync_opaque/...`).
//! Logging stays at its default (on, no subscriber installed), as a user would run it.
//!
//! Run: `cargo bench --bench overhead`; `scripts/bench.sh` prints the table with the ratios
//! that issue 12 sets as goals (read from `target/criterion/*/*/new/estimates.json`).

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{BlockingRetryable, Retryable};
use criterion::{Criterion, criterion_group, criterion_main};
use politely::backoff;

static FAILS_LEFT: AtomicU32 = AtomicU32::new(0);

/// The body every contender retries: fails while `FAILS_LEFT` says so.
fn op_sync(x: u64) -> Result<u64, &'static str> {
    if FAILS_LEFT.load(Ordering::Relaxed) > 0 {
        FAILS_LEFT.fetch_sub(1, Ordering::Relaxed);
        Err("busy")
    } else {
        Ok(black_box(x) + 1)
    }
}

async fn op(x: u64) -> Result<u64, &'static str> {
    op_sync(x)
}

async fn no_sleep(_: Duration) {}

fn no_sleep_sync(_: Duration) {}

// ---- async contenders ----

#[backoff(constant, interval = 0, max_tries = 5, jitter = none, sleep = no_sleep)]
async fn attributed(x: u64) -> Result<u64, &'static str> {
    op(x).await
}

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
    politely::constant(0)
        .max_tries(5)
        .jitter(politely::Jitter::None)
        .retry(|| op(x))
        .sleep(no_sleep)
        .await
}

// ---- sync contenders: the same loops, blocking ----

/// The attribute, the hand-written loop and `backon` around one sync body.
macro_rules! sync_contenders {
    ($body:ident => $attr:ident, $hand:ident, $backon:ident) => {
        #[backoff(constant, interval = 0, max_tries = 5, jitter = none, sleep = no_sleep_sync)]
        fn $attr(x: u64) -> Result<u64, &'static str> {
            $body(x)
        }

        fn $hand(x: u64) -> Result<u64, &'static str> {
            let mut tries = 0;
            loop {
                tries += 1;
                match $body(x) {
                    Ok(v) => return Ok(v),
                    Err(e) if tries >= 5 => return Err(e),
                    Err(_) => no_sleep_sync(Duration::ZERO),
                }
            }
        }

        fn $backon(x: u64) -> Result<u64, &'static str> {
            (|| $body(x))
                .retry(
                    backon::ConstantBuilder::default()
                        .with_delay(Duration::ZERO)
                        .with_max_times(4),
                )
                .sleep(no_sleep_sync)
                .call()
        }
    };
}

sync_contenders!(op_sync => attributed_sync, hand_written_sync, with_backon_sync);

macro_rules! builder_sync {
    ($body:ident => $builder:ident) => {
        fn $builder(x: u64) -> Result<u64, &'static str> {
            politely::constant(0)
                .max_tries(5)
                .jitter(politely::Jitter::None)
                .retry_blocking(|| $body(x))
                .sleep(no_sleep_sync)
                .call()
        }
    };
}

builder_sync!(op_sync => with_builder_sync);

// ---- sync contenders around a body the compiler cannot inline ----
//
// With `op_sync` inlined, the hand-written loop above compiles to a leaf function that needs
// no stack frame; any real body (a call into I/O) makes one. These show the cost with such a
// body: the same loops around an `#[inline(never)]` call.

#[inline(never)]
fn op_opaque(x: u64) -> Result<u64, &'static str> {
    op_sync(x)
}

sync_contenders!(op_opaque => attributed_opaque, hand_written_opaque, with_backon_opaque);
builder_sync!(op_opaque => with_builder_opaque);

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    for (path, fails) in [("first_try", 0u32), ("two_retries", 2)] {
        let mut group = c.benchmark_group(format!("async_{path}"));
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

        for (name, opaque) in [("sync", false), ("sync_opaque", true)] {
            let mut group = c.benchmark_group(format!("{name}_{path}"));
            macro_rules! case_sync {
                ($name:literal, $f:expr) => {
                    group.bench_function($name, |b| {
                        b.iter(|| {
                            FAILS_LEFT.store(fails, Ordering::Relaxed);
                            black_box($f(black_box(1)))
                        })
                    });
                };
            }
            if opaque {
                if fails == 0 {
                    case_sync!("direct", op_opaque);
                }
                case_sync!("hand_written", hand_written_opaque);
                case_sync!("attribute", attributed_opaque);
                case_sync!("builder", with_builder_opaque);
                case_sync!("backon", with_backon_opaque);
            } else {
                if fails == 0 {
                    case_sync!("direct", op_sync);
                }
                case_sync!("hand_written", hand_written_sync);
                case_sync!("attribute", attributed_sync);
                case_sync!("builder", with_builder_sync);
                case_sync!("backon", with_backon_sync);
            }
            group.finish();
        }
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
