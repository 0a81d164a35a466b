use politely::backoff;

#[backoff(constant, interval = vec![])]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
