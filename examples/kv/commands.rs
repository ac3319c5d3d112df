//! The per-connection command loop of the `kv` server: parses pipelined RESP commands and runs
//! them against the [`Store`], writing Redis-compatible replies.
//!
//! Shape of the hook (what ioman's connection helper calls): the bytes received so far and not
//! yet consumed go in, replies are appended to an [`Outbox`], and [`Progress`] says how many
//! input bytes were used and whether to close once the output is flushed (after QUIT or a
//! protocol error).
//!
//! # Memory is bounded by configuration, not by what a client pipelines
//! - **One command at a time, while there is room**: before each command the loop checks
//!   [`Outbox::has_room`] (false from the connection's high watermark on) and, if full, stops
//!   and returns what it consumed. The connection offers the rest again once the output has
//!   drained, so a pipeline of a thousand GETs of a large value holds at most one reply beyond
//!   the watermark, never a thousand.
//! - **Values are shared, not copied**: GET and MGET queue a large stored value as the store's
//!   own `Arc<[u8]>` (see `resp.rs`), so repeating a key in one MGET costs one queue entry per
//!   repetition, not one copy.
//! - **MGET's reply is sized before it is written**: the values are looked up first (all at
//!   the same instant, so the reply is atomic, as in Redis), and if the encoded reply would
//!   exceed [`Limits::max_reply`] (128 MiB by default, counting shared values at their length
//!   as the connection's output cap does), the whole MGET is answered with
//!   `-ERR reply too large ...` and the connection stays usable. This serves any MGET up to
//!   the limit — two maximal values, or thousands of ordinary ones — and refuses the abusive
//!   ones (a 7 KB MGET naming a 10 MiB key a thousand times asks for 10 GB) with a clear
//!   error instead of closing the connection when the output cap refuses the reply. Redis has
//!   no such limit and would try to build the whole reply. The server sets the connection's
//!   output cap to hold two maximal replies (one partly sent, one new), so a session that
//!   checks the room never reaches it.
//!
//! The string commands follow Redis's replies and error texts: SET (NX/XX/GET/EX/PX/EXAT/PXAT/
//! KEEPTTL), SETNX/SETEX/PSETEX, GETSET/GETDEL, MSET/MSETNX, APPEND/STRLEN/GETRANGE/SETRANGE
//! (a result over `max_bulk_len` is refused as over Redis's `proto-max-bulk-len`), and the
//! INCR family with INCRBYFLOAT (in `f64`, where Redis uses `long double`). EXAT/PXAT read a
//! wall clock anchored once per session ([`KvSession::with_wall_clock`]).
//!
//! Besides the data commands, just enough of the introspection commands is answered for
//! `redis-cli` and `redis-benchmark` to start: COMMAND (empty docs), CONFIG GET `save` /
//! `appendonly`, SELECT 0, CLIENT SETNAME/GETNAME/SETINFO, and HELLO (refused with `-NOPROTO`,
//! so clients stay on RESP2). EXPIRE takes no NX/XX/GT/LT options.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ioman::net::Outbox;

use super::admin::{client_command, command_command, config, unknown_command};
pub use super::float::{format_float, parse_float};
use super::resp::{
    Args, Limits, NULL_REPLY_LEN, Parsed, Parser, array_header_len, bulk_reply_len, parse_i64,
    push_i64, write_array_len, write_bulk, write_error, write_integer, write_null, write_simple,
    write_value,
};
use super::store::{Expiry, IncrError, Store, Ttl};

/// What one call of [`KvSession::on_bytes`] did with its input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes used up (complete commands); the rest must be passed again, followed by new
    /// bytes, on the next call.
    pub consumed: usize,
    /// Close the connection once the output has been flushed; no further input is processed.
    pub close: bool,
}

/// Supported commands with their Redis arity: `n` means exactly `n` arguments (counting the
/// name), `-n` at least `n`.
pub(super) const COMMANDS: &[(&str, i32)] = &[
    ("get", 2),
    ("set", -3),
    ("del", -2),
    ("exists", -2),
    ("incr", 2),
    ("decr", 2),
    ("incrby", 3),
    ("decrby", 3),
    ("mset", -3),
    ("mget", -2),
    ("expire", 3),
    ("pexpire", 3),
    ("ttl", 2),
    ("pttl", 2),
    ("ping", -1),
    ("echo", 2),
    ("dbsize", 1),
    ("flushall", -1),
    ("quit", -1),
    ("command", -1),
    ("config", -2),
    ("select", 2),
    ("client", -2),
    ("hello", -1),
    ("append", 3),
    ("strlen", 2),
    ("getrange", 4),
    ("setrange", 4),
    ("getset", 3),
    ("getdel", 2),
    ("setnx", 3),
    ("setex", 4),
    ("psetex", 4),
    ("msetnx", -3),
    ("incrbyfloat", 3),
];

