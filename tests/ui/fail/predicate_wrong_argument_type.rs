use politely::backoff;

#[backoff(expo, on = predicate, predicate = |n: &i64| *n == 0)]
fn count() -> u32 {
    0
}

fn main() {}
