//! The simulated server both adaptive tests drive on tokio's paused clock: a GCRA bucket of
//! burst 1 in exact nanoseconds whose rate follows a schedule, answering 429 with
//! `Retry-After` when a request comes early, and (optionally) the IETF or X-RateLimit fields.
#![allow(dead_code)]

use std::time::{Duration, SystemTime};

use backoff_core::Feedback;
use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Headers {
    Off,
    Ietf,
    X,
}

/// A GCRA bucket of burst 1 in exact nanoseconds, its rate following a schedule of
/// `(seconds after the first request, rate)`.
pub struct Server {
    schedule: Vec<(u64, f64)>,
    headers: Headers,
    /// Requests the bucket lets through at once (nginx's `burst=B nodelay` is `B + 1`).
    burst: u32,
    /// Whether a 429 says `Retry-After` (nginx's `limit_req` does not).
    retry_after: bool,
    pub first: Option<Instant>,
    tat: Option<Instant>,
    pub answered: u32,
    pub refused: u32,
}

pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl Server {
    pub fn new(schedule: &[(u64, f64)], headers: Headers) -> Self {
        Server {
            schedule: schedule.to_vec(),
            headers,
            burst: 1,
            retry_after: true,
            first: None,
            tat: None,
            answered: 0,
            refused: 0,
        }
    }

    /// A bucket that lets `burst` requests through at once.
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst.max(1);
        self
    }

    /// A 429 without `Retry-After`, as nginx's `limit_req` answers.
    pub fn without_retry_after(mut self) -> Self {
        self.retry_after = false;
        self
    }

    pub fn rate(&self, since_first: Duration) -> f64 {
        self.schedule
            .iter()
            .rev()
            .find(|(from, _)| since_first >= Duration::from_secs(*from))
            .map_or(self.schedule[0].1, |(_, r)| *r)
    }

    pub fn handle(&mut self, now: Instant) -> Feedback {
        let first = *self.first.get_or_insert(now);
        let rate = self.rate(now - first);
        let interval = Duration::from_secs_f64(1.0 / rate);
        let tat = self.tat.unwrap_or(now);
        let tolerance = interval * (self.burst - 1);
        let accepted = now + tolerance >= tat;
        if accepted {
            self.tat = Some(tat.max(now) + interval);
        }
        self.answered += 1;
        self.refused += u32::from(!accepted);
        let wait = self
            .tat
            .unwrap_or(now)
            .saturating_duration_since(now + tolerance);
        let (q, w) = if rate >= 1.0 {
            (rate.round() as u64, 1)
        } else {
            (1, (1.0 / rate).round() as u64)
        };
        let left = u64::from(wait.is_zero());
        let mut fields: Vec<(&str, String)> = Vec::new();
        if !accepted && self.retry_after {
            fields.push(("Retry-After", ceil_secs(wait).to_string()));
        }
        match self.headers {
            Headers::Off => {}
            Headers::Ietf => {
                fields.push(("RateLimit-Policy", format!(r#""default";q={q};w={w}"#)));
                let t = ceil_secs(wait);
                fields.push(("RateLimit", format!(r#""default";r={left};t={t}"#)));
            }
            Headers::X => {
                fields.push(("X-RateLimit-Limit", q.to_string()));
                fields.push(("X-RateLimit-Remaining", left.to_string()));
                fields.push(("X-RateLimit-Reset", ceil_secs(wait).to_string()));
            }
        }
        Feedback::from_status(if accepted { 200 } else { 429 }, &fields, SystemTime::now())
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
    let server = Server::new(schedule, Headers::Off);
    let (mut t, mut tat) = (0.0f64, 0.0f64);
    for k in 0..n {
        t = if k == 0 { 0.0 } else { t.max(tat) };
        tat = t + 1.0 / server.rate(Duration::from_secs_f64(t));
    }
    t
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
