//! No heap allocation per call: a counting global allocator around the attribute's expansion
//! and the builder, after a warm-up, on the first-try, retry and give-up paths; async and sync;
//! with and without handlers and `max_time`; logging at its default levels with no subscriber
//! and with a subscriber installed that filters the events out.
//!
//! The count is per thread (libtest runs each test on its own thread), so tests do not see
//! each other's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::{Future, IntoFuture};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use politely::{Details, backoff};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber, span};

struct Counting;

thread_local! {
    static ALLOCS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

// SAFETY: forwards to the system allocator; only counts this thread's allocations.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|n| {
            let (count, bytes) = n.get();
            n.set((count + 1, bytes + layout.size()));
        });
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

thread_local! {
    /// Failures left before the body succeeds.
    static FAILS_LEFT: Cell<u32> = const { Cell::new(0) };
    /// Attempts made.
    static TRIES: Cell<u32> = const { Cell::new(0) };
    /// Handler calls.
    static HANDLED: Cell<u32> = const { Cell::new(0) };
}

#[derive(Debug, PartialEq)]
struct Busy(u64);

type Out = Result<u64, Busy>;

fn body(x: u64) -> Out {
    TRIES.with(|t| t.set(t.get() + 1));
    let left = FAILS_LEFT.with(Cell::get);
    if left > 0 {
        FAILS_LEFT.with(|f| f.set(left - 1));
        Err(Busy(x))
    } else {
        Ok(x + 1)
    }
}

async fn body_async(x: u64) -> Out {
    body(x)
}

async fn no_sleep(_: Duration) {}

fn no_sleep_sync(_: Duration) {}

fn handled(_: &Details<'_, Out>) {
    HANDLED.with(|h| h.set(h.get() + 1));
}

async fn handled_async(_: &Details<'_, Out>) {
    HANDLED.with(|h| h.set(h.get() + 1));
}

/// The three paths: (failures before success, expected tries, expected outcome); the bodies
/// below give up after 3 tries, so 5 failures give up.
const PATHS: [(&str, u32, u32, Out); 3] = [
    ("first try", 0, 1, Ok(2)),
    ("retry", 2, 3, Ok(2)),
    ("give up", 5, 3, Err(Busy(1))),
];

