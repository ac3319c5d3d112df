//! TLS under `Connection`, against in-process rustls clients on real TCP: handshake, ALPN,
//! SNI, session resumption, large transfers both ways with small socket buffers, half-close
//! and `close_notify`, the handshake deadline on the manual clock, and every way a handshake
//! goes wrong (garbage, plaintext, a certificate the client rejects) ending in
//! `CloseReason::Tls` — never a panic or a spin. Certificates are made at test time.

#[path = "support/net.rs"]
mod net;

#[path = "support/tls.rs"]
mod tls;

use ioman::net::framing::{Decoder, Lines};
use ioman::net::tls as iotls;
use ioman::net::{ConnConfig, Listener, Net, Outbox, ProtoContext, Protocol};
use ioman::{Config, Manager, ManualClock};
use net::{Log, Script, WAIT, pattern, spawn_server, stop, turn_until};
use rustls::HandshakeKind;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Line commands: `info` (ALPN and SNI as the protocol sees them), `big N` (N bytes back),
/// `bye` (close after flushing); anything else is echoed. At end of stream: `eof`, then a
/// half-close.
struct Probe;

impl Protocol for Probe {
    fn on_data(&mut self, input: &[u8], out: &mut Outbox, cx: &mut ProtoContext<'_>) -> usize {
        let lines = Lines::new(1024);
        let mut used = 0;
        while out.has_room() && !cx.is_closing() {
            let Ok(Some((line, n))) = lines.decode(&input[used..]) else { break };
            used += n;
            if line == b"info" {
                let alpn = cx.alpn_protocol().map(String::from_utf8_lossy).unwrap_or_default();
                let sni = cx.server_name().unwrap_or_default();
                out.extend_from_slice(format!("alpn={alpn} sni={sni}\n").as_bytes());
            } else if let Some(n) = line.strip_prefix(b"big ") {
                let n: usize = std::str::from_utf8(n).unwrap().parse().unwrap();
                out.push_shared(Arc::from(pattern(n, 3)));
            } else if line == b"bye" {
                out.extend_from_slice(b"bye\n");
                cx.close_after_flush();
            } else {
                out.extend_from_slice(line);
                out.extend_from_slice(b"\n");
            }
        }
        used
    }

    fn on_eof(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_>) {
        out.extend_from_slice(b"eof\n");
        cx.shutdown_write();
    }
}

/// Echoes raw bytes while the outbox has room.
struct Echo;

impl<S: 'static> Protocol<S> for Echo {
    fn on_data(&mut self, input: &[u8], out: &mut Outbox, _: &mut ProtoContext<'_, S>) -> usize {
        let n = input.len().min(out.room());
        out.extend_from_slice(&input[..n]);
        n
    }
}

fn serve<P: Protocol + 'static>(
    certs: &tls::Certs,
    alpn: &[&[u8]],
    make: fn() -> P,
) -> (SocketAddr, ioman::net::Loops) {
    let config = iotls::server_config(&certs.cert, &certs.key, alpn).expect("server config");
    spawn_server(move |socket| {
        let mut manager: Manager<Net<()>> = Manager::new()?;
        Listener::serve_tls(ConnConfig::default(), config.clone(), make)
            .register(&mut manager, socket)?;
        Ok(manager)
    })
}

#[track_caller]
fn read_line(stream: &mut impl Read) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.last() != Some(&b'\n') {
        match stream.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => line.push(byte[0]),
            Err(e) => panic!("read: {e} after {:?}", String::from_utf8_lossy(&line)),
        }
    }
    String::from_utf8(line).unwrap()
}

#[test]
fn handshake_alpn_and_sni_reach_the_protocol() {
    let certs = tls::certs(&["localhost", "ioman.test"]);
    let (addr, loops) = serve(&certs, &[b"http/1.1", b"x-ioman"], || Probe);
    let config = tls::client_config(&certs, &[b"x-ioman"]);
    let mut client = tls::client(addr, &config, "ioman.test");
    client.write_all(b"hello\ninfo\n").unwrap();
    assert_eq!(read_line(&mut client), "hello\n");
    assert_eq!(read_line(&mut client), "alpn=x-ioman sni=ioman.test\n");
    assert_eq!(client.conn.alpn_protocol(), Some(&b"x-ioman"[..]));
    stop(loops);
}

