//! [`Outbox`]: bytes waiting to be sent, as a queue of chunks. Small writes are coalesced into
//! one owned buffer; whole buffers (`Vec<u8>`, `Arc<[u8]>`, `&'static [u8]`) are queued without
//! copying. Sending uses one `send` for a single chunk and `sendmsg` with an I/O vector for
//! several, always with `MSG_NOSIGNAL` so a vanished peer is an `EPIPE`, never a `SIGPIPE`.

use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use rustix::net::{SendAncillaryBuffer, SendFlags};
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::Arc;

/// The most chunks one `sendmsg` carries (well under the kernel's `IOV_MAX` of 1024).
const MAX_IOV: usize = 64;

/// A buffer the per-loop scratch outbox may keep between uses; larger ones are freed.
const KEEP_SCRATCH: usize = 256 * 1024;

/// Output waiting for a peer: what a [`Protocol`](crate::Protocol) appends replies to.
///
/// Appending never blocks and never fails; the [`Connection`](crate::Connection) sends what
/// the socket takes and keeps the rest, in order.
///
/// ```
/// use ioman_net::Outbox;
/// use std::sync::Arc;
/// let mut out = Outbox::new();
/// out.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
/// out.push_shared(Arc::from(&b"<cached body>"[..]));
/// out.vec().extend_from_slice(b"\n"); // for encoders that want a Vec<u8>
/// assert_eq!(out.len(), 19 + 13 + 1);
/// assert_eq!(out.to_vec(), b"HTTP/1.1 200 OK\r\n\r\n<cached body>\n");
/// ```
#[derive(Default)]
pub struct Outbox {
    chunks: VecDeque<Chunk>,
    /// Bytes of the front chunk already sent.
    head: usize,
}

enum Chunk {
    Owned(Vec<u8>),
    Shared(Arc<[u8]>),
    Static(&'static [u8]),
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Owned(v) => v,
            Chunk::Shared(b) => b,
            Chunk::Static(b) => b,
        }
    }
}

impl Outbox {
    /// An empty outbox; allocates nothing until something is appended.
    pub const fn new() -> Outbox {
        Outbox { chunks: VecDeque::new(), head: 0 }
    }

