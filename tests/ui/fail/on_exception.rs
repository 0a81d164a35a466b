use politely::backoff;

#[backoff(expo, on = exception)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
