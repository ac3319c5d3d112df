//! Datagram protocols: UDP (IPv4 and IPv6) and Unix datagram sockets under a [`Datagram`]
//! protocol, with batched system calls.
//!
//! A protocol says what to do with one datagram and who sent it; replies are queued to
//! addresses in a [`DatagramOut`]. The [`DatagramSocket`] around it is the ioman
//! [`Handler`](ioman_core::Handler) that owns the policy:
//! - **batches**: each readiness event receives with `recvmmsg` (up to
//!   [`DatagramConfig::batch`] datagrams per call) until the socket is empty or the event's
//!   budget ([`DatagramConfig::read_budget`]) is spent — a socket that floods gets no more than
//!   its budget per turn, and level-triggered epoll brings it back next turn; replies leave
//!   with `sendmmsg`, also in batches and within [`DatagramConfig::send_budget`];
//! - **bounded memory**: the receive buffer (`batch × max_datagram`) is the loop's, shared by
//!   its datagram sockets; the send queue is capped in bytes and datagrams
//!   ([`DatagramConfig::queue`]), and a send past the cap is refused
//!   ([`SendRefused::Full`]);
//! - **backpressure**: while more than the high watermark is queued, the socket stops
//!   receiving (the kernel's receive queue fills and then drops, which is what UDP does under
//!   load); below the low watermark it resumes and [`Datagram::on_room`] runs;
//! - **errors per destination, never fatal**: a datagram the kernel refuses (`EMSGSIZE` for
//!   one too long, `ECONNREFUSED` from an ICMP report on a connected socket, a Unix path
//!   nobody is bound to) is dropped and reported to [`Datagram::on_send_error`] with its
//!   destination; the socket goes on. A datagram longer than
//!   [`DatagramConfig::max_datagram`] is reported to [`Datagram::on_truncated`], never
//!   delivered as if whole;
//! - **counters**: [`DatagramStats`] per socket and totals in [`NetStats`](crate::NetStats),
//!   including the system calls, so batching can be checked.
//!
//! Sockets: [`bind_datagram`] (UDP or a Unix path, `SO_REUSEPORT` on request),
//! [`unbound_unix_datagram`], [`connect_datagram`] (connected UDP or Unix). One loop per core
//! on one UDP port: [`Loops::spawn_datagram`](crate::Loops::spawn_datagram).

mod addr;
mod config;
mod context;
mod out;
mod recv;
mod socket;

pub use addr::{
    DatagramAddr, bind_datagram, connect_datagram, datagram_local_addr, unbound_unix_datagram,
};
pub use config::DatagramConfig;
pub use context::DatagramContext;
pub use out::{DatagramOut, SendRefused};
pub use socket::DatagramSocket;

use std::io;

