use politely::backoff;

// A budget made in the attribute is made again for every call: it would bound nothing.
#[backoff(expo, budget = &politely::RetryBudget::new(0.2).min_per_sec(1.0))]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
