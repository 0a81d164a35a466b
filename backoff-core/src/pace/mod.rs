//! Proactive pacing: keep requests at or under a rate limit instead of finding it with 429s.
//!
//! A [`Pacer`] schedules each attempt's start on GCRA (the generic cell rate algorithm, as
//! servers' token buckets do): attempt `n` may start no earlier than one interval after
//! attempt `n - 1`'s slot, with `burst` slots available at once. The attribute's
//! `rate = 1 per second` keeps one pacer for every call of the fn (optionally one per
//! `rate_key`); `pacer = <expr>` uses yours (a field of your client, say). Async code waits on
//! tokio's clock, so `tokio::time::pause` governs the pacing in tests; sync code on the
//! standard monotonic clock.
//!
//! Each caller *reserves* its slot and then sleeps until it. (A check-then-sleep loop, which is
//! what `governor` offers, re-counts the next interval from whenever the sleeper woke up; tokio
//! wakes timers up to a couple of milliseconds late, which made a paced client run 1.5 % under
//! its rate at 10/s and 3-4 % under at 20/s. Reservations keep the slots on their grid.)
//!
//! A reservation dropped before its slot is reached (a call cancelled by a timeout, a
//! [`Reservation`] dropped unused) gives the slot back: the next caller takes it, or, at the
//! end of the queue, the queue shortens; a slot already reached counts as used. So after any
//! number of cancelled calls, a fresh call's slot is never later than GCRA gives over the
//! attempts that ran or still hold slots, as if the cancelled calls had never been made (with
//! burst 1, at most one interval past the earliest slot that keeps to the rate), and the
//! attempts that run always keep to the rate (`gcra.rs` says why).
//!
//! An adaptive pacer ([`Pacer::adaptive`]) reserves nothing ahead: its callers queue and
//! the head of the queue reads the rate learned so far when it computes its slot, so a change
//! reaches every caller already queued (`adaptive/lanes.rs` says how).
//!
//! The files: `pacer.rs` ([`Pacer`], its kinds and the waits every kind answers),
//! `reservation.rs` ([`Reservation`], and reserving and giving back on a `Pacer`), `margin.rs`
//! (how far under a server's limit to pace), `gcra.rs`
//! and `local.rs` (the schedules in this process), `adaptive/` (learning the rate), `redis/`
//! (sharing the budget through Redis), and `common.rs` (the clock and helpers they share).
//! This file only declares and re-exports them, so that none of them has to go through it.

pub(crate) mod adaptive;
pub(crate) mod common;
mod gcra;
mod local;
mod margin;
mod pacer;
#[cfg(feature = "redis")]
pub(crate) mod redis;
mod reservation;

pub use common::PacerInstant;
pub use margin::under_limit;
pub use pacer::Pacer;
#[cfg(feature = "tokio")]
pub(crate) use pacer::QueuedReady;
pub use reservation::Reservation;

#[cfg(all(test, feature = "tokio"))]
mod tests;
