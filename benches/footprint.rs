//! Footprint: the size of each contender's future (`size_of_val`), and the memory each
//! retrying task holds, for the footprint table in docs/benchmarks.md.
//!
//! Every contender retries the same body (one `.await` on an async fn that fails) with
//! exponential waits capped at 60 s and full jitter (`backon`: its own additive jitter), with no
//! limit on tries. Futures are measured twice: sleeping on tokio's timer, and on a no-op sleep
//! (which shows the loop's own state). The `max_time` + handlers row adds a 300 s deadline and
//! two handlers (`on_backoff`, `on_giveup`): for the hand-written loop, a start instant and two
//! closures.
//!
//! Memory per retrying task: 100,000 tasks spawned on a current-thread runtime with paused
//! time, each stuck in its first backoff sleep; measured in a fresh process per contender, as
//! the heap bytes allocated and still live (a counting global allocator) and as the RSS delta
//! (`/proc/self/statm`), divided by the number of tasks. "bare task" is a spawned
//! `async { pending().await }`; "sleeping task" one that awaits a single tokio sleep.
//!
//! Run: `cargo bench --bench footprint` (release); `scripts/bench.sh` runs it with the others.

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backon::Retryable;
use politely::{Details, backoff};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only keeps a count of the bytes live.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const TASKS: usize = 100_000;

/// Attempts made so far (each task's first one tells that it reached its first sleep).
static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug)]
struct Fail;

/// The body: one await of an async fn that fails.
async fn call(x: u64) -> Result<u64, Fail> {
    ATTEMPTS.fetch_add(1, Ordering::Relaxed);
    if black_box(x) > 0 { Err(Fail) } else { Ok(x) }
}

async fn no_sleep(_: Duration) {}

/// Expo wait before try `tries + 1`: 1, 2, 4... s capped at 60 s.
fn expo(tries: u32) -> Duration {
    Duration::from_secs(1u64 << tries.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

fn full_jitter(v: Duration) -> Duration {
    v.mul_f64(rand::random::<f64>())
}

// ---- hand-written loops ----

macro_rules! hand {
    ($name:ident, $sleep:expr) => {
        async fn $name(x: u64) -> Result<u64, Fail> {
            let mut tries = 0u32;
            loop {
                tries += 1;
                match call(x).await {
                    Ok(v) => return Ok(v),
                    Err(_) => $sleep(full_jitter(expo(tries))).await,
                }
            }
        }
    };
}
hand!(hand_tokio, tokio::time::sleep);
hand!(hand_noop, no_sleep);

macro_rules! hand_limited {
    ($name:ident, $sleep:expr) => {
        async fn $name(x: u64) -> Result<u64, Fail> {
            let on_backoff = |tries: u32, wait: Duration| {
                black_box((tries, wait));
            };
            let on_giveup = |tries: u32| {
                black_box(tries);
            };
            let max_time = Duration::from_secs(300);
            let start = tokio::time::Instant::now();
            let mut tries = 0u32;
            loop {
                tries += 1;
                match call(x).await {
                    Ok(v) => return Ok(v),
                    Err(e) => {
                        let elapsed = start.elapsed();
                        if elapsed >= max_time {
                            on_giveup(tries);
                            return Err(e);
                        }
                        let wait = full_jitter(expo(tries)).min(max_time - elapsed);
                        on_backoff(tries, wait);
                        $sleep(wait).await;
                    }
                }
            }
        }
    };
}
hand_limited!(hand_limited_tokio, tokio::time::sleep);
hand_limited!(hand_limited_noop, no_sleep);

// ---- backon ----

fn backon_policy() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(60))
        .with_jitter()
        .without_max_times()
}

async fn backon_tokio(x: u64) -> Result<u64, Fail> {
    (|| call(x))
        .retry(backon_policy())
        .sleep(tokio::time::sleep)
        .await
}

async fn backon_noop(x: u64) -> Result<u64, Fail> {
    (|| call(x)).retry(backon_policy()).sleep(no_sleep).await
}

// ---- the attribute ----

#[backoff(expo, max_value = 60, jitter = full)]
async fn attr_tokio(x: u64) -> Result<u64, Fail> {
    call(x).await
}

#[backoff(expo, max_value = 60, jitter = full, sleep = no_sleep)]
async fn attr_noop(x: u64) -> Result<u64, Fail> {
    call(x).await
}

fn on_backoff(d: &Details<'_, Result<u64, Fail>>) {
    black_box((d.tries, d.wait));
}

fn on_giveup(d: &Details<'_, Result<u64, Fail>>) {
    black_box(d.tries);
}

