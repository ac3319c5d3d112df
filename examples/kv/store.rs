//! The key-value data: byte-string keys and values with optional expiry times.
//!
//! Time is never read from a clock here: every operation takes `now: Instant`, so tests drive a
//! manual clock and the server passes the event loop's time. Expired keys vanish lazily when
//! touched, and actively through [`Store::background`], which the server calls from a timer set
//! to [`Store::next_wakeup`].
//!
//! Values are immutable shared buffers (`Arc<[u8]>`), so a reply can queue the stored value
//! itself instead of a copy (see `resp.rs`). A write never changes bytes a pending reply may
//! still send: it overwrites in place only a buffer nobody else holds and of the same length
//! (the common case of SET and INCR, without an allocation), and otherwise replaces the `Arc`;
//! a reply still holding the old one keeps it alive until it is sent.
//!
//! Three structures share each key (one `Arc<[u8]>`, counted once): the hash map that answers
//! lookups, an ordered index by `(hash, key)` that SCAN walks (see [`Store::scan`]), and an
//! ordered set of `(expiry, key)` kept exact on every change, so the next expiry is its first
//! element and active expiry pops due keys in order.
//!
//! No operation that a single command or timer turn triggers walks the whole keyspace except
//! KEYS (as in Redis): FLUSHDB moves the three structures aside whole and
//! [`Store::background`] drops them a bounded number of entries per call, and active expiry
//! removes at most a budget of keys per call.

use std::collections::hash_map::{self, RandomState};
use std::collections::{BTreeSet, HashMap, btree_set};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::resp::{format_i64, parse_i64};

/// A stored key, shared by the map and both indexes.
pub type KeyBuf = Arc<[u8]>;

/// One stored value.
#[derive(Debug, Clone)]
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

/// What one [`Store::background`] call did, in entries (the unit of its budget).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// Expired keys removed.
    pub expired: usize,
    /// Entries of flushed structures dropped.
    pub freed: usize,
    /// Whether work remains that is due now (call again on the next turn).
    pub more: bool,
}

/// A flushed structure being dropped piecewise.
#[derive(Debug)]
enum Garbage {
    Map(hash_map::IntoIter<KeyBuf, Entry>),
    Set(btree_set::IntoIter<(u64, KeyBuf)>),
    Expiries(btree_set::IntoIter<(Instant, KeyBuf)>),
}

impl Garbage {
    fn len(&self) -> usize {
        match self {
            Garbage::Map(iter) => iter.len(),
            Garbage::Set(iter) => iter.len(),
            Garbage::Expiries(iter) => iter.len(),
        }
    }

    /// Drops up to `budget` entries; returns how many were dropped.
    fn drop_some(&mut self, budget: usize) -> usize {
        match self {
            Garbage::Map(iter) => iter.take(budget).count(),
            Garbage::Set(iter) => iter.take(budget).count(),
            Garbage::Expiries(iter) => iter.take(budget).count(),
        }
    }
}

/// The keyspace.
#[derive(Debug)]
pub struct Store {
    map: HashMap<KeyBuf, Entry>,
    /// Every key by `(hash, key)`, for SCAN's cursor and RANDOMKEY.
    order: BTreeSet<(u64, KeyBuf)>,
    /// Every key with an expiry, by `(expiry, key)`.
    expiries: BTreeSet<(Instant, KeyBuf)>,
    /// The hash of the `order` index (random per store, as a hash map's).
    hasher: RandomState,
    /// Flushed structures not yet dropped, each emptied before the next.
    garbage: Vec<Garbage>,
    /// Key and value bytes held (INFO's `used_memory`, approximately).
    bytes: usize,
    /// xorshift state for RANDOMKEY.
    random: u64,
}

