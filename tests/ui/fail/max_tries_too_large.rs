use politely::backoff;

#[backoff(expo, max_tries = 5_000_000_000)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
