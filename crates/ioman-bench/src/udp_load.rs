//! The UDP echo load generator behind `udp-load`: `conns` connected UDP sockets, each keeping
//! `window` datagrams in flight, single-threaded over one epoll. Every echo is checked byte
//! for byte: an 8-byte sequence number then the [`Pattern`] bytes of that socket and sequence,
//! in order per socket (loopback keeps a flow's order; a reordered, duplicated or corrupt
//! datagram is an error). The window bounds what can be queued anywhere, so a server that
//! keeps up loses nothing; a datagram not echoed within a second is counted lost (an error).
//! Runs are bounded in time and in datagrams.

use crate::histogram::Histogram;
use crate::pattern::{MAX_DEPTH, Pattern};
use anyhow::{Context, Result, ensure};
use rustix::buffer::spare_capacity;
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// The echo server (loopback only).
    pub addr: SocketAddr,
    /// Client sockets.
    pub conns: usize,
    /// Datagram size in bytes (at least 16).
    pub size: usize,
    /// Datagrams in flight per socket (1..=250).
    pub window: usize,
    /// Measured time, after the warm-up.
    pub duration: Duration,
    /// Unmeasured time first.
    pub warmup: Duration,
    /// Stop sending after this many datagrams in all.
    pub max_messages: u64,
}

/// What a run measured.
#[derive(Debug, Default)]
pub struct Report {
    /// Datagrams echoed in the measured period.
    pub messages: u64,
    /// Datagrams echoed in all (warm-up included).
    pub all_messages: u64,
    /// The measured period.
    pub elapsed: Duration,
    /// Wrong, reordered or lost echoes.
    pub errors: u64,
    /// Of which lost (not echoed within a second).
    pub lost: u64,
    /// The first error, for the human line.
    pub first_error: Option<String>,
    /// Median round trip.
    pub p50: Duration,
    /// 99th-percentile round trip.
    pub p99: Duration,
}

impl Report {
    /// Measured datagrams per second.
    pub fn per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.messages as f64 / secs } else { 0.0 }
    }

    /// The one-line JSON summary the harness parses.
    pub fn json(&self) -> String {
        format!(
            "{{\"msgs_per_sec\":{:.1},\"p50_us\":{:.1},\"p99_us\":{:.1},\"errors\":{},\
             \"lost\":{},\"messages\":{},\"all_messages\":{}}}",
            self.per_sec(),
            self.p50.as_nanos() as f64 / 1e3,
            self.p99.as_nanos() as f64 / 1e3,
            self.errors,
            self.lost,
            self.messages,
            self.all_messages,
        )
    }

    /// The one-line human summary.
    pub fn human(&self) -> String {
        let mut s = format!(
            "{} datagrams in {:.2?}: {:.0}/s, p50 {:.1?}, p99 {:.1?}, {} errors ({} lost)",
            self.messages,
            self.elapsed,
            self.per_sec(),
            self.p50,
            self.p99,
            self.errors,
            self.lost
        );
        if let Some(e) = &self.first_error {
            s.push_str(&format!(" (first: {e})"));
        }
        s
    }
}

/// One client socket.
struct Client {
    socket: UdpSocket,
    next_send: u64,
    next_recv: u64,
    /// Send times by sequence number modulo 256 (the window is at most 250).
    sent_at: Vec<Instant>,
}

