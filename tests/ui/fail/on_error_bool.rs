use politely::backoff;

#[backoff(expo, on = error)]
fn ready() -> bool {
    false
}

fn main() {}
