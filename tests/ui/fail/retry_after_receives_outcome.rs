//! Under `on = outcome`, `retry_after` receives the whole outcome, not the error.
use politely::backoff;

#[derive(Debug)]
struct ApiError {
    retry_after: Option<u64>,
}

#[backoff(expo, on = outcome, predicate = |r: &Result<u32, ApiError>| r.is_err(),
          retry_after = |e: &ApiError| e.retry_after)]
async fn send() -> Result<u32, ApiError> {
    Ok(1)
}

fn main() {}
