use politely::backoff;

#[backoff(expo, rate = adaptive, observe = 5)]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
