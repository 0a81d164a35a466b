//! `budget = <expr>`: a field (by place or by reference), an `Arc`, a `static`, sync and async.
use politely::{RetryBudget, backoff};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

fn no_sleep(_: Duration) {}

static BUDGET: LazyLock<RetryBudget> = LazyLock::new(|| RetryBudget::new(0.1));

struct Client {
    budget: RetryBudget,
    shared: Arc<RetryBudget>,
}

impl Client {
    #[backoff(expo, max_tries = 3, sleep = no_sleep, budget = self.budget)]
    fn by_place(&self) -> bool {
        false
    }

    #[backoff(expo, max_tries = 3, sleep = no_sleep, budget = &self.budget)]
    fn by_ref(&self) -> bool {
        false
    }

    #[backoff(expo, max_tries = 3, budget = self.shared)]
    async fn by_arc(&self) -> Result<(), String> {
        Ok(())
    }
}

#[backoff(expo, max_tries = 3, sleep = no_sleep, budget = BUDGET)]
fn by_static() -> Option<u8> {
    None
}

#[backoff(expo, max_tries = 3, sleep = no_sleep, budget = budget)]
fn by_argument(budget: &RetryBudget) -> bool {
    false
}

fn main() {
    let client = Client {
        budget: RetryBudget::new(0.0).min_per_sec(0.0),
        shared: Arc::new(RetryBudget::new(0.2)),
    };
    assert!(!client.by_place());
    assert!(!client.by_ref());
    drop(client.by_arc());
    assert_eq!(by_static(), None);
    assert!(!by_argument(&RetryBudget::new(0.2)));
}
