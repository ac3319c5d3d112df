//! [`Outbox`]: bytes waiting to be sent, as a queue of chunks. Small writes are coalesced into
//! one owned buffer; whole buffers (`Vec<u8>`, `Arc<[u8]>`, `&'static [u8]`) are queued without
//! copying, and a region of a file is queued as a file region, sent with `sendfile` without
//! ever entering memory. Sending uses one `send` for a single chunk and `sendmsg` with an I/O
//! vector for several, always with `MSG_NOSIGNAL` so a vanished peer is an `EPIPE`, never a
//! `SIGPIPE`.
//!
//! An outbox knows two limits, set by its [`Connection`](crate::Connection): the *room mark*
//! (the high watermark: a protocol that checks [`Outbox::has_room`] stops producing there) and
//! the *cap* on the memory it holds (past it, appends are refused and the connection is closed
//! as a slow consumer). Both are counted in O(1).

use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use rustix::net::{SendAncillaryBuffer, SendFlags};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice};
use std::sync::Arc;

/// The most chunks one `sendmsg` carries (well under the kernel's `IOV_MAX` of 1024).
const MAX_IOV: usize = 64;

/// A buffer the per-loop scratch outbox may keep between uses; larger ones are freed.
const KEEP_SCRATCH: usize = 256 * 1024;

/// What a chunk that is not an owned copy costs against the cap, at least: its place in the
/// queue. So a protocol cannot grow the queue without bound with tiny shared chunks.
const CHUNK_CHARGE: usize = 64;

/// What a file region costs against the cap: an open file, not its bytes (they stay on disk).
/// With the default 8 MiB cap, at most 128 file regions wait per connection.
pub const FILE_CHARGE: usize = 64 * 1024;

/// Output waiting for a peer: what a [`Protocol`](crate::Protocol) appends replies to.
///
/// Appending never blocks; the [`Connection`](crate::Connection) sends what the socket takes
/// and keeps the rest, in order.
///
/// # Bounded by construction
/// - [`len`](Self::len) is every byte waiting, file regions included. The connection stops
///   offering input while it is at or above the high watermark, and a protocol producing many
///   replies from one input checks [`has_room`](Self::has_room) before each and returns early
///   (what it did not consume is offered again once the output drained: see
///   [`Protocol::on_data`](crate::Protocol::on_data)).
/// - [`held`](Self::held) is the memory the outbox keeps alive: owned and shared bytes, plus
///   [`FILE_CHARGE`] per file region. An append that would take it past the cap
///   ([`ConnConfig::max_output`](crate::ConnConfig::max_output)) is dropped, and the connection
///   is closed with [`CloseReason::OutputOverflow`](crate::CloseReason::OutputOverflow) when
///   the hook returns. So even a protocol that ignores the room mark cannot make the process
///   allocate more than the cap per connection. The one exception is [`vec`](Self::vec): bytes
///   written into it directly are checked when the hook returns, so check `has_room` between
///   messages when you encode into it.
///
/// ```
/// use ioman::net::Outbox;
/// use std::sync::Arc;
/// let mut out = Outbox::new();
/// out.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
/// out.push_shared(Arc::from(&b"<cached body>"[..]));
/// out.vec().extend_from_slice(b"\n"); // for encoders that want a Vec<u8>
/// assert_eq!(out.len(), 19 + 13 + 1);
/// assert_eq!(out.to_vec(), b"HTTP/1.1 200 OK\r\n\r\n<cached body>\n");
///
/// let mut bounded = Outbox::bounded(16, 1024);
/// bounded.extend_from_slice(&[b'x'; 16]);
/// assert!(!bounded.has_room()); // a well-behaved protocol stops here
/// bounded.extend_from_slice(&[b'y'; 2000]); // past the cap: refused
/// assert!(bounded.overflowed() && bounded.len() == 16);
/// ```
pub struct Outbox {
    chunks: VecDeque<Chunk>,
    /// Bytes of the front chunk already sent.
    head: usize,
    /// Bytes of every chunk but an owned back chunk (which [`vec`](Self::vec) may grow).
    sealed_len: usize,
    /// The cap charge of every chunk but an owned back chunk.
    sealed_held: usize,
    room_mark: usize,
    cap: usize,
    overflowed: bool,
}

