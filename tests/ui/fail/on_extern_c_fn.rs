use politely::backoff;

#[backoff(expo)]
extern "C" fn fetch() -> bool {
    true
}

fn main() {}
