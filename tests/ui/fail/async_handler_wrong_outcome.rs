//! An async handler typed for another outcome: the error says which one it should take.
use politely::{Details, backoff};

#[derive(Debug)]
struct ApiError;

async fn gave_up(d: &Details<'_, Result<String, ApiError>>) {
    println!("{}", d.tries);
}

#[backoff(expo, max_tries = 3, on_giveup = gave_up)]
async fn call() -> Result<(), ApiError> {
    Err(ApiError)
}

fn main() {}
