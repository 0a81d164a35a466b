use politely::backoff;

#[derive(Debug)]
struct Busy;

async fn deliver(_from: &str, _text: String) -> Result<(), Busy> {
    Ok(())
}

/// One pacer per sender, one attempt per second each; an owned argument the body names is
/// cloned for each attempt before it starts.
#[backoff(fibo, max_value = 30, max_tries = 8, rate = 1 per second, burst = 2, rate_key = from,
          retry_after = |_: &Busy| Some(5), seed = 7)]
async fn send(from: &str, text: String) -> Result<(), Busy> {
    deliver(from, text).await
}
