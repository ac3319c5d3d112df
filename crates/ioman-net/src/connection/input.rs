//! The input side of a [`Connection`]: reads through the loop's shared buffer within the
//! per-event budget, hands bytes to the protocol (keeping only what it did not consume),
//! sends the direct reply, offers kept input again when progress is possible, buffers what a
//! peer sent before its half-close while reading is paused, and salvages unread input after
//! a hang-up.

use super::Connection;
use crate::flags::Flags;
use crate::{CloseReason, Net, ProtoContext, Protocol};
use ioman_core::Context;
use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use std::io;

/// The most bytes one connection sends per event (the socket buffer usually stops it first).
pub(super) const WRITE_BUDGET: usize = 4 * 1024 * 1024;

/// The most bytes read after a hang-up (the kernel's receive buffer holds less).
const SALVAGE_LIMIT: usize = 64 * 1024 * 1024;

/// The most offers of kept input per callback; the rest is offered next turn (a self-wake), so
/// a protocol that handles one message per call cannot monopolise a turn.
pub(super) const REOFFER_CALLS: usize = 64;

/// How a read loop treats the protocol's pauses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Read while input may be offered (the normal case).
    Offer,
    /// The peer hung up: read what is left whatever the pauses, and offer it.
    Salvage,
    /// The peer finished while input may not be offered: keep what is left, offer nothing.
    Keep,
}

