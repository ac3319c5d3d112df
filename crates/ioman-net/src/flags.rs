//! [`Flags`]: the state bits of one [`Connection`](crate::Connection), packed into four bytes so
//! an idle connection stays small. Protocols change them through
//! [`ProtoContext`](crate::ProtoContext); the connection reads them to decide what it waits for.

/// A set of connection state bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flags(u32);

impl Flags {
    /// An outgoing connect is in progress (waiting for write readiness).
    pub(crate) const CONNECTING: u32 = 1;
    /// `on_eof` was delivered (the peer sent end of stream and its input was offered).
    pub(crate) const READ_EOF: u32 = 1 << 1;
    /// Close now, discarding output.
    pub(crate) const CLOSE_NOW: u32 = 1 << 2;
    /// Close once the output is flushed; read nothing more.
    pub(crate) const CLOSE_AFTER_FLUSH: u32 = 1 << 3;
    /// Shut down the sending side once the output is flushed.
    pub(crate) const SHUTDOWN_WANTED: u32 = 1 << 4;
    /// The sending side is shut down.
    pub(crate) const WRITE_SHUT: u32 = 1 << 5;
    /// The protocol paused reading.
    pub(crate) const PAUSED: u32 = 1 << 6;
    /// Reading stopped because output passed the high watermark.
    pub(crate) const WATERMARK: u32 = 1 << 7;
    /// `on_shutdown` has been called.
    pub(crate) const SHUTDOWN_SEEN: u32 = 1 << 8;
    /// Output was left queued after a send (so `on_drained` is due when it empties).
    pub(crate) const HAD_OUTPUT: u32 = 1 << 9;
    /// The close path ran.
    pub(crate) const CLOSED: u32 = 1 << 10;
    /// This connection's mailbox entry holds a published backlog.
    pub(crate) const PUBLISHED: u32 = 1 << 11;
    /// A read reached end of stream: the kernel holds nothing more from the peer.
    pub(crate) const PEER_FIN: u32 = 1 << 12;
    /// The last offer of the kept input consumed nothing: offer it again only after new
    /// bytes or a change (output drained, reading resumed, a wake, another hook).
    pub(crate) const STALLED: u32 = 1 << 13;
    /// Output is pending, so the registration's timeout is the send timeout.
    pub(crate) const SEND_WAIT: u32 = 1 << 14;
    /// Reading is paused until a peer this connection sends to has drained.
    pub(crate) const WAIT_PEERS: u32 = 1 << 15;
    /// `EPOLLRDHUP` was seen while reading was paused (stop asking for it).
    pub(crate) const RDHUP_SEEN: u32 = 1 << 16;
    /// Other connections wait for this one to drain (seen in its mailbox).
    pub(crate) const WAITED_FOR: u32 = 1 << 17;
    /// `on_open` has run.
    pub(crate) const OPENED: u32 = 1 << 18;
    /// The TLS handshake's deadline is the registration's timeout.
    pub(crate) const HANDSHAKING: u32 = 1 << 19;

    pub(crate) fn has(self, bits: u32) -> bool {
        self.0 & bits != 0
    }

    pub(crate) fn set(&mut self, bits: u32) {
        self.0 |= bits;
    }

    pub(crate) fn clear(&mut self, bits: u32) {
        self.0 &= !bits;
    }

    pub(crate) fn assign(&mut self, bits: u32, on: bool) {
        if on { self.set(bits) } else { self.clear(bits) }
    }
}
