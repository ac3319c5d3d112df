//! The `memcached` example end to end: its server module runs in-process on 127.0.0.1:0 and a
//! small client written here checks commands over real TCP, a pipelining client (hundreds of
//! commands in one write, and many `get`s of a large value that come back intact although the
//! server holds about one reply at a time), `quit`, and the connection counts in `stats`.
//! Time-driven behavior (the reclaim timer, the send timeout) runs with a manual clock on a
//! socket pair, turning the loop by hand: nothing depends on timing luck.

#[path = "support/net.rs"]
mod net;
#[path = "../examples/memcached/server.rs"]
mod server;

use ioman::net::Connection;
use ioman::{Config, Manager, ManualClock};
use net::*;
use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

/// The memory limit of the test servers.
const LIMIT: usize = 64 * 1024 * 1024;

/// One item of a `get` reply.
#[derive(Debug, PartialEq, Eq)]
struct Item {
    key: String,
    flags: u32,
    data: Vec<u8>,
}

/// Reads the items of a retrieval reply up to its `END`.
#[track_caller]
fn read_items(c: &mut impl Read) -> Vec<Item> {
    let mut items = Vec::new();
    loop {
        let line = read_line(c);
        if line == "END\r\n" {
            return items;
        }
        let fields: Vec<&str> = line.trim_end().split(' ').collect();
        assert!(fields.len() >= 4 && fields[0] == "VALUE", "{line:?}");
        let len: usize = fields[3].parse().expect("a length");
        let mut data = read_n(c, len + 2);
        assert_eq!(data.split_off(len), b"\r\n");
        items.push(Item { key: fields[1].into(), flags: fields[2].parse().expect("flags"), data });
    }
}

/// A server on a background loop, and a client connected to it.
fn server() -> (ioman::net::Loops, TcpStream, std::net::SocketAddr) {
    let (addr, loops) = spawn_server(|socket| {
        let mut m = server::manager(Config::default(), LIMIT)?;
        server::build(&mut m, socket, server::conn_config())?;
        Ok(m)
    });
    (loops, connect(addr), addr)
}

#[test]
fn commands_round_trip_over_tcp() {
    let (loops, mut c, addr) = server();
    send(&mut c, b"set greeting 7 0 5\r\nhello\r\nget greeting nope\r\n");
    assert_eq!(read_line(&mut c), "STORED\r\n");
    let item = Item { key: "greeting".into(), flags: 7, data: b"hello".to_vec() };
    assert_eq!(read_items(&mut c), [item]);
    send(&mut c, b"add greeting 0 0 1\r\nx\r\nset n 0 0 2\r\n41\r\nincr n 1\r\ndecr n 50\r\n");
    assert_eq!([read_line(&mut c), read_line(&mut c)], ["NOT_STORED\r\n", "STORED\r\n"]);
    assert_eq!([read_line(&mut c), read_line(&mut c)], ["42\r\n", "0\r\n"]);
    send(&mut c, b"gets n\r\n");
    let cas = read_line(&mut c);
    let cas = cas.trim_end().rsplit(' ').next().unwrap().to_owned();
    assert_eq!(read_n(&mut c, 8), b"0\r\nEND\r\n");
    send(&mut c, format!("cas n 0 0 1 {cas}\r\n5\r\ncas n 0 0 1 {cas}\r\n6\r\n").as_bytes());
    assert_eq!([read_line(&mut c), read_line(&mut c)], ["STORED\r\n", "EXISTS\r\n"]);
    send(&mut c, b"delete n\r\ndelete n noreply\r\ndelete n\r\ntouch greeting 100\r\n");
    assert_eq!(read_line(&mut c), "DELETED\r\n");
    assert_eq!([read_line(&mut c), read_line(&mut c)], ["NOT_FOUND\r\n", "TOUCHED\r\n"]);
    send(&mut c, b"bogus\r\nincr greeting 1\r\nversion\r\n");
    assert_eq!(read_line(&mut c), "ERROR\r\n");
    assert_eq!(
        read_line(&mut c),
        "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
    );
    assert_eq!(read_line(&mut c), "VERSION 1.6.0-ioman\r\n");
    // A second client shows in the connection counts.
    let mut other = connect(addr);
    send(&mut other, b"stats\r\n");
    let mut stats = Vec::new();
    loop {
        let line = read_line(&mut other);
        if line == "END\r\n" {
            break;
        }
        stats.push(line);
    }
    for expected in ["STAT curr_connections 2\r\n", "STAT total_connections 2\r\n"] {
        assert!(stats.iter().any(|l| l == expected), "{expected:?} not in {stats:?}");
    }
    assert!(stats.iter().any(|l| l == "STAT curr_items 1\r\n"), "{stats:?}");
    send(&mut other, b"flush_all\r\nget greeting\r\n");
    assert_eq!(read_line(&mut other), "OK\r\n");
    assert_eq!(read_items(&mut other), []);
    stop(loops);
}

