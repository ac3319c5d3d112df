//! [`Waker`]: an `eventfd(2)` counter. Writing to it makes the fd readable, which wakes an
//! epoll wait from any thread.
//!
//! Wakes coalesce, they do not count: ten [`Waker::wake`] calls before the loop looks make one
//! readable event, and one [`Waker::drain`] resets the counter to zero. Whoever drains must then
//! look at *all* the work that may have been posted, not one item per wake.

use rustix::event::{EventfdFlags, eventfd};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::{self, Errno};

/// A non-blocking, close-on-exec eventfd used to wake an epoll wait.
#[derive(Debug)]
pub struct Waker {
    fd: OwnedFd,
}

impl Waker {
    /// `eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)`.
    pub fn new() -> io::Result<Waker> {
        Ok(Waker { fd: eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)? })
    }

    /// Adds one to the counter, making the fd readable. Safe to call from any thread and any
    /// number of times; a counter that is already at its maximum is already readable, so
    /// `EAGAIN` is not an error here.
    pub fn wake(&self) -> io::Result<()> {
        loop {
            match rustix::io::write(&self.fd, &1u64.to_ne_bytes()) {
                Ok(_) | Err(Errno::AGAIN) => return Ok(()),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Resets the counter to zero. Returns whether any wake was pending.
    pub fn drain(&self) -> io::Result<bool> {
        let mut buf = [0u8; 8];
        loop {
            match rustix::io::read(&self.fd, &mut buf) {
                Ok(_) => return Ok(true),
                Err(Errno::AGAIN) => return Ok(false),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl AsFd for Waker {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_coalesce_and_drain_resets() {
        let w = Waker::new().unwrap();
        assert!(!w.drain().unwrap());
        for _ in 0..10 {
            w.wake().unwrap();
        }
        assert!(w.drain().unwrap());
        assert!(!w.drain().unwrap());
    }
}
