use politely::backoff;

#[backoff(expo = 2)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
