use politely::backoff;

#[backoff(expo, jitter = fulll)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
