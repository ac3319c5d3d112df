//! Datagram sockets (`ioman::net::Datagram`): echo of many datagrams of random sizes from many
//! sockets with nothing lost, batching observed in the counters, the per-event budget against
//! a flooding socket, truncation, the send queue's cap and backpressure, errors per
//! destination (`EMSGSIZE`, `ECONNREFUSED` on a connected socket), Unix datagram sockets
//! (bound, abstract, unbound senders), IPv6 and `SO_REUSEPORT` loops. Real sockets on
//! loopback; in-flight data bounded so no kernel buffer can overflow; the manual clock for the
//! retry timer.

#[path = "support/datagram.rs"]
mod support;

use ioman::Interest;
use ioman::net::{
    Datagram, DatagramAddr, DatagramConfig, DatagramContext, DatagramOut, DatagramSocket, Endpoint,
    Loops, Net, SendRefused, bind_datagram, connect_datagram, datagram_local_addr,
};
use rustix::event::{PollFd, PollFlags, poll};
use rustix::io::Errno;
use std::collections::HashMap;
use std::net::UdpSocket;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram};
use std::time::Duration;
use support::*;

const MAX_V4_PAYLOAD: usize = 65_507;

#[test]
fn echo_of_random_sizes_from_many_sockets_loses_nothing() {
    let server = Background::echo(DatagramConfig::default());
    const CLIENTS: u32 = 12;
    const PER_CLIENT: u32 = 60;
    let clients: Vec<UdpSocket> = (0..CLIENTS).map(|_| client()).collect();
    for c in &clients {
        c.set_nonblocking(true).expect("nonblocking");
    }
    // Every queue on the way (the server's, each client's) holds at most what is in flight.
    // Counting each datagram at twice its size plus 2 KiB (the kernel's own accounting is
    // less) and keeping the total under half a receive buffer, nothing can be dropped; one
    // datagram alone always fits an empty queue.
    let rcvbuf = rustix::net::sockopt::socket_recv_buffer_size(&clients[0]).expect("SO_RCVBUF");
    let budget = rcvbuf / 2;
    let weight = |size: usize| 2 * size + 2048;
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let sizes: Vec<Vec<usize>> = (0..CLIENTS)
        .map(|_| {
            (0..PER_CLIENT)
                .map(|_| match rng.below(4) {
                    0 => 8 + rng.below((MAX_V4_PAYLOAD - 8) as u64 + 1) as usize,
                    _ => 8 + rng.below(1400) as usize,
                })
                .collect()
        })
        .collect();
    assert!(sizes.iter().flatten().any(|&s| s > 60_000), "large datagrams are part of the mix");
    let mut next = vec![0u32; CLIENTS as usize];
    let mut outstanding: Vec<HashMap<u32, usize>> = vec![HashMap::new(); CLIENTS as usize];
    let (mut in_flight, mut weight_in_flight, mut done) = (0usize, 0usize, 0u32);
    let mut buf = vec![0u8; 65_536];
    while done < CLIENTS * PER_CLIENT {
        for (i, c) in clients.iter().enumerate() {
            while next[i] < PER_CLIENT {
                let size = sizes[i][next[i] as usize];
                if in_flight > 0 && weight_in_flight + weight(size) > budget {
                    break;
                }
                let data = payload(i as u32, next[i], size);
                match c.send_to(&data, server.addr) {
                    Ok(n) => assert_eq!(n, size),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("client send: {e}"),
                }
                outstanding[i].insert(next[i], size);
                next[i] += 1;
                in_flight += 1;
                weight_in_flight += weight(size);
            }
        }
        let mut fds: Vec<PollFd<'_>> =
            clients.iter().map(|c| PollFd::new(c, PollFlags::IN)).collect();
        let ten_s = rustix::time::Timespec { tv_sec: 10, tv_nsec: 0 };
        let ready = poll(&mut fds, Some(&ten_s)).expect("poll");
        assert!(ready > 0, "no echo within 10 s: {in_flight} datagrams lost");
        for (i, c) in clients.iter().enumerate() {
            loop {
                let (n, from) = match c.recv_from(&mut buf) {
                    Ok(got) => got,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("client recv: {e}"),
                };
                assert_eq!(from, server.addr);
                let client = u32::from_le_bytes(buf[..4].try_into().unwrap());
                let seq = u32::from_le_bytes(buf[4..8].try_into().unwrap());
                assert_eq!(client, i as u32, "an echo reached the wrong client");
                let size = outstanding[i].remove(&seq).expect("echo of a datagram in flight");
                assert_eq!(n, size, "echo of #{seq} has the wrong size");
                assert!(buf[..n] == payload(client, seq, size)[..], "echo of #{seq} differs");
                in_flight -= 1;
                weight_in_flight -= weight(size);
                done += 1;
            }
        }
    }
    let stats = server.stop();
    let total = u64::from(CLIENTS * PER_CLIENT);
    assert_eq!((stats.datagrams_received, stats.datagrams_sent), (total, total));
    assert_eq!((stats.datagrams_truncated, stats.datagram_send_errors), (0, 0));
}

