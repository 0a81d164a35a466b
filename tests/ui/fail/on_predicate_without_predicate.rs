use politely::backoff;

#[backoff(expo, on = predicate)]
fn count() -> u32 {
    0
}

fn main() {}
