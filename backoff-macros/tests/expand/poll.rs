use politely::backoff;

fn status(_job: &str) -> String {
    "done".to_owned()
}

/// A sync fn and a predicate on its value: poll every 2 s for at most a minute.
#[backoff(constant, interval = 2, max_time = 60, jitter = none,
          predicate = |status: &String| status != "done")]
fn poll(job: &str) -> String {
    status(job)
}
