//! The cache: items with flags, a CAS unique and an expiry, an exact LRU list, memory
//! accounting against a limit with eviction from the LRU tail, lazy expiry on access, reclaim
//! of expired items in bounded steps (driven by the server's timer), and `flush_all`.
//!
//! # Compact items
//! An item is a 32-byte slot in a `Vec` and one allocation with a 14-byte header, the key and
//! a small value (see `item.rs`); a value longer than [`SHARE_MIN`] is a shared `Arc<[u8]>`
//! kept in a side table, so a reply queues that buffer instead of copying it (a pending reply
//! keeps the old buffer alive if the item changes). LRU links are `u32` slot numbers, and the
//! hash index ([`Index`]) holds four bytes per bucket.
//!
//! # Memory accounting
//! Each item is charged its key and value plus [`ITEM_OVERHEAD`] (the slot, the header and 8
//! bytes of index), and a shared value [`SHARED_OVERHEAD`] more (its reference counts and its
//! side-table entry): 54 bytes for a small item, where memcached's header alone is 48 to 56
//! bytes plus 8 of hash table. What no item owns (spare capacity of the slot vector and of the
//! index, like memcached's slab rounding) is not charged. An item is refused when its charge
//! is over [`MAX_ITEM`] (as memcached's 1 MiB counts its header too) or over the limit, and
//! storing one evicts from the LRU tail until it fits; an expired tail item freed on the way
//! counts as reclaimed, a live one as an eviction.

pub use super::item::{Hit, MAX_ITEM, MAX_KEY, SHARE_MIN, Value, format_u64, parse_counter};

use super::clock::{Clock, Deadline};
use super::index::Index;
use super::item::{HEADER, Slot, build};
use super::stats::Counters;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// The charge of an item besides its key and value.
pub const ITEM_OVERHEAD: usize = size_of::<Slot>() + HEADER + 8;
/// The extra charge of a value longer than [`SHARE_MIN`].
pub const SHARED_OVERHEAD: usize = 2 * size_of::<usize>() + 32;

/// The most item slots: slot numbers are `u32`s, and `NIL` is not one.
const MAX_SLOTS: usize = NIL as usize;

/// From this many items on, `flush_all` frees them on another thread.
const FREE_ELSEWHERE: usize = 100_000;

/// No slot (end of a list).
const NIL: u32 = u32::MAX;

/// What a storage command asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Store.
    Set,
    /// Store if absent.
    Add,
    /// Store if present.
    Replace,
    /// Add the data after an existing value (flags and expiry stay).
    Append,
    /// Add the data before an existing value (flags and expiry stay).
    Prepend,
    /// Store if present and unchanged since `gets` returned this CAS unique.
    Cas(u64),
}

/// The outcome of a storage command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `STORED`
    Stored,
    /// `NOT_STORED`: add on a present key, replace/append/prepend on an absent one.
    NotStored,
    /// `EXISTS`: cas on an item changed since.
    Exists,
    /// `NOT_FOUND`: cas on an absent key.
    NotFound,
    /// Over [`MAX_ITEM`].
    TooLarge,
    /// Over the memory limit even with everything else evicted.
    NoMemory,
}

/// The outcome of incr/decr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delta {
    /// The new value.
    Value(u64),
    /// No such key.
    NotFound,
    /// The value is not a decimal number.
    NonNumeric,
}

/// The items, their index and LRU order, and the counters.
#[derive(Debug)]
pub struct Cache {
    slots: Vec<Slot>,
    index: Index,
    shared: HashMap<u32, Arc<[u8]>>,
    /// Most and least recently used item, and the first free slot.
    head: u32,
    tail: u32,
    free: u32,
    count: usize,
    used: usize,
    limit: usize,
    last_cas: u64,
    /// A delayed `flush_all`'s stamp.
    flush_at: Option<u32>,
    /// Where the next reclaim step starts.
    cursor: usize,
    clock: Clock,
    /// What the `stats` command reports.
    pub counters: Counters,
}

