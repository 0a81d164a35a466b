//! An async handler's future gives `()`.
use politely::backoff;

#[backoff(expo, max_tries = 3, on_backoff = |d| async move { d.tries })]
async fn call() -> Result<(), String> {
    Ok(())
}

fn main() {}
