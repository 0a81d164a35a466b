//! A retry budget: retries that cannot turn an outage into a storm.
//!
//! Every call retries on its own, so when a server goes down each of its clients' calls
//! retries up to `max_tries` and the retries multiply the load on a server that is already
//! failing. A [`RetryBudget`] shared by every call to that server bounds the retries as a share
//! of the traffic, as Finagle's `RetryBudget` and gRPC's `retryThrottling` do:
//!
//! - every call's first attempt **deposits** `ratio` of a token (0.2 for "retries may add 20 %
//!   to my traffic"); the first attempt itself never depends on the budget;
//! - every retry **withdraws** one token; when there is none, the call gives up at once
//!   instead of sleeping (its `on_giveup` handlers run and its last outcome is returned);
//! - a **floor** of `min_per_sec` retries a second (default 10) is always allowed, so a client
//!   with little traffic can still retry;
//! - what a quiet period can save up is **capped**: at most `cap` earned tokens (default 100)
//!   and one second of the floor.
//!
//! So over any stretch of time of length `L` in which `N` calls made their first attempt,
//! the budget grants at most
//!
//! ```text
//! retries ≤ cap + ratio × N + max(1, ⌊min_per_sec⌋) + ⌊L × min_per_sec⌋
//! ```
//!
//! (`ratio` rounded to the nearest 0.001, the floor's interval to the nanosecond.)
//!
//! # Why a capped bucket and not Finagle's window
//!
//! Finagle keeps deposits for a `ttl` (10 s) and forgets them after; what a quiet period can
//! bank is then `ratio` of the last `ttl`'s traffic. Here the earned tokens live in one
//! atomic word, capped: a deposit is a compare-and-swap (and only a load when the bucket is
//! full, the usual state of a healthy client), a withdrawal another, with no slices to rotate
//! and no clock read on the success path; and the bound above holds exactly over *every*
//! interval, not up to a slice's granularity. The cap plays the part of the window: the
//! default 100 is what Finagle's default reserve (10 retries a second × 10 s) allows.
//!
//! # Cancellation
//!
//! Tokens are never held and never refunded: a deposit and a withdrawal are each one atomic
//! operation that completes before the caller goes on. A call dropped between its withdrawal
//! and its retry (while it sleeps) has spent a token on a retry it never made: the budget
//! errs on the side of fewer retries, by at most one token per cancelled call, and nothing
//! can be counted twice. (Refunding it on drop would need to know whether the retry's request
//! had already left, which the loop cannot know: a refund there could exceed the bound.) A
//! call dropped during its first attempt deposits nothing, for the same reason.
//!
//! # Clock
//!
//! The floor reads tokio's clock when the `tokio` feature is on (so `tokio::time::pause`
//! governs it in tests; outside a runtime it is the standard monotonic clock), else the
//! standard one. Deposits and the earned tokens read no clock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(feature = "tokio")]
type Instant = tokio::time::Instant;
#[cfg(not(feature = "tokio"))]
type Instant = std::time::Instant;

/// Fixed point: milli-tokens per token.
const MILLI: u64 = 1000;
const NANOS_PER_SEC: f64 = 1e9;

/// A share of traffic that retries may add, shared by every call that names it.
///
/// A cheap handle (an `Arc` inside): clone it into every client, or keep it in a field and
/// write `#[backoff(..., budget = &self.budget)]`. See the module documentation (`backoff-core/src/budget.rs`) for the
/// semantics and the bound it guarantees.
///
/// ```
/// use backoff_core::RetryBudget;
///
/// // Retries may add 20 % to the traffic, plus 10 a second, with up to 100 saved up.
/// let budget = RetryBudget::new(0.2);
/// // Floor only: 2 retries a second whatever the traffic.
/// let floor = RetryBudget::new(0.0).min_per_sec(2.0);
/// # drop((budget, floor));
/// ```
///
/// Bad numbers never panic: a ratio or floor that is negative or NaN counts as 0; a floor that
/// is infinite acts as one retry a nanosecond.
#[derive(Clone)]
pub struct RetryBudget {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    /// Earned milli-tokens, at most `config.cap`.
    earned: AtomicU64,
    /// The floor's GCRA state: the theoretical arrival time of the next floor retry, in
    /// nanoseconds since `origin`.
    tat: AtomicU64,
    origin: Instant,
}

#[derive(Clone, Copy, Debug)]
struct Config {
    ratio: f64,
    min_per_sec: f64,
    /// Milli-tokens deposited by each first attempt.
    deposit: u64,
    /// Most milli-tokens the earned pool holds.
    cap: u64,
    /// The floor: nanoseconds between retries, and the burst's tolerance; `None` for none.
    floor: Option<(u64, u64)>,
}

impl Config {
    fn new(ratio: f64, min_per_sec: f64, cap_tokens: u32) -> Config {
        let ratio = if ratio.is_nan() { 0.0 } else { ratio.max(0.0) };
        let min_per_sec = if min_per_sec.is_nan() {
            0.0
        } else {
            min_per_sec.max(0.0)
        };
        // `as` saturates: a huge ratio deposits u64::MAX, which the cap cuts.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let deposit = (ratio * 1000.0).round() as u64;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let floor = (min_per_sec > 0.0).then(|| {
            let interval = ((NANOS_PER_SEC / min_per_sec).round() as u64).max(1);
            let burst = (min_per_sec.floor() as u64).max(1);
            (interval, interval.saturating_mul(burst - 1))
        });
        Config {
            ratio,
            min_per_sec,
            deposit,
            cap: u64::from(cap_tokens) * MILLI,
            floor,
        }
    }
}

