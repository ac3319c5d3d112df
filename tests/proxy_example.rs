//! The `proxy` example, served in-process in front of an in-test upstream: bytes both ways,
//! a 4 MiB round trip with backpressure, half-close forwarded in each direction, and a refused
//! upstream closing the client. With `--to-tls` (certificates made at test time): the same
//! round trips to a TLS echo upstream, and an upstream whose certificate is not for the
//! expected name, or not trusted, closing the client without receiving anything.

#[path = "support/net.rs"]
mod net;

#[path = "support/tls.rs"]
mod tls;

#[path = "../examples/proxy/server.rs"]
mod proxy;

use ioman::Manager;
use ioman::net::{ConnConfig, Endpoint, Listener, Net};
use net::*;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};

fn proxy_to(to: SocketAddr) -> (SocketAddr, ioman::net::Loops) {
    proxy_with(move || proxy::Upstream::plain(Endpoint::Tcp(to)))
}

/// The proxy with `--to-tls`: TLS to `to`, trusting `ca`, expecting a certificate for `sni`.
fn proxy_tls_to(to: SocketAddr, ca: &tls::Certs, sni: &str) -> (SocketAddr, ioman::net::Loops) {
    let config = tls::client_config(ca, &[]);
    let name = ioman::net::tls::server_name(sni).expect("server name");
    proxy_with(move || proxy::Upstream::tls(Endpoint::Tcp(to), config.clone(), name.clone()))
}

fn proxy_with(
    upstream: impl Fn() -> proxy::Upstream + Send + Sync + 'static,
) -> (SocketAddr, ioman::net::Loops) {
    spawn_server(move |socket| {
        let mut manager = Manager::with_state(Net::new(upstream()))?;
        proxy::build(&mut manager, socket, proxy::config())?;
        Ok(manager)
    })
}

/// An echo server over TLS with `certs` (what `echo --tls-cert --tls-key` serves).
fn tls_echo_upstream(certs: &tls::Certs) -> (SocketAddr, ioman::net::Loops) {
    let config = tls::server_config(certs, &[]);
    spawn_server(move |socket| {
        let mut manager: Manager<Net<Log>> = Manager::with_state(Net::new(Log::default()))?;
        Listener::serve_tls(ConnConfig::default(), config.clone(), Script::echo)
            .register(&mut manager, socket)?;
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
fn forwards_to_a_tls_upstream_and_back() {
    let certs = tls::certs(&["localhost"]);
    let (echo_addr, echo) = tls_echo_upstream(&certs);
    let (addr, proxy) = proxy_tls_to(echo_addr, &certs, "localhost");
    // A line, then 4 MiB with backpressure, then the half-close: the proxy's TLS side sends
    // close_notify, the upstream closes, and its end comes back as the client's end of stream.
    let mut client = connect(addr);
    send(&mut client, b"through the proxy, over TLS\n");
    assert_eq!(read_line(&mut client), "through the proxy, over TLS\n");
    let data = pattern(4 * 1024 * 1024, 6);
    let mut writer = client.try_clone().unwrap();
    let outgoing = data.clone();
    let thread = std::thread::spawn(move || {
        writer.write_all(&outgoing).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let got = read_to_end(&mut client);
    thread.join().unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "bytes differ");
    // Many pairs at once, each its own TLS session.
    let mut clients: Vec<_> = (0..10).map(|_| connect(addr)).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        send(client, format!("pair {i}\n").as_bytes());
    }
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(read_line(client), format!("pair {i}\n"));
    }
    drop(clients);
    stop(proxy);
    stop(echo);
}

/// A client that sends more than the proxy's high watermark (64 KiB) before the upstream
/// handshake finished, as `nc -N 127.0.0.1 7002 < file` does: the bytes wait in the TLS
/// side's outbox, above its high watermark, and the handshake must still complete.
/// (A TLS connection reads its handshake whatever its protocol's state; before that was so,
/// this pair ended with `HandshakeTimeout`.)
#[test]
fn a_flood_before_the_upstream_handshake_finished_still_arrives() {
    let certs = tls::certs(&["localhost"]);
    let (echo_addr, echo) = tls_echo_upstream(&certs);
    let name = ioman::net::tls::server_name("localhost").unwrap();
    let upstream =
        proxy::Upstream::tls(Endpoint::Tcp(echo_addr), tls::client_config(&certs, &[]), name);
    // The proxy on this thread, so that the client's bytes are all there before it accepts.
    let mut m = Manager::with_state(Net::new(upstream)).unwrap();
    let socket = ioman::net::listen(&"127.0.0.1:0".parse().unwrap(), Default::default()).unwrap();
    let Endpoint::Tcp(addr) = ioman::net::local_endpoint(&socket).unwrap() else { panic!() };
    proxy::build(&mut m, socket, proxy::config()).unwrap();
    let mut client = connect(addr);
    client.set_nonblocking(true).unwrap();
    let data = pattern(1024 * 1024, 8);
    let (mut sent, mut got) = (0, Vec::new());
    let mut buf = vec![0u8; 64 * 1024];
    let mut step = |sent: &mut usize, got: &mut Vec<u8>| {
        if *sent < data.len() {
            match client.write(&data[*sent..]) {
                Ok(n) => *sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("client write: {e}"),
            }
        }
        match client.read(&mut buf) {
            Ok(0) => panic!("the proxy closed after {} bytes", got.len()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("client read: {e}"),
        }
    };
    for _ in 0..10 {
        step(&mut sent, &mut got);
    }
    assert!(sent > 128 * 1024, "only {sent} bytes before the proxy accepted");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while got.len() < data.len() && std::time::Instant::now() < deadline {
        step(&mut sent, &mut got);
        m.turn(Some(std::time::Duration::from_millis(1))).unwrap();
    }
    assert_eq!(got.len(), data.len(), "stalled with {sent} bytes sent");
    assert!(got == data, "bytes differ");
    stop(echo);
}

#[test]
fn a_tls_upstream_with_the_wrong_certificate_closes_the_client() {
    let certs = tls::certs(&["localhost"]);
    let stranger = tls::certs(&["localhost"]);
    let (echo_addr, echo) = tls_echo_upstream(&certs);
    // A certificate for another name, and one signed by a CA the proxy does not trust.
    for (ca, sni) in [(&certs, "elsewhere.test"), (&stranger, "localhost")] {
        let (addr, proxy) = proxy_tls_to(echo_addr, ca, sni);
        let mut client = connect(addr);
        send(&mut client, b"must not arrive\n");
        assert_eof(&mut client);
        stop(proxy);
    }
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
    let state = Net::new(proxy::Upstream::plain(Endpoint::Tcp(upstream.local_addr().unwrap())));
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
