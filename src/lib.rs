//! `ioman`: one place that owns every file descriptor of a program, waits on them with epoll
//! and calls the right reaction of each one's [`Handler`]: read, write, timeout, error. Linux
//! only, no `unsafe`, no async.
//!
//! # Where to start
//! - **A protocol over TCP or Unix sockets** (a server, a proxy, a client): implement
//!   [`net::Protocol`] — bytes in, replies into an [`net::Outbox`], what you consumed out — and
//!   let [`net::Listener`] and [`net::Connection`] do accepting, buffering, backpressure,
//!   timeouts and shutdown. [`net::framing`] splits input into lines or length-prefixed frames.
//!   Memory stays bounded by configuration whatever the peer does: the contract is on
//!   [`net::Protocol`].
//!   Over TLS it is the same protocol: [`net::Listener::serve_tls`] (feature `tls`, on by
//!   default; see `net::tls`). Outgoing connections that retry and reconnect:
//!   [`net::Connector`].
//! - **Datagrams** (UDP v4/v6, Unix datagram sockets): implement [`net::Datagram`] — a
//!   datagram and its sender in, replies to addresses into a [`net::DatagramOut`] — and
//!   register a [`net::DatagramSocket`]: batched `recvmmsg`/`sendmmsg`, a capped send queue,
//!   errors reported per destination.
//! - **Testing a protocol**: [`net::testing::Harness`] drives it without sockets — input in the
//!   pieces you choose, a peer that stops reading, time on a manual clock.
//! - **Blocking work** (a name lookup, a file read): [`WorkPool`] runs it on helper threads and
//!   hands the result back to the loop.
//! - **Any other fd** (pipes, eventfds, timers, your own sockets): implement [`Handler`] and
//!   register the fd with a [`Manager`]; your handler gets a [`Context`] to change or close
//!   anything, itself included.
//!
//! # The crates behind this facade
//! - the top level is `ioman-core`: [`Manager`], [`Handler`], [`Context`], [`Key`],
//!   [`Timeout`], [`Timer`], [`ManualClock`] (tests advance time instead of sleeping);
//! - [`net`] is `ioman-net`: protocols, connections, listeners, shutdown, multi-loop serving;
//! - [`sys`] is `ioman-sys`: the safe epoll layer over rustix ([`sys::Epoll`],
//!   [`sys::Interest`]).
//!
//! README.md has a tour and the example servers; ARCHITECTURE.md the invariants.
//!
//! ```no_run
//! use ioman::Manager;
//! use ioman::net::{ConnConfig, Listener, Net, Outbox, ProtoContext, Protocol};
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
//!     let mut manager: Manager<Net<()>> = Manager::new()?;
//!     Listener::serve(ConnConfig::default(), || Echo).register(&mut manager, socket)?;
//!     manager.run()?;
//!     Ok(())
//! }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use ioman_core::*;
pub use ioman_net as net;
pub use ioman_sys as sys;

/// README.md's code, compiled as doctests so the front page cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
