use politely::backoff;

#[backoff(expo, max_time = || "300".to_owned())]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
