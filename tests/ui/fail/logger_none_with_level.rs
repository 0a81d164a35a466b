use politely::backoff;

#[backoff(expo, logger = none, backoff_log_level = debug)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
