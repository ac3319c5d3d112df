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
//! The commands themselves live in one module per concept: `strings.rs` (SET, GETEX, MGET,
//! APPEND, ...), `expiry.rs` (EXPIRE family, TTL family, PERSIST), `keyspace.rs` (TYPE, KEYS,
//! SCAN, RENAME, COPY, FLUSHDB, ...) and `admin.rs` (COMMAND, CONFIG, CLIENT, HELLO, INFO,
//! SELECT). This file parses, checks the arity and dispatches; one-line commands are answered
//! here. EXAT/PXAT/EXPIREAT and EXPIRETIME read a wall clock anchored once per session
//! ([`KvSession::with_wall_clock`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ioman::net::Outbox;

use super::admin;
use super::expiry::{self, TtlKind, Wall};
use super::keyspace;
use super::resp::{
    Args, Limits, Parsed, Parser, parse_i64, push_i64, write_bulk, write_error, write_integer,
    write_null, write_simple, write_value,
};
use super::store::{Expiry, IncrError, KeyBuf, Store};
use super::strings;

/// What one call of [`KvSession::on_bytes`] did with its input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes used up (complete commands); the rest must be passed again, followed by new
    /// bytes, on the next call.
    pub consumed: usize,
    /// Close the connection once the output has been flushed; no further input is processed.
    pub close: bool,
}

/// Supported commands with their Redis arity (`n` means exactly `n` arguments counting the
/// name, `-n` at least `n`) and their group, as COMMAND DOCS reports it.
pub(super) const COMMANDS: &[(&str, i32, &str)] = &[
    ("get", 2, "string"),
    ("set", -3, "string"),
    ("del", -2, "generic"),
    ("unlink", -2, "generic"),
    ("exists", -2, "generic"),
    ("touch", -2, "generic"),
    ("type", 2, "generic"),
    ("keys", 2, "generic"),
    ("scan", -2, "generic"),
    ("rename", 3, "generic"),
    ("renamenx", 3, "generic"),
    ("copy", -3, "generic"),
    ("randomkey", 1, "generic"),
    ("incr", 2, "string"),
    ("decr", 2, "string"),
    ("incrby", 3, "string"),
    ("decrby", 3, "string"),
    ("incrbyfloat", 3, "string"),
    ("mset", -3, "string"),
    ("msetnx", -3, "string"),
    ("mget", -2, "string"),
    ("append", 3, "string"),
    ("strlen", 2, "string"),
    ("getrange", 4, "string"),
    ("setrange", 4, "string"),
    ("getset", 3, "string"),
    ("getdel", 2, "string"),
    ("getex", -2, "string"),
    ("setnx", 3, "string"),
    ("setex", 4, "string"),
    ("psetex", 4, "string"),
    ("expire", -3, "generic"),
    ("pexpire", -3, "generic"),
    ("expireat", -3, "generic"),
    ("pexpireat", -3, "generic"),
    ("expiretime", 2, "generic"),
    ("pexpiretime", 2, "generic"),
    ("persist", 2, "generic"),
    ("ttl", 2, "generic"),
    ("pttl", 2, "generic"),
    ("ping", -1, "connection"),
    ("echo", 2, "connection"),
    ("quit", -1, "connection"),
    ("select", 2, "connection"),
    ("hello", -1, "connection"),
    ("client", -2, "connection"),
    ("dbsize", 1, "server"),
    ("flushdb", -1, "server"),
    ("flushall", -1, "server"),
    ("info", -1, "server"),
    ("command", -1, "server"),
    ("config", -2, "server"),
];

pub(super) const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";
pub(super) const SYNTAX_ERROR: &str = "ERR syntax error";
pub(super) const NOT_A_FLOAT: &str = "ERR value is not a valid float";

/// Sessions alive in this process (INFO's `connected_clients`).
pub(super) static CONNECTED: AtomicUsize = AtomicUsize::new(0);
/// The last CLIENT ID given out.
static LAST_ID: AtomicI64 = AtomicI64::new(0);

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
pub(super) struct Client {
    /// CLIENT ID: unique in the process, from 1.
    pub(super) id: i64,
    /// Set by CLIENT SETNAME or HELLO SETNAME.
    pub(super) name: Option<Vec<u8>>,
    /// MGET's values, looked up before its reply is sized and written; empty between
    /// commands, kept for its allocation (up to [`KEEP_VALUES`] entries).
    pub(super) values: Vec<Option<Arc<[u8]>>>,
    /// KEYS's and SCAN's keys, likewise.
    pub(super) keys: Vec<KeyBuf>,
    /// [`Limits::max_reply`].
    pub(super) max_reply: usize,
    /// [`Limits::max_bulk_len`]: also the longest value APPEND and SETRANGE may make, as
    /// Redis's `proto-max-bulk-len`.
    pub(super) max_value: usize,
    /// The wall clock, for absolute expiry times.
    pub(super) wall: Wall,
}

/// The most MGET value slots a session keeps allocated between commands.
pub(super) const KEEP_VALUES: usize = 1024;

impl Default for KvSession {
    fn default() -> KvSession {
        KvSession::with_limits(Limits::default())
    }
}

