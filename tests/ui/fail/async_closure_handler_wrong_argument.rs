//! An async closure handler typed for the error: reported on it, with what a handler takes.
use politely::backoff;

#[derive(Debug)]
struct ApiError;

#[backoff(expo, max_tries = 3, on_backoff = async |e: &ApiError| println!("{e:?}"))]
async fn call() -> Result<(), ApiError> {
    Err(ApiError)
}

fn main() {}
