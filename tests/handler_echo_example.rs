//! The `handler_echo` example's acceptor, out of file descriptors: it must pause on a timer
//! instead of spinning on the listener that level-triggered epoll keeps reporting. Runs in a
//! child process (the lowered `RLIMIT_NOFILE` affects nothing else); time is a `ManualClock`.

#[path = "support/net.rs"]
mod net;

#[path = "../examples/handler_echo/server.rs"]
mod handler_echo;

use ioman::{Config, Interest, Manager, ManualClock, Timeout};
use net::*;
use rustix::process::{Resource, getrlimit};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

const CHILD: &str = "IOMAN_HANDLER_ECHO_EMFILE_CHILD";
const NAME: &str = "out_of_fds_the_acceptor_pauses_instead_of_spinning_and_recovers";

#[test]
fn out_of_fds_the_acceptor_pauses_instead_of_spinning_and_recovers() {
    if in_child(NAME, CHILD, "handler_echo child: ok") {
        child();
    }
}

fn child() {
    let clock = ManualClock::new();
    let mut m: Manager = Manager::with_config((), Config::default().clock(clock.clone())).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    m.add(listener, Interest::READ, Timeout::Never, handler_echo::Acceptor::default()).unwrap();
    let mut pending: Vec<TcpStream> = (0..3).map(|_| connect(addr)).collect();
    let original = getrlimit(Resource::Nofile).current.expect("a finite fd limit");
    set_fd_limit(highest_fd() + 1);
    let hogs = exhaust_fds();

    // The failed accept pauses the acceptor: many turns later, no further event was
    // dispatched (a spinning acceptor is reported, and fails, on every single turn).
    m.turn(Some(Duration::ZERO)).unwrap();
    let events = m.stats().events_dispatched;
    assert_eq!(events, 1, "the listener was not reported once");
    for _ in 0..100 {
        m.turn(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(m.stats().events_dispatched, events, "the acceptor spun while out of fds");

    // Fds free up; after the backoff it accepts the waiting clients and echoes.
    drop(hogs);
    set_fd_limit(original);
    clock.advance(handler_echo::BACKOFF);
    turn_until(&mut m, 50, |m| m.len() == 1 + pending.len());
    for (i, client) in pending.iter_mut().enumerate() {
        client.write_all(format!("hello {i}\n").as_bytes()).unwrap();
    }
    for (i, client) in pending.iter_mut().enumerate() {
        for _ in 0..50 {
            m.turn(Some(Duration::from_millis(10))).unwrap();
        }
        assert_eq!(read_line(client), format!("hello {i}\n"));
    }
    println!("handler_echo child: ok");
}

const DRAIN_CHILD: &str = "IOMAN_HANDLER_ECHO_DRAIN_CHILD";

/// SIGTERM: the acceptor's listener closes, an open connection is still served until its
/// client leaves, and then `run` returns (well before the grace period).
#[test]
fn sigterm_stops_accepting_and_returns_once_connections_finished() {
    if in_child(
        "sigterm_stops_accepting_and_returns_once_connections_finished",
        DRAIN_CHILD,
        "handler_echo drain: ok",
    ) {
        drain_child();
    }
}

fn drain_child() {
    let mut m: Manager = Manager::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let key = m.add(listener, Interest::READ, Timeout::Never, handler_echo::Acceptor::default());
    let signals = ioman::net::shutdown::signal_pipe().unwrap();
    m.add(signals, Interest::READ, Timeout::Never, handler_echo::Signals::new(key.unwrap()))
        .unwrap();
    let client = std::thread::spawn(move || {
        let mut client = connect(addr);
        client.write_all(b"ping\n").unwrap();
        assert_eq!(read_line(&mut client), "ping\n");
        let me = rustix::process::getpid();
        rustix::process::kill_process(me, rustix::process::Signal::TERM).unwrap();
        // Draining: this connection is still served.
        client.write_all(b"pong\n").unwrap();
        assert_eq!(read_line(&mut client), "pong\n");
        // ...and new ones are no longer accepted, once the listener is closed.
        let refused = (0..500).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            TcpStream::connect(addr).is_err()
        });
        assert!(refused, "the listener still accepts after SIGTERM");
    });
    let start = std::time::Instant::now();
    m.run().unwrap();
    client.join().unwrap();
    assert!(start.elapsed() < handler_echo::GRACE, "run waited for the whole grace period");
    println!("handler_echo drain: ok");
}
