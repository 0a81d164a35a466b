//! The decisions after each attempt: limits, truncation at `max_time`, exhaustion, give-up.

use std::time::Duration;

use backoff_core::wait::{Constant, Expo, Intervals};
use backoff_core::{Action, Jitter, Policy, State, Verdict};

fn policy(max_tries: Option<u32>, max_time: Option<u64>) -> Policy {
    Policy {
        max_tries,
        max_time: max_time.map(Duration::from_secs),
        jitter: Jitter::None,
        ..Policy::default()
    }
}

const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn max_tries_counts_attempts_like_python() {
    let mut s = State::new("f", Expo::default(), policy(Some(3), None));
    assert_eq!(
        s.decide(&(), Verdict::Retry, S(0), &""),
        Action::Backoff(S(1))
    );
    assert_eq!(
        s.decide(&(), Verdict::Retry, S(1), &""),
        Action::Backoff(S(2))
    );
    assert_eq!(s.decide(&(), Verdict::Retry, S(3), &""), Action::GiveUp);
    assert_eq!(s.tries(), 3);
}

#[test]
fn max_tries_zero_acts_as_one_and_never_loops() {
    let mut s = State::new("f", Expo::default(), policy(Some(0), None));
    assert_eq!(s.decide(&(), Verdict::Retry, S(0), &""), Action::GiveUp);
}

#[test]
fn the_last_wait_is_cut_to_what_remains_of_max_time() {
    let mut s = State::new("f", Expo::default(), policy(None, Some(10)));
    let mut elapsed = S(0);
    let mut waits = Vec::new();
    loop {
        match s.decide(&(), Verdict::Retry, elapsed, &"") {
            Action::Backoff(w) => {
                waits.push(w);
                elapsed += w;
            }
            Action::GiveUp => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(waits, vec![S(1), S(2), S(4), S(3)]);
    assert_eq!(elapsed, S(10));
    assert_eq!(s.tries(), 5);
}

#[test]
fn elapsed_at_or_past_max_time_gives_up_even_with_tries_left() {
    let mut s = State::new("f", Constant::new(S(1)), policy(Some(100), Some(5)));
    assert_eq!(s.decide(&(), Verdict::Retry, S(5), &""), Action::GiveUp);
}

#[test]
fn duration_max_limits_do_not_overflow() {
    let p = Policy {
        max_time: Some(Duration::MAX),
        max_tries: Some(u32::MAX),
        jitter: Jitter::None,
        ..Policy::default()
    };
    let mut s = State::new("f", Constant::new(Duration::MAX), p);
    assert_eq!(
        s.decide(&(), Verdict::Retry, Duration::from_secs(1), &""),
        Action::Backoff(Duration::MAX - Duration::from_secs(1))
    );
}

#[test]
fn an_exhausted_generator_gives_up() {
    let mut s = State::new("f", Intervals::new([1, 2]), policy(None, None));
    assert_eq!(
        s.decide(&(), Verdict::Retry, S(0), &""),
        Action::Backoff(S(1))
    );
    assert_eq!(
        s.decide(&(), Verdict::Retry, S(1), &""),
        Action::Backoff(S(2))
    );
    assert_eq!(s.decide(&(), Verdict::Retry, S(3), &""), Action::GiveUp);
}

#[test]
fn verdicts_other_than_retry_end_the_run_at_once() {
    for (verdict, action) in [
        (Verdict::Success, Action::Success),
        (Verdict::GiveUp, Action::GiveUp),
        (Verdict::Propagate, Action::Propagate),
    ] {
        let mut s = State::new("f", Expo::default(), policy(None, None));
        assert_eq!(s.decide(&(), verdict, S(0), &""), action);
        assert_eq!(s.tries(), 1);
    }
}

#[test]
fn details_carry_what_the_handlers_need() {
    let mut s = State::new("send_sms", Expo::default(), policy(None, None));
    let outcome: Result<(), &str> = Err("429");
    s.decide(&outcome, Verdict::Retry, S(0), &"");
    let d = s.details(&outcome, S(0), Some(S(1)));
    assert_eq!(
        (d.target, d.tries, d.elapsed, d.wait),
        ("send_sms", 1, S(0), Some(S(1)))
    );
    assert_eq!(d.error(), Some(&"429"));
    assert_eq!(d.value(), None);
}

/// Time queued for a pacer is taken off `elapsed` (saturating) before `max_time` and the cut
/// of waits see it, and off `Details::elapsed`.
#[test]
fn time_queued_for_a_pacer_is_not_failure_time() {
    let mut s = State::new("f", Constant::new(S(1)), policy(None, Some(4)));
    s.add_queued(S(30));
    // 33 s since the start, 30 of them queued: 3 s of budget used, 1 s left.
    assert_eq!(
        s.decide(&(), Verdict::Retry, S(33), &""),
        Action::Backoff(S(1))
    );
    assert_eq!(s.details(&(), S(33), None).elapsed, S(3));
    s.add_queued(S(10));
    assert_eq!(s.decide(&(), Verdict::Retry, S(44), &""), Action::GiveUp);
    // More queued than elapsed (clocks read at different moments): zero, never a panic.
    s.add_queued(Duration::MAX);
    assert_eq!(s.details(&(), S(50), None).elapsed, Duration::ZERO);
}
