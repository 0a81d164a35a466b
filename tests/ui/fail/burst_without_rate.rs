use politely::backoff;

#[backoff(expo, burst = 3)]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
