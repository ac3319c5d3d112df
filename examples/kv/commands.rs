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
//! Besides the data commands, just enough of the introspection commands is answered for
//! `redis-cli` and `redis-benchmark` to start: COMMAND (empty docs), CONFIG GET `save` /
//! `appendonly`, SELECT 0, CLIENT SETNAME/GETNAME/SETINFO, and HELLO (refused with `-NOPROTO`,
//! so clients stay on RESP2). EXPIRE takes no NX/XX/GT/LT options.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ioman::net::Outbox;

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
const COMMANDS: &[(&str, i32)] = &[
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
];

const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";
const SYNTAX_ERROR: &str = "ERR syntax error";

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
        let client = Client { name: None, values: Vec::new(), max_reply: limits.max_reply };
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
                Parsed::NeedMore => break,
                Parsed::Empty(len) => pos += len,
                Parsed::Command(len) => {
                    pos += len;
                    let args = self.parser.args(rest);
                    if execute(&mut self.client, store, now, args, out) == Flow::Close {
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
        "set" => set(store, now, args, out),
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
        "mset" if argc % 2 == 0 => wrong_arity(command, out),
        "mset" => {
            let mut pairs = args.iter_from(1);
            while let (Some(key), Some(value)) = (pairs.next(), pairs.next()) {
                store.set(key, value, Expiry::Persist, now);
            }
            write_simple(out, "OK");
        }
        "mget" => client.mget(store, now, args, out),
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

/// SET key value [NX|XX] [EX seconds|PX milliseconds|KEEPTTL]
fn set(store: &mut Store, now: Instant, args: Args<'_>, out: &mut Outbox) {
    let (mut nx, mut xx, mut keep_ttl) = (false, false, false);
    let mut ttl: Option<(&[u8], i64)> = None;
    let mut i = 3;
    while i < args.len() {
        let option = args.get(i);
        let has_next = i + 1 < args.len();
        if option.eq_ignore_ascii_case(b"nx") && !xx {
            nx = true;
        } else if option.eq_ignore_ascii_case(b"xx") && !nx {
            xx = true;
        } else if option.eq_ignore_ascii_case(b"keepttl") && ttl.is_none() {
            keep_ttl = true;
        } else if option.eq_ignore_ascii_case(b"ex")
            && !keep_ttl
            && has_next
            && ttl.is_none_or(|(_, unit)| unit == 1000)
        {
            i += 1;
            ttl = Some((args.get(i), 1000));
        } else if option.eq_ignore_ascii_case(b"px")
            && !keep_ttl
            && has_next
            && ttl.is_none_or(|(_, unit)| unit == 1)
        {
            i += 1;
            ttl = Some((args.get(i), 1));
        } else {
            return write_error(out, SYNTAX_ERROR);
        }
        i += 1;
    }
    let expiry = match ttl {
        None if keep_ttl => Expiry::Keep,
        None => Expiry::Persist,
        Some((amount, unit_ms)) => {
            let Some(amount) = parse_i64(amount) else {
                return write_error(out, NOT_AN_INTEGER);
            };
            let at = to_millis(amount, unit_ms)
                .filter(|ms| *ms > 0)
                .and_then(|ms| now.checked_add(Duration::from_millis(ms.unsigned_abs())));
            match at {
                Some(at) => Expiry::At(at),
                None => return invalid_expire("set", out),
            }
        }
    };
    let key = args.get(1);
    if (nx || xx) && store.contains(key, now) == nx {
        return write_null(out);
    }
    store.set(key, args.get(2), expiry, now);
    write_simple(out, "OK");
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

/// COMMAND [COUNT|DOCS|INFO|LIST]: enough for redis-cli's start-up.
fn command_command(args: Args<'_>, out: &mut Outbox) {
    let sub = args.get(1);
    if args.len() == 1 || is_any(sub, &["docs", "info", "list"]) {
        write_array_len(out, 0);
    } else if sub.eq_ignore_ascii_case(b"count") {
        write_integer(out, COMMANDS.len() as i64);
    } else {
        unknown_subcommand(sub, "COMMAND", out);
    }
}

/// CONFIG GET param [param ...]: answers the parameters redis-benchmark asks for.
fn config(args: Args<'_>, out: &mut Outbox) {
    const PARAMS: &[(&str, &str)] = &[("save", ""), ("appendonly", "no")];
    let sub = args.get(1);
    if !sub.eq_ignore_ascii_case(b"get") {
        return unknown_subcommand(sub, "CONFIG", out);
    }
    if args.len() < 3 {
        return wrong_arity("config|get", out);
    }
    let lookup =
        |param: &[u8]| PARAMS.iter().find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(param));
    let found = args.iter_from(2).filter_map(lookup);
    write_array_len(out, 2 * found.clone().count());
    for (name, value) in found {
        write_bulk(out, name.as_bytes());
        write_bulk(out, value.as_bytes());
    }
}

/// CLIENT SETNAME name | GETNAME | SETINFO attr value
fn client_command(name: &mut Option<Vec<u8>>, args: Args<'_>, out: &mut Outbox) {
    let sub = args.get(1);
    if sub.eq_ignore_ascii_case(b"setname") {
        if args.len() != 3 {
            return wrong_arity("client|setname", out);
        }
        let new_name = args.get(2);
        if !new_name.iter().all(|b| (b'!'..=b'~').contains(b)) {
            return write_error(
                out,
                "ERR Client names cannot contain spaces, newlines or special characters.",
            );
        }
        let stored = name.get_or_insert_with(Vec::new);
        stored.clear();
        stored.extend_from_slice(new_name);
        write_simple(out, "OK");
    } else if sub.eq_ignore_ascii_case(b"getname") {
        match name.as_deref().filter(|name| !name.is_empty()) {
            Some(name) => write_bulk(out, name),
            None => write_null(out),
        }
    } else if sub.eq_ignore_ascii_case(b"setinfo") {
        if args.len() != 4 {
            return wrong_arity("client|setinfo", out);
        }
        write_simple(out, "OK");
    } else {
        unknown_subcommand(sub, "CLIENT", out);
    }
}

fn is_any(arg: &[u8], options: &[&str]) -> bool {
    options.iter().any(|option| option.as_bytes().eq_ignore_ascii_case(arg))
}

/// `-ERR wrong number of arguments for 'get' command`
fn wrong_arity(command: &str, out: &mut Outbox) {
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

/// `-ERR unknown subcommand 'foo'. Try CONFIG HELP.`
fn unknown_subcommand(sub: &[u8], command: &str, out: &mut Outbox) {
    let out = out.vec();
    out.extend_from_slice(b"-ERR unknown subcommand '");
    push_sanitized(out, sub.get(..128).unwrap_or(sub));
    out.extend_from_slice(b"'. Try ");
    out.extend_from_slice(command.as_bytes());
    out.extend_from_slice(b" HELP.\r\n");
}

/// `-ERR unknown command 'foo', with args beginning with: 'a' 'b' `, built like Redis does:
/// the name cut at 128 bytes, then quoted arguments while the list is under 128 bytes.
fn unknown_command(args: Args<'_>, out: &mut Outbox) {
    let out = out.vec();
    let name = args.get(0);
    out.extend_from_slice(b"-ERR unknown command '");
    push_sanitized(out, name.get(..128).unwrap_or(name));
    out.extend_from_slice(b"', with args beginning with: ");
    let mut listed = 0;
    for arg in args.iter_from(1) {
        if listed >= 128 {
            break;
        }
        let shown = arg.get(..128 - listed).unwrap_or(arg);
        out.push(b'\'');
        push_sanitized(out, shown);
        out.extend_from_slice(b"' ");
        listed += shown.len() + 3;
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends client-supplied bytes to an error line, turning CR and LF into spaces as Redis does.
fn push_sanitized(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend(bytes.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
}
