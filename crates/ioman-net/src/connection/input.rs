//! The input side of a [`Connection`]: reads through the loop's shared buffer within the
//! per-event budget, hands bytes to the protocol (keeping only what it did not consume), sends
//! the direct reply, and salvages unread input after a hang-up.

use super::Connection;
use crate::flags::Flags;
use crate::{CloseReason, Net, ProtoContext, Protocol};
use ioman_core::{Context, Interest};
use rustix::fd::BorrowedFd;
use rustix::io::Errno;

/// The most bytes one connection sends per event (the socket buffer usually stops it first).
pub(super) const WRITE_BUDGET: usize = 4 * 1024 * 1024;

/// The most bytes read after a hang-up (the kernel's receive buffer holds less).
const SALVAGE_LIMIT: usize = 64 * 1024 * 1024;

impl<P> Connection<P> {
    /// Whether another read may happen in this event; `salvage` ignores the pauses.
    fn wants_input(&self, salvage: bool) -> bool {
        if salvage {
            let done =
                Flags::READ_EOF | Flags::CLOSE_AFTER_FLUSH | Flags::CLOSE_NOW | Flags::CLOSED;
            return !self.flags.has(done);
        }
        self.interest().is_some_and(Interest::is_readable)
            && self.queue.len() < self.config.high_water
    }

    /// `EPOLLHUP`: both directions are shut. Usually nothing is left to read, but a
    /// connection that paused reading (backpressure) after its own `shutdown(SHUT_WR)` can
    /// still have data in the kernel's receive buffer, and the core closes the registration
    /// when this callback returns. So read what is left (bounded by that buffer) and hand it
    /// to the protocol first, then close.
    pub(super) fn hangup<S: 'static>(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Net<S>>)
    where
        P: Protocol<S>,
    {
        // Epoll reports no `EPOLLIN` without read interest, so just try: it does not block.
        if self.wants_input(true) {
            if let Err(reason) = self.read(fd, cx, SALVAGE_LIMIT, true) {
                return self.finish(cx, reason);
            }
            self.settle(fd, cx);
        }
        self.finish(cx, CloseReason::Hangup);
    }

    /// Reads up to `budget` bytes, handing each piece to the protocol.
    pub(super) fn read<S: 'static>(
        &mut self,
        fd: BorrowedFd<'_>,
        cx: &mut Context<'_, Net<S>>,
        budget: usize,
        salvage: bool,
    ) -> Result<(), CloseReason>
    where
        P: Protocol<S>,
    {
        let mut left = budget;
        let mut buf = std::mem::take(&mut cx.state().read_buf);
        if buf.is_empty() {
            buf = vec![0; crate::net::DEFAULT_READ_BUFFER].into_boxed_slice();
        }
        let mut result = Ok(false);
        while left > 0 && self.wants_input(salvage) {
            let want = left.min(buf.len());
            match rustix::io::read(fd, &mut buf[..want]) {
                Ok(0) => {
                    result = Ok(true);
                    break;
                }
                Ok(n) => {
                    cx.state().stats.bytes_read += n as u64;
                    left -= n;
                    if let Err(reason) = self.deliver(fd, &buf[..n], cx) {
                        result = Err(reason);
                        break;
                    }
                    if n < want && !salvage {
                        break; // drained for now
                    }
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => break,
                Err(e) => {
                    result = Err(CloseReason::Error(e.into()));
                    break;
                }
            }
        }
        cx.state().read_buf = buf;
        if result? {
            self.flags.set(Flags::READ_EOF);
            self.input = Vec::new();
            self.hook(cx, |p, out, pcx| p.on_eof(out, pcx));
        }
        Ok(())
    }

    /// Gives `data` (after any unconsumed input) to the protocol. With nothing queued, the
    /// reply goes through the loop's scratch outbox and straight to the socket; only what the
    /// socket does not take is copied into this connection's queue.
    fn deliver<S: 'static>(
        &mut self,
        fd: BorrowedFd<'_>,
        data: &[u8],
        cx: &mut Context<'_, Net<S>>,
    ) -> Result<(), CloseReason>
    where
        P: Protocol<S>,
    {
        let direct = self.queue.is_empty();
        let mut out = match direct {
            true => std::mem::take(&mut cx.state().scratch),
            false => std::mem::take(&mut self.queue),
        };
        let mut pcx = ProtoContext { cx, flags: &mut self.flags };
        if self.input.is_empty() {
            let used = self.proto.on_data(data, &mut out, &mut pcx).min(data.len());
            self.input.extend_from_slice(data.get(used..).unwrap_or_default());
        } else {
            self.input.extend_from_slice(data);
            let used = self.proto.on_data(&self.input, &mut out, &mut pcx).min(self.input.len());
            self.input.drain(..used);
            if self.input.is_empty() {
                self.input = Vec::new();
            }
        }
        let mut sent = Ok(0);
        if !direct {
            self.queue = out;
        } else {
            if !self.flags.has(Flags::CLOSE_NOW | Flags::WRITE_SHUT) && !out.is_empty() {
                sent = out.send(fd, WRITE_BUDGET);
                self.queue.append(&mut out);
            }
            out.reset_scratch();
            cx.state().scratch = out;
        }
        cx.state().stats.bytes_written += *sent.as_ref().unwrap_or(&0) as u64;
        if let Err(e) = sent {
            return Err(CloseReason::Error(e));
        }
        if self.input.len() >= self.config.max_input {
            return Err(CloseReason::InputTooLarge);
        }
        Ok(())
    }
}
