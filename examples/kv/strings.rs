//! The string commands of the `kv` server that take more than a line in the dispatcher, with
//! Redis 7.0's replies: SET (NX/XX/GET/EX/PX/EXAT/PXAT/KEEPTTL), GETEX, MGET (sized before it
//! is written, see `commands.rs`), APPEND, SETRANGE, GETRANGE (a result over `max_bulk_len` is
//! refused as over Redis's `proto-max-bulk-len`) and INCRBYFLOAT (in `f64`, where Redis uses
//! `long double`).

use std::time::Instant;

use ioman::net::Outbox;

use super::commands::{
    Client, KEEP_VALUES, NOT_A_FLOAT, NOT_AN_INTEGER, SYNTAX_ERROR, reply_too_large,
};
use super::expiry::{GetexOption, TtlKind, getex_options};
use super::float::{format_float, parse_float};
use super::resp::{
    Args, NULL_REPLY_LEN, array_header_len, bulk_reply_len, parse_i64, write_array_len, write_bulk,
    write_error, write_integer, write_null, write_simple, write_value,
};
use super::store::{Expiry, Store};

const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// SET key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-seconds|
/// PXAT unix-milliseconds|KEEPTTL], with Redis's option rules: NX and XX exclude each other,
/// the expire options each other and KEEPTTL (one of them may repeat; the last wins). The expire
/// time is checked first; with GET the old value (or nil) is the reply, even when NX or XX
/// stops the write.
pub(super) fn set(
    client: &Client,
    store: &mut Store,
    now: Instant,
    args: Args<'_>,
    out: &mut Outbox,
) {
    let (mut nx, mut xx, mut keep_ttl, mut get) = (false, false, false, false);
    let mut ttl: Option<(TtlKind, &[u8])> = None;
    let mut i = 3;
    while i < args.len() {
        let option = args.get(i);
        let has_next = i + 1 < args.len();
        let kind = TtlKind::parse(option);
        if option.eq_ignore_ascii_case(b"nx") && !xx {
            nx = true;
        } else if option.eq_ignore_ascii_case(b"xx") && !nx {
            xx = true;
        } else if option.eq_ignore_ascii_case(b"get") {
            get = true;
        } else if option.eq_ignore_ascii_case(b"keepttl") && ttl.is_none() {
            keep_ttl = true;
        } else if let Some(kind) = kind
            && !keep_ttl
            && has_next
            && ttl.is_none_or(|(set, _)| set == kind)
        {
            i += 1;
            ttl = Some((kind, args.get(i)));
        } else {
            return write_error(out, SYNTAX_ERROR);
        }
        i += 1;
    }
    let expiry = match ttl {
        None if keep_ttl => Expiry::Keep,
        None => Expiry::Persist,
        Some((kind, amount)) => match client.wall.expire_at(kind, amount, now) {
            Ok(at) => Expiry::At(at),
            Err(err) => return err.write("set", out),
        },
    };
    let key = args.get(1);
    if get {
        match store.get(key, now) {
            Some(value) => write_value(out, value),
            None => write_null(out),
        }
    }
    if (nx || xx) && store.contains(key, now) == nx {
        if !get {
            write_null(out);
        }
        return;
    }
    store.set(key, args.get(2), expiry, now);
    if let Expiry::At(at) = expiry
        && at <= now
    {
        // An absolute time already past: written, then gone, as in Redis.
        store.remove(key, now);
    }
    if !get {
        write_simple(out, "OK");
    }
}

/// GETEX key [EX seconds|PX milliseconds|EXAT unix-seconds|PXAT unix-milliseconds|PERSIST]:
/// the value, then the expiry changed. As Redis: options are checked first, a missing key is
/// nil before the time is checked, and an absolute time already past deletes the key.
pub(super) fn getex(
    client: &Client,
    store: &mut Store,
    now: Instant,
    args: Args<'_>,
    out: &mut Outbox,
) {
    let option = match getex_options(args) {
        Ok(option) => option,
        Err(error) => return write_error(out, error),
    };
    let key = args.get(1);
    if !store.contains(key, now) {
        return write_null(out);
    }
    let at = match option {
        GetexOption::Expire(kind, amount) => match client.wall.expire_at(kind, amount, now) {
            Ok(at) => Some(at),
            Err(err) => return err.write("getex", out),
        },
        _ => None,
    };
    if let Some(value) = store.get(key, now) {
        write_value(out, value);
    }
    match (option, at) {
        (_, Some(at)) => {
            store.set_expiry(key, at, now);
        }
        (GetexOption::Persist, _) => {
            store.persist(key, now);
        }
        _ => {}
    }
}

