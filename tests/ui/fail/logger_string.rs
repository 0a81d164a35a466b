use politely::backoff;

#[backoff(expo, logger = "x")]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
