use politely::backoff;

#[backoff(expo, max_tries)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
