//! GCRA with give-backs: the schedule of one budget, as a pure state machine over instants.
//!
//! GCRA keeps one instant, the theoretical arrival time (TAT): a reservation made at `now`
//! gets the slot `max(now, TAT - tolerance)` (the tolerance is `interval * (burst - 1)`) and
//! moves TAT to `max(TAT, now) + interval`. Over a multiset of slots in time order, TAT is
//! `max(TAT, slot) + interval` folded over them; a new slot at or after `TAT - tolerance` keeps
//! the multiset conformant (no window of length `L` holds more than `L / interval + burst`
//! slots: the slots in a window starting at `x` put TAT at least `count * interval` past `x`).
//!
//! Besides TAT, a schedule keeps the slots that still count towards it: taken (held or used)
//! and *holes*, slots given back by reservations dropped before their slot.
//! - A new reservation takes the earliest hole (none is ever later than the slot GCRA would
//!   give, and the multiset is then one that was conformant before).
//! - A hole at the end of the schedule constrains nobody: it is dropped and TAT is recomputed
//!   without it (GCRA rolls back, as if the reservation had never been made).
//! - A hole whose slot passes unused is dropped too, and TAT recomputed without it.
//! - A slot whose share of TAT has passed is folded into `base` and forgotten, so the schedule
//!   holds only the slots within about one backlog of now. A slot free at once while no slot
//!   is held is folded in as it is taken: a slot reached counts as used, so it can never be
//!   given back, and a pacer that is not holding anyone back stores nothing.
//!
//! So the slots handed out, used or held, always form a GCRA-conformant multiset, and a new
//! reservation's slot is never later than GCRA gives over the slots used or held, in time
//! order: as if the cancelled calls had never been made. With burst 1 it is also at most one
//! interval past the earliest conformant slot anywhere (a hole that passed a moment before
//! a caller came is that interval). `tests::property` checks all three over random
//! interleavings of reserve, cancel, run and late callers.
//!
//! Slots are a plan; a server sees departures. A caller that wakes late to its slot (tokio
//! wakes timers a millisecond or two late, more on a loaded machine) leaves closer to the
//! next caller than the interval, and a bucket of burst 1 refuses the next one (gaps of
//! 106.0 ms then 99.9 ms at 10/s). So the schedule also keeps GCRA over actual departures
//! ([`Gcra::depart`]): a caller whose slot has come leaves only when its departure
//! conforms to the departures before it, as the server's bucket will judge it, and waits out
//! the difference otherwise. On time, every departure conforms and nothing changes; late,
//! the lateness is passed on to the next callers rather than taken out of a gap.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::Instant;

/// How a schedule spaces its slots.
#[derive(Clone, Copy, Debug)]
pub(super) struct Spacing {
    /// The time between slots.
    pub(super) interval: Duration,
    /// How far ahead of TAT a slot may be: `interval * (burst - 1)`.
    pub(super) tolerance: Duration,
}

/// One reservation's claim on a schedule: its slot. (Reservations that share a slot are
/// interchangeable, so a ticket says no more.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Ticket {
    /// When the attempt may start.
    pub(super) slot: Instant,
    /// Free at once and its departure already counted: the caller may go without asking
    /// again.
    pub(super) departed: bool,
}

/// The reservations at one slot.
#[derive(Clone, Copy, Debug)]
struct Count {
    /// Used or held.
    taken: usize,
    /// Given back, not yet taken again.
    holes: usize,
    /// TAT over this slot and every earlier one (so that dropping the tail is cheap).
    after: Instant,
}

/// GCRA over `n` slots at `slot`, from `tat`.
fn fold(tat: Option<Instant>, slot: Instant, n: usize, interval: Duration) -> Instant {
    let start = tat.map_or(slot, |t| t.max(slot));
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    start
        .checked_add(interval.saturating_mul(n))
        .unwrap_or(start)
}

/// GCRA's state for one budget: every slot that still constrains the future.
#[derive(Debug, Default)]
pub(super) struct Gcra {
    /// GCRA's TAT over every slot below and those forgotten (`None`: nothing yet).
    tat: Option<Instant>,
    /// The TAT that the forgotten slots leave behind. Every forgotten slot was reached before
    /// the slots below were taken, so it comes first in GCRA's order.
    base: Option<Instant>,
    slots: BTreeMap<Instant, Count>,
    /// The slots that have holes.
    holed: BTreeSet<Instant>,
    /// GCRA's TAT over actual departures (`None`: none yet).
    departed: Option<Instant>,
}

