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
//!
//! Departures are not arrivals either when a request opens a connection: the first one after
//! a pause (a TCP connect, a TLS handshake) reaches the server that much later than it left,
//! and the next, on the open connection, would arrive early against it. When callers tell
//! the schedule their answers ([`Gcra::answered`]), the next departure waits for the opening
//! one's answer and leaves an interval after it. Nor when a request waits before the server
//! stamps it (a busy machine delays one request and not the next): an answer that took longer
//! than usual moves the next departure, at burst 1, by as much.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::common::Instant;

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

/// A departure that may have opened a connection, not answered yet.
#[derive(Clone, Copy, Debug)]
struct Opening {
    at: Instant,
    /// It ended a pause and its caller tells the answer: the next departure waits for it.
    /// (Only that one: were every departure sent while the one before is unanswered waited
    /// for in turn, answers slower than two intervals would halve the rate.)
    holds: bool,
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
    /// The last departure, when it may have opened a connection: it ended a pause (none for
    /// two intervals before it), or left while the one before it that did had no answer yet.
    /// Its answer may still move the next departure ([`Gcra::answered`]).
    opening: Option<Opening>,
    /// The latest departure.
    latest: Option<Instant>,
    /// How long answers on open connections usually take: a moving average of the told
    /// answers' times, each weighing an eighth (as TCP's smoothed round-trip time).
    usual: Option<Duration>,
}

impl Gcra {
    /// Reserves the earliest slot at or after `now`: a hole, else the next slot GCRA gives.
    /// `told`: the caller will tell the attempt's answer ([`Gcra::answered`]).
    pub(super) fn reserve(&mut self, now: Instant, quota: Spacing, told: bool) -> Ticket {
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
                departed: self.depart(now, quota, told).is_ok(),
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
    /// GCRA over the departures before it; else the instant from which it will. After a
    /// pause, with burst 1, it also waits for the answer to the departure that ended it, when
    /// that answer will be told, for at most an interval past its own turn (asking again
    /// every eighth of an interval, 1 to 50 ms, meanwhile): a request sent while that
    /// connection opens would open its own and arrive as unevenly. `told`: this caller will
    /// tell its answer.
    pub(super) fn depart(
        &mut self,
        now: Instant,
        quota: Spacing,
        told: bool,
    ) -> Result<(), Instant> {
        if let Some(Opening { at, holds: true }) = self.opening
            && let Some(until) = at.checked_add(quota.interval.saturating_mul(2))
            && now < until
        {
            let poll =
                (quota.interval / 8).clamp(Duration::from_millis(1), Duration::from_millis(50));
            return Err(now.checked_add(poll).map_or(until, |t| t.min(until)));
        }
        if let Some(tat) = self.departed {
            let earliest = tat.checked_sub(quota.tolerance).unwrap_or(now);
            if earliest > now {
                return Err(earliest);
            }
        }
        self.go(now, quota, told);
        Ok(())
    }

    /// Counts a departure at `now`, conforming or not (the caller waited some other way).
    pub(super) fn go(&mut self, now: Instant, quota: Spacing, told: bool) {
        // After a pause: none for two intervals, the one before left at `TAT - interval`. Not
        // right after one that ended a pause and is still unanswered (within three intervals
        // of it): this one waited for it, and waiting must not make a pause of its own.
        let waited = self.opening.is_some_and(|o| {
            o.holds
                && o.at
                    .checked_add(quota.interval.saturating_mul(3))
                    .is_none_or(|t| now < t)
        });
        let paused = !waited
            && self
                .departed
                .is_none_or(|tat| tat.checked_add(quota.interval).is_some_and(|t| t <= now));
        // A connection still opening is not there to reuse: this one opens its own.
        // Only a bucket of burst 1 refuses the early one; a burst goes out at once.
        self.opening = if paused {
            Some(Opening {
                at: now,
                holds: told && quota.tolerance.is_zero(),
            })
        } else {
            self.opening.map(|_| Opening {
                at: now,
                holds: false,
            })
        };
        let start = self.departed.map_or(now, |t| t.max(now));
        self.departed = Some(start.checked_add(quota.interval).unwrap_or(start));
        self.latest = Some(now);
    }

    /// The answer to the attempt that left at `sent` came at `now`.
    ///
    /// When that attempt may have opened a connection and no other has left since, the next
    /// leaves an interval after the answer rather than after the departure: the first request
    /// after a pause opens a connection (TCP, a TLS handshake) and reaches the server that
    /// much later than it left, while the next one, on the open connection, would not, and a
    /// bucket of burst 1 would refuse it. The cost is one answer's time, once per pause.
    ///
    /// Any other answer to the latest departure, with burst 1, passes its lateness on: the
    /// time it took beyond the usual answer's is time the request may have waited before the
    /// server stamped it (a busy machine's scheduler, the client's or the server's), and the
    /// next request, on time, would arrive early against it. So the next departure moves as
    /// far (the first such answer, with no usual time yet, by all of its time). The cost is
    /// the answers' spread: what an answer takes beyond the average, when it comes before the
    /// next departure (none for answers slower than an interval).
    pub(super) fn answered(&mut self, sent: Instant, now: Instant, quota: Spacing) {
        if self.opening.is_some_and(|o| o.at <= sent) {
            self.opening = None;
            let next = now.checked_add(quota.interval).unwrap_or(now);
            self.departed = Some(self.departed.map_or(next, |t| t.max(next)));
            return;
        }
        // The first such answer has nothing to be measured against: all of its time counts
        // (as an opening's does), once.
        let took = now.saturating_duration_since(sent);
        let late = took.saturating_sub(self.usual.unwrap_or_default());
        let usual = self
            .usual
            .map_or(took, |usual| usual - usual / 8 + took / 8);
        self.usual = Some(usual);
        if quota.tolerance.is_zero()
            && !late.is_zero()
            && self.latest.is_some_and(|latest| latest <= sent)
            && let Some(tat) = self.departed
        {
            self.departed = Some(tat.checked_add(late).unwrap_or(tat));
        }
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
mod tests;
