use politely::backoff;

#[backoff(expo, base = 0.5)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
