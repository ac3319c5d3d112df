//! [`ProtoContext`]: what a [`Protocol`](crate::Protocol) hook can do besides appending output —
//! reach the application state, end or half-close its own connection, pause its input, and
//! reach other connections through [`Peer`]. It wraps the manager's
//! [`Context`](ioman_core::Context), which stays available for anything else.

use crate::flags::Flags;
use crate::transport::Transport;
use crate::{Endpoint, Net, NetError, Peer};
use ioman_core::{Context, Key, Stats};
use rustix::fd::BorrowedFd;
use std::time::{Duration, Instant};

/// The handle every [`Protocol`](crate::Protocol) hook gets.
///
/// Requests about the own connection (`close`, `close_after_flush`, `shutdown_write`,
/// `pause_reading`, `wait_for`) take effect when the hook returns.
///
/// # Example
/// A line protocol that counts requests in the loop-wide state, answers `bye` by closing
/// once the reply is out, and stops parsing then:
/// ```
/// use ioman::net::testing::Harness;
/// use ioman::net::{ConnConfig, Outbox, ProtoContext, Protocol};
///
/// struct Lines;
/// impl Protocol<u64> for Lines {
///     fn on_data(&mut self, input: &[u8], out: &mut Outbox, cx: &mut ProtoContext<'_, u64>) -> usize {
///         let mut used = 0;
///         while !cx.is_closing() {
///             let Some(end) = input[used..].iter().position(|&b| b == b'\n') else { break };
///             let line = &input[used..used + end];
///             used += end + 1;
///             *cx.state() += 1; // requests served by this loop
///             match line {
///                 b"bye" => {
///                     out.extend_from_slice(b"goodbye\n");
///                     cx.close_after_flush();
///                 }
///                 _ => out.extend_from_slice(format!("#{} {}\n", cx.state(), line.len()).as_bytes()),
///             }
///         }
///         used
///     }
/// }
///
/// let mut h = Harness::with_state(0u64);
/// let c = h.connect(Lines, ConnConfig::default());
/// h.send(c, b"abc\nbye\nignored\n");
/// assert_eq!(h.received(c), b"#1 3\ngoodbye\n");
/// assert!(!h.is_open(c));
/// assert_eq!(*h.state(), 2);
/// ```
pub struct ProtoContext<'a, S: 'static = ()> {
    pub(crate) cx: Context<'a, Net<S>>,
    pub(crate) flags: &'a mut Flags,
    /// The connection's socket (absent in `on_close` after a panic, and for a transport
    /// without an fd).
    pub(crate) fd: Option<BorrowedFd<'a>>,
    pub(crate) transport: &'a Transport,
}

