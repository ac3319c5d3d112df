//! [`TlsStream`]: TLS under a [`Connection`](crate::Connection), with rustls's sans-IO API.
//! Ciphertext moves between the socket and rustls here; the connection above sees plaintext
//! only, with the same flow control as on a plain socket:
//! - **reading**: plaintext rustls already holds is handed out first; only then is more
//!   ciphertext read from the socket (one `read`, as much as rustls takes) and decrypted.
//!   Handshake messages rustls produced on the way are sent at once.
//! - **sending**: pending ciphertext goes out first; plaintext is taken from the outbox and
//!   encrypted only while the previous ciphertext left completely, at most
//!   [`PLAINTEXT_STEP`] at a time, so what rustls holds for a slow peer is bounded by one
//!   step, whatever the protocol queued (that stays in the outbox, under its watermarks and
//!   cap). Nothing is taken from the outbox before the handshake is done.
//! - **closing**: `close_notify` is sent on a clean close and before a half-close, whose
//!   `shutdown(SHUT_WR)` waits until the alert has left.
//!
//! A protocol error (a bad or garbage handshake, a plaintext client, a rejected certificate)
//! is kept and ends the connection with [`CloseReason::Tls`](crate::CloseReason::Tls); the
//! alert rustls prepared is sent first, best effort.

use crate::Outbox;
use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use rustix::net::SendFlags;
use rustls::Connection as Session;
use std::io::{self, Read, Write};
use std::time::Instant;

/// The most plaintext encrypted at a time: rustls then holds at most this much ciphertext
/// (plus record overhead) for a peer that reads slowly.
pub(crate) const PLAINTEXT_STEP: usize = 64 * 1024;

/// One TLS session over a connection's socket.
pub(crate) struct TlsStream {
    session: Session,
    /// When the handshake must be done (set at the first settle).
    pub(crate) deadline: Option<Instant>,
    /// The protocol error that ended the session.
    failure: Option<rustls::Error>,
    /// The socket reached end of stream.
    eof: bool,
    /// A half-close is asked: `shutdown(SHUT_WR)` once the ciphertext is out.
    shut_pending: bool,
}

/// A socket as rustls's byte source and sink.
struct Socket<'a>(BorrowedFd<'a>);

impl Read for Socket<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(rustix::io::read(self.0, buf)?)
    }
}

