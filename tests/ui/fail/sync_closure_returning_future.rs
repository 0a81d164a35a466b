use politely::{Details, backoff};

async fn notify(d: &Details<'_, Result<u32, String>>) {
    println!("{}", d.tries);
}

// A closure `|d| ...` is a sync handler; an async one is `async |d| notify(d).await`.
#[backoff(expo, max_tries = 3, on_backoff = |d| notify(d))]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