impl Drop for KvSession {
    fn drop(&mut self) {
        CONNECTED.fetch_sub(1, Ordering::Relaxed);
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

    /// A session enforcing `limits` whose wall clock (for absolute expiry times, EXAT/PXAT,
    /// EXPIREAT, EXPIRETIME) reads `unix_ms` Unix milliseconds at `at`, and runs with the `now`
    /// passed to [`KvSession::on_bytes`] from there. [`KvSession::with_limits`] reads the
    /// system clock once.
    pub fn with_wall_clock(limits: Limits, at: Instant, unix_ms: i64) -> KvSession {
        CONNECTED.fetch_add(1, Ordering::Relaxed);
        let client = Client {
            id: LAST_ID.fetch_add(1, Ordering::Relaxed) + 1,
            name: None,
            values: Vec::new(),
            keys: Vec::new(),
            max_reply: limits.max_reply,
            max_value: limits.max_bulk_len,
            wall: Wall { at, unix_ms },
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
    let Some(&(command, arity, _)) =
        COMMANDS.iter().find(|(command, ..)| command.as_bytes().eq_ignore_ascii_case(args.get(0)))
    else {
        admin::unknown_command(args, out);
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
        "set" => strings::set(client, store, now, args, out),
        "getex" => strings::getex(client, store, now, args, out),
        "del" | "unlink" => {
            let removed = args.iter_from(1).filter(|key| store.remove(key, now)).count();
            write_integer(out, removed as i64);
        }
        "exists" | "touch" => {
            let found = args.iter_from(1).filter(|key| store.contains(key, now)).count();
            write_integer(out, found as i64);
        }
        "type" => keyspace::type_of(store, now, key, out),
        "keys" => keyspace::keys(client, store, now, key, out),
        "scan" => keyspace::scan(client, store, now, args, out),
        "rename" | "renamenx" => keyspace::rename(command == "renamenx", store, now, args, out),
        "copy" => keyspace::copy(store, now, args, out),
        "randomkey" => keyspace::random_key(store, now, out),
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
        "incrbyfloat" => strings::incrbyfloat(store, now, key, args.get(2), out),
        "mset" | "msetnx" if argc % 2 == 0 => wrong_arity(command, out),
        "msetnx" if args.iter_from(1).step_by(2).any(|key| store.contains(key, now)) => {
            write_integer(out, 0);
        }
        "mset" | "msetnx" => {
            let mut pairs = args.iter_from(1);
            while let (Some(key), Some(value)) = (pairs.next(), pairs.next()) {
                store.set(key, value, Expiry::Persist, now);
            }
            if command == "mset" { write_simple(out, "OK") } else { write_integer(out, 1) }
        }
        "mget" => client.mget(store, now, args, out),
        "append" => client.append(store, now, key, args.get(2), out),
        "strlen" => write_integer(out, store.get(key, now).map_or(0, |v| v.len() as i64)),
        "getrange" => strings::getrange(store, now, args, out),
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
            match client.wall.expire_at(unit, args.get(2), now) {
                Err(reply) => reply.write(command, out),
                Ok(at) => {
                    store.set(key, args.get(3), Expiry::At(at), now);
                    write_simple(out, "OK");
                }
            }
        }
        "expire" | "pexpire" | "expireat" | "pexpireat" => {
            expiry::expire(command, &client.wall, store, now, args, out);
        }
        "ttl" | "pttl" | "expiretime" | "pexpiretime" => {
            expiry::ttl(command, &client.wall, store, now, key, out);
        }
        "persist" => write_integer(out, i64::from(store.persist(key, now))),
        "ping" if argc == 1 => write_simple(out, "PONG"),
        "ping" if argc == 2 => write_bulk(out, key),
        "ping" => wrong_arity(command, out),
        "echo" => write_bulk(out, key),
        "dbsize" => keyspace::dbsize(store, out),
        "flushdb" | "flushall" => keyspace::flush(store, args, out),
        "quit" => {
            write_simple(out, "OK");
            return Flow::Close;
        }
        "select" => admin::select(key, out),
        "hello" => admin::hello(client, args, out),
        "info" => admin::info(client, store, args, out),
        "command" => admin::command_command(args, out),
        "config" => admin::config(client, args, out),
        "client" => admin::client_command(client, args, out),
        _ => admin::unknown_command(args, out),
    }
    Flow::Continue
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

/// `-ERR reply too large: MGET would send 10485760000 bytes, over the limit of 134217728;
/// ask for fewer keys at once`
pub(super) fn reply_too_large(command: &str, size: usize, limit: usize, out: &mut Outbox) {
    let out = out.vec();
    out.extend_from_slice(b"-ERR reply too large: ");
    out.extend(command.bytes().map(|b| b.to_ascii_uppercase()));
    out.extend_from_slice(b" would send ");
    push_i64(out, i64::try_from(size).unwrap_or(i64::MAX));
    out.extend_from_slice(b" bytes, over the limit of ");
    push_i64(out, i64::try_from(limit).unwrap_or(i64::MAX));
    out.extend_from_slice(b"; ask for fewer keys at once\r\n");
}
