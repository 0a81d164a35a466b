//! What the pacer and its backends share: the clock, a lock that shrugs off poisoning, and a
//! borrowed or held lane of an adaptive backend.

use std::sync::{Arc, Mutex, PoisonError};

/// The pacers' clock ([`Pacer::now`](crate::Pacer::now)): `tokio::time::Instant` with the `tokio` feature (so
/// `tokio::time::pause` governs pacing), else `std::time::Instant`.
#[cfg(feature = "tokio")]
pub type PacerInstant = tokio::time::Instant;
/// The pacers' clock ([`Pacer::now`](crate::Pacer::now)): `tokio::time::Instant` with the `tokio` feature (so
/// `tokio::time::pause` governs pacing), else `std::time::Instant`.
#[cfg(not(feature = "tokio"))]
pub type PacerInstant = std::time::Instant;
pub(crate) type Instant = PacerInstant;

/// A lane of an adaptive backend (one learned rate and its queue) borrowed from the backend,
/// or held (keyed: it is not swept while held).
pub(crate) enum LaneRef<'a, L> {
    Shared(&'a L),
    Keyed(Arc<L>),
}

impl<L> std::ops::Deref for LaneRef<'_, L> {
    type Target = L;
    fn deref(&self) -> &L {
        match self {
            LaneRef::Shared(lane) => lane,
            LaneRef::Keyed(lane) => lane,
        }
    }
}

/// No user code runs under these locks, but a poisoned one is still usable: the schedule is
/// consistent between calls.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
