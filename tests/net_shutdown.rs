//! Graceful shutdown: listeners close at once, idle connections close after flushing, a
//! connection still busy is closed at the drain deadline, and `run` returns. In-process with
//! a `ManualClock`, then for real: a child process (this test binary, re-executed) serving
//! echo gets SIGTERM.

#[path = "support/net.rs"]
mod net;

use ioman::net::{ConnConfig, Connection, Listener, Net, Outbox, ProtoContext, Protocol};
use ioman::{Config, Manager, ManualClock};
use net::*;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

/// Ignores the shutdown request: keeps the connection until the deadline.
struct Stubborn;

impl Protocol<Log> for Stubborn {
    fn on_data(&mut self, i: &[u8], _: &mut Outbox, _: &mut ProtoContext<'_, Log>) -> usize {
        i.len()
    }
    fn on_shutdown(&mut self, _: &mut Outbox, cx: &mut ProtoContext<'_, Log>) {
        let key = cx.key();
        cx.state().events.push((key, "stubborn".into()));
    }
}

#[test]
fn drain_closes_listeners_then_idle_connections_then_the_rest_at_the_deadline() {
    let clock = ManualClock::new();
    let config = Config::default().clock(clock.clone());
    let mut m: Manager<Net<Log>> = Manager::with_config(Net::new(Log::default()), config).unwrap();
    let socket = ioman::net::listen(&"127.0.0.1:0".parse().unwrap(), Default::default()).unwrap();
    let ioman::net::Endpoint::Tcp(addr) = ioman::net::local_endpoint(&socket).unwrap() else {
        panic!("not TCP")
    };
    let listener =
        Listener::serve(ConnConfig::default(), Script::echo).register(&mut m, socket).unwrap();
    let mut idle = connect(addr);
    turn_until(&mut m, 50, |m| m.state().connections() == 1);
    let (busy, mut busy_client) = unix_pair();
    Connection::new(Stubborn, ConnConfig::default()).register_with(&mut m, busy).unwrap();
    let _remote = m.remote(); // so that `run` returns only because it was stopped

    ioman::net::shutdown::begin(&mut m, Duration::from_secs(5));
    assert!(m.state().listeners().is_empty());
    // Its registration (and so its socket) is gone. (Connecting to `addr` would prove nothing:
    // a test running beside this one may be handed the freed port.)
    assert!(!m.contains(listener), "still accepting");
    m.turn(Some(Duration::ZERO)).unwrap();
    assert_eof(&mut idle);
    assert_eq!(m.state().app().count("shutdown"), 1);
    assert_eq!(m.state().app().count("stubborn"), 1);
    assert_eq!(m.state().connections(), 1, "the busy connection may finish its work");

    clock.advance(Duration::from_secs(5));
    m.turn(Some(Duration::ZERO)).unwrap();
    assert_eq!(m.state().connections(), 0);
    assert_eof(&mut busy_client);
    m.run().unwrap(); // returns at once: the deadline stopped the manager
    assert!(m.is_empty(), "{} registrations left", m.len());
}

#[test]
fn drain_with_nothing_open_stops_at_once() {
    let mut m: Manager<Net<Log>> = Manager::with_state(Net::new(Log::default())).unwrap();
    let _remote = m.remote();
    let socket = ioman::net::listen(&"127.0.0.1:0".parse().unwrap(), Default::default()).unwrap();
    Listener::serve(ConnConfig::default(), Script::echo).register(&mut m, socket).unwrap();
    ioman::net::shutdown::begin(&mut m, Duration::from_secs(60));
    m.run().unwrap();
    assert!(m.is_empty());
}

const CHILD: &str = "IOMAN_NET_SIGTERM_CHILD";
const NAME: &str = "sigterm_drains_and_exits_cleanly";

#[test]
fn sigterm_drains_and_exits_cleanly() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let mut child =
        rerun_as_child(NAME, CHILD).stdout(Stdio::piped()).spawn().expect("running the child");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = lines.next().expect("child output").expect("a line");
        // libtest prints "test NAME ... " on the same line, before the child's own output.
        if let Some((_, addr)) = line.split_once("sigterm child: listening on ") {
            break addr.trim().parse().expect("address");
        }
    };
    let mut client = connect(addr);
    client.write_all(b"ping").unwrap();
    assert_eq!(read_n(&mut client, 4), b"ping");
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert_eof(&mut client); // drained: closed after flushing
    // Safety net only: a child that does not exit within WAIT has failed the test.
    let mut status = None;
    for _ in 0..1000 {
        status = child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(WAIT / 1000);
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("the child did not exit after SIGTERM");
    };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(status.success(), "child exited with {status}: {rest:?}");
    assert!(rest.iter().any(|l| l.contains("sigterm child: drained")), "{rest:?}");
}

fn child() {
    let mut m: Manager<Net<Log>> = Manager::with_state(Net::new(Log::default())).unwrap();
    let socket = ioman::net::listen(&"127.0.0.1:0".parse().unwrap(), Default::default()).unwrap();
    println!("sigterm child: listening on {}", ioman::net::local_endpoint(&socket).unwrap());
    Listener::serve(ConnConfig::default(), Script::echo).register(&mut m, socket).unwrap();
    ioman::net::shutdown::on_signals(&mut m, Duration::from_secs(5)).unwrap();
    m.run().unwrap();
    assert_eq!(m.state().connections(), 0);
    println!("sigterm child: drained");
}
