use politely::backoff;

// `u32` and `String` say nothing about the rate limit.
#[backoff(expo, rate = adaptive)]
async fn send() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