impl Client {
    /// MGET key [key ...]: looks every value up first, so the reply is sized (and atomic)
    /// before a byte of it is written; a reply over `max_reply` is refused as a whole.
    pub(super) fn mget(
        &mut self,
        store: &mut Store,
        now: Instant,
        args: Args<'_>,
        out: &mut Outbox,
    ) {
        let values = &mut self.values;
        values.extend(args.iter_from(1).map(|key| store.get(key, now).cloned()));
        let size = values.iter().fold(array_header_len(values.len()), |size, value| {
            size.saturating_add(value.as_ref().map_or(NULL_REPLY_LEN, |v| bulk_reply_len(v.len())))
        });
        if size > self.max_reply {
            reply_too_large("mget", size, self.max_reply, out);
        } else {
            write_array_len(out, values.len());
            for value in values.iter() {
                match value {
                    Some(value) => write_value(out, value),
                    None => write_null(out),
                }
            }
        }
        values.clear();
        values.shrink_to(KEEP_VALUES);
    }

    /// APPEND key value: the new length; the key keeps its expiry.
    pub(super) fn append(
        &self,
        store: &mut Store,
        now: Instant,
        key: &[u8],
        value: &[u8],
        out: &mut Outbox,
    ) {
        let Some(old) = store.get(key, now) else {
            store.set(key, value, Expiry::Persist, now);
            return write_integer(out, value.len() as i64);
        };
        let total = old.len().saturating_add(value.len());
        if total > self.max_value {
            return write_error(out, TOO_BIG);
        }
        let mut joined = Vec::with_capacity(total);
        joined.extend_from_slice(old);
        joined.extend_from_slice(value);
        store.set(key, &joined, Expiry::Keep, now);
        write_integer(out, total as i64);
    }

    /// SETRANGE key offset value: overwrites from `offset`, padding with zero bytes; the new
    /// length. The key keeps its expiry.
    pub(super) fn setrange(
        &self,
        store: &mut Store,
        now: Instant,
        args: Args<'_>,
        out: &mut Outbox,
    ) {
        let (key, value) = (args.get(1), args.get(3));
        let Some(offset) = parse_i64(args.get(2)) else {
            return write_error(out, NOT_AN_INTEGER);
        };
        let Ok(offset) = usize::try_from(offset) else {
            return write_error(out, "ERR offset is out of range");
        };
        let old = store.get(key, now);
        if value.is_empty() {
            return write_integer(out, old.map_or(0, |old| old.len() as i64));
        }
        let end = offset.saturating_add(value.len());
        if end > self.max_value {
            return write_error(out, TOO_BIG);
        }
        let (mut new, expiry) = match old {
            Some(old) => (old.to_vec(), Expiry::Keep),
            None => (Vec::new(), Expiry::Persist),
        };
        if new.len() < end {
            new.resize(end, 0);
        }
        if let Some(slot) = new.get_mut(offset..end) {
            slot.copy_from_slice(value);
        }
        store.set(key, &new, expiry, now);
        write_integer(out, new.len() as i64);
    }
}

/// GETRANGE key start end: the bytes from `start` to `end` inclusive, negative counting from
/// the end, clamped as Redis 7.0 does (an `end` before the start of the string clamps to its
/// first byte); an empty string when the range is empty or the key missing.
pub(super) fn getrange(store: &mut Store, now: Instant, args: Args<'_>, out: &mut Outbox) {
    let (Some(mut start), Some(mut end)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
        return write_error(out, NOT_AN_INTEGER);
    };
    let value = store.get(args.get(1), now).map(|v| &v[..]).unwrap_or_default();
    let len = value.len() as i64;
    if start < 0 && end < 0 && start > end {
        return write_bulk(out, b"");
    }
    if start < 0 {
        start = start.saturating_add(len).max(0);
    }
    if end < 0 {
        end = end.saturating_add(len).max(0);
    }
    end = end.min(len - 1);
    if len == 0 || start > end {
        return write_bulk(out, b"");
    }
    write_bulk(out, value.get(start as usize..=end as usize).unwrap_or_default());
}

/// INCRBYFLOAT key increment, in `f64` (Redis uses `long double`): the new value formatted as
/// [`format_float`] does; the key keeps its expiry.
pub(super) fn incrbyfloat(
    store: &mut Store,
    now: Instant,
    key: &[u8],
    incr: &[u8],
    out: &mut Outbox,
) {
    let current = match store.get(key, now) {
        Some(value) => parse_float(value),
        None => Some(0.0),
    };
    let (Some(current), Some(incr)) = (current, parse_float(incr)) else {
        return write_error(out, NOT_A_FLOAT);
    };
    let value = current + incr;
    if !value.is_finite() {
        return write_error(out, "ERR increment would produce NaN or Infinity");
    }
    let text = format_float(value);
    store.set(key, text.as_bytes(), Expiry::Keep, now);
    write_bulk(out, text.as_bytes());
}
