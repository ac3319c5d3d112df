//! [`Transport`]: the seam under a [`Connection`](crate::Connection) — where its bytes come
//! from and where they go. The connection's policies (offering input, watermarks, timeouts,
//! half-close, the close path) are written once, against this seam; what varies is only how
//! bytes cross it:
//! - the registration's socket (TCP or Unix), with `read`, `send`/`sendmsg`/`sendfile` and
//!   `shutdown`;
//! - TLS over that socket (`tls.rs`, with the `tls` feature): rustls between the connection's
//!   plaintext and the socket's ciphertext;
//! - an in-memory wire ([`testing`](crate::testing)): the connection is a detached registration
//!   and the harness plays the peer and the kernel.
//!
//! A transport never blocks: "nothing now" is `EAGAIN` on reading and a short count on
//! sending, exactly as a non-blocking socket reports it.

#[cfg(feature = "tls")]
pub(crate) mod tls;

use crate::endpoint::Endpoint;
use crate::testing::Wire;
use crate::{CloseReason, Outbox};
use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use std::cell::RefCell;
use std::io;
use std::rc::Rc;

/// How a connection's bytes travel (see the module docs). One pointer: `None` is the
/// registration's own socket (the common case costs a connection 8 bytes and one compare per
/// operation); anything else is boxed.
pub(crate) struct Transport(Option<Box<Layer>>);

/// A transport other than the plain socket (boxed as a whole by [`Transport`], so the
/// variants' sizes may differ).
#[allow(clippy::large_enum_variant)]
pub(crate) enum Layer {
    /// An in-memory wire shared with a test harness.
    Memory(Rc<RefCell<Wire>>),
    /// TLS over the registration's fd.
    #[cfg(feature = "tls")]
    Tls(tls::TlsStream),
}

impl Transport {
    /// The registration's own socket.
    pub(crate) const SOCKET: Transport = Transport(None);

    /// Another transport.
    pub(crate) fn layered(layer: Layer) -> Transport {
        Transport(Some(Box::new(layer)))
    }

    /// The TLS session, if this is TLS.
    #[cfg(feature = "tls")]
    pub(crate) fn tls(&self) -> Option<&tls::TlsStream> {
        match self.0.as_deref() {
            Some(Layer::Tls(tls)) => Some(tls),
            _ => None,
        }
    }

    /// Reads into `buf`: `Ok(0)` is end of stream, `Err(AGAIN)` nothing for now.
    #[inline]
    pub(crate) fn read(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        buf: &mut [u8],
    ) -> rustix::io::Result<usize> {
        match (self.0.as_deref_mut(), fd) {
            (None, Some(fd)) => rustix::io::read(fd, buf),
            (Some(Layer::Memory(wire)), _) => wire.borrow_mut().read(buf),
            #[cfg(feature = "tls")]
            (Some(Layer::Tls(tls)), Some(fd)) => tls.read(fd, buf),
            _ => Err(Errno::AGAIN),
        }
    }

    /// Why a read failed with `errno`: a TLS error the session kept, or the OS error.
    #[cold]
    pub(crate) fn failure(&mut self, errno: Errno) -> CloseReason {
        #[cfg(feature = "tls")]
        if let Some(Layer::Tls(tls)) = self.0.as_deref_mut() {
            if let Some(e) = tls.take_failure() {
                return CloseReason::Tls(e);
            }
        }
        CloseReason::Error(errno.into())
    }

    /// Sends as much of `out` as the other side takes now, about `budget` bytes at most.
    #[inline]
    pub(crate) fn send(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        out: &mut Outbox,
        budget: usize,
    ) -> io::Result<usize> {
        match (self.0.as_deref_mut(), fd) {
            (None, Some(fd)) => out.send(fd, budget),
            (Some(Layer::Memory(wire)), _) => wire.borrow_mut().take_output(out, budget),
            #[cfg(feature = "tls")]
            (Some(Layer::Tls(tls)), Some(fd)) => tls.send(fd, out, budget),
            _ => Ok(0),
        }
    }

    /// Output the transport itself still holds (TLS ciphertext the socket did not take): the
    /// connection's output is not drained, and `EPOLLOUT` stays armed, until it has left.
    #[inline]
    pub(crate) fn has_pending_output(&self) -> bool {
        match self.0.as_deref() {
            None => false,
            #[cfg(feature = "tls")]
            Some(Layer::Tls(tls)) => tls.has_pending_output(),
            Some(_) => false,
        }
    }

    /// Input the transport holds that epoll will not report (TLS plaintext already decrypted):
    /// the connection wakes itself to read it.
    #[inline]
    pub(crate) fn has_buffered_input(&mut self) -> bool {
        match self.0.as_deref_mut() {
            None => false,
            #[cfg(feature = "tls")]
            Some(Layer::Tls(tls)) => tls.has_buffered_input(),
            Some(_) => false,
        }
    }

