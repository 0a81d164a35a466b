use politely::backoff;

pub struct Request {
    pub url: String,
}

impl Request {
    #[backoff(expo, max_tries = 3)]
    fn send(self) -> Result<u32, String> {
        Err(self.url)
    }
}

fn main() {}