const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";
const SYNTAX_ERROR: &str = "ERR syntax error";
const NOT_A_FLOAT: &str = "ERR value is not a valid float";
const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// The protocol state of one client connection.
#[derive(Debug)]
pub struct KvSession {
    parser: Parser,
    client: Client,
    /// QUIT or a protocol error was answered; everything else is ignored.
    closed: bool,
}

/// What the commands of one connection may change or reuse, apart from the parser.
#[derive(Debug)]
struct Client {
    /// Set by CLIENT SETNAME.
    name: Option<Vec<u8>>,
    /// MGET's values, looked up before its reply is sized and written; empty between
    /// commands, kept for its allocation (up to [`KEEP_VALUES`] entries).
    values: Vec<Option<Arc<[u8]>>>,
    /// [`Limits::max_reply`].
    max_reply: usize,
    /// [`Limits::max_bulk_len`]: also the longest value APPEND and SETRANGE may make, as
    /// Redis's `proto-max-bulk-len`.
    max_value: usize,
    /// The wall clock, for SET's EXAT/PXAT: `now` is this many Unix milliseconds at `instant`.
    wall: (Instant, i64),
}

/// The most MGET value slots a session keeps allocated between commands.
const KEEP_VALUES: usize = 1024;

impl Default for KvSession {
    fn default() -> KvSession {
        KvSession::with_limits(Limits::default())
    }
}

impl KvSession {
    /// A session with the default [`Limits`].
    pub fn new() -> KvSession {
        KvSession::default()
    }

    /// A session enforcing `limits`.
    pub fn with_limits(limits: Limits) -> KvSession {
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let unix_ms = i64::try_from(unix.as_millis()).unwrap_or(i64::MAX);
        KvSession::with_wall_clock(limits, Instant::now(), unix_ms)
    }

    /// A session enforcing `limits` whose wall clock (for absolute expiry times, EXAT/PXAT)
    /// reads `unix_ms` Unix milliseconds at `at`, and runs with the `now` passed to
    /// [`KvSession::on_bytes`] from there. [`KvSession::with_limits`] reads the system clock once.
    pub fn with_wall_clock(limits: Limits, at: Instant, unix_ms: i64) -> KvSession {
        let client = Client {
            name: None,
            values: Vec::new(),
            max_reply: limits.max_reply,
            max_value: limits.max_bulk_len,
            wall: (at, unix_ms),
        };
        KvSession { parser: Parser::new(limits), client, closed: false }
    }

    /// Runs the complete commands at the start of `input` while `out` has room, appending
    /// their replies to `out`.
    ///
    /// `input` must begin with the bytes left unconsumed by the previous call. Commands are
    /// run one by one, each only if [`Outbox::has_room`] holds before it: once the output
    /// reaches its room mark the call returns, and the unconsumed commands run when offered
    /// again (the connection does so once the output drained). A call that starts without room
    /// consumes nothing.
    pub fn on_bytes(
        &mut self,
        store: &mut Store,
        now: Instant,
        input: &[u8],
        out: &mut Outbox,
    ) -> Progress {
        if self.closed {
            return Progress { consumed: input.len(), close: true };
        }
        let mut pos = 0;
        while out.has_room() {
            let rest = input.get(pos..).unwrap_or_default();
            match self.parser.parse(rest) {
                Parsed::NeedMore => {
                    // Large incomplete commands move their complete arguments out of the input,
                    // which then holds little more than the argument still arriving.
                    pos += self.parser.spill(rest);
                    break;
                }
                Parsed::Empty(len) => pos += len,
                Parsed::Command(len) => {
                    pos += len;
                    let args = self.parser.args(rest);
                    let flow = execute(&mut self.client, store, now, args, out);
                    self.parser.release();
                    if flow == Flow::Close {
                        self.closed = true;
                        break;
                    }
                }
                Parsed::Error(err) => {
                    err.write(out);
                    self.closed = true;
                    break;
                }
            }
        }
        Progress { consumed: pos, close: self.closed }
    }
}

/// Whether the connection continues after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

