//! Under `on = error` (the default for a `Result`), `retry_after` receives the error.
use politely::backoff;

#[derive(Debug)]
struct ApiError {
    retry_after: Option<u64>,
}

#[backoff(expo, retry_after = |r: &Result<u32, ApiError>| r.as_ref().err()?.retry_after)]
async fn send() -> Result<u32, ApiError> {
    Ok(1)
}

fn main() {}
