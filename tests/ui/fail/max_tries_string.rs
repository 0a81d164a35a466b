use politely::backoff;

#[backoff(expo, max_tries = "5")]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
