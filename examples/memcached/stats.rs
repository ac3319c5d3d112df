//! The counters behind the `stats` command and the command's replies (`stats`, `stats
//! settings`, `stats reset`), in memcached's `STAT <name> <value>` form with memcached's names,
//! so monitoring tools that read memcached read this server too.
//!
//! The cache counts what happens to items (evictions, reclaimed expired items, items stored),
//! the session counts commands and hits; what only the event loop knows (connections, bytes
//! on the wire) comes in as [`ConnStats`].

use super::store::{Cache, ITEM_OVERHEAD, MAX_ITEM};
use std::io::Write;
use std::time::Instant;

/// The version this server answers `version` and `stats` with: the memcached protocol level it
/// follows (clients such as libmemcached parse major.minor.micro and change behavior at 1.6),
/// tagged as this implementation.
pub const VERSION: &str = "1.6.0-ioman";

/// Counters of one cache, named as memcached names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs, reason = "each field is the memcached statistic of the same name")]
pub struct Counters {
    pub cmd_get: u64,
    pub cmd_set: u64,
    pub cmd_flush: u64,
    pub cmd_touch: u64,
    pub get_hits: u64,
    pub get_misses: u64,
    pub delete_hits: u64,
    pub delete_misses: u64,
    pub incr_hits: u64,
    pub incr_misses: u64,
    pub decr_hits: u64,
    pub decr_misses: u64,
    pub cas_hits: u64,
    pub cas_misses: u64,
    pub cas_badval: u64,
    pub touch_hits: u64,
    pub touch_misses: u64,
    pub store_too_large: u64,
    pub store_no_memory: u64,
    /// Items stored since start (or the last `stats reset`).
    pub total_items: u64,
    /// Live items removed to make room.
    pub evictions: u64,
    /// Expired items freed: when found on access, by the reclaim timer, or at the LRU tail.
    pub reclaimed: u64,
}

/// What the event loop knows: connections and bytes on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// Open connections.
    pub curr_connections: u64,
    /// Connections accepted since start.
    pub total_connections: u64,
    /// Bytes read from clients.
    pub bytes_read: u64,
    /// Bytes written to clients.
    pub bytes_written: u64,
    /// Event-loop threads.
    pub threads: u64,
}

/// The reply to `stats`: every statistic, then `END`.
pub fn write_stats(out: &mut Vec<u8>, cache: &Cache, conns: &ConnStats, now: Instant) {
    let c = &cache.counters;
    let clock = cache.clock();
    let _ = write!(out, "STAT pid {}\r\n", std::process::id());
    let numbers: &[(&str, u64)] = &[("uptime", clock.uptime(now)), ("time", clock.unix_time(now))];
    write_all(out, numbers);
    let _ = write!(out, "STAT version {VERSION}\r\n");
    let numbers: &[(&str, u64)] = &[
        ("pointer_size", usize::BITS.into()),
        ("curr_connections", conns.curr_connections),
        ("total_connections", conns.total_connections),
        ("cmd_get", c.cmd_get),
        ("cmd_set", c.cmd_set),
        ("cmd_flush", c.cmd_flush),
        ("cmd_touch", c.cmd_touch),
        ("get_hits", c.get_hits),
        ("get_misses", c.get_misses),
        ("delete_misses", c.delete_misses),
        ("delete_hits", c.delete_hits),
        ("incr_misses", c.incr_misses),
        ("incr_hits", c.incr_hits),
        ("decr_misses", c.decr_misses),
        ("decr_hits", c.decr_hits),
        ("cas_misses", c.cas_misses),
        ("cas_hits", c.cas_hits),
        ("cas_badval", c.cas_badval),
        ("touch_hits", c.touch_hits),
        ("touch_misses", c.touch_misses),
        ("store_too_large", c.store_too_large),
        ("store_no_memory", c.store_no_memory),
        ("bytes_read", conns.bytes_read),
        ("bytes_written", conns.bytes_written),
        ("limit_maxbytes", cache.limit() as u64),
        ("threads", conns.threads),
        ("bytes", cache.bytes() as u64),
        ("curr_items", cache.len() as u64),
        ("total_items", c.total_items),
        ("evictions", c.evictions),
        ("reclaimed", c.reclaimed),
    ];
    write_all(out, numbers);
    out.extend_from_slice(b"END\r\n");
}

/// The reply to `stats settings`: the limits this server runs with.
pub fn write_settings(out: &mut Vec<u8>, cache: &Cache, conns: &ConnStats) {
    let numbers: &[(&str, u64)] = &[
        ("maxbytes", cache.limit() as u64),
        ("num_threads", conns.threads),
        ("item_size_max", MAX_ITEM as u64),
        ("item_overhead", ITEM_OVERHEAD as u64),
    ];
    write_all(out, numbers);
    out.extend_from_slice(b"STAT evictions on\r\nSTAT cas_enabled yes\r\nEND\r\n");
}

/// The most bytes a `stats cachedump` reply takes (memcached: 2 MB; here, so that it fits the
/// output cap beside a partly sent maximal value).
pub const DUMP_MAX: usize = 1024 * 1024;

/// The reply to `stats cachedump <class> <limit>`: up to `limit` items (0: all, up to
/// [`DUMP_MAX`] bytes), most recently used first, as `ITEM <key> [<bytes> b; <expiry> s]`, the
/// expiry in Unix time (0: never). All items are in class 1; other classes are empty.
pub fn write_cachedump(out: &mut Vec<u8>, cache: &Cache, class: u32, limit: u32) {
    let start = out.len();
    let limit = if limit == 0 { usize::MAX } else { limit as usize };
    let items = cache.by_recency().take(if class == 1 { limit } else { 0 });
    for hit in items {
        let line = out.len();
        out.extend_from_slice(b"ITEM ");
        out.extend_from_slice(hit.key);
        let unix = cache.clock().unix_of(hit.stamp);
        let _ = write!(out, " [{} b; {unix} s]\r\n", hit.value.bytes().len());
        if out.len() - start + 5 > DUMP_MAX {
            out.truncate(line);
            break;
        }
    }
    out.extend_from_slice(b"END\r\n");
}

fn write_all(out: &mut Vec<u8>, numbers: &[(&str, u64)]) {
    for (name, value) in numbers {
        let _ = write!(out, "STAT {name} {value}\r\n");
    }
}
