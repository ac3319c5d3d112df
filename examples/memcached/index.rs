//! The cache's hash index: an open-addressing table (linear probing) from a key's hash to the
//! slot of its item, four bytes per bucket. It exists because `std`'s `HashMap` would store
//! every key a second time (or a pointer and a length, 16 bytes, plus the value) next to the
//! item that already holds it; this table stores only the slot number, and asks the caller to
//! compare keys and to tell an item's hash (kept in the item, so growing the table and
//! deleting from it never hash a key again).
//!
//! Hashes come from `std`'s `RandomState` (SipHash with a per-process random key), so a client
//! cannot choose keys that all land in one run of buckets. The table is kept at most 3/4 full
//! (so a bucket costs 4 to 10.7 bytes per item) and deletion shifts the run back instead of
//! leaving tombstones, so probes stay short however many deletes happen.

use std::hash::{BuildHasher, RandomState};

/// An empty bucket.
const EMPTY: u32 = u32::MAX;

/// Buckets of a table that has ever held an item, at least.
const MIN_BUCKETS: usize = 16;

/// A hash index from keys to slot numbers (the caller's `u32`s, all below `u32::MAX`).
#[derive(Debug, Default)]
pub struct Index {
    buckets: Vec<u32>,
    len: usize,
    hasher: RandomState,
}

impl Index {
    /// An empty index (no allocation until the first insert).
    pub fn new() -> Index {
        Index::default()
    }

    /// The hash of `key`, as [`find`](Self::find) and [`insert`](Self::insert) take it.
    pub fn hash(&self, key: &[u8]) -> u32 {
        let h = self.hasher.hash_one(key);
        (h ^ (h >> 32)) as u32
    }

    /// How many slots are indexed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The bytes the buckets take.
    pub fn bytes(&self) -> usize {
        self.buckets.capacity() * size_of::<u32>()
    }

    /// The slot whose item `is` accepts (the caller compares the item's hash and key), among
    /// those indexed under `hash`.
    pub fn find(&self, hash: u32, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        let mask = self.buckets.len().checked_sub(1)?;
        let mut at = hash as usize & mask;
        loop {
            match self.buckets[at] {
                EMPTY => return None,
                slot if is(slot) => return Some(slot),
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// Indexes `slot` under `hash` (which must not be indexed yet); `hash_of` tells the hash
    /// of any indexed slot, for when the table grows.
    pub fn insert(&mut self, hash: u32, slot: u32, hash_of: impl Fn(u32) -> u32) {
        if (self.len + 1) * 4 > self.buckets.len() * 3 {
            self.grow(&hash_of);
        }
        let mask = self.buckets.len() - 1;
        let mut at = hash as usize & mask;
        while self.buckets[at] != EMPTY {
            at = (at + 1) & mask;
        }
        self.buckets[at] = slot;
        self.len += 1;
    }

    /// Removes `slot`, indexed under `hash`; `hash_of` tells the hash of any indexed slot. Does
    /// nothing if it is not there.
    pub fn remove(&mut self, hash: u32, slot: u32, hash_of: impl Fn(u32) -> u32) {
        let Some(mask) = self.buckets.len().checked_sub(1) else { return };
        let mut hole = hash as usize & mask;
        loop {
            match self.buckets[hole] {
                EMPTY => return,
                s if s == slot => break,
                _ => hole = (hole + 1) & mask,
            }
        }
        // Backward shift: move later members of the run into the hole when their home bucket
        // is not between the hole and where they sit.
        let mut at = hole;
        loop {
            at = (at + 1) & mask;
            let s = self.buckets[at];
            if s == EMPTY {
                break;
            }
            let home = hash_of(s) as usize & mask;
            if at.wrapping_sub(home) & mask >= at.wrapping_sub(hole) & mask {
                self.buckets[hole] = s;
                hole = at;
            }
        }
        self.buckets[hole] = EMPTY;
        self.len -= 1;
    }

    /// Forgets every slot and frees the buckets.
    pub fn clear(&mut self) {
        self.buckets = Vec::new();
        self.len = 0;
    }

    fn grow(&mut self, hash_of: &impl Fn(u32) -> u32) {
        let size = (self.buckets.len() * 2).max(MIN_BUCKETS);
        let old = std::mem::replace(&mut self.buckets, vec![EMPTY; size]);
        let mask = size - 1;
        for slot in old.into_iter().filter(|&s| s != EMPTY) {
            let mut at = hash_of(slot) as usize & mask;
            while self.buckets[at] != EMPTY {
                at = (at + 1) & mask;
            }
            self.buckets[at] = slot;
        }
    }
}
