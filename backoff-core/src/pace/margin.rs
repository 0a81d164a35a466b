//! How far under a server's limit to pace: its bucket measures arrivals, a pacer departures.

use std::time::Duration;

/// The share of each interval left unused.
const SHARE: f64 = 0.02;
/// The least margin an interval gets, unless that is more than [`MOST`] of it.
const FLOOR: Duration = Duration::from_millis(5);
/// The most of an interval the margin takes.
const MOST: f64 = 0.10;

/// The rate to pace at, per second, when the server's limit is `limit` per second: a little
/// under it, so that requests which leave on time but arrive a few milliseconds apart from
/// their departures do not find the server's bucket a fraction of a token short.
///
/// A server's bucket (nginx's `limit_req`, a gateway's token bucket) judges each request when
/// it *arrives*; a [`Pacer`](crate::Pacer) spaces *departures*. Opening a connection, a TLS
/// handshake, the scheduler of a busy machine or the network delay one request and not the next,
/// and with burst 1 the second then arrives less than an interval after the first and is
/// refused. Each interval gets a margin of 2 %, at least 5 ms, but never more than 10 % of it:
///
/// | the server's limit | interval | paced interval | paced rate |
/// |---|---|---|---|
/// | 1/s | 1 s | 1.02 s | 0.980/s |
/// | 10/s | 100 ms | 105 ms | 9.52/s |
/// | 100/s | 10 ms | 11 ms | 90.9/s |
///
/// Against nginx's `limit_req` at 10 requests/s, no burst, on a 2-CPU machine, a margin of 2 %
/// (2 ms) let a request through too early in about half the runs of 60; 5 % let none through in
/// 13 runs of 13, two CPU-bound processes running beside in 5 of them.
///
/// A limit that is not a positive finite number is returned as it is (a [`Pacer`](crate::Pacer)
/// paces nothing at such a rate).
///
/// ```
/// use std::time::Duration;
/// use backoff_core::{Pacer, under_limit};
///
/// // The API allows 10 requests a second: pace at 9.52 a second.
/// let pacer = Pacer::per_second(under_limit(10.0));
/// assert_eq!(pacer.interval(), Some(Duration::from_millis(105)));
/// ```
pub fn under_limit(limit: f64) -> f64 {
    if !(limit.is_finite() && limit > 0.0) {
        return limit;
    }
    let interval = 1.0 / limit;
    let margin = (interval * SHARE)
        .max(FLOOR.as_secs_f64())
        .min(interval * MOST);
    1.0 / (interval + margin)
}

#[cfg(test)]
mod tests {
    use super::under_limit;

    fn interval_ms(limit: f64) -> f64 {
        1000.0 / under_limit(limit)
    }

    #[test]
    fn two_percent_at_least_five_ms_at_most_ten_percent() {
        assert!((interval_ms(1.0) - 1020.0).abs() < 1e-9);
        assert!((interval_ms(0.1) - 10_200.0).abs() < 1e-6);
        assert!((interval_ms(10.0) - 105.0).abs() < 1e-9);
        assert!((interval_ms(4.0) - 255.0).abs() < 1e-9); // 2 % of 250 ms is 5 ms
        assert!((interval_ms(100.0) - 11.0).abs() < 1e-9);
        assert!((interval_ms(1e6) - 0.0011).abs() < 1e-12);
    }

    #[test]
    fn bad_limits_come_back_as_they_are() {
        assert_eq!(under_limit(0.0), 0.0);
        assert_eq!(under_limit(-3.0), -3.0);
        assert!(under_limit(f64::NAN).is_nan());
        assert_eq!(under_limit(f64::INFINITY), f64::INFINITY);
        assert!(under_limit(f64::MIN_POSITIVE) > 0.0);
    }
}
