//! A sync handler returns `()`.
use politely::{Details, backoff};

#[derive(Debug)]
struct ApiError;

fn gave_up(d: &Details<'_, Result<(), ApiError>>) -> u32 {
    d.tries
}

#[backoff(expo, max_tries = 3, on_giveup = gave_up)]
fn call() -> Result<(), ApiError> {
    Err(ApiError)
}

fn main() {}
