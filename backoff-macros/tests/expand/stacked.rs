use politely::backoff;

fn fetch_once(id: u32) -> Result<Option<u32>, String> {
    Ok(Some(id))
}

/// The outer layer polls until the value is there (`Ok(None)` is retried); the inner one
/// retries errors, which pass through the outer layer untouched.
#[backoff(constant, interval = 5, max_tries = 10, predicate = |v: &Option<u32>| v.is_none())]
#[backoff(expo, max_tries = 3, backoff_log_level = debug, giveup_log_level = off)]
fn fetch(id: u32) -> Result<Option<u32>, String> {
    fetch_once(id)
}
