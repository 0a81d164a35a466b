//! The simulated server both adaptive tests drive on tokio's paused clock: the shared GCRA
//! bucket (`backoff-testkit`, exact nanoseconds) of burst 1 whose rate follows a schedule,
//! answering 429 with `Retry-After` when a request comes early, and (optionally) the IETF or
//! X-RateLimit fields.
#![allow(dead_code)]

use std::time::SystemTime;

use backoff_core::Feedback;
pub use backoff_testkit::RateHeaders as Headers;
use backoff_testkit::{Bucket, ceil_secs};
use tokio::time::Instant;

/// The shared GCRA bucket (`backoff-testkit`), burst 1 unless told, its rate following a
/// schedule of `(seconds after the first request, rate)`, answering for each request.
pub struct Server {
    schedule: Vec<(u64, f64)>,
    headers: Headers,
    /// Requests the bucket lets through at once (nginx's `burst=B nodelay` is `B + 1`).
    burst: u32,
    /// Whether a 429 says `Retry-After` (nginx's `limit_req` does not).
    retry_after: bool,
    bucket: Bucket,
    pub first: Option<Instant>,
    pub answered: u32,
    pub refused: u32,
}

impl Server {
    pub fn new(schedule: &[(u64, f64)], headers: Headers) -> Self {
        Server {
            schedule: schedule.to_vec(),
            headers,
            burst: 1,
            retry_after: true,
            bucket: Bucket::stepped(schedule, 1),
            first: None,
            answered: 0,
            refused: 0,
        }
    }

    /// A bucket that lets `burst` requests through at once.
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst.max(1);
        self.bucket = Bucket::stepped(&self.schedule, self.burst);
        self
    }

    /// A 429 without `Retry-After`, as nginx's `limit_req` answers.
    pub fn without_retry_after(mut self) -> Self {
        self.retry_after = false;
        self
    }

    pub fn handle(&mut self, now: Instant) -> Feedback {
        self.first.get_or_insert(now);
        let decision = self.bucket.take(now.into_std());
        self.answered += 1;
        self.refused += u32::from(!decision.admitted);
        let mut fields = decision.fields(self.headers);
        if !decision.admitted && self.retry_after {
            fields.push(("retry-after", ceil_secs(decision.next_token).to_string()));
        }
        let status = if decision.admitted { 200 } else { 429 };
        Feedback::from_status(status, &fields, SystemTime::now())
    }
}

/// What a run of messages through the simulated server came to.
#[derive(Debug)]
pub struct Outcome {
    pub elapsed: f64,
    pub requests: u32,
    pub refused: u32,
    pub final_rate: Option<f64>,
}

/// The ideal elapsed time: every message accepted at the first instant the bucket allows.
pub fn ideal(n: usize, schedule: &[(u64, f64)]) -> f64 {
    let n = u32::try_from(n).expect("fewer than 2^32 messages");
    backoff_testkit::ideal(Bucket::stepped(schedule, 1), n).as_secs_f64()
}

pub fn check(name: &str, o: &Outcome, ideal: f64, max_ratio: f64, max_refused: u32) {
    let ratio = o.elapsed / ideal;
    eprintln!(
        "{name}: elapsed {:.3} s = {ratio:.3} x ideal {ideal} s; {} requests, {} answered 429 ({:.1} %); final rate {:?}",
        o.elapsed,
        o.requests,
        o.refused,
        100.0 * f64::from(o.refused) / f64::from(o.requests),
        o.final_rate,
    );
    assert!(ratio <= max_ratio, "{name}: {ratio:.3} x > {max_ratio} x");
    assert!(
        o.refused <= max_refused,
        "{name}: {} answered 429 > {max_refused}",
        o.refused
    );
}

/// At most 10 % of the requests answered 429, with 60 accepted: refused / (60 + refused).
pub const TEN_PERCENT_OF_60: u32 = 6;
