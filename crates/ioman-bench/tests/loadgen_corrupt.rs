//! The load generator must notice a lying echo server: a flipped byte, a dropped byte, an
//! extra byte. Each test runs a tiny thread-per-connection server that echoes faithfully
//! until a chosen byte offset and then misbehaves once.
#![forbid(unsafe_code)]

use ioman_bench::loadgen::{self, Config};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

#[derive(Clone, Copy)]
enum Fault {
    Flip,
    Drop,
    Extra,
}

/// Echoes `stream`, applying `fault` once at byte `at` (if given).
fn echo(mut stream: TcpStream, fault: Option<(Fault, usize)>) {
    let mut buf = vec![0u8; 4096];
    let mut seen = 0usize;
    let mut fault = fault;
    loop {
        let n = match stream.read(&mut buf[..4000]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut out = buf[..n].to_vec();
        if let Some((kind, at)) = fault.filter(|&(_, at)| (seen..seen + n).contains(&at)) {
            let i = at - seen;
            match kind {
                Fault::Flip => out[i] ^= 0x40,
                Fault::Drop => drop(out.remove(i)),
                Fault::Extra => out.insert(i, out[i]),
            }
            fault = None;
        }
        seen += n;
        if stream.write_all(&out).is_err() {
            return;
        }
    }
}

/// Serves exactly `conns` connections; connection `bad` gets `fault`.
fn serve(conns: usize, bad: usize, fault: Fault, at: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        for i in 0..conns {
            let Ok((s, _)) = listener.accept() else { return };
            let f = (i == bad).then_some((fault, at));
            thread::spawn(move || echo(s, f));
        }
    });
    addr
}

fn run(addr: SocketAddr, conns: usize) -> loadgen::Report {
    let cfg = Config {
        addr,
        conns,
        size: 100,
        depth: 8,
        duration: Duration::from_millis(400),
        warmup: Duration::ZERO,
        max_messages: 50_000,
    };
    loadgen::run(&cfg).expect("the run happens")
}

#[test]
fn a_flipped_byte_is_an_error() {
    let r = run(serve(1, 0, Fault::Flip, 12_345), 1);
    assert_eq!(r.errors, 1, "{}", r.human());
    let e = r.first_error.expect("the failure is described");
    assert!(e.contains("message 123 byte 45"), "{e}");
}

#[test]
fn a_dropped_byte_is_an_error() {
    let r = run(serve(1, 0, Fault::Drop, 777), 1);
    assert_eq!(r.errors, 1, "{}", r.human());
}

#[test]
fn an_extra_byte_is_an_error() {
    let r = run(serve(1, 0, Fault::Extra, 5_000), 1);
    assert_eq!(r.errors, 1, "{}", r.human());
}

#[test]
fn one_bad_connection_fails_alone() {
    let r = run(serve(4, 2, Fault::Flip, 3_000), 4);
    assert_eq!(r.errors, 1, "{}", r.human());
    assert!(r.messages > 0, "the good connections kept going: {}", r.human());
}

#[test]
fn the_loadgen_binary_exits_non_zero_on_corruption() {
    let addr = serve(2, 1, Fault::Flip, 100).to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--addr", &addr, "--conns", "2", "--size", "64", "--duration", "0.3"])
        .args(["--warmup", "0", "--max-messages", "10000"])
        .output()
        .expect("run loadgen");
    assert!(!out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"errors\":1"), "{stdout}");
}