#[test]
fn a_pipelining_client_gets_every_reply_in_order() {
    let (loops, mut c, _) = server();
    let mut batch = Vec::new();
    for i in 0..500 {
        let data = format!("value-{i}");
        batch.extend(format!("set key-{i} {i} 0 {}\r\n{data}\r\n", data.len()).into_bytes());
    }
    batch.extend_from_slice(b"get");
    for i in 0..500 {
        batch.extend(format!(" key-{i}").into_bytes());
    }
    batch.extend_from_slice(b"\r\n"); // a 5 KB line: answered key by key
    for i in 0..500 {
        batch.extend(format!("get key-{i}\r\n").into_bytes());
    }
    send(&mut c, &batch);
    for _ in 0..500 {
        assert_eq!(read_line(&mut c), "STORED\r\n");
    }
    let expected = |i: usize| Item {
        key: format!("key-{i}"),
        flags: i as u32,
        data: format!("value-{i}").into_bytes(),
    };
    assert_eq!(read_items(&mut c), (0..500).map(expected).collect::<Vec<_>>());
    for i in 0..500 {
        assert_eq!(read_items(&mut c), [expected(i)]);
    }

    // 40 gets of a 512 KiB value (20 MiB of replies), pipelined, and one get of it 40 times:
    // the server answers a few at a time, as the client reads, and every byte arrives.
    let value = pattern(512 * 1024, 5);
    let set = [format!("set big 0 0 {}\r\n", value.len()).as_bytes(), &value, b"\r\n"].concat();
    send(&mut c, &set);
    assert_eq!(read_line(&mut c), "STORED\r\n");
    send(&mut c, &b"get big\r\n".repeat(40));
    send(&mut c, format!("get{}\r\n", " big".repeat(40)).as_bytes());
    let big = || Item { key: "big".into(), flags: 0, data: value.clone() };
    for _ in 0..40 {
        assert_eq!(read_items(&mut c), [big()]);
    }
    assert_eq!(read_items(&mut c), (0..40).map(|_| big()).collect::<Vec<_>>());
    send(&mut c, b"version\r\n");
    assert_eq!(read_line(&mut c), "VERSION 1.6.0-ioman\r\n");
    stop(loops);
}

#[test]
fn quit_closes_the_connection() {
    let (loops, mut c, addr) = server();
    send(&mut c, b"set a 0 0 1\r\na\r\nquit\r\nget a\r\n");
    assert_eq!(read_line(&mut c), "STORED\r\n");
    assert_eof(&mut c);
    // An over-long line is refused, then the connection closes too.
    let mut c = connect(addr);
    send(&mut c, &[b'x'; 4096]);
    assert_eq!(read_line(&mut c), "CLIENT_ERROR request too long\r\n");
    assert_eof(&mut c);
    stop(loops);
}

/// Turns the loop a few times without waiting.
fn turns(m: &mut Manager<ioman::net::Net<server::Db>>) {
    for _ in 0..4 {
        m.turn(Some(Duration::ZERO)).unwrap();
    }
}

#[test]
fn the_timer_reclaims_expired_items_nobody_asks_for() {
    let clock = ManualClock::new();
    let mut m = server::manager(Config::default().clock(clock.clone()), LIMIT).unwrap();
    let (fd, mut client) = unix_pair();
    Connection::new(server::Memcached::default(), server::conn_config())
        .register_with(&mut m, fd)
        .unwrap();
    let got = exchange(&mut m, &mut client, b"set a 0 2 1\r\na\r\nset b 0 0 1\r\nb\r\n", 16);
    assert_eq!(got, b"STORED\r\nSTORED\r\n");
    clock.advance(Duration::from_millis(1999));
    turns(&mut m);
    assert_eq!(m.state().app().cache.len(), 2);
    clock.advance(Duration::from_millis(1));
    turns(&mut m);
    assert_eq!(m.state().app().cache.len(), 1, "freed by the timer: no client asked");
    assert_eq!(m.state().app().cache.counters.reclaimed, 1);
    // A delayed flush_all takes effect at its time, also without a client asking.
    let got = exchange(&mut m, &mut client, b"flush_all 10\r\n", 4);
    assert_eq!(got, b"OK\r\n");
    clock.advance(Duration::from_secs(10));
    turns(&mut m);
    assert!(m.state().app().cache.is_empty());
    let got = exchange(&mut m, &mut client, b"get b\r\n", 5);
    assert_eq!(got, b"END\r\n");
}

#[test]
fn a_client_that_never_reads_is_dropped_after_the_send_timeout() {
    let clock = ManualClock::new();
    let mut m = server::manager(Config::default().clock(clock.clone()), LIMIT).unwrap();
    let (fd, mut client) = unix_pair();
    Connection::new(server::Memcached::default(), server::conn_config())
        .register_with(&mut m, fd)
        .unwrap();
    let value = pattern(512 * 1024, 3);
    let set = [b"set big 0 0 524288\r\n".as_slice(), &value, b"\r\n"].concat();
    assert_eq!(exchange(&mut m, &mut client, &set, 8), b"STORED\r\n");
    // 2 MiB of replies, more than the socket holds; the client reads none of it.
    send(&mut client, &b"get big\r\n".repeat(4));
    turns(&mut m);
    clock.advance(server::SEND_TIMEOUT - Duration::from_millis(1));
    turns(&mut m);
    assert_eq!((m.state().connections(), m.state().stats().send_timeouts), (1, 0));
    clock.advance(Duration::from_millis(1));
    turns(&mut m);
    assert_eq!((m.state().connections(), m.state().stats().send_timeouts), (0, 1));
}
