//! A `clock` that nothing reads (no `max_time`, no handler) is still type-checked (it was
//! accepted, and failed only once `max_time` was added).
use politely::backoff;

#[backoff(expo, max_tries = 2, clock = "not a clock")]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
