//! What refusals prove whatever the bucket's depth, and the descent they drive: the bound on
//! the limit at each refusal, the depth it implies, the faster descent after slow start
//! overshot, and the return when an acceptance ends the descent.

use std::time::Duration;

use super::drain::Drain;
use super::state::{
    ControllerState, DEEP, EDGE, FAST_DESCENT, IN_A_ROW, OVERSHOOT, OVERSHOT_DESCENT,
    OVERSHOT_IN_A_ROW, min_opt,
};
use crate::pace::common::Instant;

impl ControllerState {
    /// What a refusal started at `sent` proves of the bucket's depth: it gave
    /// `accepted_total` tokens from the first start to this one, at most its depth plus what
    /// it earned meanwhile, and now holds less than one; the limit is under one token per
    /// `since_accepted` (and under the smallest such bound seen in the drain window), so the
    /// depth is over `accepted_total - 1 - elapsed × that bound`.
    pub(super) fn deepen(&mut self, sent: Instant, since_accepted: Option<Duration>) {
        let since = since_accepted.map_or(0.0, |d| d.as_secs_f64());
        if let Some(first) = self.first_sent
            && since > 0.0
        {
            let elapsed = sent.saturating_duration_since(first).as_secs_f64();
            let limit = self
                .drain
                .as_ref()
                .and_then(|d| d.since_upper)
                .map_or(1.0 / since, |u| u.min(1.0 / since));
            let depth = f64::from(self.accepted_total) - 1.0 - elapsed * limit;
            self.depth = self.depth.max(depth);
        }
    }

    /// What a refusal started at `sent` proves whatever rate it was sent at: the bucket held
    /// less than one token then. Since the last accepted start it held at least none, so the
    /// limit is under one token per `since_accepted`; since any attempt in the drain window
    /// (opened by a refusal), the tokens it gave are the accepted starts, so the limit is
    /// under (accepted since + 1) per the time since ([`Drain::upper`]). A pace above the
    /// tightest bound goes just under it.
    pub(super) fn bounded(
        &mut self,
        sent: Instant,
        since_accepted: Option<Duration>,
        current: bool,
    ) -> Option<&'static str> {
        let per = |d: Duration, tokens: f64| {
            let secs = d.as_secs_f64();
            (secs > 0.0).then(|| tokens / secs)
        };
        let window = match &mut self.drain {
            None => {
                self.drain = Some(Drain::open(sent));
                None
            }
            Some(drain) => {
                drain.record(sent, false);
                drain.upper(sent)
            }
        };
        let since = since_accepted.and_then(|d| per(d, 1.0));
        if let (Some(drain), Some(since)) = (self.drain.as_mut(), since) {
            drain.since_upper = Some(drain.since_upper.map_or(since, |u| u.min(since)));
        }
        // Over the drain window the bucket may have refilled to the full where it earns
        // nothing (a bucket of depth 1 does so at every pause longer than its interval): its
        // count bounds the limit only when the bucket is deep.
        let window = window.filter(|_| self.depth >= DEEP);
        let upper = min_opt(window, since)?;
        // The server's word wins over what its refusals imply (a shared quota, clocks apart).
        if self.hint.is_some() {
            return None;
        }
        self.bad = Some(self.bad.map_or(upper, |b| b.min(upper)));
        // Refusals back to back with nothing accepted between: the pace is far above the
        // limit (a deep bucket's stored tokens hid it), and following the bound down would
        // halve once per refusal. 0.6 of it multiplies the time since the last accepted start
        // by 2.7 instead: a limit 64 times lower is found in four refusals, not six.
        if current {
            self.refused_in_row = self.refused_in_row.saturating_add(1);
        }
        // Far above what the server gave on average since the first start, slow start rode a
        // deep bucket's stored tokens (to 64/s for a limit of 1/s): descend faster, from the
        // second refusal, to half the bound and no faster than that average. Against nginx's
        // `burst=5 nodelay` at 1r/s, 4 or 5 refusals down instead of 5 or 6.
        let average = self.first_sent.map(|first| {
            f64::from(self.accepted_total) / sent.saturating_duration_since(first).as_secs_f64()
        });
        let average = average.filter(|a| a.is_finite());
        if self.accepted_total >= 2
            && self
                .search
                .zip(average)
                .is_some_and(|(rate, average)| rate > OVERSHOOT * average)
        {
            self.overshot = true;
        }
        let under = if self.overshot && self.refused_in_row >= OVERSHOT_IN_A_ROW {
            (upper * OVERSHOT_DESCENT).min(average.unwrap_or(f64::INFINITY))
        } else if self.refused_in_row >= IN_A_ROW {
            upper * FAST_DESCENT
        } else {
            upper * EDGE
        };
        if self.search.is_none_or(|r| r <= under) {
            return None;
        }
        self.search = Some(under);
        self.good = self.good.filter(|g| *g <= under);
        self.slow_start = false;
        self.streak = 0;
        Some("refusals bound the limit")
    }

    /// An accepted attempt after refusals in a row: when they were enough to pace at
    /// [`FAST_DESCENT`] of their bound (which overshoots), back to just under the last bound:
    /// a deep bucket paced far under its limit fills, and its stored tokens would hide any
    /// probe back up for a long while.
    pub(super) fn descended(&mut self) -> Option<&'static str> {
        // After an overshoot, the first acceptance after the first refusal most often found
        // the bucket about to earn its token as that refusal came: it does not end the descent.
        if self.overshot && self.drain.as_ref().is_some_and(|d| d.accepted() < 2) {
            return None;
        }
        let in_row = std::mem::take(&mut self.refused_in_row);
        let in_a_row = if std::mem::take(&mut self.overshot) {
            OVERSHOT_IN_A_ROW
        } else {
            IN_A_ROW
        };
        if in_row < in_a_row || self.hint.is_some() {
            return None;
        }
        let under = self.bad? * EDGE;
        if self.search.is_some_and(|r| r >= under) {
            return None;
        }
        self.search = Some(under);
        self.good = None;
        self.streak = 0;
        Some("descent ended")
    }
}
