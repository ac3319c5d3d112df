//! [`DatagramOut`]: the send queue of one datagram socket. Replies are appended to one byte
//! arena (no allocation per datagram) with one small entry each saying where it goes; the
//! socket sends them in `sendmmsg` batches and drops what went out. The queue is capped in
//! bytes and datagrams by [`DatagramConfig`](crate::DatagramConfig): past the cap a send is
//! refused with [`SendRefused::Full`], so its memory is bounded whatever the protocol does.

use crate::DatagramAddr;
use rustix::net::SocketAddrAny;
use std::collections::VecDeque;

/// Why [`DatagramOut`] refused a datagram (nothing was queued).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendRefused {
    /// The send queue is at its cap (bytes or datagrams). Wait for
    /// [`Datagram::on_room`](crate::Datagram::on_room), or drop the datagram: UDP is lossy.
    #[error("the datagram send queue is full")]
    Full,
    /// The destination cannot be addressed: an unbound Unix sender
    /// ([`DatagramAddr::Unnamed`]), or a Unix path too long for a socket address.
    #[error("the destination has no address a datagram can be sent to")]
    NoAddress,
}

/// One queued datagram: its destination (`None`: the connected peer) and length.
pub(crate) struct Entry {
    pub(crate) to: Option<SocketAddrAny>,
    pub(crate) len: usize,
}

/// The datagrams a socket's protocol queued for sending.
///
/// Each [`send_to`](Self::send_to) is one datagram (never merged or split). They leave in
/// order, as soon as the socket takes them: the queue is flushed after every hook.
pub struct DatagramOut {
    pub(crate) bytes: Vec<u8>,
    /// Bytes before `head` in `bytes` were sent already.
    pub(crate) head: usize,
    pub(crate) entries: VecDeque<Entry>,
    held: usize,
    max_bytes: usize,
    max_datagrams: usize,
    high: usize,
    /// A send was refused since the queue last had room: `on_room` is owed.
    pub(crate) refused: bool,
}

impl DatagramOut {
    pub(crate) fn new(max_bytes: usize, max_datagrams: usize, high: usize) -> DatagramOut {
        DatagramOut {
            bytes: Vec::new(),
            head: 0,
            entries: VecDeque::new(),
            held: 0,
            max_bytes,
            max_datagrams,
            high,
            refused: false,
        }
    }

    /// Queues `data` as one datagram to `to`.
    pub fn send_to(&mut self, to: &DatagramAddr, data: &[u8]) -> Result<(), SendRefused> {
        let addr = to.to_any().ok_or(SendRefused::NoAddress)?;
        self.push(Some(addr), data)
    }

    /// Queues `data` as one datagram to the connected peer (a socket set up with
    /// [`connect_datagram`](crate::connect_datagram); on an unconnected socket the kernel
    /// refuses it with `EDESTADDRREQ`, reported to
    /// [`on_send_error`](crate::Datagram::on_send_error)).
    pub fn send(&mut self, data: &[u8]) -> Result<(), SendRefused> {
        self.push(None, data)
    }

    fn push(&mut self, to: Option<SocketAddrAny>, data: &[u8]) -> Result<(), SendRefused> {
        if self.entries.len() >= self.max_datagrams
            || self.held.saturating_add(data.len()) > self.max_bytes
        {
            self.refused = true;
            return Err(SendRefused::Full);
        }
        self.bytes.extend_from_slice(data);
        self.held += data.len();
        self.entries.push_back(Entry { to, len: data.len() });
        Ok(())
    }

    /// Whether the queue is below its high watermark: a protocol answering many datagrams at
    /// once (a burst from one readiness event) can check it and stop producing.
    pub fn has_room(&self) -> bool {
        self.held < self.high
    }

    /// Datagrams queued and not sent yet.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes queued and not sent yet.
    pub fn queued_bytes(&self) -> usize {
        self.held
    }

    /// Drops the first `n` entries (sent, or refused by the kernel), compacting the arena.
    pub(crate) fn pop(&mut self, n: usize) {
        for entry in self.entries.drain(..n) {
            self.head += entry.len;
            self.held -= entry.len;
        }
        if self.entries.is_empty() {
            self.bytes.clear();
            self.head = 0;
            if self.bytes.capacity() > self.max_bytes.max(64 * 1024) {
                self.bytes = Vec::new(); // a burst's arena is not kept for good
            }
        } else if self.head >= 64 * 1024 && self.head * 2 >= self.bytes.len() {
            self.bytes.drain(..self.head);
            self.head = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_bytes_and_datagrams_and_compacts() {
        let to = DatagramAddr::Ip("127.0.0.1:9".parse().unwrap());
        let mut out = DatagramOut::new(10, 3, 5);
        assert_eq!(out.send_to(&to, b"abcd"), Ok(()));
        assert!(out.has_room());
        assert_eq!(out.send_to(&to, b"efgh"), Ok(()));
        assert!(!out.has_room());
        assert_eq!(out.send_to(&to, b"ijk"), Err(SendRefused::Full)); // 11 bytes > 10
        assert_eq!(out.send_to(&to, b"ij"), Ok(()));
        assert_eq!(out.send_to(&to, b""), Err(SendRefused::Full)); // 4th datagram
        assert_eq!(out.send_to(&DatagramAddr::Unnamed, b"x"), Err(SendRefused::NoAddress));
        assert_eq!((out.len(), out.queued_bytes()), (3, 10));
        out.pop(2);
        assert_eq!((out.len(), out.queued_bytes(), out.head), (1, 2, 8));
        assert_eq!(&out.bytes[out.head..], b"ij");
        out.pop(1);
        assert!(out.is_empty());
        assert_eq!((out.bytes.len(), out.head), (0, 0));
    }
}
