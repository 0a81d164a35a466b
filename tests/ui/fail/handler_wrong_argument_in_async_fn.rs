//! A sync handler of the wrong argument in an async fn: one error on the handler (there
//! were three, naming the expansion's helpers).
use politely::backoff;

#[derive(Debug)]
struct ApiError;

fn gave_up(e: &ApiError) {
    println!("{e:?}");
}

#[backoff(expo, max_tries = 3, on_giveup = gave_up)]
async fn call() -> Result<(), ApiError> {
    Err(ApiError)
}

fn main() {}
