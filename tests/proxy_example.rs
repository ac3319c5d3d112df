//! The `proxy` example, served in-process in front of an in-test upstream: bytes both ways,
//! a 4 MiB round trip with backpressure, half-close forwarded in each direction, and a refused
//! upstream closing the client.

#[path = "support/net.rs"]
mod net;

#[path = "../examples/proxy/server.rs"]
mod proxy;

use ioman::Manager;
use ioman::net::{ConnConfig, Endpoint, Listener, Net};
use net::*;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};

fn proxy_to(to: SocketAddr) -> (SocketAddr, ioman::net::Loops) {
    spawn_server(move |socket| {
        let mut manager = Manager::with_state(Net::new(proxy::Upstream { to: Endpoint::Tcp(to) }))?;
        proxy::build(&mut manager, socket, proxy::config())?;
        Ok(manager)
    })
}

fn echo_upstream() -> (SocketAddr, ioman::net::Loops) {
    spawn_server(|socket| {
        let mut manager: Manager<Net<Log>> = Manager::with_state(Net::new(Log::default()))?;
        Listener::serve(ConnConfig::default(), Script::echo).register(&mut manager, socket)?;
        Ok(manager)
    })
}

#[test]
fn forwards_both_ways_to_an_echo_server() {
    let (echo_addr, echo) = echo_upstream();
    let (addr, proxy) = proxy_to(echo_addr);
    let mut client = connect(addr);
    send(&mut client, b"through the proxy\n");
    assert_eq!(read_line(&mut client), "through the proxy\n");
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut client), b"");
    stop(proxy);
    stop(echo);
}

#[test]
fn four_mebibytes_round_trip_with_backpressure() {
    let (echo_addr, echo) = echo_upstream();
    let (addr, proxy) = proxy_to(echo_addr);
    let mut client = connect(addr);
    let data = pattern(4 * 1024 * 1024, 5);
    let mut writer = client.try_clone().unwrap();
    let outgoing = data.clone();
    let thread = std::thread::spawn(move || {
        writer.write_all(&outgoing).unwrap();
        writer.shutdown(Shutdown::Write).unwrap(); // forwarded: the echo server then closes
    });
    let got = read_to_end(&mut client);
    thread.join().unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "bytes differ");
    stop(proxy);
    stop(echo);
}

#[test]
fn half_close_is_forwarded_in_each_direction() {
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let (addr, proxy) = proxy_to(upstream.local_addr().unwrap());
    let mut client = connect(addr);
    let (mut server, _) = upstream.accept().unwrap();
    server.set_read_timeout(Some(WAIT)).unwrap();
    send(&mut client, b"request");
    client.shutdown(Shutdown::Write).unwrap();
    // The upstream reads the request, then end of stream: the client's FIN came through.
    assert_eq!(read_to_end(&mut server), b"request");
    // It can still answer; the client gets the answer, then the upstream's FIN.
    server.write_all(b"answer after your FIN").unwrap();
    server.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut client), b"answer after your FIN");
    let mut rest = Vec::new();
    assert_eq!(server.read_to_end(&mut rest).unwrap(), 0);
    stop(proxy);
}

#[test]
fn a_refused_upstream_closes_the_client() {
    let (_held, gone) = refused_addr();
    let (addr, proxy) = proxy_to(gone);
    let mut client = connect(addr);
    assert_eof(&mut client);
    stop(proxy);
}

/// A client floods and leaves while the upstream never reads: the client's side stops
/// reading (its partner is backed up) but still sees the end of stream, and the pair is gone
/// one send timeout after the upstream last took anything — not after the 5-minute idle
/// timeout, which the flood kept resetting on the client's side anyway.
#[test]
fn a_pair_whose_upstream_stopped_reading_ends_at_the_send_timeout() {
    let clock = ioman::ManualClock::new();
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let state = Net::new(proxy::Upstream { to: Endpoint::Tcp(upstream.local_addr().unwrap()) });
    let config = ioman::Config::default().clock(clock.clone());
    let mut m = Manager::with_config(state, config).unwrap();
    let socket = ioman::net::listen(&"127.0.0.1:0".parse().unwrap(), Default::default()).unwrap();
    let Endpoint::Tcp(addr) = ioman::net::local_endpoint(&socket).unwrap() else { panic!() };
    proxy::build(&mut m, socket, proxy::config()).unwrap();
    let mut client = connect(addr);
    turn_until(&mut m, 50, |m| m.state().connections() == 2);
    let (_stalled, _) = upstream.accept().unwrap(); // accepted, never read
    client.set_nonblocking(true).unwrap();
    let flood = pattern(16 << 20, 1);
    let mut sent = 0;
    let mut quiet = 0;
    while quiet < 20 {
        let before = sent;
        match client.write(&flood[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("client write: {e}"),
        }
        m.turn(Some(std::time::Duration::ZERO)).unwrap();
        quiet = if sent == before { quiet + 1 } else { 0 };
    }
    assert!(sent < flood.len(), "every buffer on the way should have filled");
    drop(client); // the client leaves
    for _ in 0..5 {
        m.turn(Some(std::time::Duration::ZERO)).unwrap();
    }
    assert_eq!(m.state().connections(), 2, "closed before the send timeout");
    clock.advance(proxy::SEND_TIMEOUT);
    turn_until(&mut m, 10, |m| m.state().connections() == 0);
    assert_eq!(m.state().stats().send_timeouts, 1);
}
