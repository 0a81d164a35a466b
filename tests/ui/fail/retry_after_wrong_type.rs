use politely::backoff;

#[derive(Debug)]
struct ApiError {
    retry_after: Option<String>,
}

#[backoff(expo, retry_after = |e: &ApiError| e.retry_after.clone())]
async fn send() -> Result<(), ApiError> {
    Ok(())
}

fn main() {}
