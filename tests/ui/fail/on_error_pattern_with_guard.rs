//! A guard in `on = error(...)` is reported with the form that can say it (it was "expected
//! one pattern").
use politely::backoff;

#[derive(Debug)]
enum ApiError {
    Server(u16),
}

#[backoff(expo, on = error(ApiError::Server(code) if *code >= 500))]
fn fetch() -> Result<u32, ApiError> {
    Err(ApiError::Server(503))
}

fn main() {}
