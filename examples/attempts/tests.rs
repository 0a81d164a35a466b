//! The article's shapes, from the experiment, on tokio's paused clock with seeded jitter:
//! deterministic, and fast in real time. `cargo test --example attempts`.

use crate::experiment::{self as attempts, MAX_TIME, Run, Strategy};

const TASKS: usize = 100;
const SEED: u64 = 7;

async fn runs() -> (Run, Run, Run) {
    let mut runs = attempts::run_all(TASKS, SEED).await.into_iter();
    let (Some(c), Some(e), Some(j)) = (runs.next(), runs.next(), runs.next()) else {
        panic!("three strategies");
    };
    assert_eq!(
        (c.strategy, e.strategy, j.strategy),
        (Strategy::Constant, Strategy::Expo, Strategy::ExpoFullJitter)
    );
    (c, e, j)
}

#[tokio::test(start_paused = true)]
async fn constant_keeps_a_flat_high_rate() {
    let (constant, _, _) = runs().await;
    // Every client calls every second from 0 to 300 s.
    assert_eq!(constant.per_second.len() as u64, MAX_TIME + 1);
    assert!(
        constant.per_second.iter().all(|&n| n == TASKS as u64),
        "{:?}",
        constant.per_second
    );
    assert_eq!(constant.total(), TASKS as u64 * (MAX_TIME + 1));
    assert_eq!(constant.peak(), TASKS as u64);
}

#[tokio::test(start_paused = true)]
async fn expo_falls_off() {
    let (constant, expo, _) = runs().await;
    // Without jitter every client calls at 0, 1, 3, 7, 15, 31, 63, 127, 255 and at the deadline.
    let busy: Vec<usize> = expo
        .per_second
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(s, _)| s)
        .collect();
    assert_eq!(busy, [0, 1, 3, 7, 15, 31, 63, 127, 255, 300]);
    assert!(busy.iter().all(|&s| expo.per_second[s] == TASKS as u64));
    assert_eq!(expo.total(), 10 * TASKS as u64);
    // The late load is a sliver of constant's.
    assert!(expo.late_calls() * 50 < constant.late_calls());
    // Before the deadline, no later 50 s window sees a third of the first one's calls.
    let windows: Vec<u64> = expo.per_second[..MAX_TIME as usize]
        .chunks(50)
        .map(|w| w.iter().sum())
        .collect();
    assert!(
        windows[1..].iter().all(|&w| 3 * w <= windows[0]),
        "{windows:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn full_jitter_removes_bunching() {
    let (_, expo, jitter) = runs().await;
    // The unjittered retries all land in the same second; jittered ones spread out.
    assert_eq!(expo.peak(), TASKS as u64);
    assert!(
        jitter.peak() * 4 < expo.peak() * 3,
        "jitter peak {} vs expo peak {}",
        jitter.peak(),
        expo.peak()
    );
    // Past the first few seconds, no second before the deadline sees a third of the clients.
    let late_peak = jitter.per_second[8..MAX_TIME as usize]
        .iter()
        .copied()
        .max()
        .unwrap_or(0);
    assert!(late_peak * 3 < TASKS as u64, "{:?}", jitter.per_second);
    // Far more seconds see some call at all.
    let busy = |r: &Run| r.per_second.iter().filter(|&&n| n > 0).count();
    assert!(busy(&jitter) > 5 * busy(&expo));
    // Full jitter waits half as long on average, so it calls somewhat more, still expo-like.
    assert!(jitter.total() > expo.total() && jitter.total() < 3 * expo.total());
}

#[tokio::test(start_paused = true)]
async fn seeded_runs_are_reproducible() {
    let a = attempts::run(Strategy::ExpoFullJitter, 20, SEED).await;
    let b = attempts::run(Strategy::ExpoFullJitter, 20, SEED).await;
    let c = attempts::run(Strategy::ExpoFullJitter, 20, SEED + 1000).await;
    assert_eq!(a, b);
    assert_ne!(a.per_second, c.per_second);
}

#[tokio::test(start_paused = true)]
async fn csv_and_svg_are_written() {
    let runs = attempts::run_all(10, SEED).await;
    let csv = attempts::csv(&runs);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("second,constant,expo,expo_full_jitter"));
    assert_eq!(lines.count() as u64, MAX_TIME + 1);
    let dir = std::env::temp_dir().join(format!("backoff-attempts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("attempts.svg");
    attempts::svg(&runs, &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("polyline"));
    std::fs::remove_dir_all(&dir).unwrap();
}