impl Gcra {
    /// Reserves the earliest slot at or after `now`: a hole, else the next slot GCRA gives.
    pub(super) fn reserve(&mut self, now: Instant, quota: Spacing) -> Ticket {
        self.tidy(now, quota);
        if let Some(&slot) = self.holed.first()
            && let Some(count) = self.slots.get_mut(&slot)
        {
            count.holes -= 1;
            count.taken += 1;
            if count.holes == 0 {
                self.holed.remove(&slot);
            }
            return Ticket {
                slot,
                departed: false,
            };
        }
        let tat = self.tat.unwrap_or(now);
        // The earliest start: the theoretical arrival time, less what the burst allows.
        let slot = tat.checked_sub(quota.tolerance).map_or(now, |t| t.max(now));
        let after = fold(self.tat, slot, 1, quota.interval);
        if slot <= now && self.slots.is_empty() {
            // Free at once and behind nobody: the slot is reached, so it can never be given
            // back; only its share of TAT counts. Folding it in keeps an unconstrained pacer's
            // schedule empty, so taking a slot never allocates however fast callers come.
            self.tat = Some(after);
            self.base = Some(after);
            return Ticket {
                slot,
                departed: self.depart(now, quota).is_ok(),
            };
        }
        let last = self.slots.last_key_value().map(|(&s, _)| s);
        let count = self.slots.entry(slot).or_insert(Count {
            taken: 0,
            holes: 0,
            after,
        });
        count.taken += 1;
        if last.is_some_and(|last| slot < last) {
            // Within a burst, ahead of a slot held already: GCRA over the slots in order.
            self.replay(quota);
        } else {
            count.after = after;
            self.tat = Some(after);
        }
        Ticket {
            slot,
            departed: false,
        }
    }

    /// A caller whose slot has come leaves at `now`: counted, when its departure conforms to
    /// GCRA over the departures before it; else the instant from which it will.
    pub(super) fn depart(&mut self, now: Instant, quota: Spacing) -> Result<(), Instant> {
        if let Some(tat) = self.departed {
            let earliest = tat.checked_sub(quota.tolerance).unwrap_or(now);
            if earliest > now {
                return Err(earliest);
            }
        }
        self.go(now, quota);
        Ok(())
    }

    /// Counts a departure at `now`, conforming or not (the caller waited some other way).
    pub(super) fn go(&mut self, now: Instant, quota: Spacing) {
        let start = self.departed.map_or(now, |t| t.max(now));
        self.departed = Some(start.checked_add(quota.interval).unwrap_or(start));
    }

    /// Gives back a ticket whose attempt will not run. A slot already reached (at or before
    /// `now`) counts as used.
    pub(super) fn give_back(&mut self, ticket: Ticket, now: Instant, quota: Spacing) {
        if ticket.slot <= now {
            return;
        }
        let Some(count) = self.slots.get_mut(&ticket.slot) else {
            return;
        };
        if count.taken == 0 {
            return;
        }
        count.taken -= 1;
        count.holes += 1;
        self.holed.insert(ticket.slot);
        // Holes at the tail constrain nobody: drop them, and GCRA rolls back.
        let mut dropped = false;
        while let Some((&slot, count)) = self.slots.last_key_value()
            && count.holes > 0
        {
            let taken = count.taken;
            self.holed.remove(&slot);
            dropped = true;
            if taken == 0 {
                self.slots.remove(&slot);
                continue;
            }
            let before = self.slots.range(..slot).next_back().map(|(_, c)| c.after);
            let after = fold(before.or(self.base), slot, taken, quota.interval);
            if let Some(count) = self.slots.get_mut(&slot) {
                count.holes = 0;
                count.after = after;
            }
            break;
        }
        if dropped {
            self.tat = self
                .slots
                .last_key_value()
                .map(|(_, c)| c.after)
                .or(self.base);
        }
    }

    /// Whether a fresh schedule would act the same from `now` on: then a keyed schedule may be
    /// forgotten. (No ticket can be given back any more: every slot lies at least one interval
    /// before TAT.)
    pub(super) fn is_idle(&self, now: Instant) -> bool {
        self.tat.is_none_or(|tat| tat <= now) && self.departed.is_none_or(|tat| tat <= now)
    }

    /// Drops the holes that have passed unused (and re-runs GCRA without them), then forgets
    /// the slots whose share of TAT has passed.
    fn tidy(&mut self, now: Instant, quota: Spacing) {
        if self.holed.first().is_some_and(|&slot| slot < now) {
            let rest = self.holed.split_off(&now);
            for slot in std::mem::replace(&mut self.holed, rest) {
                if let Some(count) = self.slots.get_mut(&slot) {
                    count.holes = 0;
                    if count.taken == 0 {
                        self.slots.remove(&slot);
                    }
                }
            }
            self.replay(quota);
        }
        while let Some(mut first) = self.slots.first_entry()
            && first.get().holes == 0
        {
            let start = self.base.map_or(*first.key(), |b| b.max(*first.key()));
            let Some(next) = start.checked_add(quota.interval) else {
                break;
            };
            if next > now {
                break;
            }
            self.base = Some(next);
            first.get_mut().taken -= 1;
            if first.get().taken == 0 {
                first.remove();
            }
        }
    }

