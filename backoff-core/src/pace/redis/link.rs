//! The connection to Redis of one pacer (fixed or adaptive) and what it knows of Redis's
//! health: outages, the probe, the warnings and the all-clear.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, RedisResult};

use crate::pace::common::lock;

type StdInstant = std::time::Instant;

/// How often a pacer whose Redis is out tries it again.
pub(crate) const PROBE_EVERY: Duration = Duration::from_millis(500);

/// How long Redis must answer without a failure before an outage is declared over.
pub(crate) const STEADY: Duration = Duration::from_secs(2);

/// How long a reply is awaited after its caller gave up on it, so that its slot goes back: a
/// frozen Redis holds at most this many seconds of probes (one each 500 ms) unanswered.
pub(crate) const LATE_REPLY: Duration = Duration::from_secs(60);

/// The least time between two warnings of one kind about what a pacer found in Redis.
pub(super) const WARN_EVERY: Duration = Duration::from_secs(60);

/// What a pacer does while Redis does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnOutage {
    /// Pace locally at the same rate (each process on its own) until Redis answers.
    PaceLocally,
    /// Wait for Redis.
    Wait,
}

/// Redis's health as a pacer sees it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Health {
    /// Redis answers (since `since`: a failure of a request sent before says nothing new).
    Up { since: Option<StdInstant> },
    /// An outage that began at `began`, down since `since`: callers go on without Redis and
    /// one every `PROBE_EVERY` asks it.
    Down {
        began: StdInstant,
        since: StdInstant,
        next_probe: StdInstant,
    },
    /// Redis answers again since `since`, after an outage that began at `began`: callers use
    /// it; the outage is over once it has answered for `STEADY` without a failure.
    Back {
        began: StdInstant,
        since: StdInstant,
    },
}

/// What a pacer found in Redis that it had not written: one warning of each kind a minute.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Found {
    Foreign,
    Corrupt,
    Mismatch,
    Lost,
}

/// The connection to Redis of one pacer (fixed or adaptive) and what it knows of Redis's
/// health: its connections, the outage state, the warning and the all-clear.
pub(crate) struct Link {
    pub(crate) client: Client,
    /// The budget's key; a keyed budget appends `:<key>`.
    pub(crate) key: String,
    pub(crate) timeout: Duration,
    pub(crate) on_outage: OnOutage,
    /// What the pacer does on its own during an outage, and through Redis after it, for the
    /// log lines.
    doing: (&'static str, &'static str),
    /// Made on the first async use (it needs a tokio runtime); it reconnects.
    manager: OnceLock<Option<ConnectionManager>>,
    /// The blocking form's own connection (adaptive pacers); dropped after an error and made
    /// again.
    pub(crate) blocking: Mutex<Option<redis::Connection>>,
    /// Whether callers go without Redis (`Health::Down`; the fast path of `health`).
    down: AtomicBool,
    /// Whether `health` is anything but `Up` (the fast path of `answered`).
    unsettled: AtomicBool,
    health: Mutex<Health>,
    /// Wakes the callers waiting for Redis (failing closed) when a probe is answered.
    back: tokio::sync::Notify,
    /// When each kind of [`Found`] was last warned about.
    warned: Mutex<[Option<StdInstant>; 4]>,
}

impl Link {
    /// `doing`: what the pacer does alone during an outage and through Redis after it.
    pub(crate) fn new(
        client: Client,
        key: String,
        timeout: Duration,
        on_outage: OnOutage,
        doing: (&'static str, &'static str),
    ) -> Self {
        Link {
            client,
            key,
            timeout,
            on_outage,
            doing,
            manager: OnceLock::new(),
            blocking: Mutex::new(None),
            down: AtomicBool::new(false),
            unsettled: AtomicBool::new(false),
            health: Mutex::new(Health::Up { since: None }),
            back: tokio::sync::Notify::new(),
            warned: Mutex::new([None; 4]),
        }
    }

    /// Whether callers go without Redis (an outage, until a probe is answered).
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// Whether to ask Redis now: always, except during an outage, where one caller per
    /// `PROBE_EVERY` does (failing closed too: the others wait for its answer).
    pub(crate) fn should_try(&self) -> bool {
        if !self.down.load(Ordering::Acquire) {
            return true;
        }
        let now = StdInstant::now();
        let mut health = lock(&self.health);
        match &mut *health {
            Health::Down { next_probe, .. } if *next_probe > now => false,
            Health::Down { next_probe, .. } => {
                *next_probe = now + PROBE_EVERY;
                true
            }
            _ => true,
        }
    }

    /// How long until the next probe (zero when Redis is not out).
    pub(crate) fn until_probe(&self) -> Duration {
        match *lock(&self.health) {
            Health::Down { next_probe, .. } => {
                next_probe.saturating_duration_since(StdInstant::now())
            }
            _ => Duration::ZERO,
        }
    }

