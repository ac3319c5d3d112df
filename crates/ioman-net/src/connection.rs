//! [`Connection`]: the buffered connection, the ioman [`Handler`] that turns readiness into
//! calls of a [`Protocol`] (its policies are on its own doc). `input.rs` is the reading side,
//! `output.rs` the flushing side and the state changes after every callback (`settle`),
//! `mail.rs` what other connections ask of this one.

mod input;
mod mail;
mod output;

use crate::flags::Flags;
use crate::transport::Transport;
use crate::{CloseReason, ConnConfig, Net, NetError, Outbox, ProtoContext, Protocol};
use ioman_core::{Context, Failure, Handler, Interest, Key, Manager};
use rustix::fd::{BorrowedFd, OwnedFd};
use std::any::Any;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;

/// A connection driven by a protocol `P`. Register it with [`register`](Self::register).
///
/// It owns the policy every byte-stream server needs and nobody wants
/// to rewrite:
/// - reads go through the loop's shared buffer, at most [`ConnConfig::read_budget`] bytes per
///   event (level-triggered epoll calls again for the rest), and only unconsumed input is kept
///   per connection — an idle connection owns no buffer at all;
/// - replies are sent at once when the socket takes them; only what is left is queued, and
///   `EPOLLOUT` is armed exactly while something is queued;
/// - reading stops above the high watermark of queued output and resumes below the low one;
///   input the protocol left unconsumed is offered again as soon as progress is possible;
/// - end of stream (FIN) is [`Protocol::on_eof`], distinct from errors; `shutdown(SHUT_WR)` and
///   close happen after the flush; the idle timeout is the core's `Timeout::Idle`, replaced by
///   the send timeout while output is pending;
/// - a panicking protocol hook still ends in `on_close`.
///
/// ```
/// use ioman::Manager;
/// use ioman::net::{ConnConfig, Connection, Net, Outbox, ProtoContext, Protocol};
/// use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};
/// use std::time::Duration;
///
/// struct Upper;
/// impl Protocol for Upper {
///     fn on_data(&mut self, input: &[u8], out: &mut Outbox, _: &mut ProtoContext<'_>) -> usize {
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
    /// Where the bytes go: the socket, or an in-memory wire (see [`testing`](crate::testing)).
    transport: Transport,
}