    /// Recomputes TAT: GCRA over every slot in order, from what the forgotten ones left.
    fn replay(&mut self, quota: Spacing) {
        let mut tat = self.base;
        for (&slot, count) in &mut self.slots {
            count.after = fold(tat, slot, count.taken + count.holes, quota.interval);
            tat = Some(count.after);
        }
        self.tat = tat;
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(at(s.reserve(ms(0), q)), 0);
        assert_eq!(at(s.reserve(ms(0), q)), 100);
        // The caller of slot 100 woke 3 ms late and asks again at 103: slot 200, not 203.
        assert_eq!(at(s.reserve(ms(103), q)), 200);
        // Idle past the grid: the next slot is now.
        assert_eq!(at(s.reserve(ms(350), q)), 350);
        assert_eq!(at(s.reserve(ms(350), q)), 450);

        let mut b = Gcra::default();
        let q3 = quota(100, 3);
        let slots: Vec<u128> = (0..5).map(|_| at(b.reserve(ms(1000), q3))).collect();
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
        let [_a, b, c] = [(); 3].map(|()| s.reserve(ms(0), q));
        assert_eq!([at(b), at(c)], [100, 200]);
        // The tail goes back: the next caller gets 200 again.
        s.give_back(c, ms(5), q);
        let c = s.reserve(ms(10), q);
        assert_eq!(at(c), 200);
        // A middle slot is a hole: the next caller takes it, not 300.
        s.give_back(b, ms(15), q);
        let b = s.reserve(ms(20), q);
        assert_eq!(at(b), 100);
        // Give back the middle, then the tail: both roll back, the next slot is 100.
        s.give_back(b, ms(25), q);
        s.give_back(c, ms(25), q);
        assert!(s.holed.is_empty());
        assert_eq!(at(s.reserve(ms(30), q)), 100);
        assert_eq!(at(s.reserve(ms(30), q)), 200);
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
        let a = s.reserve(ms(0), q);
        assert!(a.departed, "free at once: counted as it is taken");
        let b = s.reserve(ms(0), q);
        let c = s.reserve(ms(0), q);
        assert_eq!([b.slot, c.slot], [ms(100), ms(200)]);
        assert!(!b.departed && !c.departed);
        // b wakes 3 ms late; c, on time at 200, must wait for 203.
        assert_eq!(s.depart(ms(103), q), Ok(()));
        assert_eq!(s.depart(ms(200), q), Err(ms(203)));
        assert_eq!(s.depart(ms(203), q), Ok(()));
        // On time, nothing moves.
        let d = s.reserve(ms(203), q);
        assert_eq!(d.slot, ms(300));
        assert_eq!(s.depart(ms(303), q), Ok(()));

        let q3 = quota(100, 3);
        let mut b3 = Gcra::default();
        for _ in 0..3 {
            assert!(b3.reserve(ms(1000), q3).departed);
        }
        let fourth = b3.reserve(ms(1000), q3);
        assert_eq!(fourth.slot, ms(1100));
        assert_eq!(b3.depart(ms(1100), q3), Ok(()));
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
        let tickets: Vec<Ticket> = (0..5).map(|_| s.reserve(ms(0), q)).collect();
        let slots: Vec<u128> = tickets.iter().map(|t| at(*t)).collect();
        assert_eq!(slots, [0, 0, 0, 100, 200]);
        // The second 0 stays used; the 100 is a hole the next caller takes, then GCRA's next
        // slot, 300 (200 is held).
        s.give_back(tickets[1], ms(0), q);
        s.give_back(tickets[3], ms(0), q);
        let again: Vec<u128> = (0..3).map(|_| at(s.reserve(ms(0), q))).collect();
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
            assert_eq!(s.reserve(now, q).slot, now);
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
        let [a, b, _c] = [(); 3].map(|()| s.reserve(ms(0), q));
        s.give_back(a, ms(1), q);
        assert_eq!(at(s.reserve(ms(1), q)), 300);
        // 100 is given back, then passes unused: the next caller, at 150, gets 400, after the
        // held 200 and 300 (not 500).
        s.give_back(b, ms(50), q);
        assert_eq!(at(s.reserve(ms(150), q)), 400);
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
                            let t = s.reserve(t0 + Duration::from_millis(now), q);
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
}
