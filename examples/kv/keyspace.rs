//! The keyspace commands of the `kv` server, with Redis 7.0's replies: TYPE, KEYS, SCAN
//! (MATCH, COUNT, TYPE), RENAME, RENAMENX, COPY (REPLACE, DB), RANDOMKEY, TOUCH, DBSIZE and
//! FLUSHDB/FLUSHALL (SYNC and ASYNC alike: the store frees flushed data in the background
//! either way, see `store.rs`).
//!
//! KEYS and SCAN replies are sized before they are written, like MGET's: one over
//! [`Limits::max_reply`](super::resp::Limits::max_reply) is refused whole with an error.

use std::sync::Arc;
use std::time::Instant;

use ioman::net::Outbox;

use super::commands::{Client, KEEP_VALUES, NOT_AN_INTEGER, SYNTAX_ERROR, is_any, reply_too_large};
use super::glob;
use super::resp::{
    Args, array_header_len, bulk_reply_len, write_array_len, write_bulk, write_error,
    write_integer, write_null, write_simple,
};
use super::store::Store;

/// TYPE key: `string`, or `none` when missing.
pub(super) fn type_of(store: &mut Store, now: Instant, key: &[u8], out: &mut Outbox) {
    write_simple(out, if store.contains(key, now) { "string" } else { "none" });
}

/// KEYS pattern: every live key matching, in no particular order.
pub(super) fn keys(
    client: &mut Client,
    store: &Store,
    now: Instant,
    pattern: &[u8],
    out: &mut Outbox,
) {
    let all = pattern == b"*";
    let mut found = std::mem::take(&mut client.keys);
    store.for_each_key(now, |key| {
        if all || glob::matches(pattern, key, false) {
            found.push(Arc::clone(key));
        }
    });
    write_keys("keys", client.max_reply, None, &found, out);
    found.clear();
    found.shrink_to(KEEP_VALUES);
    client.keys = found;
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type], parsed as Redis's
/// `scanGenericCommand`: the cursor first (`ERR invalid cursor`), then the options in any order,
/// each may repeat (the last wins); COUNT below 1 is a syntax error.
pub(super) fn scan(
    client: &mut Client,
    store: &mut Store,
    now: Instant,
    args: Args<'_>,
    out: &mut Outbox,
) {
    let Some(cursor) = parse_cursor(args.get(1)) else {
        return write_error(out, "ERR invalid cursor");
    };
    let (mut count, mut pattern, mut kind): (usize, Option<&[u8]>, Option<&[u8]>) =
        (10, None, None);
    let mut i = 2;
    while i < args.len() {
        let (option, value) = (args.get(i), args.get(i + 1));
        if i + 1 >= args.len() {
            return write_error(out, SYNTAX_ERROR);
        }
        if option.eq_ignore_ascii_case(b"count") {
            match super::resp::parse_i64(value) {
                None => return write_error(out, NOT_AN_INTEGER),
                Some(n) if n < 1 => return write_error(out, SYNTAX_ERROR),
                Some(n) => count = usize::try_from(n).unwrap_or(usize::MAX),
            }
        } else if option.eq_ignore_ascii_case(b"match") {
            pattern = Some(value).filter(|pattern| *pattern != b"*");
        } else if option.eq_ignore_ascii_case(b"type") {
            kind = Some(value);
        } else {
            return write_error(out, SYNTAX_ERROR);
        }
        i += 2;
    }
    let only_strings = kind.is_none_or(|kind| kind.eq_ignore_ascii_case(b"string"));
    let mut found = std::mem::take(&mut client.keys);
    let next = store.scan(cursor, count, now, |key| {
        if only_strings && pattern.is_none_or(|pattern| glob::matches(pattern, key, false)) {
            found.push(Arc::clone(key));
        }
    });
    let cursor = next.to_string();
    write_keys("scan", client.max_reply, Some(cursor.as_bytes()), &found, out);
    found.clear();
    found.shrink_to(KEEP_VALUES);
    client.keys = found;
}