impl<P> Connection<P> {
    /// A connection for an accepted (or otherwise connected) socket.
    pub fn new(proto: P, config: impl Into<Arc<ConnConfig>>) -> Connection<P> {
        let config = config.into();
        let mut queue = Outbox::new();
        queue.set_limits(config.high_water, config.output_cap());
        Connection {
            proto,
            input: Vec::new(),
            queue,
            config,
            flags: Flags::default(),
            transport: Transport::SOCKET,
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

    /// The same connection over another transport (the [`testing`](crate::testing) wire).
    pub(crate) fn over(mut self, transport: Transport) -> Connection<P> {
        self.transport = transport;
        self
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
        mut self,
        cx: &mut Context<'_, Net<S>>,
        fd: impl Into<OwnedFd>,
    ) -> Result<Key, NetError>
    where
        P: Protocol<S>,
    {
        let (interest, timeout, cap) = self.registration();
        let key = cx.add(fd, interest, timeout, self)?;
        opened(cx.state(), key, cap);
        let _ = cx.wake(key); // `on_open`, this turn
        Ok(key)
    }

    /// Registers the socket with this connection, between turns.
    pub fn register_with<S: 'static>(
        mut self,
        manager: &mut Manager<Net<S>>,
        fd: impl Into<OwnedFd>,
    ) -> Result<Key, NetError>
    where
        P: Protocol<S>,
    {
        let (interest, timeout, cap) = self.registration();
        let key = manager.add(fd, interest, timeout, self)?;
        opened(manager.state_mut(), key, cap);
        let _ = manager.wake(key); // `on_open`, next turn
        Ok(key)
    }

    /// Registers this connection without an fd (its transport is an in-memory wire).
    pub(crate) fn register_detached<S: 'static>(mut self, manager: &mut Manager<Net<S>>) -> Key
    where
        P: Protocol<S>,
    {
        let (interest, timeout, cap) = self.registration();
        let key = manager.add_detached(interest, timeout, self);
        opened(manager.state_mut(), key, cap);
        let _ = manager.wake(key); // `on_open`, next turn
        key
    }

    /// Whether output waits: in the queue, or (TLS ciphertext) in the transport.
    #[inline]
    pub(super) fn output_pending(&self) -> bool {
        !self.queue.is_empty() || self.transport.has_pending_output()
    }

    /// The timeout the connection's state calls for: the send timeout while output waits,
    /// the idle timeout otherwise.
    fn current_timeout(&self) -> ioman_core::Timeout {
        match self.flags.has(Flags::SEND_WAIT) {
            true => self.config.effective_send_timeout(),
            false => self.config.idle,
        }
    }

    /// The interest, timeout and peer cap to register with.
    fn registration(&mut self) -> (Option<Interest>, ioman_core::Timeout, usize) {
        let timeout = match self.queue.is_empty() {
            _ if self.flags.has(Flags::CONNECTING) => {
                ioman_core::Timeout::Idle(self.config.connect_timeout)
            }
            _ if self.transport.handshaking() => {
                ioman_core::Timeout::Idle(self.config.handshake_timeout)
            }
            true => self.config.idle,
            false => {
                self.flags.set(Flags::SEND_WAIT);
                self.config.effective_send_timeout()
            }
        };
        (self.interest(), timeout, self.config.output_cap())
    }

    /// Whether input may be offered to the protocol now (see the contract on [`Protocol`]).
    pub(super) fn can_offer(&self) -> bool {
        let stop = Flags::PAUSED
            | Flags::WATERMARK
            | Flags::WAIT_PEERS
            | Flags::READ_EOF
            | Flags::CLOSE_AFTER_FLUSH
            | Flags::CLOSE_NOW
            | Flags::CLOSED
            | Flags::CONNECTING;
        !self.flags.has(stop) && self.queue.len() < self.config.high_water
    }

    /// What epoll should report next, from the state bits and the queue. While reading is
    /// paused (and the peer has not finished), the peer's half-close is still watched
    /// (`EPOLLRDHUP`), so a paused side learns that its peer left.
    pub(super) fn interest(&self) -> Option<Interest> {
        let ended = Flags::PEER_FIN
            | Flags::READ_EOF
            | Flags::CLOSE_AFTER_FLUSH
            | Flags::CLOSE_NOW
            | Flags::CLOSED
            | Flags::CONNECTING;
        let listen = !self.flags.has(ended);
        let read = listen
            && ((self.can_offer() && self.input.len() < self.config.max_input)
                || self.transport.handshaking());
        let fin = listen && !read && !self.flags.has(Flags::RDHUP_SEEN);
        let write = self.flags.has(Flags::CONNECTING)
            || (!self.queue.is_empty() && !self.flags.has(Flags::WRITE_SHUT))
            || self.transport.has_pending_output();
        let wanted =
            [(read, Interest::READ), (write, Interest::WRITE), (fin, Interest::READ_CLOSED)];
        wanted.into_iter().filter(|(on, _)| *on).map(|(_, i)| i).reduce(Interest::add)
    }
}

fn opened<S>(net: &mut Net<S>, key: Key, cap: usize) {
    net.conns.insert(key, cap);
    net.stats.opened += 1;
}

impl<S: 'static, P: Protocol<S>> Handler<Net<S>> for Connection<P> {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Net<S>>) {
        self.guarded(Some(fd), cx, |conn, cx| conn.readable(Some(fd), cx));
    }

    fn on_write(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Net<S>>) {
        self.guarded(Some(fd), cx, |conn, cx| {
            if conn.flags.has(Flags::CONNECTING) {
                match rustix::net::sockopt::socket_error(fd) {
                    Ok(Ok(())) => {
                        conn.flags.clear(Flags::CONNECTING);
                        cx.set_timeout(conn.current_timeout()); // the connect timeout is over
                        conn.hook(Some(fd), cx, |p, out, pcx| p.on_connected(out, pcx));
                    }
                    Ok(Err(e)) | Err(e) => {
                        return conn.finish(Some(fd), cx, CloseReason::ConnectFailed(e.into()));
                    }
                }
            }
            conn.settle(Some(fd), cx);
        });
    }

    fn on_timeout(&mut self, fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<S>>) {
        self.guarded(fd, cx, |conn, cx| {
            if conn.flags.has(Flags::CONNECTING) {
                let timed_out = io::Error::from(io::ErrorKind::TimedOut);
                return conn.finish(fd, cx, CloseReason::ConnectFailed(timed_out));
            }
            #[cfg(feature = "tls")]
            if conn.transport.handshaking() {
                return conn.finish(fd, cx, CloseReason::HandshakeTimeout);
            }
            if conn.flags.has(Flags::SEND_WAIT) && conn.output_pending() {
                return conn.finish(fd, cx, CloseReason::SendTimeout);
            }
            conn.hook(fd, cx, |p, out, pcx| p.on_idle(out, pcx));
            conn.settle(fd, cx);
        });
    }

    /// Another connection (through [`Peer`](crate::Peer)), a shutdown, or this connection
    /// itself (more kept input to offer next turn) asked it to run: settling does the rest.
    /// For a transport without an fd (the [`testing`](crate::testing) wire), a wake is also
    /// its readiness: the peer sent, finished, reset, or took output.
    fn on_wake(&mut self, fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<S>>) {
        self.guarded(fd, cx, |conn, cx| {
            conn.flags.clear(Flags::STALLED);
            if fd.is_none() {
                if conn.transport.reset() {
                    let reset = io::Error::from(io::ErrorKind::ConnectionReset);
                    return conn.finish(fd, cx, CloseReason::Error(reset));
                }
                let write = conn.transport.wake_finds_room() && !conn.queue.is_empty();
                if write || conn.transport.wake_finds_input(fd) {
                    // What the core does for an fd's `on_read`/`on_write`: activity.
                    cx.set_timeout(conn.current_timeout());
                }
            }
            // Input epoll will not report: the wire's (its readiness comes as wakes), or
            // plaintext a TLS session decrypted already.
            if conn.transport.wake_finds_input(fd) && conn.wants_read(cx) {
                return conn.readable(fd, cx);
            }
            conn.settle(fd, cx);
        });
    }

    fn on_error(&mut self, fd: BorrowedFd<'_>, failure: Failure, cx: &mut Context<'_, Net<S>>) {
        self.guarded(Some(fd), cx, |conn, cx| {
            let error = match failure {
                Failure::Hangup if !conn.flags.has(Flags::CONNECTING) => {
                    return conn.hangup(Some(fd), cx);
                }
                Failure::Hangup => io::Error::from(io::ErrorKind::ConnectionRefused),
                Failure::Error(e) => e.unwrap_or_else(|| io::Error::other("socket error")),
            };
            let reason = match conn.flags.has(Flags::CONNECTING) {
                true => CloseReason::ConnectFailed(error),
                false => CloseReason::Error(error),
            };
            conn.finish(Some(fd), cx, reason);
        });
    }
}

