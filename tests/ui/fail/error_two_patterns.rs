use politely::backoff;

#[derive(Debug)]
pub enum ApiError {
    RateLimited,
    Timeout,
}

#[backoff(expo, on = error(ApiError::RateLimited, ApiError::Timeout))]
fn fetch() -> Result<u32, ApiError> {
    Err(ApiError::RateLimited)
}

fn main() {}
