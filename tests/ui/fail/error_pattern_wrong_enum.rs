use politely::backoff;

#[derive(Debug)]
pub enum ApiError {
    RateLimited,
    Fatal,
}

#[derive(Debug)]
pub enum DbError {
    Locked,
}

#[backoff(expo, on = error(DbError::Locked))]
fn fetch() -> Result<u32, ApiError> {
    Err(ApiError::RateLimited)
}

fn main() {
    let _ = ApiError::Fatal;
}
