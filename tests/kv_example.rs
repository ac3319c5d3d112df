//! The `kv` example end to end: its server module runs in-process and a small RESP client
//! written here checks commands, pipelined batches, inline commands, errors, and expiry. Expiry
//! runs with a manual clock, and shows that the ioman timer frees keys nobody asks for.
//!
//! Memory: the attacks that used to exhaust it (a 7 KB MGET of a 10 MiB value, 400 bytes of
//! pipelined GETs of it) run against the real server while this process's resident memory
//! (`VmRSS`, server and client together) is watched; it must grow by less than
//! [`MEMORY_BOUND`] whether the client reads slowly or not at all, and a client reading
//! everything gets every byte. The tests that measure memory take [`MEMORY`] so that they do
//! not run at the same time. The send timeout runs with a manual clock.
//!
//! TLS: the same server over TLS (certificates made at test time) answers PING, SET and GET,
//! pipelined and with a value larger than a TLS record, to a rustls client.

#[path = "support/net.rs"]
mod net;
#[path = "../examples/kv/server.rs"]
mod server;
#[path = "support/tls.rs"]
mod tls;

use ioman::net::{Connection, Loops};
use ioman::{Config, ManualClock};
use net::*;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

/// Encodes a command as a RESP array of bulk strings.
fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// Reads one reply (simple string, error, integer, bulk or null) as text.
#[track_caller]
fn reply(c: &mut impl std::io::Read) -> String {
    let line = read_line(c);
    if let Some(len) = line.strip_prefix('$') {
        let len: i64 = len.trim().parse().expect("bulk length");
        if len < 0 {
            return "(nil)".into();
        }
        let body = read_n(c, len as usize + 2);
        return String::from_utf8_lossy(&body[..len as usize]).into_owned();
    }
    line.trim_end().to_owned()
}

#[test]
fn commands_pipelines_inline_and_errors() {
    let (addr, loops) = spawn_server(|socket| {
        let mut m = server::manager(Config::default())?;
        server::build(&mut m, socket, server::conn_config(), None)?;
        Ok(m)
    });
    let mut c = connect(addr);
    let mut batch = Vec::new();
    for i in 0..100 {
        batch.extend(resp(&["SET", &format!("k{i}"), &format!("v{i}")]));
    }
    for i in 0..100 {
        batch.extend(resp(&["GET", &format!("k{i}")]));
    }
    batch.extend(resp(&["INCR", "n"]));
    batch.extend(resp(&["INCRBY", "n", "41"]));
    batch.extend(resp(&["DBSIZE"]));
    send(&mut c, &batch);
    for _ in 0..100 {
        assert_eq!(reply(&mut c), "+OK");
    }
    for i in 0..100 {
        assert_eq!(reply(&mut c), format!("v{i}"));
    }
    assert_eq!([reply(&mut c), reply(&mut c), reply(&mut c)], [":1", ":42", ":101"]);
    send(&mut c, b"PING\r\nECHO hi\r\n"); // inline commands, as typed in telnet
    assert_eq!([reply(&mut c), reply(&mut c)], ["+PONG", "hi"]);
    send(&mut c, &resp(&["GET"]));
    assert_eq!(reply(&mut c), "-ERR wrong number of arguments for 'get' command");
    send(&mut c, &resp(&["NOPE", "x"]));
    assert!(reply(&mut c).starts_with("-ERR unknown command 'NOPE'"));
    send(&mut c, &resp(&["INCR", "k1"]));
    assert_eq!(reply(&mut c), "-ERR value is not an integer or out of range");
    send(&mut c, &resp(&["QUIT"]));
    assert_eq!(reply(&mut c), "+OK");
    assert_eof(&mut c);
    stop(loops);
}

