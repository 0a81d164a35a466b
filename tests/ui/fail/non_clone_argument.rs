use politely::backoff;

pub struct Request {
    pub url: String,
}

#[backoff(expo, max_tries = 3)]
fn send(request: Request) -> Result<u32, String> {
    Err(request.url)
}

fn main() {}
