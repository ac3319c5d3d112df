//! `ioman-net`: servers on top of the ioman manager. A protocol author implements
//! [`Protocol`] — "here are the bytes that arrived, here is where replies go, tell me what you
//! consumed" — and never touches epoll, an fd or a buffer. The crate supplies the rest:
//!
//! | piece | what it does |
//! |---|---|
//! | [`listen`], [`connect`], [`Endpoint`] | non-blocking, close-on-exec TCP (v4/v6) and Unix sockets |
//! | [`Listener`] | bounded accept batches, `TCP_NODELAY`, a factory per connection, no spin on `EMFILE` |
//! | [`Connector`] | outgoing connections: connect timeout, fallback across addresses, retries with backoff and jitter, reconnecting a persistent link |
//! | [`Connection`] | per-event read budget, input offered while output has room (and offered again by itself), write queue with watermarks, vectored sends and `sendfile`, half-close, idle and send timeouts |
//! | [`Net`] | the loop-wide state: your state `S`, shared scratch buffers, mailboxes, counters |
//! | [`Peer`] | reach another connection by key: send (or share) bytes, wake, half-close, close; with [`ProtoContext::wait_for`], fan-out backpressure |
//! | [`framing`] | split input into lines, delimited or length-prefixed frames, data blocks; encoders; sans-IO, zero-copy, capped |
//! | `tls` (feature `tls`) | rustls under [`Connection`]: servers, clients, ALPN/SNI, handshake deadline, `close_notify`; PEM loading with clear errors |
//! | [`testing`] | drive a protocol without sockets: feed input in pieces, make the peer stop reading, finish or reset, advance a manual clock, see how each connection ended |
//! | [`shutdown`] | SIGINT/SIGTERM → stop accepting, drain, return from `run` |
//! | [`resolve`] | host names looked up on a [`WorkPool`](ioman_core::WorkPool) thread, answered on the loop; addresses interleaved by family |
//! | [`Datagram`], [`DatagramSocket`] | UDP (v4/v6) and Unix datagram protocols: `recvmmsg`/`sendmmsg` batches within a budget, a capped send queue with backpressure, errors (`EMSGSIZE`, ICMP) per destination, truncation reported, connected sockets |
//! | [`Loops`] | one loop per core on one `SO_REUSEPORT` address (stream or datagram) |
//!
//! # Example: an echo server
//! ```no_run
//! use ioman::Manager;
//! use ioman::net::{ConnConfig, Listener, Net, Outbox, ProtoContext, Protocol};
//! use std::time::Duration;
//!
//! struct Echo;
//!
//! impl Protocol for Echo {
//!     fn on_data(&mut self, input: &[u8], out: &mut Outbox, _: &mut ProtoContext<'_>) -> usize {
//!         out.extend_from_slice(input);
//!         input.len()
//!     }
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let socket = ioman::net::listen(&"127.0.0.1:7000".parse()?, Default::default())?;
//!     println!("echo: listening on {}", ioman::net::local_endpoint(&socket)?);
//!     let mut manager: Manager<Net<()>> = Manager::new()?;
//!     Listener::serve(ConnConfig::default(), || Echo).register(&mut manager, socket)?;
//!     ioman::net::shutdown::on_signals(&mut manager, Duration::from_secs(5))?;
//!     manager.run()?;
//!     Ok(())
//! }
//! ```
//!
//! # Memory
//! An idle connection owns no buffer: reads go through the loop's one read buffer, replies
//! through the loop's scratch outbox, and a connection allocates only to keep a partial
//! message or output the socket did not take — and frees it once consumed or sent.
//!
//! A busy one is bounded by configuration, not by its peer: input waits while output is
//! above the high watermark, output memory is capped ([`ConnConfig::max_output`]), kept input
//! too ([`ConnConfig::max_input`]), and a peer that takes nothing for the send timeout is
//! closed. The contract a protocol relies on (and what it must do for it: check
//! [`Outbox::has_room`] between replies) is on [`Protocol`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod conn_timer;
mod connection;
mod connector;
pub mod datagram;
mod endpoint;
mod error;
mod flags;
pub mod framing;
mod listener;
mod loops;
mod net;
mod outbox;
mod peer;
mod proto_context;
mod protocol;
mod resolve;
pub mod shutdown;
pub mod testing;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;

pub use config::{ConnConfig, ListenConfig};
pub use connection::Connection;
pub use connector::{ConnectReport, Connector, Retry};
pub use datagram::{
    Datagram, DatagramAddr, DatagramConfig, DatagramContext, DatagramOut, DatagramSocket,
    DatagramStats, SendRefused, bind_datagram, connect_datagram, datagram_local_addr,
    unbound_unix_datagram,
};
pub use endpoint::{BindOptions, Endpoint, connect, listen, local_endpoint, peer_endpoint};
pub use error::NetError;
pub use listener::{AcceptReport, Listener};
pub use loops::Loops;
pub use net::{DEFAULT_READ_BUFFER, Net, NetStats};
pub use outbox::{FILE_CHARGE, Outbox};
pub use peer::Peer;
pub use proto_context::ProtoContext;
pub use protocol::{CloseReason, Protocol};
pub use resolve::{interleave, resolve};