#[test]
fn sessions_resume() {
    let certs = tls::certs(&["localhost"]);
    let (addr, loops) = serve(&certs, &[], || Probe);
    let config = tls::client_config(&certs, &[]);
    for round in 0..3 {
        let mut client = tls::client(addr, &config, "localhost");
        client.write_all(b"x\nbye\n").unwrap();
        assert_eq!(read_line(&mut client), "x\n");
        assert_eq!(read_line(&mut client), "bye\n");
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).expect("a clean close: close_notify");
        let kind = client.conn.handshake_kind();
        match round {
            0 => assert_eq!(kind, Some(HandshakeKind::Full)),
            _ => assert_eq!(kind, Some(HandshakeKind::Resumed), "round {round}"),
        }
    }
    stop(loops);
}

#[test]
fn large_transfers_both_ways_through_small_socket_buffers() {
    let certs = tls::certs(&["localhost"]);
    let tls_config = iotls::server_config(&certs.cert, &certs.key, &[]).unwrap();
    let mut m = manual_manager();
    let addr = listen_tls_with(&mut m, tls_config, ConnConfig::default(), || Echo);
    let client = tls::client(addr, &tls::client_config(&certs, &[]), "localhost");
    // Socket buffers far smaller than the transfer (smaller still stalls on delayed ACKs).
    rustix::net::sockopt::set_socket_send_buffer_size(&client.sock, 32 * 1024).unwrap();
    rustix::net::sockopt::set_socket_recv_buffer_size(&client.sock, 32 * 1024).unwrap();
    // Client and server on this thread: non-blocking client steps between loop turns.
    client.sock.set_nonblocking(true).unwrap();
    let (mut conn, mut sock) = (client.conn, client.sock);
    let data = pattern(4 << 20, 9);
    let (mut sent, mut got) = (0, Vec::with_capacity(data.len()));
    let mut buf = vec![0u8; 64 * 1024];
    let mut idle_rounds = 0;
    while got.len() < data.len() {
        assert!(
            idle_rounds < 1000,
            "stuck at {sent} sent, {} back: {:?}",
            got.len(),
            m.state().stats()
        );
        let mut progress = false;
        if sent < data.len() && !conn.wants_write() {
            let n = (data.len() - sent).min(16 * 1024);
            sent += conn.writer().write(&data[sent..sent + n]).unwrap();
        }
        while conn.wants_write() {
            match conn.write_tls(&mut sock) {
                Ok(_) => progress = true,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        match conn.read_tls(&mut sock) {
            Ok(0) => panic!("server closed after {} bytes", got.len()),
            Ok(_) => {
                conn.process_new_packets().expect("tls");
                progress = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("read: {e}"),
        }
        while let Ok(n) = conn.reader().read(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            progress = true;
        }
        progress |= m.turn(Some(Duration::ZERO)).unwrap() > 0 || m.wakes_pending();
        idle_rounds = if progress { 0 } else { idle_rounds + 1 };
        if !progress {
            m.turn(Some(Duration::from_millis(1))).unwrap();
        }
    }
    assert!(got == data, "the echo differs");
}

#[test]
fn half_close_and_close_notify() {
    let certs = tls::certs(&["localhost"]);
    let (addr, loops) = serve(&certs, &[], || Probe);
    let config = tls::client_config(&certs, &[]);
    let mut client = tls::client(addr, &config, "localhost");
    client.write_all(b"one\n").unwrap();
    assert_eq!(read_line(&mut client), "one\n");
    // The client finishes: close_notify, then the TCP half-close.
    client.conn.send_close_notify();
    client.flush().unwrap();
    client.sock.shutdown(std::net::Shutdown::Write).unwrap();
    // The server still answers (on_eof), then closes its side cleanly.
    assert_eq!(read_line(&mut client), "eof\n");
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).expect("close_notify, not a truncation");
    assert!(rest.is_empty());
    stop(loops);
}

#[test]
fn a_certificate_the_client_rejects_ends_with_its_alert() {
    let certs = tls::certs(&["localhost"]);
    let other = tls::certs(&["localhost"]);
    let config = iotls::server_config(&certs.cert, &certs.key, &[]).unwrap();
    let mut m = manual_manager();
    let addr = listen_tls(&mut m, config, ConnConfig::default());
    let mut client = tls::client(addr, &tls::client_config(&other, &[]), "localhost");
    let handshake =
        std::thread::spawn(move || client.write_all(b"x\n").and_then(|_| client.flush()));
    turn_until(&mut m, 100, |m| {
        m.state().app().events.iter().any(|(_, e)| e.starts_with("close:"))
    });
    let err = handshake.join().unwrap().expect_err("the client refuses the certificate");
    assert!(err.to_string().contains("invalid peer certificate"), "{err}");
    let events = &m.state().app().events;
    assert!(
        events.iter().any(|(_, e)| e.starts_with("close:tls:") && e.contains("alert")),
        "{events:?}"
    );
}

/// A loop with a manual clock on this thread, with Script connections (logging to `Log`).
fn manual_manager() -> Manager<Net<Log>> {
    manual_manager_with(ManualClock::new()).0
}

fn manual_manager_with(clock: ManualClock) -> (Manager<Net<Log>>, ManualClock) {
    let config = Config::default().clock(clock.clone());
    (Manager::with_config(Net::new(Log::default()), config).unwrap(), clock)
}

fn listen_tls(
    m: &mut Manager<Net<Log>>,
    tls: Arc<rustls::ServerConfig>,
    config: ConnConfig,
) -> SocketAddr {
    listen_tls_with(m, tls, config, Script::echo)
}

fn listen_tls_with<P: Protocol<Log>>(
    m: &mut Manager<Net<Log>>,
    tls: Arc<rustls::ServerConfig>,
    config: ConnConfig,
    make: impl FnMut() -> P + 'static,
) -> SocketAddr {
    let socket = ioman::net::listen(&"127.0.0.1:0".parse().unwrap(), Default::default()).unwrap();
    let ioman::net::Endpoint::Tcp(addr) = ioman::net::local_endpoint(&socket).unwrap() else {
        panic!("not TCP")
    };
    Listener::serve_tls(config, tls, make).register(m, socket).unwrap();
    addr
}

#[track_caller]
fn closed_with(m: &Manager<Net<Log>>, prefix: &str) -> bool {
    m.state().app().events.iter().any(|(_, e)| e.starts_with(&format!("close:{prefix}")))
}

#[test]
fn a_stalled_handshake_is_dropped_at_its_deadline_whatever_trickles_in() {
    let certs = tls::certs(&["localhost"]);
    let tls_config = iotls::server_config(&certs.cert, &certs.key, &[]).unwrap();
    let (mut m, clock) = manual_manager_with(ManualClock::new());
    let config = ConnConfig::default().handshake_timeout(Duration::from_secs(10));
    let addr = listen_tls(&mut m, tls_config, config);
    let silent = TcpStream::connect(addr).unwrap();
    let mut trickler = TcpStream::connect(addr).unwrap();
    turn_until(&mut m, 50, |m| m.state().connections() == 2);
    // The first bytes of a ClientHello record, one every 3 s: activity, but no handshake.
    for byte in [0x16u8, 0x03, 0x01] {
        trickler.write_all(&[byte]).unwrap();
        m.turn(Some(Duration::from_millis(100))).unwrap();
        clock.advance(Duration::from_secs(3));
        m.turn(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(m.state().connections(), 2, "9 s in: both still open");
    clock.advance(Duration::from_secs(1) + Duration::from_millis(1));
    m.turn(Some(Duration::ZERO)).unwrap();
    assert_eq!(m.state().connections(), 0);
    assert_eq!(m.state().app().count("close:handshake-timeout"), 2);
    drop((silent, trickler));
}

#[test]
fn garbage_and_plaintext_end_with_a_tls_error_not_a_spin() {
    let certs = tls::certs(&["localhost"]);
    let tls_config = iotls::server_config(&certs.cert, &certs.key, &[]).unwrap();
    let mut m = manual_manager();
    let addr = listen_tls(&mut m, tls_config, ConnConfig::default());
    let inputs: [&[u8]; 3] = [
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        &[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5], // a handshake record that is no ClientHello
        &[0xff; 64],
    ];
    for (i, input) in inputs.iter().enumerate() {
        let mut client = TcpStream::connect(addr).unwrap();
        client.set_read_timeout(Some(WAIT)).unwrap();
        client.write_all(input).unwrap();
        let turns_before = m.stats().turns;
        turn_until(&mut m, 50, |m| m.state().stats().closed == i as u64 + 1);
        assert!(m.stats().turns - turns_before < 10, "closing took many turns: a spin?");
        // The server answered with an alert (a TLS record of type 21) or just closed.
        let mut reply = Vec::new();
        let _ = client.read_to_end(&mut reply);
        assert!(reply.is_empty() || reply[0] == 21, "input {i}: {reply:?}");
    }
    let tls_closes =
        m.state().app().events.iter().filter(|(_, e)| e.starts_with("close:tls:")).count();
    assert_eq!(tls_closes, 3, "{:?}", m.state().app().events);
}

#[test]
fn a_tls_reader_that_never_reads_is_evicted_by_the_send_timeout() {
    let certs = tls::certs(&["localhost"]);
    let tls_config = iotls::server_config(&certs.cert, &certs.key, &[]).unwrap();
    let (mut m, clock) = manual_manager_with(ManualClock::new());
    let config = ConnConfig::default().send_timeout(Some(Duration::from_secs(5)));
    // Any input asks for 6 MiB: far more than the socket buffers hold.
    let big = || {
        Script::new(|input, out, _| {
            out.push_shared(Arc::from(pattern(6 << 20, 2)));
            input.len()
        })
    };
    let addr = listen_tls_with(&mut m, tls_config, config, big);
    let client = tls::client(addr, &tls::client_config(&certs, &[]), "localhost");
    let (mut conn, mut sock) = (client.conn, client.sock);
    sock.set_nonblocking(true).unwrap();
    conn.writer().write_all(b"go").unwrap();
    // Handshake and request, both sides driven from this thread; then the client reads nothing.
    for _ in 0..200 {
        while conn.wants_write() && conn.write_tls(&mut sock).is_ok() {}
        m.turn(Some(Duration::from_millis(5))).unwrap();
        if conn.read_tls(&mut sock).is_ok() {
            conn.process_new_packets().unwrap();
        }
        if m.state().app().input.len() == 2 || !m.state().app().calls.is_empty() {
            break;
        }
    }
    assert_eq!(m.state().app().calls, [2], "the request arrived");
    for _ in 0..10 {
        m.turn(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(m.state().connections(), 1, "backed up, not closed yet");
    clock.advance(Duration::from_secs(4));
    m.turn(Some(Duration::ZERO)).unwrap();
    assert_eq!(m.state().connections(), 1);
    clock.advance(Duration::from_secs(2));
    m.turn(Some(Duration::ZERO)).unwrap();
    assert!(closed_with(&m, "send-timeout"), "{:?}", m.state().app().events);
}

#[test]
fn pem_loading_errors_name_the_file_and_the_problem() {
    let certs = tls::certs(&["localhost"]);
    let dir = tls::temp_dir("pem");
    let (garbage, empty) = (dir.join("garbage.pem"), dir.join("empty.pem"));
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
    std::fs::write(&empty, "nothing here\n").unwrap();
    let missing = dir.join("missing.pem");
    let check = |cert: &std::path::Path, key: &std::path::Path, want: &str| {
        let err = iotls::server_config(cert, key, &[]).unwrap_err().to_string();
        assert!(err.contains(want), "{err:?} should say {want:?}");
    };
    check(&missing, &certs.key, "cannot read");
    check(&garbage, &certs.key, "not valid PEM");
    check(&empty, &certs.key, "holds no certificate");
    check(&certs.cert, &empty, "holds no private key");
    check(&certs.cert, &certs.cert, "holds no private key");
    let other = tls::certs(&["localhost"]);
    check(&certs.cert, &other.key, "rustls refused");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_outgoing_tls_connection_speaks_to_a_tls_server() {
    let certs = tls::certs(&["localhost"]);
    let server_tls = iotls::server_config(&certs.cert, &certs.key, &[b"x-ioman"]).unwrap();
    let mut m = manual_manager();
    let addr = listen_tls(&mut m, server_tls, ConnConfig::default());
    let client_tls = iotls::client_config(&certs.cert, &[b"x-ioman"]).unwrap();
    let socket = ioman::net::connect(&ioman::net::Endpoint::Tcp(addr)).unwrap();
    let name = iotls::server_name("localhost").unwrap();
    // Written in on_open, before the TCP connect and the handshake completed: it waits.
    let client = Script::sink().greeting(b"ping\n");
    let key = ioman::net::Connection::connecting(client, ConnConfig::default())
        .tls_client(client_tls, name)
        .unwrap()
        .register_with(&mut m, socket)
        .unwrap();
    turn_until(&mut m, 100, |m| m.state().app().input.len() == 10);
    assert_eq!(m.state().app().input, b"ping\nping\n", "server got it, echoed it, client got it");
    assert!(m.state().is_connection(key));
}

#[test]
fn a_protocol_over_its_watermark_before_the_handshake_still_completes_it() {
    let certs = tls::certs(&["localhost"]);
    let tls_config = iotls::server_config(&certs.cert, &certs.key, &[]).unwrap();
    let mut m = manual_manager();
    // 256 KiB written in on_open: far above the 64 KiB high watermark, before any handshake.
    let greeting: &'static [u8] = Box::leak(pattern(256 * 1024, 5).into_boxed_slice());
    let addr = listen_tls_with(&mut m, tls_config, ConnConfig::default(), move || {
        Script::sink().greeting(greeting)
    });
    let client = tls::client(addr, &tls::client_config(&certs, &[]), "localhost");
    let (mut conn, mut sock) = (client.conn, client.sock);
    sock.set_nonblocking(true).unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    for _ in 0..2000 {
        if got.len() == greeting.len() {
            break;
        }
        while conn.wants_write() && conn.write_tls(&mut sock).is_ok() {}
        m.turn(Some(Duration::from_millis(2))).unwrap();
        if let Ok(n) = conn.read_tls(&mut sock) {
            assert!(n > 0, "closed after {} bytes: {:?}", got.len(), m.state().app().events);
            conn.process_new_packets().unwrap();
        }
        while let Ok(n) = conn.reader().read(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
    }
    assert!(got == greeting, "{} of {} bytes", got.len(), greeting.len());
}

#[test]
fn a_client_gone_in_the_handshake_is_closed_at_once_not_spun_on() {
    let certs = tls::certs(&["localhost"]);
    let tls_config = iotls::server_config(&certs.cert, &certs.key, &[]).unwrap();
    let mut m = manual_manager();
    let addr = listen_tls(&mut m, tls_config, ConnConfig::default());
    // Half a ClientHello record, then the client closes.
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
    turn_until(&mut m, 50, |m| m.state().connections() == 1);
    drop(client);
    let turns = m.stats().turns;
    turn_until(&mut m, 50, |m| m.state().connections() == 0);
    assert!(m.stats().turns - turns < 5, "closing took {} turns", m.stats().turns - turns);
    assert!(closed_with(&m, "error:UnexpectedEof"), "{:?}", m.state().app().events);
}
