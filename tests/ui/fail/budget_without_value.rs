use politely::backoff;

#[backoff(expo, budget)]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
