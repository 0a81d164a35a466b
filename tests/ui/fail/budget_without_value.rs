use backoff::backoff;

#[backoff(expo, budget)]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
