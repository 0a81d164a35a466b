//! The outage experiment behind `examples/outage.rs`, smaller: 100 clients, a 20 s outage, a
//! budget scaled to them. Paused clock, seeded jitter: deterministic and fast.

use super::sim::{self as outage, BudgetSpec, Config};

const SMALL: Config = Config {
    clients: 100,
    warmup: 5,
    outage: 20,
    after: 15,
    capacity: Some(200),
};

/// 20 %, with the floor and the cap scaled to 100 clients as the defaults are to 1,000.
const BUDGET: BudgetSpec = BudgetSpec {
    ratio: 0.2,
    min_per_sec: 1.0,
    cap: 10,
};

#[tokio::test(start_paused = true)]
async fn a_budget_bounds_the_outage_load_without_slowing_the_recovery() {
    let plain = outage::run(SMALL, None).await;
    let budgeted = outage::run(SMALL, Some(BUDGET)).await;
    for run in [&plain, &budgeted] {
        assert_eq!(run.outage_offered(), 100 * 20, "{}", run.label);
    }
    // Without a budget, nearly every call makes its 5 attempts during the outage.
    assert!(plain.amplification() > 4.0, "{}", plain.amplification());
    // With it, retries add at most 20 % plus the floor and the cap:
    // 2,000 + 0.2 × 2,000 + 20 × 1 + 1 + 10 = 2,431.
    assert!(
        budgeted.outage_requests() <= 2431,
        "{}",
        budgeted.outage_requests()
    );
    assert!(
        budgeted.amplification() <= 1.25,
        "{}",
        budgeted.amplification()
    );
    // And the budget does not slow the recovery.
    assert!(
        budgeted.recovered_within_5s() >= plain.recovered_within_5s(),
        "{} < {}",
        budgeted.recovered_within_5s(),
        plain.recovered_within_5s()
    );
    assert!(budgeted.settle_secs() <= plain.settle_secs());
}
