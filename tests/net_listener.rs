//! The listener on real sockets: bounded accept batches, `TCP_NODELAY`, the factory, and
//! serving over IPv4, IPv6 (skipped when `::1` is not configured) and Unix sockets.

#[path = "support/net.rs"]
mod net;

use ioman::Manager;
use ioman::net::{BindOptions, ConnConfig, Endpoint, ListenConfig, Listener, Net, NetError};
use net::*;
use std::io::Write;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;

type M = Manager<Net<Log>>;

fn manager() -> M {
    Manager::with_state(Net::new(Log::default())).expect("manager")
}

fn tcp_addr(fd: &rustix::fd::OwnedFd) -> std::net::SocketAddr {
    match ioman::net::local_endpoint(fd).expect("local address") {
        Endpoint::Tcp(addr) => addr,
        other => panic!("not TCP: {other}"),
    }
}

#[test]
fn accepts_in_bounded_batches() {
    let mut m = manager();
    let socket =
        ioman::net::listen(&"127.0.0.1:0".parse().unwrap(), BindOptions::default()).unwrap();
    let addr = tcp_addr(&socket);
    let listener = Listener::serve(ConnConfig::default(), Script::echo);
    listener.config(ListenConfig::default().batch(3)).register(&mut m, socket).unwrap();
    // Connections complete in the kernel's backlog before the loop accepts them.
    let clients: Vec<TcpStream> = (0..10).map(|_| connect(addr)).collect();
    m.turn(Some(WAIT)).unwrap();
    assert_eq!(m.state().stats().accepted, 3, "one event accepted more than the batch");
    turn_until(&mut m, 50, |m| m.state().stats().accepted == 10);
    let stats = m.state().stats();
    assert_eq!(m.state().connections(), 10);
    assert!(
        stats.accept_calls <= 10 + 4 + 2,
        "{} accept calls for 10 connections",
        stats.accept_calls
    );
    drop(clients);
}

#[test]
fn accepted_sockets_get_nodelay_and_the_factory_owns_them() {
    let mut m = manager();
    let socket =
        ioman::net::listen(&"127.0.0.1:0".parse().unwrap(), BindOptions::default()).unwrap();
    let addr = tcp_addr(&socket);
    Listener::new(|socket, cx: &mut ioman::Context<'_, Net<Log>>| {
        let nodelay = rustix::net::sockopt::tcp_nodelay(&socket).unwrap();
        let key = cx.key();
        cx.state().app_mut().events.push((key, format!("nodelay:{nodelay}")));
        drop(socket); // the factory may refuse a connection by dropping it
    })
    .register(&mut m, socket)
    .unwrap();
    let mut client = connect(addr);
    turn_until(&mut m, 50, |m| m.state().stats().accepted == 1);
    assert_eq!(m.state().app().count("nodelay:true"), 1);
    assert_eof(&mut client);
}

/// Serves echo on `endpoint` from a manager on this thread and checks one exchange.
fn echo_once(endpoint: &Endpoint) {
    let mut m = manager();
    let socket = ioman::net::listen(endpoint, BindOptions::default()).unwrap();
    let local = ioman::net::local_endpoint(&socket).unwrap();
    Listener::serve(ConnConfig::default(), Script::echo).register(&mut m, socket).unwrap();
    let mut client: Box<dyn ReadWrite> = match &local {
        Endpoint::Tcp(addr) => Box::new(connect(*addr)),
        Endpoint::Unix(path) => {
            let s = UnixStream::connect(path).unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            Box::new(s)
        }
        Endpoint::Host { .. } => unreachable!("getsockname never names a host"),
    };
    client.write_all(b"over the wire").unwrap();
    turn_until(&mut m, 50, |m| m.state().stats().bytes_written == 13);
    assert_eq!(read_n(&mut client, 13), b"over the wire");
}

trait ReadWrite: std::io::Read + std::io::Write {}
impl<T: std::io::Read + std::io::Write> ReadWrite for T {}

#[test]
fn serves_ipv4() {
    echo_once(&"127.0.0.1:0".parse().unwrap());
}

#[test]
fn serves_ipv6_when_available() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: ::1 is not configured on this host");
        return;
    }
    echo_once(&"[::1]:0".parse().unwrap());
}

#[test]
fn serves_unix_sockets() {
    let dir = std::env::temp_dir().join(format!("ioman-net-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    echo_once(&Endpoint::Unix(path.clone()));
    // The server is gone but its socket file is left: a new server takes the path over.
    assert!(path.exists());
    echo_once(&Endpoint::Unix(path.clone()));
    // While something listens there, the path is not taken from it.
    let live = ioman::net::listen(&Endpoint::Unix(path.clone()), BindOptions::default()).unwrap();
    assert!(ioman::net::listen(&Endpoint::Unix(path.clone()), BindOptions::default()).is_err());
    drop(live);
    // And a file that is not a socket is never removed.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, "not a socket").unwrap();
    assert!(ioman::net::listen(&Endpoint::Unix(path.clone()), BindOptions::default()).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn bad_addresses_are_errors() {
    for bad in ["", "nonsense", "unix:", "127.0.0.1:99999", "[::1:80", "::1:80", "a b:1", ":80"] {
        assert!(bad.parse::<Endpoint>().is_err(), "{bad:?} parsed");
    }
    let long = format!("unix:/{}", "x".repeat(200));
    let endpoint: Endpoint = long.parse().unwrap();
    assert!(ioman::net::listen(&endpoint, BindOptions::default()).is_err());
}

// Parsing a name never asks the resolver (a name that cannot resolve still parses); the
// startup calls resolve it, and `connect`, which runs on the loop, refuses it.
#[test]
fn names_are_resolved_where_they_are_used() {
    let unresolvable: Endpoint = "no-such-host.invalid:80".parse().unwrap();
    assert_eq!(unresolvable, Endpoint::Host { host: "no-such-host.invalid".into(), port: 80 });
    assert_eq!(unresolvable.to_string(), "no-such-host.invalid:80");
    assert!(matches!(ioman::net::connect(&unresolvable), Err(NetError::BadAddress { .. })));
    let local: Endpoint = "localhost:0".parse().unwrap();
    let addrs = local.resolve_now().unwrap();
    assert!(addrs.iter().all(|e| matches!(e, Endpoint::Tcp(a) if a.ip().is_loopback())));
    let socket = ioman::net::listen(&local, BindOptions::default()).unwrap();
    assert!(
        matches!(ioman::net::local_endpoint(&socket).unwrap(), Endpoint::Tcp(a) if a.ip().is_loopback())
    );
}

#[test]
fn the_factory_can_get_the_peer_address_from_accept() {
    let mut m = manager();
    let socket =
        ioman::net::listen(&"127.0.0.1:0".parse().unwrap(), BindOptions::default()).unwrap();
    let addr = tcp_addr(&socket);
    Listener::with_peer(|socket, peer, cx: &mut ioman::Context<'_, Net<Log>>| {
        let key = cx.key();
        cx.state().app_mut().events.push((key, format!("peer:{peer}")));
        drop(socket);
    })
    .register(&mut m, socket)
    .unwrap();
    let client = connect(addr);
    turn_until(&mut m, 50, |m| m.state().stats().accepted == 1);
    let expected = format!("peer:{}", client.local_addr().unwrap());
    assert_eq!(m.state().app().count(&expected), 1, "{:?}", m.state().app().events);
}
