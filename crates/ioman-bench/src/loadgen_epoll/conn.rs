//! One load-generator connection: the state machine that keeps `depth` messages in flight,
//! writes them (resuming short writes), checks every echoed byte against the [`Pattern`] and
//! hands each completed round trip's latency to the caller.
//!
//! A connection never allocates after it is built: the bytes to send are staged in a buffer
//! the caller owns and shares between connections, and send times live in a ring of `depth`
//! slots.

use crate::pattern::Pattern;
use rustix::io::{self, Errno};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Why a connection stopped counting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnError {
    /// An echoed byte differed from the byte sent at that position.
    Corrupt {
        /// Message sequence number on this connection.
        seq: u64,
        /// Offset of the first wrong byte inside that message.
        offset: usize,
        /// The byte expected there.
        want: u8,
        /// The byte received.
        got: u8,
    },
    /// The server sent back more bytes than were sent to it.
    TooMuch,
    /// The server closed the connection while messages were in flight.
    Eof,
    /// A read or write failed.
    Io(Errno),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Corrupt { seq, offset, want, got } => {
                write!(f, "message {seq} byte {offset}: sent {want:#04x}, echoed {got:#04x}")
            }
            ConnError::TooMuch => f.write_str("server echoed more bytes than were sent"),
            ConnError::Eof => f.write_str("server closed the connection"),
            ConnError::Io(e) => write!(f, "i/o error: {e}"),
        }
    }
}

/// A position in a connection's byte stream: message `seq`, byte `off` inside it.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    seq: u64,
    off: usize,
}

impl Cursor {
    fn bytes(self, size: usize) -> u64 {
        self.seq * size as u64 + self.off as u64
    }
}

/// One client connection and its progress.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    id: u64,
    depth: u64,
    sent: Cursor,
    received: Cursor,
    sent_at: Vec<Instant>,
    /// Whether the last write was short, so the caller should wait for `EPOLLOUT`.
    pub wants_write: bool,
}

impl Conn {
    /// Wraps a connected, non-blocking stream; `id` picks this connection's pattern offset.
    pub fn new(stream: TcpStream, id: u64, depth: usize) -> Conn {
        let now = Instant::now();
        Conn {
            stream,
            id,
            depth: depth as u64,
            sent: Cursor::default(),
            received: Cursor::default(),
            sent_at: vec![now; depth],
            wants_write: false,
        }
    }

    /// The socket, for epoll registration.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Writes as much of the next in-flight window as the socket takes, staging bytes in
    /// `stage` (at least `depth * size` long). Sets [`Conn::wants_write`] on a short write.
    pub fn fill(&mut self, pat: &Pattern, stage: &mut [u8], now: Instant) -> Result<(), ConnError> {
        let size = pat.size();
        let limit = self.received.seq + self.depth; // first message we may not start yet
        let mut len = 0;
        let mut at = self.sent;
        while at.seq < limit {
            let msg = &pat.message(self.id, at.seq)[at.off..];
            stage[len..len + msg.len()].copy_from_slice(msg);
            len += msg.len();
            at = Cursor { seq: at.seq + 1, off: 0 };
        }
        if len == 0 {
            self.wants_write = false;
            return Ok(());
        }
        let n = match io::write(&self.stream, &stage[..len]) {
            Ok(n) => n,
            Err(Errno::AGAIN) => 0,
            Err(e) => return Err(ConnError::Io(e)),
        };
        // Stamp every message whose first byte went out in this write.
        let mut left = n;
        while left > 0 {
            if self.sent.off == 0 {
                self.sent_at[(self.sent.seq % self.depth) as usize] = now;
            }
            let take = left.min(size - self.sent.off);
            left -= take;
            self.sent.off += take;
            if self.sent.off == size {
                self.sent = Cursor { seq: self.sent.seq + 1, off: 0 };
            }
        }
        self.wants_write = n < len;
        Ok(())
    }

    /// Reads once into `buf`, verifies the bytes and calls `done` with the round-trip time
    /// of every message completed. Returns the number of bytes read (0: nothing ready).
    pub fn read(
        &mut self,
        pat: &Pattern,
        buf: &mut [u8],
        now: Instant,
        mut done: impl FnMut(Duration),
    ) -> Result<usize, ConnError> {
        let n = match io::read(&self.stream, &mut *buf) {
            Ok(0) => return Err(ConnError::Eof),
            Ok(n) => n,
            Err(Errno::AGAIN) => return Ok(0),
            Err(e) => return Err(ConnError::Io(e)),
        };
        let size = pat.size();
        if self.received.bytes(size) + n as u64 > self.sent.bytes(size) {
            return Err(ConnError::TooMuch);
        }
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let want = &pat.message(self.id, self.received.seq)[self.received.off..];
            let take = want.len().min(rest.len());
            if rest[..take] != want[..take] {
                let i = (0..take).find(|&i| rest[i] != want[i]).unwrap_or(0);
                return Err(ConnError::Corrupt {
                    seq: self.received.seq,
                    offset: self.received.off + i,
                    want: want[i],
                    got: rest[i],
                });
            }
            rest = &rest[take..];
            self.received.off += take;
            if self.received.off == size {
                let sent = self.sent_at[(self.received.seq % self.depth) as usize];
                done(now.saturating_duration_since(sent));
                self.received = Cursor { seq: self.received.seq + 1, off: 0 };
            }
        }
        Ok(n)
    }
}
