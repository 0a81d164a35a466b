use politely::{Details, backoff};

struct Counter {
    calls: u32,
}

async fn page(d: &Details<'_, bool>) {
    eprintln!("gave up after {} tries", d.tries);
}

impl Counter {
    /// `&mut self`: each attempt reborrows it; handlers sync and async.
    #[backoff(constant, interval = 1, max_tries = 4, jitter = none,
              on_backoff = |d| eprintln!("{:?}", d.wait), on_giveup = page)]
    async fn bump_until(&mut self, target: u32) -> bool {
        self.calls += 1;
        self.calls >= target
    }
}
