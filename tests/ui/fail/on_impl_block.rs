use politely::backoff;

struct Client;

#[backoff(expo)]
impl Client {
    fn fetch(&self) -> Result<u32, String> {
        Ok(1)
    }
}

fn main() {
    let _ = Client.fetch();
}
