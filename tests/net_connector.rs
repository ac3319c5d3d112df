//! `Connector` on real TCP with a manual clock: a greeting once connected, fallback to the
//! next address within a round, retries with growing delays and a give-up, the connect
//! timeout against a listener that drops SYNs, and a persistent link that reconnects after
//! the server went away and came back.

#[path = "support/net.rs"]
mod net;

use ioman::net::{
    BindOptions, ConnConfig, ConnectReport, Connector, Endpoint, Net, Outbox, ProtoContext,
    Protocol, Retry,
};
use ioman::{Config, Manager, ManualClock, WorkPool};
use net::{Log, WAIT, read_line, refused_addr};
use std::cell::RefCell;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// Sends `hello` once connected; logs what it receives and how it ended.
struct Hello;

impl Protocol<Log> for Hello {
    fn on_connected(&mut self, out: &mut Outbox, _: &mut ProtoContext<'_, Log>) {
        out.extend_from_slice(b"hello\n");
    }
    fn on_data(&mut self, input: &[u8], _: &mut Outbox, cx: &mut ProtoContext<'_, Log>) -> usize {
        cx.state().input.extend_from_slice(input);
        input.len()
    }
}

type Reports = Rc<RefCell<Vec<String>>>;

/// A connector of `Hello`s.
type HelloConnector = Connector<Hello, fn() -> Hello>;

fn manual() -> (Manager<Net<Log>>, ManualClock) {
    let clock = ManualClock::new();
    let config = Config::default().clock(clock.clone());
    (Manager::with_config(Net::new(Log::default()), config).unwrap(), clock)
}

/// A connector to `targets` whose reports are collected as short strings.
fn connector(
    targets: Vec<SocketAddr>,
    retry: Retry,
    config: ConnConfig,
) -> (HelloConnector, Reports) {
    connector_to(targets.into_iter().map(Endpoint::Tcp).collect(), retry, config)
}

/// A connector to `targets` (addresses or names) whose reports are collected as short strings.
fn connector_to(
    targets: Vec<Endpoint>,
    retry: Retry,
    config: ConnConfig,
) -> (HelloConnector, Reports) {
    let reports: Reports = Rc::default();
    let sink = reports.clone();
    let c = Connector::new(targets, config, (|| Hello) as fn() -> Hello).retry(retry).on_report(
        move |r| {
            let line = match r {
                ConnectReport::Attempt { to } => format!("attempt {to}"),
                ConnectReport::Connected { to, .. } => format!("connected {to}"),
                ConnectReport::Failed { error, .. } => format!("failed {:?}", error.kind()),
                ConnectReport::Lost { .. } => "lost".into(),
                ConnectReport::Resolving { to } => format!("resolving {to}"),
                ConnectReport::Retrying { after } => format!("retry {}", after.as_millis()),
                ConnectReport::GaveUp => "gave up".into(),
                _ => "other".into(),
            };
            sink.borrow_mut().push(line);
        },
    );
    (c, reports)
}

/// Turns (without advancing the clock) until `reports` has `n` entries.
#[track_caller]
fn turns_until(m: &mut Manager<Net<Log>>, reports: &Reports, n: usize) {
    for _ in 0..200 {
        if reports.borrow().len() >= n {
            return;
        }
        m.turn(Some(Duration::from_millis(20))).unwrap();
    }
    panic!("only {:?}", reports.borrow());
}

#[test]
fn connects_greets_and_falls_back_to_the_next_address() {
    let (_closed, refused) = refused_addr();
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let good = server.local_addr().unwrap();
    let (mut m, _clock) = manual();
    let (c, reports) = connector(vec![refused, good], Retry::once(), ConnConfig::default());
    c.start(&mut m).unwrap();
    turns_until(&mut m, &reports, 4);
    let (mut peer, _) = server.accept().unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(read_line(&mut peer), "hello\n");
    peer.write_all(b"welcome\n").unwrap();
    for _ in 0..100 {
        if m.state().app().input == b"welcome\n" {
            break;
        }
        m.turn(Some(Duration::from_millis(20))).unwrap();
    }
    assert_eq!(m.state().app().input, b"welcome\n");
    let want = [
        format!("attempt {refused}"),
        "failed ConnectionRefused".into(),
        format!("attempt {good}"),
        format!("connected {good}"),
    ];
    assert_eq!(*reports.borrow(), want, "the second address in the same round, no delay");
}

