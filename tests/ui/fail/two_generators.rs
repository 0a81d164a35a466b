use politely::backoff;

#[backoff(expo, fibo)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
