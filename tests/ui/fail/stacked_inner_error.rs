use politely::backoff;

#[backoff(expo, max_tries = 3)]
#[backoff(constant, interval = 1, max_tries = 0)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
