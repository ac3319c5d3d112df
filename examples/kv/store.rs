//! The key-value data: byte-string keys and values with optional expiry times.
//!
//! Time is never read from a clock here: every operation takes `now: Instant`, so tests drive a
//! manual clock and the server passes the event loop's time. Expired keys vanish lazily when
//! touched, and actively through [`Store::expire_due`], which the server calls from a timer set
//! to [`Store::next_expiry`].
//!
//! Values are immutable shared buffers (`Arc<[u8]>`), so a reply can queue the stored value
//! itself instead of a copy (see `resp.rs`). A write never changes bytes a pending reply may
//! still send: it overwrites in place only a buffer nobody else holds and of the same length
//! (the common case of SET and INCR, without an allocation), and otherwise replaces the `Arc`;
//! a reply still holding the old one keeps it alive until it is sent.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::resp::{format_i64, parse_i64};

/// One stored value.
#[derive(Debug)]
struct Entry {
    value: Arc<[u8]>,
    expires_at: Option<Instant>,
}

impl Entry {
    fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// How long a key has left to live, as TTL/PTTL report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// No such key (TTL replies -2).
    Missing,
    /// The key never expires (TTL replies -1).
    Persistent,
    /// The key expires after this long.
    Remaining(Duration),
}

/// What a write does to the key's expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// No expiry (plain SET, MSET).
    Persist,
    /// Expire at this instant (SET ... EX/PX).
    At(Instant),
    /// Keep the existing key's expiry, if any (SET ... KEEPTTL).
    Keep,
}

/// Why an INCR-family operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncrError {
    /// The stored value is not a decimal `i64`.
    NotAnInteger,
    /// The result would not fit in an `i64`.
    Overflow,
}

/// The keyspace.
///
/// Expiry times are also kept in a min-heap. Entries in the heap go stale when a key is deleted
/// or its expiry changes; stale entries are dropped when they reach the top (after every
/// mutation, so [`Store::next_expiry`] is exact) and the heap is rebuilt if they pile up.
#[derive(Debug, Default)]
pub struct Store {
    map: HashMap<Vec<u8>, Entry>,
    expiries: BinaryHeap<Reverse<(Instant, Vec<u8>)>>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// The number of keys, including expired ones not yet removed (call
    /// [`Store::expire_due`] first for an exact count).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the store holds no keys.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The value of `key`, if it exists and has not expired; clone the `Arc` to keep it.
    pub fn get(&mut self, key: &[u8], now: Instant) -> Option<&Arc<[u8]>> {
        self.expire_if_due(key, now);
        self.map.get(key).map(|entry| &entry.value)
    }

    /// Whether `key` exists and has not expired.
    pub fn contains(&mut self, key: &[u8], now: Instant) -> bool {
        self.get(key, now).is_some()
    }

    /// Sets `key` to `value`, with its expiry decided by `expiry`.
    pub fn set(&mut self, key: &[u8], value: &[u8], expiry: Expiry, now: Instant) {
        self.expire_if_due(key, now);
        let decide = |old: Option<Instant>| match expiry {
            Expiry::Persist => None,
            Expiry::At(at) => Some(at),
            Expiry::Keep => old,
        };
        let (old, new) = match self.map.get_mut(key) {
            Some(entry) => {
                overwrite(&mut entry.value, value);
                let old = entry.expires_at;
                entry.expires_at = decide(old);
                (old, entry.expires_at)
            }
            None => {
                let expires_at = decide(None);
                self.map.insert(key.to_vec(), Entry { value: Arc::from(value), expires_at });
                (None, expires_at)
            }
        };
        if old != new {
            self.expiry_changed(key, new);
        }
    }

    /// Deletes `key`; returns whether it existed (and had not expired).
    pub fn remove(&mut self, key: &[u8], now: Instant) -> bool {
        self.expire_if_due(key, now);
        let existed = self.map.remove(key).is_some();
        if existed {
            self.drop_stale_top();
        }
        existed
    }

