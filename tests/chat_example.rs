//! The `chat` example: the protocol driven without sockets by ioman-net's
//! [`Harness`](ioman::net::testing::Harness) (exact, no threads, no timing), and the server on
//! TCP: broadcast to the others (not the sender), nicknames,
//! join/leave notices, a fast sender slowed to its readers' pace (nothing lost, nobody kicked),
//! a client that never reads disconnected by the send timeout instead of growing the server's
//! memory, and a burst of joins announced once per turn.

#[path = "support/net.rs"]
mod net;

#[path = "../examples/chat/server.rs"]
mod chat;

use ioman::net::testing::Harness;
use ioman::net::{CloseReason, Net};
use ioman::{Key, Manager};
use net::*;
use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

/// A room driven without sockets: members are harnessed connections.
fn room() -> Harness<chat::Room> {
    let mut h = Harness::with_state(chat::Room::default());
    chat::open_room(h.manager()).unwrap();
    h
}

/// A new member; checks its welcome (and, when it is alone, its own join notice).
#[track_caller]
fn join(h: &mut Harness<chat::Room>, n: usize) -> Key {
    let key = h.connect(chat::Member, chat::config());
    let text = h.received_string(key);
    assert!(text.starts_with(&format!("* welcome guest-{n};")), "{text:?}");
    assert!(text.ends_with(&format!("* guest-{n} joined\n")), "{text:?}");
    key
}

#[test]
fn lines_reach_everyone_else_with_the_senders_nickname() {
    let h = &mut room();
    let a = join(h, 1);
    let b = join(h, 2);
    assert_eq!(h.received_string(a), "* guest-2 joined\n");
    let c = join(h, 3);
    assert_eq!(h.received_string(a), "* guest-3 joined\n");
    assert_eq!(h.received_string(b), "* guest-3 joined\n");

    h.send(a, b"/ni");
    h.send(a, b"ck alice\n"); // a line in two pieces
    assert_eq!(h.received_string(a), "* you are now alice\n");
    assert_eq!(h.received_string(b), "* guest-1 is now alice\n");
    assert_eq!(h.received_string(c), "* guest-1 is now alice\n");

    h.send(b, b"/nick alice\r\nhello, room\r\n");
    assert_eq!(h.received_string(b), "* that nickname is taken\n");
    assert_eq!(h.received_string(a), "<guest-2> hello, room\n");
    assert_eq!(h.received_string(c), "<guest-2> hello, room\n");

    h.send(c, b"/quit\n");
    assert_eq!(h.received_string(c), "* bye\n");
    assert!(matches!(h.close_reason(c), Some(CloseReason::Closed)));
    assert_eq!(h.received_string(a), "* guest-3 left\n");
    // b never got its own line: the next thing it reads is c leaving.
    assert_eq!(h.received_string(b), "* guest-3 left\n");
}

#[test]
fn a_client_that_never_reads_is_disconnected_by_the_send_timeout() {
    let h = &mut room();
    let talker = join(h, 1);
    let slow = join(h, 2);
    assert_eq!(h.received_string(talker), "* guest-2 joined\n");
    h.stop_reading(slow);
    let line = format!("{}\n", "x".repeat(1000));
    for _ in 0..200 {
        h.send(talker, line.as_bytes());
    }
    // The talker waits for the slow reader (its lines stay unread, nothing is lost)...
    assert!(h.is_open(slow) && h.is_open(talker));
    assert!(h.unread(talker) > 0, "the talker was made to wait");
    h.advance(chat::SEND_TIMEOUT - Duration::from_secs(1));
    assert!(h.is_open(slow));
    // ...until the reader took nothing for the send timeout.
    h.advance(Duration::from_secs(1));
    assert!(matches!(h.close_reason(slow), Some(CloseReason::SendTimeout)));
    assert_eq!(h.received_string(talker), "* guest-2 left (too slow to read)\n");
    assert_eq!(h.unread(talker), 0, "released: the rest was handled");
}

