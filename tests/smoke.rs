use backoff::backoff;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static CALLS: AtomicU32 = AtomicU32::new(0);

#[backoff(expo, max_tries = 5, jitter = none, on_backoff = |d| println!("wait {:?} tries {}", d.wait, d.tries))]
async fn always_fails(x: String) -> Result<u32, String> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    let y = x;
    Err(y)
}

#[tokio::test(start_paused = true)]
async fn smoke() {
    let start = tokio::time::Instant::now();
    let r = always_fails("boom".to_owned()).await;
    assert_eq!(r, Err("boom".to_owned()));
    assert_eq!(CALLS.load(Ordering::SeqCst), 5);
    assert_eq!(start.elapsed(), Duration::from_secs(15));
}
