// A bound on `RetryAfter` that a type does not meet names the features that add it (a
// `reqwest::Response` without the `reqwest` feature gets the same message).
use std::time::Duration;

use politely::RetryAfter;

struct Reply;

fn server_wait(reply: &impl RetryAfter) -> Option<Duration> {
    reply.retry_after()
}

fn main() {
    let _ = server_wait(&Reply);
}