#[test]
fn ping_set_and_get_over_tls() {
    let certs = tls::certs(&["localhost"]);
    let config = tls::server_config(&certs, &[]);
    let (addr, loops) = spawn_server(move |socket| {
        let mut m = server::manager(Config::default())?;
        server::build(&mut m, socket, server::conn_config(), Some(config.clone()))?;
        Ok(m)
    });
    let mut c = tls::client(addr, &tls::client_config(&certs, &[]), "localhost");
    send(&mut c, &resp(&["PING"]));
    assert_eq!(reply(&mut c), "+PONG");
    assert_eq!(c.conn.alpn_protocol(), None, "kv offers no ALPN");
    send(&mut c, &resp(&["SET", "greeting", "hello over TLS"]));
    assert_eq!(reply(&mut c), "+OK");
    send(&mut c, &resp(&["GET", "greeting"]));
    assert_eq!(reply(&mut c), "hello over TLS");
    // A pipelined batch, and a value bigger than a TLS record (shared, encrypted in steps).
    let value = pattern(256 * 1024, 9);
    let mut batch = resp_bytes(&[b"SET", b"big", &value]);
    batch.extend(resp(&["GET", "missing"]));
    batch.extend(resp_bytes(&[b"GET", b"big"]));
    batch.extend(b"PING\r\n"); // inline
    send(&mut c, &batch);
    assert_eq!([reply(&mut c), reply(&mut c)], ["+OK", "(nil)"]);
    assert_eq!(read_line(&mut c), format!("${}\r\n", value.len()));
    assert!(read_n(&mut c, value.len()) == value, "the big value differs");
    assert_eq!(read_n(&mut c, 2), b"\r\n");
    assert_eq!(reply(&mut c), "+PONG");
    // QUIT: the server answers, then closes with close_notify (not a truncation).
    send(&mut c, &resp(&["QUIT"]));
    assert_eq!(reply(&mut c), "+OK");
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).expect("a clean close");
    assert!(rest.is_empty());
    stop(loops);
}

#[test]
fn keys_expire_through_the_timer_without_being_touched() {
    let clock = ManualClock::new();
    let mut m = server::manager(Config::default().clock(clock.clone())).unwrap();
    let (fd, client) = unix_pair();
    Connection::new(server::Kv::default(), server::conn_config())
        .register_with(&mut m, fd)
        .unwrap();
    let mut client = client;
    let turns = |m: &mut ioman::Manager<_>| {
        for _ in 0..4 {
            m.turn(Some(Duration::ZERO)).unwrap();
        }
    };
    let mut cmds = resp(&["SET", "short", "1", "PX", "1500"]);
    cmds.extend(resp(&["SET", "long", "2", "EX", "100"]));
    cmds.extend(resp(&["SET", "forever", "3"]));
    cmds.extend(resp(&["PTTL", "short"]));
    send(&mut client, &cmds);
    turns(&mut m);
    assert_eq!([reply(&mut client), reply(&mut client), reply(&mut client)], ["+OK"; 3]);
    assert_eq!(reply(&mut client), ":1500");
    clock.advance(Duration::from_millis(1499));
    turns(&mut m);
    assert_eq!(m.state().app().store.len(), 3);
    clock.advance(Duration::from_millis(1));
    turns(&mut m);
    assert_eq!(m.state().app().store.len(), 2, "freed by the timer: no client asked");
    clock.advance(Duration::from_secs(100));
    turns(&mut m);
    assert_eq!(m.state().app().store.len(), 1);
    send(&mut client, &resp(&["GET", "long"]));
    turns(&mut m);
    assert_eq!(reply(&mut client), "(nil)");
    send(&mut client, &resp(&["TTL", "forever"]));
    turns(&mut m);
    assert_eq!(reply(&mut client), ":-1");
}

/// The size of the value the memory tests attack with.
const BIG: usize = 10 * 1024 * 1024;

/// How much this process may grow while a test attacks the server; the old server grew by
/// hundreds of MiB (every reply was a copy of the value), the new one by about one value.
const MEMORY_BOUND: usize = 64 * 1024 * 1024;

/// Held by the tests that measure the process's memory (tests run in parallel threads).
static MEMORY: Mutex<()> = Mutex::new(());

/// This process's resident memory, in bytes.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("a VmRSS line");
    let kb: usize = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmRSS");
    kb * 1024
}

/// Asserts the process grew by less than [`MEMORY_BOUND`] since `baseline`.
#[track_caller]
fn assert_bounded(baseline: usize, when: &str) {
    let grown = rss().saturating_sub(baseline);
    assert!(grown < MEMORY_BOUND, "{when}: the process grew by {} MiB", grown >> 20);
}