impl RetryBudget {
    /// Retries may add `ratio` of the calls (0.2 = 20 %), plus a floor of 10 retries a second;
    /// at most 100 earned retries are saved up.
    pub fn new(ratio: f64) -> Self {
        RetryBudget::from_config(Config::new(ratio, 10.0, 100))
    }

    /// The floor: this many retries a second are allowed whatever the traffic (0 for none),
    /// with up to one second's worth (at least one) saved up.
    ///
    /// Configure the budget before sharing it: this makes a fresh budget, which its earlier
    /// clones do not see.
    #[must_use]
    pub fn min_per_sec(self, rate: f64) -> Self {
        let c = self.inner.config;
        RetryBudget::from_config(Config::new(c.ratio, rate, c.cap_tokens()))
    }

    /// The most earned retries saved up by a quiet period (default 100; 0 keeps none, so only
    /// the floor allows a retry that the same instant's deposits did not pay for).
    ///
    /// Configure the budget before sharing it: this makes a fresh budget, which its earlier
    /// clones do not see.
    #[must_use]
    pub fn cap(self, tokens: u32) -> Self {
        let c = self.inner.config;
        RetryBudget::from_config(Config::new(c.ratio, c.min_per_sec, tokens))
    }

    fn from_config(config: Config) -> Self {
        RetryBudget {
            inner: Arc::new(Inner {
                config,
                earned: AtomicU64::new(0),
                tat: AtomicU64::new(0),
                origin: Instant::now(),
            }),
        }
    }

    /// Credits one call's first attempt: `ratio` of a token, up to the cap. The attribute
    /// and the builder call this once per call; a hand-written loop may too.
    ///
    /// Lock-free: one load when the bucket is full, else a compare-and-swap loop.
    pub fn deposit(&self) {
        let i = &*self.inner;
        let (deposit, cap) = (i.config.deposit, i.config.cap);
        if deposit == 0 {
            return;
        }
        let mut cur = i.earned.load(Ordering::Relaxed);
        while cur < cap {
            let next = cur.saturating_add(deposit).min(cap);
            match i
                .earned
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Asks for one retry: takes an earned token, else a floor retry; `false` when neither is
    /// left (the caller should give up). Never blocks, never refunds.
    pub fn withdraw(&self) -> bool {
        self.withdraw_earned() || self.withdraw_floor()
    }

    fn withdraw_earned(&self) -> bool {
        let earned = &self.inner.earned;
        let mut cur = earned.load(Ordering::Relaxed);
        while cur >= MILLI {
            match earned.compare_exchange_weak(
                cur,
                cur - MILLI,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
        false
    }

    /// GCRA on one word: a retry conforms when the theoretical arrival time is at most the
    /// tolerance ahead of now; it then moves one interval on.
    fn withdraw_floor(&self) -> bool {
        let i = &*self.inner;
        let Some((interval, tolerance)) = i.config.floor else {
            return false;
        };
        let now = u64::try_from(
            Instant::now()
                .saturating_duration_since(i.origin)
                .as_nanos(),
        )
        .unwrap_or(u64::MAX);
        let mut tat = i.tat.load(Ordering::Relaxed);
        loop {
            if tat > now.saturating_add(tolerance) {
                return false;
            }
            let next = tat.max(now).saturating_add(interval);
            match i
                .tat
                .compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => tat = actual,
            }
        }
    }

    /// Earned tokens available now (the floor not included), to a thousandth.
    pub fn earned(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let milli = self.inner.earned.load(Ordering::Relaxed) as f64;
        milli / 1000.0
    }

    /// Whether `self` and `other` are handles to the same budget.
    pub fn same(&self, other: &RetryBudget) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Config {
    fn cap_tokens(&self) -> u32 {
        u32::try_from(self.cap / MILLI).unwrap_or(u32::MAX)
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.inner.config;
        f.debug_struct("RetryBudget")
            .field("ratio", &c.ratio)
            .field("min_per_sec", &c.min_per_sec)
            .field("cap", &c.cap_tokens())
            .field("earned", &self.earned())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_numbers_do_not_panic() {
        for x in [f64::NAN, -1.0, f64::INFINITY, f64::NEG_INFINITY, 0.0, 1e300] {
            let b = RetryBudget::new(x).min_per_sec(x).cap(u32::MAX);
            for _ in 0..3 {
                b.deposit();
                let _ = b.withdraw();
            }
        }
        let c = Config::new(f64::INFINITY, f64::INFINITY, 5);
        assert_eq!(c.deposit, u64::MAX);
        assert_eq!(c.floor.map(|f| f.0), Some(1));
        let c = Config::new(-0.5, f64::NAN, 5);
        assert_eq!((c.deposit, c.floor), (0, None));
    }
}
