//! What other connections ask of a [`Connection`] through its mailbox (see
//! [`Peer`](crate::Peer)): bytes to send, wake, half-close, close, resume after a drain; and
//! what it tells them back: how much output waits here (its backlog), and "drained" to the
//! connections that wait for it.

use super::Connection;
use crate::flags::Flags;
use crate::peer::{self, CLOSE, CLOSE_AFTER_FLUSH, RESUME, SHUTDOWN_WRITE, TIMER, WAKE};
use crate::{Net, Protocol};
use ioman_core::Context;
use rustix::fd::BorrowedFd;

impl<P> Connection<P> {
    /// Moves what other connections sent into the queue and applies their requests. Bytes
    /// refused at the cap have already marked the mailbox overflowed, which carries into the
    /// queue (the connection then closes as a slow consumer).
    pub(super) fn take_mail<S: 'static>(
        &mut self,
        fd: Option<BorrowedFd<'_>>,
        cx: &mut Context<'_, Net<S>>,
    ) where
        P: Protocol<S>,
    {
        let key = cx.key();
        let Some(mail) = cx.state().mail.get_mut(&key) else { return };
        let requests = std::mem::take(&mut mail.requests);
        let woken = std::mem::take(&mut mail.poked);
        let before = self.queue.len();
        if !mail.waiters.is_empty() {
            self.flags.set(Flags::WAITED_FOR);
        }
        self.queue.append(&mut mail.out);
        mail.out.clear();
        if mail.is_idle() {
            cx.state().mail.remove(&key);
        }
        // Mail from a peer is activity (restart idle); the connection's own timer is not.
        let activity = requests != TIMER || self.queue.len() != before;
        if woken && activity && !self.flags.has(Flags::SEND_WAIT) {
            cx.set_timeout(self.config.idle);
        }
        if self.queue.len() != before {
            self.flags.set(Flags::HAD_OUTPUT);
        }
        let asked = [
            (CLOSE, Flags::CLOSE_NOW),
            (CLOSE_AFTER_FLUSH, Flags::CLOSE_AFTER_FLUSH),
            (SHUTDOWN_WRITE, Flags::SHUTDOWN_WANTED),
        ];
        for (request, flag) in asked {
            if requests & request != 0 {
                self.flags.set(flag);
            }
        }
        if requests & RESUME != 0 {
            self.flags.clear(Flags::WAIT_PEERS | Flags::STALLED);
        }
        if requests & WAKE != 0 {
            self.hook(fd, cx, |p, out, pcx| p.on_wake(out, pcx));
        }
        if requests & TIMER != 0 {
            self.hook(fd, cx, |p, out, pcx| p.on_timer(out, pcx));
        }
    }

    /// Whether mail for this connection is still waiting (requests or bytes it has not
    /// taken, e.g. posted by its own last hook).
    pub(super) fn mail_left<S>(&self, cx: &mut Context<'_, Net<S>>) -> bool {
        let key = cx.key();
        cx.state().mail.get(&key).is_some_and(|m| m.requests != 0 || !m.out.is_empty())
    }

    /// After settling: tells senders how much output waits here (see
    /// [`Peer::pending`](crate::Peer::pending)), and releases the connections waiting for
    /// this one once it is at its low watermark.
    pub(super) fn after_settle<S: 'static>(&mut self, cx: &mut Context<'_, Net<S>>) {
        let len = self.queue.len();
        if len > 0 || self.flags.has(Flags::PUBLISHED) {
            self.publish(cx, len);
        }
        if !self.flags.has(Flags::WAITED_FOR) || len > self.config.low_water {
            return; // the common case costs nothing
        }
        self.flags.clear(Flags::WAITED_FOR);
        let key = cx.key();
        let Some(mail) = cx.state().mail.get_mut(&key) else { return };
        let waiters = std::mem::take(&mut mail.waiters);
        if mail.is_idle() {
            cx.state().mail.remove(&key);
        }
        peer::release(cx, waiters);
    }

    fn publish<S>(&mut self, cx: &mut Context<'_, Net<S>>, len: usize) {
        let key = cx.key();
        let mail = &mut cx.state().mail;
        if len > 0 {
            mail.entry(key).or_default().backlog = len;
            self.flags.set(Flags::PUBLISHED);
        } else {
            if let Some(m) = mail.get_mut(&key) {
                m.backlog = 0;
                if m.is_idle() {
                    mail.remove(&key);
                }
            }
            self.flags.clear(Flags::PUBLISHED);
        }
    }
}