    /// Moves a TLS handshake on (see `TlsStream::advance_handshake`); nothing for others.
    pub(crate) fn advance_handshake(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
    ) -> rustix::io::Result<()> {
        match (self.0.as_deref_mut(), fd) {
            #[cfg(feature = "tls")]
            (Some(Layer::Tls(tls)), Some(fd)) => tls.advance_handshake(fd),
            _ => Ok(()),
        }
    }

    /// Whether the peer closed before the TLS handshake finished (nothing more can come).
    pub(crate) fn ended_in_handshake(&self) -> bool {
        match self.0.as_deref() {
            #[cfg(feature = "tls")]
            Some(Layer::Tls(tls)) => tls.ended_in_handshake(),
            _ => false,
        }
    }

    /// Whether a TLS handshake is still under way (its deadline applies).
    #[inline]
    pub(crate) fn handshaking(&self) -> bool {
        match self.0.as_deref() {
            None => false,
            #[cfg(feature = "tls")]
            Some(Layer::Tls(tls)) => tls.is_handshaking(),
            Some(_) => false,
        }
    }

    /// The handshake deadline, set the first time it is asked for (`now + timeout`).
    pub(crate) fn handshake_deadline(
        &mut self,
        now: std::time::Instant,
        timeout: std::time::Duration,
    ) -> Option<std::time::Instant> {
        match self.0.as_deref_mut() {
            #[cfg(feature = "tls")]
            Some(Layer::Tls(tls)) => Some(*tls.deadline.get_or_insert(now + timeout)),
            _ => {
                let _ = (now, timeout);
                None
            }
        }
    }

    /// The connection is closing (`clean`: without a fault): TLS says `close_notify`.
    pub(crate) fn close(&mut self, fd: Option<BorrowedFd<'_>>, clean: bool) {
        #[cfg(feature = "tls")]
        if let (Some(Layer::Tls(tls)), Some(fd)) = (self.0.as_deref_mut(), fd) {
            tls.close(fd, clean);
        }
        let _ = (fd, clean);
    }

    /// Shuts down the sending side once everything was sent. Fails only if the peer is already
    /// gone, which the next event reports, so the result is not needed.
    pub(crate) fn shutdown_write(&mut self, fd: Option<BorrowedFd<'_>>) {
        match (self.0.as_deref_mut(), fd) {
            (None, Some(fd)) => {
                let _ = rustix::net::shutdown(fd, rustix::net::Shutdown::Write);
            }
            (Some(Layer::Memory(wire)), _) => wire.borrow_mut().shut_write(),
            #[cfg(feature = "tls")]
            (Some(Layer::Tls(tls)), Some(fd)) => tls.shutdown_write(fd),
            _ => {}
        }
    }

    /// Whether a wake finds input that epoll will not report: the wire's (a detached
    /// registration's readiness comes as wakes), or decrypted TLS plaintext.
    pub(crate) fn wake_finds_input(&mut self, fd: Option<BorrowedFd<'_>>) -> bool {
        match self.0.as_deref_mut() {
            None => false,
            Some(Layer::Memory(wire)) => fd.is_none() && wire.borrow().readable(),
            #[cfg(feature = "tls")]
            Some(Layer::Tls(tls)) => tls.has_buffered_input(),
        }
    }

    /// Whether a wake of a detached registration finds room to send (its `EPOLLOUT`).
    pub(crate) fn wake_finds_room(&self) -> bool {
        match self.0.as_deref() {
            Some(Layer::Memory(wire)) => wire.borrow().writable(),
            _ => false,
        }
    }

    /// Whether a wake finds the peer gone (reset): the close path runs with that error.
    pub(crate) fn reset(&self) -> bool {
        match self.0.as_deref() {
            Some(Layer::Memory(wire)) => wire.borrow().is_reset(),
            _ => false,
        }
    }

    /// Whether the peer has finished sending, as far as this transport knows without reading.
    pub(crate) fn peer_fin_pending(&self) -> bool {
        match self.0.as_deref() {
            Some(Layer::Memory(wire)) => wire.borrow().fin_pending(),
            _ => false,
        }
    }

    /// The peer's address.
    pub(crate) fn peer_addr(&self, fd: Option<BorrowedFd<'_>>) -> Option<Endpoint> {
        match self.0.as_deref() {
            Some(Layer::Memory(wire)) => wire.borrow().peer_addr(),
            _ => crate::peer_endpoint(fd?).ok(),
        }
    }

    /// This end's address.
    pub(crate) fn local_addr(&self, fd: Option<BorrowedFd<'_>>) -> Option<Endpoint> {
        match self.0.as_deref() {
            Some(Layer::Memory(wire)) => wire.borrow().local_addr(),
            _ => crate::local_endpoint(fd?).ok(),
        }
    }

    /// Hands the reason a connection closed to whoever watches the transport (the harness).
    pub(crate) fn closed(&mut self, reason: CloseReason) {
        if let Some(Layer::Memory(wire)) = self.0.as_deref_mut() {
            wire.borrow_mut().record_close(reason);
        }
    }
}
