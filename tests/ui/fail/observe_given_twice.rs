use backoff::{Pacer, backoff};

struct Client {
    pacer: Pacer,
}

impl Client {
    #[backoff(expo, pacer = self.pacer, observe, observe = |_: &Result<(), ()>| backoff::Feedback::accepted())]
    async fn send(&self) -> Result<(), ()> {
        Ok(())
    }
}

fn main() {}
