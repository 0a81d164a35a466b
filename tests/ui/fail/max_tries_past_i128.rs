//! An integer past `i128` is still an integer: the message says it is too large (it said
//! "takes an integer number of attempts").
use politely::backoff;

#[backoff(expo, max_tries = 340282366920938463463374607431768211455)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
