//! Jitter and contention: why the default is `expo` with full jitter.
//!
//! Exponential backoff slows a client down; jitter (a random wait instead of the generator's
//! value) stops many clients' retries from bunching. Without it, clients that failed together
//! retry together, and fail together again.
//!
//! # Calls per second
//!
//! `cargo run --example attempts` runs 500 concurrent tasks against a target that always fails,
//! retried with `max_time = 300` under three strategies, on tokio's paused clock (the 300 virtual
//! seconds take under a second), and writes `examples/out/attempts.csv` and `.svg`:
//!
//!
//! <div style="overflow-x: auto">
#![doc = include_str!("../../docs/attempts.svg")]
//! </div>
//!
//! ```text
//! constant          peak_calls_per_s=500  calls_last_200s=100500 total_calls=150500
//! expo              peak_calls_per_s=500  calls_last_200s=1500   total_calls=5000
//! expo_full_jitter  peak_calls_per_s=299  calls_last_200s=1286   total_calls=5444
//! ```
//!
//! Constant waits keep hammering at 500 calls/s; exponential waits fall off but arrive in bunches
//! of 500; full jitter spreads them out (peak 299/s). All strategies make a last call at t=300.
//!
//! # Contention: the AWS Architecture Blog's simulation
//!
//! `cargo run --release --example contention` reruns the simulation behind the AWS Architecture
//! Blog's "Exponential Backoff and Jitter" (Marc Brooker, 2015) on this crate's own `expo` and
//! `Jitter`: N clients each update one optimistic-concurrency row once (read the version, write
//! with it; a stale write fails, and the client asks its `State` for a wait, sleeps, and reads
//! again). Every message takes |normal(10 ms, 2 ms)|; `expo(factor = 5 ms, max_value = 2 s)`; 100
//! runs per point on a virtual clock (a discrete-event simulation, deterministic by `--seed`;
//! the whole table takes about a second of CPU). "Calls" are writes that reach the server, as in
//! the blog.
//!
//!
//! <div style="overflow-x: auto">
#![doc = include_str!("../../docs/contention.svg")]
//! </div>
//!
//! Its findings hold here too ([the tables](https://github.com/politely-rs/politely/blob/main/docs/benchmarks.md)):
//!
//! - Jitter roughly halves the calls against unjittered `expo` (0.47 x with full jitter at 100
//!   clients), and cuts completion time by an order of magnitude: without jitter the clients stay
//!   in lockstep, so `expo` alone saves almost no calls over no backoff at all at 10 clients.
//! - Decorrelated jitter finishes faster than full jitter and makes more calls; equal jitter makes
//!   no fewer calls than full jitter and takes longer.
//! - No backoff finishes first, and makes the most calls from 20 clients up.
//!
//! Where the setup differs: this crate's `expo` starts at `factor` (the first retry waits up to
//! 5 ms), the blog's simulator at twice its base (10 ms); and this crate's `decorrelated` draws
//! `min(v, uniform(base, 3 x previous))` with `v` the generator's current value, so on `expo` it
//! never waits longer than unjittered `expo` would, and its first wait is `v` itself, unjittered.
//! The blog's is capped by the constant 2 s and jittered from the first retry.
//!
//! **Beating them all.** `ramp` is full jitter over ranges that grow x4 while below 16 x `factor`
//! and then by 16 x `factor` per failure: 5, 20, 80, 160, 240, 320... ms, capped at 2 s. It is
//! built from what the crate already has (any iterator of seconds is a generator, plus
//! `Jitter::Full`):
//!
//! ```
//! use politely::{Backoff, Jitter};
//!
//! let (base, cap) = (0.005, 2.0);
//! let ranges = [base, 4.0 * base]
//!     .into_iter()
//!     .chain((1u32..).map(move |k| 16.0 * base * f64::from(k)))
//!     .map(move |s: f64| s.min(cap));
//! let ramp = Backoff::new(ranges).jitter(Jitter::Full); // then ramp.retry(|| ...)
//! ```
//!
//! It makes fewer calls than full jitter at every client count and finishes sooner than
//! decorrelated jitter from 40 clients up, but it is slower than decorrelated at 10 to 30
//! clients. The obstacle is information, not the jitter: a client that knew the number of
//! contenders `N` and drew every wait from uniform(0, `N` x 10 ms) would beat every schedule, but a
//! client learns the contention only by failing, and a schedule that learns quickly enough for 100
//! clients overshoots for 10. `ramp`'s thresholds are also tuned to this network (80 ms is two
//! reads and writes), so the default stays `expo` with full jitter.
//!
//! The jitters themselves are [`Jitter`](crate::Jitter): `Full` (uniform(0, v), the default),
//! `Random` (v + uniform(0, 1), Python's `random_jitter`), `Equal`, `Decorrelated`, `None`, or any
//! function of the wait.
