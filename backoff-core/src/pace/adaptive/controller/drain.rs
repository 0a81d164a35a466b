//! What a bucket's answers prove of its rate once it was found short of a token: the starts
//! of the attempts since, accepted or refused, and the bounds they put on the limit.
//!
//! After any attempt the bucket holds at least no token, and at a refusal less than one. So
//! between an attempt `a` and a later refusal `b` with `m` accepted starts between them, the
//! bucket earned less than `m + 1` tokens: the limit is under `(m + 1) / (b - a)`. With
//! `m = 0` that is what the time since the last accepted start says, and from the refusal
//! that opened the window, what the window's count says. The tightest comes from an
//! acceptance that found the bucket a hair over one token, most often the first one after a
//! refusal: in a real run against nginx's `burst=5 nodelay` at 1r/s, the window's count
//! bounded the limit at 1.31, 1.27, 1.13, then 1.04/s after the descent from slow start, one
//! refusal each, where that acceptance bounded it at 1.04/s from the second of them.
//! The bounds hold while the bucket did not fill to the full between the two (it then earns
//! nothing): on a deep bucket, paced.

use std::collections::VecDeque;

use crate::pace::common::Instant;

/// Attempts kept: the oldest go past this many (a bound from further back is rarely tighter:
/// it is one token over the window's length, and the window is long by then).
const MAX_EVENTS: usize = 128;

#[derive(Debug, Clone)]
pub(super) struct Drain {
    /// Each attempt's start and whether it was accepted, in the order of the starts.
    events: VecDeque<(Instant, bool)>,
    /// Accepted starts after the refusal that opened the window (the oldest kept or not).
    accepted: u32,
    /// The smallest bound the time since the last accepted start put on the limit at a
    /// refusal in the window (valid whatever the bucket's depth).
    pub(super) since_upper: Option<f64>,
}

impl Drain {
    /// A window opened by a refusal started at `at`.
    pub(super) fn open(at: Instant) -> Drain {
        Drain {
            events: VecDeque::from([(at, false)]),
            accepted: 0,
            since_upper: None,
        }
    }

    /// When the refusal that opened the window started (or the oldest attempt kept).
    pub(super) fn opened(&self) -> Option<Instant> {
        self.events.front().map(|e| e.0)
    }

    pub(super) fn accepted(&self) -> u32 {
        self.accepted
    }

    /// Records an attempt started at `sent`; before the window opened, it says nothing.
    pub(super) fn record(&mut self, sent: Instant, accepted: bool) {
        if self.opened().is_none_or(|at| sent < at) {
            return;
        }
        let i = self.events.partition_point(|e| e.0 <= sent);
        self.events.insert(i, (sent, accepted));
        if accepted {
            self.accepted = self.accepted.saturating_add(1);
        }
        while self.events.len() > MAX_EVENTS {
            self.events.pop_front();
        }
    }

    /// The tightest bound a refusal started at `sent` puts on the limit from any attempt
    /// before it with one accepted start between them at least.
    pub(super) fn upper(&self, sent: Instant) -> Option<f64> {
        let mut between = 0u32;
        let mut best: Option<f64> = None;
        for &(at, ok) in self.events.iter().rev() {
            if at >= sent {
                continue;
            }
            let secs = sent.saturating_duration_since(at).as_secs_f64();
            if between > 0 && secs > 0.0 {
                let bound = (f64::from(between) + 1.0) / secs;
                best = Some(best.map_or(bound, |b| b.min(bound)));
            }
            if ok {
                between += 1;
            }
        }
        best
    }
}
