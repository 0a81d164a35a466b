//! The retry budget's arithmetic, exactly, on tokio's paused clock; and how `State` uses it.

use std::time::Duration;

use backoff_core::wait::Constant;
use backoff_core::{Action, Jitter, Policy, RetryBudget, State, Verdict};
use proptest::prelude::*;
use tokio::time::advance;

const MS: fn(u64) -> Duration = Duration::from_millis;

/// `n` withdrawals: how many were granted.
fn withdraw(b: &RetryBudget, n: usize) -> usize {
    (0..n).filter(|_| b.withdraw()).count()
}

#[tokio::test(start_paused = true)]
async fn each_first_attempt_deposits_the_ratio_and_each_retry_costs_one() {
    let b = RetryBudget::new(0.2).min_per_sec(0.0);
    assert_eq!(
        withdraw(&b, 1),
        0,
        "an empty budget without a floor grants nothing"
    );
    for _ in 0..4 {
        b.deposit();
    }
    assert_eq!(b.earned(), 0.8);
    assert_eq!(withdraw(&b, 1), 0, "0.8 of a token is not a retry");
    b.deposit();
    assert_eq!(b.earned(), 1.0);
    assert_eq!(withdraw(&b, 3), 1);
    assert_eq!(b.earned(), 0.0);
    // 20 %: 100 first attempts pay for exactly 20 retries.
    for _ in 0..100 {
        b.deposit();
    }
    assert_eq!(withdraw(&b, 50), 20);
}

#[tokio::test(start_paused = true)]
async fn the_ratio_is_rounded_to_a_thousandth() {
    let b = RetryBudget::new(1.0 / 3.0).min_per_sec(0.0);
    for _ in 0..3 {
        b.deposit();
    }
    assert_eq!(b.earned(), 0.999);
    assert!(!b.withdraw());
    b.deposit();
    assert!(b.withdraw());
    assert_eq!(b.earned(), 0.332);
}

#[tokio::test(start_paused = true)]
async fn a_quiet_period_banks_at_most_the_cap() {
    let b = RetryBudget::new(0.5).min_per_sec(0.0).cap(3);
    for _ in 0..1000 {
        b.deposit();
    }
    assert_eq!(b.earned(), 3.0);
    assert_eq!(withdraw(&b, 10), 3);
    // The default cap is 100.
    let b = RetryBudget::new(1.0).min_per_sec(0.0);
    for _ in 0..1000 {
        b.deposit();
    }
    assert_eq!(withdraw(&b, 1000), 100);
    // Cap 0: deposits are lost at once.
    let b = RetryBudget::new(1.0).min_per_sec(0.0).cap(0);
    b.deposit();
    assert_eq!(withdraw(&b, 2), 0);
}

#[tokio::test(start_paused = true)]
async fn the_floor_refills_over_time_up_to_one_second_of_it() {
    // 2 a second: one every 500 ms, at most 2 saved up.
    let b = RetryBudget::new(0.0).min_per_sec(2.0);
    assert_eq!(withdraw(&b, 5), 2, "a fresh floor has its burst");
    advance(MS(499)).await;
    assert_eq!(withdraw(&b, 1), 0);
    advance(MS(1)).await;
    assert_eq!(withdraw(&b, 5), 1);
    advance(MS(500)).await;
    assert_eq!(withdraw(&b, 5), 1);
    // A long quiet spell saves up one second's worth, no more.
    advance(Duration::from_secs(3600)).await;
    assert_eq!(withdraw(&b, 5), 2);
    advance(MS(250)).await;
    assert_eq!(withdraw(&b, 5), 0);
    advance(MS(250)).await;
    assert_eq!(withdraw(&b, 5), 1);

    // Below one a second: one every 4 s, a burst of one.
    let b = RetryBudget::new(0.0).min_per_sec(0.25);
    assert_eq!(withdraw(&b, 3), 1);
    advance(MS(3999)).await;
    assert_eq!(withdraw(&b, 3), 0);
    advance(MS(1)).await;
    assert_eq!(withdraw(&b, 3), 1);

    // The default floor is 10 a second.
    let b = RetryBudget::new(0.0);
    assert_eq!(withdraw(&b, 100), 10);
    advance(Duration::from_secs(2)).await;
    assert_eq!(withdraw(&b, 100), 10);
    advance(MS(100)).await;
    assert_eq!(withdraw(&b, 100), 1);
}

