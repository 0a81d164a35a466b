//! The AWS "Exponential Backoff and Jitter" finding, reproduced by the simulation behind
//! `cargo run --example contention` on this crate's own `expo` and `Jitter`: seeded, so deterministic,
//! and on a virtual clock, so fast.

use super::sim::{self as contention, Strategy, point, run};

const SEED: u64 = 7;
const RUNS: usize = 20;

#[test]
fn a_seed_fixes_the_outcome() {
    for s in Strategy::ALL {
        assert_eq!(run(s, 20, SEED), run(s, 20, SEED), "{s:?}");
    }
    // ... and the seed matters where there is randomness (the network, the jitter).
    assert_ne!(
        run(Strategy::Full, 20, SEED),
        run(Strategy::Full, 20, SEED + 1)
    );
}

#[test]
fn every_client_writes_once_when_alone() {
    for s in Strategy::ALL {
        let o = run(s, 1, SEED);
        assert_eq!(o.calls, 1, "{s:?}");
        // read, reply, write, reply: four messages of about 10 ms each, no wait.
        assert!(o.time > std::time::Duration::from_millis(20), "{s:?} {o:?}");
        assert!(o.time < std::time::Duration::from_millis(60), "{s:?} {o:?}");
    }
}

#[test]
fn jitter_halves_the_calls_and_cuts_the_time_at_50_clients() {
    let expo = point(Strategy::Expo, 50, RUNS, SEED);
    let full = point(Strategy::Full, 50, RUNS, SEED);
    let none = point(Strategy::NoBackoff, 50, RUNS, SEED);
    // Measured at this seed: calls 615.4 (expo) vs 367.0 (full); time 34.0 s vs 2.7 s.
    assert!(
        full.mean_calls < 0.7 * expo.mean_calls,
        "{full:?} vs {expo:?}"
    );
    assert!(full.mean_time * 5 < expo.mean_time, "{full:?} vs {expo:?}");
    // Retrying at once is the fastest and the most wasteful.
    assert!(none.mean_time < full.mean_time, "{none:?} vs {full:?}");
    assert!(none.mean_calls > expo.mean_calls, "{none:?} vs {expo:?}");
}

#[test]
fn decorrelated_is_faster_than_full_but_calls_more() {
    let full = point(Strategy::Full, 50, RUNS, SEED);
    let decorrelated = point(Strategy::Decorrelated, 50, RUNS, SEED);
    let equal = point(Strategy::Equal, 50, RUNS, SEED);
    assert!(
        decorrelated.mean_time < full.mean_time,
        "{decorrelated:?} vs {full:?}"
    );
    assert!(
        decorrelated.mean_calls > full.mean_calls,
        "{decorrelated:?} vs {full:?}"
    );
    // Equal jitter: slower than full, and no fewer calls.
    assert!(equal.mean_time > full.mean_time, "{equal:?} vs {full:?}");
    assert!(equal.mean_calls > full.mean_calls, "{equal:?} vs {full:?}");
}

#[test]
fn the_ramp_beats_full_on_calls_and_decorrelated_on_time_at_50_clients() {
    let full = point(Strategy::Full, 50, RUNS, SEED);
    let decorrelated = point(Strategy::Decorrelated, 50, RUNS, SEED);
    let ramp = point(Strategy::Ramp, 50, RUNS, SEED);
    // Measured at this seed: calls 325.4 (ramp) vs 367.0 (full); time 1.83 s (ramp) vs
    // 2.30 s (decorrelated).
    assert!(ramp.mean_calls < full.mean_calls, "{ramp:?} vs {full:?}");
    assert!(
        ramp.mean_time < decorrelated.mean_time,
        "{ramp:?} vs {decorrelated:?}"
    );
}

#[test]
fn the_ramp_is_five_twenty_then_steps_of_eighty_ms_up_to_the_cap() {
    let ms: Vec<u64> = contention::ramp()
        .map(|s| (s * 1000.0).round() as u64)
        .take(28)
        .collect();
    assert_eq!(&ms[..6], &[5, 20, 80, 160, 240, 320]);
    assert_eq!(&ms[24..], &[1840, 1920, 2000, 2000]);
}
