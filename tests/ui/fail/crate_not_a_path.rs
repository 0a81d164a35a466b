use politely::backoff;

#[backoff(expo, crate = "not a path")]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
