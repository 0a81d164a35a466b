//! A positive `max_time` below a nanosecond is zero (it was accepted, and the run gave up
//! after its first attempt, where `max_time = 0` is rejected).
use politely::backoff;

#[backoff(expo, max_time = 1e-20)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