impl<P> Connection<P> {
    /// Runs one callback's work; if a protocol hook panics, the connection still ends through
    /// its close path (`on_close` with [`CloseReason::Panicked`], counters, mailbox), and the
    /// panic is passed on to the manager, which counts and reports it and releases the fd.
    #[inline(always)]
    fn guarded<S: 'static>(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        cx: &mut Context<'_, Net<S>>,
        f: impl FnOnce(&mut Self, &mut Context<'_, Net<S>>),
    ) where
        P: Protocol<S>,
    {
        let run = AssertUnwindSafe(|| {
            if !self.flags.has(Flags::OPENED) {
                self.flags.set(Flags::OPENED);
                self.hook(fd, cx, |p, out, pcx| p.on_open(out, pcx));
            }
            f(self, cx)
        });
        if let Err(payload) = catch_unwind(run) {
            self.panicked(fd, cx, payload);
        }
    }

    #[cold]
    #[inline(never)]
    fn panicked<S: 'static>(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        cx: &mut Context<'_, Net<S>>,
        payload: Box<dyn Any + Send>,
    ) where
        P: Protocol<S>,
    {
        let message = match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
            (Some(s), _) => (*s).to_owned(),
            (_, Some(s)) => s.clone(),
            _ => "non-string panic payload".to_owned(),
        };
        // `on_close` of a protocol that just panicked may panic too: the close path must end.
        let closed = catch_unwind(AssertUnwindSafe(|| {
            self.finish(fd, cx, CloseReason::Panicked(message));
        }));
        if closed.is_err() {
            self.flags.set(Flags::CLOSED);
            cx.close();
        }
        resume_unwind(payload);
    }

    /// Calls a protocol hook with this connection's queue as its outbox. Any hook may change
    /// what the protocol would do with its kept input, so that input is offered again.
    pub(super) fn hook<S: 'static>(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        cx: &mut Context<'_, Net<S>>,
        f: impl FnOnce(&mut P, &mut Outbox, &mut ProtoContext<'_, S>),
    ) {
        if !self.flags.has(Flags::CLOSED | Flags::CLOSE_NOW) {
            let before = self.queue.len();
            let pcx = &mut ProtoContext {
                cx: cx.reborrow(),
                flags: &mut self.flags,
                fd,
                transport: &self.transport,
            };
            f(&mut self.proto, &mut self.queue, pcx);
            self.flags.clear(Flags::STALLED);
            if self.queue.len() != before {
                self.flags.set(Flags::HAD_OUTPUT);
            }
        }
    }

    /// The close path: `on_close`, forget the connection (releasing whoever waited for it to
    /// drain), close the registration.
    pub(super) fn finish<S: 'static>(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        cx: &mut Context<'_, Net<S>>,
        reason: CloseReason,
    ) where
        P: Protocol<S>,
    {
        if self.flags.has(Flags::CLOSED) {
            return;
        }
        self.flags.set(Flags::CLOSED);
        self.transport.close(fd, reason.is_clean());
        let key = cx.key();
        let stats = &mut cx.state().stats;
        stats.closed += 1;
        match &reason {
            CloseReason::OutputOverflow => stats.overflowed += 1,
            CloseReason::SendTimeout => stats.send_timeouts += 1,
            CloseReason::Panicked(_) => stats.panicked += 1,
            _ => {}
        }
        log_close(key, &self.transport, fd, &reason);
        // The registration dies first, so nothing `on_close` does can reach it again.
        cx.close();
        let pcx = &mut ProtoContext {
            cx: cx.reborrow(),
            flags: &mut self.flags,
            fd,
            transport: &self.transport,
        };
        self.proto.on_close(&reason, pcx);
        crate::conn_timer::remove(cx, key);
        let net = cx.state();
        let waiters = net.forget(key);
        let last = net.draining.is_some() && net.conns.is_empty();
        let timer = if last { net.drain_timer.take() } else { None };
        crate::peer::release(cx, waiters);
        if last {
            // Graceful shutdown: the last connection is gone, so is the need for a deadline.
            if let Some(timer) = timer {
                let _ = cx.close_key(timer);
            }
            cx.stop();
        }
        self.queue.clear();
        self.input = Vec::new();
        self.transport.closed(reason);
    }
}

