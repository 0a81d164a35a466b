use politely::{Pacer, backoff};

static PACER: std::sync::LazyLock<Pacer> = std::sync::LazyLock::new(|| Pacer::per_second(1.0));

#[backoff(expo, pacer = *PACER, rate = 1 per second)]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
