use politely::backoff;

#[backoff(expo, pacer = 5)]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
