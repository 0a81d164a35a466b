//! Stacked under another, `#[backoff = ...]` is an error on its `=`, not a layer with every
//! default (it retried without limit).
use politely::backoff;

#[backoff(max_tries = 1, jitter = none)]
#[backoff = "max_tries = 1"]
async fn fetch() -> Option<u32> {
    Some(1)
}

fn main() {}
