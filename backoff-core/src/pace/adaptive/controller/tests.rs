use super::state::*;
use super::*;
// The public face takes the pacers' instants; these tests read the clock through it.
use crate::pace::common::PacerInstant as Instant;

fn ok() -> Feedback {
    Feedback::accepted()
}

fn no() -> Feedback {
    Feedback::throttled()
}

/// Feeds `n` accepted attempts, each at the controller's current interval.
fn pass(c: &AdaptiveRate, now: &mut Instant, n: usize) {
    for _ in 0..n {
        *now += c.interval().unwrap();
        c.observe(&ok(), *now, *now);
    }
}

#[test]
fn slow_start_doubles_until_the_first_throttle() {
    let c = AdaptiveRate::new();
    let mut now = Instant::now();
    c.observe(&ok(), now, now); // the first attempt proves nothing
    assert_eq!(c.rate(), Some(1.0));
    pass(&c, &mut now, 3);
    assert_eq!(c.rate(), Some(8.0));
    now += c.interval().unwrap();
    c.observe(&no(), now, now);
    assert_eq!(c.rate(), Some(4.0), "back to the last rate accepted");
}

#[test]
fn probes_back_off_and_return_to_good() {
    let c = AdaptiveRate::new();
    let mut now = Instant::now();
    c.observe(&ok(), now, now);
    pass(&c, &mut now, 1);
    now += c.interval().unwrap();
    c.observe(&no(), now, now); // at 2/s: good 1, bad 2
    assert_eq!(c.rate(), Some(1.0));
    pass(&c, &mut now, GAP as usize);
    let probe = c.rate().unwrap();
    assert!(probe > 1.0 && probe < 2.0, "{probe}");
    now += c.interval().unwrap();
    c.observe(&no(), now, now);
    assert_eq!(c.rate(), Some(1.0));
    // The next probe waits twice as long.
    pass(&c, &mut now, 2 * GAP as usize - 1);
    assert_eq!(c.rate(), Some(1.0));
    pass(&c, &mut now, 1);
    assert!(c.rate().unwrap() > 1.0);
}

#[test]
fn a_throttle_at_the_proven_rate_steps_down_and_a_second_goes_under_its_bound() {
    let c = AdaptiveRate::new().initial(Some(4.0));
    let mut now = Instant::now();
    c.observe(&ok(), now, now);
    pass(&c, &mut now, 1);
    now += c.interval().unwrap();
    c.observe(&no(), now, now);
    assert_eq!(c.rate(), Some(4.0));
    pass(&c, &mut now, 1);
    // Refused at the proven rate: the edge of the limit, 3 % off.
    now += c.interval().unwrap();
    c.observe(&no(), now, now);
    assert_eq!(c.rate(), Some(4.0 * EDGE));
    // Refused again before the step down is proven: the limit fell. Halving would give
    // 1.94/s; the time since the last accepted start (250 ms + 258 ms) bounds it lower.
    let interval = c.interval().unwrap();
    now += interval;
    c.observe(&no(), now, now);
    let since = Duration::from_millis(250) + interval;
    let under = (1.0 / since.as_secs_f64()) * EDGE;
    assert_eq!(c.rate(), Some(under));
    // An attempt sent before the cut, refused after it, does not cut again (its bound is
    // looser).
    c.observe(
        &no(),
        now - Duration::from_millis(10),
        now + Duration::from_millis(100),
    );
    assert_eq!(c.rate(), Some(under));
    // Three attempts proven at the new rate make it `good`: the next refusal at it is an
    // edge again (3 % off), not another cut.
    pass(&c, &mut now, CONFIRM as usize);
    let proven = c.rate().unwrap();
    now += c.interval().unwrap();
    c.observe(&no(), now, now);
    assert_eq!(c.rate(), Some(proven * EDGE));
}

/// Slow start up to `rate` from 1/s: the first attempt, then one accepted per doubling.
fn slow_start_to(c: &AdaptiveRate, now: &mut Instant, rate: f64) {
    c.observe(&ok(), *now, *now);
    while c.rate().unwrap() < rate {
        pass(c, now, 1);
    }
}

