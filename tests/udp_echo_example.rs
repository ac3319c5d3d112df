//! `examples/udp_echo`: its protocol, run in-process on a loop the test turns — every
//! datagram comes back to its sender, with its bytes intact, from both UDP and Unix senders.

#[path = "../examples/udp_echo/server.rs"]
mod server;

use ioman::Manager;
use ioman::net::{DatagramAddr, DatagramConfig, Endpoint, Net, bind_datagram, datagram_local_addr};
use std::time::Duration;

#[track_caller]
fn turn_until(m: &mut Manager<Net<()>>, sent: u64) {
    for _ in 0..200 {
        if m.state().stats().datagrams_sent >= sent {
            return;
        }
        m.turn(Some(Duration::from_millis(100))).expect("turn");
    }
    panic!("only {} of {sent} echoes sent", m.state().stats().datagrams_sent);
}

#[test]
fn echoes_udp_and_unix_datagrams() {
    let mut m: Manager<Net<()>> = Manager::new().expect("manager");
    let udp = bind_datagram(&"127.0.0.1:0".parse().unwrap(), false).expect("bind");
    let DatagramAddr::Ip(addr) = datagram_local_addr(&udp).unwrap() else { panic!() };
    server::build(&mut m, udp, DatagramConfig::default()).expect("register");
    let dir = std::env::temp_dir().join(format!("ioman-udp-echo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let unix = bind_datagram(&Endpoint::Unix(path.clone()), false).expect("bind unix");
    server::build(&mut m, unix, DatagramConfig::default()).expect("register");

    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let big: Vec<u8> = (0..65_507).map(|i| (i % 251) as u8).collect();
    client.send_to(b"hello", addr).unwrap();
    client.send_to(&big, addr).unwrap();
    let unix_client = std::os::unix::net::UnixDatagram::bind(dir.join("c.sock")).unwrap();
    unix_client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    unix_client.send_to(b"over unix", &path).unwrap();
    turn_until(&mut m, 3);

    let mut buf = vec![0u8; 70_000];
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"hello"[..], addr));
    let n = client.recv(&mut buf).unwrap();
    assert!(buf[..n] == big[..], "the largest IPv4 datagram comes back whole");
    let n = unix_client.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"over unix");
    std::fs::remove_dir_all(&dir).ok();
}
