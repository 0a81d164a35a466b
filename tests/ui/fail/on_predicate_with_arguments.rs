//! `on = predicate(...)` is reported on its parentheses, with the form to write (it was a
//! bare "expected `,`").
use politely::backoff;

#[backoff(expo, on = predicate(|v: &u32| *v == 0))]
fn fetch() -> u32 {
    1
}

fn main() {}