    /// Bytes waiting to be sent.
    pub fn len(&self) -> usize {
        let total: usize = self.chunks.iter().map(|c| c.bytes().len()).sum();
        total.saturating_sub(self.head)
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a copy of `bytes` (coalesced with the previous small writes).
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.vec().extend_from_slice(bytes);
        }
    }

    /// The owned buffer at the end of the queue, for code that writes into a `Vec<u8>`. Only
    /// append to it: bytes already in it may be partly sent.
    pub fn vec(&mut self) -> &mut Vec<u8> {
        let tail_is_fresh_owned = match self.chunks.back() {
            Some(Chunk::Owned(_)) => self.chunks.len() > 1 || self.head == 0,
            _ => false,
        };
        if !tail_is_fresh_owned {
            self.chunks.push_back(Chunk::Owned(Vec::new()));
        }
        match self.chunks.back_mut() {
            Some(Chunk::Owned(v)) => v,
            _ => unreachable!("an owned chunk was just ensured at the back"),
        }
    }

    /// Queues a whole buffer without copying it.
    pub fn push_vec(&mut self, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.chunks.push_back(Chunk::Owned(bytes));
        }
    }

    /// Queues a shared buffer (e.g. a cached file) without copying it.
    pub fn push_shared(&mut self, bytes: Arc<[u8]>) {
        if !bytes.is_empty() {
            self.chunks.push_back(Chunk::Shared(bytes));
        }
    }

    /// Queues a static buffer without copying it.
    pub fn push_static(&mut self, bytes: &'static [u8]) {
        if !bytes.is_empty() {
            self.chunks.push_back(Chunk::Static(bytes));
        }
    }

    /// Drops everything waiting, and the memory that held it.
    pub fn clear(&mut self) {
        *self = Outbox::new();
    }

    /// A copy of the waiting bytes, in order (for tests and diagnostics).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        for (i, c) in self.chunks.iter().enumerate() {
            let skip = if i == 0 { self.head } else { 0 };
            v.extend_from_slice(c.bytes().get(skip..).unwrap_or_default());
        }
        v
    }

    /// Moves everything waiting in `other` to the end of `self`: owned bytes are copied (so
    /// `other` keeps its buffer for reuse), shared and static chunks are moved.
    pub(crate) fn append(&mut self, other: &mut Outbox) {
        let head = std::mem::take(&mut other.head);
        let mut keep = None;
        for (i, chunk) in other.chunks.drain(..).enumerate() {
            let skip = if i == 0 { head } else { 0 };
            match chunk {
                Chunk::Owned(mut v) => {
                    self.extend_from_slice(v.get(skip..).unwrap_or_default());
                    if keep.is_none() && v.capacity() <= KEEP_SCRATCH {
                        v.clear();
                        keep = Some(v);
                    }
                }
                Chunk::Shared(b) if skip == 0 => self.chunks.push_back(Chunk::Shared(b)),
                Chunk::Shared(b) => self.extend_from_slice(b.get(skip..).unwrap_or_default()),
                Chunk::Static(b) => self.push_static(b.get(skip..).unwrap_or_default()),
            }
        }
        if let Some(v) = keep {
            other.chunks.push_back(Chunk::Owned(v));
        }
    }

    /// Empties a reusable scratch outbox, keeping one moderate buffer's memory.
    pub(crate) fn reset_scratch(&mut self) {
        self.head = 0;
        let keep = match self.chunks.pop_front() {
            Some(Chunk::Owned(mut v)) if v.capacity() <= KEEP_SCRATCH => {
                v.clear();
                Some(v)
            }
            _ => None,
        };
        self.chunks.clear();
        if let Some(v) = keep {
            self.chunks.push_back(Chunk::Owned(v));
        }
    }

    /// Marks `n` bytes as sent, dropping chunks that are done.
    fn consume(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.chunks.front() else { break };
            let left = front.bytes().len().saturating_sub(self.head);
            if n < left {
                self.head += n;
                return;
            }
            n -= left;
            self.head = 0;
            self.chunks.pop_front();
        }
        // Drop empty owned chunks left at the front (e.g. an unused `vec()`).
        while self.chunks.front().is_some_and(|c| c.bytes().len() <= self.head) {
            self.head = 0;
            self.chunks.pop_front();
        }
    }

    /// Sends as much as the socket takes, at most about `budget` bytes: one `send` per
    /// chunk-less-than-all, one `sendmsg` when several chunks wait. Returns the bytes sent;
    /// `WouldBlock` is not an error (the rest stays queued).
    pub(crate) fn send(&mut self, fd: BorrowedFd<'_>, budget: usize) -> io::Result<usize> {
        let mut sent = 0;
        while sent < budget {
            let (tried, result) = self.send_once(fd);
            match result {
                Ok(n) => {
                    self.consume(n);
                    sent += n;
                    if n < tried || self.chunks.is_empty() {
                        break; // the socket buffer is full, or everything went
                    }
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => break,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(sent)
    }

    /// One send call over the front chunks: (bytes offered, result).
    fn send_once(&self, fd: BorrowedFd<'_>) -> (usize, rustix::io::Result<usize>) {
        let flags = SendFlags::NOSIGNAL;
        if self.chunks.len() == 1 {
            let bytes = self.chunks[0].bytes().get(self.head..).unwrap_or_default();
            return (bytes.len(), rustix::net::send(fd, bytes, flags));
        }
        let mut slices = [IoSlice::new(&[]); MAX_IOV];
        let mut count = 0;
        let mut offered = 0;
        for (i, chunk) in self.chunks.iter().take(MAX_IOV).enumerate() {
            let skip = if i == 0 { self.head } else { 0 };
            let bytes = chunk.bytes().get(skip..).unwrap_or_default();
            if !bytes.is_empty() {
                slices[count] = IoSlice::new(bytes);
                count += 1;
                offered += bytes.len();
            }
        }
        match count {
            0 => (0, Ok(0)),
            1 => (offered, rustix::net::send(fd, &slices[0], flags)),
            _ => {
                let mut control = SendAncillaryBuffer::default();
                (offered, rustix::net::sendmsg(fd, &slices[..count], &mut control, flags))
            }
        }
    }
}

impl io::Write for Outbox {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("len", &self.len())
            .field("chunks", &self.chunks.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_across_chunks_keeps_order() {
        let mut out = Outbox::new();
        out.extend_from_slice(b"abc");
        out.push_static(b"def");
        out.push_vec(b"gh".to_vec());
        out.consume(4);
        assert_eq!(out.to_vec(), b"efgh");
        out.extend_from_slice(b"i"); // coalesces into the owned tail
        assert_eq!(out.to_vec(), b"efghi");
        out.consume(100);
        assert!(out.is_empty());
        assert!(out.chunks.is_empty());
    }

    #[test]
    fn vec_never_hands_out_a_partly_sent_front() {
        let mut out = Outbox::new();
        out.extend_from_slice(b"hello");
        out.consume(2);
        out.vec().clear(); // misuse: must not corrupt the sent offset
        assert_eq!(out.to_vec(), b"llo");
    }

    #[test]
    fn append_copies_owned_and_moves_shared() {
        let mut scratch = Outbox::new();
        scratch.extend_from_slice(b"xyz");
        scratch.consume(1);
        scratch.push_shared(Arc::from(&b"123"[..]));
        let mut queue = Outbox::new();
        queue.extend_from_slice(b">");
        queue.append(&mut scratch);
        assert_eq!(queue.to_vec(), b">yz123");
        assert!(scratch.is_empty());
        scratch.reset_scratch();
        assert!(scratch.is_empty());
    }
}
