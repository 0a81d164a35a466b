use politely::backoff;

#[backoff(expo, max_tries = 3)]
fn fetch() -> impl Into<u32> {
    1u8
}

fn main() {}