#[test]
fn refusals_in_a_row_descend_under_their_bound_and_an_acceptance_climbs_back() {
    let c = AdaptiveRate::new();
    let mut now = Instant::now();
    slow_start_to(&c, &mut now, 4.0);
    let accepted = now;
    // Refused at 4/s: back to 2/s, the last rate accepted.
    now += c.interval().unwrap();
    c.observe(&no(), now, now);
    assert_eq!(c.rate(), Some(2.0));
    // Refused at 2/s too, nothing accepted since: the limit is under one token per
    // 1/4 + 1/2 s (1.33/s): just under it, not 3 % under 2/s.
    let bound = |now: Instant| 1.0 / now.0.saturating_duration_since(accepted.0).as_secs_f64();
    now += c.interval().unwrap();
    c.observe(&no(), now, now);
    assert_eq!(c.rate(), Some(bound(now) * EDGE));
    // The third in a row: far above the limit, so 0.6 of the bound, not just under it.
    for _ in 0..3 {
        now += c.interval().unwrap();
        c.observe(&no(), now, now);
        assert_eq!(c.rate(), Some(bound(now) * FAST_DESCENT));
    }
    let last_bound = bound(now);
    // Accepted: back to just under the last bound.
    now += c.interval().unwrap();
    c.observe(&ok(), now, now);
    assert_eq!(c.rate(), Some(last_bound * EDGE));
}

/// Slow start rode a deep bucket up to 64/s, 7 accepted in 1.98 s (3.5/s on average): from
/// the second refusal in a row, half the bound and no faster than that average; the first
/// acceptance after the first refusal does not end the descent, the second returns to just
/// under the last bound.
#[test]
fn after_an_overshoot_refusals_descend_faster() {
    let c = AdaptiveRate::new();
    let mut now = Instant::now();
    let first = now;
    slow_start_to(&c, &mut now, 64.0);
    let mut accepted = now;
    now += c.interval().unwrap();
    c.observe(&no(), now, now);
    assert_eq!(c.rate(), Some(32.0));
    assert!(c.lock().overshot);
    // Accepted right after: the bucket was about to earn its token. Still a descent.
    now += c.interval().unwrap();
    c.observe(&ok(), now, now);
    accepted = accepted.max(now);
    assert_eq!(c.rate(), Some(32.0));
    let bound = |now: Instant| 1.0 / now.0.saturating_duration_since(accepted.0).as_secs_f64();
    let average = |now: Instant| 8.0 / now.0.saturating_duration_since(first.0).as_secs_f64();
    now += c.interval().unwrap();
    c.observe(&no(), now, now);
    // The second refusal of the run: half the bound (15.5/s), and no faster than 8 accepted
    // in 2.03 s.
    assert_eq!(c.rate(), Some(average(now)));
    for _ in 0..2 {
        now += c.interval().unwrap();
        c.observe(&no(), now, now);
        let expected = (bound(now) * OVERSHOT_DESCENT).min(average(now));
        assert_eq!(c.rate(), Some(expected));
    }
    let last_bound = c.lock().bad.unwrap();
    now += c.interval().unwrap();
    c.observe(&ok(), now, now);
    assert_eq!(c.rate(), Some(last_bound * EDGE));
    assert!(!c.lock().overshot);
}

#[test]
fn a_refusal_in_slow_start_before_a_rate_is_proven_is_the_edge() {
    // Another client took the token of the second attempt: 3 % off, not half.
    let c = AdaptiveRate::new();
    let now = Instant::now();
    c.observe(&ok(), now, now);
    let now = now + Duration::from_secs(1);
    c.observe(&no(), now, now);
    assert_eq!(c.rate(), Some(EDGE));
}

#[test]
fn a_deep_bucket_is_proven_by_its_refusals_and_probed_rarely() {
    // A bucket of 6 at 1/s, taken at once: slow start gets 7 through in 1.98 s.
    let c = AdaptiveRate::new();
    let mut now = Instant::now();
    slow_start_to(&c, &mut now, 64.0);
    let accepted = now;
    assert_eq!(c.lock().accepted_total, 7);
    assert_eq!(c.lock().depth, 1.0);
    // Refused 1.5 s later: the limit is under 1/1.5 s, so 7 tokens in 3.5 s took a
    // bucket of more than 7 - 1 - 3.5 / 1.5 = 3.67.
    now += Duration::from_millis(1500);
    c.observe(&no(), now, now);
    let first = c.lock().first_sent.unwrap();
    let elapsed = now.0.saturating_duration_since(first).as_secs_f64();
    let since = now.0.saturating_duration_since(accepted.0).as_secs_f64();
    assert_eq!(c.lock().depth, 7.0 - 1.0 - elapsed / since);
    // Pacing at 1/s from then on; proven after three.
    pass(&c, &mut now, 3);
    let good = c.rate().unwrap();
    assert_eq!(c.lock().good, Some(good));
    // The first probe would come after the gap times the depth, not the gap alone; and as
    // it would go above what the refusals proved (`bad`), it is skipped, the gap doubled.
    let depth = c.lock().depth;
    let gap = (f64::from(GAP) * depth).ceil() as usize;
    pass(&c, &mut now, gap - 1);
    assert_eq!((c.rate(), c.lock().gap), (Some(good), GAP));
    pass(&c, &mut now, 1);
    assert_eq!((c.rate(), c.lock().gap), (Some(good), 2 * GAP));
}

