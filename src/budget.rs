//! A retry budget: retries may add at most a share to the traffic, so a fleet of clients does not
//! multiply the load on a server that is already failing.
//!
//! Every call retries on its own, so when a server goes down each of its clients' calls retries
//! up to `max_tries`: the retries multiply the load on a server that is already failing. A
//! [`RetryBudget`] shared by every call to that server bounds the retries as a share of the
//! traffic, as Finagle's `RetryBudget` and gRPC's `retryThrottling` do:
//!
//! ```
//! use politely::{backoff, budget::RetryBudget};
//!
//! struct Client { budget: RetryBudget }
//!
//! impl Client {
//!     /// Retries may add at most 20 % to this client's traffic (plus 10 a second).
//!     #[backoff(expo, jitter = full, max_tries = 5, budget = self.budget)]
//!     async fn get(&self, key: &str) -> Result<String, String> {
//!         Ok(key.to_owned())
//!     }
//! }
//!
//! let client = Client { budget: RetryBudget::new(0.2) };
//! ```
//!
//! The builder takes it as `.budget(&budget)`.
//!
//! # How it counts
//!
//! - Each call's first attempt **deposits** `ratio` of a token (0.2 above); the first attempt
//!   never depends on the budget.
//! - Each retry **withdraws** one token. When there is none, a failure that would be retried
//!   gives up at once through the usual path: `on_giveup` runs, the last outcome is returned,
//!   and the log line says why (`Giving up get(...) after 1 tries: retry budget exhausted (...)`,
//!   field `budget_exhausted = true`).
//! - A **floor** of `min_per_sec` retries a second (default 10) is allowed whatever the traffic,
//!   so a quiet client can still retry; what a quiet period saves up is **capped**: `cap` earned
//!   tokens (default 100, Finagle's default reserve) and one second of the floor.
//!
//! So over any stretch of time `L` in which `N` calls started, the budget grants at most
//!
//! ```text
//! retries ≤ cap + ratio × N + max(1, ⌊min_per_sec⌋) + ⌊L × min_per_sec⌋
//! ```
//!
//! (`RetryBudget::new(0.2).min_per_sec(10.0).cap(100)` spells out the defaults.) Each pool is one
//! atomic word: a deposit is one compare-and-swap (one load when the bucket is full, as it is in a
//! healthy client), a withdrawal another; nothing is allocated and no clock is read on the success
//! path; the floor reads tokio's clock, so paused-time tests see exact refills. Tokens are never
//! held or refunded, so a call cancelled between its withdrawal and its retry has only made the
//! budget stricter by one token, and nothing can be counted twice. Tests check the arithmetic
//! exactly on the paused clock against a model, and the bound above over every interval of
//! random interleavings of calls with random latencies, failures and cancellations.
//!
//! ```
//! use politely::RetryBudget;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! // No floor, so only the deposits count: ten first attempts earn two retries.
//! let budget = RetryBudget::new(0.2).min_per_sec(0.0);
//! for _ in 0..10 {
//!     budget.deposit();
//! }
//! assert!(budget.withdraw());
//! assert!(budget.withdraw());
//! assert!(!budget.withdraw()); // spent: the next failure gives up at once
//! # }
//! ```
//!
//! # An outage, with and without a budget
//!
//! `cargo run --example outage` simulates one on the paused clock: 1,000 clients each call a
//! server once a second; the server fails every request for a minute, and otherwise serves up to
//! twice the offered load and refuses the excess; every call is
//! `#[backoff(expo, jitter = full, max_tries = 5)]`, with and without one `RetryBudget::new(0.2)`
//! shared by all clients.
//!
//! <div style="overflow-x: auto">
#![doc = include_str!("../docs/outage.svg")]
//! </div>
//!
//! Without a budget the server sees almost five times the offered load for the whole outage, and
//! the backlog of retries keeps it above its capacity for seconds after it recovers. With the
//! budget, retries add 21 %: the budget's 20 % and its floor and cap. Fewer calls succeed in all,
//! because a call that started during the outage gives up instead of retrying into the recovery;
//! that is the point: those retries are what overloads a server that comes back
//! ([the run's figures](https://github.com/politely-rs/politely/blob/main/docs/benchmarks.md)).
//!
//! # Shared by workers through Redis?
//!
//! No, by default: keep one budget per process. A budget is a *ratio*, and ratios compose: if
//! each of `W` workers keeps its retries within 20 % of its own calls, the fleet's retries are
//! within 20 % of the fleet's calls. What does not compose is the absolute part, `W` floors and
//! caps: give each worker `min_per_sec = fleet floor / W` and a cap to match. A shared budget
//! would add only lending between workers (a quiet worker using a busy one's deposits), and would
//! cost a Redis round trip on every call, success included (every first attempt deposits), and
//! make retrying depend on Redis during exactly the incidents a budget is for. A pacer is
//! different: a rate limit is an absolute number that the server counts across all workers, so
//! it must be shared ([`Pacer::redis`](crate::pace) in the pace guide). If a fleet-wide budget is
//! wanted anyway, it would take: local deposits batched and flushed every 100 ms or so (`INCRBY`
//! in a Lua script that applies the cap), tokens leased from Redis in blocks to a local pool that
//! withdrawals draw on lock-free, a lease expiry so a dead worker's tokens return, and a fall back
//! to the local budget when Redis does not answer.

pub use backoff_core::RetryBudget;
