//! `Retry-After` without lockstep: twenty callers refused with the same `Retry-After` must not
//! all come back at the same instant. On tokio's paused clock, against an in-process server
//! that lets 2 requests a second through (burst 2), answers `429` with `Retry-After: 1` beyond
//! that and `503` to one in ten of the requests it lets through; no pacing.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use politely::{Feedback, backoff};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq)]
enum ApiError {
    /// `429`, with the server's `Retry-After` in seconds.
    TooManyRequests(u64),
    /// `503`.
    Unavailable,
}

/// The limiter and what it saw.
struct Server {
    /// GCRA's theoretical arrival time.
    tat: Mutex<Option<Instant>>,
    /// A deterministic stream for the 503s (a splitmix64 state).
    rng: Mutex<u64>,
    requests: AtomicU32,
    refused: AtomicU32,
    delivered: AtomicU32,
    /// When each caller may come back, by what the server last told it.
    not_before: Mutex<Vec<Option<Instant>>>,
}

const INTERVAL: Duration = Duration::from_millis(500);
const BURST: u32 = 2;

impl Server {
    fn new(seed: u64) -> Self {
        Server {
            tat: Mutex::new(None),
            rng: Mutex::new(seed),
            requests: AtomicU32::new(0),
            refused: AtomicU32::new(0),
            delivered: AtomicU32::new(0),
            not_before: Mutex::new(vec![None; 20]),
        }
    }

    fn unit(&self) -> f64 {
        let mut s = self.rng.lock().unwrap();
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn handle(&self, caller: usize) -> Result<(), ApiError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let now = Instant::now();
        if let Some(at) = self.not_before.lock().unwrap()[caller] {
            assert!(
                now >= at,
                "caller {caller} came back before the server's Retry-After"
            );
        }
        {
            let mut tat = self.tat.lock().unwrap();
            let t = tat.unwrap_or(now);
            if t > now + INTERVAL * (BURST - 1) {
                self.refused.fetch_add(1, Ordering::SeqCst);
                self.not_before.lock().unwrap()[caller] = Some(now + Duration::from_secs(1));
                return Err(ApiError::TooManyRequests(1));
            }
            *tat = Some(t.max(now) + INTERVAL);
        }
        if self.unit() < 0.1 {
            return Err(ApiError::Unavailable);
        }
        self.delivered.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn retry_after(e: &ApiError) -> Option<u64> {
    match e {
        ApiError::TooManyRequests(secs) => Some(*secs),
        ApiError::Unavailable => None,
    }
}

/// The new user's policy: exponential backoff, full jitter, the server's `Retry-After`.
#[backoff(expo, max_time = 60, jitter = full, seed = seed, retry_after = retry_after)]
async fn send(server: &Server, caller: usize, seed: u64) -> Result<(), ApiError> {
    server.handle(caller)
}

/// What `retry_after` did before callers were spread: exactly the server's wait, nothing of
/// the generator's (a generator that adds nothing gives the same waits).
#[backoff(constant, interval = 0, max_time = 60, jitter = none, retry_after = retry_after)]
async fn send_in_lockstep(server: &Server, caller: usize) -> Result<(), ApiError> {
    server.handle(caller)
}

/// Told the rate: every attempt paced to it.
#[backoff(expo, max_time = 60, jitter = full, seed = seed, retry_after = retry_after,
          rate = 2 per second, burst = 2)]
async fn send_paced(server: &Server, caller: usize, seed: u64) -> Result<(), ApiError> {
    server.handle(caller)
}

/// Not told the rate: the pacer learns it from the 429s and their `Retry-After`.
#[backoff(expo, max_time = 60, jitter = full, seed = seed, retry_after = retry_after,
          rate = adaptive, observe = |out| match out {
              Err(ApiError::TooManyRequests(secs)) => {
                  Feedback::throttled().with_retry_after(Some(Duration::from_secs(*secs)))
              }
              _ => Feedback::accepted(),
          })]
async fn send_adaptive(server: &Server, caller: usize, seed: u64) -> Result<(), ApiError> {
    server.handle(caller)
}

#[derive(Clone, Copy)]
enum Client {
    Lockstep,
    Spread,
    Paced,
    Adaptive,
}

type Tally = (u32, u32, u32, Duration);

/// Runs 20 concurrent calls `rounds` times; returns (requests, 429s, successes, longest call).
async fn batch(rounds: u64, client: Client) -> Tally {
    let (mut requests, mut refused, mut ok) = (0, 0, 0);
    let mut longest = Duration::ZERO;
    for round in 0..rounds {
        let server = std::sync::Arc::new(Server::new(round));
        let started = Instant::now();
        let calls: Vec<_> = (0..20u64)
            .map(|i| {
                let server = server.clone();
                tokio::spawn(async move {
                    let (caller, seed) = (i as usize, round * 1000 + i);
                    let out = match client {
                        Client::Lockstep => send_in_lockstep(&server, caller).await,
                        Client::Spread => send(&server, caller, seed).await,
                        Client::Paced => send_paced(&server, caller, seed).await,
                        Client::Adaptive => send_adaptive(&server, caller, seed).await,
                    };
                    (out, started.elapsed())
                })
            })
            .collect();
        let mut round_ok = 0;
        for call in calls {
            let (out, took) = call.await.unwrap();
            round_ok += u32::from(out.is_ok());
            longest = longest.max(took);
        }
        // Server side: each success delivered once, and nothing else.
        assert_eq!(server.delivered.load(Ordering::SeqCst), round_ok);
        ok += round_ok;
        requests += server.requests.load(Ordering::SeqCst);
        refused += server.refused.load(Ordering::SeqCst);
        // Let the next round find the server's bucket as a fresh one would.
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    (requests, refused, ok, longest)
}

#[tokio::test(start_paused = true)]
async fn retry_after_spreads_callers_instead_of_lockstep() {
    let rounds = 10;
    let lockstep = batch(rounds, Client::Lockstep).await;
    let spread = batch(rounds, Client::Spread).await;
    let paced = batch(rounds, Client::Paced).await;
    let adaptive = batch(rounds, Client::Adaptive).await;
    let per = |(requests, _, ok, _): Tally| f64::from(requests) / f64::from(ok);
    println!("| client | requests | 429 | successes | requests per success | longest call |");
    println!("|---|---|---|---|---|---|");
    for (name, t) in [
        ("`Retry-After` exactly (before)", lockstep),
        ("`Retry-After` + jittered backoff", spread),
        ("paced, `rate = 2 per second, burst = 2`", paced),
        ("paced, `rate = adaptive`", adaptive),
    ] {
        println!(
            "| {name} | {} | {} | {} | {:.2} | {:.1} s |",
            t.0,
            t.1,
            t.2,
            per(t),
            t.3.as_secs_f64()
        );
    }
    // Every call succeeds in each mode.
    for t in [lockstep, spread, paced, adaptive] {
        assert_eq!(t.2, 200, "{t:?}");
    }
    // Spread after the server's wait: at most two thirds of the requests per success.
    assert!(
        per(spread) <= per(lockstep) * 2.0 / 3.0,
        "{lockstep:?} {spread:?}"
    );
    // Told the rate, no request is refused.
    assert_eq!(paced.1, 0, "{paced:?}");
    // Learning the rate refuses far fewer than backoff alone.
    assert!(adaptive.1 * 4 < spread.1, "{adaptive:?} {spread:?}");
}
