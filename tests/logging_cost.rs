//! Logging that nobody listens to costs nothing: with no subscriber, or with one that filters
//! the "Backing off" (INFO) and "Giving up" (ERROR) events out, the outcome's `Debug` is never
//! called, so no log line is formatted. A subscriber that enables a level gets exactly one
//! `Debug` call per event at that level, so the count can tell.

use std::cell::Cell;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use politely::backoff;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber, span};

thread_local! {
    /// Calls of `Loud`'s `Debug` on this thread.
    static DEBUGS: Cell<u32> = const { Cell::new(0) };
    /// Failures left before the body succeeds.
    static FAILS_LEFT: Cell<u32> = const { Cell::new(0) };
}

/// An error whose `Debug` counts its calls.
struct Loud;

impl fmt::Debug for Loud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        DEBUGS.with(|n| n.set(n.get() + 1));
        f.write_str("Loud")
    }
}

type Out = Result<u32, Loud>;

/// One way to run the retry loop.
type Call = fn() -> Out;

fn body() -> Out {
    let left = FAILS_LEFT.with(Cell::get);
    if left > 0 {
        FAILS_LEFT.with(|f| f.set(left - 1));
        Err(Loud)
    } else {
        Ok(7)
    }
}

async fn no_sleep(_: Duration) {}

fn no_sleep_sync(_: Duration) {}

fn run<F: Future>(fut: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

#[backoff(expo, max_tries = 3, sleep = no_sleep)]
async fn attr_async() -> Out {
    async { body() }.await
}

#[backoff(expo, max_tries = 3, max_time = 60, sleep = no_sleep_sync)]
fn attr_sync() -> Out {
    body()
}

fn builder_async() -> Out {
    run(politely::expo()
        .max_tries(3)
        .retry(|| async { body() })
        .sleep(no_sleep)
        .into_future())
}

fn builder_blocking() -> Out {
    politely::expo()
        .max_tries(3)
        .retry_blocking(body)
        .sleep(no_sleep_sync)
        .call()
}

/// Every way to run the loop, each on a retry path that succeeds on its third try (2
/// "Backing off" events) and on one that gives up after 3 tries (2 "Backing off", 1 "Giving
/// up").
fn contenders() -> [(&'static str, Call); 4] {
    [
        ("attribute async", || run(attr_async())),
        ("attribute sync", attr_sync),
        ("builder async", builder_async),
        ("builder blocking", builder_blocking),
    ]
}

/// `Debug` calls of one contender's retry path and give-up path.
fn debug_calls(call: Call) -> (u32, u32) {
    let count = |fails: u32, ok: bool| {
        FAILS_LEFT.with(|f| f.set(fails));
        DEBUGS.with(|n| n.set(0));
        assert_eq!(call().is_ok(), ok);
        DEBUGS.with(Cell::get)
    };
    (count(2, true), count(5, false))
}

/// A subscriber that enables the events at one level only (at run time, from
/// `Interest::sometimes`) and formats every field of those, as a real one would.
struct Only(Option<Level>);

struct Format(String);

impl Visit for Format {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        use fmt::Write as _;
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl Subscriber for Only {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        Some(*metadata.level()) == self.0
    }
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::TRACE)
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = Format(String::new());
        event.record(&mut line);
        assert!(line.0.contains("Loud"), "{}", line.0);
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

/// Held by every test here. tracing caches each callsite's interest process-wide: a test
/// registering a callsite on another thread while this one installs its scoped subscriber
/// could cache "never" for it (the race that broke a library test in CI). One at a time,
/// registration and subscriber changes cannot interleave.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[test]
fn with_no_subscriber_nothing_is_formatted() {
    let _one = one_at_a_time();
    for (name, call) in contenders() {
        assert_eq!(debug_calls(call), (0, 0), "{name}");
    }
}

#[test]
fn a_subscriber_filtering_both_levels_out_formats_nothing() {
    let _one = one_at_a_time();
    for (name, call) in contenders() {
        let calls =
            tracing::subscriber::with_default(Only(Some(Level::WARN)), || debug_calls(call));
        assert_eq!(calls, (0, 0), "{name}, run-time filter");
        let fmt = tracing_subscriber::fmt()
            .with_max_level(LevelFilter::OFF)
            .with_writer(std::io::sink)
            .finish();
        let calls = tracing::subscriber::with_default(fmt, || debug_calls(call));
        assert_eq!(calls, (0, 0), "{name}, fmt subscriber at OFF");
    }
}

#[test]
fn a_subscriber_formats_only_the_levels_it_enables() {
    let _one = one_at_a_time();
    for (name, call) in contenders() {
        // INFO only: the two "Backing off" lines of each path, not the "Giving up" one.
        let calls =
            tracing::subscriber::with_default(Only(Some(Level::INFO)), || debug_calls(call));
        assert_eq!(calls, (2, 2), "{name}, INFO only");
        // ERROR only: the "Giving up" line.
        let calls =
            tracing::subscriber::with_default(Only(Some(Level::ERROR)), || debug_calls(call));
        assert_eq!(calls, (0, 1), "{name}, ERROR only");
        // tracing-subscriber's fmt at WARN: the same, through its static level filter.
        let fmt = tracing_subscriber::fmt()
            .with_max_level(Level::WARN)
            .with_writer(std::io::sink)
            .finish();
        let calls = tracing::subscriber::with_default(fmt, || debug_calls(call));
        assert_eq!(calls, (0, 1), "{name}, fmt subscriber at WARN");
        let fmt = tracing_subscriber::fmt()
            .with_max_level(Level::INFO)
            .with_writer(std::io::sink)
            .finish();
        let calls = tracing::subscriber::with_default(fmt, || debug_calls(call));
        assert_eq!(calls, (2, 3), "{name}, fmt subscriber at INFO");
    }
}
