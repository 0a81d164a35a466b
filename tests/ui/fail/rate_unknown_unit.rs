use politely::backoff;

#[backoff(expo, rate = 10 per fortnight)]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