#[backoff(expo, max_value = 60, jitter = full, max_time = 300,
          on_backoff = on_backoff, on_giveup = on_giveup)]
async fn attr_limited_tokio(x: u64) -> Result<u64, Fail> {
    call(x).await
}

#[backoff(expo, max_value = 60, jitter = full, max_time = 300,
          on_backoff = on_backoff, on_giveup = on_giveup, sleep = no_sleep)]
async fn attr_limited_noop(x: u64) -> Result<u64, Fail> {
    call(x).await
}

// ---- the builder ----

async fn builder_tokio(x: u64) -> Result<u64, Fail> {
    politely::expo().max_value(60).retry(|| call(x)).await
}

async fn builder_noop(x: u64) -> Result<u64, Fail> {
    politely::expo()
        .max_value(60)
        .retry(|| call(x))
        .sleep(no_sleep)
        .await
}

async fn builder_limited_tokio(x: u64) -> Result<u64, Fail> {
    politely::expo()
        .max_value(60)
        .max_time(300)
        .retry(|| call(x))
        .on_backoff(on_backoff)
        .on_giveup(on_giveup)
        .await
}

async fn builder_limited_noop(x: u64) -> Result<u64, Fail> {
    politely::expo()
        .max_value(60)
        .max_time(300)
        .retry(|| call(x))
        .on_backoff(on_backoff)
        .on_giveup(on_giveup)
        .sleep(no_sleep)
        .await
}

/// Memory per task for one contender, measured in this (fresh) process.
fn per_task<F, Fut>(spawn_one: F) -> (f64, f64)
where
    F: Fn(u64) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async {
        // Warm-up: the timer wheel, thread-locals, the jitter's generator.
        tokio::spawn(spawn_one(1));
        while ATTEMPTS.load(Ordering::Relaxed) < 1 {
            tokio::task::yield_now().await;
        }
        ATTEMPTS.store(0, Ordering::Relaxed);
        let (heap, rss) = (LIVE.load(Ordering::Relaxed), rss_bytes());
        for i in 0..TASKS {
            drop(tokio::spawn(spawn_one(i as u64 + 1)));
        }
        while ATTEMPTS.load(Ordering::Relaxed) < TASKS {
            tokio::task::yield_now().await;
        }
        let heap = LIVE.load(Ordering::Relaxed) as f64 - heap as f64;
        let rss = rss_bytes() as f64 - rss as f64;
        (heap / TASKS as f64, rss / TASKS as f64)
    })
}

