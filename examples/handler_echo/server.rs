//! The handlers of `handler_echo`, apart from `main.rs` so that
//! `tests/handler_echo_example.rs` can drive them in-process: `Acceptor` registers each new
//! connection, `Echo` reads what arrived and writes it back, and `Signals` drains the server
//! on SIGINT/SIGTERM (stop accepting, let connections finish, return from `run` within
//! [`GRACE`]).
//!
//! The one thing a raw accept loop must not get wrong: when `accept` fails for lack of file
//! descriptors (`EMFILE`), the pending connection stays in the backlog and level-triggered
//! epoll reports the listener again at once — returning and waiting for "the next event"
//! spins the loop at 100% CPU. So the acceptor pauses (no interest), arms its own timeout,
//! and tries again when it fires. (`ioman::net::Listener` does this and more: it also sheds
//! the waiting clients with a reserve fd.)

use ioman::{Context, Handler, Interest, Key, Timeout, Timer};
use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use rustix::net::{SocketFlags, accept_with};
use std::time::Duration;

/// How long accepting pauses after an accept failure.
pub const BACKOFF: Duration = Duration::from_millis(100);

/// How long open connections may finish after SIGINT/SIGTERM.
pub const GRACE: Duration = Duration::from_secs(5);

/// Accepts connections and hands each to an `Echo` with a 60 s idle timeout.
#[derive(Default)]
pub struct Acceptor {
    paused: bool,
}

impl Handler for Acceptor {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, ()>) {
        // Accept what is pending, up to a bound, so one busy listener cannot hog a turn.
        for _ in 0..64 {
            match accept_with(fd, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) {
                Ok(conn) => {
                    let idle = Timeout::Idle(Duration::from_secs(60));
                    let echo = Echo { buf: vec![0; 16 * 1024], len: 0 };
                    let _ = cx.add(conn, Interest::READ, idle, echo);
                }
                Err(Errno::AGAIN) => return, // nothing left: wait for the next event
                Err(Errno::INTR | Errno::CONNABORTED) => {}
                Err(_) => {
                    // Out of fds (or another failure): the connection is still pending, so
                    // epoll would report it again at once. Stop listening for a while.
                    self.paused = true;
                    cx.set_interest(None);
                    cx.set_timeout(Timeout::Idle(BACKOFF));
                    return;
                }
            }
        }
    }

    fn on_timeout(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, ()>) {
        // Overrides the default (close): the acceptor's only timeout is its backoff.
        if std::mem::take(&mut self.paused) {
            cx.set_interest(Interest::READ);
        }
        cx.set_timeout(Timeout::Never);
    }
}

/// Echoes bytes back; while the peer is slow to read, stops reading and waits to write.
pub struct Echo {
    buf: Vec<u8>,
    len: usize, // bytes read but not yet written back
}

impl Handler for Echo {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, ()>) {
        match rustix::io::read(fd, &mut self.buf) {
            Ok(0) => cx.close(), // end of stream
            Ok(n) => {
                self.len = n;
                self.on_write(fd, cx);
            }
            Err(Errno::AGAIN) => {}
            Err(_) => cx.close(),
        }
    }

    fn on_write(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, ()>) {
        match rustix::net::send(fd, &self.buf[..self.len], rustix::net::SendFlags::NOSIGNAL) {
            Ok(n) => {
                self.buf.copy_within(n..self.len, 0);
                self.len -= n;
            }
            Err(Errno::AGAIN) => {}
            Err(_) => return cx.close(),
        }
        // Read again only once everything was written back: memory stays bounded.
        cx.set_interest(if self.len == 0 { Interest::READ } else { Interest::WRITE });
    }
}

/// Watches the signal pipe (`ioman::net::shutdown::signal_pipe`): on SIGINT or SIGTERM, closes
/// the listener and starts a `Drain`. A second signal stops at once.
pub struct Signals {
    /// The listener's registration.
    pub listener: Key,
    draining: bool,
}

impl Signals {
    /// Watches for signals on behalf of `listener`.
    pub fn new(listener: Key) -> Signals {
        Signals { listener, draining: false }
    }
}

impl Handler for Signals {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, ()>) {
        let mut buf = [0u8; 64];
        while let Ok(1..) = rustix::io::read(fd, &mut buf) {}
        if std::mem::replace(&mut self.draining, true) {
            return cx.stop(); // asked twice: now
        }
        let _ = cx.close_key(self.listener);
        let checks = (GRACE.as_millis() / 50) as u32;
        if cx.add_timer(Timer::every(Duration::from_millis(50)), Drain { checks }).is_err() {
            cx.stop();
        }
    }
}

/// Checks every 50 ms whether only the signal watch and itself are left (every connection
/// finished), and stops the manager then, or when the grace period is over.
struct Drain {
    checks: u32,
}

impl Handler for Drain {
    fn on_timeout(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, ()>) {
        self.checks = self.checks.saturating_sub(1);
        if cx.stats().registrations <= 2 || self.checks == 0 {
            cx.stop();
        }
    }
}
