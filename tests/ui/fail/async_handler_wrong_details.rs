//! A handler of an async fn that takes the details of another outcome type is reported on
//! the handler (it was reported on the attribute).
use politely::{Details, backoff};

fn log(_: &Details<'_, Option<u32>>) {}

#[backoff(expo, max_tries = 3, on_giveup = log)]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
