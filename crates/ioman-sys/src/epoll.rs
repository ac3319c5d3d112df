//! [`Epoll`]: one epoll instance. Registrations carry a `u64` token chosen by the caller;
//! waiting takes a [`Duration`], rounded up to the millisecond, and hides `EINTR`.

use crate::{Events, Interest};
use rustix::event::epoll::{self, CreateFlags, EventData};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io;
use rustix::time::Timespec;
use std::time::Duration;

/// An epoll instance, created close-on-exec and closed on drop.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    /// `epoll_create1(EPOLL_CLOEXEC)`.
    pub fn new() -> io::Result<Epoll> {
        Ok(Epoll { fd: epoll::create(CreateFlags::CLOEXEC)? })
    }

    /// `epoll_ctl(EPOLL_CTL_ADD)`: start watching `fd`, level-triggered, reporting `token`.
    ///
    /// `None` interest registers the fd for error and hang-up reports only.
    /// Fails with `EEXIST` if `fd` is already registered and `EPERM` if the fd cannot be
    /// polled (a regular file or a directory).
    pub fn add(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Option<Interest>,
    ) -> io::Result<()> {
        epoll::add(&self.fd, fd, EventData::new_u64(token), Interest::to_epoll(interest))
    }

    /// `epoll_ctl(EPOLL_CTL_MOD)`: change the interest (and token) of a registered fd.
    pub fn modify(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Option<Interest>,
    ) -> io::Result<()> {
        epoll::modify(&self.fd, fd, EventData::new_u64(token), Interest::to_epoll(interest))
    }

    /// `epoll_ctl(EPOLL_CTL_DEL)`: stop watching `fd`.
    pub fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        epoll::delete(&self.fd, fd)
    }

    /// `epoll_pwait`: waits until at least one registered fd is ready or `timeout` has passed
    /// (`None`: no time limit; `Some(Duration::ZERO)`: just poll), and fills `events`.
    ///
    /// The timeout is rounded up to whole milliseconds, so a deadline 300 µs away sleeps 1 ms
    /// rather than turning into a busy zero-timeout poll. A signal that interrupts the wait
    /// (`EINTR`) is not an error: an untimed wait resumes; a timed one returns early with no
    /// events (`Ok(0)`), so that its caller recomputes the time left from its own clock
    /// rather than this call reading one on every wait. Returns the number of events.
    ///
    /// Inlined: this is the one call every turn makes, and the plain call (the syscall and
    /// nothing else) is most of what a wait costs in user space. The interrupted case is out
    /// of line.
    #[inline]
    pub fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
        events.list.clear();
        let spec = timeout.map(to_timespec);
        let spare = rustix::buffer::spare_capacity(&mut events.list);
        match epoll::wait(&self.fd, spare, spec.as_ref()) {
            Err(io::Errno::INTR) => self.interrupted(events, timeout.is_some()),
            other => other,
        }
    }

    /// A wait was interrupted by a signal: a timed one ends with no events, an untimed one
    /// waits again (as often as signals interrupt it).
    #[cold]
    #[inline(never)]
    fn interrupted(&self, events: &mut Events, timed: bool) -> io::Result<usize> {
        loop {
            events.list.clear();
            if timed {
                return Ok(0);
            }
            let spare = rustix::buffer::spare_capacity(&mut events.list);
            match epoll::wait(&self.fd, spare, None) {
                Err(io::Errno::INTR) => continue,
                other => return other,
            }
        }
    }
}

impl AsFd for Epoll {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn to_timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(d.subsec_nanos()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Waker;
    use std::time::Instant;

    #[test]
    fn wait_reports_token_of_ready_fd() {
        let ep = Epoll::new().unwrap();
        let w = Waker::new().unwrap();
        ep.add(w.as_fd(), 42, Some(Interest::READ)).unwrap();
        let mut ev = Events::with_capacity(8);
        assert_eq!(ep.wait(&mut ev, Some(Duration::ZERO)).unwrap(), 0);
        w.wake().unwrap();
        assert_eq!(ep.wait(&mut ev, Some(Duration::from_secs(5))).unwrap(), 1);
        let (token, ready) = ev.get(0).unwrap();
        assert_eq!(token, 42);
        assert!(ready.is_readable() && !ready.is_writable());
        ep.modify(w.as_fd(), 7, None).unwrap();
        assert_eq!(ep.wait(&mut ev, Some(Duration::ZERO)).unwrap(), 0);
        ep.delete(w.as_fd()).unwrap();
        assert_eq!(ep.add(w.as_fd(), 1, Some(Interest::READ)), Ok(()));
        assert_eq!(ep.add(w.as_fd(), 1, Some(Interest::READ)), Err(io::Errno::EXIST));
    }

    #[test]
    fn sub_millisecond_timeout_sleeps() {
        let ep = Epoll::new().unwrap();
        let mut ev = Events::with_capacity(1);
        let start = Instant::now();
        ep.wait(&mut ev, Some(Duration::from_micros(300))).unwrap();
        // A lower bound only: sleeping at least the timeout is the guarantee.
        assert!(start.elapsed() >= Duration::from_micros(300));
    }
}
