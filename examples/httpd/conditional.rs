//! Validators and conditional requests (RFC 9110 §8.8 and §13): the strong `ETag` and the
//! `Last-Modified` of a file, and whether `If-Match`, `If-Unmodified-Since`, `If-None-Match`,
//! `If-Modified-Since` or `If-Range` hold against them.
//!
//! The `ETag` is `"<mtime seconds>.<mtime nanoseconds>-<size>"` in hex. It changes whenever the
//! file is written (its mtime moves), so it is used as a strong validator, as nginx's and
//! Apache's are; the one case it would not change, two same-size writes within one timestamp
//! tick, is the one the file cache also refuses to trust (see `files::FileCache`).

use super::files::Stamp;
use std::time::UNIX_EPOCH;

/// A file's validators, as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    /// The entity tag with its quotes, e.g. `"6543a1b2.1d2c-1f"`.
    pub etag: Vec<u8>,
    /// `Last-Modified` in seconds since the epoch: the mtime, but never later than the
    /// response's `Date` (RFC 9110 §8.8.2.1).
    pub last_modified: u64,
}

impl Validators {
    /// Sets the validators of the file version `stamp` for a response dated `now` (seconds),
    /// reusing `self`'s buffer.
    pub fn set(&mut self, stamp: &Stamp, now: u64) {
        self.etag.clear();
        self.etag.push(b'"');
        push_hex(&mut self.etag, u64::try_from(stamp.mtime.0).unwrap_or(0));
        self.etag.push(b'.');
        push_hex(&mut self.etag, u64::try_from(stamp.mtime.1).unwrap_or(0));
        self.etag.push(b'-');
        push_hex(&mut self.etag, stamp.len);
        self.etag.push(b'"');
        self.last_modified = stamp.mtime_secs().min(now);
    }
}

fn push_hex(out: &mut Vec<u8>, n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut start = digits.len();
    let mut n = n;
    loop {
        start -= 1;
        if let Some(slot) = digits.get_mut(start) {
            *slot = HEX[(n & 15) as usize];
        }
        n >>= 4;
        if n == 0 || start == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

/// The conditional request fields of one request, as received (field values).
#[derive(Clone, Copy, Debug, Default)]
pub struct Conditions<'a> {
    /// `If-Match` (the first field line; see `more_match`).
    pub if_match: Option<&'a [u8]>,
    /// More `If-Match` lines.
    pub more_match: [Option<&'a [u8]>; 3],
    /// `If-Unmodified-Since`, if it appeared exactly once.
    pub if_unmodified_since: Option<&'a [u8]>,
    /// `If-None-Match` (the first field line; see `more_none_match`).
    pub if_none_match: Option<&'a [u8]>,
    /// More than one `If-None-Match` line: they form one list, checked line by line.
    pub more_none_match: [Option<&'a [u8]>; 3],
    /// `If-Modified-Since`, if it appeared exactly once.
    pub if_modified_since: Option<&'a [u8]>,
    /// `If-Range`, if it appeared exactly once.
    pub if_range: Option<&'a [u8]>,
    /// A field that must appear once appeared twice: `If-Modified-Since`, `If-Range`.
    pub repeated: bool,
}

impl Conditions<'_> {
    /// Whether the request is answered 412 Precondition Failed (RFC 9110 §13.2.2, steps 1 and
    /// 2): an `If-Match` that names no current tag (strong comparison; `*` matches any file), or
    /// without one, a valid `If-Unmodified-Since` earlier than `Last-Modified`.
    pub fn precondition_failed(&self, validators: &Validators) -> bool {
        if let Some(first) = self.if_match {
            return !std::iter::once(first)
                .chain(self.more_match.iter().flatten().copied())
                .any(|list| list_hits(list, &validators.etag, Comparison::Strong));
        }
        match self.if_unmodified_since.and_then(parse_date) {
            Some(since) => validators.last_modified > since,
            None => false,
        }
    }

    /// Whether a GET or HEAD is answered 304 Not Modified (RFC 9110 §13.2.2, steps 3 and 4):
    /// `If-None-Match` decides if present (weak comparison, `*` matches any file); otherwise a
    /// valid `If-Modified-Since` no earlier than `Last-Modified` does.
    pub fn not_modified(&self, validators: &Validators) -> bool {
        if let Some(first) = self.if_none_match {
            return std::iter::once(first)
                .chain(self.more_none_match.iter().flatten().copied())
                .any(|list| list_hits(list, &validators.etag, Comparison::Weak));
        }
        match self.if_modified_since.and_then(parse_date) {
            Some(since) => validators.last_modified <= since,
            None => false,
        }
    }

    /// Whether a `Range` may be honoured: no `If-Range`, or one that matches (RFC 9110
    /// §13.1.5): an entity tag by strong comparison, or exactly `Last-Modified`.
    pub fn range_allowed(&self, validators: &Validators) -> bool {
        if self.repeated {
            return false;
        }
        let Some(value) = self.if_range.map(<[u8]>::trim_ascii) else { return true };
        if value.starts_with(b"\"") || value.starts_with(b"W/") {
            // A weak tag never matches strongly.
            return value == validators.etag.as_slice();
        }
        parse_date(value) == Some(validators.last_modified)
    }
}

/// How entity tags are compared (RFC 9110 §8.8.3.2).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Comparison {
    /// Both must be strong and equal (`If-Match`).
    Strong,
    /// `W/` is ignored on both sides (`If-None-Match`).
    Weak,
}

/// Whether an `If-Match` or `If-None-Match` field value names `etag`, or is `*`. A malformed
/// list matches nothing from the bad element on (for `If-None-Match` the full response is
/// sent, always a safe answer; for `If-Match`, 412).
fn list_hits(list: &[u8], etag: &[u8], comparison: Comparison) -> bool {
    let list = list.trim_ascii();
    if list == b"*" {
        return true;
    }
    let opaque = etag.strip_prefix(b"W/").unwrap_or(etag);
    let mut rest = list;
    loop {
        rest = rest.trim_ascii_start();
        while let Some(tail) = rest.strip_prefix(b",") {
            rest = tail.trim_ascii_start();
        }
        if rest.is_empty() {
            return false;
        }
        let weak = rest.starts_with(b"W/");
        let tag = rest.strip_prefix(b"W/").unwrap_or(rest);
        if tag.first() != Some(&b'"') {
            return false;
        }
        let Some(close) = tag.iter().skip(1).position(|&b| b == b'"') else { return false };
        let (candidate, tail) = tag.split_at(close + 2);
        if candidate == opaque && !(weak && comparison == Comparison::Strong) {
            return true;
        }
        rest = tail.trim_ascii_start();
        if !rest.is_empty() && !rest.starts_with(b",") {
            return false;
        }
    }
}

/// Parses an HTTP date (IMF-fixdate, or the obsolete RFC 850 and asctime forms, with
/// `httpdate`) into seconds since the epoch; `None` if it is not one.
pub fn parse_date(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value.trim_ascii()).ok()?;
    let time = httpdate::parse_http_date(text).ok()?;
    time.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}