#[test]
fn a_burst_is_received_and_answered_in_batches() {
    let (mut m, _clock) = manual();
    let config = DatagramConfig::default().batch(32).read_budget(64);
    let (key, addr) = udp_server(&mut m, Recorder::new(Reply::Echo(1)), config);
    let clients: Vec<UdpSocket> = (0..4).map(|_| client()).collect();
    for seq in 0..25 {
        for (i, c) in clients.iter().enumerate() {
            c.send_to(&payload(i as u32, seq, 32), addr).expect("send");
        }
    }
    turn_until(&mut m, |m| m.state().stats().datagrams_sent == 100);
    for (i, c) in clients.iter().enumerate() {
        let mut buf = [0u8; 64];
        for seq in 0..25 {
            let n = c.recv(&mut buf).expect("echo");
            assert_eq!(&buf[..n], &payload(i as u32, seq, 32)[..], "in order, intact");
        }
    }
    let stats = m.state().stats();
    let socket = m.handler(key).and_then(|h| h.downcast_ref::<DatagramSocket<Recorder>>());
    assert_eq!(socket.expect("the socket").stats().received, 100);
    // 100 datagrams that were all queued before the loop looked: 4 recvmmsg calls of
    // 32 + 32 | 32 + 4 when they arrive as sent; a few more if the kernel delivered them to
    // the socket in pieces. Never one call per datagram.
    println!(
        "100 datagrams: {} recvmmsg, {} sendmmsg",
        stats.datagram_recv_calls, stats.datagram_send_calls
    );
    assert!(stats.datagram_recv_calls <= 10, "recvmmsg calls: {}", stats.datagram_recv_calls);
    assert!(stats.datagram_send_calls <= 10, "sendmmsg calls: {}", stats.datagram_send_calls);
}

#[test]
fn a_flooding_socket_gets_its_budget_per_turn_and_others_are_served() {
    let (mut m, _clock) = manual();
    let config = DatagramConfig::default().batch(16).read_budget(32);
    let (_, flooded) = udp_server(&mut m, Recorder::new(Reply::None), config.clone());
    let (_, quiet) = udp_server(&mut m, Recorder::new(Reply::None), config);
    let c = client();
    c.send_to(b"quiet", quiet).expect("send");
    for seq in 0..100 {
        c.send_to(&payload(0, seq, 16), flooded).expect("send");
    }
    turn_until(&mut m, |m| m.state().app().datagrams.iter().any(|(_, d)| d == b"quiet"));
    let flood_seen = m.state().app().datagrams.len() - 1;
    let turns = m.stats().turns;
    assert!(flood_seen as u64 <= 32 * turns, "{flood_seen} in {turns} turns: over budget");
    turn_until(&mut m, |m| m.state().stats().datagrams_received == 101);
}

#[test]
fn a_truncated_datagram_is_reported_not_delivered() {
    let (mut m, _clock) = manual();
    let config = DatagramConfig::default().max_datagram(1000);
    let (_, addr) = udp_server(&mut m, Recorder::new(Reply::Echo(1)), config);
    let c = client();
    c.send_to(&[1; 1500], addr).expect("send");
    c.send_to(&[2; 1000], addr).expect("send");
    turn_until(&mut m, |m| m.state().stats().datagrams_received == 1);
    let me = DatagramAddr::Ip(c.local_addr().unwrap());
    let seen = m.state().app();
    assert_eq!(seen.truncated, vec![(me.clone(), 1500)], "reported with its real size");
    assert_eq!(seen.datagrams, vec![(me, vec![2; 1000])], "only the whole one is delivered");
    assert_eq!(m.state().stats().datagrams_truncated, 1);
    let mut buf = [0u8; 2000];
    assert_eq!(c.recv(&mut buf).expect("echo"), 1000);
}

