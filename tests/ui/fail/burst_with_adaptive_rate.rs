use politely::backoff;

#[backoff(expo, rate = adaptive, burst = 5)]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
