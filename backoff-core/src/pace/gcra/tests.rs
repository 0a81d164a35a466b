use super::*;

fn quota(interval_ms: u64, burst: u32) -> Spacing {
    let interval = Duration::from_millis(interval_ms);
    Spacing {
        interval,
        tolerance: interval * (burst - 1),
    }
}

/// Slots stay on their grid when a caller comes late to its slot; an idle pacer restarts
/// from now; a burst lets that many through at once.
#[test]
fn reservations_keep_the_grid() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let at = |t: Ticket| t.slot.duration_since(t0).as_millis();
    let q = quota(100, 1);
    let mut s = Gcra::default();
    assert_eq!(at(s.reserve(ms(0), q, false)), 0);
    assert_eq!(at(s.reserve(ms(0), q, false)), 100);
    // The caller of slot 100 woke 3 ms late and asks again at 103: slot 200, not 203.
    assert_eq!(at(s.reserve(ms(103), q, false)), 200);
    // Idle past the grid: the next slot is now.
    assert_eq!(at(s.reserve(ms(350), q, false)), 350);
    assert_eq!(at(s.reserve(ms(350), q, false)), 450);

    let mut b = Gcra::default();
    let q3 = quota(100, 3);
    let slots: Vec<u128> = (0..5).map(|_| at(b.reserve(ms(1000), q3, false))).collect();
    assert_eq!(slots, [1000, 1000, 1000, 1100, 1200]);
}

/// The tail rolls back; a slot in the middle is a hole the next caller takes; once the
/// tail is given back, the holes it uncovers roll back too.
#[test]
fn given_back_slots_are_reused() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let at = |t: Ticket| t.slot.duration_since(t0).as_millis();
    let q = quota(100, 1);
    let mut s = Gcra::default();
    let [_a, b, c] = [(); 3].map(|()| s.reserve(ms(0), q, false));
    assert_eq!([at(b), at(c)], [100, 200]);
    // The tail goes back: the next caller gets 200 again.
    s.give_back(c, ms(5), q);
    let c = s.reserve(ms(10), q, false);
    assert_eq!(at(c), 200);
    // A middle slot is a hole: the next caller takes it, not 300.
    s.give_back(b, ms(15), q);
    let b = s.reserve(ms(20), q, false);
    assert_eq!(at(b), 100);
    // Give back the middle, then the tail: both roll back, the next slot is 100.
    s.give_back(b, ms(25), q);
    s.give_back(c, ms(25), q);
    assert!(s.holed.is_empty());
    assert_eq!(at(s.reserve(ms(30), q, false)), 100);
    assert_eq!(at(s.reserve(ms(30), q, false)), 200);
}

/// A caller that leaves late to its slot pushes the next departure back by as much,
/// rather than leaving it closer than the interval (as a bucket of burst 1 would judge);
/// on time, every departure conforms; a burst allows as many at once.
#[test]
fn departures_keep_the_interval_when_a_caller_is_late() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let q = quota(100, 1);
    let mut s = Gcra::default();
    let a = s.reserve(ms(0), q, false);
    assert!(a.departed, "free at once: counted as it is taken");
    let b = s.reserve(ms(0), q, false);
    let c = s.reserve(ms(0), q, false);
    assert_eq!([b.slot, c.slot], [ms(100), ms(200)]);
    assert!(!b.departed && !c.departed);
    // b wakes 3 ms late; c, on time at 200, must wait for 203.
    assert_eq!(s.depart(ms(103), q, false), Ok(()));
    assert_eq!(s.depart(ms(200), q, false), Err(ms(203)));
    assert_eq!(s.depart(ms(203), q, false), Ok(()));
    // On time, nothing moves.
    let d = s.reserve(ms(203), q, false);
    assert_eq!(d.slot, ms(300));
    assert_eq!(s.depart(ms(303), q, false), Ok(()));

    let q3 = quota(100, 3);
    let mut b3 = Gcra::default();
    for _ in 0..3 {
        assert!(b3.reserve(ms(1000), q3, false).departed);
    }
    let fourth = b3.reserve(ms(1000), q3, false);
    assert_eq!(fourth.slot, ms(1100));
    assert_eq!(b3.depart(ms(1100), q3, false), Ok(()));
}