/// Logs how a connection ended through `tracing`, once, unless it ended cleanly: evictions at
/// `info` (a slow or hostile peer is routine for a server), failed connects and socket errors
/// at `debug`, a panicking protocol at `error`; with the connection's key and peer address
/// (looked up only if a subscriber takes the event). Silent unless the application installs a
/// subscriber; the counters in [`NetStats`](crate::NetStats) are kept either way.
fn log_close(key: Key, transport: &Transport, fd: Option<BorrowedFd<'_>>, reason: &CloseReason) {
    let peer = || transport.peer_addr(fd);
    match reason {
        CloseReason::Closed | CloseReason::Done => {}
        CloseReason::OutputOverflow | CloseReason::SendTimeout | CloseReason::InputTooLarge => {
            tracing::info!(conn = ?key, peer = ?peer(), ?reason, "connection evicted");
        }
        #[cfg(feature = "tls")]
        CloseReason::HandshakeTimeout => {
            tracing::info!(conn = ?key, peer = ?peer(), "TLS handshake timed out");
        }
        CloseReason::Panicked(message) => {
            tracing::error!(conn = ?key, peer = ?peer(), %message, "protocol panicked; connection closed");
        }
        _ => tracing::debug!(conn = ?key, peer = ?peer(), ?reason, "connection ended"),
    }
}
