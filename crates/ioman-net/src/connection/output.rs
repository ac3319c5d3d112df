//! The output side of a [`Connection`]: after every callback, take the mail other
//! connections sent, flush the queue, apply close and half-close requests, call `on_drained`,
//! apply the watermarks, and tell epoll what to wait for next.

use super::Connection;
use super::input::WRITE_BUDGET;
use crate::flags::Flags;
use crate::{CloseReason, Net, Protocol};
use ioman_core::Context;
use rustix::fd::BorrowedFd;

impl<P> Connection<P> {
    /// After any callback: take mail, flush, apply close/shutdown requests, call
    /// `on_drained`, then set the interest the new state needs.
    pub(super) fn settle<S: 'static>(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Net<S>>)
    where
        P: Protocol<S>,
    {
        for _ in 0..8 {
            if self.flags.has(Flags::CLOSED) {
                return;
            }
            if !cx.state().mail.is_empty() {
                self.take_mail(cx);
            }
            if cx.state().draining.is_some() && !self.flags.has(Flags::SHUTDOWN_SEEN) {
                self.flags.set(Flags::SHUTDOWN_SEEN);
                self.hook(cx, |p, out, pcx| p.on_shutdown(out, pcx));
            }
            if self.flags.has(Flags::CLOSE_NOW) {
                return self.finish(cx, CloseReason::Closed);
            }
            if self.flags.has(Flags::WRITE_SHUT) {
                self.queue.clear();
            }
            if !self.queue.is_empty() && !self.flags.has(Flags::CONNECTING) {
                match self.queue.send(fd, WRITE_BUDGET) {
                    Ok(n) => cx.state().stats.bytes_written += n as u64,
                    Err(e) => return self.finish(cx, CloseReason::Error(e)),
                }
            }
            if self.queue.len() > self.config.output_cap() {
                return self.finish(cx, CloseReason::OutputOverflow);
            }
            if !self.queue.is_empty() {
                self.flags.set(Flags::HAD_OUTPUT);
                break;
            }
            self.queue.clear(); // give the memory back while idle
            if self.flags.has(Flags::HAD_OUTPUT) && !self.flags.has(Flags::CONNECTING) {
                self.flags.clear(Flags::HAD_OUTPUT);
                self.hook(cx, |p, out, pcx| p.on_drained(out, pcx));
                if !self.queue.is_empty() || self.flags.has(Flags::CLOSE_NOW) {
                    continue;
                }
            }
            if self.flags.has(Flags::CLOSE_AFTER_FLUSH) {
                return self.finish(cx, CloseReason::Closed);
            }
            if self.flags.has(Flags::SHUTDOWN_WANTED) && !self.flags.has(Flags::WRITE_SHUT) {
                // Fails only if the peer is already gone; the next event reports that.
                let _ = rustix::net::shutdown(fd, rustix::net::Shutdown::Write);
                self.flags.set(Flags::WRITE_SHUT);
            }
            if self.flags.has(Flags::WRITE_SHUT) && self.flags.has(Flags::READ_EOF) {
                return self.finish(cx, CloseReason::Done);
            }
            break;
        }
        self.publish_backlog(cx);
        let len = self.queue.len();
        if len >= self.config.high_water {
            self.flags.set(Flags::WATERMARK);
        } else if len <= self.config.low_water {
            self.flags.clear(Flags::WATERMARK);
        }
        let want = self.interest();
        if cx.interest() != want {
            cx.set_interest(want);
        }
    }

    /// Moves what other connections sent into the queue and applies their requests.
    fn take_mail<S: 'static>(&mut self, cx: &mut Context<'_, Net<S>>)
    where
        P: Protocol<S>,
    {
        let key = cx.key();
        let Some(mail) = cx.state().mail.get_mut(&key) else { return };
        let requests = std::mem::take(&mut mail.requests);
        let woken = std::mem::take(&mut mail.poked);
        self.queue.append(&mut mail.out);
        mail.out.clear();
        if mail.is_idle() {
            cx.state().mail.remove(&key);
        }
        if woken {
            cx.set_timeout(self.config.idle); // mail from a peer is activity: restart idle
        }
        if !self.queue.is_empty() {
            self.flags.set(Flags::HAD_OUTPUT);
        }
        if requests & crate::peer::CLOSE != 0 {
            self.flags.set(Flags::CLOSE_NOW);
        }
        if requests & crate::peer::CLOSE_AFTER_FLUSH != 0 {
            self.flags.set(Flags::CLOSE_AFTER_FLUSH);
        }
        if requests & crate::peer::SHUTDOWN_WRITE != 0 {
            self.flags.set(Flags::SHUTDOWN_WANTED);
        }
        if requests & crate::peer::WAKE != 0 {
            self.hook(cx, |p, out, pcx| p.on_wake(out, pcx));
        }
    }

    /// Tells senders how much output waits here (see [`Peer::pending`](crate::Peer::pending)).
    fn publish_backlog<S>(&mut self, cx: &mut Context<'_, Net<S>>) {
        let len = self.queue.len();
        if len == 0 && !self.flags.has(Flags::PUBLISHED) {
            return; // the common case costs nothing
        }
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
