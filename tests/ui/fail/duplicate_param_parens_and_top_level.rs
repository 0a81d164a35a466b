use politely::backoff;

#[backoff(expo(base = 3), base = 4)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
