//! This process's view of its Redis budgets: the arrival time Redis last gave each key, the
//! local pacing of an outage, and the sweep that keeps the map bounded.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

type Instant = tokio::time::Instant;

/// The smallest local view that is swept of idle budgets, and the longest time between two
/// sweeps of a view that gets new keys.
pub(super) const MIN_SWEEP: usize = 64;
pub(super) const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// This process's view of its budgets: per key, the arrival time Redis last gave it (to
/// re-seed a budget that vanished), or where the local pacing of an outage has got to.
///
/// Budgets whose arrival time has passed are idle (a fresh view acts the same). A new key
/// sweeps them out when the map has doubled since the last sweep (and holds at least 64),
/// or when a minute has passed since it: a sweep visits at most twice the keys added since
/// the one before (or runs once a minute), so a new key costs amortised constant time, and
/// the map holds at most about twice the keys live at the last sweep. A sweep that leaves
/// the map under a quarter of its capacity gives the rest back to the allocator.
#[derive(Debug, Default)]
pub(super) struct Views {
    /// By the Redis key's suffix after the pacer's key (`""` unkeyed, `":k"` for `k`).
    map: HashMap<Box<str>, View>,
    /// Sweep when the map reaches this size, or at this time.
    sweep_at: usize,
    swept: Option<Instant>,
}

#[derive(Debug)]
pub(super) struct View {
    tat: Instant,
    /// When (Redis's clock, µs) Redis said what `tat` (or `local.redis`) holds: answers
    /// handled out of order (they come to different tasks) do not undo a later one.
    as_of: i64,
    /// The local pacing of an outage, if it has moved `tat` since Redis last gave a slot of
    /// this budget (the first reservation after it then starts no earlier than `tat`).
    local: Option<LocalView>,
    /// This process's callers waiting for slots Redis gave them: the local pacing of an
    /// outage starts no further than that many intervals ahead (and one more), however far
    /// Redis's arrival time was when it last answered (during a storm of reservations given
    /// back, far ahead).
    held: u32,
    /// Slots of the local pacing given back, not yet taken again (by slot: how many). Boxed:
    /// 8 bytes per key instead of an empty map's 24, and almost every view has none.
    #[allow(clippy::box_collection)]
    holes: Option<Box<BTreeMap<Instant, u32>>>,
}

/// What the local pacing of an outage has done to a view.
#[derive(Debug, Clone, Copy)]
pub(super) struct LocalView {
    /// The fresh slots it gave that have not been given back: once they all are, the view
    /// is Redis's word again.
    fresh: u32,
    /// Redis's latest word on the budget's arrival time (its answers to give-backs keep
    /// coming during an outage).
    redis: Instant,
}

/// A slot of the local pacing, to give back if unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LocalSlot {
    pub(super) slot: Instant,
    /// The arrival time it set (`None`: the slot was a hole).
    tat: Option<Instant>,
    /// The arrival time before it.
    prev: Instant,
}

/// A pacer's interval and burst tolerance.
#[derive(Debug, Clone, Copy)]
pub(super) struct BudgetQuota {
    pub(super) interval: Duration,
    pub(super) tolerance: Duration,
}

