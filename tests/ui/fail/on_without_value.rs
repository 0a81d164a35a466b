use politely::backoff;

#[backoff(expo, on)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
