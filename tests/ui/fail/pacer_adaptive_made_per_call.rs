use politely::backoff;

#[backoff(expo, pacer = &politely::Pacer::adaptive_with(politely::AdaptiveRate::new().floor(1.0)))]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
