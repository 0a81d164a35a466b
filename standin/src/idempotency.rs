//! Idempotency keys, kept the way payment and messaging APIs keep them: a repeated key with the
//! same body gets the original answer without the work being done again, the same key with
//! another body is refused (422), and a key is forgotten after a while (24 h) or when the store
//! is full (oldest first).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a key is kept: 24 hours.
pub const KEY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How many keys are kept at most.
pub const KEY_CAPACITY: usize = 100_000;

/// What a request with a key finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A key not seen (or forgotten): do the work, then [`IdempotencyStore::insert`].
    New,
    /// The same key with the same body: answer the original id again.
    Replay(String),
    /// The same key with another body: refuse it.
    Conflict,
}

struct Entry {
    body: Value,
    id: String,
    at: Instant,
}

/// Keys with the body and the id of their first answer; bounded in age and number.
pub struct IdempotencyStore {
    ttl: Duration,
    capacity: usize,
    entries: HashMap<String, Entry>,
    /// Keys in the order they were stored, with when.
    order: VecDeque<(Instant, String)>,
}

impl IdempotencyStore {
    /// A store keeping keys `ttl` long, `capacity` at most (at least 1).
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        IdempotencyStore {
            ttl,
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Keys kept now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets keys older than the TTL at `now`, and the oldest beyond the capacity.
    fn prune(&mut self, now: Instant) {
        while let Some((at, key)) = self.order.front() {
            let expired = now.saturating_duration_since(*at) >= self.ttl;
            if !expired && self.order.len() <= self.capacity {
                break;
            }
            // The entry may have been replaced since; only remove the one stored then.
            if self.entries.get(key).is_some_and(|e| e.at == *at) {
                self.entries.remove(key);
            }
            self.order.pop_front();
        }
    }

    /// What a request with `key` and `body` finds at `now`.
    pub fn lookup(&mut self, key: &str, body: &Value, now: Instant) -> Lookup {
        self.prune(now);
        match self.entries.get(key) {
            None => Lookup::New,
            Some(e) if e.body == *body => Lookup::Replay(e.id.clone()),
            Some(_) => Lookup::Conflict,
        }
    }

    /// Stores the answer `id` for `key` and `body`, at `now`.
    pub fn insert(&mut self, key: &str, body: Value, id: String, now: Instant) {
        self.entries
            .insert(key.to_owned(), Entry { body, id, at: now });
        self.order.push_back((now, key.to_owned()));
        self.prune(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_key_same_body_replays_another_body_conflicts() {
        let mut store = IdempotencyStore::new(KEY_TTL, 10);
        let t0 = Instant::now();
        let body = json!({ "to": "447700900001", "client_ref": "k1" });
        assert_eq!(store.lookup("k1", &body, t0), Lookup::New);
        store.insert("k1", body.clone(), "id-1".to_owned(), t0);
        assert_eq!(
            store.lookup("k1", &body, t0 + Duration::from_secs(5)),
            Lookup::Replay("id-1".to_owned())
        );
        let other = json!({ "to": "447700900002", "client_ref": "k1" });
        assert_eq!(store.lookup("k1", &other, t0), Lookup::Conflict);
        assert_eq!(store.lookup("k2", &other, t0), Lookup::New);
    }

    #[test]
    fn keys_expire_after_the_ttl() {
        let mut store = IdempotencyStore::new(KEY_TTL, 10);
        let t0 = Instant::now();
        let body = json!({ "n": 1 });
        store.insert("k", body.clone(), "id".to_owned(), t0);
        let almost = t0 + KEY_TTL - Duration::from_secs(1);
        assert_eq!(
            store.lookup("k", &body, almost),
            Lookup::Replay("id".to_owned())
        );
        assert_eq!(store.lookup("k", &body, t0 + KEY_TTL), Lookup::New);
        assert!(store.is_empty());
    }

    #[test]
    fn the_store_is_bounded_oldest_first() {
        let mut store = IdempotencyStore::new(KEY_TTL, 3);
        let t0 = Instant::now();
        for i in 0..5u64 {
            let at = t0 + Duration::from_secs(i);
            store.insert(&format!("k{i}"), json!(i), format!("id{i}"), at);
        }
        assert_eq!(store.len(), 3);
        let now = t0 + Duration::from_secs(5);
        assert_eq!(store.lookup("k1", &json!(1), now), Lookup::New);
        assert_eq!(
            store.lookup("k2", &json!(2), now),
            Lookup::Replay("id2".to_owned())
        );
        assert_eq!(
            store.lookup("k4", &json!(4), now),
            Lookup::Replay("id4".to_owned())
        );
    }
}
