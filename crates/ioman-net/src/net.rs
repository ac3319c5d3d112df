//! [`Net<S>`]: the loop-wide state of a manager that serves connections. It wraps the
//! application's own state `S` and adds what connections of one loop share: the scratch
//! buffers every read and reply goes through (so an idle connection owns no buffer), the
//! mailboxes connections use to reach each other, the set of live connections and listeners
//! (for graceful shutdown), and the counters ([`NetStats`]).

use crate::Outbox;
use crate::peer::Mail;
use ioman_core::Key;
use std::collections::HashMap;
use std::time::Instant;

/// The default per-loop read buffer: 64 KiB, enough for one read per event at full speed.
pub const DEFAULT_READ_BUFFER: usize = 64 * 1024;

/// Counters one loop keeps: plain integer increments, read with [`Net::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// `accept` system calls made by listeners, successful or not.
    pub accept_calls: u64,
    /// Connections accepted and handed to a listener's factory.
    pub accepted: u64,
    /// Times a listener ran out of file descriptors (`EMFILE`/`ENFILE`/`ENOBUFS`/`ENOMEM`)
    /// and paused accepting.
    pub fd_exhausted: u64,
    /// Pending connections accepted and closed at once, with the reserve fd, while out of
    /// file descriptors: those clients see an immediate close instead of a hang.
    pub shed: u64,
    /// Other accept failures (each also pauses the listener).
    pub accept_errors: u64,
    /// Connections registered (accepted or outgoing).
    pub opened: u64,
    /// Connections closed through their own close path (with `on_close`).
    pub closed: u64,
    /// Connections closed because output past their cap was refused
    /// ([`CloseReason::OutputOverflow`](crate::CloseReason::OutputOverflow)).
    pub overflowed: u64,
    /// Connections closed because their peer took no output for the send timeout
    /// ([`CloseReason::SendTimeout`](crate::CloseReason::SendTimeout)).
    pub send_timeouts: u64,
    /// Connections closed because a protocol hook panicked
    /// ([`CloseReason::Panicked`](crate::CloseReason::Panicked)).
    pub panicked: u64,
    /// Bytes read from connections.
    pub bytes_read: u64,
    /// Bytes written to connections.
    pub bytes_written: u64,
    /// Datagrams received and delivered by [`DatagramSocket`](crate::DatagramSocket)s.
    pub datagrams_received: u64,
    /// Datagrams sent by them.
    pub datagrams_sent: u64,
    /// `recvmmsg` calls they made (fewer than datagrams received when batching works).
    pub datagram_recv_calls: u64,
    /// `sendmmsg` calls they made.
    pub datagram_send_calls: u64,
    /// Datagrams longer than their socket's `max_datagram`, reported instead of delivered.
    pub datagrams_truncated: u64,
    /// Datagrams refused or bounced by the kernel (`EMSGSIZE`, ICMP errors...), reported
    /// per destination.
    pub datagram_send_errors: u64,
}

/// The loop-wide state of a manager serving connections: `Manager<Net<S>>`.
///
/// ```
/// use ioman::Manager;
/// use ioman::net::Net;
/// let mut manager: Manager<Net<u32>> = Manager::with_state(Net::new(7))?;
/// *manager.state_mut().app_mut() += 1;
/// assert_eq!(*manager.state().app(), 8);
/// assert_eq!(manager.state().connections(), 0);
/// # Ok::<(), ioman::Error>(())
/// ```
pub struct Net<S> {
    app: S,
    pub(crate) read_buf: Box<[u8]>,
    pub(crate) scratch: Option<Outbox>,
    pub(crate) mail: HashMap<Key, Mail>,
    /// Live connections, with the output cap each accepts from its peers.
    pub(crate) conns: HashMap<Key, usize>,
    pub(crate) listeners: Vec<Key>,
    /// Live datagram sockets (closed with the listeners at shutdown).
    pub(crate) datagrams: Vec<Key>,
    /// The receive buffer datagram sockets share (`batch × max_datagram`, the largest asked),
    /// allocated on the first receive.
    pub(crate) dgram_buf: Vec<u8>,
    pub(crate) draining: Option<Instant>,
    /// The timer that force-closes what is left when the drain deadline passes.
    pub(crate) drain_timer: Option<Key>,
    /// Each connection's own timer registration, for those that set one.
    pub(crate) timers: HashMap<Key, Key>,
    pub(crate) stats: NetStats,
}

impl<S: Default> Default for Net<S> {
    fn default() -> Net<S> {
        Net::new(S::default())
    }
}

impl<S> Net<S> {
    /// Wraps the application state, with a [`DEFAULT_READ_BUFFER`]-byte read buffer.
    pub fn new(app: S) -> Net<S> {
        Net::with_read_buffer(app, DEFAULT_READ_BUFFER)
    }

    /// Wraps the application state, with a read buffer of `bytes` (at least 512). Each read
    /// system call reads at most this much; every connection of the loop shares it.
    pub fn with_read_buffer(app: S, bytes: usize) -> Net<S> {
        Net {
            app,
            read_buf: vec![0; bytes.max(512)].into_boxed_slice(),
            scratch: Some(Outbox::new()),
            mail: HashMap::new(),
            conns: HashMap::new(),
            listeners: Vec::new(),
            datagrams: Vec::new(),
            dgram_buf: Vec::new(),
            draining: None,
            drain_timer: None,
            timers: HashMap::new(),
            stats: NetStats::default(),
        }
    }

    /// The application state.
    pub fn app(&self) -> &S {
        &self.app
    }

    /// The application state, mutably.
    pub fn app_mut(&mut self) -> &mut S {
        &mut self.app
    }

    /// Unwraps the application state.
    pub fn into_app(self) -> S {
        self.app
    }

    /// This loop's counters.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Live connections registered through [`Connection::register`](crate::Connection).
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Whether `key` is a live connection of this loop.
    pub fn is_connection(&self, key: Key) -> bool {
        self.conns.contains_key(&key)
    }

    /// Listening registrations made through [`Listener::register`](crate::Listener).
    pub fn listeners(&self) -> &[Key] {
        &self.listeners
    }

    /// Datagram sockets registered through
    /// [`DatagramSocket::register`](crate::DatagramSocket::register) and still open.
    pub fn datagram_sockets(&self) -> &[Key] {
        &self.datagrams
    }

    /// The drain deadline, if a graceful shutdown is under way.
    pub fn draining(&self) -> Option<Instant> {
        self.draining
    }

    /// Forgets a connection (closed, or found closed from outside its own close path, for
    /// example by `Manager::close`): its mailbox goes too. Returns the connections that were
    /// waiting for it to drain, for the caller to release.
    pub(crate) fn forget(&mut self, key: Key) -> Vec<Key> {
        self.conns.remove(&key);
        self.mail.remove(&key).map(|mail| mail.waiters).unwrap_or_default()
    }
}