/// A datagram protocol: what to do with each datagram that arrives, and with the errors the
/// kernel reports about datagrams sent.
///
/// Hooks run on the loop's thread, one datagram at a time, in arrival order. Replies go into
/// the [`DatagramOut`] and are sent after the hook (in batches with the replies to the other
/// datagrams of the same event). Every hook but `on_datagram` has a default.
///
/// # Example: a UDP echo server
/// ```
/// use ioman::Manager;
/// use ioman::net::{
///     Datagram, DatagramAddr, DatagramConfig, DatagramContext, DatagramOut, DatagramSocket, Net,
///     bind_datagram, datagram_local_addr,
/// };
/// use std::time::Duration;
///
/// struct Echo;
///
/// impl Datagram for Echo {
///     fn on_datagram(
///         &mut self,
///         data: &[u8],
///         from: &DatagramAddr,
///         out: &mut DatagramOut,
///         _: &mut DatagramContext<'_>,
///     ) {
///         // Refused only when the send queue is at its cap: then this reply is dropped, as a
///         // congested network would.
///         let _ = out.send_to(from, data);
///     }
/// }
///
/// let socket = bind_datagram(&"127.0.0.1:0".parse()?, false)?;
/// let DatagramAddr::Ip(server) = datagram_local_addr(&socket)? else { unreachable!() };
/// let mut manager: Manager<Net<()>> = Manager::new()?;
/// DatagramSocket::new(Echo, DatagramConfig::default()).register(&mut manager, socket)?;
///
/// let client = std::net::UdpSocket::bind("127.0.0.1:0")?;
/// client.set_read_timeout(Some(Duration::from_secs(5)))?;
/// client.send_to(b"ping", server)?;
/// client.send_to(b"pong", server)?;
/// while manager.state().stats().datagrams_sent < 2 {
///     manager.turn(Some(Duration::from_secs(5)))?;
/// }
/// let mut buf = [0; 16];
/// let (n, _) = client.recv_from(&mut buf)?;
/// assert_eq!(&buf[..n], b"ping");
/// let (n, _) = client.recv_from(&mut buf)?;
/// assert_eq!(&buf[..n], b"pong");
/// // The loop's counters: datagrams, and the system calls that carried them.
/// let stats = manager.state().stats();
/// assert_eq!((stats.datagrams_received, stats.datagrams_sent), (2, 2));
/// assert!(stats.datagram_send_calls <= 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Datagram<S: 'static = ()>: 'static {
    /// A datagram arrived from `from` (an unbound Unix sender is
    /// [`DatagramAddr::Unnamed`] and cannot be answered). `data` is the whole datagram.
    fn on_datagram(
        &mut self,
        data: &[u8],
        from: &DatagramAddr,
        out: &mut DatagramOut,
        cx: &mut DatagramContext<'_, S>,
    );

    /// The first hook of the socket, run as soon as it is registered: a client sends its
    /// first datagrams here.
    fn on_open(&mut self, out: &mut DatagramOut, cx: &mut DatagramContext<'_, S>) {
        let _ = (out, cx);
    }

    /// A datagram of `size` bytes from `from` was longer than
    /// [`DatagramConfig::max_datagram`]: the kernel kept only a prefix, which is not
    /// delivered. The default ignores it (it is counted in [`DatagramStats::truncated`]).
    fn on_truncated(
        &mut self,
        from: &DatagramAddr,
        size: usize,
        out: &mut DatagramOut,
        cx: &mut DatagramContext<'_, S>,
    ) {
        let _ = (from, size, out, cx);
    }

    /// The kernel refused or bounced a datagram to `to` (`None`: the connected peer, or no
    /// particular destination) with `error`: `EMSGSIZE` (too long for the socket or the
    /// path), `ECONNREFUSED` (an ICMP port unreachable on a connected socket, or a Unix path
    /// nobody is bound to), `ENETUNREACH`, `EACCES`... The datagram is dropped; the socket
    /// goes on. The default ignores it (it is counted in [`DatagramStats::send_errors`]).
    fn on_send_error(
        &mut self,
        to: Option<&DatagramAddr>,
        error: &io::Error,
        out: &mut DatagramOut,
        cx: &mut DatagramContext<'_, S>,
    ) {
        let _ = (to, error, out, cx);
    }

    /// The send queue is back down to its low watermark after it was over the high one
    /// (reading had paused) or after it refused a send ([`SendRefused::Full`]).
    fn on_room(&mut self, out: &mut DatagramOut, cx: &mut DatagramContext<'_, S>) {
        let _ = (out, cx);
    }

    /// Something woke this socket ([`Context::wake`](ioman_core::Context::wake) with its key,
    /// e.g. from a job a [`Remote`](ioman_core::Remote) posted).
    fn on_wake(&mut self, out: &mut DatagramOut, cx: &mut DatagramContext<'_, S>) {
        let _ = (out, cx);
    }

    /// The socket closed because its protocol asked ([`DatagramContext::close`]) or the
    /// socket failed for good. Not called when the loop's shutdown or `Manager::close` closes
    /// it from outside, nor after a panic in a hook (the panic costs the socket's
    /// registration only, as for any handler).
    fn on_close(&mut self, cx: &mut DatagramContext<'_, S>) {
        let _ = cx;
    }
}

/// Counters of one datagram socket ([`DatagramContext::stats`], [`DatagramSocket::stats`]).
/// `recv_calls`/`send_calls` count system calls, so `received / recv_calls` is the batch size
/// actually achieved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DatagramStats {
    /// Datagrams received whole and delivered to `on_datagram`.
    pub received: u64,
    /// Their bytes.
    pub bytes_received: u64,
    /// `recvmmsg` calls made (including the one that found the socket empty).
    pub recv_calls: u64,
    /// Datagrams longer than `max_datagram`, reported to `on_truncated`.
    pub truncated: u64,
    /// Datagrams the kernel accepted for sending.
    pub sent: u64,
    /// Their bytes.
    pub bytes_sent: u64,
    /// `sendmmsg` calls made.
    pub send_calls: u64,
    /// Errors reported to `on_send_error`.
    pub send_errors: u64,
    /// Sends refused because the queue was at its cap.
    pub refused: u64,
    /// Times reading paused because the send queue went over its high watermark.
    pub read_pauses: u64,
}
