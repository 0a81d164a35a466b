use politely::backoff;

const LIMIT: f64 = 3.0;

#[backoff(expo, max_tries = LIMIT)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
