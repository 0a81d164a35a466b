use politely::backoff;

#[backoff(expo, rate = 5)]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