impl<'a, S: 'static> ProtoContext<'a, S> {
    /// This connection's key: how other connections reach it with [`conn`](Self::conn).
    pub fn key(&self) -> Key {
        self.cx.key()
    }

    /// The peer's address (`getpeername`, asked of the kernel on each call): a TCP address, or
    /// a Unix socket's path (empty for an unnamed client socket). `None` if the socket is not
    /// connected any more.
    pub fn peer_addr(&self) -> Option<Endpoint> {
        self.transport.peer_addr(self.fd)
    }

    /// The TLS session, if this connection is TLS (see [`tls`](crate::tls)): version,
    /// cipher suite, peer certificates, resumption.
    #[cfg(feature = "tls")]
    pub fn tls(&self) -> Option<&rustls::Connection> {
        self.transport.tls().map(|tls| tls.session())
    }

    /// The ALPN protocol the TLS handshake agreed on (e.g. `b"http/1.1"`); `None` without
    /// TLS, before the handshake finished, or when the peers agreed on none.
    #[cfg(feature = "tls")]
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.tls()?.alpn_protocol()
    }

    /// The server name the TLS client asked for (SNI), on a server-side TLS connection.
    #[cfg(feature = "tls")]
    pub fn server_name(&self) -> Option<&str> {
        match self.tls()? {
            rustls::Connection::Server(server) => server.server_name(),
            rustls::Connection::Client(_) => None,
        }
    }

    /// This end's address (`getsockname`): where the connection was accepted, or the local
    /// address of an outgoing connection.
    pub fn local_addr(&self) -> Option<Endpoint> {
        self.transport.local_addr(self.fd)
    }

    /// The time this loop turn started (read once per turn, after `epoll_wait`).
    pub fn now(&self) -> Instant {
        self.cx.now()
    }

    /// The application's loop-wide state.
    pub fn state(&mut self) -> &mut S {
        self.cx.state().app_mut()
    }

    /// The whole loop state, with counters and connection count.
    pub fn net(&mut self) -> &mut Net<S> {
        self.cx.state()
    }

    /// The manager's counters.
    pub fn stats(&self) -> Stats {
        self.cx.stats()
    }

    /// Closes this connection when the hook returns; pending output is discarded.
    pub fn close(&mut self) {
        self.flags.set(Flags::CLOSE_NOW);
    }

    /// Closes this connection once all pending output is sent; no more input is delivered.
    pub fn close_after_flush(&mut self) {
        self.flags.set(Flags::CLOSE_AFTER_FLUSH);
    }

    /// Shuts down the sending side (`shutdown(SHUT_WR)`: the peer reads end of stream) once
    /// all pending output is sent. Reading goes on; output written afterwards is discarded.
    /// When the peer's end of stream has also arrived, the connection closes by itself.
    pub fn shutdown_write(&mut self) {
        self.flags.set(Flags::SHUTDOWN_WANTED);
    }

    /// Stops delivering input (the kernel buffers it, then the peer's sends block) until
    /// [`resume_reading`](Self::resume_reading). Output keeps flowing.
    pub fn pause_reading(&mut self) {
        self.flags.set(Flags::PAUSED);
    }

    /// Undoes [`pause_reading`](Self::pause_reading). Input left unconsumed is offered again
    /// when the hook returns, without waiting for new bytes.
    pub fn resume_reading(&mut self) {
        self.flags.clear(Flags::PAUSED | Flags::STALLED);
    }

    /// Pauses reading until connection `key` has drained what waits for it to its low
    /// watermark (or has closed): fan-out backpressure. A protocol that sends to other
    /// connections checks what [`Peer::send`] returns and, when a target is backed up (at or
    /// above its high watermark, say), calls this and stops consuming; its unconsumed input is
    /// offered again once the target drained. So a fast sender is slowed to the pace of its
    /// readers instead of growing their buffers; a reader that takes nothing at all is closed
    /// by its send timeout, which releases its waiters too.
    ///
    /// Waiting for this connection itself, or for a key that is gone, does nothing and is
    /// [`NetError::Gone`] for the latter.
    pub fn wait_for(&mut self, key: Key) -> Result<(), NetError> {
        let me = self.cx.key();
        if key == me {
            return Ok(());
        }
        Peer::new(&mut self.cx, key).add_waiter(me)?;
        self.flags.set(Flags::WAIT_PEERS);
        Ok(())
    }

    /// Arms this connection's own timer: [`Protocol::on_timer`](crate::Protocol::on_timer)
    /// runs once, `after` from now (from this turn's [`now`](Self::now)), unless re-armed or
    /// cancelled first. Setting it again moves it; it is independent of the idle and send
    /// timeouts, and firing does not count as activity. The first use registers a core timer
    /// for this connection (closed with it); later uses re-arm it in place.
    ///
    /// ```
    /// use ioman::net::{Outbox, ProtoContext, Protocol};
    /// use std::time::Duration;
    ///
    /// /// Sends a heartbeat every 30 s while connected.
    /// struct Heartbeat;
    /// impl Protocol for Heartbeat {
    ///     fn on_data(&mut self, input: &[u8], _: &mut Outbox, cx: &mut ProtoContext<'_>) -> usize {
    ///         let _ = cx.set_timer(Duration::from_secs(30));
    ///         input.len()
    ///     }
    ///     fn on_timer(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_>) {
    ///         out.extend_from_slice(b"PING\r\n");
    ///         let _ = cx.set_timer(Duration::from_secs(30));
    ///     }
    /// }
    /// ```
    pub fn set_timer(&mut self, after: Duration) -> Result<(), NetError> {
        let me = self.cx.key();
        crate::conn_timer::set(&mut self.cx, me, after)
    }

    /// Disarms this connection's timer (see [`set_timer`](Self::set_timer)).
    pub fn cancel_timer(&mut self) {
        let me = self.cx.key();
        crate::conn_timer::cancel(&mut self.cx, me);
    }

    /// Whether reading waits for another connection to drain ([`wait_for`](Self::wait_for)).
    pub fn is_waiting(&self) -> bool {
        self.flags.has(Flags::WAIT_PEERS)
    }

    /// Whether this connection is closing ([`close`](Self::close) or
    /// [`close_after_flush`](Self::close_after_flush) was asked, here or by a peer): a parse
    /// loop can stop.
    pub fn is_closing(&self) -> bool {
        self.flags.has(Flags::CLOSE_NOW | Flags::CLOSE_AFTER_FLUSH | Flags::CLOSED)
    }

    /// Whether the peer has shut down its sending side (a read reached end of stream). It can
    /// be true before [`on_eof`](crate::Protocol::on_eof): also while reading is paused
    /// (`EPOLLRDHUP` is watched then), once the input that came first is buffered here.
    pub fn peer_finished(&self) -> bool {
        self.flags.has(Flags::PEER_FIN)
    }

    /// Whether reading is paused by this protocol.
    pub fn is_reading_paused(&self) -> bool {
        self.flags.has(Flags::PAUSED)
    }

    /// Whether the server is shutting down gracefully.
    pub fn is_draining(&mut self) -> bool {
        self.cx.state().draining.is_some()
    }

    /// Another connection of this loop (or this one), to send to, wake or close.
    pub fn conn(&mut self, key: Key) -> Peer<'_, 'a, S> {
        Peer::new(&mut self.cx, key)
    }

    /// The manager's context: add registrations or timers, close arbitrary keys, stop.
    pub fn context(&mut self) -> &mut Context<'a, Net<S>> {
        &mut self.cx
    }
}
