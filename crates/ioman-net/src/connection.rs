//! [`Connection`]: the buffered connection, an ioman [`Handler`] that turns readiness into
//! calls of a [`Protocol`]. It owns the policy every byte-stream server needs and nobody wants
//! to rewrite:
//! - reads go through the loop's shared buffer, at most [`ConnConfig::read_budget`] bytes per
//!   event (level-triggered epoll calls again for the rest), and only unconsumed input is kept
//!   per connection — an idle connection owns no buffer at all;
//! - replies are sent at once when the socket takes them; only what is left is queued, and
//!   `EPOLLOUT` is armed exactly while something is queued;
//! - reading stops above the high watermark of queued output and resumes below the low one;
//! - end of stream (FIN) is [`Protocol::on_eof`], distinct from errors; `shutdown(SHUT_WR)` and
//!   close happen after the flush; the idle timeout is the core's `Timeout::Idle`.

mod input;
mod output;

use crate::flags::Flags;
use crate::{CloseReason, ConnConfig, Net, NetError, Outbox, ProtoContext, Protocol};
use ioman_core::{Context, Failure, Handler, Interest, Key, Manager};
use rustix::fd::{BorrowedFd, OwnedFd};
use std::io;
use std::sync::Arc;

/// A connection driven by a protocol `P`. Register it with [`register`](Self::register).
///
/// ```
/// use ioman_core::Manager;
/// use ioman_net::{ConnConfig, Connection, Net, Outbox, ProtoContext, Protocol};
/// use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};
/// use std::time::Duration;
///
/// struct Upper;
/// impl Protocol for Upper {
///     fn on_data(&mut self, input: &[u8], out: &mut Outbox, _: &mut ProtoContext<'_, '_>) -> usize {
///         out.vec().extend(input.iter().map(u8::to_ascii_uppercase));
///         input.len()
///     }
/// }
///
/// let mut manager: Manager<Net<()>> = Manager::new()?;
/// let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
/// let (ours, theirs) = socketpair(AddressFamily::UNIX, SocketType::STREAM, flags, None)?;
/// Connection::new(Upper, ConnConfig::default()).register_with(&mut manager, ours)?;
/// rustix::io::write(&theirs, b"hi")?;
/// manager.turn(Some(Duration::from_secs(5)))?;
/// let mut buf = [0; 2];
/// assert_eq!(rustix::io::read(&theirs, &mut buf)?, 2);
/// assert_eq!(&buf, b"HI");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Connection<P> {
    proto: P,
    /// Input the protocol has not consumed yet (empty, and unallocated, most of the time).
    input: Vec<u8>,
    /// Output the socket has not taken yet.
    queue: Outbox,
    config: Arc<ConnConfig>,
    flags: Flags,
}

impl<P> Connection<P> {
    /// A connection for an accepted (or otherwise connected) socket.
    pub fn new(proto: P, config: impl Into<Arc<ConnConfig>>) -> Connection<P> {
        let config = config.into();
        Connection {
            proto,
            input: Vec::new(),
            queue: Outbox::new(),
            config,
            flags: Flags::default(),
        }
    }

    /// A connection for a socket whose non-blocking connect is under way (see
    /// [`connect`](crate::connect)): it waits for write readiness, checks `SO_ERROR`, and
    /// then behaves like [`new`](Self::new). Output written before that is held. A failure is
    /// [`CloseReason::ConnectFailed`].
    pub fn connecting(proto: P, config: impl Into<Arc<ConnConfig>>) -> Connection<P> {
        let mut conn = Connection::new(proto, config);
        conn.flags.set(Flags::CONNECTING);
        conn
    }

    /// Queues `bytes` to be sent first (a greeting).
    pub fn with_output(mut self, bytes: &[u8]) -> Connection<P> {
        self.queue.extend_from_slice(bytes);
        self.flags.assign(Flags::HAD_OUTPUT, !self.queue.is_empty());
        self
    }

    /// The protocol.
    pub fn protocol(&self) -> &P {
        &self.proto
    }

    /// The protocol, mutably (e.g. to configure it before registering).
    pub fn protocol_mut(&mut self) -> &mut P {
        &mut self.proto
    }

    /// Bytes queued and not yet sent.
    pub fn pending_output(&self) -> usize {
        self.queue.len()
    }

