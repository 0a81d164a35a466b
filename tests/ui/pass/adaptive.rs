//! `rate = adaptive` and `observe` in their usual shapes.

use politely::{Feedback, Pacer, backoff};

/// The reqwest case: the output tells by itself (feature `reqwest`).
#[backoff(expo, max_time = 60, rate = adaptive)]
async fn fetch(client: &reqwest::Client, url: &str) -> Result<reqwest::Response, reqwest::Error> {
    client.get(url).send().await?.error_for_status()
}

/// One learned rate per host, told by a closure.
#[backoff(expo, rate = adaptive, rate_key = host, on = predicate, predicate = |s: &u16| *s >= 500 || *s == 429,
          observe = |s| if *s == 429 { Feedback::throttled() } else { Feedback::accepted() })]
async fn status(host: &str) -> u16 {
    let _ = host;
    200
}

struct Client {
    pacer: Pacer,
}

impl Client {
    #[backoff(expo, pacer = self.pacer, observe)]
    async fn get(&self) -> Result<reqwest::Response, reqwest::Error> {
        reqwest::get("http://127.0.0.1:9/").await
    }

    #[backoff(constant, interval = 0.1, max_tries = 3, pacer = &self.pacer,
              observe = |ok: &bool| if *ok { Feedback::accepted() } else { Feedback::throttled() })]
    fn ping(&self) -> bool {
        true
    }
}

fn main() {
    let _ = (fetch, status, Client { pacer: Pacer::adaptive() });
}
