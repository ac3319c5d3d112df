//! Dispatch is allocation-free in steady state: after a warm-up, a thousand turns of reads,
//! writes, interest changes, idle-timeout resets and periodic timer firings allocate nothing;
//! nor do the dispatch benchmark's workloads (the one-byte ping-pong with one pair, one event
//! per turn, and with 64 pairs, up to 64 per turn). Counted with dhat's global allocator (one
//! test per binary: one profiler at a time).

mod support;

use ioman::{Config, Context, Handler, Interest, Manager, ManualClock, Timeout, Timer};
use rustix::fd::BorrowedFd;
use std::time::Duration;
use support::{echo_round, socketpair};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Echoes what it reads; toggles its write interest on and off to exercise interest changes.
struct Echo {
    buf: Vec<u8>,
    pending: usize,
}

impl Handler<u64> for Echo {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, u64>) {
        match rustix::io::read(fd, &mut self.buf) {
            Ok(0) | Err(_) => cx.close(),
            Ok(n) => {
                self.pending = n;
                cx.set_interest(Interest::BOTH);
            }
        }
    }
    fn on_write(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, u64>) {
        if let Ok(n) = rustix::io::write(fd, &self.buf[..self.pending]) {
            self.pending -= n;
            *cx.state() += n as u64;
        }
        if self.pending == 0 {
            cx.set_interest(Interest::READ);
        }
    }
}

/// The `pingpong-ioman` handler: reads the byte and writes it back, counting events.
struct Pong {
    buf: [u8; 64],
}

impl Handler<u64> for Pong {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, u64>) {
        if let Ok(1) = rustix::io::read(fd, &mut self.buf) {
            *cx.state() += 1;
            let _ = rustix::io::write(fd, &self.buf[..1]);
        }
    }
}

/// `pairs` socketpairs with a `Pong` at both ends and one byte in flight on each; returns
/// the events dispatched by `turns` turns after a warm-up and the blocks allocated meanwhile.
fn ping_pong(pairs: usize, turns: usize) -> (u64, u64) {
    let mut m: Manager<u64> = Manager::new().unwrap();
    for _ in 0..pairs {
        let (a, b) = socketpair();
        rustix::io::write(&a, b"x").unwrap();
        m.add(a, Interest::READ, Timeout::Never, Pong { buf: [0; 64] }).unwrap();
        m.add(b, Interest::READ, Timeout::Never, Pong { buf: [0; 64] }).unwrap();
    }
    for _ in 0..100 {
        m.turn(Some(Duration::from_secs(5))).unwrap();
    }
    let (events, before) = (*m.state(), dhat::HeapStats::get());
    for _ in 0..turns {
        m.turn(Some(Duration::from_secs(5))).unwrap();
    }
    let after = dhat::HeapStats::get();
    (*m.state() - events, after.total_blocks - before.total_blocks)
}

struct Tick;
impl Handler<u64> for Tick {
    fn on_timeout(&mut self, _fd: Option<BorrowedFd<'_>>, _cx: &mut Context<'_, u64>) {}
}

#[test]
fn steady_state_dispatch_allocates_nothing() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let clock = ManualClock::new();
    let mut m: Manager<u64> =
        Manager::with_config(0, Config::default().clock(clock.clone())).unwrap();
    let mut peers = Vec::new();
    for _ in 0..64 {
        let (fd, peer) = socketpair();
        let echo = Echo { buf: vec![0; 4096], pending: 0 };
        m.add(fd, Interest::READ, Timeout::Idle(Duration::from_secs(60)), echo).unwrap();
        peers.push(peer);
    }
    m.add_timer(Timer::every(Duration::from_millis(1)), Tick).unwrap();
    for _ in 0..200 {
        echo_round(&mut m, &clock, &peers);
    }
    let before = dhat::HeapStats::get();
    for _ in 0..1000 {
        echo_round(&mut m, &clock, &peers);
    }
    let after = dhat::HeapStats::get();
    assert_eq!(*m.state(), 64 * 4 * 1200);
    assert!(m.stats().timeouts_fired >= 1000);
    assert_eq!(after.total_blocks - before.total_blocks, 0, "allocations in steady state");
    drop(m);

    let (events, blocks) = ping_pong(1, 1000);
    assert_eq!((events, blocks), (1000, 0), "one pair: one event per turn, no allocation");
    let (events, blocks) = ping_pong(64, 1000);
    assert!(events >= 64_000 / 2, "64 pairs: many events per turn ({events})");
    assert_eq!(blocks, 0, "64 pairs: no allocation");
}
