use politely::backoff;

#[backoff(expo)]
const fn fetch() -> Result<u32, u32> {
    Ok(1)
}

fn main() {}