    /// Registers the socket with this connection from inside a callback (typically a
    /// [`Listener`](crate::Listener) factory). The key is then a live connection of the loop.
    pub fn register<S: 'static>(
        self,
        cx: &mut Context<'_, Net<S>>,
        fd: impl Into<OwnedFd>,
    ) -> Result<Key, NetError>
    where
        P: Protocol<S>,
    {
        let (interest, idle) = (self.interest(), self.config.idle);
        let key = cx.add(fd, interest, idle, self)?;
        opened(cx.state(), key);
        Ok(key)
    }

    /// Registers the socket with this connection, between turns.
    pub fn register_with<S: 'static>(
        self,
        manager: &mut Manager<Net<S>>,
        fd: impl Into<OwnedFd>,
    ) -> Result<Key, NetError>
    where
        P: Protocol<S>,
    {
        let (interest, idle) = (self.interest(), self.config.idle);
        let key = manager.add(fd, interest, idle, self)?;
        opened(manager.state_mut(), key);
        Ok(key)
    }

    /// What epoll should report next, from the state bits and the queue.
    pub(super) fn interest(&self) -> Option<Interest> {
        let stopped = Flags::READ_EOF
            | Flags::CLOSE_AFTER_FLUSH
            | Flags::CLOSE_NOW
            | Flags::CLOSED
            | Flags::PAUSED
            | Flags::WATERMARK
            | Flags::CONNECTING;
        let read = !self.flags.has(stopped);
        let write = self.flags.has(Flags::CONNECTING)
            || (!self.queue.is_empty() && !self.flags.has(Flags::WRITE_SHUT));
        match (read, write) {
            (true, true) => Some(Interest::BOTH),
            (true, false) => Some(Interest::READ),
            (false, true) => Some(Interest::WRITE),
            (false, false) => None,
        }
    }
}

fn opened<S>(net: &mut Net<S>, key: Key) {
    net.conns.insert(key);
    net.stats.opened += 1;
}

impl<S: 'static, P: Protocol<S>> Handler<Net<S>> for Connection<P> {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Net<S>>) {
        if let Err(reason) = self.read(fd, cx, self.config.read_budget, false) {
            return self.finish(cx, reason);
        }
        self.settle(fd, cx);
    }

    fn on_write(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Net<S>>) {
        if self.flags.has(Flags::CONNECTING) {
            match rustix::net::sockopt::socket_error(fd) {
                Ok(Ok(())) => self.flags.clear(Flags::CONNECTING),
                Ok(Err(e)) | Err(e) => {
                    return self.finish(cx, CloseReason::ConnectFailed(e.into()));
                }
            }
        }
        self.settle(fd, cx);
    }

    fn on_timeout(&mut self, fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<S>>) {
        let Some(fd) = fd else { return };
        self.hook(cx, |p, out, pcx| p.on_idle(out, pcx));
        self.settle(fd, cx);
    }

    /// Another connection (through [`Peer`](crate::Peer)) or a shutdown left mail: settling
    /// reads it.
    fn on_wake(&mut self, fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<S>>) {
        if let Some(fd) = fd {
            self.settle(fd, cx);
        }
    }

    fn on_error(&mut self, fd: BorrowedFd<'_>, failure: Failure, cx: &mut Context<'_, Net<S>>) {
        let error = match failure {
            Failure::Hangup if !self.flags.has(Flags::CONNECTING) => return self.hangup(fd, cx),
            Failure::Hangup => io::Error::from(io::ErrorKind::ConnectionRefused),
            Failure::Error(e) => e.unwrap_or_else(|| io::Error::other("socket error")),
        };
        let reason = match self.flags.has(Flags::CONNECTING) {
            true => CloseReason::ConnectFailed(error),
            false => CloseReason::Error(error),
        };
        self.finish(cx, reason);
    }
}

impl<P> Connection<P> {
    /// Calls a protocol hook with this connection's queue as its outbox.
    pub(super) fn hook<S: 'static>(
        &mut self,
        cx: &mut Context<'_, Net<S>>,
        f: impl FnOnce(&mut P, &mut Outbox, &mut ProtoContext<'_, '_, S>),
    ) {
        if !self.flags.has(Flags::CLOSED | Flags::CLOSE_NOW) {
            f(&mut self.proto, &mut self.queue, &mut ProtoContext { cx, flags: &mut self.flags });
        }
    }

    /// The close path: `on_close`, forget the connection, close the registration.
    pub(super) fn finish<S: 'static>(&mut self, cx: &mut Context<'_, Net<S>>, reason: CloseReason)
    where
        P: Protocol<S>,
    {
        if self.flags.has(Flags::CLOSED) {
            return;
        }
        self.flags.set(Flags::CLOSED);
        self.proto.on_close(&reason, &mut ProtoContext { cx, flags: &mut self.flags });
        let key = cx.key();
        let net = cx.state();
        net.forget(key);
        net.stats.closed += 1;
        if let CloseReason::OutputOverflow = reason {
            net.stats.overflowed += 1;
        }
        let last = net.draining.is_some() && net.conns.is_empty();
        let timer = if last { net.drain_timer.take() } else { None };
        cx.close();
        if last {
            // Graceful shutdown: the last connection is gone, so is the need for a deadline.
            if let Some(timer) = timer {
                let _ = cx.close_key(timer);
            }
            cx.stop();
        }
        self.queue.clear();
        self.input = Vec::new();
    }
}