impl Default for Store {
    fn default() -> Store {
        let hasher = RandomState::new();
        let random = hasher.hash_one(0u64) | 1;
        Store {
            map: HashMap::new(),
            order: BTreeSet::new(),
            expiries: BTreeSet::new(),
            hasher,
            garbage: Vec::new(),
            bytes: 0,
            random,
        }
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// The number of keys, including expired ones not yet removed.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The number of keys with an expiry (INFO's `expires`).
    pub fn volatile_len(&self) -> usize {
        self.expiries.len()
    }

    /// Approximate bytes of keys and values held, not counting flushed data not yet freed.
    pub fn bytes(&self) -> usize {
        self.bytes
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

    /// The expiry of a live key: `None` if missing, `Some(None)` if it never expires.
    pub fn expiry(&mut self, key: &[u8], now: Instant) -> Option<Option<Instant>> {
        self.expire_if_due(key, now);
        self.map.get(key).map(|entry| entry.expires_at)
    }

    /// Sets `key` to `value`, with its expiry decided by `expiry`.
    pub fn set(&mut self, key: &[u8], value: &[u8], expiry: Expiry, now: Instant) {
        self.expire_if_due(key, now);
        let decide = |old: Option<Instant>| match expiry {
            Expiry::Persist => None,
            Expiry::At(at) => Some(at),
            Expiry::Keep => old,
        };
        match self.map.get_mut(key) {
            Some(entry) => {
                self.bytes = self.bytes - entry.value.len() + value.len();
                overwrite(&mut entry.value, value);
                let old = entry.expires_at;
                let new = decide(old);
                if old != new {
                    self.change_expiry(key, new);
                }
            }
            None => self.insert(key, Entry { value: Arc::from(value), expires_at: decide(None) }),
        }
    }

    /// Deletes `key`; returns whether it existed (and had not expired).
    pub fn remove(&mut self, key: &[u8], now: Instant) -> bool {
        self.expire_if_due(key, now);
        self.delete(key).is_some()
    }

    /// Sets the expiry of an existing key; an instant not after `now` deletes it at once.
    /// Returns whether the key existed.
    pub fn set_expiry(&mut self, key: &[u8], at: Instant, now: Instant) -> bool {
        self.expire_if_due(key, now);
        if at <= now {
            return self.remove(key, now);
        }
        if !self.map.contains_key(key) {
            return false;
        }
        self.change_expiry(key, Some(at));
        true
    }

    /// Removes the expiry of `key`; returns whether it had one (PERSIST).
    pub fn persist(&mut self, key: &[u8], now: Instant) -> bool {
        if self.expiry(key, now).flatten().is_none() {
            return false;
        }
        self.change_expiry(key, None);
        true
    }

    /// The remaining time to live of `key`.
    pub fn ttl(&mut self, key: &[u8], now: Instant) -> Ttl {
        match self.expiry(key, now) {
            None => Ttl::Missing,
            Some(None) => Ttl::Persistent,
            Some(Some(at)) => Ttl::Remaining(at.duration_since(now)),
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
            let text = format_i64(next, &mut digits);
            self.bytes = self.bytes - entry.value.len() + text.len();
            overwrite(&mut entry.value, text);
            return Ok(next);
        }
        let value = Arc::from(format_i64(delta, &mut digits));
        self.insert(key, Entry { value, expires_at: None });
        Ok(delta)
    }

    /// Moves `from` to `to` with its expiry, replacing `to` unless `keep_existing` and it
    /// exists. `None` if `from` is missing, else whether it moved (RENAME, RENAMENX).
    pub fn rename(
        &mut self,
        from: &[u8],
        to: &[u8],
        keep_existing: bool,
        now: Instant,
    ) -> Option<bool> {
        self.expire_if_due(from, now);
        if !self.map.contains_key(from) {
            return None;
        }
        if from == to {
            return Some(!keep_existing);
        }
        if keep_existing && self.contains(to, now) {
            return Some(false);
        }
        self.expire_if_due(to, now);
        self.delete(to);
        let entry = self.delete(from)?;
        self.insert(to, entry);
        Some(true)
    }

    /// Copies `from` to `to` with its expiry (COPY); `to` is replaced only if `replace`.
    /// Returns whether it was copied.
    pub fn copy(&mut self, from: &[u8], to: &[u8], replace: bool, now: Instant) -> bool {
        self.expire_if_due(from, now);
        let Some(entry) = self.map.get(from).cloned() else {
            return false;
        };
        if self.contains(to, now) {
            if !replace {
                return false;
            }
            self.delete(to);
        }
        self.insert(to, entry);
        true
    }

    /// Visits keys in index order from `cursor`: at least `count` keys are looked at (all
    /// keys of the last hash looked at, so that the returned cursor splits no hash), and the
    /// live ones are passed to `found`. Returns the next cursor, 0 when the walk is over.
    ///
    /// The cursor is a position in the `(hash, key)` order, not in any table, so every key
    /// present for the whole walk is returned exactly once whatever is inserted or deleted
    /// between calls; keys added or removed meanwhile may or may not be.
    pub fn scan(
        &mut self,
        cursor: u64,
        count: usize,
        now: Instant,
        mut found: impl FnMut(&KeyBuf),
    ) -> u64 {
        let start: (u64, KeyBuf) = (cursor, Arc::from(&b""[..]));
        let mut last_hash = None;
        let mut next = 0;
        let mut expired = Vec::new();
        for (seen, (hash, key)) in self.order.range(start..).enumerate() {
            if seen >= count.max(1) && last_hash != Some(*hash) {
                next = *hash;
                break;
            }
            last_hash = Some(*hash);
            match self.map.get(key) {
                Some(entry) if entry.is_expired(now) => expired.push(key.clone()),
                Some(_) => found(key),
                None => {}
            }
        }
        for key in expired {
            self.delete(&key);
        }
        next
    }

    /// Calls `found` with every live key (KEYS); expired keys are skipped, not removed.
    pub fn for_each_key(&self, now: Instant, mut found: impl FnMut(&KeyBuf)) {
        for (key, entry) in &self.map {
            if !entry.is_expired(now) {
                found(key);
            }
        }
    }

    /// A random live key (RANDOMKEY), removing the expired ones it draws.
    pub fn random_key(&mut self, now: Instant) -> Option<KeyBuf> {
        loop {
            self.random ^= self.random << 13;
            self.random ^= self.random >> 7;
            self.random ^= self.random << 17;
            let start: (u64, KeyBuf) = (self.random, Arc::from(&b""[..]));
            let (_, key) = self.order.range(start..).next().or_else(|| self.order.first())?;
            let key = key.clone();
            if !self.map.get(&key).is_some_and(|entry| entry.is_expired(now)) {
                return Some(key);
            }
            self.delete(&key);
        }
    }

    /// Deletes every key (FLUSHDB, FLUSHALL) at once for commands that follow; the memory is
    /// freed piecewise by [`Store::background`].
    pub fn clear(&mut self) {
        if !self.map.is_empty() {
            self.garbage.push(Garbage::Map(std::mem::take(&mut self.map).into_iter()));
            self.garbage.push(Garbage::Set(std::mem::take(&mut self.order).into_iter()));
            self.garbage.push(Garbage::Expiries(std::mem::take(&mut self.expiries).into_iter()));
        }
        self.bytes = 0;
    }

    /// Entries of flushed structures not yet freed.
    pub fn garbage_len(&self) -> usize {
        self.garbage.iter().map(Garbage::len).sum()
    }

    /// Whether flushed data waits to be freed.
    pub fn has_garbage(&self) -> bool {
        !self.garbage.is_empty()
    }

    /// When [`Store::background`] should run next: now if flushed data waits, else at the
    /// next expiry, if any key has one.
    pub fn next_wakeup(&self, now: Instant) -> Option<Instant> {
        if self.has_garbage() {
            return Some(now);
        }
        self.expiries.first().map(|(at, _)| *at)
    }

    /// When the next key expires, if any key has an expiry.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.expiries.first().map(|(at, _)| *at)
    }

    /// Bounded background work, as Redis's active expire cycle and lazy free: removes up to
    /// `budget` keys whose expiry is not after `now`, then drops up to `budget` entries of
    /// flushed structures.
    pub fn background(&mut self, now: Instant, budget: usize) -> Work {
        let mut work = Work::default();
        while work.expired < budget {
            match self.expiries.first() {
                Some((at, key)) if *at <= now => {
                    let key = key.clone();
                    self.delete(&key);
                    work.expired += 1;
                }
                _ => break,
            }
        }
        while work.freed < budget {
            let Some(garbage) = self.garbage.first_mut() else { break };
            work.freed += garbage.drop_some(budget - work.freed);
            if garbage.len() == 0 {
                self.garbage.remove(0);
            }
        }
        work.more = self.has_garbage() || self.next_expiry().is_some_and(|at| at <= now);
        work
    }

    /// Removes every key whose expiry is not after `now`, however many; returns how many.
    pub fn expire_due(&mut self, now: Instant) -> usize {
        let mut removed = 0;
        while self.expiries.first().is_some_and(|(at, _)| *at <= now) {
            removed += self.background(now, 1024).expired;
        }
        removed
    }

    /// Lazy expiry: removes `key` if it has expired.
    fn expire_if_due(&mut self, key: &[u8], now: Instant) {
        if self.map.get(key).is_some_and(|entry| entry.is_expired(now)) {
            self.delete(key);
        }
    }

    /// Adds a key that is not in the map.
    fn insert(&mut self, key: &[u8], entry: Entry) {
        let key: KeyBuf = Arc::from(key);
        self.bytes += key.len() + entry.value.len();
        if let Some(at) = entry.expires_at {
            self.expiries.insert((at, key.clone()));
        }
        self.order.insert((self.hasher.hash_one(&*key), key.clone()));
        self.map.insert(key, entry);
    }

    /// Removes a key from the map and both indexes, expired or not.
    fn delete(&mut self, key: &[u8]) -> Option<Entry> {
        let (key, entry) = self.map.remove_entry(key)?;
        self.bytes -= key.len() + entry.value.len();
        if let Some(at) = entry.expires_at {
            self.expiries.remove(&(at, key.clone()));
        }
        self.order.remove(&(self.hasher.hash_one(&*key), key));
        Some(entry)
    }

    /// Sets the expiry of a key in the map, keeping the expiry index exact.
    fn change_expiry(&mut self, key: &[u8], at: Option<Instant>) {
        let Some((key, entry)) = self.map.get_key_value(key) else { return };
        let key = key.clone();
        if let Some(old) = entry.expires_at {
            self.expiries.remove(&(old, key.clone()));
        }
        if let Some(at) = at {
            self.expiries.insert((at, key.clone()));
        }
        if let Some(entry) = self.map.get_mut(&*key) {
            entry.expires_at = at;
        }
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
