//! The DEBUG event on target `backoff::adaptive` that reports each change of the learned
//! rate. It has a test binary of its own, with a global subscriber: tracing caches each
//! callsite's interest process-wide, and in the library's test binary other threads register
//! this callsite concurrently, so a subscriber scoped to one test thread
//! (`with_default`) could miss the events (a stale "never" cached by the other thread's
//! registration; seen once in CI).

use backoff_core::PacerInstant as Instant;
use std::fmt;
use std::sync::Mutex;

use backoff_core::{AdaptiveRate, Feedback};

static RATES: Mutex<Vec<f64>> = Mutex::new(Vec::new());

/// Records the `rate` of every `backoff::adaptive` event.
struct Rates;

impl tracing::field::Visit for Rates {
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        if field.name() == "rate" {
            RATES.lock().unwrap().push(value);
        }
    }
    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn fmt::Debug) {}
}

impl tracing::Subscriber for Rates {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        meta.target() == "backoff::adaptive"
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        event.record(&mut Rates);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// One event per change of the paced rate, none when it stays.
#[test]
fn an_event_for_each_change() {
    tracing::subscriber::set_global_default(Rates).expect("the only test in this binary");
    let c = AdaptiveRate::new();
    let mut now = Instant::now();
    c.observe(&Feedback::accepted(), now, now); // the first attempt proves nothing
    for _ in 0..2 {
        now += c.interval().unwrap();
        c.observe(&Feedback::accepted(), now, now);
    }
    now += c.interval().unwrap();
    c.observe(&Feedback::throttled(), now, now);
    // Sent before the throttle was seen: no change, no event.
    c.observe(
        &Feedback::throttled(),
        now - std::time::Duration::from_millis(1),
        now,
    );
    assert_eq!(*RATES.lock().unwrap(), [2.0, 4.0, 2.0]);
}