impl Write for Socket<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(rustix::net::send(self.0, buf, SendFlags::NOSIGNAL)?)
    }

    /// rustls hands over every record it holds at once: one `sendmsg`, not one call each.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let mut control = rustix::net::SendAncillaryBuffer::default();
        Ok(rustix::net::sendmsg(self.0, bufs, &mut control, SendFlags::NOSIGNAL)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TlsStream {
    pub(crate) fn new(mut session: Session) -> TlsStream {
        // The outbox is the buffer; rustls holds one step at most (see the module docs).
        session.set_buffer_limit(None);
        TlsStream { session, deadline: None, failure: None, eof: false, shut_pending: false }
    }

    /// The session (for what the protocol may ask: ALPN, SNI, version).
    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    /// Reads plaintext: `Ok(0)` at the end of the stream (`close_notify`, or the socket's end:
    /// many clients never send `close_notify`), `Err(AGAIN)` when nothing is ready,
    /// `Err(PROTO)` on a TLS error (kept, see [`take_failure`](Self::take_failure)).
    pub(crate) fn read(&mut self, fd: BorrowedFd<'_>, buf: &mut [u8]) -> rustix::io::Result<usize> {
        loop {
            match self.session.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(_) => return Err(Errno::IO),
            }
            if self.eof {
                return Ok(0);
            }
            match self.session.read_tls(&mut Socket(fd)) {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) => return Err(errno(&e)),
            }
            if let Err(e) = self.session.process_new_packets() {
                let _ = self.flush(fd); // the alert, if rustls prepared one
                self.failure = Some(e);
                return Err(Errno::PROTO);
            }
            if self.session.wants_write() {
                // Handshake messages, session tickets, key updates: out now.
                self.flush(fd).map_err(|e| errno(&e))?;
            }
        }
    }

    /// Moves the handshake on without handing out plaintext: reads what the socket has while
    /// the handshake is under way, and sends rustls's answers. It runs whether or not the
    /// connection may take input now (a protocol paused by its own output must not stall
    /// its handshake); application data that arrives with the last handshake flight stays in
    /// rustls (one read at most) until the connection reads.
    pub(crate) fn advance_handshake(&mut self, fd: BorrowedFd<'_>) -> rustix::io::Result<()> {
        while self.session.is_handshaking() && !self.eof {
            match self.session.read_tls(&mut Socket(fd)) {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(errno(&e)),
            }
            if let Err(e) = self.session.process_new_packets() {
                let _ = self.flush(fd);
                self.failure = Some(e);
                return Err(Errno::PROTO);
            }
        }
        if self.session.wants_write() {
            self.flush(fd).map_err(|e| errno(&e))?;
        }
        Ok(())
    }

    /// Sends pending ciphertext, then encrypts and sends up to about `budget` bytes of the
    /// outbox. Returns the plaintext bytes taken from the outbox.
    pub(crate) fn send(
        &mut self,
        fd: BorrowedFd<'_>,
        out: &mut Outbox,
        budget: usize,
    ) -> io::Result<usize> {
        let mut taken = 0;
        loop {
            if !self.flush(fd)? {
                return Ok(taken);
            }
            if self.session.is_handshaking() || out.is_empty() || taken >= budget {
                return Ok(taken);
            }
            let max = (budget - taken).min(PLAINTEXT_STEP);
            let mut writer = self.session.writer();
            // No buffer limit: rustls takes everything.
            taken += out.drain_into(max, &mut |bytes| {
                let _ = writer.write_all(bytes);
            })?;
        }
    }

    /// Writes what ciphertext rustls holds; `Ok(true)` once all of it left. A half-close
    /// waiting for that happens then.
    fn flush(&mut self, fd: BorrowedFd<'_>) -> io::Result<bool> {
        while self.session.wants_write() {
            match self.session.write_tls(&mut Socket(fd)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if std::mem::take(&mut self.shut_pending) {
            let _ = rustix::net::shutdown(fd, rustix::net::Shutdown::Write);
        }
        Ok(true)
    }

    /// Half-close: `close_notify`, then `shutdown(SHUT_WR)` once it has left.
    pub(crate) fn shutdown_write(&mut self, fd: BorrowedFd<'_>) {
        self.session.send_close_notify();
        self.shut_pending = true;
        let _ = self.flush(fd);
    }

    /// The connection is closing: a clean close says so with `close_notify` (best effort: the
    /// socket closes right after).
    pub(crate) fn close(&mut self, fd: BorrowedFd<'_>, clean: bool) {
        if clean && self.failure.is_none() {
            self.session.send_close_notify();
            let _ = self.flush(fd);
        }
    }

    /// Ciphertext is waiting for the socket.
    pub(crate) fn has_pending_output(&self) -> bool {
        self.session.wants_write()
    }

    /// Plaintext (or the end of the stream) is ready without reading the socket.
    pub(crate) fn has_buffered_input(&mut self) -> bool {
        match self.session.process_new_packets() {
            Ok(state) => state.plaintext_bytes_to_read() > 0 || state.peer_has_closed(),
            Err(_) => true, // reading reports it
        }
    }

    /// The peer closed the socket before the handshake finished.
    pub(crate) fn ended_in_handshake(&self) -> bool {
        self.eof && self.session.is_handshaking()
    }

    pub(crate) fn is_handshaking(&self) -> bool {
        self.session.is_handshaking()
    }

    pub(crate) fn take_failure(&mut self) -> Option<rustls::Error> {
        self.failure.take()
    }
}

fn errno(e: &io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::IO, Errno::from_raw_os_error)
}
