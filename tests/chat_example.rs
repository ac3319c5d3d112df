//! The `chat` example, served in-process: broadcast to the others (not the sender), nicknames,
//! join/leave notices, a fast sender slowed to its readers' pace (nothing lost, nobody kicked),
//! a client that never reads disconnected by the send timeout instead of growing the server's
//! memory, and a burst of joins announced once per turn.

#[path = "support/net.rs"]
mod net;

#[path = "../examples/chat/server.rs"]
mod chat;

use ioman::Manager;
use ioman::net::{ConnConfig, Net};
use net::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn server() -> (SocketAddr, ioman::net::Loops) {
    server_with(chat::config())
}

fn server_with(config: ConnConfig) -> (SocketAddr, ioman::net::Loops) {
    spawn_server(move |socket| {
        let mut manager = Manager::with_state(Net::new(chat::Room::default()))?;
        chat::build(&mut manager, socket, config.clone())?;
        Ok(manager)
    })
}

/// Connects and reads the welcome line and the announcement of its own arrival.
#[track_caller]
fn join(addr: SocketAddr, n: usize) -> TcpStream {
    let mut client = connect(addr);
    let welcome = read_line(&mut client);
    assert!(welcome.starts_with(&format!("* welcome guest-{n};")), "{welcome:?}");
    assert_eq!(read_line(&mut client), format!("* guest-{n} joined\n"));
    client
}

#[test]
fn lines_reach_everyone_else_with_the_senders_nickname() {
    let (addr, loops) = server();
    let mut a = join(addr, 1);
    let mut b = join(addr, 2);
    assert_eq!(read_line(&mut a), "* guest-2 joined\n");
    let mut c = join(addr, 3);
    assert_eq!(read_line(&mut a), "* guest-3 joined\n");
    assert_eq!(read_line(&mut b), "* guest-3 joined\n");

    send(&mut a, b"/nick alice\n");
    assert_eq!(read_line(&mut a), "* you are now alice\n");
    assert_eq!(read_line(&mut b), "* guest-1 is now alice\n");
    assert_eq!(read_line(&mut c), "* guest-1 is now alice\n");

    send(&mut b, b"/nick alice\r\n");
    assert_eq!(read_line(&mut b), "* that nickname is taken\n");
    send(&mut b, b"hello, room\r\n");
    assert_eq!(read_line(&mut a), "<guest-2> hello, room\n");
    assert_eq!(read_line(&mut c), "<guest-2> hello, room\n");

    send(&mut c, b"/quit\n");
    assert_eq!(read_line(&mut c), "* bye\n");
    assert_eof(&mut c);
    assert_eq!(read_line(&mut a), "* guest-3 left\n");
    // b never got its own line: the next thing it reads is c leaving.
    assert_eq!(read_line(&mut b), "* guest-3 left\n");
    stop(loops);
}

#[test]
fn a_client_that_never_reads_is_disconnected_by_the_send_timeout() {
    let config = chat::config().send_timeout(Some(Duration::from_millis(300)));
    let (addr, loops) = server_with(config);
    let mut talker = join(addr, 1);
    let slow = join(addr, 2);
    assert_eq!(read_line(&mut talker), "* guest-2 joined\n");
    rustix::net::sockopt::set_socket_recv_buffer_size(&slow, 4096).unwrap();
    let mut writer = talker.try_clone().unwrap();
    let line = format!("{}\n", "x".repeat(1000));
    // Far more than the slow client's high watermark plus every kernel buffer on the way: the
    // talker is made to wait for it, and it is dropped once it made no progress for 300 ms.
    let flood = std::thread::spawn(move || {
        for _ in 0..20_000 {
            if writer.write_all(line.as_bytes()).is_err() {
                return;
            }
        }
    });
    assert_eq!(read_line(&mut talker), "* guest-2 left (too slow to read)\n");
    drop(talker);
    flood.join().unwrap();
    drop(slow);
    stop(loops);
}

