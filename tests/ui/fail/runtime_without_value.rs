use politely::backoff;

#[backoff(runtime, max_tries = 3)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
