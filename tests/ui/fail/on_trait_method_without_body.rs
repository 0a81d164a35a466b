use politely::backoff;

trait Client {
    #[backoff(expo)]
    fn fetch(&self) -> Result<u32, String>;
}

fn main() {}
