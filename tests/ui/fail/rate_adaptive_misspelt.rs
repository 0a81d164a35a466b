use politely::backoff;

#[backoff(expo, rate = adaptiv)]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