#[tokio::test(start_paused = true)]
async fn earned_tokens_go_before_the_floor() {
    let b = RetryBudget::new(1.0).min_per_sec(1.0);
    b.deposit();
    b.deposit();
    assert_eq!(withdraw(&b, 1), 1);
    assert_eq!(b.earned(), 1.0, "the first retry took an earned token");
    assert_eq!(withdraw(&b, 1), 1);
    assert_eq!(b.earned(), 0.0);
    assert_eq!(withdraw(&b, 1), 1, "then the floor's");
    assert_eq!(withdraw(&b, 1), 0);
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_budget_and_settings_make_a_fresh_one() {
    let a = RetryBudget::new(1.0).min_per_sec(0.0);
    let b = a.clone();
    assert!(a.same(&b));
    b.deposit();
    assert!(a.withdraw());
    assert!(!b.withdraw());
    let c = a.clone().cap(5);
    assert!(!c.same(&a));
    assert_eq!(
        format!("{c:?}"),
        "RetryBudget { ratio: 1.0, min_per_sec: 0.0, cap: 5, earned: 0.0 }"
    );
}

fn policy(budget: &RetryBudget, max_tries: Option<u32>) -> Policy {
    Policy {
        max_tries,
        jitter: Jitter::None,
        budget: Some(budget.clone()),
        ..Policy::default()
    }
}

fn decide(s: &mut State<Constant>, verdict: Verdict) -> Action {
    s.decide(&(), verdict, Duration::ZERO, &"")
}

#[tokio::test(start_paused = true)]
async fn a_call_deposits_once_whatever_its_first_outcome() {
    let b = RetryBudget::new(0.5).min_per_sec(0.0);
    for verdict in [Verdict::Success, Verdict::GiveUp, Verdict::Propagate] {
        let mut s = State::new("f", Constant::new(MS(10)), policy(&b, None));
        assert_ne!(decide(&mut s, verdict), Action::Backoff(MS(10)));
    }
    assert_eq!(b.earned(), 1.5);
    // A call retried twice deposited once and withdrew twice.
    let mut s = State::new("f", Constant::new(MS(10)), policy(&b, None));
    assert_eq!(decide(&mut s, Verdict::Retry), Action::Backoff(MS(10)));
    assert_eq!(b.earned(), 1.0);
    assert_eq!(decide(&mut s, Verdict::Retry), Action::Backoff(MS(10)));
    assert_eq!(b.earned(), 0.0);
    assert_eq!(decide(&mut s, Verdict::Retry), Action::GiveUp);
    assert_eq!(s.tries(), 3);
    assert_eq!(decide(&mut s, Verdict::Success), Action::Success);
    assert_eq!(b.earned(), 0.0, "later attempts deposit nothing");
}

#[tokio::test(start_paused = true)]
async fn the_limits_come_before_the_budget() {
    let b = RetryBudget::new(1.0).min_per_sec(0.0);
    let mut s = State::new("f", Constant::new(MS(10)), policy(&b, Some(1)));
    assert_eq!(decide(&mut s, Verdict::Retry), Action::GiveUp);
    assert_eq!(b.earned(), 1.0, "a call out of tries takes no token");
    let mut s = State::new("f", Constant::new(MS(10)), policy(&b, Some(2)));
    assert_eq!(decide(&mut s, Verdict::GiveUp), Action::GiveUp);
    assert_eq!(b.earned(), 2.0, "nor does a permanent failure");
}

#[derive(Clone, Debug)]
enum Op {
    /// A call's first attempt ended: it deposits.
    Deposit,
    /// A call asks for a retry.
    Withdraw,
    /// Time passes.
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Deposit),
        3 => Just(Op::Withdraw),
        1 => (0u64..1500).prop_map(Op::Advance),
    ]
}

proptest! {
    /// Any sequence of deposits, withdrawals and time steps, against a reference model of the
    /// two pools computed in exact integers: every answer matches.
    #[test]
    fn the_budget_matches_its_model(
        ratio_milli in 0u64..1500,
        floor_per_sec in 0u32..20,
        cap in 0u32..20,
        ops in proptest::collection::vec(op(), 1..300),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        rt.block_on(async {
            #[allow(clippy::cast_precision_loss)]
            let ratio = ratio_milli as f64 / 1000.0;
            let b = RetryBudget::new(ratio).min_per_sec(f64::from(floor_per_sec)).cap(cap);
            let cap = u64::from(cap) * 1000;
            let mut earned = 0u64;
            let r = u64::from(floor_per_sec.max(1));
            // The floor's interval, rounded to the nanosecond.
            let (interval, burst) = ((2_000_000_000 + r) / (2 * r), r);
            let mut tat = 0u64;
            let mut now = 0u64;
            for op in &ops {
                match op {
                    Op::Deposit => {
                        b.deposit();
                        earned = (earned + ratio_milli).min(cap);
                    }
                    Op::Withdraw => {
                        let expect = if earned >= 1000 {
                            earned -= 1000;
                            true
                        } else if floor_per_sec > 0 && tat <= now + (burst - 1) * interval {
                            tat = tat.max(now) + interval;
                            true
                        } else {
                            false
                        };
                        prop_assert_eq!(b.withdraw(), expect, "{:?}", ops);
                    }
                    Op::Advance(ms) => {
                        advance(MS(*ms)).await;
                        now += ms * 1_000_000;
                    }
                }
                #[allow(clippy::cast_precision_loss)]
                let model = earned as f64 / 1000.0;
                prop_assert_eq!(b.earned(), model);
            }
            Ok(())
        })?;
    }
}

/// Threads depositing and withdrawing at once on real cores: no token is lost or made up
/// (the compare-and-swap loops are exact under contention).
#[test]
fn concurrent_deposits_and_withdrawals_conserve_tokens() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let b = RetryBudget::new(0.25).min_per_sec(0.0).cap(u32::MAX);
    let granted = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..20_000 {
                    b.deposit();
                    if b.withdraw() {
                        granted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let granted = granted.load(Ordering::Relaxed);
    // 80,000 deposits of 0.25: 20,000 tokens in all, each either granted or still there.
    #[allow(clippy::cast_precision_loss)]
    let total = granted as f64 + b.earned();
    assert_eq!(total, 20_000.0);
    assert!(granted <= 20_000);
}

/// Threads racing for the floor on the real clock get its burst and what the elapsed time
/// refilled, never more.
#[test]
fn concurrent_floor_withdrawals_stay_within_the_floor() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let start = std::time::Instant::now();
    let b = RetryBudget::new(0.0).min_per_sec(10.0);
    let granted = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..5_000 {
                    if b.withdraw() {
                        granted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap();
    let granted = granted.load(Ordering::Relaxed);
    assert!(granted >= 10, "{granted}");
    assert!(
        granted <= 10 + elapsed_ms / 100 + 1,
        "{granted} in {elapsed_ms} ms"
    );
}
