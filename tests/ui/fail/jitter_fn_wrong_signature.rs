use politely::backoff;

/// Takes and gives seconds as a number, not a `Duration`.
fn halve(secs: u64) -> u64 {
    secs / 2
}

#[backoff(expo, jitter = halve)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
