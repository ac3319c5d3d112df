//! [`Flags`]: the state bits of one [`Connection`](crate::Connection), packed into two bytes so
//! an idle connection stays small. Protocols change them through
//! [`ProtoContext`](crate::ProtoContext); the connection reads them to decide what it waits for.

/// A set of connection state bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flags(u16);

impl Flags {
    /// An outgoing connect is in progress (waiting for write readiness).
    pub(crate) const CONNECTING: u16 = 1;
    /// The peer sent end of stream.
    pub(crate) const READ_EOF: u16 = 1 << 1;
    /// Close now, discarding output.
    pub(crate) const CLOSE_NOW: u16 = 1 << 2;
    /// Close once the output is flushed; read nothing more.
    pub(crate) const CLOSE_AFTER_FLUSH: u16 = 1 << 3;
    /// Shut down the sending side once the output is flushed.
    pub(crate) const SHUTDOWN_WANTED: u16 = 1 << 4;
    /// The sending side is shut down.
    pub(crate) const WRITE_SHUT: u16 = 1 << 5;
    /// The protocol paused reading.
    pub(crate) const PAUSED: u16 = 1 << 6;
    /// Reading stopped because output passed the high watermark.
    pub(crate) const WATERMARK: u16 = 1 << 7;
    /// `on_shutdown` has been called.
    pub(crate) const SHUTDOWN_SEEN: u16 = 1 << 8;
    /// Output was left queued after a send (so `on_drained` is due when it empties).
    pub(crate) const HAD_OUTPUT: u16 = 1 << 9;
    /// The close path ran.
    pub(crate) const CLOSED: u16 = 1 << 10;
    /// This connection's mailbox entry holds a published backlog.
    pub(crate) const PUBLISHED: u16 = 1 << 11;

    pub(crate) fn has(self, bits: u16) -> bool {
        self.0 & bits != 0
    }

    pub(crate) fn set(&mut self, bits: u16) {
        self.0 |= bits;
    }

    pub(crate) fn clear(&mut self, bits: u16) {
        self.0 &= !bits;
    }

    pub(crate) fn assign(&mut self, bits: u16, on: bool) {
        if on { self.set(bits) } else { self.clear(bits) }
    }
}
