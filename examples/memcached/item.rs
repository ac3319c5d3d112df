//! An item's layout: the compact bytes that hold a CAS unique, the client's flags, the key and
//! a small value in one allocation, the slot that places them in the cache, and how a found
//! item is handed out ([`Hit`], [`Value`]) without copying. Plus the numbers items hold for
//! incr/decr, read and written as memcached does.
//!
//! The layout is the reason per-item overhead is small (see `store.rs` for the accounting): a
//! slot is 32 bytes (a boxed byte string, the key's hash, the expiry stamp and two `u32` LRU
//! links) and the header in the bytes 14 (CAS unique 8, flags 4, key length 1, "value is
//! shared" 1). A value longer than [`SHARE_MIN`] is an `Arc<[u8]>` of its own instead, so
//! replies queue that buffer rather than a copy.

use std::sync::Arc;

/// The longest key, in bytes.
pub const MAX_KEY: usize = 250;
/// The largest item, key, value and overhead counted (memcached's default `-I 1m`).
pub const MAX_ITEM: usize = 1024 * 1024;
/// Values longer than this are stored as shared buffers and queued, not copied, in replies.
pub const SHARE_MIN: usize = 1024;
/// The header at the start of an item's bytes: CAS unique (8), flags (4), key length (1),
/// shared value (1).
pub(super) const HEADER: usize = 14;

/// One place in the slot vector: an item, or a free place (empty bytes) on the free list.
#[derive(Debug)]
pub(super) struct Slot {
    /// The header, the key and a small value; empty for a free slot.
    pub(super) bytes: Box<[u8]>,
    /// The key's hash, for the index.
    pub(super) hash: u32,
    /// The expiry [stamp](super::clock::Clock::stamp).
    pub(super) stamp: u32,
    /// The more recently used neighbour.
    pub(super) prev: u32,
    /// The less recently used neighbour; for a free slot, the next free slot.
    pub(super) next: u32,
}

impl Slot {
    pub(super) fn is_free(&self) -> bool {
        self.bytes.is_empty()
    }
    pub(super) fn cas(&self) -> u64 {
        let mut b = [0; 8];
        b.copy_from_slice(&self.bytes[..8]);
        u64::from_le_bytes(b)
    }
    pub(super) fn flags(&self) -> u32 {
        let mut b = [0; 4];
        b.copy_from_slice(&self.bytes[8..12]);
        u32::from_le_bytes(b)
    }
    pub(super) fn key(&self) -> &[u8] {
        &self.bytes[HEADER..HEADER + usize::from(self.bytes[12])]
    }
    pub(super) fn is_shared(&self) -> bool {
        self.bytes[13] != 0
    }
}

/// A stored value: in the item's own bytes (small), or a shared buffer.
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    /// At most [`SHARE_MIN`] bytes, to be copied.
    Inline(&'a [u8]),
    /// A larger value, to be queued as it is.
    Shared(&'a Arc<[u8]>),
}

impl<'a> Value<'a> {
    /// The value's bytes.
    pub fn bytes(self) -> &'a [u8] {
        match self {
            Value::Inline(bytes) => bytes,
            Value::Shared(bytes) => bytes,
        }
    }
}

/// A found item, borrowed from the cache.
#[derive(Clone, Copy, Debug)]
pub struct Hit<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The client's flags.
    pub flags: u32,
    /// The CAS unique.
    pub cas: u64,
    /// When it expires, as a [stamp](super::clock::Clock::stamp).
    pub stamp: u32,
    /// The data.
    pub value: Value<'a>,
}

/// An item's bytes (header, key and a small value) and its shared value, if large; the value
/// is the concatenation of `parts`, copied once.
pub(super) fn build(
    cas: u64,
    flags: u32,
    key: &[u8],
    parts: [&[u8]; 2],
) -> (Box<[u8]>, Option<Arc<[u8]>>) {
    let len = parts[0].len() + parts[1].len();
    let shared = len > SHARE_MIN;
    let mut bytes = Vec::with_capacity(HEADER + key.len() + if shared { 0 } else { len });
    bytes.extend_from_slice(&cas.to_le_bytes());
    bytes.extend_from_slice(&flags.to_le_bytes());
    bytes.extend_from_slice(&[key.len().min(MAX_KEY) as u8, u8::from(shared)]);
    bytes.extend_from_slice(&key[..key.len().min(MAX_KEY)]);
    if shared {
        let value = parts[0].iter().chain(parts[1]).copied().collect();
        return (bytes.into_boxed_slice(), Some(value));
    }
    bytes.extend_from_slice(parts[0]);
    bytes.extend_from_slice(parts[1]);
    (bytes.into_boxed_slice(), None)
}

/// A stored value read as memcached's incr/decr read it (`strtoull`, refusing a minus sign):
/// optional leading whitespace and `+`, decimal digits that fit in 64 bits, then the end or
/// whitespace.
pub fn parse_counter(value: &[u8]) -> Option<u64> {
    let start = value.iter().position(|b| !b.is_ascii_whitespace())?;
    let digits = &value[start..];
    let digits = digits.strip_prefix(b"+").unwrap_or(digits);
    let end = digits.iter().position(|b| !b.is_ascii_digit()).unwrap_or(digits.len());
    if end == 0 || digits.get(end).is_some_and(|b| !b.is_ascii_whitespace()) {
        return None;
    }
    digits[..end].iter().try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// `n` in decimal, in `buf`.
pub fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}
