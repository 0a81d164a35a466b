use politely::backoff;

#[backoff(expo, foo::bar = 1)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
