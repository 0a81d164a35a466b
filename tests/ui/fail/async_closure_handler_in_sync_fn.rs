use politely::backoff;

#[backoff(expo, max_tries = 3, on_backoff = |_details| async {})]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
