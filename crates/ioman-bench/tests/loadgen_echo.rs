//! The load generator against the real benchmark echo servers: every server must echo every
//! byte intact under pipelining, with small and multi-read messages. No timing assertions:
//! these tests run in CI and only check correctness.
#![forbid(unsafe_code)]

use ioman_bench::loadgen::{self, Config};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A server child process, killed when the test ends (also when it fails).
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(exe: &str) -> Server {
        let mut child = Command::new(exe)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {exe}: {e}"));
        let mut line = String::new();
        let out = child.stdout.take().expect("piped stdout");
        BufReader::new(out).read_line(&mut line).expect("read the first line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{exe} printed {line:?}"))
            .parse()
            .expect("an address");
        Server { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn check(exe: &str) {
    let server = Server::start(exe);
    for (conns, size, depth) in [(20, 64, 1), (8, 1000, 16), (3, 200_000, 2), (4, 1, 250)] {
        let cfg = Config {
            addr: server.addr,
            conns,
            size,
            depth,
            duration: Duration::from_millis(300),
            warmup: Duration::from_millis(50),
            max_messages: 20_000,
        };
        let r = loadgen::run(&cfg).expect("the run happens");
        assert_eq!(r.errors, 0, "{exe} {cfg:?}: {}", r.human());
        assert!(r.messages > 0, "{exe} {cfg:?}: {}", r.human());
        assert!(r.messages <= cfg.max_messages + (conns * depth) as u64, "{}", r.human());
        assert!(r.all_messages >= r.messages);
    }
}

#[test]
fn echo_raw_echoes_every_byte() {
    check(env!("CARGO_BIN_EXE_echo-raw"));
}

#[test]
fn echo_mio_echoes_every_byte() {
    check(env!("CARGO_BIN_EXE_echo-mio"));
}

#[test]
fn echo_tokio_echoes_every_byte() {
    check(env!("CARGO_BIN_EXE_echo-tokio"));
}

#[test]
fn loadgen_binary_prints_json_and_exits_zero() {
    let server = Server::start(env!("CARGO_BIN_EXE_echo-raw"));
    let addr = server.addr.to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--addr", &addr, "--conns", "4", "--size", "32", "--pipeline", "2"])
        .args(["--duration", "0.2", "--warmup", "0", "--max-messages", "5000"])
        .output()
        .expect("run loadgen");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let json = stdout.lines().last().expect("a JSON line");
    for key in ["\"msgs_per_sec\":", "\"p50_us\":", "\"p99_us\":", "\"errors\":0", "\"messages\":"]
    {
        assert!(json.starts_with('{') && json.contains(key), "{key} missing in {json}");
    }
}

#[test]
fn loadgen_refuses_non_loopback_targets() {
    let cfg = Config {
        addr: "192.0.2.1:9".parse().expect("addr"),
        conns: 1,
        size: 1,
        depth: 1,
        duration: Duration::from_millis(10),
        warmup: Duration::ZERO,
        max_messages: 1,
    };
    assert!(loadgen::run(&cfg).is_err());
}
