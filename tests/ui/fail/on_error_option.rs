use politely::backoff;

#[backoff(expo, on = error(None))]
fn find() -> Option<u32> {
    None
}

fn main() {}
