//! A handler takes the attempt's `&Details`, not the error.
use politely::backoff;

#[derive(Debug)]
struct ApiError;

fn gave_up(e: &ApiError) {
    println!("{e:?}");
}

#[backoff(expo, max_tries = 3, on_giveup = gave_up)]
fn call() -> Result<(), ApiError> {
    Err(ApiError)
}

fn main() {}