fn execute(
    client: &mut Client,
    store: &mut Store,
    now: Instant,
    args: Args<'_>,
    out: &mut Outbox,
) -> Flow {
    let Some(&(command, arity)) =
        COMMANDS.iter().find(|(command, _)| command.as_bytes().eq_ignore_ascii_case(args.get(0)))
    else {
        unknown_command(args, out);
        return Flow::Continue;
    };
    let argc = args.len();
    let arity_ok = match usize::try_from(arity) {
        Ok(exact) => argc == exact,
        Err(_) => argc >= arity.unsigned_abs() as usize,
    };
    if !arity_ok {
        wrong_arity(command, out);
        return Flow::Continue;
    }
    let key = args.get(1);
    match command {
        "get" => match store.get(key, now) {
            Some(value) => write_value(out, value),
            None => write_null(out),
        },
        "set" => set(client, store, now, args, out),
        "del" => {
            let removed = args.iter_from(1).filter(|key| store.remove(key, now)).count();
            write_integer(out, removed as i64);
        }
        "exists" => {
            let found = args.iter_from(1).filter(|key| store.contains(key, now)).count();
            write_integer(out, found as i64);
        }
        "incr" => incr_reply(store.incr_by(key, 1, now), out),
        "decr" => incr_reply(store.incr_by(key, -1, now), out),
        "incrby" => match parse_i64(args.get(2)) {
            Some(delta) => incr_reply(store.incr_by(key, delta, now), out),
            None => write_error(out, NOT_AN_INTEGER),
        },
        "decrby" => match parse_i64(args.get(2)) {
            Some(i64::MIN) => write_error(out, "ERR decrement would overflow"),
            Some(delta) => incr_reply(store.incr_by(key, -delta, now), out),
            None => write_error(out, NOT_AN_INTEGER),
        },
        "mset" | "msetnx" if argc % 2 == 0 => wrong_arity(command, out),
        "msetnx" if args.iter_from(1).step_by(2).any(|key| store.contains(key, now)) => {
            write_integer(out, 0);
        }
        "msetnx" => {
            let mut pairs = args.iter_from(1);
            while let (Some(key), Some(value)) = (pairs.next(), pairs.next()) {
                store.set(key, value, Expiry::Persist, now);
            }
            write_integer(out, 1);
        }
        "mset" => {
            let mut pairs = args.iter_from(1);
            while let (Some(key), Some(value)) = (pairs.next(), pairs.next()) {
                store.set(key, value, Expiry::Persist, now);
            }
            write_simple(out, "OK");
        }
        "mget" => client.mget(store, now, args, out),
        "append" => client.append(store, now, key, args.get(2), out),
        "strlen" => write_integer(out, store.get(key, now).map_or(0, |v| v.len() as i64)),
        "getrange" => getrange(store, now, args, out),
        "setrange" => client.setrange(store, now, args, out),
        "getset" | "getdel" => {
            match store.get(key, now) {
                Some(value) => write_value(out, value),
                None => write_null(out),
            }
            if command == "getset" {
                store.set(key, args.get(2), Expiry::Persist, now);
            } else {
                store.remove(key, now);
            }
        }
        "setnx" if store.contains(key, now) => write_integer(out, 0),
        "setnx" => {
            store.set(key, args.get(2), Expiry::Persist, now);
            write_integer(out, 1);
        }
        "setex" | "psetex" => {
            let unit = if command == "setex" { TtlKind::Ex } else { TtlKind::Px };
            match client.expire_at(unit, args.get(2), now) {
                Err(reply) => reply.write(command, out),
                Ok(at) => {
                    store.set(key, args.get(3), Expiry::At(at), now);
                    write_simple(out, "OK");
                }
            }
        }
        "incrbyfloat" => incrbyfloat(store, now, key, args.get(2), out),
        "expire" | "pexpire" => {
            let unit_ms = if command == "expire" { 1000 } else { 1 };
            match parse_i64(args.get(2)) {
                None => write_error(out, NOT_AN_INTEGER),
                Some(amount) => match to_millis(amount, unit_ms) {
                    Some(ms) if ms <= 0 => write_integer(out, i64::from(store.remove(key, now))),
                    Some(ms) => match now.checked_add(Duration::from_millis(ms.unsigned_abs())) {
                        Some(at) => write_integer(out, i64::from(store.set_expiry(key, at, now))),
                        None => invalid_expire(command, out),
                    },
                    None => invalid_expire(command, out),
                },
            }
        }
        "ttl" | "pttl" => {
            let reply = match store.ttl(key, now) {
                Ttl::Missing => -2,
                Ttl::Persistent => -1,
                Ttl::Remaining(left) => {
                    let ms = i64::try_from(left.as_millis()).unwrap_or(i64::MAX);
                    if command == "ttl" { ms.saturating_add(500) / 1000 } else { ms }
                }
            };
            write_integer(out, reply);
        }
        "ping" if argc == 1 => write_simple(out, "PONG"),
        "ping" if argc == 2 => write_bulk(out, key),
        "ping" => wrong_arity(command, out),
        "echo" => write_bulk(out, key),
        "dbsize" => {
            store.expire_due(now);
            write_integer(out, store.len() as i64);
        }
        "flushall" if argc == 1 || (argc == 2 && is_any(key, &["async", "sync"])) => {
            store.clear();
            write_simple(out, "OK");
        }
        "flushall" => write_error(out, SYNTAX_ERROR),
        "quit" => {
            write_simple(out, "OK");
            return Flow::Close;
        }
        "select" => match parse_i64(key) {
            Some(0) => write_simple(out, "OK"),
            Some(_) => write_error(out, "ERR DB index is out of range"),
            None => write_error(out, "ERR invalid DB index"),
        },
        "hello" => write_error(out, "NOPROTO unsupported protocol version"),
        "command" => command_command(args, out),
        "config" => config(args, out),
        "client" => client_command(&mut client.name, args, out),
        _ => unknown_command(args, out),
    }
    Flow::Continue
}

