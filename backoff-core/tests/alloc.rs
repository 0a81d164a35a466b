//! The builder allocates nothing per run: a first try, paced (locally) and with a retry budget;
//! a cloned policy with a jitter function and callable limits, retried to the end.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::{Future, IntoFuture};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use backoff_core::{Pacer, RetryBudget};

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts this thread's allocations.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
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

/// Makes the future with `make` and polls it once (a first-try success is ready at once),
/// counting this thread's allocations in both.
fn allocations<F: Future>(make: impl FnOnce() -> F) -> (usize, Poll<F::Output>) {
    let mut cx = Context::from_waker(Waker::noop());
    let before = ALLOCS.with(Cell::get);
    let poll = {
        let mut fut = pin!(make());
        fut.as_mut().poll(&mut cx)
    };
    (ALLOCS.with(Cell::get) - before, poll)
}

#[test]
fn a_first_try_success_allocates_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let _guard = rt.enter();
    let budget = RetryBudget::new(0.2);
    let run = |pacer| {
        backoff_core::expo()
            .max_time(60)
            .budget(&budget)
            .retry(|| async { Ok::<_, ()>(1) })
            .pacer(pacer)
            .on_success(|_| {})
            .into_future()
    };
    let keyed_run = |pacer| {
        backoff_core::expo()
            .retry(|| async { Ok::<_, ()>(2) })
            .pacer(pacer)
            .rate_key("ann")
            .into_future()
    };
    // The count sees an allocation.
    assert_eq!(allocations(|| async { Box::new(1) }).0, 1);
    let pacer = Pacer::per_second(1.0);
    let next_slot = || rt.block_on(tokio::time::advance(Duration::from_secs(1)));
    // Warm-up: thread-locals, the key's schedule (made once), the schedules' maps.
    assert_eq!(allocations(|| run(&pacer)).1, Poll::Ready(Ok(1)));
    assert_eq!(allocations(|| keyed_run(&pacer)).1, Poll::Ready(Ok(2)));
    next_slot();
    // A paced first try with a budget, a handler and max_time; a keyed one.
    for _ in 0..3 {
        assert_eq!(allocations(|| run(&pacer)), (0, Poll::Ready(Ok(1))));
        assert_eq!(allocations(|| keyed_run(&pacer)), (0, Poll::Ready(Ok(2))));
        next_slot();
    }
}

/// A jitter function and callable limits are kept behind one shared pointer: setting them
/// allocates once per policy (documented), and a clone of the policy, run and retried to the
/// end, allocates nothing.
#[test]
fn a_cloned_policy_with_a_jitter_fn_and_callable_limits_runs_without_allocating() {
    let template = backoff_core::expo()
        .jitter(backoff_core::Jitter::custom(|w| w / 2))
        .max_tries_with(|| 3)
        .max_time_with(|| 60)
        .backoff_log_level(None)
        .giveup_log_level(None);
    let run = || {
        template
            .clone()
            .retry(|| async { Err::<(), _>("busy") })
            .sleep(|_| async {})
            .into_future()
    };
    assert_eq!(allocations(run).1, Poll::Ready(Err("busy"))); // warm-up
    for _ in 0..3 {
        assert_eq!(allocations(run), (0, Poll::Ready(Err("busy"))));
    }
    // What it costs to set them: one allocation for the shared part (the closures' own
    // `Arc`s are made by `Jitter::custom` and by each `*_with`).
    let jitter = backoff_core::Jitter::custom(|w| w / 2);
    let (made, _) = allocations(|| {
        let policy = backoff_core::expo()
            .jitter(jitter.clone())
            .max_tries(3)
            .max_time(60);
        std::future::ready(policy)
    });
    assert_eq!(
        made, 1,
        "numbers set after the function share its allocation"
    );
}
