use politely::backoff;

const SPREAD: u64 = 3;

#[backoff(expo, jitter = SPREAD)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
