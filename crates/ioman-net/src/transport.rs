//! [`Transport`]: the seam under a [`Connection`](crate::Connection) — where its bytes come
//! from and where they go. The connection's policies (offering input, watermarks, timeouts,
//! half-close, the close path) are written once, against this seam; what varies is only how
//! bytes cross it:
//! - the registration's socket (TCP or Unix), with `read`, `send`/`sendmsg`/`sendfile` and
//!   `shutdown`;
//! - an in-memory wire ([`testing`](crate::testing)): the connection is a detached registration
//!   and the harness plays the peer and the kernel.
//!
//! A transport never blocks: "nothing now" is `EAGAIN` on reading and a short count on
//! sending, exactly as a non-blocking socket reports it.

use crate::Outbox;
use crate::endpoint::Endpoint;
use crate::testing::Wire;
use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use std::cell::RefCell;
use std::io;
use std::rc::Rc;

/// How a connection's bytes travel (see the module docs).
pub(crate) enum Transport {
    /// The registration's own fd.
    Socket,
    /// An in-memory wire shared with a test harness.
    Memory(Rc<RefCell<Wire>>),
}

impl Transport {
    /// Reads into `buf`: `Ok(0)` is end of stream, `Err(AGAIN)` nothing for now.
    #[inline]
    pub(crate) fn read(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        buf: &mut [u8],
    ) -> rustix::io::Result<usize> {
        match (self, fd) {
            (Transport::Socket, Some(fd)) => rustix::io::read(fd, buf),
            (Transport::Socket, None) => Err(Errno::AGAIN),
            (Transport::Memory(wire), _) => wire.borrow_mut().read(buf),
        }
    }

    /// Sends as much of `out` as the other side takes now, about `budget` bytes at most.
    #[inline]
    pub(crate) fn send(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        out: &mut Outbox,
        budget: usize,
    ) -> io::Result<usize> {
        match (self, fd) {
            (Transport::Socket, Some(fd)) => out.send(fd, budget),
            (Transport::Socket, None) => Ok(0),
            (Transport::Memory(wire), _) => wire.borrow_mut().take_output(out, budget),
        }
    }

    /// Shuts down the sending side once everything was sent. Fails only if the peer is already
    /// gone, which the next event reports, so the result is not needed.
    pub(crate) fn shutdown_write(&mut self, fd: Option<BorrowedFd<'_>>) {
        match (self, fd) {
            (Transport::Socket, Some(fd)) => {
                let _ = rustix::net::shutdown(fd, rustix::net::Shutdown::Write);
            }
            (Transport::Socket, None) => {}
            (Transport::Memory(wire), _) => wire.borrow_mut().shut_write(),
        }
    }

    /// Whether a wake of a detached registration finds something to read (the in-memory
    /// transport's readiness; a socket's comes from epoll).
    pub(crate) fn wake_finds_input(&self, fd: Option<BorrowedFd<'_>>) -> bool {
        match self {
            Transport::Socket => false,
            Transport::Memory(wire) => fd.is_none() && wire.borrow().readable(),
        }
    }

    /// Whether a wake of a detached registration finds room to send (its `EPOLLOUT`).
    pub(crate) fn wake_finds_room(&self) -> bool {
        match self {
            Transport::Socket => false,
            Transport::Memory(wire) => wire.borrow().writable(),
        }
    }

    /// Whether a wake finds the peer gone (reset): the close path runs with that error.
    pub(crate) fn reset(&self) -> bool {
        match self {
            Transport::Socket => false,
            Transport::Memory(wire) => wire.borrow().is_reset(),
        }
    }

    /// Whether the peer has finished sending, as far as this transport knows without reading.
    pub(crate) fn peer_fin_pending(&self) -> bool {
        match self {
            Transport::Socket => false,
            Transport::Memory(wire) => wire.borrow().fin_pending(),
        }
    }

    /// The peer's address.
    pub(crate) fn peer_addr(&self, fd: Option<BorrowedFd<'_>>) -> Option<Endpoint> {
        match self {
            Transport::Socket => crate::peer_endpoint(fd?).ok(),
            Transport::Memory(wire) => wire.borrow().peer_addr(),
        }
    }

    /// This end's address.
    pub(crate) fn local_addr(&self, fd: Option<BorrowedFd<'_>>) -> Option<Endpoint> {
        match self {
            Transport::Socket => crate::local_endpoint(fd?).ok(),
            Transport::Memory(wire) => wire.borrow().local_addr(),
        }
    }

    /// Hands the reason a connection closed to whoever watches the transport (the harness).
    pub(crate) fn closed(&mut self, reason: crate::CloseReason) {
        if let Transport::Memory(wire) = self {
            wire.borrow_mut().record_close(reason);
        }
    }
}
