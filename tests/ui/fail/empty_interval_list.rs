use politely::backoff;

#[backoff(constant, interval = [])]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