    /// Sets the expiry of an existing key; an instant not after `now` deletes it at once.
    /// Returns whether the key existed.
    pub fn set_expiry(&mut self, key: &[u8], at: Instant, now: Instant) -> bool {
        self.expire_if_due(key, now);
        if at <= now {
            return self.remove(key, now);
        }
        let Some(entry) = self.map.get_mut(key) else {
            return false;
        };
        entry.expires_at = Some(at);
        self.expiry_changed(key, Some(at));
        true
    }

    /// The remaining time to live of `key`.
    pub fn ttl(&mut self, key: &[u8], now: Instant) -> Ttl {
        self.expire_if_due(key, now);
        match self.map.get(key) {
            None => Ttl::Missing,
            Some(Entry { expires_at: None, .. }) => Ttl::Persistent,
            Some(Entry { expires_at: Some(at), .. }) => Ttl::Remaining(at.duration_since(now)),
        }
    }

    /// Adds `delta` to the decimal integer stored at `key` (a missing key counts as 0), keeping
    /// its expiry; returns the new value.
    pub fn incr_by(&mut self, key: &[u8], delta: i64, now: Instant) -> Result<i64, IncrError> {
        self.expire_if_due(key, now);
        let mut digits = [0; 20];
        if let Some(entry) = self.map.get_mut(key) {
            let current = parse_i64(&entry.value).ok_or(IncrError::NotAnInteger)?;
            let next = current.checked_add(delta).ok_or(IncrError::Overflow)?;
            overwrite(&mut entry.value, format_i64(next, &mut digits));
            return Ok(next);
        }
        let value = Arc::from(format_i64(delta, &mut digits));
        self.map.insert(key.to_vec(), Entry { value, expires_at: None });
        Ok(delta)
    }

    /// Deletes every key.
    pub fn clear(&mut self) {
        self.map.clear();
        self.expiries.clear();
    }

    /// When the next key expires, if any key has an expiry. Exact: stale heap entries are never
    /// left at the top.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.expiries.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes every key whose expiry is not after `now`; returns how many were removed.
    pub fn expire_due(&mut self, now: Instant) -> usize {
        let mut removed = 0;
        while let Some(Reverse((at, _))) = self.expiries.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, key))) = self.expiries.pop() else { break };
            if self.map.get(&key).is_some_and(|entry| entry.expires_at == Some(at)) {
                self.map.remove(&key);
                removed += 1;
            }
        }
        self.drop_stale_top();
        removed
    }

    /// Lazy expiry: removes `key` if it has expired.
    fn expire_if_due(&mut self, key: &[u8], now: Instant) {
        if self.map.get(key).is_some_and(|entry| entry.is_expired(now)) {
            self.map.remove(key);
            self.drop_stale_top();
        }
    }

    /// Records that `key`'s expiry is now `at` (the old heap entry, if any, becomes stale).
    fn expiry_changed(&mut self, key: &[u8], at: Option<Instant>) {
        if let Some(at) = at {
            self.expiries.push(Reverse((at, key.to_vec())));
        }
        if self.expiries.len() > 2 * self.map.len() + 64 {
            self.rebuild_expiries();
        }
        self.drop_stale_top();
    }

    /// Pops heap entries that no longer match their key's expiry until the top is live.
    fn drop_stale_top(&mut self) {
        while let Some(Reverse((at, key))) = self.expiries.peek() {
            if self.map.get(key).is_some_and(|entry| entry.expires_at == Some(*at)) {
                break;
            }
            self.expiries.pop();
        }
    }

    /// Rebuilds the heap from the map, dropping every stale entry.
    fn rebuild_expiries(&mut self) {
        self.expiries = self
            .map
            .iter()
            .filter_map(|(key, entry)| Some(Reverse((entry.expires_at?, key.clone()))))
            .collect();
    }
}

/// Makes `slot` hold `bytes`: in place if nobody else holds the buffer (no pending reply) and
/// the length is the same, else in a new buffer (the old one lives on with its holders).
fn overwrite(slot: &mut Arc<[u8]>, bytes: &[u8]) {
    match Arc::get_mut(slot) {
        Some(unique) if unique.len() == bytes.len() => unique.copy_from_slice(bytes),
        _ => *slot = Arc::from(bytes),
    }
}
