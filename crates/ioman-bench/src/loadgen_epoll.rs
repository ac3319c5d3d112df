//! The first echo load generator, on plain rustix epoll, kept as the reference the
//! ioman-based [`loadgen`](crate::loadgen) is measured against (`loadgen-epoll` binary,
//! `cargo xtask bench --only loadgen`): same [`Config`], same [`Report`], same checks.
//!
//! One thread, one epoll instance, level-triggered: every connection keeps `depth` messages
//! in flight, every echoed byte is checked, every completed message's round trip goes into a
//! [`Histogram`]. The run is bounded twice: by time (`warmup + duration`) and by count
//! (`max_messages` measured messages), and it also ends early if every connection failed.

mod conn;

pub use conn::{Conn, ConnError};

use crate::histogram::Histogram;
use crate::loadgen::{Config, Report, check};
use crate::pattern::Pattern;
use anyhow::{Context, Result, bail};
use rustix::buffer::spare_capacity;
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::time::Timespec;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long connection setup may take in total before the run is abandoned.
const CONNECT_BUDGET: Duration = Duration::from_secs(20);
/// The longest single `epoll_wait`, so the time bounds are checked often.
const TICK: Duration = Duration::from_millis(20);
/// The read buffer shared by every connection.
const READ_BUF: usize = 64 * 1024;

fn connect_all(cfg: &Config) -> Result<Vec<Conn>> {
    let deadline = Instant::now() + CONNECT_BUDGET;
    let mut conns = Vec::with_capacity(cfg.conns);
    for id in 0..cfg.conns {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("connected only {id} of {} connections in {CONNECT_BUDGET:?}", cfg.conns);
        }
        let s = TcpStream::connect_timeout(&cfg.addr, left.min(Duration::from_secs(5)))
            .with_context(|| format!("connect #{id} to {}", cfg.addr))?;
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        conns.push(Conn::new(s, id as u64, cfg.depth));
    }
    Ok(conns)
}

fn timespec(d: Duration) -> Timespec {
    Timespec { tv_sec: d.as_secs() as _, tv_nsec: d.subsec_nanos() as _ }
}

fn interest(wants_write: bool) -> EventFlags {
    if wants_write { EventFlags::IN | EventFlags::OUT } else { EventFlags::IN }
}

/// Runs the load described by `cfg` against an echo server and reports what it measured.
///
/// Verification failures are not an `Err`: they are counted in [`Report::errors`] (the
/// connection is dropped, the others go on). `Err` means the run could not happen at all.
pub fn run(cfg: &Config) -> Result<Report> {
    check(cfg)?;
    let pat = Pattern::new(cfg.size);
    let mut stage = vec![0u8; cfg.size * cfg.depth];
    let mut rbuf = vec![0u8; READ_BUF];
    let ep = epoll::create(CreateFlags::CLOEXEC).context("epoll_create1")?;
    let mut conns: Vec<Option<Conn>> = connect_all(cfg)?.into_iter().map(Some).collect();

    let mut hist = Histogram::default();
    let (mut messages, mut all_messages, mut errors) = (0u64, 0u64, 0u64);
    let mut first_error: Option<String> = None;
    let mut fail = |conns: &mut Vec<Option<Conn>>, i: usize, e: ConnError| {
        errors += 1;
        first_error.get_or_insert_with(|| format!("connection {i}: {e}"));
        conns[i] = None; // closing the fd also removes it from the epoll set
    };

    let start = Instant::now();
    for i in 0..conns.len() {
        let c = conns[i].as_mut().expect("fresh");
        let r = c.fill(&pat, &mut stage, start);
        let reg =
            epoll::add(&ep, c.stream(), EventData::new_u64(i as u64), interest(c.wants_write));
        reg.context("epoll_ctl(ADD)")?;
        if let Err(e) = r {
            fail(&mut conns, i, e);
        }
    }
    let mut alive = conns.iter().flatten().count();

    let warm_end = start + cfg.warmup;
    let end = warm_end + cfg.duration;
    let mut measuring = cfg.warmup.is_zero();
    let mut measure_start = start;
    let mut events = Vec::with_capacity(1024);
    loop {
        let now = Instant::now();
        if !measuring && now >= warm_end {
            measuring = true;
            hist.clear();
            messages = 0;
            measure_start = now;
        }
        if now >= end || messages >= cfg.max_messages || alive == 0 {
            break;
        }
        let next = if measuring { end } else { warm_end };
        let wait = timespec(next.saturating_duration_since(now).min(TICK));
        events.clear();
        match epoll::wait(&ep, spare_capacity(&mut events), Some(&wait)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e).context("epoll_wait"),
        }
        for ev in &events {
            let (flags, i) = (ev.flags, ev.data.u64() as usize);
            let Some(c) = conns[i].as_mut() else { continue };
            let before = c.wants_write;
            let now = Instant::now();
            let mut r = Ok(());
            if flags.intersects(EventFlags::IN | EventFlags::ERR | EventFlags::HUP) {
                r = c
                    .read(&pat, &mut rbuf, now, |rtt| {
                        all_messages += 1;
                        if measuring {
                            messages += 1;
                            hist.record(rtt);
                        }
                    })
                    .map(drop);
            }
            if r.is_ok() {
                r = c.fill(&pat, &mut stage, now);
            }
            if r.is_ok() && c.wants_write != before {
                let f = interest(c.wants_write);
                epoll::modify(&ep, c.stream(), EventData::new_u64(i as u64), f)
                    .context("epoll_ctl(MOD)")?;
            }
            if let Err(e) = r {
                fail(&mut conns, i, e);
                alive -= 1;
            }
        }
    }
    let elapsed = if measuring { measure_start.elapsed() } else { Duration::ZERO };
    Ok(Report {
        messages: if measuring { messages } else { 0 },
        all_messages,
        elapsed,
        errors,
        first_error,
        p50: hist.quantile(0.50),
        p99: hist.quantile(0.99),
        cpu: crate::cpu::CpuTimes::own(),
    })
}
