use politely::backoff;

#[backoff(constant, interval = [1, 2, -3])]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