/// Encodes a command of binary arguments.
fn resp_bytes(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A server on a background loop whose key `big` holds [`BIG`] bytes, and a client.
fn big_value_server() -> (SocketAddr, Loops, TcpStream, Vec<u8>) {
    let (addr, loops) = spawn_server(|socket| {
        let mut m = server::manager(Config::default())?;
        server::build(&mut m, socket, server::conn_config(), None)?;
        Ok(m)
    });
    let mut c = connect(addr);
    let value = pattern(BIG, 7);
    send(&mut c, &resp_bytes(&[b"SET", b"big", &value]));
    assert_eq!(reply(&mut c), "+OK");
    (addr, loops, c, value)
}

/// Returns once the server has taken up what other connections sent before: their bytes were
/// ready before this connection existed, so the loop has offered them by the time it answers
/// this PING (epoll reports every ready fd, level-triggered). The memory bounds hold at any
/// moment; this only makes sure an unbounded server would already have grown.
#[track_caller]
fn sync_with(addr: SocketAddr) {
    let mut other = connect(addr);
    send(&mut other, &resp(&["PING"]));
    assert_eq!(reply(&mut other), "+PONG");
}

/// Reads exactly the concatenation of `pieces`, 64 KiB at a time, comparing as it goes and
/// checking the process's memory every MiB.
#[track_caller]
fn read_replies(c: &mut TcpStream, pieces: &[&[u8]], baseline: usize) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    for (i, piece) in pieces.iter().enumerate() {
        let mut at = 0;
        while at < piece.len() {
            let n = (piece.len() - at).min(buf.len());
            c.read_exact(&mut buf[..n])
                .unwrap_or_else(|e| panic!("reading piece {i} at byte {at}: {e}"));
            assert!(buf[..n] == piece[at..at + n], "piece {i} differs within bytes {at}..+{n}");
            at += n;
            total += n;
            if total % (1024 * 1024) < n {
                assert_bounded(baseline, "while the client reads");
            }
        }
    }
}

#[test]
fn pipelined_gets_of_a_big_value_keep_memory_bounded_and_arrive_intact() {
    let _serial = MEMORY.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (addr, loops, mut c, value) = big_value_server();
    let baseline = rss();
    // 400 bytes of pipelined GETs ask for 180 MiB of replies; the client reads none yet.
    let gets = resp(&["GET", "big"]).repeat(18);
    assert!(gets.len() <= 400);
    send(&mut c, &gets);
    sync_with(addr);
    assert_bounded(baseline, "while the client reads nothing");
    // The server serves others meanwhile.
    let mut other = connect(addr);
    send(&mut other, &[resp(&["SET", "small", "1"]), resp(&["GET", "small"])].concat());
    assert_eq!([reply(&mut other), reply(&mut other)], ["+OK", "1"]);
    // Read slowly, 64 KiB at a time: every reply, byte for byte, then nothing else.
    let header = format!("${BIG}\r\n");
    let one = [header.as_bytes(), &value, b"\r\n"];
    let all: Vec<&[u8]> = std::iter::repeat_n(one, 18).flatten().collect();
    read_replies(&mut c, &all, baseline);
    send(&mut c, &resp(&["PING"]));
    assert_eq!(read_n(&mut c, 7), b"+PONG\r\n");
    stop(loops);
}

#[test]
fn a_7_kb_mget_of_a_big_value_is_refused_and_a_legitimate_one_is_served() {
    let _serial = MEMORY.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (addr, loops, mut c, value) = big_value_server();
    let baseline = rss();
    // 777 times the 10 MiB key in 7 KB: 7.6 GB of replies asked for.
    let keys = vec![&b"big"[..]; 777];
    let attack = resp_bytes(&[&[&b"MGET"[..]][..], &keys].concat());
    assert!(attack.len() <= 7 * 1024);
    send(&mut c, &attack);
    let size = "*777\r\n".len() + 777 * (format!("${BIG}\r\n\r\n").len() + BIG);
    assert_eq!(
        reply(&mut c),
        format!(
            "-ERR reply too large: MGET would send {size} bytes, over the limit of 134217728; \
             ask for fewer keys at once"
        )
    );
    sync_with(addr);
    assert_bounded(baseline, "after the refused MGET");
    // The same connection goes on: an MGET of the big value three times (30 MiB, under the
    // limit) is served, shared rather than copied, and read slowly.
    send(&mut c, &resp(&["MGET", "big", "nope", "big", "big"]));
    let header = format!("${BIG}\r\n");
    let one = [header.as_bytes(), &value, b"\r\n"];
    let mut all: Vec<&[u8]> = vec![b"*4\r\n"];
    all.extend(one);
    all.push(b"$-1\r\n");
    all.extend(one.iter().chain(&one));
    read_replies(&mut c, &all, baseline);
    send(&mut c, &resp(&["PING"]));
    assert_eq!(read_n(&mut c, 7), b"+PONG\r\n");
    stop(loops);
}

