use politely::backoff;

#[backoff(expo, rate = 1 per second, burst = 0)]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
