//! Memory and speed of a Redis pacer's local view of its keyed budgets (what it paces on
//! while Redis is out, and re-seeds a lost budget from): bounded by the keys still live,
//! pruned in amortised constant time whether Redis answers or not.
//!
//! One test in its own binary: it counts every allocation of the process. Prints its figures
//! (`cargo test --features redis --test pacing_redis_memory -- --nocapture`); the Redis half
//! needs `REDIS_URL` (skipped without it, except under `CI=true`, where it fails).
#![cfg(feature = "redis")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::TcpListener;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use politely::{Pacer, RedisPacerBuilder};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator; only counts the bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live =
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed) + layout.size() as isize;
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let delta = new_size as isize - layout.size() as isize;
        let live = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn mib(bytes: isize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `keys` distinct keys (`<prefix>-<i>`), one call each, the clock (paused) moving `step` per key; returns
/// (keys/s, live bytes after, peak bytes during), both less the live bytes before.
async fn run(pacer: &Pacer, prefix: &str, keys: usize, step: Duration) -> (f64, isize, isize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let t0 = std::time::Instant::now();
    let mut key = String::new();
    for i in 0..keys {
        use std::fmt::Write;
        key.clear();
        let _ = write!(key, "{prefix}-{i}");
        pacer.ready(Some(&key)).await;
        if !step.is_zero() {
            tokio::time::advance(step).await;
        }
    }
    let rate = keys as f64 / t0.elapsed().as_secs_f64();
    (
        rate,
        LIVE.load(Ordering::Relaxed) - before,
        PEAK.load(Ordering::Relaxed) - before,
    )
}

/// With Redis out, a stream of a million keys (each live for one second, a thousand at a time)
/// keeps the view to the keys still live: a few hundred KiB, not a million entries; all of
/// them live at once cost a bounded amount each, given back once they are idle. With Redis
/// answering, a slow per-key rate (1/min: every key stays live) costs no sweep over the whole
/// view per new key.
#[test]
fn the_local_view_stays_bounded_and_cheap() {
    let paused = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    paused.block_on(redis_down());
    drop(paused);
    // Round trips take real time: on a paused clock their timeouts would fire at once.
    let real = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    real.block_on(redis_up());
}

async fn redis_down() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port(); // closed again: nothing listens there
    let down = Pacer::redis(format!("redis://127.0.0.1:{port}/"), "memory", 1.0, 1).unwrap();
    const KEYS: usize = 1_000_000;
    let (rate, live, peak) = run(&down, "user", KEYS, Duration::from_millis(1)).await;
    eprintln!(
        "Redis down, {KEYS} keys, 1000 live at a time: {rate:.0} keys/s; {:.2} MiB kept, {:.2} MiB at the peak",
        mib(live),
        mib(peak)
    );
    assert!(live < 2 << 20, "{:.1} MiB kept", mib(live));
    assert!(peak < 4 << 20, "{:.1} MiB at the peak", mib(peak));

    // All live at once (no time passes), then idle: what one live key costs.
    const LIVE_KEYS: usize = 200_000;
    let slow = Pacer::redis(format!("redis://127.0.0.1:{port}/"), "memory-live", 1.0, 60).unwrap();
    let (rate, live, peak) = run(&slow, "user", LIVE_KEYS, Duration::ZERO).await;
    eprintln!(
        "Redis down, {LIVE_KEYS} keys live at once: {rate:.0} keys/s; {:.0} bytes per live key \
         ({:.0} at the peak)",
        live as f64 / LIVE_KEYS as f64,
        peak as f64 / LIVE_KEYS as f64
    );
    assert!(live < 200 * LIVE_KEYS as isize, "{live} bytes");
    tokio::time::advance(Duration::from_secs(61)).await;
    let (_, grown, _) = run(&slow, "other", 1024, Duration::ZERO).await;
    eprintln!(
        "after a minute idle and 1024 new keys: {:.2} MiB given back",
        mib(-grown)
    );
    assert!(-grown > live / 2, "{grown} bytes");
}

async fn redis_up() {
    let Ok(url) = std::env::var("REDIS_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "REDIS_URL is not set: under CI the Redis tests must run"
        );
        eprintln!("pacing_redis_memory: the Redis half skipped (REDIS_URL is not set)");
        return;
    };
    const UP_KEYS: usize = 100_000;
    const TASKS: usize = 16;
    let name = format!(
        "test-memory-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    );
    // A timeout of 5 s: a loaded machine is not an outage.
    let client = politely::redis::Client::open(url.as_str()).unwrap();
    let up = RedisPacerBuilder::new(client, &name, 1.0, 60)
        .timeout(Duration::from_secs(5))
        .build();
    let up = std::sync::Arc::new(up);
    up.ready(Some("warm")).await;
    let before = LIVE.load(Ordering::Relaxed);
    let t0 = std::time::Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let up = up.clone();
            tokio::spawn(async move {
                for i in (t..UP_KEYS).step_by(TASKS) {
                    up.ready(Some(&format!("user-{i}"))).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = t0.elapsed();
    let live = LIVE.load(Ordering::Relaxed) - before;
    eprintln!(
        "Redis up, {UP_KEYS} keys at 1/min each (all live), {TASKS} tasks: {:.0} keys/s; \
         {:.0} bytes per live key",
        UP_KEYS as f64 / elapsed.as_secs_f64(),
        live as f64 / UP_KEYS as f64
    );
    // A sweep over the whole view per new key made this quadratic (5 * 10^9 visits).
    assert!(elapsed < Duration::from_secs(90), "{elapsed:?}");
}
