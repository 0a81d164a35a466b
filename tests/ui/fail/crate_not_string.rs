use politely::backoff;

#[backoff(expo, crate = 5)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
