use politely::backoff;

#[backoff(expo, rate = 0 per second)]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
