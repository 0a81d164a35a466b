use politely::backoff;

pub struct Reply {
    pub code: u16,
}

#[backoff(expo, max_tries = 3)]
fn fetch() -> Reply {
    Reply { code: 503 }
}

fn main() {}
