use politely::backoff;
use std::time::Duration;

fn pause(_: Duration) {}

#[backoff(expo, max_tries = 3, sleep = pause)]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