#[test]
fn an_oversized_reply_is_reported_for_its_destination_and_the_socket_goes_on() {
    let (mut m, _clock) = manual();
    let (key, addr) = udp_server(
        &mut m,
        Recorder::new(Reply::OversizedThenEcho(MAX_V4_PAYLOAD + 1)),
        DatagramConfig::default(),
    );
    let c = client();
    c.send_to(b"one", addr).expect("send");
    turn_until(&mut m, |m| m.state().stats().datagrams_sent == 1);
    let me = DatagramAddr::Ip(c.local_addr().unwrap());
    assert_eq!(
        m.state().app().errors,
        vec![(Some(me.clone()), Some(Errno::MSGSIZE.raw_os_error()))]
    );
    let mut buf = [0u8; 16];
    let n = c.recv(&mut buf).expect("the echo after it");
    assert_eq!(&buf[..n], b"one");
    // Still registered and serving.
    c.send_to(b"two", addr).expect("send");
    turn_until(&mut m, |m| m.state().stats().datagrams_sent == 2);
    let n = c.recv(&mut buf).expect("second echo");
    assert_eq!(&buf[..n], b"two");
    assert!(m.contains(key));
    assert_eq!(m.state().app().errors.len(), 2);
    assert_eq!(m.state().stats().datagram_send_errors, 2);
}

#[test]
fn econnrefused_on_a_connected_socket_is_reported_and_the_loop_does_not_spin() {
    let (mut m, _clock) = manual();
    // A port with nothing bound: bind one, note it, close it.
    let closed = UdpSocket::bind("127.0.0.1:0").expect("bind").local_addr().unwrap();
    let fd = bind_datagram(&"127.0.0.1:0".parse().unwrap(), false).expect("bind");
    connect_datagram(&fd, &DatagramAddr::Ip(closed)).expect("connect");
    let mut proto = Recorder::new(Reply::None);
    proto.greeting = Some(b"anyone?".to_vec());
    let key = DatagramSocket::new(proto, DatagramConfig::default())
        .register(&mut m, fd)
        .expect("register");
    turn_until(&mut m, |m| !m.state().app().errors.is_empty());
    let refused = Some(Errno::CONNREFUSED.raw_os_error());
    assert_eq!(m.state().app().errors, vec![(Some(DatagramAddr::Ip(closed)), refused)]);
    assert!(m.contains(key), "an ICMP error does not end the socket");
    // The error was consumed: the loop has nothing to do, and waits.
    assert_eq!(m.turn(Some(Duration::ZERO)).expect("turn"), 0);
    assert_eq!(m.turn(Some(Duration::ZERO)).expect("turn"), 0);
    assert_eq!(m.state().app().errors.len(), 1);
    assert_eq!(m.state().app().closed, 0);
}

#[test]
fn the_send_queue_refuses_past_its_cap_and_tells_when_there_is_room() {
    let (mut m, _clock) = manual();
    // At most 8 datagrams (or 10,000 bytes) queued: a protocol answering one datagram with
    // as many 1000-byte datagrams as it can is stopped at the cap with a typed refusal.
    let config = DatagramConfig::default().queue(10_000, 8);
    let (_, addr) = udp_server(&mut m, Recorder::new(Reply::Flood(1000)), config);
    let c = client();
    c.send_to(b"go", addr).expect("send");
    turn_until(&mut m, |m| m.state().app().rooms == 1);
    assert_eq!(m.state().app().refused, vec![SendRefused::Full]);
    assert_eq!(m.state().stats().datagrams_sent, 8);
    let mut buf = [0u8; 2000];
    for _ in 0..8 {
        assert_eq!(c.recv(&mut buf).expect("flood"), 1000);
    }
}

/// A Unix datagram socket bound to a fresh path in a fresh directory.
fn unix_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ioman-dgram-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("s.sock")
}

#[test]
fn unix_datagrams_from_bound_abstract_and_unbound_senders() {
    let (mut m, _clock) = manual();
    let path = unix_path("senders");
    let fd = bind_datagram(&Endpoint::Unix(path.clone()), false).expect("bind");
    DatagramSocket::new(Recorder::new(Reply::Echo(1)), DatagramConfig::default())
        .register(&mut m, fd)
        .expect("register");
    let bound_path = path.with_file_name("client.sock");
    let bound = UnixDatagram::bind(&bound_path).expect("client bind");
    let name = format!("ioman-test-{}", std::process::id());
    let abs =
        UnixDatagram::bind_addr(&UnixAddr::from_abstract_name(&name).unwrap()).expect("abstract");
    let unbound = UnixDatagram::unbound().expect("unbound");
    for s in [&bound, &abs, &unbound] {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.send_to(b"hi", &path).expect("send");
    }
    turn_until(&mut m, |m| m.state().app().refused.len() == 1);
    let from: Vec<DatagramAddr> =
        m.state().app().datagrams.iter().map(|(a, _)| a.clone()).collect();
    assert_eq!(
        from,
        vec![
            DatagramAddr::Unix(bound_path),
            DatagramAddr::Abstract(name.into_bytes()),
            DatagramAddr::Unnamed
        ]
    );
    assert_eq!(m.state().app().refused, vec![SendRefused::NoAddress], "nobody to answer");
    let mut buf = [0u8; 8];
    let n = bound.recv(&mut buf).expect("echo");
    assert_eq!(&buf[..n], b"hi");
    let n = abs.recv(&mut buf).expect("echo");
    assert_eq!(&buf[..n], b"hi");
    std::fs::remove_dir_all(path.parent().unwrap()).ok();
}