/// Failed attempts and wall time of `TASKS` tasks retrying for one hour of paused (virtual)
/// time: the cost of each failed attempt, tokio's timer included.
fn throughput<F, Fut>(spawn_one: F) -> (usize, f64)
where
    F: Fn(u64) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    let wall = std::time::Instant::now();
    rt.block_on(async {
        for i in 0..TASKS {
            drop(tokio::spawn(spawn_one(i as u64 + 1)));
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    let attempts = ATTEMPTS.load(Ordering::Relaxed);
    let wall = wall.elapsed().as_secs_f64();
    drop(rt);
    (attempts, wall)
}

/// Resident set size, from `/proc/self/statm` (0 where there is none).
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// The contenders of the memory table: name, and how to make one retrying task.
const TASK_KINDS: &[&str] = &[
    "bare task",
    "sleeping task",
    "hand-written loop",
    "backon",
    "#[backoff]",
    "builder",
    "hand-written, deadline + 2 closures",
    "#[backoff], max_time + 2 handlers",
];

fn measure_task(kind: &str) -> (f64, f64) {
    match kind {
        "bare task" => per_task(|_| async {
            ATTEMPTS.fetch_add(1, Ordering::Relaxed);
            std::future::pending::<()>().await;
        }),
        "sleeping task" => per_task(|_| async {
            ATTEMPTS.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }),
        "hand-written loop" => per_task(hand_tokio),
        "backon" => per_task(backon_tokio),
        "#[backoff]" => per_task(attr_tokio),
        "builder" => per_task(builder_tokio),
        "hand-written, deadline + 2 closures" => per_task(hand_limited_tokio),
        "#[backoff], max_time + 2 handlers" => per_task(attr_limited_tokio),
        _ => panic!("unknown task kind {kind}"),
    }
}

/// The contenders of the throughput table.
const THROUGHPUT_KINDS: &[&str] = &["hand-written loop", "backon", "#[backoff]", "builder"];

fn measure_throughput(kind: &str) -> (usize, f64) {
    match kind {
        "hand-written loop" => throughput(hand_tokio),
        "backon" => throughput(backon_tokio),
        "#[backoff]" => throughput(attr_tokio),
        "builder" => throughput(builder_tokio),
        _ => panic!("unknown throughput kind {kind}"),
    }
}

/// Runs this binary again with `args` and returns the two numbers it prints.
fn child(args: &[&str]) -> (f64, f64) {
    let exe = std::env::current_exe().expect("own path");
    let out = std::process::Command::new(exe)
        .args(args)
        .output()
        .expect("child run");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut nums = text
        .split_whitespace()
        .map(|n| n.parse::<f64>().expect("number"));
    (nums.next().expect("first"), nums.next().expect("second"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--throughput") {
        let (attempts, wall) = measure_throughput(&args[i + 1]);
        println!("{attempts} {wall:.3}");
        return;
    }
    // A child run: one contender's memory per task, printed as "heap rss".
    if let Some(i) = args.iter().position(|a| a == "--task") {
        let (heap, rss) = measure_task(&args[i + 1]);
        println!("{heap:.1} {rss:.1}");
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument is not supported (the run is short).
    let sizes: [(&str, usize, usize); 4] = [
        (
            "hand-written loop",
            size_of_val(&hand_tokio(1)),
            size_of_val(&hand_noop(1)),
        ),
        (
            "backon",
            size_of_val(&backon_tokio(1)),
            size_of_val(&backon_noop(1)),
        ),
        (
            "#[backoff]",
            size_of_val(&attr_tokio(1)),
            size_of_val(&attr_noop(1)),
        ),
        (
            "builder",
            size_of_val(&builder_tokio(1)),
            size_of_val(&builder_noop(1)),
        ),
    ];
    let limited: [(&str, usize, usize); 3] = [
        (
            "hand-written, deadline + 2 closures",
            size_of_val(&hand_limited_tokio(1)),
            size_of_val(&hand_limited_noop(1)),
        ),
        (
            "#[backoff], max_time + 2 handlers",
            size_of_val(&attr_limited_tokio(1)),
            size_of_val(&attr_limited_noop(1)),
        ),
        (
            "builder, max_time + 2 handlers",
            size_of_val(&builder_limited_tokio(1)),
            size_of_val(&builder_limited_noop(1)),
        ),
    ];
    println!("Size of the fn's future (bytes; goal: at most the hand-written loop + 64)");
    println!();
    println!("| contender | tokio sleep | vs hand | no-op sleep | vs hand |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, tokio: usize, noop: usize, hand: (usize, usize)| {
        println!(
            "| {name} | {tokio} | {:+} | {noop} | {:+} |",
            tokio as i64 - hand.0 as i64,
            noop as i64 - hand.1 as i64
        );
    };
    let hand = (sizes[0].1, sizes[0].2);
    for (name, tokio, noop) in sizes {
        row(name, tokio, noop, hand);
    }
    let hand = (limited[0].1, limited[0].2);
    for (name, tokio, noop) in limited {
        row(name, tokio, noop, hand);
    }
    println!();
    println!(
        "Of which the builder's policy: Backoff<Expo> {} bytes (the generator, Expo, {}); \
         a hand loop keeps a u32",
        size_of::<politely::Backoff<politely::wait::Expo>>(),
        size_of::<politely::wait::Expo>(),
    );
    println!();
    println!(
        "Memory per retrying task ({TASKS} tasks in their first backoff sleep, tokio sleep, \
         current-thread runtime, paused time; one process each)"
    );
    println!();
    println!("| task | heap live (bytes/task) | vs bare | RSS delta (bytes/task) | vs bare |");
    println!("|---|---|---|---|---|");
    let mut bare = None;
    for kind in TASK_KINDS {
        let (heap, rss) = child(&["--task", kind]);
        let (bh, br) = *bare.get_or_insert((heap, rss));
        println!(
            "| {kind} | {heap:.0} | {:+.0} | {rss:.0} | {:+.0} |",
            heap - bh,
            rss - br
        );
    }
    if args.iter().any(|a| a == "--no-throughput") {
        return;
    }
    println!();
    println!(
        "Failed attempts of {TASKS} tasks retrying for one hour of paused time (tokio sleep; \
         backon's jitter differs, so its count does too; one process each)"
    );
    println!();
    println!("| contender | failed attempts | wall (s) | ns per attempt | vs hand |");
    println!("|---|---|---|---|---|");
    let mut hand = None;
    for kind in THROUGHPUT_KINDS {
        let (attempts, wall) = child(&["--throughput", kind]);
        let per = wall * 1e9 / attempts;
        let h = *hand.get_or_insert(per);
        println!(
            "| {kind} | {:.2} M | {wall:.1} | {per:.0} | {:.2}x |",
            attempts / 1e6,
            per / h
        );
    }
}
