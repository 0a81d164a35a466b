use politely::backoff;

#[backoff(expo, on = outcome)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
