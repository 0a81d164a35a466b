use politely::backoff;

#[backoff(expo, jitter = "full")]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
