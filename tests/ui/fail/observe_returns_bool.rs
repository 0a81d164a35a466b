use politely::backoff;

#[backoff(expo, rate = adaptive, observe = |out: &Result<u32, String>| out.is_ok())]
async fn send() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
