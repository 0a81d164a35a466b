use politely::backoff;

#[backoff(expo, interval = 2)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