impl Client {
    /// MGET key [key ...]: looks every value up first, so the reply is sized (and atomic)
    /// before a byte of it is written; a reply over `max_reply` is refused as a whole.
    fn mget(&mut self, store: &mut Store, now: Instant, args: Args<'_>, out: &mut Outbox) {
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
}

/// The kind of expire time SET, SETEX and PSETEX take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TtlKind {
    /// Relative seconds.
    Ex,
    /// Relative milliseconds.
    Px,
    /// Absolute Unix seconds.
    Exat,
    /// Absolute Unix milliseconds.
    Pxat,
}

/// Why an expire time was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExpireError {
    /// `ERR value is not an integer or out of range`
    NotAnInteger,
    /// `ERR invalid expire time in '<command>' command`
    Invalid,
}

impl ExpireError {
    fn write(self, command: &str, out: &mut Outbox) {
        match self {
            ExpireError::NotAnInteger => write_error(out, NOT_AN_INTEGER),
            ExpireError::Invalid => invalid_expire(command, out),
        }
    }
}

impl Client {
    /// The instant an expire time argument names, checked as Redis's
    /// `getExpireMillisecondsOrReply` does: an integer, positive, not overflowing. An absolute
    /// time in the past is an instant not after `now` (the key is written, then gone).
    fn expire_at(
        &self,
        kind: TtlKind,
        amount: &[u8],
        now: Instant,
    ) -> Result<Instant, ExpireError> {
        let amount = parse_i64(amount).ok_or(ExpireError::NotAnInteger)?;
        let unit_ms = if matches!(kind, TtlKind::Ex | TtlKind::Exat) { 1000 } else { 1 };
        let ms = to_millis(amount, unit_ms).filter(|ms| *ms > 0).ok_or(ExpireError::Invalid)?;
        let relative = match kind {
            TtlKind::Ex | TtlKind::Px => ms,
            TtlKind::Exat | TtlKind::Pxat => {
                let (at, unix_ms) = self.wall;
                let elapsed = match now.checked_duration_since(at) {
                    Some(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
                    None => -i64::try_from(at.duration_since(now).as_millis()).unwrap_or(i64::MAX),
                };
                ms.saturating_sub(unix_ms.saturating_add(elapsed))
            }
        };
        if relative <= 0 {
            return Ok(now);
        }
        now.checked_add(Duration::from_millis(relative.unsigned_abs())).ok_or(ExpireError::Invalid)
    }

    /// APPEND key value: the new length; the key keeps its expiry.
    fn append(&self, store: &mut Store, now: Instant, key: &[u8], value: &[u8], out: &mut Outbox) {
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
    fn setrange(&self, store: &mut Store, now: Instant, args: Args<'_>, out: &mut Outbox) {
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
/// the end, clamped as Redis does; an empty string when the range is empty or the key missing.
fn getrange(store: &mut Store, now: Instant, args: Args<'_>, out: &mut Outbox) {
    let (Some(mut start), Some(mut end)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
        return write_error(out, NOT_AN_INTEGER);
    };
    let value = store.get(args.get(1), now).map(|v| &v[..]).unwrap_or_default();
    let len = value.len() as i64;
    if start < 0 {
        start = start.saturating_add(len);
    }
    if end < 0 {
        end = end.saturating_add(len);
    }
    if len == 0 || start >= len || end < 0 || start > end {
        return write_bulk(out, b"");
    }
    let (start, end) = (start.max(0) as usize, end.min(len - 1) as usize);
    write_bulk(out, value.get(start..=end).unwrap_or_default());
}

/// INCRBYFLOAT key increment, in `f64` (Redis uses `long double`): the new value formatted as
/// [`format_float`] does; the key keeps its expiry.
fn incrbyfloat(store: &mut Store, now: Instant, key: &[u8], incr: &[u8], out: &mut Outbox) {
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

/// SET key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-seconds|
/// PXAT unix-milliseconds|KEEPTTL], with Redis's option rules: NX and XX exclude each other,
/// the expire options each other and KEEPTTL (one of them may repeat; the last wins). The expire
/// time is checked first; with GET the old value (or nil) is the reply, even when NX or XX
/// stops the write.
fn set(client: &Client, store: &mut Store, now: Instant, args: Args<'_>, out: &mut Outbox) {
    let (mut nx, mut xx, mut keep_ttl, mut get) = (false, false, false, false);
    let mut ttl: Option<(TtlKind, &[u8])> = None;
    let mut i = 3;
    while i < args.len() {
        let option = args.get(i);
        let has_next = i + 1 < args.len();
        let kind = [
            (&b"ex"[..], TtlKind::Ex),
            (b"px", TtlKind::Px),
            (b"exat", TtlKind::Exat),
            (b"pxat", TtlKind::Pxat),
        ]
        .into_iter()
        .find(|(name, _)| option.eq_ignore_ascii_case(name))
        .map(|(_, kind)| kind);
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
        Some((kind, amount)) => match client.expire_at(kind, amount, now) {
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

/// Converts a relative expire time to milliseconds; `None` if it is absurdly large. Redis
/// refuses times whose absolute Unix-milliseconds value overflows an `i64`; without a wall clock
/// we refuse anything beyond `i64::MAX / 2` ms (about 146 million years) instead.
fn to_millis(amount: i64, unit_ms: i64) -> Option<i64> {
    amount.checked_mul(unit_ms).filter(|ms| *ms <= i64::MAX / 2)
}

fn incr_reply(result: Result<i64, IncrError>, out: &mut Outbox) {
    match result {
        Ok(value) => write_integer(out, value),
        Err(IncrError::NotAnInteger) => write_error(out, NOT_AN_INTEGER),
        Err(IncrError::Overflow) => write_error(out, "ERR increment or decrement would overflow"),
    }
}

pub(super) fn is_any(arg: &[u8], options: &[&str]) -> bool {
    options.iter().any(|option| option.as_bytes().eq_ignore_ascii_case(arg))
}

/// `-ERR wrong number of arguments for 'get' command`
pub(super) fn wrong_arity(command: &str, out: &mut Outbox) {
    let out = out.vec();
    out.extend_from_slice(b"-ERR wrong number of arguments for '");
    out.extend_from_slice(command.as_bytes());
    out.extend_from_slice(b"' command\r\n");
}

/// `-ERR invalid expire time in 'set' command`
fn invalid_expire(command: &str, out: &mut Outbox) {
    let out = out.vec();
    out.extend_from_slice(b"-ERR invalid expire time in '");
    out.extend_from_slice(command.as_bytes());
    out.extend_from_slice(b"' command\r\n");
}

/// `-ERR reply too large: MGET would send 10485760000 bytes, over the limit of 134217728;
/// ask for fewer keys at once`
fn reply_too_large(command: &str, size: usize, limit: usize, out: &mut Outbox) {
    let out = out.vec();
    out.extend_from_slice(b"-ERR reply too large: ");
    out.extend(command.bytes().map(|b| b.to_ascii_uppercase()));
    out.extend_from_slice(b" would send ");
    push_i64(out, i64::try_from(size).unwrap_or(i64::MAX));
    out.extend_from_slice(b" bytes, over the limit of ");
    push_i64(out, i64::try_from(limit).unwrap_or(i64::MAX));
    out.extend_from_slice(b"; ask for fewer keys at once\r\n");
}
