use politely::backoff;

pub struct Reply {
    pub code: u16,
}

type Outcome = Reply;

#[backoff(expo, on = error)]
fn fetch() -> Outcome {
    Reply { code: 503 }
}

fn main() {}