#[test]
fn idle_successes_prove_nothing() {
    let c = AdaptiveRate::new();
    let mut now = Instant::now();
    for _ in 0..10 {
        now += Duration::from_secs(10);
        c.observe(&ok(), now, now);
    }
    assert_eq!(c.rate(), Some(1.0));
}

#[test]
fn advertised_policy_is_followed_and_caps_probing() {
    let c = AdaptiveRate::new();
    let mut now = Instant::now();
    let hinted = |q: &str| {
        Feedback::from_status(
            200,
            &[("RateLimit-Policy", q)],
            std::time::SystemTime::now(),
        )
    };
    c.observe(&hinted(r#""d";q=5;w=1"#), now, now);
    assert_eq!(c.rate(), Some(5.0));
    for _ in 0..100 {
        now += c.interval().unwrap();
        c.observe(&hinted(r#""d";q=5;w=1"#), now, now);
    }
    assert_eq!(c.rate(), Some(5.0), "never probes above the policy");
    c.observe(&hinted(r#""d";q=2;w=1"#), now, now);
    assert_eq!(c.rate(), Some(2.0));
    c.observe(&hinted(r#""d";q=3;w=1"#), now, now);
    assert_eq!(c.rate(), Some(3.0));
}

#[test]
fn x_ratelimit_window_is_the_longest_reset() {
    let c = AdaptiveRate::new();
    let now = Instant::now();
    let fields = [
        ("X-RateLimit-Limit", "5000"),
        ("X-RateLimit-Remaining", "4999"),
        ("X-RateLimit-Reset", "3600"),
    ];
    c.observe(
        &Feedback::from_status(200, &fields, std::time::SystemTime::now()),
        now,
        now,
    );
    // The advertised 5000/3600 s, capped so the 4999 left last the 3600 s.
    let rate = c.rate().unwrap();
    assert!((rate - 4999.0 / 3600.0).abs() < 1e-9, "{rate}");
}

#[test]
fn pauses() {
    let c = AdaptiveRate::new();
    let now = Instant::now();
    // A second at one a second: rounding, no pause.
    c.observe(
        &no().with_retry_after(Some(Duration::from_secs(1))),
        now,
        now,
    );
    assert_eq!(c.not_before(), None);
    c.observe(
        &no().with_retry_after(Some(Duration::from_secs(30))),
        now,
        now,
    );
    assert_eq!(c.not_before(), Some(now + Duration::from_secs(30)));
    let spent = Feedback::from_status(
        200,
        &[("RateLimit", r#""d";r=0;t=50"#)],
        std::time::SystemTime::now(),
    );
    c.observe(&spent, now, now);
    assert_eq!(c.not_before(), Some(now + Duration::from_secs(50)));
    c.observe(
        &ok(),
        now + Duration::from_secs(51),
        now + Duration::from_secs(51),
    );
    assert_eq!(c.not_before(), None);
    c.observe(&no().with_retry_after(Some(Duration::MAX)), now, now);
    assert_eq!(c.not_before(), Some(now + MAX_HOLD));
}

#[test]
fn unpaced_start_seeds_from_retry_after() {
    let c = AdaptiveRate::new().initial(None);
    let now = Instant::now();
    assert_eq!((c.rate(), c.interval()), (None, None));
    c.observe(&ok(), now, now);
    c.observe(&ok(), now, now);
    assert_eq!(c.rate(), None);
    c.observe(
        &no().with_retry_after(Some(Duration::from_secs(4))),
        now,
        now,
    );
    assert_eq!(c.rate(), Some(0.25));
}

#[test]
fn tunables_bound_everything_and_ignore_junk() {
    let c = AdaptiveRate::new()
        .initial(Some(f64::NAN))
        .floor(f64::NEG_INFINITY)
        .ceiling(f64::NAN)
        .floor(0.5)
        .ceiling(3.0);
    let mut now = Instant::now();
    assert_eq!(c.rate(), Some(1.0));
    c.observe(&ok(), now, now);
    pass(&c, &mut now, 10);
    assert_eq!(c.rate(), Some(3.0));
    for _ in 0..10 {
        now += Duration::from_secs(100);
        c.observe(&no(), now, now);
    }
    assert_eq!(c.rate(), Some(0.5));
    let fresh = c.fresh();
    assert_eq!(fresh.rate(), Some(1.0));
    let mut now = Instant::now();
    fresh.observe(&ok(), now, now);
    pass(&fresh, &mut now, 10);
    assert_eq!(fresh.rate(), Some(3.0), "same ceiling");
}