/// A slot free at once is reached when it is taken: given back at that same instant it
/// still counts as used (its attempt may have started); a later slot comes back.
#[test]
fn slots_free_at_once_are_used_at_once() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let at = |t: Ticket| t.slot.duration_since(t0).as_millis();
    let q = quota(100, 3);
    let mut s = Gcra::default();
    let tickets: Vec<Ticket> = (0..5).map(|_| s.reserve(ms(0), q, false)).collect();
    let slots: Vec<u128> = tickets.iter().map(|t| at(*t)).collect();
    assert_eq!(slots, [0, 0, 0, 100, 200]);
    // The second 0 stays used; the 100 is a hole the next caller takes, then GCRA's next
    // slot, 300 (200 is held).
    s.give_back(tickets[1], ms(0), q);
    s.give_back(tickets[3], ms(0), q);
    let again: Vec<u128> = (0..3).map(|_| at(s.reserve(ms(0), q, false))).collect();
    assert_eq!(again, [100, 300, 400]);
}

/// A pacer far from its limit holds no slot: however fast callers come, each slot is free
/// at once and nothing is stored (so taking one never allocates).
#[test]
fn an_unconstrained_schedule_stores_no_slot() {
    let t0 = Instant::now();
    // A million a second, a burst of a million, callers a nanosecond apart: TAT runs
    // ahead of the clock by a microsecond a call, far within the burst.
    let interval = Duration::from_micros(1);
    let q = Spacing {
        interval,
        tolerance: interval * 999_999,
    };
    let mut s = Gcra::default();
    for i in 0..1000 {
        let now = t0 + Duration::from_nanos(i);
        assert_eq!(s.reserve(now, q, false).slot, now);
    }
    assert!(s.slots.is_empty(), "{} slots stored", s.slots.len());
    assert_eq!(s.tat, Some(t0 + interval * 1000));
}

/// A slot given back once reached counts as used (its attempt may have started); a hole
/// that passes unused no longer holds anyone up.
#[test]
fn passed_slots_are_not_given_back_and_passed_holes_are_dropped() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let at = |t: Ticket| t.slot.duration_since(t0).as_millis();
    let q = quota(100, 1);
    let mut s = Gcra::default();
    let [a, b, _c] = [(); 3].map(|()| s.reserve(ms(0), q, false));
    s.give_back(a, ms(1), q);
    assert_eq!(at(s.reserve(ms(1), q, false)), 300);
    // 100 is given back, then passes unused: the next caller, at 150, gets 400, after the
    // held 200 and 300 (not 500).
    s.give_back(b, ms(50), q);
    assert_eq!(at(s.reserve(ms(150), q, false)), 400);
    assert!(!s.is_idle(ms(400)));
    assert!(s.is_idle(ms(500)));
}

