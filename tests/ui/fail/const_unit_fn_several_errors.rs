use politely::backoff;

#[backoff(expo, max_tries = 0)]
const fn fetch() {}

fn main() {}
