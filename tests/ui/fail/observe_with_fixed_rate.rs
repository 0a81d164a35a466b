use politely::backoff;

// A fixed pacer learns nothing from the responses.
#[backoff(expo, rate = 1 per second, observe)]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
