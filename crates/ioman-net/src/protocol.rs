//! [`Protocol`]: the one trait a protocol author implements, and [`CloseReason`], why a
//! connection ended. The design and the contract are on the trait's own doc.

use crate::{Outbox, ProtoContext};
use std::io;

/// A byte-stream protocol, one value per connection, driven by a
/// [`Connection`](crate::Connection).
///
/// It sees bytes that arrived, a place to put replies and a [`ProtoContext`]; it never sees an
/// fd, epoll, a buffer policy or a partial write: the [`Connection`](crate::Connection) does all
/// of that and calls it.
///
/// # Example: the whole echo protocol
/// ```
/// use ioman::net::{Outbox, ProtoContext, Protocol};
///
/// struct Echo;
///
/// impl Protocol for Echo {
///     fn on_data(&mut self, input: &[u8], out: &mut Outbox, _: &mut ProtoContext<'_>) -> usize {
///         out.extend_from_slice(input);
///         input.len()
///     }
/// }
/// ```
///
/// # Why this shape
/// - **`input` is everything received and not yet consumed**, and `on_data` returns how much
///   it consumed. An incomplete message is simply left unconsumed and offered again, with the
///   next bytes appended, so parsers need no state of their own for split reads. The connection
///   keeps (and allocates for) leftover bytes only when there are some.
/// - **`out` is an [`Outbox`]**, not a socket: appending never blocks and never fails. The
///   connection sends it as soon as the socket takes it, arms `EPOLLOUT` only while something
///   is left, and stops reading while too much is waiting (watermarks). Encoders that want a
///   `&mut Vec<u8>` get one from [`Outbox::vec`] at no extra copy.
/// - **Other connections are reached by [`Key`](ioman_core::Key)** through
///   [`ProtoContext::conn`]: bytes and requests are posted to the target's mailbox in the
///   loop state and the target is woken in the same turn, so no protocol ever holds a pointer
///   to another, and a target that closed in the meantime is an error value, not a crash.
/// - **Every hook but `on_data` has a default** that does the usual thing (close on end of
///   stream, close on idle, close after flushing on server shutdown), so a protocol overrides
///   only what it cares about.
///
/// `S` is the application's loop-wide state, reached through [`ProtoContext::state`] (the
/// manager holds it inside a [`Net<S>`](crate::Net)).
///
/// # The input/output contract
/// The connection couples what it reads to what the protocol must write, so that memory is
/// bounded by configuration whatever the peer does:
/// - **Input is offered only while output has room**: while fewer than the high watermark's
///   bytes are pending ([`ConnConfig::watermarks`](crate::ConnConfig::watermarks)), reading
///   is not paused ([`ProtoContext::pause_reading`], [`ProtoContext::wait_for`]) and the
///   connection is not closing. Above the mark the connection stops reading; the kernel
///   buffers, then the peer's sends block (TCP flow control does the rest).
/// - **The protocol can see its budget**: [`Outbox::has_room`] turns `false` at the high
///   watermark. A protocol that turns one input into many replies (pipelined requests) checks
///   it before each reply and returns early with what it consumed so far.
/// - **Input left unconsumed is offered again by the connection itself** as soon as progress
///   is possible — at once if the call consumed something (a protocol may handle one message
///   per call), after the output drained below the low watermark, after
///   [`resume_reading`](ProtoContext::resume_reading), after a wake, after any other hook —
///   never only when new bytes arrive. A call that consumes nothing means "I need more bytes":
///   the same input is not offered again until more arrive or one of those changes happens.
/// - **Output per call is bounded**: appends past
///   [`ConnConfig::max_output`](crate::ConnConfig::max_output) are refused and the
///   connection closes with [`CloseReason::OutputOverflow`] (see [`Outbox`]). Large bodies
///   are not built in memory: queue a file region ([`Outbox::push_file`], sent with
///   `sendfile`), share a buffer ([`Outbox::push_shared`]), or produce the next piece in
///   [`on_drained`](Self::on_drained).
/// - **Pending output must make progress**: if the peer takes none of it for the send
///   timeout ([`ConnConfig::send_timeout`](crate::ConnConfig::send_timeout)), the connection
///   closes with [`CloseReason::SendTimeout`], whatever the protocol asked (this bounds
///   `close_after_flush` and graceful shutdown).
/// - **Nothing deadlocks on the reply's path**: [`on_drained`](Self::on_drained) runs after
///   every hook whose output was all sent, even when the socket took it at once, so a
///   protocol that pauses reading until its reply is out is always resumed.
///
/// # Call order
/// All hooks run on the loop's thread, one at a time. For one connection: exactly one
/// `on_open` first, then `on_data`* (interleaved with `on_drained`, `on_wake`, `on_idle`), then at most one
/// `on_eof` (once the input that came before the end of stream has been offered), at most
/// one `on_shutdown`, and finally exactly one `on_close` — also when a hook panicked
/// ([`CloseReason::Panicked`]; the panic is then passed on to the manager, which counts and
/// reports it). Only a registration closed from outside the connection (by
/// [`Manager::close`] or [`Context::close_key`], or by dropping the manager) is dropped
/// without `on_close`.
///
/// Output written in any hook but `on_close` is sent in order. After [`ProtoContext::close`]
/// no further hook except `on_close` runs; after [`ProtoContext::close_after_flush`] no further
/// input is delivered.
///
/// [`Manager::close`]: ioman_core::Manager::close
/// [`Context::close_key`]: ioman_core::Context::close_key
pub trait Protocol<S: 'static = ()>: 'static {
    /// Bytes arrived. `input` holds every byte received and not yet consumed, oldest first;
    /// append replies to `out` and return how many bytes of `input` were used (at most
    /// `input.len()`; larger values are clamped). Unconsumed bytes are offered again (see the
    /// contract above): with new bytes appended, or as they are once progress is possible.
    ///
    /// If unconsumed input reaches [`ConnConfig::max_input`](crate::ConnConfig::max_input),
    /// the connection is closed with [`CloseReason::InputTooLarge`] — a protocol must consume
    /// what it cannot parse.
    fn on_data(&mut self, input: &[u8], out: &mut Outbox, cx: &mut ProtoContext<'_, S>) -> usize;

    /// The connection is open: called once, before any other hook, in the turn the
    /// connection was registered (in the next turn, if it was registered between turns).
    /// What it writes is sent first: a greeting, a server preface. [`ProtoContext::key`] is
    /// this connection's key, so this is where a protocol announces itself to others (a chat
    /// room's join) or arms its timer. For an outgoing connection it runs before the connect
    /// completes; what it writes waits for it. The default does nothing.
    fn on_open(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, S>) {
        let _ = (out, cx);
    }

    /// An outgoing connection ([`Connection::connecting`](crate::Connection::connecting)) is
    /// established: the connect completed (for TLS, the handshake still follows). Called once,
    /// after `on_open`; never for accepted connections. The default does nothing.
    fn on_connected(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, S>) {
        let _ = (out, cx);
    }

    /// The peer shut down its sending side (end of stream; `read` returned 0). No more input
    /// will come, but the connection can still send. The default closes after flushing; a
    /// protocol that still has something to say (or a proxy forwarding the half-close)
    /// overrides it.
    fn on_eof(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, S>) {
        let _ = out;
        cx.close_after_flush();
    }

    /// Everything written so far has been handed to the kernel: called once each time output
    /// goes from "something written" to "all sent" — also when the socket took a reply at once.
    /// A protocol streaming a large body appends its next piece here: the kernel's socket
    /// buffer still holds what was sent, so the stream does not stall, and memory stays at one
    /// piece.
    fn on_drained(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, S>) {
        let _ = (out, cx);
    }

    /// Another connection (or code holding a [`Context`](ioman_core::Context)) called
    /// [`Peer::wake`](crate::Peer::wake) for this one. The default does nothing.
    fn on_wake(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, S>) {
        let _ = (out, cx);
    }

    /// This connection's own timer fired ([`ProtoContext::set_timer`]). The default does
    /// nothing.
    fn on_timer(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, S>) {
        let _ = (out, cx);
    }

    /// The connection was idle for its [`ConnConfig::idle`](crate::ConnConfig::idle) with no
    /// output pending (pending output that makes no progress is the send timeout instead). The
    /// default closes at once. If the hook neither closes nor sets anything, the idle timer
    /// starts again.
    fn on_idle(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, S>) {
        let _ = out;
        cx.close();
    }

    /// The server is shutting down gracefully (see [`shutdown`](crate::shutdown)). Called at
    /// most once. The default closes once queued output is flushed; a protocol with a request
    /// in flight can keep going until the drain deadline, when it is closed regardless.
    fn on_shutdown(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, S>) {
        let _ = out;
        cx.close_after_flush();
    }

    /// The connection is closing, for `reason`; the fd is closed right after. Output can no
    /// longer be sent, but other connections can still be reached through
    /// [`ProtoContext::conn`] (e.g. to announce a departure, or to close a proxied peer).
    fn on_close(&mut self, reason: &CloseReason, cx: &mut ProtoContext<'_, S>) {
        let _ = (reason, cx);
    }
}

/// Why a [`Connection`](crate::Connection) ended, as told to [`Protocol::on_close`].
#[derive(Debug)]
#[non_exhaustive]
pub enum CloseReason {
    /// The protocol asked for it ([`ProtoContext::close`], or `close_after_flush` once the
    /// output was sent), or another connection did through [`Peer`](crate::Peer).
    Closed,
    /// Both directions finished cleanly: the peer sent end of stream and our side was shut
    /// down after everything was sent.
    Done,
    /// The peer hung up in both directions (`EPOLLHUP`) while output or input was still
    /// expected.
    Hangup,
    /// A read, a write or the socket itself failed (e.g. `ECONNRESET`, `EPIPE`).
    Error(io::Error),
    /// An outgoing connection ([`Connection::connecting`](crate::Connection::connecting))
    /// could not be established.
    ConnectFailed(io::Error),
    /// Output past [`ConnConfig::max_output`](crate::ConnConfig::max_output) was refused:
    /// one reply larger than the cap, or a peer that does not read while others send it bytes.
    OutputOverflow,
    /// Output was pending and the peer took none of it for the send timeout
    /// ([`ConnConfig::send_timeout`](crate::ConnConfig::send_timeout)).
    SendTimeout,
    /// A hook of the protocol panicked, with this message. `on_close` still runs (so the
    /// application can clean up); the panic is then passed on to the manager.
    Panicked(String),
    /// More than [`ConnConfig::max_input`](crate::ConnConfig::max_input) bytes were received
    /// without the protocol consuming them.
    InputTooLarge,
    /// TLS failed: a bad or garbage handshake, a client speaking plaintext to a TLS port, a
    /// certificate the peer rejected (its alert), a corrupt record. The alert rustls
    /// prepared was sent first.
    #[cfg(feature = "tls")]
    Tls(rustls::Error),
    /// The TLS handshake was not done within
    /// [`ConnConfig::handshake_timeout`](crate::ConnConfig::handshake_timeout).
    #[cfg(feature = "tls")]
    HandshakeTimeout,
}

impl CloseReason {
    /// Whether the connection ended without a fault (the protocol or a peer asked for it, or
    /// both sides finished).
    pub fn is_clean(&self) -> bool {
        matches!(self, CloseReason::Closed | CloseReason::Done)
    }
}
