use politely::backoff;

#[backoff(expo, on = outcome, predicate = |r: &Result<u32, String>| r.is_err(), giveup = |_e: &String| true)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
