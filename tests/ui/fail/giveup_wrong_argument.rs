//! `giveup` receives the error.
use politely::backoff;

#[backoff(expo, giveup = |r: &Result<u32, String>| r.is_err())]
fn send() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