impl Default for Outbox {
    fn default() -> Outbox {
        Outbox::new()
    }
}

enum Chunk {
    Owned(Vec<u8>),
    /// A shared buffer from an offset (a partly sent chunk moved between outboxes keeps its
    /// buffer instead of being copied).
    Shared(Arc<[u8]>, usize),
    Static(&'static [u8]),
    File(FileRegion),
}

/// A part of an open file, sent with `sendfile`.
struct FileRegion {
    file: Arc<File>,
    offset: u64,
    len: usize,
}

impl Chunk {
    fn len(&self) -> usize {
        match self {
            Chunk::Owned(v) => v.len(),
            Chunk::Shared(b, from) => b.len() - from,
            Chunk::Static(b) => b.len(),
            Chunk::File(f) => f.len,
        }
    }

    fn charge(&self) -> usize {
        match self {
            Chunk::Owned(v) => v.len(),
            Chunk::Shared(b, _) => b.len().max(CHUNK_CHARGE),
            Chunk::Static(_) => CHUNK_CHARGE,
            Chunk::File(_) => FILE_CHARGE,
        }
    }

    /// The bytes of a chunk in memory; `None` for a file region.
    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Chunk::Owned(v) => Some(v),
            Chunk::Shared(b, from) => b.get(*from..),
            Chunk::Static(b) => Some(b),
            Chunk::File(_) => None,
        }
    }
}

impl Outbox {
    /// An empty outbox without limits; allocates nothing until something is appended.
    pub const fn new() -> Outbox {
        Outbox::bounded(usize::MAX, usize::MAX)
    }

    /// An empty outbox whose room ends at `room_mark` waiting bytes and which refuses to hold
    /// more than `cap` (see the type's docs). A [`Connection`](crate::Connection) sets these
    /// from its [`ConnConfig`](crate::ConnConfig); this constructor is for driving a protocol
    /// or an encoder without one, e.g. in a test.
    pub const fn bounded(room_mark: usize, cap: usize) -> Outbox {
        Outbox {
            chunks: VecDeque::new(),
            head: 0,
            sealed_len: 0,
            sealed_held: 0,
            room_mark,
            cap,
            overflowed: false,
        }
    }

    /// The open owned back chunk's length (not yet counted in the sealed totals).
    fn tail_len(&self) -> usize {
        match self.chunks.back() {
            Some(Chunk::Owned(v)) => v.len(),
            _ => 0,
        }
    }

    /// Bytes waiting to be sent, file regions included.
    #[inline]
    pub fn len(&self) -> usize {
        (self.sealed_len + self.tail_len()).saturating_sub(self.head)
    }

