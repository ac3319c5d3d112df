//! [`ConnConfig`] and [`ListenConfig`]: the knobs of connections and listeners, with defaults
//! that suit a small server. Every knob bounds something: time, bytes per event, bytes per
//! connection, connections per event.

use ioman_core::Timeout;
use std::time::Duration;

/// How a [`Connection`](crate::Connection) reads, buffers and times out.
///
/// ```
/// use ioman::net::ConnConfig;
/// use ioman::Timeout;
/// use std::time::Duration;
/// let cfg = ConnConfig::default()
///     .idle(Timeout::Idle(Duration::from_secs(30)))
///     .watermarks(16 * 1024, 64 * 1024)
///     .max_output(256 * 1024);
/// assert_eq!(cfg.high_water(), 64 * 1024);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnConfig {
    pub(crate) idle: Timeout,
    pub(crate) read_budget: usize,
    pub(crate) low_water: usize,
    pub(crate) high_water: usize,
    pub(crate) max_input: usize,
    pub(crate) max_output: usize,
    pub(crate) send_timeout: Option<Duration>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) connect_timeout: Duration,
}

impl Default for ConnConfig {
    /// Idle 60 s; read budget 64 KiB per event; watermarks 16 KiB / 64 KiB; at most 1 MiB of
    /// unconsumed input and 8 MiB of output held in memory; the send timeout is the idle
    /// timeout; a TLS handshake must be done within 10 s.
    fn default() -> ConnConfig {
        ConnConfig {
            idle: Timeout::Idle(Duration::from_secs(60)),
            read_budget: 64 * 1024,
            low_water: 16 * 1024,
            high_water: 64 * 1024,
            max_input: 1024 * 1024,
            max_output: 8 * 1024 * 1024,
            send_timeout: None,
            handshake_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl ConnConfig {
    /// The idle timeout: [`Protocol::on_idle`](crate::Protocol::on_idle) runs after this long
    /// without a read or write event.
    pub fn idle(mut self, idle: Timeout) -> ConnConfig {
        self.idle = idle;
        self
    }

    /// The most bytes read from this connection per readiness event (at least 1). The rest
    /// waits for the next turn (epoll is level-triggered), so one fast peer cannot starve the
    /// others.
    pub fn read_budget(mut self, bytes: usize) -> ConnConfig {
        self.read_budget = bytes.max(1);
        self
    }

    /// Reading stops once `high` bytes of output are pending (the peer is not reading), and
    /// resumes when they drain to `low` or less. `low` is clamped to at most `high`.
    pub fn watermarks(mut self, low: usize, high: usize) -> ConnConfig {
        self.high_water = high.max(1);
        self.low_water = low.min(self.high_water);
        self
    }

    /// The hard cap on the output memory one connection holds (at least the high watermark),
    /// as [`Outbox::held`](crate::Outbox::held) counts it: owned and shared bytes, plus a
    /// fixed charge per file region (whose bytes stay on disk). An append past it is refused
    /// and the connection is closed with
    /// [`CloseReason::OutputOverflow`](crate::CloseReason::OutputOverflow). A protocol that
    /// checks [`Outbox::has_room`](crate::Outbox::has_room) between replies never gets there
    /// unless one reply is larger than the cap; bytes other connections send it through
    /// [`Peer`](crate::Peer) count too, so fan-out cannot grow a slow reader without bound.
    pub fn max_output(mut self, bytes: usize) -> ConnConfig {
        self.max_output = bytes;
        self
    }

    /// The cap on input received but not consumed by the protocol. Reading pauses while this
    /// much is kept (a protocol that stopped early, e.g. to wait for a peer, holds at most
    /// this plus one read); if the protocol consumes nothing of a full buffer — a message
    /// larger than the cap — the connection is closed with
    /// [`CloseReason::InputTooLarge`](crate::CloseReason::InputTooLarge).
    pub fn max_input(mut self, bytes: usize) -> ConnConfig {
        self.max_input = bytes.max(1);
        self
    }

    /// The send timeout: output that stays pending this long without the peer taking any of
    /// it closes the connection with
    /// [`CloseReason::SendTimeout`](crate::CloseReason::SendTimeout) (nginx's `send_timeout`:
    /// the time between two successful writes, not for the whole response). It bounds
    /// `close_after_flush`, graceful shutdown and every peer that stops reading. `None` (the
    /// default) uses the idle timeout; with `Timeout::Never` idle and no send timeout, a peer
    /// that never reads is held until the process ends, which is only right for trusted peers.
    pub fn send_timeout(mut self, timeout: Option<Duration>) -> ConnConfig {
        self.send_timeout = timeout;
        self
    }

    /// How long a TLS handshake may take, from the connection's registration: a client that
    /// opens a connection and stalls its handshake (or trickles it) is closed with
    /// [`CloseReason::HandshakeTimeout`](crate::CloseReason::HandshakeTimeout) when it is up,
    /// whatever it sent meanwhile — unlike the idle timeout, activity does not extend it.
    /// Default 10 s. Plain connections ignore it.
    pub fn handshake_timeout(mut self, timeout: Duration) -> ConnConfig {
        self.handshake_timeout = timeout;
        self
    }

    /// How long an outgoing connection ([`Connection::connecting`](crate::Connection::connecting))
    /// may take to be established: when it is up, the connection ends with
    /// [`CloseReason::ConnectFailed`](crate::CloseReason::ConnectFailed) (`TimedOut`), e.g.
    /// against a host that drops SYNs. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> ConnConfig {
        self.connect_timeout = timeout;
        self
    }

    /// The timeout in force while output is pending (see [`send_timeout`](Self::send_timeout)).
    pub fn effective_send_timeout(&self) -> Timeout {
        self.send_timeout.map_or(self.idle, Timeout::Idle)
    }

    /// The idle timeout.
    pub fn idle_timeout(&self) -> Timeout {
        self.idle
    }

    /// The high watermark.
    pub fn high_water(&self) -> usize {
        self.high_water
    }

    /// The low watermark.
    pub fn low_water(&self) -> usize {
        self.low_water
    }

    pub(crate) fn output_cap(&self) -> usize {
        self.max_output.max(self.high_water)
    }
}

/// How a [`Listener`](crate::Listener) accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenConfig {
    pub(crate) batch: usize,
    pub(crate) nodelay: bool,
    pub(crate) backoff: Duration,
}

impl Default for ListenConfig {
    /// Up to 64 accepts per event, `TCP_NODELAY` on, 100 ms pause when out of fds.
    fn default() -> ListenConfig {
        ListenConfig { batch: 64, nodelay: true, backoff: Duration::from_millis(100) }
    }
}

impl ListenConfig {
    /// The most connections accepted per readiness event (at least 1); the rest wait for the
    /// next turn, so a connection storm cannot starve established connections.
    pub fn batch(mut self, n: usize) -> ListenConfig {
        self.batch = n.max(1);
        self
    }

    /// Whether accepted TCP sockets get `TCP_NODELAY` (default on: replies go out at once).
    pub fn nodelay(mut self, on: bool) -> ListenConfig {
        self.nodelay = on;
        self
    }

    /// How long accepting pauses after running out of file descriptors or another accept
    /// failure (at least 1 ms).
    pub fn backoff(mut self, pause: Duration) -> ListenConfig {
        self.backoff = pause.max(Duration::from_millis(1));
        self
    }
}