mod property {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        /// A caller reserves the next slot.
        Reserve,
        /// A caller holding a reservation (chosen by index) gives it back.
        Cancel(usize),
        /// Time moves on by this many ms; each held reservation whose slot is reached
        /// runs then, unless `late` (its caller is slow: it stays held, to run or be
        /// cancelled later).
        Advance(u64, bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => Just(Op::Reserve),
            3 => any::<usize>().prop_map(Op::Cancel),
            3 => (0u64..400, proptest::bool::weighted(0.2)).prop_map(|(d, l)| Op::Advance(d, l)),
        ]
    }

    /// Whether a multiset of slots (ms) is GCRA-conformant: sorted, any two that are `k`
    /// apart in order are at least `(k - (burst - 1)) * interval` apart in time.
    fn conformant(slots: &[u64], interval: u64, burst: u64) -> bool {
        let mut s = slots.to_vec();
        s.sort_unstable();
        for i in 0..s.len() {
            for j in i + 1..s.len() {
                let k = (j - i) as u64;
                if k >= burst && s[j] - s[i] < (k - (burst - 1)) * interval {
                    return false;
                }
            }
        }
        true
    }

    /// The earliest slot at or after `now` that the attempts which ran or will run allow.
    fn ideal(slots: &[u64], now: u64, interval: u64, burst: u64) -> u64 {
        let mut candidates: Vec<u64> = vec![now];
        for &p in slots {
            for k in 1..=slots.len() as u64 + 1 {
                candidates.push(p + k * interval);
            }
        }
        candidates.retain(|&c| c >= now);
        candidates.sort_unstable();
        let mut with = slots.to_vec();
        for c in candidates {
            with.push(c);
            if conformant(&with, interval, burst) {
                return c;
            }
            with.pop();
        }
        unreachable!("a slot past every other is always conformant")
    }

    /// The slot GCRA gives at `now` after the attempts that ran or will run, replayed in
    /// order of their slots: what those attempts imply.
    fn replayed(slots: &[u64], now: u64, interval: u64, burst: u64) -> u64 {
        let mut s = slots.to_vec();
        s.sort_unstable();
        let tat = s
            .iter()
            .fold(None, |tat: Option<u64>, &slot| {
                Some(tat.unwrap_or(slot).max(slot) + interval)
            })
            .unwrap_or(now);
        now.max(tat.saturating_sub((burst - 1) * interval))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any interleaving of reserve / cancel / run: the attempts that ran (and those
        /// still held) are GCRA-conformant, and each new reservation is at most one
        /// interval past the earliest slot those attempts allow.
        #[test]
        fn runs_conform_and_cancelled_slots_come_back(
            burst in 1u32..4,
            interval in prop_oneof![Just(100u64), Just(250u64), Just(1000u64)],
            ops in proptest::collection::vec(op(), 0..80),
        ) {
            let t0 = Instant::now();
            let to_ms = |i: Instant| i.duration_since(t0).as_millis() as u64;
            let q = quota(interval, burst);
            let mut s = Gcra::default();
            let mut now = 0u64;
            let mut ran: Vec<u64> = Vec::new();
            let mut held: Vec<Ticket> = Vec::new();
            for op in ops {
                match op {
                    Op::Reserve => {
                        let mut taken: Vec<u64> = ran.clone();
                        taken.extend(held.iter().map(|t| to_ms(t.slot)));
                        // What the attempts that ran or hold slots imply: GCRA over
                        // them, appending; with burst 1 also the earliest conformant
                        // slot anywhere.
                        let implied = replayed(&taken, now, interval, u64::from(burst));
                        let t = s.reserve(t0 + Duration::from_millis(now), q, false);
                        let slot = to_ms(t.slot);
                        prop_assert!(slot >= now);
                        prop_assert!(
                            slot <= implied,
                            "slot {slot} at {now}, implied {implied}; taken {taken:?}"
                        );
                        if burst == 1 {
                            let best = ideal(&taken, now, interval, 1);
                            prop_assert!(
                                slot <= best + interval,
                                "slot {slot} at {now}, best {best}; taken {taken:?}"
                            );
                        }
                        held.push(t);
                    }
                    Op::Cancel(i) if !held.is_empty() => {
                        let t = held.remove(i % held.len());
                        s.give_back(t, t0 + Duration::from_millis(now), q);
                        // A slot already reached counts as used: it may have run.
                        if to_ms(t.slot) <= now {
                            ran.push(to_ms(t.slot));
                        }
                    }
                    Op::Cancel(_) => {}
                    Op::Advance(d, late) => {
                        now += d;
                        if !late {
                            held.retain(|t| {
                                let slot = to_ms(t.slot);
                                if slot <= now {
                                    ran.push(slot);
                                }
                                slot > now
                            });
                        }
                    }
                }
                let mut all = ran.clone();
                all.extend(held.iter().map(|t| to_ms(t.slot)));
                prop_assert!(conformant(&all, interval, u64::from(burst)), "{all:?}");
            }
        }
    }
}