impl Views {
    pub(super) fn view(&mut self, key: &str, now: Instant) -> &mut View {
        if !self.map.contains_key(key) {
            let len = self.map.len();
            if len >= self.sweep_at.max(MIN_SWEEP)
                || (len >= MIN_SWEEP
                    && self
                        .swept
                        .is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_EVERY))
            {
                self.map.retain(|_, v| v.tat > now || v.held > 0);
                let len = self.map.len();
                self.sweep_at = len.saturating_mul(2);
                self.swept = Some(now);
                if self.map.capacity() > 4 * len.max(MIN_SWEEP) {
                    self.map.shrink_to(2 * len.max(MIN_SWEEP));
                }
            }
            self.map.insert(
                key.into(),
                View {
                    tat: now,
                    as_of: 0,
                    local: None,
                    held: 0,
                    holes: None,
                },
            );
        }
        // Inserted above if missing.
        self.map.get_mut(key).expect("the view was just inserted")
    }

    /// Redis gave a slot of `key`'s budget, whose arrival time was `tat` at `as_of`.
    pub(super) fn seen(&mut self, key: &str, tat: Instant, as_of: i64, now: Instant) {
        let view = self.view(key, now);
        if as_of >= view.as_of {
            view.tat = tat;
            view.as_of = as_of;
            view.local = None;
            view.holes = None;
        }
    }

    /// Redis took back a slot of `key`'s budget, whose arrival time was `tat` at `as_of`:
    /// noted (for when the local pacing, if it has moved on from what Redis said, is all
    /// given back).
    pub(super) fn given_back(&mut self, key: &str, tat: Instant, as_of: i64) {
        if let Some(view) = self.map.get_mut(key)
            && as_of >= view.as_of
        {
            view.as_of = as_of;
            match &mut view.local {
                Some(local) => local.redis = tat,
                None => view.tat = tat,
            }
        }
    }

    /// A caller of this process waits for a slot of `key`'s budget that Redis gave it
    /// (`true`), or no longer (`false`).
    pub(super) fn hold(&mut self, key: &str, waits: bool) {
        if let Some(view) = self.map.get_mut(key) {
            view.held = if waits {
                view.held.saturating_add(1)
            } else {
                view.held.saturating_sub(1)
            };
        }
    }

    /// The earliest start to ask Redis for: where the local pacing left off (less the
    /// burst), if it moved since Redis last answered, and one interval and burst at most. (A
    /// slot later than the budget's arrival time leaves the time between unused, for good if
    /// it is given back while later ones are held: a storm's worth of delays, each up to the
    /// local queue's length, left tens of seconds of the budget unused.)
    pub(super) fn delay(&self, key: &str, now: Instant, quota: BudgetQuota) -> Duration {
        self.map
            .get(key)
            .filter(|v| v.local.is_some())
            .map_or(Duration::ZERO, |v| {
                let earliest = v.tat.checked_sub(quota.tolerance).unwrap_or(v.tat);
                earliest
                    .saturating_duration_since(now)
                    .min(quota.interval.saturating_add(quota.tolerance))
            })
    }

    /// How far ahead of now Redis last said `key`'s arrival time was (to re-seed a budget
    /// that vanished), no further than this process's own callers' slots can reach: what
    /// Redis said during a storm of reservations given back, or what the local pacing of an
    /// outage stacked on it, re-seeded a lost budget minutes ahead.
    pub(super) fn floor(&self, key: &str, now: Instant, quota: BudgetQuota) -> Duration {
        self.map.get(key).map_or(Duration::ZERO, |v| {
            let word = v.local.map_or(v.tat, |local| local.redis);
            let reach = quota
                .interval
                .saturating_mul(v.held.saturating_add(1))
                .saturating_add(quota.tolerance);
            word.saturating_duration_since(now).min(reach)
        })
    }

    /// A slot of the local pacing (GCRA from this process's view; a slot given back first).
    pub(super) fn reserve(&mut self, key: &str, now: Instant, quota: BudgetQuota) -> LocalSlot {
        let view = self.view(key, now);
        if view.local.is_none() {
            // Going on from Redis's word, but no further than this process's own callers'
            // slots can reach.
            let reach = quota.interval.saturating_mul(view.held.saturating_add(1));
            view.tat = view.tat.min(now.checked_add(reach).unwrap_or(now));
        }
        let fresh = view
            .tat
            .checked_sub(quota.tolerance)
            .map_or(now, |t| t.max(now));
        if let Some(holes) = &mut view.holes {
            // Holes in the past are of no use.
            let later = holes.split_off(&now);
            **holes = later;
            if let Some(mut first) = holes.first_entry()
                && *first.key() < fresh
            {
                let slot = *first.key();
                *first.get_mut() -= 1;
                if *first.get() == 0 {
                    first.remove();
                }
                if holes.is_empty() {
                    view.holes = None;
                }
                return LocalSlot {
                    slot,
                    tat: None,
                    prev: view.tat,
                };
            }
            if holes.is_empty() {
                view.holes = None;
            }
        }
        let prev = view.tat;
        let start = view.tat.max(fresh);
        let tat = start.checked_add(quota.interval).unwrap_or(start);
        let local = view.local.get_or_insert(LocalView {
            fresh: 0,
            redis: prev,
        });
        local.fresh = local.fresh.saturating_add(1);
        view.tat = tat;
        LocalSlot {
            slot: fresh,
            tat: Some(tat),
            prev,
        }
    }

    /// Gives back a slot of the local pacing that will not be used.
    pub(super) fn give_back(
        &mut self,
        key: &str,
        held: LocalSlot,
        now: Instant,
        quota: BudgetQuota,
    ) {
        if held.slot <= now {
            return;
        }
        let Some(view) = self.map.get_mut(key) else {
            return;
        };
        if held.tat.is_some_and(|tat| tat == view.tat) {
            // The latest: undone, with the holes just before it.
            let mut back = held.prev;
            let mut undone = 1;
            let step = quota.interval.saturating_add(quota.tolerance);
            while let Some(holes) = &mut view.holes
                && let Some(at) = back.checked_sub(step)
                && let Some(n) = holes.get_mut(&at)
            {
                *n -= 1;
                if *n == 0 {
                    holes.remove(&at);
                }
                if holes.is_empty() {
                    view.holes = None;
                }
                back = back.checked_sub(quota.interval).unwrap_or(back);
                undone += 1;
            }
            view.tat = back;
            if let Some(local) = &mut view.local {
                local.fresh = local.fresh.saturating_sub(undone);
                if local.fresh == 0 {
                    // Every slot of the local pacing is back: Redis's word holds again.
                    view.tat = local.redis;
                    view.local = None;
                    view.holes = None;
                }
            }
        } else {
            *view
                .holes
                .get_or_insert_default()
                .entry(held.slot)
                .or_insert(0) += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUOTA: BudgetQuota = BudgetQuota {
        interval: Duration::from_millis(100),
        tolerance: Duration::ZERO,
    };

    /// Slots of the local pacing given back in any order leave the view where it was: the
    /// latest undoes the arrival time and takes the holes just before it along.
    #[test]
    fn local_slots_given_back_in_any_order_leave_the_view_where_it_was() {
        let now = Instant::now();
        let orders: [&[usize]; 4] = [
            &[0, 1, 2, 3, 4, 5],
            &[5, 4, 3, 2, 1, 0],
            &[2, 0, 5, 1, 4, 3],
            &[1, 3, 5, 0, 2, 4],
        ];
        for order in orders {
            let mut views = Views::default();
            let first = views.reserve("", now, QUOTA); // used: slot now
            assert_eq!(first.slot, now);
            let held: Vec<_> = (0..6).map(|_| views.reserve("", now, QUOTA)).collect();
            assert_eq!(held[5].slot, now + 6 * QUOTA.interval);
            for &i in order {
                views.give_back("", held[i], now, QUOTA);
            }
            let view = &views.map[""];
            assert_eq!(view.tat, now + QUOTA.interval, "{order:?}");
            assert!(view.holes.is_none(), "{order:?}");
            // The slot used at `now` is still counted: the next is an interval later.
            assert_eq!(views.reserve("", now, QUOTA).slot, now + QUOTA.interval);
        }
    }

    /// A hole is taken before a fresh slot; one that has passed is not.
    #[test]
    fn holes_go_first_until_they_pass() {
        let now = Instant::now();
        let mut views = Views::default();
        let held: Vec<_> = (0..4).map(|_| views.reserve("", now, QUOTA)).collect();
        views.give_back("", held[1], now, QUOTA);
        views.give_back("", held[2], now, QUOTA);
        assert_eq!(views.reserve("", now, QUOTA).slot, held[1].slot);
        let later = held[2].slot + Duration::from_millis(1);
        assert_eq!(
            views.reserve("", later, QUOTA).slot,
            held[3].slot + QUOTA.interval
        );
    }

    /// Once every slot of the local pacing is back, Redis's word holds again, its latest (the
    /// first reservation after the outage asks for no delay); until then it does not.
    #[test]
    fn local_pacing_given_back_lets_redis_speak_again() {
        let now = Instant::now();
        let mut views = Views::default();
        // Nobody of this process waits for a slot: the local pacing starts an interval away
        // at most, however far Redis's arrival time was.
        views.seen(":a", now + 5 * QUOTA.interval, 1, now);
        assert_eq!(views.reserve(":a", now, QUOTA).slot, now + QUOTA.interval);
        // Four callers wait for Redis's slots: it goes on after them.
        views.seen(":k", now + 5 * QUOTA.interval, 1, now);
        for _ in 0..4 {
            views.hold(":k", true);
        }
        let held = views.reserve(":k", now, QUOTA);
        assert_eq!(held.slot, now + 5 * QUOTA.interval);
        // Where the local pacing left off, an interval at most.
        assert_eq!(views.delay(":k", now, QUOTA), QUOTA.interval);
        // Redis took back slots of this process meanwhile: its budget is free now.
        views.given_back(":k", now, 0);
        assert_eq!(
            views.map[":k"].local.unwrap().redis,
            now + 5 * QUOTA.interval,
            "older"
        );
        views.given_back(":k", now, 2);
        assert_eq!(
            views.map[":k"].tat,
            now + 6 * QUOTA.interval,
            "local pacing moved on"
        );
        views.give_back(":k", held, now, QUOTA);
        assert_eq!(views.delay(":k", now, QUOTA), Duration::ZERO);
        assert_eq!(views.floor(":k", now, QUOTA), Duration::ZERO);
        assert_eq!(views.reserve(":k", now, QUOTA).slot, now);
    }

    /// A vanished budget is re-seeded from Redis's last word, not from what the local pacing
    /// stacked on it, and no further than this process's waiting callers reach.
    #[test]
    fn the_floor_reaches_no_further_than_the_callers_waiting() {
        let now = Instant::now();
        let mut views = Views::default();
        views.seen(":k", now + 50 * QUOTA.interval, 1, now);
        assert_eq!(views.floor(":k", now, QUOTA), QUOTA.interval);
        for _ in 0..15 {
            views.hold(":k", true);
        }
        assert_eq!(views.floor(":k", now, QUOTA), 16 * QUOTA.interval);
        views.seen(":k", now + 3 * QUOTA.interval, 2, now);
        for _ in 0..100 {
            views.reserve(":k", now, QUOTA);
        }
        assert_eq!(views.floor(":k", now, QUOTA), 3 * QUOTA.interval);
    }

    /// Idle views are swept when the map doubles, or a minute after the last sweep; the map
    /// stays within about twice the live keys.
    #[test]
    fn idle_views_are_swept() {
        let now = Instant::now();
        let mut views = Views::default();
        for i in 0..10_000 {
            let at = now + Duration::from_millis(i);
            views.reserve(&format!(":{i}"), at, QUOTA); // live for 100 ms
        }
        assert!(
            views.map.len() <= 2 * 101 + MIN_SWEEP,
            "{}",
            views.map.len()
        );
        let later = now + Duration::from_secs(70);
        views.reserve(":new", later, QUOTA);
        assert_eq!(views.map.len(), 1);
        assert!(
            views.map.capacity() <= 4 * MIN_SWEEP,
            "{}",
            views.map.capacity()
        );
    }
}
