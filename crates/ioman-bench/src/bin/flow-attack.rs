//! `flow-attack`: the client side of the flow-control figures of `cargo xtask bench --only
//! flow`. It exists as a separate binary so that the attack runs pinned to the client CPU like
//! every other load generator, while the harness watches the server's memory.
//!
//! It opens `--conns` connections to `--addr` (loopback only), writes the bytes of the file
//! `--payload` on each in one send (e.g. 100 pipelined `GET /big`), then holds them for
//! `--hold-ms`: every `--tick-ms` it reads at most `--read-bytes` from each (0: never reads) and
//! polls the server's RSS (`--pid`); if that passes `--cap-mib`, it closes everything at once,
//! so a peer that buffers without limit cannot endanger the machine. Then it closes all
//! connections and prints one JSON line:
//! `{"connected":N,"read":BYTES,"closed":N,"peak_rss_kib":K,"capped":false}`.
//! Every phase is bounded in time: connecting by `--connect-ms` overall, each write by 2 s.
#![forbid(unsafe_code)]

use anyhow::{Context, Result, ensure};
use ioman_bench::cli::Flags;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// What one run does; see the module docs for the flags.
struct Spec {
    addr: SocketAddr,
    conns: usize,
    payload: Vec<u8>,
    hold: Duration,
    tick: Duration,
    read_bytes: usize,
    pid: u32,
    cap_kib: u64,
    connect_limit: Duration,
}

/// What happened.
#[derive(Default)]
struct Outcome {
    connected: usize,
    read: u64,
    closed: usize,
    peak_rss_kib: u64,
    capped: bool,
}

fn main() -> Result<()> {
    let flags = Flags::parse(
        std::env::args().skip(1),
        &[
            "addr",
            "conns",
            "payload",
            "hold-ms",
            "tick-ms",
            "read-bytes",
            "pid",
            "cap-mib",
            "connect-ms",
        ],
    )?;
    let addr: SocketAddr = flags.get("addr", SocketAddr::from(([127, 0, 0, 1], 0)))?;
    ensure!(addr.ip().is_loopback() && addr.port() != 0, "--addr must be a loopback address");
    let path: String = flags.get("payload", String::new())?;
    let payload = std::fs::read(&path).with_context(|| format!("--payload {path:?}"))?;
    let spec = Spec {
        addr,
        conns: flags.get("conns", 1usize)?.clamp(1, 10_000),
        payload,
        hold: Duration::from_millis(flags.get("hold-ms", 3000u64)?.min(60_000)),
        tick: Duration::from_millis(flags.get("tick-ms", 50u64)?.clamp(1, 1000)),
        read_bytes: flags.get("read-bytes", 0usize)?,
        pid: flags.get("pid", 0u32)?,
        cap_kib: flags.get("cap-mib", 3072u64)? * 1024,
        connect_limit: Duration::from_millis(flags.get("connect-ms", 20_000u64)?.min(60_000)),
    };
    let out = attack(&spec)?;
    println!(
        "{{\"connected\":{},\"read\":{},\"closed\":{},\"peak_rss_kib\":{},\"capped\":{}}}",
        out.connected, out.read, out.closed, out.peak_rss_kib, out.capped
    );
    Ok(())
}

/// Connects, sends, holds, closes.
fn attack(spec: &Spec) -> Result<Outcome> {
    let mut out = Outcome::default();
    let connect_deadline = Instant::now() + spec.connect_limit;
    let mut conns = Vec::with_capacity(spec.conns);
    for i in 0..spec.conns {
        let left = connect_deadline.saturating_duration_since(Instant::now());
        ensure!(
            !left.is_zero(),
            "connected only {i} of {} within {:?}",
            spec.conns,
            spec.connect_limit
        );
        let mut c = TcpStream::connect_timeout(&spec.addr, left.min(Duration::from_secs(2)))
            .with_context(|| format!("connection {i} to {}", spec.addr))?;
        c.set_nodelay(true)?;
        c.set_write_timeout(Some(Duration::from_secs(2)))?;
        c.write_all(&spec.payload).with_context(|| format!("sending on connection {i}"))?;
        c.set_nonblocking(true)?;
        conns.push(Some(c));
        out.connected += 1;
        watch(spec, &mut out);
        if out.capped {
            return Ok(out); // everything closes as `conns` drops
        }
    }
    let deadline = Instant::now() + spec.hold;
    let mut buf = vec![0u8; 64 * 1024];
    while Instant::now() < deadline {
        std::thread::sleep(spec.tick.min(deadline.saturating_duration_since(Instant::now())));
        if spec.read_bytes > 0 {
            for slot in conns.iter_mut() {
                let Some(c) = slot else { continue };
                if !read_some(c, &mut buf, spec.read_bytes, &mut out.read) {
                    *slot = None;
                    out.closed += 1;
                }
            }
        }
        watch(spec, &mut out);
        if out.capped {
            break;
        }
    }
    Ok(out) // `conns` drops here: every connection closes
}

/// Reads at most `limit` bytes without blocking; false when the server closed the connection.
fn read_some(c: &mut TcpStream, buf: &mut [u8], limit: usize, total: &mut u64) -> bool {
    let mut got = 0;
    while got < limit {
        let want = (limit - got).min(buf.len());
        match c.read(&mut buf[..want]) {
            Ok(0) => return false,
            Ok(n) => {
                got += n;
                *total += n as u64;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

/// Polls the server's RSS, keeps the peak, and sets `capped` past the cap.
fn watch(spec: &Spec, out: &mut Outcome) {
    if spec.pid == 0 {
        return;
    }
    if let Some(kib) = vm_rss_kib(spec.pid) {
        out.peak_rss_kib = out.peak_rss_kib.max(kib);
        if kib > spec.cap_kib {
            out.capped = true;
        }
    }
}

/// `VmRSS` of `pid` in KiB, from `/proc/PID/status`.
fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