impl<P> Connection<P> {
    /// `EPOLLHUP`: both directions are shut. Usually nothing is left to read, but a
    /// connection that paused reading (backpressure) after its own `shutdown(SHUT_WR)` can
    /// still have data in the kernel's receive buffer, and the core closes the registration
    /// when this callback returns. So read what is left (bounded by that buffer) and hand it
    /// to the protocol first, then close.
    pub(super) fn hangup<S: 'static>(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        cx: &mut Context<'_, Net<S>>,
    ) where
        P: Protocol<S>,
    {
        let done = Flags::READ_EOF | Flags::CLOSE_AFTER_FLUSH | Flags::CLOSE_NOW | Flags::CLOSED;
        if !self.flags.has(done) {
            // Epoll reports no `EPOLLIN` without read interest, so just try: it does not block.
            let mut result = self.read(fd, cx, SALVAGE_LIMIT, Mode::Salvage);
            // Input kept while paused (e.g. buffered at the peer's half-close) is offered too.
            if result.is_ok() && !self.input.is_empty() && !self.flags.has(Flags::STALLED) {
                result = self.deliver(fd, &[], cx);
            }
            if let Err(reason) = result {
                return self.finish(fd, cx, reason);
            }
            self.settle(fd, cx);
        }
        self.finish(fd, cx, CloseReason::Hangup);
    }

    /// The transport has something to read (epoll's `EPOLLIN`/`EPOLLRDHUP`, or a wake of an
    /// in-memory wire): read and offer it, or, while input may not be offered, keep what the
    /// peer sent before finishing; then settle.
    #[inline(always)]
    pub(super) fn readable<S: 'static>(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        cx: &mut Context<'_, Net<S>>,
    ) where
        P: Protocol<S>,
    {
        if self.transport.handshaking() {
            // The handshake reads whatever the protocol's state (see the TLS module docs).
            if let Err(e) = self.transport.advance_handshake(fd) {
                let reason = self.transport.failure(e);
                return self.finish(fd, cx, reason);
            }
            if self.transport.ended_in_handshake() {
                // Level-triggered epoll would report this end of stream on every wait.
                let eof =
                    io::Error::new(io::ErrorKind::UnexpectedEof, "closed in the TLS handshake");
                return self.finish(fd, cx, CloseReason::Error(eof));
            }
            if self.transport.handshaking() || !self.can_offer() {
                // Read for the handshake only: plaintext that came with its last flight waits
                // in the session until input may be offered (a self-wake then reads it).
                return self.settle(fd, cx);
            }
        }
        let result = match self.can_offer() {
            true => self.read(fd, cx, self.config.read_budget, Mode::Offer),
            false => self.buffer_until_eof(fd, cx), // EPOLLRDHUP while paused
        };
        match result {
            Ok(()) => self.settle(fd, cx),
            Err(reason) => self.finish(fd, cx, reason),
        }
    }

    /// Whether the current interest would let epoll report what a transport without an fd
    /// has ready: input while reading, or the peer's end of stream while paused.
    pub(super) fn wants_read<S>(&self, cx: &Context<'_, Net<S>>) -> bool {
        cx.interest().is_some_and(|i| {
            i.is_readable() || (i.is_read_closed() && self.transport.peer_fin_pending())
        })
    }

    /// Reads up to `budget` bytes, handing each piece to the protocol (or, in [`Mode::Keep`],
    /// to the kept input). End of stream sets `PEER_FIN`; `settle` delivers `on_eof` once the
    /// kept input has been offered.
    pub(super) fn read<S: 'static>(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        cx: &mut Context<'_, Net<S>>,
        budget: usize,
        mode: Mode,
    ) -> Result<(), CloseReason>
    where
        P: Protocol<S>,
    {
        let mut left = budget;
        let mut buf = std::mem::take(&mut cx.state().read_buf);
        if buf.is_empty() {
            buf = vec![0; crate::net::DEFAULT_READ_BUFFER].into_boxed_slice();
        }
        let mut result = Ok(());
        while left > 0 && self.may_read(mode) {
            let want = left.min(buf.len());
            match self.transport.read(fd, &mut buf[..want]) {
                Ok(0) => {
                    self.flags.set(Flags::PEER_FIN);
                    break;
                }
                Ok(n) => {
                    cx.state().stats.bytes_read += n as u64;
                    left -= n;
                    if mode == Mode::Keep {
                        self.input.extend_from_slice(&buf[..n]);
                        self.flags.clear(Flags::STALLED);
                    } else if let Err(reason) = self.deliver(fd, &buf[..n], cx) {
                        result = Err(reason);
                        break;
                    }
                    if n < want && mode == Mode::Offer && !self.transport.has_buffered_input() {
                        break; // drained for now
                    }
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => break,
                Err(e) => {
                    result = Err(self.transport.failure(e));
                    break;
                }
            }
        }
        cx.state().read_buf = buf;
        result
    }

    fn may_read(&self, mode: Mode) -> bool {
        match mode {
            Mode::Offer => self.can_offer() && self.input.len() < self.config.max_input,
            Mode::Salvage => !self
                .flags
                .has(Flags::PEER_FIN | Flags::CLOSE_AFTER_FLUSH | Flags::CLOSE_NOW | Flags::CLOSED),
            Mode::Keep => !self.flags.has(Flags::PEER_FIN),
        }
    }

    /// `EPOLLRDHUP` while input may not be offered (paused, output above the watermark,
    /// waiting for a peer): the peer has finished sending. What it sent before is moved from
    /// the kernel into the kept input — not offered, and bounded by
    /// [`ConnConfig::max_input`](crate::ConnConfig::max_input); anything beyond stays in the
    /// kernel — so the connection knows the end of stream now ([`ProtoContext::peer_finished`])
    /// and stops watching for it (it would be reported on every wait).
    pub(super) fn buffer_until_eof<S: 'static>(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        cx: &mut Context<'_, Net<S>>,
    ) -> Result<(), CloseReason>
    where
        P: Protocol<S>,
    {
        self.flags.set(Flags::RDHUP_SEEN);
        let room = self.config.max_input.saturating_sub(self.input.len() + 1);
        self.read(fd, cx, room, Mode::Keep)
    }

    /// Offers the kept input again while that can make progress (see the contract on
    /// [`Protocol`]): until the protocol consumes nothing, input may not be offered, or the
    /// callback's `offers` are used up (`settle` then wakes the connection for the rest).
    pub(super) fn reoffer<S: 'static>(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        cx: &mut Context<'_, Net<S>>,
        offers: &mut usize,
    ) -> Result<(), CloseReason>
    where
        P: Protocol<S>,
    {
        while *offers > 0
            && !self.input.is_empty()
            && !self.flags.has(Flags::STALLED)
            && self.can_offer()
        {
            *offers -= 1;
            self.deliver(fd, &[], cx)?;
        }
        Ok(())
    }

    /// Gives `data` (after any kept input) to the protocol. With nothing queued, the reply
    /// goes through the loop's scratch outbox and straight to the socket; only what the
    /// socket does not take is moved into this connection's queue. The outbox carries the
    /// connection's limits, so the protocol sees its room and cannot pass the cap.
    fn deliver<S: 'static>(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        data: &[u8],
        cx: &mut Context<'_, Net<S>>,
    ) -> Result<(), CloseReason>
    where
        P: Protocol<S>,
    {
        let direct = self.queue.is_empty();
        let mut out = match direct {
            true => {
                // An `Option` taken and put back: no placeholder outbox is built and dropped.
                let mut scratch = cx.state().scratch.take().unwrap_or_default();
                scratch.set_limits(self.config.high_water, self.config.output_cap());
                scratch
            }
            false => std::mem::take(&mut self.queue),
        };
        let before = if direct { 0 } else { out.len() };
        let mut pcx = ProtoContext {
            cx: cx.reborrow(),
            flags: &mut self.flags,
            fd,
            transport: &self.transport,
        };
        let used = if self.input.is_empty() {
            let used = self.proto.on_data(data, &mut out, &mut pcx).min(data.len());
            self.input.extend_from_slice(data.get(used..).unwrap_or_default());
            used
        } else {
            self.input.extend_from_slice(data);
            let used = self.proto.on_data(&self.input, &mut out, &mut pcx).min(self.input.len());
            self.input.drain(..used);
            if self.input.is_empty() {
                self.input = Vec::new();
            }
            used
        };
        self.flags.assign(Flags::STALLED, used == 0);
        if out.len() != before {
            self.flags.set(Flags::HAD_OUTPUT);
        }
        let overflowed = out.overflowed();
        let mut sent = Ok(0);
        if !direct {
            self.queue = out;
        } else {
            let stop = Flags::CLOSE_NOW | Flags::WRITE_SHUT;
            if !overflowed && !self.flags.has(stop) && !out.is_empty() {
                sent = self.transport.send(fd, &mut out, WRITE_BUDGET);
                if !out.is_empty() {
                    self.queue.append(&mut out); // what the socket did not take
                }
            }
            out.reset_scratch();
            cx.state().scratch = Some(out);
        }
        cx.state().stats.bytes_written += *sent.as_ref().unwrap_or(&0) as u64;
        if overflowed {
            return Err(CloseReason::OutputOverflow);
        }
        if let Err(e) = sent {
            return Err(CloseReason::Error(e));
        }
        // Full of input the protocol cannot use: one message larger than the cap. (Input kept
        // because the protocol stopped early is not an error: reading just waits for it.)
        if used == 0 && self.input.len() >= self.config.max_input {
            return Err(CloseReason::InputTooLarge);
        }
        Ok(())
    }
}
