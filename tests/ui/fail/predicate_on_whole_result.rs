use politely::backoff;

// `on = predicate` judges the `Ok` value; the whole `Result` needs `on = outcome`.
#[backoff(expo, on = predicate, predicate = |r: &Result<u32, String>| r.is_err())]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
