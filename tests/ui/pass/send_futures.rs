//! The expanded future is `Send` whenever the body's is: an outcome that is `Send` but not
//! `Sync` with sync handlers, and owned arguments that are `Send` but not `Sync`.
use std::cell::{Cell, RefCell};
use std::error::Error;

use politely::{Details, backoff};

type Outcome = Result<u32, Box<dyn Error + Send>>;

fn log_it(d: &Details<'_, Outcome>) {
    println!("try {} failed", d.tries);
}

#[backoff(constant, interval = 0, max_tries = 2, jitter = none,
          on_backoff = [log_it, |d| println!("{:?}", d.wait)], on_giveup = log_it, on_success = |_| ())]
async fn not_sync_outcome() -> Outcome {
    Err(Box::new(std::fmt::Error))
}

/// An argument that is `Send` but not `Sync`, used by the body across an await.
#[backoff(constant, interval = 0, max_tries = 2, jitter = none)]
async fn cell_argument(seen: Cell<u32>, log: RefCell<Vec<u32>>) -> Result<u32, String> {
    tokio::task::yield_now().await;
    log.borrow_mut().push(seen.get());
    Err(format!("{}", seen.get()))
}

/// A handler that never returns needs no annotation.
#[backoff(constant, interval = 0, max_tries = 1, on_backoff = |_| todo!())]
async fn never_backs_off() -> Result<u32, String> {
    Ok(1)
}

struct Message {
    to: String,
}

/// Not `Clone`, and used only by the attribute: the body's `message.to` is a field, not it.
struct Key(String);

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[backoff(constant, interval = 0, max_tries = 2, rate = 1000 per second, rate_key = to)]
async fn keyed(to: Key, message: &Message) -> Result<usize, String> {
    Ok(message.to.len())
}

fn assert_send<F: Send>(_: F) {}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_send(not_sync_outcome());
    assert_send(cell_argument(Cell::new(3), RefCell::new(Vec::new())));
    assert_send(never_backs_off());
    assert!(not_sync_outcome().await.is_err());
    assert_eq!(cell_argument(Cell::new(3), RefCell::new(Vec::new())).await, Err("3".into()));
    assert_eq!(never_backs_off().await, Ok(1));
    let m = Message { to: "+1555".into() };
    assert_send(keyed(Key("k".into()), &m));
    assert_eq!(keyed(Key("k".into()), &m).await, Ok(5));
}