#[test]
fn retries_with_growing_delays_then_gives_up() {
    let (_closed, refused) = refused_addr();
    let (mut m, clock) = manual();
    let retry = Retry::backoff(Duration::from_secs(1), Duration::from_secs(8)).rounds(3);
    let (c, reports) = connector(vec![refused], retry, ConnConfig::default());
    let key = c.start(&mut m).unwrap();
    turns_until(&mut m, &reports, 3);
    for round in 1..=2u64 {
        let last = reports.borrow().last().unwrap().clone();
        let delay: u64 = last.strip_prefix("retry ").expect("a retry").parse().unwrap();
        let base = 1000 << (round - 1);
        assert!(
            (base / 2..=base).contains(&delay),
            "round {round}: {delay} ms (jitter in [b/2, b])"
        );
        clock.advance(Duration::from_millis(delay - 1));
        m.turn(Some(Duration::ZERO)).unwrap();
        assert!(reports.borrow().last().unwrap().starts_with("retry"), "not before the delay");
        clock.advance(Duration::from_millis(1));
        turns_until(&mut m, &reports, 3 + 3 * round as usize);
    }
    assert_eq!(reports.borrow().last().map(String::as_str), Some("gave up"));
    assert_eq!(reports.borrow().iter().filter(|r| r.starts_with("attempt")).count(), 3);
    assert!(!m.contains(key), "the connector closed itself");
}

#[test]
fn the_connect_timeout_ends_an_attempt_that_never_completes() {
    // A listener whose accept queue is full: the kernel drops further SYNs.
    let socket =
        ioman::net::listen(&"127.0.0.1:0".parse().unwrap(), BindOptions::default().backlog(1))
            .unwrap();
    let Endpoint::Tcp(addr) = ioman::net::local_endpoint(&socket).unwrap() else { panic!() };
    let mut fillers = Vec::new();
    for _ in 0..8 {
        fillers.push(ioman::net::connect(&Endpoint::Tcp(addr)).unwrap());
    }
    // On loopback the kernel answers a SYN inside `connect` itself: the queue is full now.
    let (mut m, clock) = manual();
    let config = ConnConfig::default().connect_timeout(Duration::from_secs(3));
    let (c, reports) = connector(vec![addr], Retry::once(), config);
    c.start(&mut m).unwrap();
    turns_until(&mut m, &reports, 1);
    for _ in 0..5 {
        m.turn(Some(Duration::from_millis(20))).unwrap();
    }
    assert_eq!(reports.borrow().len(), 1, "still connecting: {:?}", reports.borrow());
    clock.advance(Duration::from_secs(3));
    turns_until(&mut m, &reports, 3);
    assert_eq!(reports.borrow()[1..], ["failed TimedOut".to_string(), "gave up".into()]);
    drop((socket, fillers));
}

#[test]
fn a_persistent_link_reconnects_after_the_server_comes_back() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let (mut m, clock) = manual();
    let retry = Retry::backoff(Duration::from_secs(1), Duration::from_secs(4)).reconnect(true);
    let (c, reports) = connector(vec![addr], retry, ConnConfig::default());
    let key = c.start(&mut m).unwrap();
    turns_until(&mut m, &reports, 2);
    let (peer, _) = server.accept().unwrap();
    // The server goes away: its connection and its listener.
    drop((peer, server));
    turns_until(&mut m, &reports, 4);
    assert_eq!(reports.borrow()[2], "lost");
    // Reconnecting fails while it is gone...
    clock.advance(Duration::from_secs(1));
    turns_until(&mut m, &reports, 7);
    assert_eq!(reports.borrow()[5], "failed ConnectionRefused");
    // ...and succeeds once it is back on the same port.
    let server = TcpListener::bind(addr).unwrap();
    clock.advance(Duration::from_secs(2));
    turns_until(&mut m, &reports, 9);
    assert_eq!(reports.borrow()[8], format!("connected {addr}"));
    let (mut peer, _) = server.accept().unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(read_line(&mut peer), "hello\n", "greeted again");
    assert!(m.contains(key), "the connector keeps the link");
}