#[test]
fn an_overlong_line_disconnects_its_sender() {
    let h = &mut room();
    let a = join(h, 1);
    let b = join(h, 2);
    assert_eq!(h.received_string(a), "* guest-2 joined\n");
    h.send(b, "y".repeat(chat::MAX_LINE + 100).as_bytes());
    assert!(matches!(h.close_reason(b), Some(CloseReason::InputTooLarge)));
    assert_eq!(h.received_string(a), "* guest-2 left (line too long)\n");
}

#[test]
fn a_fast_sender_is_slowed_to_a_slow_readers_pace_and_nothing_is_lost() {
    let h = &mut room();
    let talker = join(h, 1);
    let slow = join(h, 2);
    assert_eq!(h.received_string(talker), "* guest-2 joined\n");
    let lines: Vec<String> =
        (0..8_000).map(|i| format!("line {i:06} {}\n", "z".repeat(90))).collect();
    let expected: Vec<u8> =
        lines.iter().flat_map(|l| format!("<guest-1> {l}").into_bytes()).collect();
    // 900 KB in one burst, 14 times the reader's high watermark, read 4 KiB at a time.
    h.stop_reading(slow);
    h.send(talker, lines.concat().as_bytes());
    let mut got = Vec::new();
    for _ in 0..10_000 {
        if got.len() >= expected.len() {
            break;
        }
        let backlog = h.pending_output::<chat::Member>(slow).unwrap();
        assert!(backlog <= chat::MAX_BACKLOG, "the reader's backlog is bounded: {backlog}");
        h.read_more(slow, 4096);
        got.extend(h.received(slow));
    }
    assert!(got == expected, "lines were lost or reordered");
    // Both are still in the room.
    h.send(slow, b"done\n");
    assert_eq!(h.received_string(talker), "<guest-2> done\n");
}

/// The whole room on real sockets, as a client sees it.
#[test]
fn a_room_on_tcp() {
    let (addr, loops) = spawn_server(move |socket| {
        let mut manager = Manager::with_state(Net::new(chat::Room::default()))?;
        chat::build(&mut manager, socket, chat::config())?;
        Ok(manager)
    });
    let mut a = connect(addr);
    assert!(read_line(&mut a).starts_with("* welcome guest-1;"));
    assert_eq!(read_line(&mut a), "* guest-1 joined\n");
    let mut b = connect(addr);
    assert!(read_line(&mut b).starts_with("* welcome guest-2;"));
    assert_eq!(read_line(&mut a), "* guest-2 joined\n");
    send(&mut b, b"hi\n");
    assert_eq!(read_line(&mut a), "<guest-2> hi\n");
    send(&mut a, b"/quit\n");
    assert_eq!(read_line(&mut a), "* bye\n");
    assert_eof(&mut a);
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
    // Joins are announced in the turn after `on_open` (it runs in the accept's turn).
    settle(&mut m);
    assert!(read_line(&mut first).starts_with("* welcome guest-1;"));
    assert_eq!(read_line(&mut first), "* guest-1 joined\n");
    // 100 clients wait in the backlog; the listener takes them 64 per event.
    let crowd: Vec<TcpStream> = (0..100).map(|_| connect(addr)).collect();
    turn_until(&mut m, 50, |m| m.state().connections() == 101);
    settle(&mut m);
    // Two turns of joins: two announcements, not a hundred lines to each of 100 members.
    assert_eq!(read_line(&mut first), "* 64 joined and 0 left\n");
    assert_eq!(read_line(&mut first), "* 36 joined and 0 left\n");
    drop(crowd);
    turn_until(&mut m, 50, |m| m.state().connections() == 1);
    settle(&mut m);
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

/// Turns until no wake is pending (the announcer has run).
fn settle(m: &mut Manager<Net<chat::Room>>) {
    m.turn(Some(Duration::ZERO)).unwrap();
    while m.wakes_pending() {
        m.turn(Some(Duration::ZERO)).unwrap();
    }
}