#[test]
fn a_client_that_never_reads_is_dropped_after_the_send_timeout() {
    let clock = ManualClock::new();
    let mut m = server::manager(Config::default().clock(clock.clone())).unwrap();
    let (fd, mut client) = unix_pair();
    Connection::new(server::Kv::default(), server::conn_config())
        .register_with(&mut m, fd)
        .unwrap();
    let value = pattern(1024 * 1024, 3);
    let got = exchange(&mut m, &mut client, &resp_bytes(&[b"SET", b"big", &value]), 5);
    assert_eq!(got, b"+OK\r\n");
    // 1 MiB of reply, more than the socket holds; the client reads none of it.
    send(&mut client, &resp(&["GET", "big"]));
    for _ in 0..4 {
        m.turn(Some(Duration::ZERO)).unwrap();
    }
    clock.advance(server::SEND_TIMEOUT - Duration::from_millis(1));
    for _ in 0..4 {
        m.turn(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!((m.state().connections(), m.state().stats().send_timeouts), (1, 0));
    clock.advance(Duration::from_millis(1));
    for _ in 0..4 {
        m.turn(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!((m.state().connections(), m.state().stats().send_timeouts), (0, 1));
}

/// Active expiry and the freeing of a FLUSHALL run on the server's timer with a budget per
/// turn ([`server::BACKGROUND_BUDGET`] keys or entries), counted turn by turn: neither a
/// thousands of keys expiring at the same instant nor a flush of them is done in one turn, and
/// the client is still answered afterwards.
#[test]
fn expiry_and_flush_work_is_bounded_per_turn() {
    use server::proto::store::Expiry;
    const KEYS: usize = 5 * server::BACKGROUND_BUDGET;
    let clock = ManualClock::new();
    let mut m = server::manager(Config::default().clock(clock.clone())).unwrap();
    let (fd, mut client) = unix_pair();
    Connection::new(server::Kv::default(), server::conn_config())
        .register_with(&mut m, fd)
        .unwrap();
    let now = clock.now();
    let at = now + Duration::from_secs(1);
    let store = &mut m.state_mut().app_mut().store;
    for i in 0..KEYS {
        store.set(format!("k{i}").as_bytes(), b"v", Expiry::At(at), now);
    }
    // A client's SET arms the timer for the earliest expiry.
    send(&mut client, &resp(&["SET", "x", "1", "PX", "1000"]));
    m.turn(Some(Duration::ZERO)).unwrap();
    assert_eq!(reply(&mut client), "+OK");
    clock.advance(Duration::from_secs(1));
    let len = |m: &ioman::Manager<ioman::net::Net<server::Db>>| m.state().app().store.len();
    let mut left = KEYS + 1;
    while left > 0 {
        m.turn(Some(Duration::ZERO)).unwrap();
        let removed = left - len(&m);
        assert_eq!(removed, server::BACKGROUND_BUDGET.min(left), "one budget per turn");
        left = len(&m);
    }
    // A flush: gone at once for the client, freed a budget per turn.
    let store = &mut m.state_mut().app_mut().store;
    for i in 0..KEYS {
        store.set(format!("k{i}").as_bytes(), b"v", Expiry::Persist, clock.now());
    }
    send(&mut client, &resp(&["FLUSHALL"]));
    send(&mut client, &resp(&["DBSIZE"]));
    m.turn(Some(Duration::ZERO)).unwrap();
    assert_eq!([reply(&mut client), reply(&mut client)], ["+OK", ":0"]);
    let garbage =
        |m: &ioman::Manager<ioman::net::Net<server::Db>>| m.state().app().store.garbage_len();
    assert!(garbage(&m) >= 2 * KEYS - server::BACKGROUND_BUDGET);
    let mut turns = 0;
    while garbage(&m) > 0 {
        let before = garbage(&m);
        m.turn(Some(Duration::ZERO)).unwrap();
        assert!(before - garbage(&m) <= server::BACKGROUND_BUDGET);
        turns += 1;
        assert!(turns <= 2 * KEYS / server::BACKGROUND_BUDGET + 1, "the timer keeps going");
    }
    send(&mut client, &resp(&["PING"]));
    m.turn(Some(Duration::ZERO)).unwrap();
    assert_eq!(reply(&mut client), "+PONG");
}