impl Cache {
    /// An empty cache holding at most `limit` bytes (as charged), keeping time by `clock`.
    pub fn new(limit: usize, clock: Clock) -> Cache {
        Cache {
            slots: Vec::new(),
            index: Index::new(),
            shared: HashMap::new(),
            head: NIL,
            tail: NIL,
            free: NIL,
            count: 0,
            used: 0,
            limit,
            last_cas: 0,
            flush_at: None,
            cursor: 0,
            clock,
            counters: Counters::default(),
        }
    }

    /// Items stored, including expired ones not yet reclaimed.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no item is stored.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes charged for the items stored.
    pub fn bytes(&self) -> usize {
        self.used
    }

    /// The memory limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The cache's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// What an item of these sizes is charged.
    pub fn charge(key_len: usize, value_len: usize) -> usize {
        let shared = if value_len > SHARE_MIN { SHARED_OVERHEAD } else { 0 };
        ITEM_OVERHEAD + key_len + value_len + shared
    }

    /// The live item under `key` (most recently used from now on).
    pub fn get(&mut self, key: &[u8], now: Instant) -> Option<Hit<'_>> {
        let slot = self.lookup(key, now).1?;
        self.bump(slot);
        Some(self.hit(slot))
    }

    /// The live item under `key`, whose expiry becomes `deadline` (`gat`).
    pub fn get_and_touch(
        &mut self,
        key: &[u8],
        deadline: Deadline,
        now: Instant,
    ) -> Option<Hit<'_>> {
        let slot = self.lookup(key, now).1?;
        self.slots[slot as usize].stamp = Clock::stamp(deadline);
        self.bump(slot);
        Some(self.hit(slot))
    }

    /// Sets the expiry of the live item under `key`; whether there was one (`touch`).
    pub fn touch(&mut self, key: &[u8], deadline: Deadline, now: Instant) -> bool {
        self.get_and_touch(key, deadline, now).is_some()
    }

    /// Deletes the live item under `key`; whether there was one.
    pub fn delete(&mut self, key: &[u8], now: Instant) -> bool {
        match self.lookup(key, now).1 {
            Some(slot) => {
                self.unlink(slot);
                true
            }
            None => false,
        }
    }

    /// A storage command: `data` under `key` with `flags`, expiring at `deadline`, as `mode`
    /// asks. A `set` that fails (too large, no memory) deletes the old item, as memcached's
    /// does, so a stale value does not outlive a failed update.
    pub fn store(
        &mut self,
        mode: Mode,
        key: &[u8],
        flags: u32,
        deadline: Deadline,
        data: &[u8],
        now: Instant,
    ) -> Outcome {
        let (hash, old) = self.lookup(key, now);
        let (flags, stamp, parts) = match (mode, old) {
            (Mode::Add, Some(slot)) => {
                self.bump(slot);
                return Outcome::NotStored;
            }
            (Mode::Replace | Mode::Append | Mode::Prepend, None) => return Outcome::NotStored,
            (Mode::Cas(_), None) => return Outcome::NotFound,
            (Mode::Cas(cas), Some(slot)) if self.slots[slot as usize].cas() != cas => {
                return Outcome::Exists;
            }
            (Mode::Append, Some(slot)) => {
                let item = &self.slots[slot as usize];
                (item.flags(), item.stamp, [self.value(slot).bytes(), data])
            }
            (Mode::Prepend, Some(slot)) => {
                let item = &self.slots[slot as usize];
                (item.flags(), item.stamp, [data, self.value(slot).bytes()])
            }
            _ => (flags, Clock::stamp(deadline), [data, &[][..]]),
        };
        let len = parts[0].len() + parts[1].len();
        if Cache::charge(key.len(), len) > MAX_ITEM.min(self.limit) {
            if let (Mode::Set, Some(slot)) = (mode, old) {
                self.unlink(slot);
            }
            return match Cache::charge(key.len(), len) > MAX_ITEM {
                true => Outcome::TooLarge,
                false => Outcome::NoMemory,
            };
        }
        let cas = self.last_cas + 1;
        let (bytes, shared) = build(cas, flags, key, parts);
        self.last_cas = cas;
        if let Some(slot) = old {
            self.unlink(slot);
        }
        self.make_room(Cache::charge(key.len(), len), now);
        self.insert(hash, stamp, bytes, shared);
        self.counters.total_items += 1;
        Outcome::Stored
    }

    /// `incr` (wrapping past 2^64 - 1) or `decr` (stopping at 0) by `delta`.
    pub fn add_delta(&mut self, key: &[u8], incr: bool, delta: u64, now: Instant) -> Delta {
        let (hash, Some(slot)) = self.lookup(key, now) else { return Delta::NotFound };
        let Some(value) = parse_counter(self.value(slot).bytes()) else {
            return Delta::NonNumeric;
        };
        let value = if incr { value.wrapping_add(delta) } else { value.saturating_sub(delta) };
        let mut digits = [0u8; 20];
        let digits = format_u64(value, &mut digits);
        let item = &self.slots[slot as usize];
        let (flags, stamp) = (item.flags(), item.stamp);
        self.last_cas += 1;
        let (bytes, shared) = build(self.last_cas, flags, key, [digits, &[]]);
        self.unlink(slot);
        self.make_room(Cache::charge(key.len(), digits.len()), now);
        self.insert(hash, stamp, bytes, shared);
        Delta::Value(value)
    }

    /// `flush_all`: every item stored before the deadline is gone at the deadline (now, if it
    /// is never or past). A later flush replaces a pending one.
    pub fn flush(&mut self, deadline: Deadline, now: Instant) {
        self.flush_at = match deadline {
            Deadline::At(_) => Some(Clock::stamp(deadline)),
            Deadline::Never | Deadline::Past => None,
        };
        if self.flush_at.is_none() {
            self.clear();
        }
        self.apply_flush(now);
    }

    /// Frees the expired items among the next `budget` slots (continuing where the previous
    /// call stopped, wrapping around), and up to `budget` more from the LRU tail while the
    /// cache is over its limit; returns how many. Bounded work for a timer tick.
    pub fn reclaim(&mut self, now: Instant, budget: usize) -> usize {
        self.apply_flush(now);
        let mut freed = 0;
        for _ in 0..budget.min(self.slots.len()) {
            if self.cursor >= self.slots.len() {
                self.cursor = 0;
            }
            let slot = &self.slots[self.cursor];
            if !slot.is_free() && self.clock.is_due(slot.stamp, now) {
                self.unlink(self.cursor as u32);
                self.counters.reclaimed += 1;
                freed += 1;
            }
            self.cursor += 1;
        }
        // Under a lowered limit, evict down to it, as many items per call as slots looked at.
        for _ in 0..budget {
            if self.used <= self.limit || !self.evict_tail(now) {
                break;
            }
            freed += 1;
        }
        freed
    }

    /// The items from most to least recently used, expired ones not yet freed included (for
    /// `stats cachedump`, tests and diagnostics).
    pub fn by_recency(&self) -> impl Iterator<Item = Hit<'_>> + '_ {
        let mut at = self.head;
        std::iter::from_fn(move || {
            let slot = (at != NIL).then_some(at)?;
            at = self.slots[slot as usize].next;
            Some(self.hit(slot))
        })
    }

    /// The keys from most to least recently used (for tests).
    pub fn keys_by_recency(&self) -> Vec<Vec<u8>> {
        self.by_recency().map(|hit| hit.key.to_vec()).collect()
    }

    /// Changes the memory limit (`cache_memlimit`). Lowering it evicts nothing at once: the
    /// next stores evict what they need, and [`reclaim`](Self::reclaim) a bounded number of
    /// items per call until the cache is under the limit.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// The hash of `key` and its live item's slot; an expired item found on the way is freed.
    fn lookup(&mut self, key: &[u8], now: Instant) -> (u32, Option<u32>) {
        self.apply_flush(now);
        let hash = self.index.hash(key);
        let slots = &self.slots;
        let found = self.index.find(hash, |s| {
            let item = &slots[s as usize];
            item.hash == hash && item.key() == key
        });
        match found {
            Some(slot) if self.clock.is_due(self.slots[slot as usize].stamp, now) => {
                self.unlink(slot);
                self.counters.reclaimed += 1;
                (hash, None)
            }
            found => (hash, found),
        }
    }

    fn hit(&self, slot: u32) -> Hit<'_> {
        let item = &self.slots[slot as usize];
        let value = self.value(slot);
        Hit { key: item.key(), flags: item.flags(), cas: item.cas(), stamp: item.stamp, value }
    }

    fn value(&self, slot: u32) -> Value<'_> {
        let item = &self.slots[slot as usize];
        match item.is_shared().then(|| self.shared.get(&slot)).flatten() {
            Some(shared) => Value::Shared(shared),
            None => Value::Inline(&item.bytes[HEADER + item.key().len()..]),
        }
    }

    /// Evicts from the LRU tail until `need` more bytes fit (the caller checked that `need` is
    /// at most the limit).
    fn make_room(&mut self, need: usize, now: Instant) {
        let full = |c: &Cache| c.free == NIL && c.slots.len() >= MAX_SLOTS;
        while (self.used + need > self.limit || full(self)) && self.evict_tail(now) {}
    }

    /// Frees the least recently used item, counted as reclaimed if it has expired, else as an
    /// eviction; `false` if there is none.
    fn evict_tail(&mut self, now: Instant) -> bool {
        let tail = self.tail;
        if tail == NIL {
            return false;
        }
        match self.clock.is_due(self.slots[tail as usize].stamp, now) {
            true => self.counters.reclaimed += 1,
            false => self.counters.evictions += 1,
        }
        self.unlink(tail);
        true
    }

    fn insert(&mut self, hash: u32, stamp: u32, bytes: Box<[u8]>, shared: Option<Arc<[u8]>>) {
        let item = Slot { bytes, hash, stamp, prev: NIL, next: NIL };
        let slot = match self.free {
            NIL => {
                self.slots.push(item);
                (self.slots.len() - 1) as u32
            }
            free => {
                self.free = self.slots[free as usize].next;
                self.slots[free as usize] = item;
                free
            }
        };
        let slots = &self.slots;
        self.index.insert(hash, slot, |s| slots[s as usize].hash);
        let item = &self.slots[slot as usize];
        let value_len =
            shared.as_ref().map_or(item.bytes.len() - HEADER - item.key().len(), |v| v.len());
        self.used += Cache::charge(item.key().len(), value_len);
        if let Some(shared) = shared {
            self.shared.insert(slot, shared);
        }
        self.count += 1;
        self.push_front(slot);
    }

    /// Frees an item's slot.
    fn unlink(&mut self, slot: u32) {
        let value_len = self.value(slot).bytes().len();
        let item = &self.slots[slot as usize];
        let (hash, shared) = (item.hash, item.is_shared());
        self.used -= Cache::charge(item.key().len(), value_len);
        let slots = &self.slots;
        self.index.remove(hash, slot, |s| slots[s as usize].hash);
        self.detach(slot);
        if shared {
            self.shared.remove(&slot);
        }
        let item = &mut self.slots[slot as usize];
        (item.bytes, item.next) = (Box::default(), self.free);
        self.free = slot;
        self.count -= 1;
    }

    fn apply_flush(&mut self, now: Instant) {
        if self.flush_at.is_some_and(|at| self.clock.is_due(at, now)) {
            self.flush_at = None;
            self.clear();
        }
    }

    /// Forgets every item. Freeing a million items takes tens of milliseconds, so a large
    /// cache's items are freed on a short-lived thread instead of pausing the loop.
    fn clear(&mut self) {
        let items = (std::mem::take(&mut self.slots), std::mem::take(&mut self.shared));
        if self.count >= FREE_ELSEWHERE {
            let _ = std::thread::Builder::new()
                .name("memcached-free".into())
                .spawn(move || drop(items));
        }
        self.index.clear();
        (self.head, self.tail, self.free) = (NIL, NIL, NIL);
        (self.count, self.used, self.cursor) = (0, 0, 0);
    }

    fn bump(&mut self, slot: u32) {
        if self.head != slot {
            self.detach(slot);
            self.push_front(slot);
        }
    }

    fn detach(&mut self, slot: u32) {
        let Slot { prev, next, .. } = self.slots[slot as usize];
        match prev {
            NIL => self.head = next,
            prev => self.slots[prev as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => self.slots[next as usize].prev = prev,
        }
    }

    fn push_front(&mut self, slot: u32) {
        let head = self.head;
        (self.slots[slot as usize].prev, self.slots[slot as usize].next) = (NIL, head);
        match head {
            NIL => self.tail = slot,
            head => self.slots[head as usize].prev = slot,
        }
        self.head = slot;
    }
}
