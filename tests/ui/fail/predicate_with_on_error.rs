use politely::backoff;

#[backoff(expo, on = error, predicate = |r: &Result<u32, String>| r.is_err())]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