/// The answer to the first departure after a pause moves the next departure to an interval
/// after it, when nobody has left since; any other answer moves nothing.
#[test]
fn the_first_answer_after_a_pause_moves_the_next_departure() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let q = quota(100, 1);
    let when = |r: Result<(), Instant>| r.err().map(|t| t.duration_since(t0).as_millis());

    // The first ever departure opens: its answer at 60 ms puts the next at 160, not 100.
    let mut s = Gcra::default();
    s.go(ms(0), q, false);
    s.answered(ms(0), ms(60), q);
    assert_eq!(when(s.depart(ms(100), q, false)), Some(160));
    assert_eq!(when(s.depart(ms(160), q, false)), None);
    // That one followed on time, so it opened nothing: its answer is the first on the open
    // connection, with no usual time to be measured against, and moves the next by all of
    // its 70 ms (260 -> 330); the next answer, as quick, moves nothing.
    s.answered(ms(160), ms(230), q);
    assert_eq!(when(s.depart(ms(260), q, false)), Some(330));
    assert_eq!(when(s.depart(ms(330), q, false)), None);
    s.answered(ms(330), ms(400), q);
    assert_eq!(when(s.depart(ms(430), q, false)), None);
    // An answer later than the next slot moves it as far.
    let mut s = Gcra::default();
    s.go(ms(0), q, false);
    s.answered(ms(0), ms(130), q);
    assert_eq!(when(s.depart(ms(130), q, false)), Some(230));

    // One that leaves before the opening one's answer opens a connection of its own (the
    // first is still opening): the first's answer comes too late to matter, its own counts.
    let mut s = Gcra::default();
    s.go(ms(0), q, false);
    s.go(ms(100), q, false);
    s.answered(ms(0), ms(150), q);
    s.answered(ms(100), ms(180), q);
    assert_eq!(when(s.depart(ms(200), q, false)), Some(280));
    // Answered before the next left, the chain ends there.
    assert_eq!(when(s.depart(ms(280), q, false)), None);
    s.answered(ms(280), ms(330), q);
    assert_eq!(when(s.depart(ms(380), q, false)), None);

    // A pause is two intervals without a departure: at 1.99 intervals the stream goes on (its
    // answer, in the usual 51 ms, moves nothing; an opening's would move the next to 501).
    let mut s = Gcra::default();
    s.go(ms(0), q, false);
    s.answered(ms(0), ms(0), q);
    s.go(ms(100), q, false);
    s.answered(ms(100), ms(151), q); // the first on the open connection: 51 ms is the usual
    s.go(ms(350), q, false);
    s.answered(ms(350), ms(401), q);
    assert_eq!(when(s.depart(ms(450), q, false)), None);
    // At two intervals it is a pause, and the answer of an attempt sent before it is not
    // the opening one's.
    s.go(ms(650), q, false);
    s.answered(ms(600), ms(730), q);
    s.answered(ms(650), ms(711), q);
    assert_eq!(when(s.depart(ms(750), q, false)), Some(811));
}

/// A departure after a pause whose answer will be told holds the next one until that answer
/// (asking again every 12.5 ms at 10/s), for at most an interval past its turn.
#[test]
fn the_next_departure_waits_for_a_told_opening_answer() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let q = quota(100, 1);
    let when = |r: Result<(), Instant>| r.err().map(|t| t.duration_since(t0).as_micros());

    let mut s = Gcra::default();
    s.go(ms(0), q, true);
    // No answer yet at its turn: asks again in an eighth of an interval.
    assert_eq!(when(s.depart(ms(100), q, false)), Some(112_500));
    assert_eq!(when(s.depart(ms(190), q, false)), Some(200_000));
    // The answer at 150 ms: the next leaves at 250.
    s.answered(ms(0), ms(150), q);
    assert_eq!(when(s.depart(ms(200), q, false)), Some(250_000));
    assert_eq!(when(s.depart(ms(250), q, false)), None);

    // Never answered: the wait ends an interval past the turn. That departure, made while
    // the first may still be opening, opens its own: its answer moves the next when it
    // comes first, but nobody waits for it (answers slower than two intervals would else
    // halve the rate).
    let mut s = Gcra::default();
    s.go(ms(0), q, true);
    assert_eq!(when(s.depart(ms(200), q, true)), None);
    assert_eq!(when(s.depart(ms(300), q, true)), None);
    assert_eq!(when(s.depart(ms(400), q, true)), None);
    s.answered(ms(400), ms(420), q);
    assert_eq!(when(s.depart(ms(500), q, false)), Some(520_000));
    // A pause long after an unanswered one is a pause again.
    let mut s = Gcra::default();
    s.go(ms(0), q, true);
    s.go(ms(1000), q, true);
    assert_eq!(when(s.depart(ms(1100), q, true)), Some(1_112_500));

    // An opening whose answer will not be told holds nobody back.
    let mut s = Gcra::default();
    s.go(ms(0), q, false);
    assert_eq!(when(s.depart(ms(100), q, true)), None);
    // Nor does one with a burst: the burst goes out at once.
    let mut s = Gcra::default();
    let q3 = quota(100, 3);
    s.go(ms(0), q3, true);
    assert_eq!(when(s.depart(ms(0), q3, true)), None);
}