    /// Waits (failing closed, on tokio's clock) until the next probe is due or a probe is
    /// answered.
    pub(crate) async fn wait_for_probe(&self) {
        let back = self.back.notified();
        let mut back = std::pin::pin!(back);
        back.as_mut().enable();
        if !self.is_down() {
            return;
        }
        let wait = self.until_probe().max(Duration::from_millis(1));
        let mut sleep = std::pin::pin!(tokio::time::sleep(wait));
        std::future::poll_fn(|cx| {
            if back.as_mut().poll(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
            sleep.as_mut().poll(cx)
        })
        .await;
    }

    /// The blocking form of [`wait_for_probe`](Link::wait_for_probe): sleeps until the next
    /// probe is due.
    pub(crate) fn wait_for_probe_blocking(&self) {
        std::thread::sleep(self.until_probe().max(Duration::from_millis(1)));
    }

    /// Redis answered a request sent at `asked`: a probe ends the outage's pacing without
    /// Redis; answers for `STEADY` end the outage (one `INFO` line).
    pub(crate) fn answered(&self, asked: StdInstant) {
        if !self.unsettled.load(Ordering::Acquire) {
            return;
        }
        let now = StdInstant::now();
        let mut health = lock(&self.health);
        match *health {
            Health::Up { .. } => {}
            Health::Down { began, since, .. } => {
                if asked >= since {
                    *health = Health::Back { began, since: now };
                    self.down.store(false, Ordering::Release);
                    self.back.notify_waiters();
                }
            }
            Health::Back { began, since } => {
                if now.saturating_duration_since(since) >= STEADY {
                    *health = Health::Up { since: Some(now) };
                    self.unsettled.store(false, Ordering::Release);
                    tracing::info!(
                        target: "backoff",
                        "Redis at {} answers again after {:.1}s; {} `{}` through it",
                        self.client.get_connection_info().addr(),
                        since.saturating_duration_since(began).as_secs_f64(),
                        self.doing.1,
                        self.key,
                    );
                }
            }
        }
    }

    /// Redis did not answer a request sent at `asked`: an outage (one warning for it, however
    /// often Redis answers and fails again before it has answered for `STEADY`).
    pub(crate) fn failed(&self, asked: StdInstant, error: &RedisError) {
        let now = StdInstant::now();
        let mut health = lock(&self.health);
        match *health {
            Health::Up { since } => {
                if since.is_some_and(|since| asked < since) {
                    return;
                }
                *health = Health::Down {
                    began: now,
                    since: now,
                    next_probe: now + PROBE_EVERY,
                };
                self.unsettled.store(true, Ordering::Release);
                self.down.store(true, Ordering::Release);
                let instead = match self.on_outage {
                    OnOutage::PaceLocally => self.doing.0,
                    OnOutage::Wait => "waiting for it (fail closed)",
                };
                tracing::warn!(
                    target: "backoff",
                    "Redis at {} did not answer ({error}); {instead} for `{}` until it does",
                    self.client.get_connection_info().addr(),
                    self.key,
                );
            }
            Health::Back { began, since } => {
                if asked >= since {
                    *health = Health::Down {
                        began,
                        since: now,
                        next_probe: now + PROBE_EVERY,
                    };
                    self.down.store(true, Ordering::Release);
                }
            }
            Health::Down { .. } => {}
        }
    }

    /// Warns about something found in Redis (the message names the key), unless a warning of
    /// the same kind was given within the last minute.
    pub(crate) fn warn_found(&self, found: Found, message: fmt::Arguments<'_>) {
        let now = StdInstant::now();
        {
            let mut warned = lock(&self.warned);
            let last = &mut warned[found as usize];
            if last.is_some_and(|at| now.saturating_duration_since(at) < WARN_EVERY) {
                return;
            }
            *last = Some(now);
        }
        tracing::warn!(target: "backoff", "{message}");
    }

    /// The connection manager, made on first use (it needs a tokio runtime).
    pub(crate) fn manager(&self) -> RedisResult<ConnectionManager> {
        let manager = self.manager.get_or_init(|| {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(self.timeout))
                // No response timeout: the pacer bounds each caller's wait itself, and a reply
                // that comes later is still read, so that its slot can be given back.
                .set_response_timeout(None)
                // One attempt per reconnection: the pacer's probes are the retries.
                .set_number_of_retries(0);
            // Fails only on settings this config does not use (resubscription).
            ConnectionManager::new_lazy_with_config(self.client.clone(), config).ok()
        });
        manager.clone().ok_or_else(|| {
            RedisError::from((
                redis::ErrorKind::Client,
                "could not set up the Redis connection manager",
            ))
        })
    }
}

pub(crate) fn timed_out() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "no answer within the pacer's timeout",
    ))
}
