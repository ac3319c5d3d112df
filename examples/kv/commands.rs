//! The per-connection command loop of the `kv` server: parses pipelined RESP commands and runs
//! them against the [`Store`], writing Redis-compatible replies.
//!
//! Shape of the hook (what ioman's connection helper calls): the bytes received so far and not
//! yet consumed go in, replies are appended to `out`, and [`Progress`] says how many input bytes
//! were used and whether to close once `out` is flushed (after QUIT or a protocol error).
//!
//! Besides the data commands, just enough of the introspection commands is answered for
//! `redis-cli` and `redis-benchmark` to start: COMMAND (empty docs), CONFIG GET `save` /
//! `appendonly`, SELECT 0, CLIENT SETNAME/GETNAME/SETINFO, and HELLO (refused with `-NOPROTO`,
//! so clients stay on RESP2). EXPIRE takes no NX/XX/GT/LT options.

use std::time::{Duration, Instant};

use super::resp::{
    Args, Limits, Parsed, Parser, parse_i64, write_array_len, write_bulk, write_error,
    write_integer, write_null, write_simple,
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
#[derive(Debug, Default)]
pub struct KvSession {
    parser: Parser,
    /// Set by CLIENT SETNAME.
    name: Option<Vec<u8>>,
    /// QUIT or a protocol error was answered; everything else is ignored.
    closed: bool,
}

impl KvSession {
    /// A session with the default [`Limits`].
    pub fn new() -> KvSession {
        KvSession::default()
    }

    /// A session enforcing `limits`.
    pub fn with_limits(limits: Limits) -> KvSession {
        KvSession { parser: Parser::new(limits), ..KvSession::default() }
    }

    /// Runs every complete command at the start of `input`, appending the replies to `out`.
    ///
    /// `input` must begin with the bytes left unconsumed by the previous call.
    pub fn on_bytes(
        &mut self,
        store: &mut Store,
        now: Instant,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Progress {
        if self.closed {
            return Progress { consumed: input.len(), close: true };
        }
        let mut pos = 0;
        loop {
            let rest = input.get(pos..).unwrap_or_default();
            match self.parser.parse(rest) {
                Parsed::NeedMore => break,
                Parsed::Empty(len) => pos += len,
                Parsed::Command(len) => {
                    pos += len;
                    let args = self.parser.args(rest);
                    if execute(&mut self.name, store, now, args, out) == Flow::Close {
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
    name: &mut Option<Vec<u8>>,
    store: &mut Store,
    now: Instant,
    args: Args<'_>,
    out: &mut Vec<u8>,
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
            Some(value) => write_bulk(out, value),
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
        "mget" => {
            write_array_len(out, argc - 1);
            for key in args.iter_from(1) {
                match store.get(key, now) {
                    Some(value) => write_bulk(out, value),
                    None => write_null(out),
                }
            }
        }
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
        "client" => client(name, args, out),
        _ => unknown_command(args, out),
    }
    Flow::Continue
}

/// SET key value [NX|XX] [EX seconds|PX milliseconds|KEEPTTL]
fn set(store: &mut Store, now: Instant, args: Args<'_>, out: &mut Vec<u8>) {
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

fn incr_reply(result: Result<i64, IncrError>, out: &mut Vec<u8>) {
    match result {
        Ok(value) => write_integer(out, value),
        Err(IncrError::NotAnInteger) => write_error(out, NOT_AN_INTEGER),
        Err(IncrError::Overflow) => write_error(out, "ERR increment or decrement would overflow"),
    }
}

/// COMMAND [COUNT|DOCS|INFO|LIST]: enough for redis-cli's start-up.
fn command_command(args: Args<'_>, out: &mut Vec<u8>) {
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
fn config(args: Args<'_>, out: &mut Vec<u8>) {
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
fn client(name: &mut Option<Vec<u8>>, args: Args<'_>, out: &mut Vec<u8>) {
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
fn wrong_arity(command: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"-ERR wrong number of arguments for '");
    out.extend_from_slice(command.as_bytes());
    out.extend_from_slice(b"' command\r\n");
}

/// `-ERR invalid expire time in 'set' command`
fn invalid_expire(command: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"-ERR invalid expire time in '");
    out.extend_from_slice(command.as_bytes());
    out.extend_from_slice(b"' command\r\n");
}

/// `-ERR unknown subcommand 'foo'. Try CONFIG HELP.`
fn unknown_subcommand(sub: &[u8], command: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"-ERR unknown subcommand '");
    push_sanitized(out, sub.get(..128).unwrap_or(sub));
    out.extend_from_slice(b"'. Try ");
    out.extend_from_slice(command.as_bytes());
    out.extend_from_slice(b" HELP.\r\n");
}

/// `-ERR unknown command 'foo', with args beginning with: 'a' 'b' `, built like Redis does:
/// the name cut at 128 bytes, then quoted arguments while the list is under 128 bytes.
fn unknown_command(args: Args<'_>, out: &mut Vec<u8>) {
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