/// At burst 1, an answer to the latest departure that took longer than usual moves the next
/// departure by as much; answers on time, to an earlier departure, or with a burst move
/// nothing.
#[test]
fn a_late_answer_moves_the_next_departure_by_its_lateness() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let q = quota(100, 1);
    let when = |r: Result<(), Instant>| r.err().map(|t| t.duration_since(t0).as_micros());

    // Past the opening, the first answer has no usual time to be measured against: its
    // 8 ms move the next departure (208 -> 216). Then 8 ms is the usual time: nothing moves.
    let mut s = Gcra::default();
    s.go(ms(0), q, false);
    s.answered(ms(0), ms(8), q);
    assert_eq!(when(s.depart(ms(108), q, false)), None);
    s.answered(ms(108), ms(116), q);
    assert_eq!(when(s.depart(ms(208), q, false)), Some(216_000));
    assert_eq!(when(s.depart(ms(216), q, false)), None);
    s.answered(ms(216), ms(224), q);
    assert_eq!(when(s.depart(ms(316), q, false)), None);
    // One takes 40 ms, 32 beyond the usual: the next leaves 32 ms after its turn.
    s.answered(ms(316), ms(356), q);
    assert_eq!(when(s.depart(ms(416), q, false)), Some(448_000));
    assert_eq!(when(s.depart(ms(448), q, false)), None);
    // The usual time is now 8 + 32 / 8 = 12 ms: an 8 ms answer moves nothing (and brings it
    // to 11.5 ms), a 20 ms one moves the next by 8.5.
    s.answered(ms(448), ms(456), q);
    assert_eq!(when(s.depart(ms(548), q, false)), None);
    s.answered(ms(548), ms(568), q);
    assert_eq!(when(s.depart(ms(648), q, false)), Some(656_500));

    // The answer to a departure before the latest moves nothing (the latest left already).
    let mut s = Gcra::default();
    s.go(ms(0), q, false);
    s.answered(ms(0), ms(0), q);
    s.go(ms(100), q, false);
    s.answered(ms(100), ms(100), q);
    s.go(ms(200), q, false);
    s.go(ms(300), q, false);
    s.answered(ms(200), ms(290), q);
    assert_eq!(when(s.depart(ms(400), q, false)), None);

    // With a burst, nothing moves: the burst covers an early arrival.
    let q3 = quota(100, 3);
    let mut s = Gcra::default();
    s.go(ms(0), q3, false);
    s.answered(ms(0), ms(0), q3);
    for t in [100, 200, 300] {
        s.go(ms(t), q3, false);
        s.answered(ms(t), ms(t + 5), q3);
    }
    s.go(ms(400), q3, false);
    s.answered(ms(400), ms(480), q3);
    assert_eq!(when(s.depart(ms(480), q3, false)), None);
    assert_eq!(when(s.depart(ms(480), q3, false)), None);
    assert_eq!(when(s.depart(ms(480), q3, false)), Some(500_000));
}
