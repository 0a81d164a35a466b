use backoff::backoff;

#[backoff(expo, pacer = &backoff::Pacer::adaptive_with(backoff::AdaptiveRate::new().floor(1.0)))]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