    /// Whether nothing is waiting.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty() || self.len() == 0
    }

    /// The memory this outbox keeps alive, as counted against its cap: owned and shared bytes
    /// (at least 64 per shared or static chunk), plus [`FILE_CHARGE`] per file region.
    /// A partly sent buffer counts whole: its memory is freed only once all of it is sent.
    pub fn held(&self) -> usize {
        self.sealed_held + self.tail_len()
    }

    /// Whether the waiting bytes are below the room mark (the connection's high watermark):
    /// a protocol producing several replies from one input checks this before each one and
    /// stops when it is `false`.
    pub fn has_room(&self) -> bool {
        self.len() < self.room_mark
    }

    /// Bytes that can still be appended before the room mark (0 when at or past it).
    pub fn room(&self) -> usize {
        self.room_mark.saturating_sub(self.len())
    }

    /// Whether an append was refused because it would have passed the cap. The connection
    /// then closes with [`CloseReason::OutputOverflow`](crate::CloseReason::OutputOverflow).
    pub fn overflowed(&self) -> bool {
        self.overflowed || self.held() > self.cap
    }

    /// Whether `charge` more bytes fit under the cap; records the overflow if not.
    fn admit(&mut self, charge: usize) -> bool {
        let fits = !self.overflowed && self.held().saturating_add(charge) <= self.cap;
        self.overflowed |= !fits;
        fits
    }

    /// Seals an owned back chunk into the totals, before something is pushed after it.
    fn seal_tail(&mut self) {
        let tail = self.tail_len();
        self.sealed_len += tail;
        self.sealed_held += tail;
    }

    fn push_chunk(&mut self, chunk: Chunk) {
        if chunk.len() == 0 || !self.admit(chunk.charge()) {
            return;
        }
        self.seal_tail();
        if !matches!(chunk, Chunk::Owned(_)) {
            self.sealed_len += chunk.len();
            self.sealed_held += chunk.charge();
        }
        self.chunks.push_back(chunk);
    }

    /// Appends a copy of `bytes` (coalesced with the previous small writes).
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() && self.admit(bytes.len()) {
            self.vec().extend_from_slice(bytes);
        }
    }

    /// The owned buffer at the end of the queue, for code that writes into a `Vec<u8>`. Only
    /// append to it: bytes already in it may be partly sent. Writes into it are checked
    /// against the cap when the hook returns, not as they happen (see the type's docs).
    pub fn vec(&mut self) -> &mut Vec<u8> {
        let tail_is_fresh_owned = match self.chunks.back() {
            Some(Chunk::Owned(_)) => self.chunks.len() > 1 || self.head == 0,
            _ => false,
        };
        if !tail_is_fresh_owned {
            self.seal_tail();
            self.chunks.push_back(Chunk::Owned(Vec::new()));
        }
        match self.chunks.back_mut() {
            Some(Chunk::Owned(v)) => v,
            _ => unreachable!("an owned chunk was just ensured at the back"),
        }
    }

    /// Queues a whole buffer without copying it.
    pub fn push_vec(&mut self, bytes: Vec<u8>) {
        self.push_chunk(Chunk::Owned(bytes));
    }

    /// Queues a shared buffer (a cached file, a stored value, a broadcast) without copying it.
    /// A chunk costs a queue entry and an I/O vector slot when sent; below about 1 KiB,
    /// [`extend_from_slice`](Self::extend_from_slice) after a small head is cheaper (the
    /// example servers copy up to 1 KiB and share what is larger).
    pub fn push_shared(&mut self, bytes: Arc<[u8]>) {
        self.push_chunk(Chunk::Shared(bytes, 0));
    }

    /// Queues a static buffer without copying it.
    pub fn push_static(&mut self, bytes: &'static [u8]) {
        self.push_chunk(Chunk::Static(bytes));
    }

    /// Queues `len` bytes of `file` from `offset`, to be sent with `sendfile`: the bytes are
    /// never read into memory, and only as much is sent per event as the socket takes. The
    /// file must hold that many bytes when they are sent; if it has shrunk, the connection is
    /// closed with an `UnexpectedEof` error (the peer was promised those bytes).
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// let file = std::fs::File::open("/etc/hostname")?;
    /// let len = file.metadata()?.len();
    /// let mut out = ioman::net::Outbox::new();
    /// out.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: ...\r\n\r\n");
    /// out.push_file(file, 0, len);
    /// # Ok(()) }
    /// ```
    pub fn push_file(&mut self, file: impl Into<Arc<File>>, offset: u64, len: u64) {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.push_chunk(Chunk::File(FileRegion { file: file.into(), offset, len }));
    }

    /// Drops everything waiting, and the memory that held it (the limits stay).
    pub fn clear(&mut self) {
        *self = Outbox::bounded(self.room_mark, self.cap);
    }

    /// A copy of the waiting bytes, in order (for tests and diagnostics; file regions are read
    /// with `pread`, and what cannot be read is left out).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len().min(1 << 30));
        for (i, c) in self.chunks.iter().enumerate() {
            let skip = if i == 0 { self.head } else { 0 };
            match (c, c.bytes()) {
                (_, Some(bytes)) => v.extend_from_slice(bytes.get(skip..).unwrap_or_default()),
                (Chunk::File(f), None) => read_region(f, skip, &mut v),
                _ => {}
            }
        }
        v
    }

    /// The limits a connection gives its outbox before each hook.
    pub(crate) fn set_limits(&mut self, room_mark: usize, cap: usize) {
        self.room_mark = room_mark;
        self.cap = cap;
    }

    /// Moves everything waiting in `other` to the end of `self`: owned bytes are copied (so
    /// `other` keeps its buffer for reuse), shared, static and file chunks are moved (a partly
    /// sent one keeps its buffer, from where sending stopped). What
    /// does not fit under `self`'s cap is dropped and marks `self` overflowed.
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
                Chunk::Shared(b, from) => self.push_chunk(Chunk::Shared(b, from + skip)),
                Chunk::Static(b) => self.push_static(b.get(skip..).unwrap_or_default()),
                Chunk::File(f) => self.push_chunk(Chunk::File(FileRegion {
                    offset: f.offset + skip as u64,
                    len: f.len - skip,
                    file: f.file,
                })),
            }
        }
        self.overflowed |= std::mem::take(&mut other.overflowed);
        other.sealed_len = 0;
        other.sealed_held = 0;
        if let Some(v) = keep {
            other.chunks.push_back(Chunk::Owned(v));
        }
    }

    /// Empties a reusable scratch outbox, keeping the queue's and one moderate buffer's
    /// memory (the direct-reply path reuses them for every message).
    pub(crate) fn reset_scratch(&mut self) {
        // The common case, after every callback that replied with small copies: one owned
        // buffer, kept in place (popping and pushing it back cost a message ~60 instructions).
        if let (1, Some(Chunk::Owned(v))) = (self.chunks.len(), self.chunks.front_mut()) {
            if v.capacity() <= KEEP_SCRATCH {
                v.clear();
                (self.head, self.sealed_len, self.sealed_held, self.overflowed) = (0, 0, 0, false);
                return;
            }
        }
        let keep = match self.chunks.pop_front() {
            Some(Chunk::Owned(mut v)) if v.capacity() <= KEEP_SCRATCH => {
                v.clear();
                Some(v)
            }
            _ => None,
        };
        self.chunks.clear();
        (self.head, self.sealed_len, self.sealed_held, self.overflowed) = (0, 0, 0, false);
        if let Some(v) = keep {
            self.chunks.push_back(Chunk::Owned(v));
        }
    }

    /// Marks `n` bytes as sent, dropping chunks that are done.
    fn consume(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.chunks.front() else { break };
            let left = front.len().saturating_sub(self.head);
            if n < left {
                self.head += n;
                return;
            }
            if left == 0 && self.chunks.len() == 1 {
                break; // only the kept, empty buffer is left
            }
            n -= left;
            self.pop_front();
        }
        // Drop empty owned chunks left at the front (e.g. an unused `vec()`), but the last.
        while self.chunks.len() > 1 && self.chunks.front().is_some_and(|c| c.len() <= self.head) {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        self.head = 0;
        if self.chunks.len() == 1 {
            // The last chunk is an owned buffer of moderate size: keep it, empty, as the open
            // tail, so the next reply does not allocate (a connection's queue gives it back
            // when it goes idle; the loop's scratch outbox keeps it).
            if let Some(Chunk::Owned(v)) = self.chunks.front_mut() {
                if v.capacity() <= KEEP_SCRATCH {
                    v.clear();
                } else {
                    self.chunks.clear();
                }
                return;
            }
        }
        if let Some(chunk) = self.chunks.pop_front() {
            self.sealed_len -= chunk.len();
            self.sealed_held -= chunk.charge();
        }
    }

    /// Drops everything waiting and the memory that held it, if there is any (cheaper than
    /// [`clear`](Self::clear) when the outbox never held anything).
    pub(crate) fn release(&mut self) {
        if !self.chunks.is_empty() || self.overflowed || self.chunks.capacity() > 0 {
            self.clear();
        }
    }

    /// Sends as much as the socket takes, at most about `budget` bytes. Returns the bytes
    /// sent; `WouldBlock` is not an error (the rest stays queued). A file region that ends
    /// before its length is an `UnexpectedEof` error.
    pub(crate) fn send(&mut self, fd: BorrowedFd<'_>, budget: usize) -> io::Result<usize> {
        let mut sent = 0;
        while sent < budget && !self.is_empty() {
            let (tried, result) = self.send_once(fd, budget - sent);
            match result {
                Ok(0) if tried > 0 && matches!(self.chunks.front(), Some(Chunk::File(_))) => {
                    let e = io::Error::new(io::ErrorKind::UnexpectedEof, "file region shrank");
                    return Err(e);
                }
                Ok(n) => {
                    self.consume(n);
                    sent += n;
                    if n < tried {
                        break; // the socket buffer is full
                    }
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => break,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(sent)
    }

    /// Moves up to `max` waiting bytes, in order, into `sink` — for a transport that is not a
    /// socket (a TLS session's plaintext side, an in-memory wire). Memory chunks are passed as
    /// slices; file regions are read with `pread` in pieces of at most 16 KiB. Returns the
    /// bytes moved; a file region that ends before its length is an `UnexpectedEof` error.
    pub(crate) fn drain_into(
        &mut self,
        max: usize,
        sink: &mut dyn FnMut(&[u8]),
    ) -> io::Result<usize> {
        let mut moved = 0;
        let mut buf = [0u8; 16 * 1024];
        while moved < max && !self.is_empty() {
            let want = max - moved;
            let n = match self.chunks.front() {
                None => break,
                Some(Chunk::File(f)) => {
                    let at = f.offset + self.head as u64;
                    let count = (f.len - self.head).min(want).min(buf.len());
                    match rustix::io::pread(&*f.file, &mut buf[..count], at) {
                        Ok(0) => {
                            let e =
                                io::Error::new(io::ErrorKind::UnexpectedEof, "file region shrank");
                            return Err(e);
                        }
                        Ok(n) => {
                            sink(&buf[..n]);
                            n
                        }
                        Err(Errno::INTR) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                Some(chunk) => {
                    let bytes =
                        chunk.bytes().unwrap_or_default().get(self.head..).unwrap_or_default();
                    let n = bytes.len().min(want);
                    sink(&bytes[..n]);
                    n
                }
            };
            self.consume(n);
            moved += n;
        }
        Ok(moved)
    }

    /// One send call over the front chunks: (bytes offered, result). A file region at the
    /// front goes out with `sendfile`; memory chunks before a file region are sent with
    /// `MSG_MORE`, so a response head and its file body leave in full segments.
    fn send_once(&self, fd: BorrowedFd<'_>, budget: usize) -> (usize, rustix::io::Result<usize>) {
        let flags = SendFlags::NOSIGNAL;
        match (self.chunks.front(), self.chunks.len()) {
            (Some(Chunk::File(f)), _) => {
                let mut offset = f.offset + self.head as u64;
                let count = (f.len - self.head).min(budget);
                return (count, rustix::fs::sendfile(fd, &*f.file, Some(&mut offset), count));
            }
            (Some(chunk), 1) => {
                // The common case (one reply): one `send`, no I/O vector to build.
                let bytes = chunk.bytes().unwrap_or_default().get(self.head..).unwrap_or_default();
                return (bytes.len(), rustix::net::send(fd, bytes, flags));
            }
            _ => {}
        }
        let mut slices = [IoSlice::new(&[]); MAX_IOV];
        let mut count = 0;
        let mut offered = 0;
        let mut flags = flags;
        for (i, chunk) in self.chunks.iter().take(MAX_IOV).enumerate() {
            let Some(bytes) = chunk.bytes() else {
                flags |= SendFlags::MORE;
                break;
            };
            let bytes = bytes.get(if i == 0 { self.head } else { 0 }..).unwrap_or_default();
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

/// Appends what `pread` gives of a file region from `skip` on (for [`Outbox::to_vec`]).
fn read_region(f: &FileRegion, skip: usize, v: &mut Vec<u8>) {
    let mut at = f.offset + skip as u64;
    let mut left = f.len - skip;
    let mut buf = [0u8; 16 * 1024];
    while left > 0 {
        match rustix::io::pread(&*f.file, &mut buf[..left.min(16 * 1024)], at) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                v.extend_from_slice(&buf[..n]);
                at += n as u64;
                left -= n;
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
            .field("held", &self.held())
            .field("chunks", &self.chunks.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The O(1) counters against a walk over the chunks.
    #[track_caller]
    fn check(out: &Outbox) {
        let walked: usize = out.chunks.iter().map(Chunk::len).sum::<usize>() - out.head;
        assert_eq!(out.len(), walked, "len counter drifted");
        assert_eq!(out.len(), out.to_vec().len());
    }

    #[test]
    fn consume_across_chunks_keeps_order() {
        let mut out = Outbox::new();
        out.extend_from_slice(b"abc");
        out.push_static(b"def");
        out.push_vec(b"gh".to_vec());
        check(&out);
        out.consume(4);
        assert_eq!(out.to_vec(), b"efgh");
        check(&out);
        out.extend_from_slice(b"i"); // coalesces into the owned tail
        assert_eq!(out.to_vec(), b"efghi");
        check(&out);
        out.consume(100);
        assert!(out.is_empty());
        assert!(out.chunks.len() <= 1, "at most the kept, empty buffer");
        assert_eq!((out.sealed_len, out.sealed_held, out.held()), (0, 0, 0));
    }

    #[test]
    fn vec_never_hands_out_a_partly_sent_front() {
        let mut out = Outbox::new();
        out.extend_from_slice(b"hello");
        out.consume(2);
        out.vec().clear(); // misuse: must not corrupt the sent offset
        assert_eq!(out.to_vec(), b"llo");
        check(&out);
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
        check(&queue);
        assert!(scratch.is_empty());
        scratch.reset_scratch();
        assert!(scratch.is_empty());
        check(&scratch);
    }

    #[test]
    fn a_partly_sent_shared_chunk_moves_without_a_copy() {
        let big: Arc<[u8]> = Arc::from(vec![3u8; 1000]);
        let mut scratch = Outbox::new();
        scratch.push_shared(big.clone());
        scratch.consume(400);
        let mut queue = Outbox::new();
        queue.append(&mut scratch);
        assert_eq!(Arc::strong_count(&big), 2, "the buffer itself moved");
        assert_eq!(queue.len(), 600);
        assert_eq!(queue.to_vec(), vec![3u8; 600]);
        check(&queue);
    }

    #[test]
    fn the_cap_refuses_appends_and_shared_chunks_count_once() {
        let mut out = Outbox::bounded(100, 1000);
        let big: Arc<[u8]> = Arc::from(vec![7u8; 600]);
        out.push_shared(big.clone());
        assert!(!out.has_room() && !out.overflowed());
        out.push_shared(big);
        assert!(out.overflowed(), "1200 bytes held under a 1000-byte cap");
        assert_eq!(out.len(), 600);
        out.clear();
        assert!(!out.overflowed() && out.is_empty() && out.has_room());
    }

    #[test]
    fn file_regions_count_as_waiting_bytes_but_not_as_memory() {
        let path = std::env::temp_dir().join(format!("ioman-outbox-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let file = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let mut out = Outbox::new();
        out.extend_from_slice(b"<");
        out.push_file(file, 2, 5);
        out.extend_from_slice(b">");
        assert_eq!(out.to_vec(), b"<23456>");
        assert_eq!(out.len(), 7);
        assert_eq!(out.held(), 2 + FILE_CHARGE);
        check(&out);
        out.consume(3);
        assert_eq!(out.to_vec(), b"456>");
        check(&out);
    }
}
