//! The `kv` example end to end: its server module runs in-process and a small RESP client
//! written here checks commands, pipelined batches, inline commands, errors, and expiry. Expiry
//! runs with a manual clock, and shows that the ioman timer frees keys nobody asks for.

#[path = "support/net.rs"]
mod net;
#[path = "../examples/kv/server.rs"]
mod server;

use ioman::net::Connection;
use ioman::{Config, ManualClock};
use net::*;
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
        server::build(&mut m, socket)?;
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
