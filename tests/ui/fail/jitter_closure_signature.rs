//! A jitter closure of the wrong signature is reported on the closure, not on the attribute.
use politely::backoff;

#[backoff(expo, max_tries = 3, jitter = |d: u64| d)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
