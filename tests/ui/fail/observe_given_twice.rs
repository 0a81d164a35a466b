use politely::{Pacer, backoff};

struct Client {
    pacer: Pacer,
}

impl Client {
    #[backoff(expo, pacer = self.pacer, observe, observe = |_: &Result<(), ()>| politely::Feedback::accepted())]
    async fn send(&self) -> Result<(), ()> {
        Ok(())
    }
}

fn main() {}
