//! `name =` with no value is reported on the name, with an example (it was "unexpected end
//! of input" on the whole attribute).
use politely::backoff;

#[backoff(expo, max_tries = , jitter = )]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
