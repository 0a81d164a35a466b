use politely::backoff;

#[backoff(expo, on = predicate, predicate = |n: &u32| *n == 0, giveup = |_e: &String| true)]
fn count() -> u32 {
    0
}

fn main() {}