#[test]
fn a_full_unix_destination_pauses_reading_until_the_queue_drains() {
    let (mut m, clock) = manual();
    let path = unix_path("full");
    let fd = bind_datagram(&Endpoint::Unix(path.clone()), false).expect("bind");
    // Each datagram is answered 3 times; the client reads nothing at first, so its receive
    // queue (max_dgram_qlen datagrams) fills and the server's sends meet EAGAIN.
    let config = DatagramConfig::default().queue(64 * 1024, 256).watermarks(2000, 4000);
    let key = DatagramSocket::new(Recorder::new(Reply::Echo(3)), config)
        .register(&mut m, fd)
        .expect("register");
    let client_path = path.with_file_name("client.sock");
    let c = UnixDatagram::bind(&client_path).expect("client");
    c.set_nonblocking(true).unwrap();
    for seq in 0..8 {
        c.send_to(&payload(0, seq, 1000), &path).expect("send");
    }
    turn_until(&mut m, |m| m.state().stats().datagrams_received == 8);
    let queued = |m: &M| {
        m.handler(key).and_then(|h| h.downcast_ref::<DatagramSocket<Recorder>>()).unwrap().stats()
    };
    assert!(m.state().stats().datagrams_sent < 24, "the client's queue is bounded");
    assert_eq!(queued(&m).read_pauses, 1, "over the high watermark: reading paused");
    assert!(!m.interest(key).is_some_and(|i| i.is_readable()), "read interest dropped");
    assert!(!m.interest(key).is_some_and(|i| i.is_writable()), "no EPOLLOUT spin: a timer");
    // The client reads what it got; time passes by the retry delay; the rest goes out.
    let mut got = 0;
    let mut buf = [0u8; 2000];
    for _ in 0..40 {
        while let Ok(n) = c.recv(&mut buf) {
            assert_eq!(n, 1000);
            got += 1;
        }
        if got == 24 {
            break;
        }
        clock.advance(Duration::from_millis(5));
        m.turn(Some(Duration::ZERO)).expect("turn");
    }
    assert_eq!(got, 24, "every answer arrived");
    assert_eq!(m.interest(key), Some(Interest::READ), "reading resumed, nothing to send");
    assert!(m.state().app().rooms >= 1, "on_room once below the low watermark");
    std::fs::remove_dir_all(path.parent().unwrap()).ok();
}

#[test]
fn ipv6_loopback_if_available() {
    let Ok(fd) = bind_datagram(&"[::1]:0".parse().unwrap(), false) else {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    };
    let (mut m, _clock) = manual();
    let DatagramAddr::Ip(addr) = datagram_local_addr(&fd).unwrap() else { panic!() };
    DatagramSocket::new(Recorder::new(Reply::Echo(1)), DatagramConfig::default())
        .register(&mut m, fd)
        .expect("register");
    let c = UdpSocket::bind("[::1]:0").expect("v6 client");
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.send_to(b"six", addr).expect("send");
    turn_until(&mut m, |m| m.state().stats().datagrams_sent == 1);
    let mut buf = [0u8; 8];
    let n = c.recv(&mut buf).expect("echo");
    assert_eq!(&buf[..n], b"six");
    assert_eq!(m.state().app().datagrams[0].0, DatagramAddr::Ip(c.local_addr().unwrap()));
}

struct Echo;
impl Datagram for Echo {
    fn on_datagram(
        &mut self,
        d: &[u8],
        from: &DatagramAddr,
        out: &mut DatagramOut,
        _: &mut DatagramContext<'_>,
    ) {
        let _ = out.send_to(from, d);
    }
}

#[test]
fn reuseport_loops_share_one_port() {
    let loops = Loops::spawn_datagram(3, &"127.0.0.1:0".parse().unwrap(), |_, socket| {
        let mut m: ioman::Manager<Net<()>> = ioman::Manager::new()?;
        DatagramSocket::new(Echo, DatagramConfig::default()).register(&mut m, socket)?;
        Ok(m)
    })
    .expect("spawn");
    assert_eq!(loops.len(), 3);
    let Endpoint::Tcp(addr) = loops.local_addr().clone() else { panic!("not an IP address") };
    for i in 0..24u32 {
        let c = client();
        c.send_to(&payload(i, 0, 100), addr).expect("send");
        let mut buf = [0u8; 200];
        let n = c.recv(&mut buf).expect("echo");
        assert_eq!(&buf[..n], &payload(i, 0, 100)[..]);
    }
    loops.shutdown(Duration::ZERO);
    loops.join().expect("loops end once their sockets are closed");
}
