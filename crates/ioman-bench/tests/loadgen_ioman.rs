//! The ioman-based load generator (`loadgen::run`) and its epoll reference
//! (`loadgen_epoll::run`) against tiny thread-per-connection servers: exact counts against a
//! faithful echo, a flipped byte and an early close counted per connection, the run ending
//! by itself once every connection failed, and a refused connect as an `Err`. No timing
//! assertions beyond "ended long before its time bound".
#![forbid(unsafe_code)]

use ioman_bench::loadgen::{self, Config, Report};
use ioman_bench::loadgen_epoll;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

/// What a test server does to every connection.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Echoes every byte.
    Faithful,
    /// Echoes, with the byte at this offset flipped.
    FlipAt(usize),
    /// Echoes this many bytes, then shuts its side down (the client reads end of stream)
    /// and discards the rest: a clean early close, no reset.
    CloseAt(usize),
}

/// Echoes `stream` as `how` says; adds every byte it wrote to `echoed`.
fn echo(mut stream: TcpStream, how: Behaviour, echoed: &AtomicU64) {
    let mut buf = vec![0u8; 4096];
    let mut seen = 0usize;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut n = n;
        match how {
            Behaviour::FlipAt(at) if (seen..seen + n).contains(&at) => buf[at - seen] ^= 0x01,
            Behaviour::CloseAt(at) if seen + n >= at => n = at - seen,
            _ => {}
        }
        if stream.write_all(&buf[..n]).is_err() {
            return;
        }
        echoed.fetch_add(n as u64, Ordering::Relaxed);
        seen += n;
        if matches!(how, Behaviour::CloseAt(at) if seen >= at) {
            let _ = stream.shutdown(Shutdown::Write);
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
            return;
        }
    }
}

/// A server for exactly `conns` connections; returns its address and its echoed-byte count.
fn serve(conns: usize, how: Behaviour) -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let echoed = Arc::new(AtomicU64::new(0));
    let count = echoed.clone();
    thread::spawn(move || {
        for _ in 0..conns {
            let Ok((s, _)) = listener.accept() else { return };
            let count = count.clone();
            thread::spawn(move || echo(s, how, &count));
        }
    });
    (addr, echoed)
}

fn config(addr: SocketAddr, conns: usize, size: usize, depth: usize, max: u64) -> Config {
    Config {
        addr,
        conns,
        size,
        depth,
        duration: Duration::from_secs(30), // never reached: every run here ends by itself
        warmup: Duration::ZERO,
        max_messages: max,
    }
}

type Generator = fn(&Config) -> anyhow::Result<Report>;
const GENERATORS: [(&str, Generator); 2] =
    [("loadgen", loadgen::run), ("loadgen-epoll", loadgen_epoll::run)];

#[test]
fn a_few_hundred_messages_are_counted_exactly() {
    for (name, run) in GENERATORS {
        let (conns, size, depth, max) = (4, 100, 3, 300);
        let (addr, echoed) = serve(conns, Behaviour::Faithful);
        let cfg = config(addr, conns, size, depth, max);
        let r = run(&cfg).expect("the run happens");
        let what = format!("{name}: {}", r.human());
        assert_eq!(r.errors, 0, "{what}");
        assert!(r.first_error.is_none(), "{what}");
        // Stopped by the count, within one turn's worth of replies (each connection can
        // complete at most its pipeline in one read).
        assert!(r.messages >= max, "{what}");
        assert!(r.messages < max + (conns * depth) as u64, "{what}");
        assert!(r.all_messages >= r.messages, "{what}");
        assert!(r.elapsed < cfg.duration, "ended by count, not time: {what}");
        assert!(r.p50 > Duration::ZERO && r.p99 >= r.p50, "{what}");
        // Every message counted came back whole from the server.
        let bytes = echoed.load(Ordering::Relaxed);
        assert!(bytes >= r.all_messages * size as u64, "{what}: {bytes} bytes echoed");
    }
}

#[test]
fn one_connection_counts_every_message_once() {
    for (name, run) in GENERATORS {
        let (addr, _) = serve(1, Behaviour::Faithful);
        let r = run(&config(addr, 1, 7, 1, 250)).expect("the run happens");
        // Ping-pong on one connection: exactly one message completes per reply.
        assert_eq!((r.messages, r.all_messages, r.errors), (250, 250, 0), "{name}: {}", r.human());
    }
}

#[test]
fn a_flipped_byte_on_every_connection_fails_each_and_ends_the_run() {
    for (name, run) in GENERATORS {
        let conns = 3;
        let (addr, _) = serve(conns, Behaviour::FlipAt(1_000));
        let cfg = config(addr, conns, 64, 4, u64::MAX);
        let r = run(&cfg).expect("the run happens");
        let what = format!("{name}: {}", r.human());
        assert_eq!(r.errors, conns as u64, "{what}");
        // Byte 1000 is byte 40 of message 15 (64-byte messages).
        let e = r.first_error.as_deref().expect("the failure is described");
        assert!(e.contains("message 15 byte 40"), "{what}");
        assert!(r.all_messages <= 15 * conns as u64, "nothing counted past the flip: {what}");
        assert!(r.elapsed < cfg.duration, "every connection failed: the run ended: {what}");
    }
}

#[test]
fn an_early_close_is_an_error_for_that_connection() {
    let (addr, _) = serve(2, Behaviour::CloseAt(640));
    let cfg = config(addr, 2, 64, 2, u64::MAX);
    let r = loadgen::run(&cfg).expect("the run happens");
    assert_eq!(r.errors, 2, "{}", r.human());
    assert_eq!(r.all_messages, 20, "10 messages per connection came back: {}", r.human());
    let e = r.first_error.expect("the failure is described");
    assert!(e.contains("server closed the connection"), "{e}");
}

#[test]
fn a_refused_connect_means_no_run() {
    // A port nobody listens on: bind one, learn its number, close it.
    let addr = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let e = loadgen::run(&config(addr, 2, 8, 1, 10)).expect_err("nothing to connect to");
    assert!(format!("{e:#}").contains("connect #"), "{e:#}");
}