/// Polls a future that needs no waking (no-op sleeps) to completion.
fn run<F: Future>(fut: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    let mut fut = pin!(fut);
    for _ in 0..1000 {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("the future did not finish without a timer");
}

/// Allocations (count, bytes) of 20 calls of `call` on each path, after a warm-up of each;
/// checks the tries and the outcome of every call.
fn allocations(mut call: impl FnMut() -> Out) -> Vec<(&'static str, usize, usize)> {
    PATHS
        .iter()
        .map(|(path, fails, tries, out)| {
            let mut once = || {
                FAILS_LEFT.with(|f| f.set(*fails));
                TRIES.with(|t| t.set(0));
                assert_eq!(call(), *out, "{path}");
                assert_eq!(TRIES.with(Cell::get), *tries, "{path}");
            };
            once();
            once();
            let before = ALLOCS.with(Cell::get);
            for _ in 0..20 {
                once();
            }
            let after = ALLOCS.with(Cell::get);
            (*path, after.0 - before.0, after.1 - before.1)
        })
        .collect()
}

/// Asserts that no path allocated.
#[track_caller]
fn assert_none(what: &str, call: impl FnMut() -> Out) {
    let counts = allocations(call);
    assert!(
        counts.iter().all(|&(_, n, _)| n == 0),
        "{what}: allocations per 20 calls (path, count, bytes): {counts:?}"
    );
}

/// A subscriber that is interested in every callsite but enables nothing: each event is
/// filtered out at run time, the path that a level filter on a real subscriber takes.
struct FiltersAll;

impl Subscriber for FiltersAll {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, _: &Event<'_>) {
        unreachable!("FiltersAll enables no event");
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

/// Runs `check` with no subscriber, with [`FiltersAll`], and with `tracing-subscriber`'s fmt
/// subscriber whose level filter is below both events' levels (INFO, ERROR).
fn under_each_subscriber(check: impl Fn(&str)) {
    check("no subscriber");
    tracing::subscriber::with_default(FiltersAll, || check("subscriber filtering at run time"));
    let fmt = tracing_subscriber::fmt()
        .with_max_level(tracing::level_filters::LevelFilter::OFF)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(fmt, || check("fmt subscriber, level OFF"));
    let fmt = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::sink)
        .finish();
    // WARN lets the ERROR "Giving up" event through: only the logged-at-INFO paths here.
    tracing::subscriber::with_default(fmt, || {
        let counts = allocations_attr_async_quiet_giveup();
        assert!(
            counts.iter().all(|&(_, n, _)| n == 0),
            "fmt subscriber at WARN: {counts:?}"
        );
    });
}

#[backoff(expo, max_tries = 3, jitter = full, sleep = no_sleep, giveup_log_level = off)]
async fn attr_async_quiet_giveup(x: u64) -> Out {
    body_async(x).await
}

fn allocations_attr_async_quiet_giveup() -> Vec<(&'static str, usize, usize)> {
    allocations(|| run(attr_async_quiet_giveup(1)))
}

// ---- the attribute, async ----

#[backoff(expo, max_tries = 3, jitter = full, sleep = no_sleep)]
async fn attr_async(x: u64) -> Out {
    body_async(x).await
}

#[backoff(expo, max_tries = 3, max_time = 60, jitter = full, sleep = no_sleep)]
async fn attr_async_max_time(x: u64) -> Out {
    body_async(x).await
}

#[backoff(expo, max_tries = 3, max_time = 60, jitter = full, sleep = no_sleep,
          on_success = handled, on_backoff = handled, on_giveup = handled)]
async fn attr_async_handlers(x: u64) -> Out {
    body_async(x).await
}

#[backoff(expo, max_tries = 3, jitter = full, sleep = no_sleep,
          on_success = handled_async, on_backoff = [handled, handled_async],
          on_giveup = async |_| HANDLED.with(|h| h.set(h.get() + 1)))]
async fn attr_async_async_handlers(x: u64) -> Out {
    body_async(x).await
}

#[backoff(expo, max_tries = 3, jitter = decorrelated, sleep = no_sleep,
          on = error(Busy(_)), giveup = |e: &Busy| e.0 > 100)]
async fn attr_async_judged(x: u64) -> Out {
    body_async(x).await
}

#[test]
fn attribute_async_fns_allocate_nothing() {
    under_each_subscriber(|sub| {
        assert_none(&format!("async, {sub}"), || run(attr_async(1)));
        assert_none(&format!("async, max_time, {sub}"), || {
            run(attr_async_max_time(1))
        });
        assert_none(&format!("async, max_time, 3 handlers, {sub}"), || {
            run(attr_async_handlers(1))
        });
        assert_none(&format!("async, async handlers, {sub}"), || {
            run(attr_async_async_handlers(1))
        });
        assert_none(&format!("async, on = error(..), giveup, {sub}"), || {
            run(attr_async_judged(1))
        });
    });
    // The handlers ran: success 1 + backoff 2 + giveup 1 per round of the three paths.
    HANDLED.with(|h| h.set(0));
    allocations(|| run(attr_async_handlers(1)));
    assert_eq!(HANDLED.with(Cell::get), 22 * (1 + (2 + 1) + (2 + 1)));
}

// ---- the attribute, sync ----

#[backoff(expo, max_tries = 3, jitter = full, sleep = no_sleep_sync)]
fn attr_sync(x: u64) -> Out {
    body(x)
}

#[backoff(expo, max_tries = 3, max_time = 60, jitter = full, sleep = no_sleep_sync)]
fn attr_sync_max_time(x: u64) -> Out {
    body(x)
}

#[backoff(expo, max_tries = 3, max_time = 60, jitter = full, sleep = no_sleep_sync,
          on_success = handled, on_backoff = [handled, |_| {}], on_giveup = handled)]
