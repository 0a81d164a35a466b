//! `wait = <expr>` that is no generator is reported on the value (it was reported on the
//! attribute, naming internal items).
use politely::backoff;

#[backoff(wait = 5, max_tries = 3)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
