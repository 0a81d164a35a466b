use politely::backoff;

pub struct Request {
    pub id: u32,
}

#[backoff(expo, max_tries = 3)]
fn send(Request { id }: Request) -> Result<u32, String> {
    Ok(id)
}

fn main() {}
