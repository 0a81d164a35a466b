use politely::backoff;

// The ratio is the budget's setting, not the budget: every call must share one.
#[backoff(expo, budget = 0.2)]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
