use politely::backoff;

#[backoff(expo, seed = "abc")]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
