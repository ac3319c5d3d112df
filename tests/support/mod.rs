//! Shared helpers for the integration tests: real fds (pipes, socketpairs), a scripted
//! [`Probe`] handler that records every callback, a manual-clock manager, and fd counting.
#![allow(dead_code)] // each test binary uses a different subset

use ioman::{Config, Context, Failure, Handler, Key, Manager, ManualClock};
use rustix::fd::{AsRawFd, BorrowedFd, OwnedFd};
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use std::collections::HashMap;
use std::time::Duration;

/// Which callback ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Call {
    Read,
    Write,
    Timeout,
    Error,
    Hangup,
    Wake,
}

/// Loop-wide state of the tests: a log of callbacks and named keys.
#[derive(Default)]
pub struct World {
    pub log: Vec<(&'static str, Call)>,
    pub keys: HashMap<&'static str, Key>,
    /// fds the test keeps alive (peers), so they are not closed by accident.
    pub keep: Vec<OwnedFd>,
    /// Bytes read, per probe name.
    pub read: HashMap<&'static str, usize>,
}

impl World {
    /// The calls logged for `name`.
    pub fn calls(&self, name: &str) -> Vec<Call> {
        self.log.iter().filter(|(n, _)| *n == name).map(|(_, c)| *c).collect()
    }
}

pub type Hook = Box<dyn FnMut(&mut Context<'_, World>)>;

/// A handler that logs each callback in the `World`, drains readable fds, and then runs the
/// hook scripted for that callback (the default behaviour of `Handler` where none is given).
pub struct Probe {
    pub name: &'static str,
    read: Option<Hook>,
    write: Option<Hook>,
    timeout: Option<Hook>,
    error: Option<Hook>,
    wake: Option<Hook>,
}

impl Probe {
    pub fn new(name: &'static str) -> Probe {
        Probe { name, read: None, write: None, timeout: None, error: None, wake: None }
    }
    pub fn on_read(mut self, f: impl FnMut(&mut Context<'_, World>) + 'static) -> Probe {
        self.read = Some(Box::new(f));
        self
    }
    pub fn on_write(mut self, f: impl FnMut(&mut Context<'_, World>) + 'static) -> Probe {
        self.write = Some(Box::new(f));
        self
    }
    pub fn on_timeout(mut self, f: impl FnMut(&mut Context<'_, World>) + 'static) -> Probe {
        self.timeout = Some(Box::new(f));
        self
    }
    pub fn on_error(mut self, f: impl FnMut(&mut Context<'_, World>) + 'static) -> Probe {
        self.error = Some(Box::new(f));
        self
    }
    pub fn on_wake(mut self, f: impl FnMut(&mut Context<'_, World>) + 'static) -> Probe {
        self.wake = Some(Box::new(f));
        self
    }
}

impl Handler<World> for Probe {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, World>) {
        cx.state().log.push((self.name, Call::Read));
        let n = drain(fd);
        *cx.state().read.entry(self.name).or_default() += n;
        if let Some(f) = &mut self.read {
            f(cx);
        }
    }
    fn on_write(&mut self, _fd: BorrowedFd<'_>, cx: &mut Context<'_, World>) {
        cx.state().log.push((self.name, Call::Write));
        match &mut self.write {
            Some(f) => f(cx),
            None => cx.remove_interest(ioman::Interest::WRITE),
        }
    }
    fn on_timeout(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, World>) {
        cx.state().log.push((self.name, Call::Timeout));
        match &mut self.timeout {
            Some(f) => f(cx),
            None => cx.close(),
        }
    }
    fn on_wake(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, World>) {
        cx.state().log.push((self.name, Call::Wake));
        if let Some(f) = &mut self.wake {
            f(cx);
        }
    }
    fn on_error(&mut self, _fd: BorrowedFd<'_>, failure: Failure, cx: &mut Context<'_, World>) {
        let call = match failure {
            Failure::Hangup => Call::Hangup,
            Failure::Error(_) => Call::Error,
        };
        cx.state().log.push((self.name, call));
        if let Some(f) = &mut self.error {
            f(cx);
        }
    }
}

/// Reads everything available (non-blocking fd); returns the byte count.
pub fn drain(fd: BorrowedFd<'_>) -> usize {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    while let Ok(n @ 1..) = rustix::io::read(fd, &mut buf) {
        total += n;
    }
    total
}

/// A non-blocking, close-on-exec pipe: (read end, write end).
pub fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::NONBLOCK | rustix::pipe::PipeFlags::CLOEXEC)
        .expect("pipe2")
}

/// A non-blocking, close-on-exec Unix stream socketpair.
pub fn socketpair() -> (OwnedFd, OwnedFd) {
    rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )
    .expect("socketpair")
}

/// Writes all of `data` to a (non-blocking) fd that has room for it.
#[track_caller]
pub fn send(fd: &OwnedFd, data: &[u8]) {
    assert_eq!(rustix::io::write(fd, data).expect("write"), data.len());
}

/// A manager over `World` whose time only moves when the returned clock is advanced.
pub fn manual() -> (Manager<World>, ManualClock) {
    let clock = ManualClock::new();
    let m = Manager::with_config(World::default(), Config::default().clock(clock.clone()))
        .expect("manager");
    (m, clock)
}

/// One turn that does not wait.
#[track_caller]
pub fn poll(m: &mut Manager<World>) -> usize {
    m.turn(Some(Duration::ZERO)).expect("turn")
}

/// The number of open fds of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd").count()
}

/// Whether fd number `n` is open in this process.
pub fn is_open(n: i32) -> bool {
    std::fs::metadata(format!("/proc/self/fd/{n}")).is_ok()
}

/// The raw number of an fd, for the tests that check numbers are reused.
pub fn number(fd: &OwnedFd) -> i32 {
    fd.as_raw_fd()
}

/// One round of the allocation tests: 4 bytes to each of `peers`, the clock a millisecond on,
/// three turns, and the 4 echoed bytes read back from each.
pub fn echo_round<S, R: Handler<S, R>>(
    m: &mut Manager<S, R>,
    clock: &ManualClock,
    peers: &[OwnedFd],
) {
    let mut buf = [0u8; 64];
    for p in peers {
        rustix::io::write(p, b"ping").unwrap();
    }
    clock.advance(Duration::from_millis(1));
    for _ in 0..3 {
        m.turn(Some(Duration::ZERO)).unwrap();
    }
    for p in peers {
        assert_eq!(rustix::io::read(p, &mut buf).unwrap(), 4);
    }
}