fn attr_sync_handlers(x: u64) -> Out {
    body(x)
}

#[test]
fn attribute_sync_fns_allocate_nothing() {
    under_each_subscriber(|sub| {
        assert_none(&format!("sync, {sub}"), || attr_sync(1));
        assert_none(&format!("sync, max_time, {sub}"), || attr_sync_max_time(1));
        assert_none(&format!("sync, max_time, handlers, {sub}"), || {
            attr_sync_handlers(1)
        });
    });
}

// ---- the attribute on tokio's sleep and clock ----

#[backoff(constant, interval = 1, max_tries = 3, max_time = 60, jitter = none,
          on_backoff = handled)]
async fn attr_tokio(x: u64) -> Out {
    body_async(x).await
}

#[test]
fn attribute_on_tokio_sleep_allocates_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    under_each_subscriber(|sub| {
        assert_none(&format!("tokio sleep, {sub}"), || {
            rt.block_on(attr_tokio(1))
        });
    });
}

// ---- options that allocate per call ----

static BUDGET: std::sync::LazyLock<politely::RetryBudget> =
    std::sync::LazyLock::new(|| politely::RetryBudget::new(5.0));

#[backoff(expo, max_tries = 3, jitter = full, sleep = no_sleep, budget = &*BUDGET)]
async fn attr_budget(x: u64) -> Out {
    body_async(x).await
}

#[test]
fn a_retry_budget_allocates_nothing() {
    // Every call's first attempt deposits 5 retries: more than the paths below spend.
    assert_none("async, budget", || run(attr_budget(1)));
}

#[backoff(expo, max_tries = 3, jitter = full, seed = 7, sleep = no_sleep)]
async fn attr_seeded(x: u64) -> Out {
    body_async(x).await
}

#[test]
fn a_seeded_jitter_allocates_nothing() {
    assert_none("async, seed", || run(attr_seeded(1)));
}

#[backoff(expo, max_tries = 3, jitter = |w: Duration| w / 2, sleep = no_sleep)]
async fn attr_custom_jitter(x: u64) -> Out {
    body_async(x).await
}

#[test]
fn a_custom_jitter_allocates_nothing() {
    assert_none("async, custom jitter", || run(attr_custom_jitter(1)));
}

fn halve(w: Duration) -> Duration {
    w / 2
}

#[backoff(expo, max_tries = 3, jitter = halve, sleep = no_sleep)]
async fn attr_jitter_fn(x: u64) -> Out {
    body_async(x).await
}

#[test]
fn a_jitter_fn_path_allocates_nothing() {
    assert_none("async, jitter fn path", || run(attr_jitter_fn(1)));
}

// ---- the builder ----

fn builder_async(max_time: bool) -> Out {
    let policy = politely::expo().max_tries(3);
    let policy = if max_time {
        policy.max_time(60)
    } else {
        policy
    };
    run(policy.retry(|| body_async(1)).sleep(no_sleep).into_future())
}

fn builder_async_handlers() -> Out {
    run(politely::expo()
        .max_tries(3)
        .max_time(60)
        .retry(|| body_async(1))
        .when(|e| e.0 < 100)
        .on_success(handled)
        .on_backoff(|_| async { HANDLED.with(|h| h.set(h.get() + 1)) })
        .on_giveup(|_| {})
        .sleep(no_sleep)
        .into_future())
}

fn builder_blocking(max_time: bool) -> Out {
    let policy = politely::expo().max_tries(3);
    let policy = if max_time {
        policy.max_time(60)
    } else {
        policy
    };
    policy
        .retry_blocking(|| body(1))
        .sleep(no_sleep_sync)
        .call()
}

fn builder_blocking_handlers() -> Out {
    politely::expo()
        .max_tries(3)
        .max_time(60)
        .retry_blocking(|| body(1))
        .on_success(handled)
        .on_backoff(handled)
        .on_giveup(|_| {})
        .sleep(no_sleep_sync)
        .call()
}