#[test]
fn an_overlong_line_disconnects_its_sender() {
    let (addr, loops) = server();
    let mut a = join(addr, 1);
    let mut b = join(addr, 2);
    assert_eq!(read_line(&mut a), "* guest-2 joined\n");
    send(&mut b, "y".repeat(chat::MAX_LINE + 100).as_bytes());
    assert_eq!(read_line(&mut a), "* guest-2 left (line too long)\n");
    assert_eof(&mut b);
    stop(loops);
}

#[test]
fn a_fast_sender_is_slowed_to_a_slow_readers_pace_and_nothing_is_lost() {
    let (addr, loops) = server();
    let mut talker = join(addr, 1);
    let mut slow = join(addr, 2);
    assert_eq!(read_line(&mut talker), "* guest-2 joined\n");
    let lines: Vec<String> =
        (0..8_000).map(|i| format!("line {i:06} {}\n", "z".repeat(90))).collect();
    let flood: Vec<u8> = lines.concat().into_bytes();
    let expected: Vec<u8> =
        lines.iter().flat_map(|l| format!("<guest-1> {l}").into_bytes()).collect();
    let mut writer = talker.try_clone().unwrap();
    // 900 KB in one burst, read in small pieces: 14 times the reader's high watermark.
    let sending = std::thread::spawn(move || writer.write_all(&flood).unwrap());
    let mut got = vec![0u8; expected.len()];
    let mut at = 0;
    while at < got.len() {
        let n = slow.read(&mut got[at..(at + 512).min(expected.len())]).unwrap();
        assert!(n > 0, "the slow reader was disconnected after {at} bytes");
        at += n;
    }
    sending.join().unwrap();
    assert!(got == expected, "lines were lost or reordered");
    // Both are still in the room.
    send(&mut slow, b"done\n");
    assert_eq!(read_line(&mut talker), "<guest-2> done\n");
    stop(loops);
}

#[test]
fn a_burst_of_joins_is_announced_once_per_turn() {
    let mut m = Manager::with_state(Net::new(chat::Room::default())).unwrap();
    let socket = ioman::net::listen(&"127.0.0.1:0".parse().unwrap(), Default::default()).unwrap();
    let ioman::net::Endpoint::Tcp(addr) = ioman::net::local_endpoint(&socket).unwrap() else {
        panic!("not TCP")
    };
    chat::build(&mut m, socket, chat::config()).unwrap();
    let mut first = connect(addr);
    turn_until(&mut m, 50, |m| m.state().connections() == 1);
    m.turn(Some(Duration::ZERO)).unwrap();
    assert!(read_line(&mut first).starts_with("* welcome guest-1;"));
    assert_eq!(read_line(&mut first), "* guest-1 joined\n");
    // 100 clients wait in the backlog; the listener takes them 64 per event.
    let crowd: Vec<TcpStream> = (0..100).map(|_| connect(addr)).collect();
    turn_until(&mut m, 50, |m| m.state().connections() == 101);
    m.turn(Some(Duration::ZERO)).unwrap();
    // Two turns of joins: two announcements, not a hundred lines to each of 100 members.
    assert_eq!(read_line(&mut first), "* 64 joined and 0 left\n");
    assert_eq!(read_line(&mut first), "* 36 joined and 0 left\n");
    drop(crowd);
    turn_until(&mut m, 50, |m| m.state().connections() == 1);
    m.turn(Some(Duration::ZERO)).unwrap();
    // Departures are batched the same way: every one is counted, in far fewer lines.
    first.set_nonblocking(true).unwrap();
    let mut text = String::new();
    let _ = first.read_to_string(&mut text); // WouldBlock once everything is read
    let mut left = 0;
    for line in text.lines() {
        match line.split(' ').collect::<Vec<_>>()[..] {
            ["*", "0", "joined", "and", n, "left"] => left += n.parse::<usize>().unwrap(),
            ["*", _, "left"] => left += 1,
            _ => panic!("unexpected line {line:?}"),
        }
    }
    assert_eq!(left, 100, "{text}");
    assert!(text.lines().count() <= 20, "{} announcement lines", text.lines().count());
}
