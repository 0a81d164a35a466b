//! The fixed-rate backend in this process's memory: one GCRA schedule, and one per key
//! forgotten once idle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::common::{Instant, lock};
use super::gcra::{Gcra, Spacing, Ticket};

/// Schedules kept in this process's memory.
pub(super) struct Local {
    pub(super) shared: Mutex<Gcra>,
    pub(super) keyed: Mutex<Keyed>,
}

/// One schedule per key, forgotten once idle. (A reservation that outlives its key's
/// schedule holds a slot that has passed, which is never given back, so it cannot disturb the
/// key's next schedule.)
#[derive(Default)]
pub(super) struct Keyed {
    map: HashMap<Arc<str>, Entry>,
    /// Sweep idle schedules when the map reaches this size.
    sweep_at: usize,
}

struct Entry {
    /// The map's key, shared with the reservations made on this schedule.
    name: Arc<str>,
    schedule: Gcra,
}

/// The smallest map size that triggers a sweep of idle keys.
pub(super) const MIN_SWEEP: usize = 64;

impl Local {
    /// The keyed schedules kept.
    #[cfg(test)]
    pub(super) fn keys(&self) -> usize {
        lock(&self.keyed).map.len()
    }

    /// Whether a schedule is kept for `key`.
    #[cfg(test)]
    pub(super) fn has_key(&self, key: &str) -> bool {
        lock(&self.keyed).map.contains_key(key)
    }

    pub(super) fn new() -> Self {
        Local {
            shared: Mutex::new(Gcra::default()),
            keyed: Mutex::new(Keyed::default()),
        }
    }

    pub(super) fn reserve(
        &self,
        key: Option<&str>,
        now: Instant,
        quota: Spacing,
        told: bool,
    ) -> (Ticket, Option<Arc<str>>) {
        let Some(key) = key else {
            let ticket = lock(&self.shared).reserve(now, quota, told);
            return (ticket, None);
        };
        let mut keyed = lock(&self.keyed);
        let keyed = &mut *keyed;
        if let Some(entry) = keyed.map.get_mut(key) {
            let ticket = entry.schedule.reserve(now, quota, told);
            return (ticket, Some(Arc::clone(&entry.name)));
        }
        if keyed.map.len() >= keyed.sweep_at.max(MIN_SWEEP) {
            keyed.map.retain(|_, e| !e.schedule.is_idle(now));
            keyed.sweep_at = keyed.map.len().saturating_mul(2);
        }
        let mut schedule = Gcra::default();
        let ticket = schedule.reserve(now, quota, told);
        let name: Arc<str> = Arc::from(key);
        let entry = Entry {
            name: Arc::clone(&name),
            schedule,
        };
        keyed.map.insert(Arc::clone(&name), entry);
        (ticket, Some(name))
    }

    /// [`Gcra::depart`] on the key's schedule (a schedule forgotten meanwhile had nothing
    /// left to constrain).
    pub(super) fn depart(
        &self,
        key: Option<&Arc<str>>,
        now: Instant,
        quota: Spacing,
        told: bool,
    ) -> Result<(), Instant> {
        match key {
            None => lock(&self.shared).depart(now, quota, told),
            Some(key) => lock(&self.keyed)
                .map
                .get_mut(key)
                .map_or(Ok(()), |entry| entry.schedule.depart(now, quota, told)),
        }
    }

    /// [`Gcra::go`] on the key's schedule.
    pub(super) fn go(&self, key: Option<&Arc<str>>, now: Instant, quota: Spacing, told: bool) {
        match key {
            None => lock(&self.shared).go(now, quota, told),
            Some(key) => {
                if let Some(entry) = lock(&self.keyed).map.get_mut(key) {
                    entry.schedule.go(now, quota, told);
                }
            }
        }
    }

    /// [`Gcra::answered`] on the key's schedule.
    pub(super) fn answered(&self, key: Option<&str>, sent: Instant, now: Instant, quota: Spacing) {
        match key {
            None => lock(&self.shared).answered(sent, now, quota),
            Some(key) => {
                if let Some(entry) = lock(&self.keyed).map.get_mut(key) {
                    entry.schedule.answered(sent, now, quota);
                }
            }
        }
    }

    pub(super) fn give_back(&self, ticket: Ticket, key: Option<Arc<str>>, quota: Spacing) {
        let now = Instant::now();
        match key {
            None => lock(&self.shared).give_back(ticket, now, quota),
            Some(key) => {
                if let Some(entry) = lock(&self.keyed).map.get_mut(&key) {
                    entry.schedule.give_back(ticket, now, quota);
                }
            }
        }
    }
}