/// Runs the load and reports.
pub fn run(cfg: &Config) -> Result<Report> {
    ensure!(cfg.addr.ip().is_loopback(), "udp-load only targets loopback, not {}", cfg.addr);
    ensure!(cfg.conns > 0, "need at least one socket");
    ensure!((16..=65_507).contains(&cfg.size), "size must be 16..=65507");
    ensure!((1..=MAX_DEPTH).contains(&cfg.window), "window must be 1..={MAX_DEPTH}");
    let pattern = Pattern::new(cfg.size);
    let epoll = epoll::create(CreateFlags::CLOEXEC).context("epoll_create")?;
    let local = if cfg.addr.is_ipv4() { "127.0.0.1:0" } else { "[::1]:0" };
    let start = Instant::now();
    let mut clients = Vec::with_capacity(cfg.conns);
    for i in 0..cfg.conns {
        let socket = UdpSocket::bind(local).context("bind client")?;
        socket.connect(cfg.addr).context("connect client")?;
        socket.set_nonblocking(true)?;
        epoll::add(&epoll, &socket, EventData::new_u64(i as u64), EventFlags::IN)
            .context("epoll add")?;
        clients.push(Client { socket, next_send: 0, next_recv: 0, sent_at: vec![start; 256] });
    }
    let mut report = Report::default();
    let mut hist = Histogram::default();
    let mut msg = vec![0u8; cfg.size];
    let mut buf = vec![0u8; 65_536];
    let mut sent_total = 0u64;
    let measure_from = start + cfg.warmup;
    let end = measure_from + cfg.duration;
    let fail = |report: &mut Report, e: String| {
        report.errors += 1;
        report.first_error.get_or_insert(e);
    };
    let send = |c: &mut Client, conn: usize, msg: &mut [u8], sent_total: &mut u64| -> bool {
        let seq = c.next_send;
        msg[8..].copy_from_slice(&pattern.message(conn as u64, seq)[8..]);
        msg[..8].copy_from_slice(&seq.to_le_bytes());
        match c.socket.send(msg) {
            Ok(_) => {
                c.sent_at[(seq % 256) as usize] = Instant::now();
                c.next_send += 1;
                *sent_total += 1;
                true
            }
            Err(_) => false, // the socket's buffer is full: sent again on its next echo
        }
    };
    for (i, c) in clients.iter_mut().enumerate() {
        for _ in 0..cfg.window {
            send(c, i, &mut msg, &mut sent_total);
        }
    }
    let mut events: Vec<epoll::Event> = Vec::with_capacity(256);
    let mut measuring = false;
    let mut stopped = None;
    loop {
        let now = Instant::now();
        let sending = now < end && sent_total < cfg.max_messages;
        if !sending {
            stopped.get_or_insert(now);
        }
        if !measuring && now >= measure_from {
            measuring = true;
            report.messages = 0;
            hist.clear();
        }
        let in_flight: u64 = clients.iter().map(|c| c.next_send - c.next_recv).sum();
        if !sending && in_flight == 0 {
            break;
        }
        let timeout = rustix::time::Timespec { tv_sec: 1, tv_nsec: 0 };
        events.clear();
        match epoll::wait(&epoll, spare_capacity(&mut events), Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e).context("epoll_wait"),
        }
        if events.is_empty() {
            report.lost += in_flight;
            fail(&mut report, format!("{in_flight} datagrams not echoed within 1 s"));
            break;
        }
        for event in &events {
            let i = event.data.u64() as usize;
            let c = &mut clients[i];
            loop {
                let n = match c.socket.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => {
                        fail(&mut report, format!("socket {i}: {e}"));
                        break;
                    }
                };
                let seq = u64::from_le_bytes(buf[..8.min(n)].try_into().unwrap_or([0xff; 8]));
                if n != cfg.size || seq != c.next_recv {
                    fail(
                        &mut report,
                        format!("socket {i}: got #{seq} ({n} B), want #{}", c.next_recv),
                    );
                } else if buf[8..n] != pattern.message(i as u64, seq)[8..] {
                    fail(&mut report, format!("socket {i}: echo of #{seq} differs"));
                }
                if seq >= c.next_recv && seq < c.next_send {
                    c.next_recv = seq + 1;
                }
                report.all_messages += 1;
                if measuring {
                    report.messages += 1;
                    hist.record(c.sent_at[(seq % 256) as usize].elapsed());
                }
                if sending && c.next_send - c.next_recv < cfg.window as u64 {
                    send(c, i, &mut msg, &mut sent_total);
                }
            }
        }
    }
    let stopped = stopped.unwrap_or_else(Instant::now);
    report.elapsed = stopped.saturating_duration_since(measure_from);
    report.p50 = hist.quantile(0.5);
    report.p99 = hist.quantile(0.99);
    Ok(report)
}