/// Parses a SCAN cursor as C's `strtoul` reads it in full: optional sign, decimal digits (the
/// empty string is 0, a negative number wraps), no leading space, no overflow.
fn parse_cursor(text: &[u8]) -> Option<u64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    if text.is_empty() {
        return Some(0);
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits
        .iter()
        .try_fold(0u64, |acc, &d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')))?;
    Some(if negative { value.wrapping_neg() } else { value })
}

/// Writes `keys` as an array (after the cursor for SCAN), or refuses a reply over `max_reply`.
fn write_keys(
    command: &str,
    max_reply: usize,
    cursor: Option<&[u8]>,
    keys: &[Arc<[u8]>],
    out: &mut Outbox,
) {
    let size = keys.iter().fold(array_header_len(keys.len()), |size, key| {
        size.saturating_add(bulk_reply_len(key.len()))
    });
    if size > max_reply {
        return reply_too_large(command, size, max_reply, out);
    }
    if let Some(cursor) = cursor {
        write_array_len(out, 2);
        write_bulk(out, cursor);
    }
    write_array_len(out, keys.len());
    for key in keys {
        write_bulk(out, key);
    }
}

/// RENAME / RENAMENX key newkey: `ERR no such key` for a missing source; the same name is a
/// no-op (OK, or 0 for RENAMENX).
pub(super) fn rename(nx: bool, store: &mut Store, now: Instant, args: Args<'_>, out: &mut Outbox) {
    match store.rename(args.get(1), args.get(2), nx, now) {
        None => write_error(out, "ERR no such key"),
        Some(_) if !nx => write_simple(out, "OK"),
        Some(moved) => write_integer(out, i64::from(moved)),
    }
}

/// COPY source destination [DB index] [REPLACE]. Only database 0 exists: another valid index
/// is refused with Redis's out-of-range error (Redis has 16).
pub(super) fn copy(store: &mut Store, now: Instant, args: Args<'_>, out: &mut Outbox) {
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        let option = args.get(i);
        if option.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if option.eq_ignore_ascii_case(b"db") && i + 1 < args.len() {
            i += 1;
            match parse_int(args.get(i)) {
                Err(error) => return write_error(out, error),
                Ok(0) => {}
                Ok(_) => return write_error(out, "ERR DB index is out of range"),
            }
        } else {
            return write_error(out, SYNTAX_ERROR);
        }
        i += 1;
    }
    let (from, to) = (args.get(1), args.get(2));
    if from == to {
        return write_error(out, "ERR source and destination objects are the same");
    }
    write_integer(out, i64::from(store.copy(from, to, replace, now)));
}

/// A C `int` as Redis's `getIntFromObjectOrReply` reads it, with its two errors.
pub(super) fn parse_int(text: &[u8]) -> Result<i32, &'static str> {
    let n = super::resp::parse_i64(text).ok_or(NOT_AN_INTEGER)?;
    i32::try_from(n)
        .map_err(|_| "ERR value is out of range, value must between -2147483648 and 2147483647")
}

/// RANDOMKEY: a random live key, or nil.
pub(super) fn random_key(store: &mut Store, now: Instant, out: &mut Outbox) {
    match store.random_key(now) {
        Some(key) => write_bulk(out, &key),
        None => write_null(out),
    }
}

/// FLUSHDB / FLUSHALL [ASYNC|SYNC].
pub(super) fn flush(store: &mut Store, args: Args<'_>, out: &mut Outbox) {
    if args.len() > 2 || (args.len() == 2 && !is_any(args.get(1), &["async", "sync"])) {
        return write_error(out, SYNTAX_ERROR);
    }
    store.clear();
    write_simple(out, "OK");
}

/// DBSIZE: the keys held, counting expired ones not yet removed, as Redis's `dictSize`.
pub(super) fn dbsize(store: &Store, out: &mut Outbox) {
    write_integer(out, store.len() as i64);
}