#[test]
fn a_name_without_a_resolver_is_refused_at_start() {
    let (mut m, _clock) = manual();
    let name: Endpoint = "localhost:1".parse().unwrap();
    let (c, _) = connector_to(vec![name], Retry::once(), ConnConfig::default());
    assert!(matches!(c.start(&mut m), Err(ioman::net::NetError::BadAddress { .. })));
}

/// Turns until the connector reports a connection (or `attempts` have all failed).
#[track_caller]
fn turns_until_connected(m: &mut Manager<Net<Log>>, reports: &Reports) {
    for _ in 0..500 {
        if reports.borrow().iter().any(|r| r.starts_with("connected")) {
            return;
        }
        m.turn(Some(Duration::from_millis(20))).unwrap();
    }
    panic!("never connected: {:?}", reports.borrow());
}

// `localhost` is looked up on the pool's thread and its addresses tried in turn (`::1` may
// come first and be refused: nothing listens there), until 127.0.0.1 answers.
#[test]
fn names_are_resolved_on_the_pool_and_their_addresses_tried() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let (mut m, _clock) = manual();
    let pool = Arc::new(WorkPool::new(1, 8).unwrap());
    let name: Endpoint = format!("localhost:{port}").parse().unwrap();
    let (c, reports) = connector_to(vec![name], Retry::once(), ConnConfig::default());
    c.resolve_with(pool).start(&mut m).unwrap();
    turns_until_connected(&mut m, &reports);
    let reports = reports.borrow();
    assert_eq!(reports[0], format!("resolving localhost:{port}"));
    assert_eq!(reports.last().unwrap(), &format!("connected 127.0.0.1:{port}"));
    let (mut peer, _) = server.accept().unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(read_line(&mut peer), "hello\n");
}

/// Counts its timeouts.
struct Ticks;
impl ioman::Handler<Net<Log>> for Ticks {
    fn on_timeout(
        &mut self,
        _: Option<rustix::fd::BorrowedFd<'_>>,
        cx: &mut ioman::Context<'_, Net<Log>>,
    ) {
        cx.state().app_mut().calls.push(0);
    }
}

// The pool's only thread is stuck (a lookup that hangs): the loop keeps turning and its
// timers keep firing while the connector waits; once the thread is free, the name resolves.
#[test]
fn a_hung_resolver_does_not_stall_the_loop() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let (mut m, clock) = manual();
    let pool = Arc::new(WorkPool::new(1, 8).unwrap());
    let (release, stuck) = std::sync::mpsc::channel::<()>();
    pool.submit(&m.remote(), move || stuck.recv().ok(), |_, _| {}).unwrap();
    let name: Endpoint = format!("localhost:{port}").parse().unwrap();
    let (c, reports) = connector_to(vec![name], Retry::once(), ConnConfig::default());
    c.resolve_with(pool).start(&mut m).unwrap();
    let timer = ioman::Timer::every(Duration::from_secs(1));
    m.add_timer(timer, Ticks).unwrap();
    for second in 1..=5 {
        clock.advance(Duration::from_secs(1));
        m.turn(Some(Duration::ZERO)).unwrap();
        assert_eq!(m.state().app().calls.len(), second, "the timer fired on time");
    }
    assert_eq!(*reports.borrow(), [format!("resolving localhost:{port}")], "still waiting");
    release.send(()).unwrap();
    turns_until_connected(&mut m, &reports);
}
