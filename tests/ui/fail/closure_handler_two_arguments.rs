//! A handler takes one argument.
use politely::backoff;

#[backoff(expo, max_tries = 3, on_giveup = |details, error| println!("{details:?} {error:?}"))]
fn call() -> Result<(), String> {
    Ok(())
}

fn main() {}
