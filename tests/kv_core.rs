//! Tests for the sans-IO core of the `kv` example (`examples/kv/`): every command's replies in
//! Redis's format, pipelining, inline commands, splits at every byte boundary, protocol errors,
//! limits, and expiry driven by explicit `Instant`s; and the memory rules: pipelined commands
//! stop at the outbox's room mark and resume from the unconsumed input, large values are
//! replied to by sharing the stored buffer, and an MGET's reply is bounded.

#[path = "../examples/kv/proto.rs"]
mod proto;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ioman::net::Outbox;
use proptest::prelude::*;
use proto::commands::{KvSession, Progress};
use proto::resp::{self, Limits, MAX_LINE, Parsed, Parser, ProtocolError, SHARE_MIN};
use proto::store::{Expiry, IncrError, Store, Ttl};

/// Encodes a command as a RESP array of bulk strings.
fn cmd(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

/// A store, a session and a manual clock.
struct Harness {
    store: Store,
    session: KvSession,
    now: Instant,
}

impl Harness {
    fn new() -> Harness {
        Harness { store: Store::new(), session: KvSession::new(), now: Instant::now() }
    }

    fn send(&mut self, input: &[u8]) -> (String, Progress) {
        let mut out = Outbox::new();
        let progress = self.session.on_bytes(&mut self.store, self.now, input, &mut out);
        (String::from_utf8(out.to_vec()).expect("utf-8 replies in tests"), progress)
    }

    /// Runs one command, which must be consumed whole and keep the connection open.
    #[track_caller]
    fn call(&mut self, args: &[&str]) -> String {
        let input = cmd(args);
        let (reply, progress) = self.send(&input);
        assert_eq!(progress, Progress { consumed: input.len(), close: false }, "{args:?}");
        reply
    }

    #[track_caller]
    fn expect(&mut self, args: &[&str], reply: &str) {
        assert_eq!(self.call(args), reply, "{args:?}");
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
    }
}

/// Feeds `input` in chunks ending at `cuts` (plus the end), keeping unconsumed bytes like the
/// connection helper does; returns the replies and whether the session asked to close.
fn run_split(input: &[u8], cuts: &[usize], limits: Limits) -> (Vec<u8>, bool) {
    let mut store = Store::new();
    let mut session = KvSession::with_limits(limits);
    let now = Instant::now();
    let (mut pending, mut out, mut start) = (Vec::new(), Outbox::new(), 0);
    for end in cuts.iter().copied().chain([input.len()]) {
        let end = end.clamp(start, input.len());
        pending.extend_from_slice(&input[start..end]);
        start = end;
        let progress = session.on_bytes(&mut store, now, &pending, &mut out);
        assert!(progress.consumed <= pending.len());
        pending.drain(..progress.consumed);
        if progress.close {
            return (out.to_vec(), true);
        }
    }
    (out.to_vec(), false)
}

/// Asserts that feeding `input` at once and byte by byte gives identical replies and closing.
#[track_caller]
fn assert_split_invariant(input: &[u8], limits: Limits) -> String {
    let (whole, closed) = run_split(input, &[], limits);
    let cuts: Vec<usize> = (1..input.len()).collect();
    let (bytewise, closed_bytewise) = run_split(input, &cuts, limits);
    let whole = String::from_utf8_lossy(&whole).into_owned();
    assert_eq!(String::from_utf8_lossy(&bytewise), whole);
    assert_eq!(closed, closed_bytewise);
    whole
}

/// Expects `input` to be answered with `reply` and the connection closed.
#[track_caller]
fn assert_protocol_error(input: &[u8], limits: Limits, reply: &str) {
    let mut session = KvSession::with_limits(limits);
    let mut out = Outbox::new();
    let progress = session.on_bytes(&mut Store::new(), Instant::now(), input, &mut out);
    assert_eq!(String::from_utf8_lossy(&out.to_vec()), reply);
    assert!(progress.close);
}

const OK: &str = "+OK\r\n";
const NULL: &str = "$-1\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";

#[test]
fn ping_and_echo() {
    let mut h = Harness::new();
    h.expect(&["PING"], "+PONG\r\n");
    h.expect(&["ping", "hello"], "$5\r\nhello\r\n");
    h.expect(&["PING", "a", "b"], "-ERR wrong number of arguments for 'ping' command\r\n");
    h.expect(&["ECHO", "hi there"], "$8\r\nhi there\r\n");
    h.expect(&["ECHO", ""], "$0\r\n\r\n");
    h.expect(&["ECHO"], "-ERR wrong number of arguments for 'echo' command\r\n");
}

#[test]
fn set_and_get() {
    let mut h = Harness::new();
    h.expect(&["GET", "k"], NULL);
    h.expect(&["SET", "k", "v1"], OK);
    h.expect(&["GET", "k"], "$2\r\nv1\r\n");
    h.expect(&["SET", "k", "a longer value"], OK);
    h.expect(&["GET", "k"], "$14\r\na longer value\r\n");
    h.expect(&["SET", "bin", "a\r\nb"], OK);
    h.expect(&["GET", "bin"], "$4\r\na\r\nb\r\n");
    h.expect(&["GET"], "-ERR wrong number of arguments for 'get' command\r\n");
    h.expect(&["GET", "a", "b"], "-ERR wrong number of arguments for 'get' command\r\n");
    h.expect(&["SET", "k"], "-ERR wrong number of arguments for 'set' command\r\n");
}

#[test]
fn set_options() {
    let mut h = Harness::new();
    h.expect(&["SET", "k", "1", "XX"], NULL);
    h.expect(&["GET", "k"], NULL);
    h.expect(&["SET", "k", "1", "NX"], OK);
    h.expect(&["SET", "k", "2", "nx"], NULL);
    h.expect(&["SET", "k", "3", "xx"], OK);
    h.expect(&["GET", "k"], "$1\r\n3\r\n");
    h.expect(&["SET", "k", "4", "EX", "10"], OK);
    h.expect(&["TTL", "k"], ":10\r\n");
    h.expect(&["SET", "k", "5", "KEEPTTL"], OK);
    h.expect(&["PTTL", "k"], ":10000\r\n");
    h.expect(&["SET", "k", "6", "px", "1500", "XX"], OK);
    h.expect(&["PTTL", "k"], ":1500\r\n");
    h.expect(&["SET", "k", "7"], OK);
    h.expect(&["TTL", "k"], ":-1\r\n");
    h.expect(&["SET", "k", "8", "EX", "1", "EX", "2"], OK);
    h.expect(&["TTL", "k"], ":2\r\n");
    for bad in [
        &["SET", "k", "v", "NX", "XX"][..],
        &["SET", "k", "v", "EX", "1", "PX", "1"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "KEEPTTL", "EX", "1"],
        &["SET", "k", "v", "PX", "1", "KEEPTTL"],
        &["SET", "k", "v", "FOO"],
    ] {
        h.expect(bad, SYNTAX);
    }
    for bad in ["0", "-1", "9223372036854775807"] {
        h.expect(&["SET", "k", "v", "EX", bad], "-ERR invalid expire time in 'set' command\r\n");
    }
    h.expect(&["SET", "k", "v", "PX", "0"], "-ERR invalid expire time in 'set' command\r\n");
    h.expect(&["SET", "k", "v", "EX", "ten"], NOT_INT);
    h.expect(&["SET", "k", "v", "EX", "+10"], NOT_INT);
    h.expect(&["GET", "k"], "$1\r\n8\r\n");
}

#[test]
fn del_and_exists() {
    let mut h = Harness::new();
    h.call(&["MSET", "a", "1", "b", "2", "c", "3"]);
    h.expect(&["EXISTS", "a", "a", "b", "nope"], ":3\r\n");
    h.expect(&["DEL", "a", "b", "nope", "a"], ":2\r\n");
    h.expect(&["EXISTS", "a", "b", "c"], ":1\r\n");
    h.expect(&["DEL"], "-ERR wrong number of arguments for 'del' command\r\n");
    h.expect(&["EXISTS"], "-ERR wrong number of arguments for 'exists' command\r\n");
}

#[test]
fn incr_family() {
    let mut h = Harness::new();
    h.expect(&["INCR", "n"], ":1\r\n");
    h.expect(&["INCRBY", "n", "41"], ":42\r\n");
    h.expect(&["DECR", "n"], ":41\r\n");
    h.expect(&["DECRBY", "n", "50"], ":-9\r\n");
    h.expect(&["DECRBY", "fresh", "5"], ":-5\r\n");
    h.expect(&["GET", "n"], "$2\r\n-9\r\n");
    h.expect(&["INCRBY", "n", "x"], NOT_INT);
    h.expect(&["INCRBY", "n", "1.5"], NOT_INT);
    for value in ["abc", "007", " 1", "1 ", "+1", "", "99999999999999999999"] {
        h.call(&["SET", "s", value]);
        h.expect(&["INCR", "s"], NOT_INT);
    }
    h.call(&["SET", "big", "9223372036854775807"]);
    h.expect(&["INCR", "big"], "-ERR increment or decrement would overflow\r\n");
    h.expect(&["GET", "big"], "$19\r\n9223372036854775807\r\n");
    h.call(&["SET", "small", "-9223372036854775808"]);
    h.expect(&["DECR", "small"], "-ERR increment or decrement would overflow\r\n");
    h.expect(&["DECRBY", "small", "-9223372036854775808"], "-ERR decrement would overflow\r\n");
    h.expect(&["INCRBY", "small", "9223372036854775807"], ":-1\r\n");
    // INCR keeps the key's expiry.
    h.call(&["SET", "t", "1", "EX", "100"]);
    h.expect(&["INCR", "t"], ":2\r\n");
    h.expect(&["TTL", "t"], ":100\r\n");
    h.expect(&["INCR"], "-ERR wrong number of arguments for 'incr' command\r\n");
    h.expect(&["INCRBY", "n"], "-ERR wrong number of arguments for 'incrby' command\r\n");
}

#[test]
fn mset_and_mget() {
    let mut h = Harness::new();
    h.call(&["SET", "a", "old", "EX", "100"]);
    h.expect(&["MSET", "a", "1", "b", "2"], OK);
    h.expect(&["TTL", "a"], ":-1\r\n");
    h.expect(&["MGET", "a", "nope", "b"], "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
    h.expect(&["MSET", "a", "1", "b"], "-ERR wrong number of arguments for 'mset' command\r\n");
    h.expect(&["MSET", "a"], "-ERR wrong number of arguments for 'mset' command\r\n");
    h.expect(&["MGET"], "-ERR wrong number of arguments for 'mget' command\r\n");
}

#[test]
fn expire_and_ttl_follow_the_injected_clock() {
    let mut h = Harness::new();
    h.expect(&["EXPIRE", "k", "10"], ":0\r\n");
    h.expect(&["TTL", "k"], ":-2\r\n");
    h.expect(&["PTTL", "k"], ":-2\r\n");
    h.call(&["SET", "k", "v"]);
    h.expect(&["TTL", "k"], ":-1\r\n");
    h.expect(&["PTTL", "k"], ":-1\r\n");
    h.expect(&["EXPIRE", "k", "10"], ":1\r\n");
    h.expect(&["TTL", "k"], ":10\r\n");
    h.expect(&["PTTL", "k"], ":10000\r\n");
    h.advance(Duration::from_millis(2500));
    h.expect(&["TTL", "k"], ":8\r\n"); // 7.5 s rounds to the nearest second, like Redis.
    h.expect(&["PTTL", "k"], ":7500\r\n");
    h.advance(Duration::from_millis(7499));
    h.expect(&["PTTL", "k"], ":1\r\n");
    h.advance(Duration::from_millis(1));
    h.expect(&["GET", "k"], NULL);
    h.expect(&["TTL", "k"], ":-2\r\n");
    h.expect(&["EXISTS", "k"], ":0\r\n");

    h.call(&["SET", "k", "v"]);
    h.expect(&["PEXPIRE", "k", "1500"], ":1\r\n");
    h.expect(&["PTTL", "k"], ":1500\r\n");
    h.expect(&["EXPIRE", "k", "0"], ":1\r\n");
    h.expect(&["GET", "k"], NULL);
    h.call(&["SET", "k", "v"]);
    h.expect(&["PEXPIRE", "k", "-5"], ":1\r\n");
    h.expect(&["EXPIRE", "k", "-5"], ":0\r\n");
    h.expect(&["EXPIRE", "k", "x"], NOT_INT);
    h.expect(
        &["EXPIRE", "k", "9223372036854775807"],
        "-ERR invalid expire time in 'expire' command\r\n",
    );
    h.expect(
        &["PEXPIRE", "k", "9223372036854775807"],
        "-ERR invalid expire time in 'pexpire' command\r\n",
    );
    h.expect(&["EXPIRE", "k"], "-ERR wrong number of arguments for 'expire' command\r\n");
    h.expect(&["TTL"], "-ERR wrong number of arguments for 'ttl' command\r\n");
}

#[test]
fn dbsize_and_flushall() {
    let mut h = Harness::new();
    h.expect(&["DBSIZE"], ":0\r\n");
    h.call(&["MSET", "a", "1", "b", "2"]);
    h.call(&["SET", "c", "3", "PX", "10"]);
    h.expect(&["DBSIZE"], ":3\r\n");
    h.advance(Duration::from_millis(10));
    // As Redis's, DBSIZE counts an expired key until it is touched or actively expired.
    h.expect(&["DBSIZE"], ":3\r\n");
    h.store.background(h.now, 10);
    h.expect(&["DBSIZE"], ":2\r\n");
    h.expect(&["FLUSHALL"], OK);
    h.expect(&["DBSIZE"], ":0\r\n");
    h.call(&["SET", "a", "1"]);
    h.expect(&["flushall", "async"], OK);
    h.expect(&["FLUSHALL", "SYNC"], OK);
    h.expect(&["FLUSHALL", "now"], SYNTAX);
    h.expect(&["DBSIZE", "x"], "-ERR wrong number of arguments for 'dbsize' command\r\n");
}

#[test]
fn quit_replies_ok_then_closes() {
    let mut h = Harness::new();
    let first = [cmd(&["PING"]), cmd(&["QUIT"])].concat();
    let input = [first.clone(), cmd(&["SET", "k", "v"])].concat();
    let (reply, progress) = h.send(&input);
    assert_eq!(reply, "+PONG\r\n+OK\r\n");
    assert_eq!(progress, Progress { consumed: first.len(), close: true });
    // Nothing after QUIT ran, and a closed session ignores further input.
    let (reply, progress) = h.send(&cmd(&["SET", "k", "v"]));
    assert_eq!((reply.as_str(), progress.close), ("", true));
    assert!(!h.store.contains(b"k", h.now));
}

#[test]
fn start_up_commands_of_redis_cli_and_redis_benchmark() {
    let mut h = Harness::new();
    h.expect(&["COMMAND"], "*0\r\n");
    h.expect(
        &["command", "docs", "get"],
        "*2\r\n$3\r\nget\r\n*2\r\n$5\r\ngroup\r\n$6\r\nstring\r\n",
    );
    h.expect(&["command", "docs", "nope"], "*0\r\n");
    let docs = h.call(&["COMMAND", "DOCS"]);
    assert!(docs.starts_with("*104\r\n$3\r\nget\r\n*2\r\n$5\r\ngroup\r\n"), "{docs}");
    assert_eq!(docs.matches("$5\r\ngroup\r\n").count(), 52);
    h.expect(&["COMMAND", "COUNT"], ":52\r\n");
    h.expect(
        &["COMMAND", "COUNT", "x"],
        "-ERR wrong number of arguments for 'command|count' command\r\n",
    );
    h.expect(&["COMMAND", "Nope"], "-ERR unknown subcommand 'Nope'. Try COMMAND HELP.\r\n");
    h.expect(&["CONFIG", "GET", "save"], "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
    h.expect(&["CONFIG", "GET", "appendonly"], "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
    h.expect(
        &["config", "get", "SAVE", "nothing", "appendonly"],
        "*4\r\n$4\r\nSAVE\r\n$0\r\n\r\n$10\r\nappendonly\r\n$2\r\nno\r\n",
    );
    h.expect(&["CONFIG", "GET", "maxmemory"], "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
    h.expect(&["CONFIG", "GET", "nothing"], "*0\r\n");
    h.expect(&["CONFIG", "GET"], "-ERR wrong number of arguments for 'config|get' command\r\n");
    h.expect(&["CONFIG", "SET", "a", "b"], "-ERR unknown subcommand 'SET'. Try CONFIG HELP.\r\n");
    h.expect(&["CONFIG"], "-ERR wrong number of arguments for 'config' command\r\n");
    h.expect(&["SELECT", "0"], OK);
    h.expect(&["SELECT", "1"], "-ERR DB index is out of range\r\n");
    h.expect(&["SELECT", "zero"], "-ERR value is not an integer or out of range\r\n");
    h.expect(
        &["SELECT", "99999999999"],
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
    );
    h.expect(&["CLIENT", "GETNAME"], NULL);
    h.expect(&["CLIENT", "SETNAME", "bench"], OK);
    h.expect(&["client", "getname"], "$5\r\nbench\r\n");
    h.expect(
        &["CLIENT", "SETNAME", "a b"],
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    );
    h.expect(
        &["CLIENT", "SETNAME"],
        "-ERR wrong number of arguments for 'client|setname' command\r\n",
    );
    h.expect(&["CLIENT", "SETINFO", "lib-name", "redis-py"], OK);
    h.expect(
        &["CLIENT", "SETINFO", "x"],
        "-ERR wrong number of arguments for 'client|setinfo' command\r\n",
    );
    h.expect(&["CLIENT", "KILL"], "-ERR unknown subcommand 'KILL'. Try CLIENT HELP.\r\n");
    h.expect(&["CLIENT"], "-ERR wrong number of arguments for 'client' command\r\n");
    h.expect(&["HELLO", "3"], "-NOPROTO unsupported protocol version\r\n");
}

#[test]
fn unknown_commands_are_reported_like_redis() {
    let mut h = Harness::new();
    h.expect(&["foo"], "-ERR unknown command 'foo', with args beginning with: \r\n");
    h.expect(
        &["FOO", "a", "b c"],
        "-ERR unknown command 'FOO', with args beginning with: 'a' 'b c' \r\n",
    );
    h.expect(
        &["fo\r\no", "x\ny"],
        "-ERR unknown command 'fo  o', with args beginning with: 'x y' \r\n",
    );
    let long = "x".repeat(200);
    let expected = format!(
        "-ERR unknown command '{}', with args beginning with: '{}' \r\n",
        &long[..128],
        &long[..128]
    );
    h.expect(&[&long, &long, "never shown"], &expected);
    let expected = format!(
        "-ERR unknown command 'f', with args beginning with: '{}' '{}' \r\n",
        "a".repeat(100),
        "b".repeat(25)
    );
    h.expect(&["f", &"a".repeat(100), &"b".repeat(50), "c"], &expected);
}

#[test]
fn commands_are_case_insensitive() {
    let mut h = Harness::new();
    h.expect(&["sEt", "k", "5", "Ex", "10", "nX"], OK);
    h.expect(&["gEt", "k"], "$1\r\n5\r\n");
    h.expect(&["InCr", "k"], ":6\r\n");
    h.expect(&["pInG"], "+PONG\r\n");
}

#[test]
fn pipelined_batches_run_in_order() {
    let mut h = Harness::new();
    let input = [
        cmd(&["SET", "k", "1"]),
        cmd(&["INCR", "k"]),
        cmd(&["GET", "k"]),
        cmd(&["DEL", "k"]),
        cmd(&["GET", "k"]),
    ]
    .concat();
    let partial = cmd(&["GET", "k"]);
    let with_partial = [&input[..], &partial[..5]].concat();
    let (reply, progress) = h.send(&with_partial);
    assert_eq!(reply, "+OK\r\n:2\r\n$1\r\n2\r\n:1\r\n$-1\r\n");
    assert_eq!(progress, Progress { consumed: input.len(), close: false });
}

#[test]
fn inline_commands_work_like_telnet() {
    let mut h = Harness::new();
    let input = b"PING\r\nSET k v\n\r\n  \t \r\n  ECHO   hi\t \r\nget k\r\n*0\r\n*-1\r\nDBSIZE\r\n";
    let (reply, progress) = h.send(input);
    assert_eq!(reply, "+PONG\r\n+OK\r\n$2\r\nhi\r\n$1\r\nv\r\n:1\r\n");
    assert_eq!(progress, Progress { consumed: input.len(), close: false });
    let (reply, progress) = h.send(b"PING");
    assert_eq!((reply.as_str(), progress), ("", Progress { consumed: 0, close: false }));
}

/// A script mixing every command with inline and RESP framing, ending with QUIT.
fn script() -> Vec<u8> {
    let mut input = Vec::new();
    for args in [
        &["SET", "a", "1", "EX", "100"][..],
        &["INCRBY", "a", "5"],
        &["MSET", "b", "x", "c", "y"],
        &["MGET", "a", "b", "zz"],
        &["EXPIRE", "b", "5"],
        &["TTL", "b"],
        &["PTTL", "a"],
        &["DEL", "c", "zz"],
        &["EXISTS", "a", "b", "c"],
        &["COMMAND", "DOCS"],
        &["CONFIG", "GET", "save"],
        &["nope", "arg"],
        &["SET", "a", "v", "BAD"],
        &["ECHO", "line\r\nbreak"],
        &["DBSIZE"],
    ] {
        input.extend_from_slice(&cmd(args));
    }
    input.extend_from_slice(b"PING\r\nGET a\r\n\r\n*0\r\n");
    input.extend_from_slice(&cmd(&["QUIT"]));
    input.extend_from_slice(&cmd(&["PING"]));
    input
}

#[test]
fn byte_by_byte_feeding_matches_feeding_at_once() {
    let replies = assert_split_invariant(&script(), Limits::default());
    assert!(replies.ends_with("$1\r\n6\r\n+OK\r\n"), "{replies:?}");
    let small = Limits { max_bulk_len: 4, max_args: 3, ..Limits::default() };
    for input in [
        &b"*1\r\n$5\r\nhello\r\n"[..],
        b"*4\r\n$1\r\na\r\n",
        b"*1\r\n$4\r\nPINGxx",
        b"*2\r\n$4\r\nECHO\r\n:1\r\n",
        b"*abc\r\n",
        b"*1\r\n$-3\r\n",
        b"*1\r\r\n",
    ] {
        let replies = assert_split_invariant(input, small);
        assert!(replies.starts_with("-ERR Protocol error: "), "{replies:?}");
    }
}

#[test]
fn protocol_errors_are_answered_then_close() {
    let d = Limits::default();
    let e = "-ERR Protocol error: ";
    assert_protocol_error(b"*abc\r\n", d, &format!("{e}invalid multibulk length\r\n"));
    assert_protocol_error(b"*1x\r\n", d, &format!("{e}invalid multibulk length\r\n"));
    assert_protocol_error(b"*1\rx", d, &format!("{e}invalid multibulk length\r\n"));
    assert_protocol_error(b"*1\r\n$abc\r\n", d, &format!("{e}invalid bulk length\r\n"));
    assert_protocol_error(b"*1\r\n$-1\r\n", d, &format!("{e}invalid bulk length\r\n"));
    assert_protocol_error(b"*1\r\n+PING\r\n", d, &format!("{e}expected '$', got '+'\r\n"));
    assert_protocol_error(b"*1\r\n\r\n", d, &format!("{e}expected '$', got '?'\r\n"));
    assert_protocol_error(
        b"*1\r\n$4\r\nPINGxx",
        d,
        &format!("{e}expected CRLF after bulk string\r\n"),
    );
    // Commands before the error are answered; nothing after it runs.
    let input = [cmd(&["PING"]), b"*x\r\n".to_vec(), cmd(&["PING"])].concat();
    assert_protocol_error(&input, d, &format!("+PONG\r\n{e}invalid multibulk length\r\n"));
}

#[test]
fn limits_are_enforced() {
    let small = Limits { max_bulk_len: 10, max_args: 3, ..Limits::default() };
    let e = "-ERR Protocol error: ";
    assert_protocol_error(
        &cmd(&["ECHO", "01234567890"]),
        small,
        &format!("{e}invalid bulk length\r\n"),
    );
    assert_protocol_error(
        &cmd(&["DEL", "a", "b", "c"]),
        small,
        &format!("{e}invalid multibulk length\r\n"),
    );
    let mut h = Harness { session: KvSession::with_limits(small), ..Harness::new() };
    h.expect(&["ECHO", "0123456789"], "$10\r\n0123456789\r\n");
    h.expect(&["DEL", "a", "b"], ":0\r\n");
    let d = Limits::default();
    let endless = vec![b'a'; MAX_LINE + 1];
    assert_protocol_error(&endless, d, &format!("{e}too big inline request\r\n"));
    let count = [b"*".to_vec(), vec![b'1'; MAX_LINE + 1]].concat();
    assert_protocol_error(&count, d, &format!("{e}too big mbulk count string\r\n"));
    let bulk = [b"*1\r\n$".to_vec(), vec![b'1'; MAX_LINE + 1]].concat();
    assert_protocol_error(&bulk, d, &format!("{e}too big bulk count string\r\n"));
    // Just under the line limit, the parser keeps waiting.
    let mut session = KvSession::new();
    let progress =
        session.on_bytes(&mut Store::new(), h.now, &endless[..MAX_LINE], &mut Outbox::new());
    assert_eq!(progress, Progress { consumed: 0, close: false });
}

#[test]
fn the_parser_returns_ranges_into_the_input() {
    let mut parser = Parser::new(Limits::default());
    let input = [cmd(&["SET", "key", "va\r\nlue"]), b"GET k".to_vec()].concat();
    let first = cmd(&["SET", "key", "va\r\nlue"]).len();
    assert_eq!(parser.parse(&input), Parsed::Command(first));
    let args = parser.args(&input);
    assert_eq!((args.len(), args.is_empty()), (3, false));
    assert_eq!(args.get(2), b"va\r\nlue");
    assert_eq!(args.get(9), b"");
    assert_eq!(args.iter_from(1).collect::<Vec<_>>(), [&b"key"[..], b"va\r\nlue"]);
    let rest = &input[first..];
    assert_eq!(parser.parse(rest), Parsed::NeedMore);
    let more = [rest, b"\r\n"].concat();
    assert_eq!(parser.parse(&more), Parsed::Command(more.len()));
    assert_eq!(parser.args(&more).get(1), b"k");
    assert_eq!(parser.parse(b"\n"), Parsed::Empty(1));
    assert_eq!(parser.parse(b"*1\r\n$1\r\n:\r\n"), Parsed::Command(11));
    assert_eq!(parser.parse(b"*1\r\n%"), Parsed::Error(ProtocolError::ExpectedDollar(b'%')));
    assert_eq!(parser.parse(b""), Parsed::NeedMore);
}

#[test]
fn reply_writers_and_number_helpers() {
    let mut out = Outbox::new();
    resp::write_simple(&mut out, "OK");
    resp::write_error(&mut out, "ERR bad");
    resp::write_integer(&mut out, i64::MIN);
    resp::write_integer(&mut out, 0);
    resp::write_bulk(&mut out, b"hi");
    resp::write_null(&mut out);
    resp::write_array_len(&mut out, 2);
    ProtocolError::TooBigInline.write(&mut out);
    assert_eq!(
        String::from_utf8(out.to_vec()).unwrap(),
        "+OK\r\n-ERR bad\r\n:-9223372036854775808\r\n:0\r\n$2\r\nhi\r\n$-1\r\n*2\r\n\
         -ERR Protocol error: too big inline request\r\n"
    );
    let mut out = Vec::new();
    resp::push_i64(&mut out, i64::MAX);
    assert_eq!(out, b"9223372036854775807");
    for n in [0, 7, -7, 10, i64::MAX, i64::MIN] {
        assert_eq!(resp::format_i64(n, &mut [0; 20]), n.to_string().as_bytes());
    }
    // The reply sizes MGET computes before writing match what the writers produce.
    for len in [0, 9, 10, SHARE_MIN, SHARE_MIN + 1, 1_000_000] {
        let mut out = Outbox::new();
        resp::write_value(&mut out, &Arc::from(vec![b'z'; len]));
        assert_eq!(out.len(), resp::bulk_reply_len(len), "{len}");
        assert_eq!(out.to_vec(), bulk(&vec![b'z'; len]));
    }
    for len in [0, 9, 10, 12345] {
        let mut out = Outbox::new();
        resp::write_array_len(&mut out, len);
        assert_eq!(out.len(), resp::array_header_len(len));
    }
    let mut out = Outbox::new();
    resp::write_null(&mut out);
    assert_eq!(out.len(), resp::NULL_REPLY_LEN);
    for (text, value) in [
        ("0", Some(0)),
        ("-1", Some(-1)),
        ("9223372036854775807", Some(i64::MAX)),
        ("-9223372036854775808", Some(i64::MIN)),
        ("9223372036854775808", None),
        ("-0", None),
        ("01", None),
        ("+1", None),
        ("", None),
        ("-", None),
        ("1a", None),
    ] {
        assert_eq!(resp::parse_i64(text.as_bytes()), value, "{text:?}");
    }
}

#[test]
fn the_store_expires_lazily_and_actively() {
    let t0 = Instant::now();
    let secs = |s: u64| t0 + Duration::from_secs(s);
    let mut store = Store::new();
    assert!(store.is_empty());
    assert_eq!(store.next_expiry(), None);
    store.set(b"a", b"1", Expiry::At(secs(10)), t0);
    store.set(b"b", b"2", Expiry::At(secs(5)), t0);
    store.set(b"c", b"3", Expiry::Persist, t0);
    assert_eq!(store.next_expiry(), Some(secs(5)));
    // Deleting the earliest key moves the next expiry on.
    assert!(store.remove(b"b", t0));
    assert_eq!(store.next_expiry(), Some(secs(10)));
    // Changing an expiry (earlier or later) is reflected exactly.
    assert!(store.set_expiry(b"a", secs(20), t0));
    assert_eq!(store.next_expiry(), Some(secs(20)));
    assert!(store.set_expiry(b"c", secs(15), t0));
    assert_eq!(store.next_expiry(), Some(secs(15)));
    assert!(!store.set_expiry(b"missing", secs(1), t0));
    // Keep leaves the expiry alone; Persist removes it.
    store.set(b"c", b"33", Expiry::Keep, t0);
    assert_eq!(store.ttl(b"c", t0), Ttl::Remaining(Duration::from_secs(15)));
    store.set(b"c", b"333", Expiry::Persist, t0);
    assert_eq!(store.ttl(b"c", t0), Ttl::Persistent);
    assert_eq!(store.ttl(b"nope", t0), Ttl::Missing);
    assert_eq!(store.next_expiry(), Some(secs(20)));
    // Lazy expiry: a key is gone at exactly its expiry instant.
    assert_eq!(store.get(b"a", secs(19)).map(|v| &v[..]), Some(&b"1"[..]));
    assert_eq!(store.get(b"a", secs(20)), None);
    assert_eq!(store.next_expiry(), None);
    assert_eq!(store.len(), 1);
    // Active expiry.
    for (i, key) in [b"k1", b"k2", b"k3"].iter().enumerate() {
        store.set(&key[..], b"v", Expiry::At(secs(30 + i as u64)), t0);
    }
    assert_eq!(store.expire_due(secs(29)), 0);
    assert_eq!(store.expire_due(secs(31)), 2);
    assert_eq!(store.next_expiry(), Some(secs(32)));
    assert_eq!(store.len(), 2);
    assert_eq!(store.expire_due(secs(100)), 1);
    assert_eq!(store.next_expiry(), None);
    assert!(store.contains(b"c", secs(100)));
    // A past expiry deletes at once.
    assert!(store.set_expiry(b"c", secs(100), secs(100)));
    assert!(store.is_empty());
    store.set(b"x", b"1", Expiry::At(secs(1)), t0);
    store.clear();
    assert_eq!((store.len(), store.next_expiry()), (0, None));
}

#[test]
fn repeated_expiry_changes_keep_next_expiry_exact() {
    let t0 = Instant::now();
    let mut store = Store::new();
    for i in 0..10_000u64 {
        let at = t0 + Duration::from_millis(1000 + (i * 7919) % 5000);
        store.set(b"k", b"v", Expiry::At(at), t0);
        assert_eq!(store.next_expiry(), Some(at));
    }
    store.set(b"other", b"v", Expiry::At(t0 + Duration::from_secs(60)), t0);
    let last = t0 + Duration::from_millis(1000 + (9_999 * 7919) % 5000);
    assert_eq!(store.next_expiry(), Some(last));
    assert_eq!(store.expire_due(last), 1);
    assert_eq!(store.next_expiry(), Some(t0 + Duration::from_secs(60)));
    assert_eq!(store.incr_by(b"n", 2, t0), Ok(2));
    store.set(b"s", b"x", Expiry::Persist, t0);
    assert_eq!(store.incr_by(b"s", 1, t0), Err(IncrError::NotAnInteger));
    assert_eq!(store.incr_by(b"n", i64::MAX, t0), Err(IncrError::Overflow));
}

/// A bulk string reply as bytes.
fn bulk(value: &[u8]) -> Vec<u8> {
    [format!("${}\r\n", value.len()).as_bytes(), value, b"\r\n"].concat()
}

/// A session whose store holds `key` = `value` (set through the session, as a client would).
fn harness_with(key: &str, value: &[u8], limits: Limits) -> Harness {
    let mut h = Harness { session: KvSession::with_limits(limits), ..Harness::new() };
    let set = [
        format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n", key.len(), value.len()).as_bytes(),
        value,
        b"\r\n",
    ]
    .concat();
    assert_eq!(h.send(&set), ("+OK\r\n".into(), Progress { consumed: set.len(), close: false }));
    h
}

/// How many holders the stored value of `key` has (1: only the store).
#[track_caller]
fn holders(h: &mut Harness, key: &[u8]) -> usize {
    Arc::strong_count(h.store.get(key, h.now).expect("the key exists"))
}

#[test]
fn pipelined_gets_stop_at_the_room_mark_and_resume_from_the_unconsumed_input() {
    const ROOM: usize = 64 * 1024;
    let value = vec![b'v'; 100 * 1024];
    let mut h = harness_with("big", &value, Limits::default());
    let (get, ping) = (cmd(&["GET", "big"]), cmd(&["PING"]));
    let input = [get.repeat(10), ping.clone()].concat();
    let mut pending = &input[..];
    let (mut replies, mut consumed) = (Vec::new(), Vec::new());
    while !pending.is_empty() {
        // A fresh outbox each time: what the connection offers once the output has drained.
        let mut out = Outbox::bounded(ROOM, usize::MAX);
        let progress = h.session.on_bytes(&mut h.store, h.now, pending, &mut out);
        assert!(!progress.close && progress.consumed > 0);
        replies.extend(out.to_vec());
        consumed.push(progress.consumed);
        pending = &pending[progress.consumed..];
    }
    // Each GET's reply passes the room mark, so each call runs exactly one command.
    assert_eq!(consumed, [vec![get.len(); 10], vec![ping.len()]].concat());
    assert_eq!(replies, [bulk(&value).repeat(10), b"+PONG\r\n".to_vec()].concat());

    // A call that starts without room runs nothing and asks for nothing more.
    let mut full = Outbox::bounded(ROOM, usize::MAX);
    full.extend_from_slice(&vec![b'x'; ROOM]);
    let progress = h.session.on_bytes(&mut h.store, h.now, &input, &mut full);
    assert_eq!((progress, full.len()), (Progress { consumed: 0, close: false }, ROOM));

    // Small replies: many commands per call, stopping at the first one at or past the mark.
    let small = cmd(&["PING"]);
    let mut out = Outbox::bounded(70, usize::MAX);
    let progress = h.session.on_bytes(&mut h.store, h.now, &small.repeat(100), &mut out);
    assert_eq!(progress.consumed, 10 * small.len(), "10 PONGs of 7 bytes reach 70");
    assert_eq!(out.to_vec(), b"+PONG\r\n".repeat(10));
}

#[test]
fn replies_share_large_stored_values_and_copy_small_ones() {
    let big = vec![b'b'; SHARE_MIN + 1];
    let mut h = harness_with("big", &big, Limits::default());
    h.call(&["SET", "edge", &"e".repeat(SHARE_MIN)]);
    assert_eq!(holders(&mut h, b"big"), 1);
    let input = [cmd(&["GET", "big"]), cmd(&["MGET", "big", "edge", "big"])].concat();
    let mut out = Outbox::new();
    let progress = h.session.on_bytes(&mut h.store, h.now, &input, &mut out);
    assert_eq!(progress.consumed, input.len());
    // Three replies hold the stored buffer itself; the 1 KiB value was copied.
    assert_eq!(holders(&mut h, b"big"), 1 + 3);
    assert_eq!(holders(&mut h, b"edge"), 1);
    let edge = vec![b'e'; SHARE_MIN];
    let expected = [bulk(&big), b"*3\r\n".to_vec(), bulk(&big), bulk(&edge), bulk(&big)].concat();
    assert_eq!(out.to_vec(), expected);
    assert_eq!(out.len(), expected.len());
    out.clear();
    assert_eq!(holders(&mut h, b"big"), 1, "sent replies let go of the value");
}

#[test]
fn writes_never_change_a_reply_in_flight() {
    let old = vec![b'1'; 2 * SHARE_MIN];
    let new = vec![b'2'; 2 * SHARE_MIN];
    let mut h = harness_with("k", &old, Limits::default());
    let before = Arc::as_ptr(h.store.get(b"k", h.now).unwrap());
    // Unshared and the same length: overwritten in place, no allocation.
    h.call(&["SET", "k", &"3".repeat(2 * SHARE_MIN)]);
    assert_eq!(Arc::as_ptr(h.store.get(b"k", h.now).unwrap()), before);
    h.call(&["SET", "k", std::str::from_utf8(&old).unwrap()]);
    // A pending GET holds the buffer; SET must replace it, not write into it.
    let mut in_flight = Outbox::new();
    h.session.on_bytes(&mut h.store, h.now, &cmd(&["GET", "k"]), &mut in_flight);
    h.call(&["SET", "k", std::str::from_utf8(&new).unwrap()]);
    assert_ne!(Arc::as_ptr(h.store.get(b"k", h.now).unwrap()), before);
    assert_eq!(in_flight.to_vec(), bulk(&old));
    assert_eq!(h.call(&["GET", "k"]).as_bytes(), bulk(&new));
    // INCR on a value a reply holds, and growing or shrinking numbers, work the same way.
    h.call(&["SET", "n", "9"]);
    let mut held = Outbox::new();
    let _ = h.store.get(b"n", h.now).cloned().map(|v| held.push_shared(v));
    h.expect(&["INCR", "n"], ":10\r\n");
    h.expect(&["DECRBY", "n", "-990"], ":1000\r\n");
    h.expect(&["INCRBY", "n", "-999"], ":1\r\n");
    h.expect(&["GET", "n"], "$1\r\n1\r\n");
    assert_eq!(held.to_vec(), b"9");
}

#[test]
fn an_mget_of_one_big_key_many_times_is_bounded() {
    // 64 KiB values under a 1 MiB reply limit: 15 fit, 16 do not.
    let value = vec![b'm'; 64 * 1024];
    let limits = Limits { max_reply: 1024 * 1024, ..Limits::default() };
    let mut h = harness_with("k", &value, limits);
    let mut out = Outbox::new();
    let fits = cmd(&[&["MGET"][..], &["k"; 15]].concat());
    let progress = h.session.on_bytes(&mut h.store, h.now, &fits, &mut out);
    assert_eq!(progress, Progress { consumed: fits.len(), close: false });
    assert_eq!(holders(&mut h, b"k"), 1 + 15, "15 shared chunks, no copy");
    assert_eq!(out.to_vec(), [b"*15\r\n".to_vec(), bulk(&value).repeat(15)].concat());
    out.clear();
    let size = 5 + 16 * bulk(&value).len();
    let too_big = [&["MGET"][..], &["k"; 16]].concat();
    assert_eq!(
        h.call(&too_big),
        format!(
            "-ERR reply too large: MGET would send {size} bytes, over the limit of 1048576; \
             ask for fewer keys at once\r\n"
        )
    );
    assert_eq!(holders(&mut h, b"k"), 1, "a refused MGET keeps nothing");
    h.expect(
        &["MGET", "k", "nope"],
        &format!("*2\r\n{}$-1\r\n", String::from_utf8(bulk(&value)).unwrap()),
    );

    // The reported attack: a 7 KB MGET naming a 10 MiB key a thousand times asks for 10 GB.
    let mut h = harness_with("big", &vec![b'x'; 10 * 1024 * 1024], Limits::default());
    let attack = [b"MGET".to_vec(), b" big".repeat(1750), b"\r\n".to_vec()].concat();
    assert!(attack.len() <= 7 * 1024);
    let mut out = Outbox::new();
    let progress = h.session.on_bytes(&mut h.store, h.now, &attack, &mut out);
    assert_eq!(progress, Progress { consumed: attack.len(), close: false });
    let size = "*1750\r\n".len() + 1750 * "$10485760\r\n\r\n".len() + 1750 * 10 * 1024 * 1024;
    assert_eq!(
        String::from_utf8(out.to_vec()).unwrap(),
        format!(
            "-ERR reply too large: MGET would send {size} bytes, over the limit of 134217728; \
             ask for fewer keys at once\r\n"
        )
    );
    assert!(out.held() < 1024, "the refusal holds {} bytes", out.held());
    assert_eq!(holders(&mut h, b"big"), 1);
    h.expect(&["PING"], "+PONG\r\n");
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_split_gives_the_same_replies(mut cuts in proptest::collection::vec(0usize..700, 0..16)) {
        let input = script();
        cuts.sort_unstable();
        let (whole, closed) = run_split(&input, &[], Limits::default());
        let (split, closed_split) = run_split(&input, &cuts, Limits::default());
        prop_assert_eq!(whole, split);
        prop_assert!(closed && closed_split);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        let limits = Limits { max_bulk_len: 64, max_args: 8, ..Limits::default() };
        let (_, _) = run_split(&input, &[], limits);
        let prefixed = [b"*3\r\n$".to_vec(), input].concat();
        let cuts: Vec<usize> = (1..prefixed.len()).step_by(7).collect();
        let (_, _) = run_split(&prefixed, &cuts, limits);
    }
}

#[test]
fn inline_commands_split_like_redis_sdssplitargs() {
    let mut h = Harness::new();
    let cases: &[(&[u8], &str)] = &[
        // Double quotes with every escape; an unknown escape is the byte itself.
        (
            b"ECHO \"a b\\n\\r\\t\\b\\a\\\\\\\"\\x41\\x7a\\q\"\r\n",
            "$13\r\na b\n\r\t\x08\x07\\\"Azq\r\n",
        ),
        // `\x` without two hex digits is a plain `x`.
        (b"ECHO \"\\x4g\"\r\n", "$3\r\nx4g\r\n"),
        // Single quotes escape only `\'`.
        (b"ECHO 'it\\'s \\n'\r\n", "$7\r\nit's \\n\r\n"),
        // Empty quoted arguments are arguments.
        (b"ECHO \"\"\r\n", "$0\r\n\r\n"),
        (b"ECHO ''\n", "$0\r\n\r\n"),
        (b"SET \"\" ''\r\nGET \"\"\r\n", "+OK\r\n$0\r\n\r\n"),
        // A quote may start inside an argument; blanks separate, tabs and CRs too.
        (b"ECHO a\"b c\"\r\n", "$4\r\nab c\r\n"),
        (b"\tECHO\t 'x y' \r\r\n", "$3\r\nx y\r\n"),
        // A NUL ends the line, as in C.
        (b"ECHO ab\0 junk\r\n", "$2\r\nab\r\n"),
        // A quoted CR stays in the argument; only the CR before LF is dropped.
        (b"ECHO \"a\rb\"\r\n", "$3\r\na\rb\r\n"),
    ];
    for (input, reply) in cases {
        let (got, progress) = h.send(input);
        assert_eq!(got, *reply, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(progress, Progress { consumed: input.len(), close: false });
    }
    let unbalanced = "-ERR Protocol error: unbalanced quotes in request\r\n";
    for input in [
        &b"ECHO \"abc\r\n"[..],
        b"ECHO 'abc\n",
        b"ECHO \"a\"b\r\n",
        b"ECHO 'a'b\r\n",
        b"ECHO \"ab\\\"\r\n",
        b"ECHO \"ab\\\r\n",
        b"ECHO \"a\0\"\r\n",
    ] {
        assert_protocol_error(input, Limits::default(), unbalanced);
    }
    // Commands before the bad line are answered; nothing after it runs.
    assert_protocol_error(
        b"PING\r\nECHO \"x\r\nPING\r\n",
        Limits::default(),
        &format!("+PONG\r\n{unbalanced}"),
    );
}

#[test]
fn quoted_inline_commands_give_the_same_replies_at_every_split_point() {
    let input = b"SET k \"v \\\"1\\\"\\x00\" EX 100\r\nGET k\r\nEXISTS 'a\\'b' \"\" c\"d e\" 'k'\r\nDEL 'k'\nGET k\r\nECHO \"open\r\nPING\r\n";
    let replies = assert_split_invariant(input, Limits::default());
    assert_eq!(
        replies,
        "+OK\r\n$6\r\nv \"1\"\0\r\n:1\r\n:1\r\n$-1\r\n\
         -ERR Protocol error: unbalanced quotes in request\r\n"
    );
    // And at every pair of split points for a short one.
    let short = b"ECHO \"a\\x41\" ''\r\n";
    let (whole, _) = run_split(short, &[], Limits::default());
    for i in 0..short.len() {
        for j in i..short.len() {
            assert_eq!(run_split(short, &[i, j], Limits::default()).0, whole);
        }
    }
}

#[test]
fn limits_are_per_argument_and_large_commands_leave_the_input() {
    let limit = 40_000;
    let limits = Limits { max_bulk_len: limit, max_command: 2 * limit + 100, ..Limits::default() };
    let (v1, v2) = (vec![b'a'; limit - 1], vec![b'b'; limit - 1]);
    let mset = [
        b"*5\r\n".to_vec(),
        bulk(b"MSET"),
        bulk(b"k1"),
        bulk(&v1),
        bulk(b"k2"),
        bulk(&v2),
        cmd(&["MGET", "k1", "k2"]),
    ]
    .concat();
    let mut store = Store::new();
    let mut session = KvSession::with_limits(limits);
    let now = Instant::now();
    let (mut pending, mut out, mut most) = (Vec::new(), Outbox::new(), 0);
    for chunk in mset.chunks(997) {
        pending.extend_from_slice(chunk);
        most = most.max(pending.len());
        let progress = session.on_bytes(&mut store, now, &pending, &mut out);
        assert!(!progress.close);
        pending.drain(..progress.consumed);
    }
    assert!(pending.is_empty());
    // The input never held more than the spill threshold plus one argument and its framing.
    assert!(most <= resp::SPILL_MIN + limit + 997 + 16, "{most}");
    let reply = out.to_vec();
    let expected = [b"+OK\r\n*2\r\n".to_vec(), bulk(&v1), bulk(&v2)].concat();
    assert!(
        reply == expected,
        "{} bytes: {:?}",
        reply.len(),
        String::from_utf8_lossy(&reply[..60])
    );
    // Fed at once, the same command runs without spilling.
    let (whole, closed) = run_split(&mset, &[], limits);
    assert_eq!((whole, closed), (expected.clone(), false));
    // One more argument would pass the per-command total: refused at its `$` line.
    let over = [
        b"*4\r\n".to_vec(),
        bulk(b"MSET"),
        bulk(&v1),
        bulk(&v2),
        format!("${}\r\n", 100).into_bytes(),
    ]
    .concat();
    assert_protocol_error(&over, limits, "-ERR Protocol error: too big command\r\n");
    // Arguments are still limited one by one.
    let too_long = [b"*2\r\n".to_vec(), bulk(b"ECHO"), bulk(&vec![b'x'; limit + 1])].concat();
    assert_protocol_error(&too_long, limits, "-ERR Protocol error: invalid bulk length\r\n");
}

#[test]
fn append_strlen_getrange_setrange() {
    let limits = Limits { max_bulk_len: 16, ..Limits::default() };
    let mut h = Harness { session: KvSession::with_limits(limits), ..Harness::new() };
    let too_big = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
    h.expect(&["STRLEN", "k"], ":0\r\n");
    h.expect(&["APPEND", "k", "Hello"], ":5\r\n");
    h.expect(&["APPEND", "k", " World"], ":11\r\n");
    h.expect(&["GET", "k"], "$11\r\nHello World\r\n");
    h.expect(&["STRLEN", "k"], ":11\r\n");
    h.expect(&["APPEND", "k", "123456"], too_big);
    h.expect(&["APPEND", "k", "12345"], ":16\r\n");
    for (start, end, reply) in [
        ("0", "3", "$4\r\nHell\r\n"),
        ("-3", "-1", "$3\r\n345\r\n"),
        ("0", "-1", "$16\r\nHello World12345\r\n"),
        ("10", "100", "$6\r\nd12345\r\n"),
        ("-100", "1", "$2\r\nHe\r\n"),
        ("5", "3", "$0\r\n\r\n"),
        ("16", "20", "$0\r\n\r\n"),
        // Redis 7.0 clamps an end before the string to its first byte.
        ("0", "-17", "$1\r\nH\r\n"),
        ("-1", "-3", "$0\r\n\r\n"),
    ] {
        h.expect(&["GETRANGE", "k", start, end], reply);
    }
    h.expect(&["GETRANGE", "nope", "0", "-1"], "$0\r\n\r\n");
    h.expect(&["GETRANGE", "k", "x", "1"], NOT_INT);
    h.expect(&["GETRANGE", "k", "0"], "-ERR wrong number of arguments for 'getrange' command\r\n");
    // SETRANGE pads with zero bytes and keeps the expiry.
    h.expect(&["SETRANGE", "s", "3", "ab"], ":5\r\n");
    h.expect(&["GET", "s"], "$5\r\n\0\0\0ab\r\n");
    h.expect(&["PEXPIRE", "s", "1000"], ":1\r\n");
    h.expect(&["SETRANGE", "s", "1", "XYZW"], ":5\r\n");
    h.expect(&["GET", "s"], "$5\r\n\0XYZW\r\n");
    h.expect(&["PTTL", "s"], ":1000\r\n");
    h.expect(&["SETRANGE", "s", "0", ""], ":5\r\n");
    h.expect(&["SETRANGE", "missing", "100", ""], ":0\r\n");
    h.expect(&["EXISTS", "missing"], ":0\r\n");
    h.expect(&["SETRANGE", "s", "-1", "x"], "-ERR offset is out of range\r\n");
    h.expect(&["SETRANGE", "s", "1x", "x"], NOT_INT);
    h.expect(&["SETRANGE", "s", "15", "ab"], too_big);
    h.expect(&["SETRANGE", "t", "16", "a"], too_big);
    h.expect(&["SETRANGE", "t", "15", "a"], ":16\r\n");
}

#[test]
fn getset_getdel_setnx_msetnx() {
    let mut h = Harness::new();
    h.expect(&["GETSET", "k", "1"], NULL);
    h.expect(&["EXPIRE", "k", "100"], ":1\r\n");
    h.expect(&["GETSET", "k", "2"], "$1\r\n1\r\n");
    h.expect(&["TTL", "k"], ":-1\r\n");
    h.expect(&["GETDEL", "k"], "$1\r\n2\r\n");
    h.expect(&["GETDEL", "k"], NULL);
    h.expect(&["EXISTS", "k"], ":0\r\n");
    h.expect(&["SETNX", "k", "a"], ":1\r\n");
    h.expect(&["SETNX", "k", "b"], ":0\r\n");
    h.expect(&["GET", "k"], "$1\r\na\r\n");
    h.expect(&["MSETNX", "x", "1", "k", "2"], ":0\r\n");
    h.expect(&["EXISTS", "x"], ":0\r\n");
    h.expect(&["MSETNX", "x", "1", "y", "2", "x", "3"], ":1\r\n");
    h.expect(&["MGET", "x", "y"], "*2\r\n$1\r\n3\r\n$1\r\n2\r\n");
    h.expect(&["MSETNX", "x", "1", "y"], "-ERR wrong number of arguments for 'msetnx' command\r\n");
}

#[test]
fn setex_and_psetex() {
    let mut h = Harness::new();
    h.expect(&["SETEX", "k", "10", "v"], OK);
    h.expect(&["TTL", "k"], ":10\r\n");
    h.expect(&["PSETEX", "k", "1500", "w"], OK);
    h.expect(&["PTTL", "k"], ":1500\r\n");
    h.expect(&["GET", "k"], "$1\r\nw\r\n");
    h.advance(Duration::from_millis(1500));
    h.expect(&["GET", "k"], NULL);
    h.expect(&["SETEX", "k", "0", "v"], "-ERR invalid expire time in 'setex' command\r\n");
    h.expect(&["SETEX", "k", "-5", "v"], "-ERR invalid expire time in 'setex' command\r\n");
    h.expect(
        &["SETEX", "k", "9223372036854775807", "v"],
        "-ERR invalid expire time in 'setex' command\r\n",
    );
    h.expect(&["PSETEX", "k", "0", "v"], "-ERR invalid expire time in 'psetex' command\r\n");
    h.expect(&["SETEX", "k", "ten", "v"], NOT_INT);
    h.expect(&["EXISTS", "k"], ":0\r\n");
    h.expect(&["SETEX", "k", "10"], "-ERR wrong number of arguments for 'setex' command\r\n");
}

#[test]
fn incrbyfloat_formats_like_redis() {
    let mut h = Harness::new();
    h.expect(&["SET", "k", "10.50"], OK);
    h.expect(&["INCRBYFLOAT", "k", "0.1"], "$4\r\n10.6\r\n");
    h.expect(&["INCRBYFLOAT", "k", "-5"], "$3\r\n5.6\r\n");
    h.expect(&["SET", "k", "5.0e3"], OK);
    h.expect(&["INCRBYFLOAT", "k", "2.0e2"], "$4\r\n5200\r\n");
    h.expect(&["GET", "k"], "$4\r\n5200\r\n");
    h.expect(&["INCRBYFLOAT", "new", "3"], "$1\r\n3\r\n");
    h.expect(&["INCRBYFLOAT", "new", "-3"], "$1\r\n0\r\n");
    h.expect(&["INCRBYFLOAT", "new", "-0.0"], "$1\r\n0\r\n");
    h.expect(&["INCRBYFLOAT", "new", "1e21"], "$22\r\n1000000000000000000000\r\n");
    h.expect(&["INCRBYFLOAT", "tiny", "1e-20"], "$1\r\n0\r\n");
    h.expect(&["INCRBYFLOAT", "tiny", "1.5e-17"], "$19\r\n0.00000000000000002\r\n");
    h.expect(&["INCRBYFLOAT", "n", "+.5"], "$3\r\n0.5\r\n");
    h.expect(&["EXPIRE", "n", "100"], ":1\r\n");
    h.expect(&["INCRBYFLOAT", "n", "1"], "$3\r\n1.5\r\n");
    h.expect(&["TTL", "n"], ":100\r\n");
    let not_float = "-ERR value is not a valid float\r\n";
    // 1e400 fits Redis's long double, not an f64: a deliberate difference.
    for bad in ["abc", "", " 1", "1 ", "nan", "1e400", "1e-400", "0x", "0xg", "1,5"] {
        h.expect(&["INCRBYFLOAT", "n", bad], not_float);
    }
    // Hexadecimal, as strtold reads it.
    h.expect(&["INCRBYFLOAT", "n", "0x10"], "$4\r\n17.5\r\n");
    h.expect(&["INCRBYFLOAT", "n", "-0X1.8p1"], "$4\r\n14.5\r\n");
    h.expect(&["INCRBYFLOAT", "n", "-13"], "$3\r\n1.5\r\n");
    h.expect(&["SET", "s", "hello"], OK);
    h.expect(&["INCRBYFLOAT", "s", "1"], not_float);
    let nan_or_inf = "-ERR increment would produce NaN or Infinity\r\n";
    h.expect(&["INCRBYFLOAT", "n", "inf"], nan_or_inf);
    h.expect(&["INCRBYFLOAT", "n", "-Infinity"], nan_or_inf);
    h.expect(&["SET", "big", "1.7976931348623157e308"], OK);
    h.expect(&["INCRBYFLOAT", "big", "1.7976931348623157e308"], nan_or_inf);
    h.expect(&["GET", "n"], "$3\r\n1.5\r\n");
    assert_eq!(proto::float::format_float(0.1 + 0.2), "0.30000000000000004");
    assert_eq!(proto::float::format_float(-2.5), "-2.5");
    assert_eq!(proto::float::parse_float(b"1E3"), Some(1000.0));
    assert_eq!(proto::float::parse_float(b"-inf"), Some(f64::NEG_INFINITY));
}

#[test]
fn set_get_exat_pxat() {
    let now = Instant::now();
    let unix_ms = 1_700_000_000_000;
    let session = KvSession::with_wall_clock(Limits::default(), now, unix_ms);
    let mut h = Harness { store: Store::new(), session, now };
    h.expect(&["SET", "k", "1", "GET"], NULL);
    h.expect(&["SET", "k", "2", "GET"], "$1\r\n1\r\n");
    h.expect(&["SET", "k", "3", "NX", "GET"], "$1\r\n2\r\n");
    h.expect(&["GET", "k"], "$1\r\n2\r\n");
    h.expect(&["SET", "m", "3", "XX", "GET"], NULL);
    h.expect(&["EXISTS", "m"], ":0\r\n");
    h.expect(&["SET", "k", "4", "XX", "get", "get"], "$1\r\n2\r\n");
    h.expect(&["GET", "k"], "$1\r\n4\r\n");
    // The expire time is checked before GET replies.
    h.expect(&["SET", "k", "5", "GET", "EX", "0"], "-ERR invalid expire time in 'set' command\r\n");
    h.expect(&["SET", "k", "5", "GET", "EX", "x"], NOT_INT);
    h.advance(Duration::from_secs(10));
    // EXAT/PXAT are Unix times on the session's wall clock (now = unix_ms + 10 s).
    h.expect(&["SET", "k", "v", "EXAT", "1700000110"], OK);
    h.expect(&["TTL", "k"], ":100\r\n");
    h.expect(&["SET", "k", "v", "PXAT", "1700000010500"], OK);
    h.expect(&["PTTL", "k"], ":500\r\n");
    h.expect(&["SET", "k", "v", "PXAT", "1700000010500", "PXAT", "1700000011000"], OK);
    h.expect(&["PTTL", "k"], ":1000\r\n");
    // A time already past writes the key, which is then gone.
    h.expect(&["SET", "k", "w", "EXAT", "1700000000", "GET"], "$1\r\nv\r\n");
    h.expect(&["EXISTS", "k"], ":0\r\n");
    h.expect(&["SET", "k", "v", "PXAT", "0"], "-ERR invalid expire time in 'set' command\r\n");
    for bad in [
        &["SET", "k", "v", "EX", "1", "EXAT", "1"][..],
        &["SET", "k", "v", "EXAT", "1", "PXAT", "1"],
        &["SET", "k", "v", "PXAT", "1", "KEEPTTL"],
        &["SET", "k", "v", "KEEPTTL", "EXAT", "1"],
        &["SET", "k", "v", "EXAT"],
        &["SET", "k", "v", "GETX"],
    ] {
        h.expect(bad, SYNTAX);
    }
}
