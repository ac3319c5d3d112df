//! The `chat` example, served in-process: broadcast to the others (not the sender), nicknames,
//! join/leave notices, and a client that never reads is disconnected instead of growing the
//! server's memory.

#[path = "support/net.rs"]
mod net;

#[path = "../examples/chat/server.rs"]
mod chat;

use ioman::Manager;
use ioman::net::Net;
use net::*;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};

fn server() -> (SocketAddr, ioman::net::Loops) {
    spawn_server(|socket| {
        let mut manager = Manager::with_state(Net::new(chat::Room::default()))?;
        chat::build(&mut manager, socket, chat::config())?;
        Ok(manager)
    })
}

/// Connects and reads the welcome line.
#[track_caller]
fn join(addr: SocketAddr, n: usize) -> TcpStream {
    let mut client = connect(addr);
    let welcome = read_line(&mut client);
    assert!(welcome.starts_with(&format!("* welcome guest-{n};")), "{welcome:?}");
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
fn a_client_that_never_reads_is_disconnected() {
    let (addr, loops) = server();
    let mut talker = join(addr, 1);
    let slow = join(addr, 2);
    assert_eq!(read_line(&mut talker), "* guest-2 joined\n");
    rustix::net::sockopt::set_socket_recv_buffer_size(&slow, 4096).unwrap();
    let mut writer = talker.try_clone().unwrap();
    let line = format!("{}\n", "x".repeat(1000));
    // Far more than the slow client's cap plus every kernel buffer on the way.
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
