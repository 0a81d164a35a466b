use super::local::MIN_SWEEP;
use std::time::Duration;

use super::common::Instant;
use super::pacer::Backend;
use super::*;
use crate::hints::Feedback;

fn keys(pacer: &Pacer) -> usize {
    let Backend::Local(local) = &pacer.backend else {
        unreachable!()
    };
    local.keys()
}

/// A caller that leaves late to its slot makes the next caller leave a whole interval
/// after it, not at its own slot.
#[tokio::test(start_paused = true)]
async fn a_late_departure_delays_the_next_instead_of_crowding_it() {
    let pacer = Pacer::per_second(10.0);
    let t0 = Instant::now();
    pacer.ready(None).await;
    let late = pacer.reserve(None);
    let next = pacer.reserve(None);
    // The caller of slot 100 wakes at 103 (a loaded machine); the next caller's slot is
    // 200, but it leaves at 203, a whole interval after.
    tokio::time::sleep(Duration::from_millis(103)).await;
    late.ready().await;
    assert_eq!(next.ready().await, Duration::from_millis(203));
    assert_eq!(t0.elapsed(), Duration::from_millis(203));
    // A new caller: one interval after that.
    assert_eq!(pacer.ready(None).await, Duration::from_millis(100));
}

/// Idle keyed schedules are swept when the map doubles: a stream of distinct keys keeps
/// the map bounded by the keys active within about one interval.
#[tokio::test(start_paused = true)]
async fn idle_keys_are_forgotten() {
    let pacer = Pacer::per_second(1.0);
    for i in 0..1000 {
        pacer.reserve(Some(&format!("k{i}"))).consume();
        tokio::time::advance(Duration::from_millis(100)).await;
    }
    // Each key stays active for 1 s, 10 keys at a time; sweeps come at 64 keys.
    assert!(keys(&pacer) <= MIN_SWEEP, "{}", keys(&pacer));
    // A key forgotten and seen again starts afresh, and one still active keeps its slot.
    assert_eq!(pacer.reserve(Some("k0")).wait(), Duration::ZERO);
    assert_eq!(
        pacer.reserve(Some("k999")).wait(),
        Duration::from_millis(900)
    );
}

/// A reservation that outlives its key's swept schedule gives nothing back to the next.
#[tokio::test(start_paused = true)]
async fn a_reservation_outliving_its_schedule_is_harmless() {
    let pacer = Pacer::per_second(1.0);
    let old = pacer.reserve(Some("a"));
    tokio::time::advance(Duration::from_secs(2)).await;
    for i in 0..MIN_SWEEP {
        pacer.reserve(Some(&format!("k{i}"))).consume();
    }
    let Backend::Local(local) = &pacer.backend else {
        unreachable!()
    };
    assert!(!local.has_key("a"));
    assert_eq!(keys(&pacer), MIN_SWEEP);
    pacer.reserve(Some("a")).consume(); // a new schedule for "a": slot now
    drop(old);
    assert_eq!(pacer.reserve(Some("a")).wait(), Duration::from_secs(1));
}

/// Adaptive keys unused for a minute are forgotten when the map doubles; a key in use
/// keeps what it learned.
#[tokio::test(start_paused = true)]
async fn unused_adaptive_keys_are_forgotten() {
    let pacer = Pacer::adaptive();
    let Backend::Adaptive(learned) = &pacer.backend else {
        unreachable!()
    };
    let fields = [("RateLimit-Policy", r#""d";q=5;w=1"#)];
    let five = Feedback::from_status(200, &fields, std::time::SystemTime::now());
    pacer.observe(Some("kept"), &five, Pacer::now());
    for i in 0..1000 {
        pacer.ready(Some(&format!("k{i}"))).await;
        pacer.ready(Some("kept")).await;
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    // About 60 keys used within the last minute; sweeps at twice what they left.
    assert!(learned.keys() <= 2 * 62, "{}", learned.keys());
    assert_eq!(pacer.learned_rate(Some("kept")), Some(5.0));
    assert_eq!(pacer.learned_rate(Some("k999")), Some(1.0));
    assert_eq!(pacer.learned_rate(Some("k0")), None, "forgotten");
}
