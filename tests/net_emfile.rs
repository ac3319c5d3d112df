//! Running out of file descriptors must not make the accept loop spin. The test re-executes
//! this test binary as a child (`--exact`, with an env var), so the lowered `RLIMIT_NOFILE`
//! affects only the child. Time is a `ManualClock`: the backoff passes when the test says so.

#[path = "support/net.rs"]
mod net;

use ioman::net::{ConnConfig, ListenConfig, Listener, Net};
use ioman::{Config, Manager, ManualClock};
use net::*;
use rustix::process::{Resource, getrlimit};
use std::cell::RefCell;
use std::io::Write;
use std::net::TcpStream;
use std::rc::Rc;
use std::time::Duration;

const CHILD: &str = "IOMAN_NET_EMFILE_CHILD";
const NAME: &str = "out_of_fds_pauses_sheds_pending_connections_and_recovers";

#[test]
fn out_of_fds_pauses_sheds_pending_connections_and_recovers() {
    if in_child(NAME, CHILD, "emfile child: ok") {
        child();
    }
}

fn child() {
    let clock = ManualClock::new();
    let config = Config::default().clock(clock.clone());
    let mut m: Manager<Net<Log>> = Manager::with_config(Net::new(Log::default()), config).unwrap();
    let socket = ioman::net::listen(&"127.0.0.1:0".parse().unwrap(), Default::default()).unwrap();
    let ioman::net::Endpoint::Tcp(addr) = ioman::net::local_endpoint(&socket).unwrap() else {
        panic!("not TCP")
    };
    let reports = Rc::new(RefCell::new(Vec::new()));
    let sink = reports.clone();
    let backoff = Duration::from_millis(100);
    Listener::serve(ConnConfig::default(), Script::echo)
        .config(ListenConfig::default().backoff(backoff))
        .on_report(move |r| sink.borrow_mut().push(format!("{r:?}")))
        .register(&mut m, socket)
        .unwrap();
    // Ten clients wait in the backlog; then the process may not open a single fd more.
    let mut pending: Vec<TcpStream> = (0..10).map(|_| connect(addr)).collect();
    let original = getrlimit(Resource::Nofile).current.expect("a finite fd limit");
    set_fd_limit(highest_fd() + 1);
    let hogs = exhaust_fds();

    m.turn(Some(Duration::ZERO)).unwrap();
    let stats = m.state().stats();
    assert_eq!(stats.fd_exhausted, 1, "{stats:?}");
    assert_eq!(stats.accepted, 0, "{stats:?}");
    assert_eq!(stats.shed, 10, "the reserve fd should shed every pending connection: {stats:?}");
    assert!(reports.borrow()[0].starts_with("Exhausted"), "{:?}", reports.borrow());

    // Paused: however many turns pass before the backoff, no accept is attempted.
    let calls = stats.accept_calls;
    for _ in 0..50 {
        m.turn(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(m.state().stats().accept_calls, calls, "the listener kept accepting while paused");

    // The shed clients were closed, not left hanging.
    for client in &mut pending {
        assert_eof(client);
    }
    drop(pending);

    // Descriptors free up; after the backoff the listener accepts again and serves.
    drop(hogs);
    set_fd_limit(original);
    let mut client = connect(addr);
    clock.advance(backoff);
    m.turn(Some(Duration::ZERO)).unwrap();
    assert!(reports.borrow().iter().any(|r| r == "Resumed"), "{:?}", reports.borrow());
    client.write_all(b"ping").unwrap();
    for _ in 0..100 {
        if m.state().stats().bytes_written == 4 {
            break;
        }
        m.turn(Some(Duration::from_millis(100))).unwrap();
    }
    assert_eq!(read_n(&mut client, 4), b"ping");
    assert_eq!(m.state().stats().accepted, 1);
    println!("emfile child: ok");
}