#[test]
fn the_builder_allocates_nothing() {
    under_each_subscriber(|sub| {
        assert_none(&format!("builder async, {sub}"), || builder_async(false));
        assert_none(&format!("builder async, max_time, {sub}"), || {
            builder_async(true)
        });
        assert_none(
            &format!("builder async, handlers, {sub}"),
            builder_async_handlers,
        );
        assert_none(&format!("builder blocking, {sub}"), || {
            builder_blocking(false)
        });
        assert_none(&format!("builder blocking, max_time, {sub}"), || {
            builder_blocking(true)
        });
        assert_none(
            &format!("builder blocking, handlers, {sub}"),
            builder_blocking_handlers,
        );
    });
}

// ---- the counter sees allocations ----

#[test]
fn the_count_sees_an_allocation_per_call() {
    let counts = allocations(|| {
        std::hint::black_box(Box::new(1u8));
        attr_sync(1)
    });
    assert!(counts.iter().all(|&(_, n, _)| n == 20), "{counts:?}");
}

// ---- pacing ----

/// A burst no test reaches (a million, against the few hundred attempts here): each attempt's
/// slot is free at once (a thread never sleeps here). The rate is one the calls outrun on any
/// machine, so the pacer's clock of slots runs ahead of the real one, the case where slots
/// used to be stored (and their map grew) until their share of it passed.
#[backoff(expo, max_tries = 3, jitter = full, sleep = no_sleep_sync,
          rate = 1000 per second, burst = 1000000, rate_key = sender)]
fn attr_paced_by_str(sender: &str, x: u64) -> Out {
    let _ = sender;
    body(x)
}

#[backoff(expo, max_tries = 3, jitter = full, sleep = no_sleep_sync,
          rate = 1000 per second, burst = 1000000, rate_key = sender)]
fn attr_paced_by_arc(sender: std::sync::Arc<str>, x: u64) -> Out {
    body(x)
}

#[test]
fn a_string_rate_key_allocates_nothing() {
    // The key's lane is made by the warm-up call; later attempts borrow the key to find it.
    assert_none("sync, paced, rate_key = &str", || {
        attr_paced_by_str("ann", 1)
    });
    let sender: std::sync::Arc<str> = "bob".into();
    assert_none("sync, paced, rate_key = Arc<str>", || {
        attr_paced_by_arc(sender.clone(), 1)
    });
}

// ---- adaptive pacing ----

/// Unpaced until a throttle (none comes here): a sync caller never sleeps, yet every attempt
/// queues, takes its turn and is observed.
static ADAPTIVE: std::sync::LazyLock<politely::Pacer> = std::sync::LazyLock::new(|| {
    politely::Pacer::adaptive_with(politely::AdaptiveRate::new().initial(None))
});

#[backoff(expo, max_tries = 3, jitter = full, sleep = no_sleep_sync, pacer = &*ADAPTIVE,
          observe = |_out| politely::Feedback::accepted())]
fn attr_adaptive_sync(x: u64) -> Out {
    body(x)
}

#[backoff(expo, max_tries = 3, jitter = full, sleep = no_sleep_sync, pacer = &*ADAPTIVE,
          observe = |_out| politely::Feedback::accepted(), rate_key = sender)]
fn attr_adaptive_keyed(sender: &str, x: u64) -> Out {
    let _ = sender;
    body(x)
}

#[backoff(expo, max_tries = 3, jitter = full, rate = adaptive,
          observe = |_out| politely::Feedback::accepted())]
async fn attr_adaptive_async(x: u64) -> Out {
    body_async(x).await
}

#[test]
fn adaptive_pacing_allocates_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    assert_none("async, rate = adaptive, tokio (paused)", || {
        rt.block_on(attr_adaptive_async(1))
    });
    assert_none("sync, pacer = <adaptive>, observe", || {
        attr_adaptive_sync(1)
    });
    assert_none("sync, pacer = <adaptive>, observe, rate_key", || {
        attr_adaptive_keyed("ann", 1)
    });
}
