use politely::backoff;

#[backoff(expo, rate = adaptive(floor = 0.5))]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
