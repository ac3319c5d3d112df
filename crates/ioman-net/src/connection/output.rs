//! The output side of a [`Connection`], and what happens after every callback (`settle`):
//! take the mail other connections sent, flush the queue, apply close and half-close
//! requests, call `on_drained`, apply the watermarks, offer kept input again, deliver the end
//! of stream, choose between the idle and the send timeout, and tell epoll what to wait for.

use super::Connection;
use super::input::{REOFFER_CALLS, WRITE_BUDGET};
use crate::flags::Flags;
use crate::{CloseReason, Net, Protocol};
use ioman_core::Context;
use rustix::fd::BorrowedFd;

/// Rounds of `settle`'s loop per callback: each round that runs a hook (drained, kept input,
/// end of stream) may produce output to flush. The rest happens on the next event or wake.
const SETTLE_ROUNDS: usize = 8;

impl<P> Connection<P> {
    /// After any callback: bring the connection to a resting state, then set the interest
    /// and the timeout that state needs.
    pub(super) fn settle<S: 'static>(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        cx: &mut Context<'_, Net<S>>,
    ) where
        P: Protocol<S>,
    {
        let mut offers = REOFFER_CALLS;
        for _ in 0..SETTLE_ROUNDS {
            match self.settle_round(fd, cx, &mut offers) {
                Ok(true) => continue,
                Ok(false) => break,
                Err(reason) => return self.finish(fd, cx, reason),
            }
        }
        if self.flags.has(Flags::CLOSED) {
            return;
        }
        if !cx.state().mail.is_empty() && self.mail_left(cx) {
            let _ = cx.wake(cx.key()); // the rounds ran out: the rest of its mail next turn
        }
        self.after_settle(cx);
        let pending = self.output_pending();
        if self.transport.handshaking() {
            // The handshake's deadline, which activity does not move (see ConnConfig).
            let now = cx.now();
            let timeout = self.config.handshake_timeout;
            if let Some(deadline) = self.transport.handshake_deadline(now, timeout) {
                let left = deadline.saturating_duration_since(now);
                cx.set_timeout(ioman_core::Timeout::Idle(left));
                self.flags.set(Flags::HANDSHAKING);
                self.flags.clear(Flags::SEND_WAIT);
            }
        } else if self.flags.has(Flags::HANDSHAKING) || pending != self.flags.has(Flags::SEND_WAIT)
        {
            self.flags.clear(Flags::HANDSHAKING);
            // Pending output that makes no progress is the send timeout's business; an empty
            // queue is the idle timeout's. Every write (and read) event re-arms it.
            self.flags.assign(Flags::SEND_WAIT, pending);
            let config = &self.config;
            cx.set_timeout(if pending { config.effective_send_timeout() } else { config.idle });
        }
        let want = self.interest();
        if cx.interest() != want {
            cx.set_interest(want);
        }
        if want.is_some_and(|i| i.is_readable()) && self.transport.has_buffered_input() {
            let _ = cx.wake(cx.key()); // decrypted input epoll will not report
        }
    }

    /// One round of `settle`; `Ok(true)` when a hook ran and another round is due.
    fn settle_round<S: 'static>(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        cx: &mut Context<'_, Net<S>>,
        offers: &mut usize,
    ) -> Result<bool, CloseReason>
    where
        P: Protocol<S>,
    {
        if self.flags.has(Flags::CLOSED) {
            return Ok(false);
        }
        if !cx.state().mail.is_empty() {
            self.take_mail(fd, cx);
        }
        if cx.state().draining.is_some() && !self.flags.has(Flags::SHUTDOWN_SEEN) {
            self.flags.set(Flags::SHUTDOWN_SEEN);
            self.hook(fd, cx, |p, out, pcx| p.on_shutdown(out, pcx));
        }
        if self.flags.has(Flags::CLOSE_NOW) {
            return Err(CloseReason::Closed);
        }
        if self.queue.overflowed() {
            return Err(CloseReason::OutputOverflow);
        }
        if self.flags.has(Flags::WRITE_SHUT) {
            self.queue.clear();
        }
        if self.output_pending() {
            if !self.flags.has(Flags::CONNECTING) {
                let sent = self.transport.send(fd, &mut self.queue, WRITE_BUDGET);
                let sent = sent.map_err(CloseReason::Error)?;
                cx.state().stats.bytes_written += sent as u64;
            }
            self.apply_watermarks();
            if self.output_pending() {
                return Ok(false);
            }
        } else if self.flags.has(Flags::WATERMARK) {
            self.apply_watermarks(); // emptied without a send (e.g. discarded after SHUT_WR)
        }
        self.queue.release(); // give the memory back while idle
        if self.flags.has(Flags::HAD_OUTPUT) && !self.flags.has(Flags::CONNECTING) {
            self.flags.clear(Flags::HAD_OUTPUT);
            self.hook(fd, cx, |p, out, pcx| p.on_drained(out, pcx));
            if !self.queue.is_empty() || self.flags.has(Flags::CLOSE_NOW) {
                return Ok(true);
            }
        }
        if self.flags.has(Flags::CLOSE_AFTER_FLUSH) {
            return Err(CloseReason::Closed);
        }
        if self.flags.has(Flags::SHUTDOWN_WANTED) && !self.flags.has(Flags::WRITE_SHUT) {
            self.transport.shutdown_write(fd);
            self.flags.set(Flags::WRITE_SHUT);
        }
        if self.flags.has(Flags::WRITE_SHUT) && self.flags.has(Flags::READ_EOF) {
            return Err(CloseReason::Done);
        }
        if !self.input.is_empty() && !self.flags.has(Flags::STALLED) && self.can_offer() {
            if *offers == 0 {
                let _ = cx.wake(cx.key()); // the rest next turn: one peer cannot hog a turn
                return Ok(false);
            }
            self.reoffer(fd, cx, offers)?;
            return Ok(true);
        }
        if self.eof_due() {
            self.flags.set(Flags::READ_EOF);
            self.input = Vec::new(); // an incomplete message can never be completed now
            self.hook(fd, cx, |p, out, pcx| p.on_eof(out, pcx));
            return Ok(true);
        }
        Ok(false)
    }

    /// Whether `on_eof` is due: the peer finished, and its input has been offered — all of it
    /// consumed, or the protocol said it needs more bytes (which will never come) at a moment
    /// it could take input.
    fn eof_due(&self) -> bool {
        let closing = Flags::READ_EOF | Flags::CLOSE_AFTER_FLUSH | Flags::CLOSE_NOW;
        self.flags.has(Flags::PEER_FIN)
            && !self.flags.has(closing)
            && (self.input.is_empty() || (self.flags.has(Flags::STALLED) && self.can_offer()))
    }

    /// Reading stops at the high watermark and is allowed again at the low one; crossing the
    /// low one is a change worth offering kept input again.
    fn apply_watermarks(&mut self) {
        let len = self.queue.len();
        if len >= self.config.high_water {
            self.flags.set(Flags::WATERMARK);
        } else if len <= self.config.low_water && self.flags.has(Flags::WATERMARK) {
            self.flags.clear(Flags::WATERMARK | Flags::STALLED);
        }
    }
}
