//! What the pacer and its backends share: the clock, a lock that shrugs off poisoning, and a
//! borrowed or held lane of an adaptive backend.

use std::sync::{Arc, Mutex, PoisonError};

/// The clock the pacers read: tokio's with the `tokio` feature (so `tokio::time::pause`
/// governs pacing), else the standard monotonic clock.
#[cfg(feature = "tokio")]
pub(crate) type Instant = tokio::time::Instant;
#[cfg(not(feature = "tokio"))]
pub(crate) type Instant = std::time::Instant;

/// An instant on the pacers' clock: what [`Pacer::now`](crate::Pacer::now) reads and
/// [`Pacer::observe`](crate::Pacer::observe) takes as an attempt's start.
///
/// One type whatever the features. With the `tokio` feature the pacers read tokio's clock, so
/// under `tokio::time::pause` this instant is the paused clock's (a `std::time::Instant::now()`
/// would not be): read it with [`PacerInstant::now`] or [`Pacer::now`](crate::Pacer::now).
/// It converts to and from `std::time::Instant` (and `tokio::time::Instant` with the feature),
/// and adds and subtracts `Duration`s like them.
///
/// ```
/// use std::time::Duration;
/// use backoff_core::PacerInstant;
///
/// let sent = PacerInstant::now();
/// let later = sent + Duration::from_millis(250);
/// assert_eq!(later - sent, Duration::from_millis(250));
/// assert_eq!(sent.saturating_duration_since(later), Duration::ZERO);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct PacerInstant(pub(crate) Instant);

impl PacerInstant {
    /// The pacers' clock now.
    pub fn now() -> PacerInstant {
        PacerInstant(Instant::now())
    }

    /// The same instant as a `std::time::Instant`.
    pub fn into_std(self) -> std::time::Instant {
        #[cfg(feature = "tokio")]
        return self.0.into_std();
        #[cfg(not(feature = "tokio"))]
        return self.0;
    }

    /// The pacers' instant for a `std::time::Instant`.
    pub fn from_std(instant: std::time::Instant) -> PacerInstant {
        #[cfg(feature = "tokio")]
        return PacerInstant(Instant::from_std(instant));
        #[cfg(not(feature = "tokio"))]
        return PacerInstant(instant);
    }

    /// The time from `earlier` to this instant, zero if `earlier` is later (as
    /// `std::time::Instant::duration_since` does).
    pub fn duration_since(self, earlier: PacerInstant) -> std::time::Duration {
        self.saturating_duration_since(earlier)
    }

    /// The time from this instant to the pacers' clock now.
    pub fn elapsed(self) -> std::time::Duration {
        PacerInstant::now().saturating_duration_since(self)
    }

    /// The time from `earlier` to this instant, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: PacerInstant) -> std::time::Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// This instant plus `duration`, `None` past the clock's range.
    pub fn checked_add(self, duration: std::time::Duration) -> Option<PacerInstant> {
        self.0.checked_add(duration).map(PacerInstant)
    }

    /// This instant minus `duration`, `None` before the clock's range.
    pub fn checked_sub(self, duration: std::time::Duration) -> Option<PacerInstant> {
        self.0.checked_sub(duration).map(PacerInstant)
    }
}

impl std::ops::Add<std::time::Duration> for PacerInstant {
    type Output = PacerInstant;
    fn add(self, duration: std::time::Duration) -> PacerInstant {
        PacerInstant(self.0 + duration)
    }
}

impl std::ops::AddAssign<std::time::Duration> for PacerInstant {
    fn add_assign(&mut self, duration: std::time::Duration) {
        self.0 += duration;
    }
}

impl std::ops::Sub<std::time::Duration> for PacerInstant {
    type Output = PacerInstant;
    fn sub(self, duration: std::time::Duration) -> PacerInstant {
        PacerInstant(self.0 - duration)
    }
}

impl std::ops::SubAssign<std::time::Duration> for PacerInstant {
    fn sub_assign(&mut self, duration: std::time::Duration) {
        self.0 -= duration;
    }
}

/// The time between two instants; zero if `earlier` is later (as `std::time::Instant` does).
impl std::ops::Sub<PacerInstant> for PacerInstant {
    type Output = std::time::Duration;
    fn sub(self, earlier: PacerInstant) -> std::time::Duration {
        self.saturating_duration_since(earlier)
    }
}

impl From<std::time::Instant> for PacerInstant {
    fn from(instant: std::time::Instant) -> PacerInstant {
        PacerInstant::from_std(instant)
    }
}

impl From<PacerInstant> for std::time::Instant {
    fn from(instant: PacerInstant) -> std::time::Instant {
        instant.into_std()
    }
}

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl From<tokio::time::Instant> for PacerInstant {
    fn from(instant: tokio::time::Instant) -> PacerInstant {
        PacerInstant(instant)
    }
}

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl From<PacerInstant> for tokio::time::Instant {
    fn from(instant: PacerInstant) -> tokio::time::Instant {
        instant.0
    }
}

/// A lane of an adaptive backend (one learned rate and its queue) borrowed from the backend,
/// or held (keyed: it is not swept while held).
pub(crate) enum AnyLane<'a, L> {
    Shared(&'a L),
    Keyed(Arc<L>),
}

impl<L> std::ops::Deref for AnyLane<'_, L> {
    type Target = L;
    fn deref(&self) -> &L {
        match self {
            AnyLane::Shared(lane) => lane,
            AnyLane::Keyed(lane) => lane,
        }
    }
}

/// No user code runs under these locks, but a poisoned one is still usable: the schedule is
/// consistent between calls.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
