//! [`DatagramSocket`]: the [`Handler`] that runs a [`Datagram`] protocol over one datagram
//! socket — batched receives within a budget, the send queue flushed in `sendmmsg` batches,
//! read interest dropped while the queue is over its high watermark, errors reported per
//! destination. See the [module docs](crate::datagram) for the policy.

use super::addr::datagram_peer_addr;
use super::context::{Control, DatagramContext};
use super::recv::{Received, Receiver};
use crate::{Datagram, DatagramAddr, DatagramConfig, DatagramOut, DatagramStats, Net, NetError};
use ioman_core::{Context, Failure, Handler, Interest, Key, Manager, Timeout};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags, sendmmsg};
use std::io::{self, IoSlice};

/// A datagram socket driven by a protocol `P`, registered with
/// [`register`](Self::register). The example is on [`Datagram`].
pub struct DatagramSocket<P> {
    proto: P,
    config: DatagramConfig,
    out: DatagramOut,
    control: Control,
    stats: DatagramStats,
    receiver: Receiver,
    /// Metadata of the batch being delivered (kept to reuse its allocation).
    batch: Vec<Received>,
    /// The connected peer, if the socket was connected when registered.
    peer: Option<DatagramAddr>,
    unix: bool,
    opened: bool,
    /// Reading stopped because the queue went over the high watermark.
    queue_paused: bool,
    /// A Unix destination was full: the registration's timeout is the retry.
    retrying: bool,
    closed: bool,
}

impl<P> DatagramSocket<P> {
    /// A socket for `proto`, configured by `config`.
    pub fn new(proto: P, config: DatagramConfig) -> DatagramSocket<P> {
        let out =
            DatagramOut::new(config.max_queue_bytes, config.max_queue_datagrams, config.high_water);
        DatagramSocket {
            proto,
            receiver: Receiver::new(config.batch, false),
            config,
            out,
            control: Control::default(),
            stats: DatagramStats::default(),
            batch: Vec::new(),
            peer: None,
            unix: false,
            opened: false,
            queue_paused: false,
            retrying: false,
            closed: false,
        }
    }

    /// The protocol.
    pub fn protocol(&self) -> &P {
        &self.proto
    }

    /// This socket's counters.
    pub fn stats(&self) -> DatagramStats {
        self.stats
    }

    /// Registers the socket (non-blocking, from [`bind_datagram`](crate::bind_datagram) or
    /// [`unbound_unix_datagram`](crate::unbound_unix_datagram), connected or not) between
    /// turns. [`Datagram::on_open`] runs in the next turn. Graceful
    /// [`shutdown`](crate::shutdown) closes it with the listeners.
    pub fn register<S: 'static>(
        mut self,
        manager: &mut Manager<Net<S>>,
        fd: impl Into<OwnedFd>,
    ) -> Result<Key, NetError>
    where
        P: Datagram<S>,
    {
        let fd = self.prepare(fd.into());
        let key = manager.add(fd, Interest::READ, Timeout::Never, self)?;
        manager.state_mut().datagrams.push(key);
        let _ = manager.wake(key); // `on_open`
        Ok(key)
    }

    /// As [`register`](Self::register), from inside a callback; `on_open` runs this turn.
    pub fn register_in<S: 'static>(
        mut self,
        cx: &mut Context<'_, Net<S>>,
        fd: impl Into<OwnedFd>,
    ) -> Result<Key, NetError>
    where
        P: Datagram<S>,
    {
        let fd = self.prepare(fd.into());
        let key = cx.add(fd, Interest::READ, Timeout::Never, self)?;
        cx.state().datagrams.push(key);
        let _ = cx.wake(key);
        Ok(key)
    }

    fn prepare(&mut self, fd: OwnedFd) -> OwnedFd {
        self.unix = rustix::net::getsockname(&fd)
            .is_ok_and(|a| a.address_family() == rustix::net::AddressFamily::UNIX);
        self.receiver = Receiver::new(self.config.batch, self.unix);
        self.peer = datagram_peer_addr(&fd);
        fd
    }
}

impl<S: 'static, P: Datagram<S>> Handler<Net<S>> for DatagramSocket<P> {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Net<S>>) {
        self.open(cx);
        self.receive(fd, cx);
        self.settle(fd, cx);
    }

    fn on_write(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Net<S>>) {
        self.open(cx);
        self.settle(fd, cx);
    }

    fn on_timeout(&mut self, fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<S>>) {
        self.retrying = false;
        cx.set_timeout(Timeout::Never);
        if let Some(fd) = fd {
            self.settle(fd, cx);
        }
    }

    fn on_wake(&mut self, fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<S>>) {
        let Some(fd) = fd else { return };
        if self.opened {
            self.hook(cx, |p, out, dcx| p.on_wake(out, dcx));
        } else {
            self.open(cx);
        }
        self.settle(fd, cx);
    }

    fn on_error(&mut self, fd: BorrowedFd<'_>, failure: Failure, cx: &mut Context<'_, Net<S>>) {
        self.open(cx);
        match failure {
            // An ICMP report about an earlier datagram (connected socket): that destination's
            // problem, not the socket's. Reading SO_ERROR cleared it.
            Failure::Error(Some(error)) => {
                cx.keep_after_error();
                self.send_error(None, &error, cx);
                self.settle(fd, cx);
            }
            Failure::Error(None) | Failure::Hangup => self.finish(cx),
        }
    }
}

impl<P> DatagramSocket<P> {
    /// Runs `on_open` before the socket's first other hook.
    fn open<S: 'static>(&mut self, cx: &mut Context<'_, Net<S>>)
    where
        P: Datagram<S>,
    {
        if !self.opened {
            self.opened = true;
            self.hook(cx, |p, out, dcx| p.on_open(out, dcx));
        }
    }

    /// Calls one protocol hook with the queue and a context.
    fn hook<S: 'static, R>(
        &mut self,
        cx: &mut Context<'_, Net<S>>,
        f: impl FnOnce(&mut P, &mut DatagramOut, &mut DatagramContext<'_, S>) -> R,
    ) -> R {
        let mut dcx = DatagramContext {
            cx: cx.reborrow(),
            control: &mut self.control,
            stats: &self.stats,
            peer: self.peer.as_ref(),
        };
        f(&mut self.proto, &mut self.out, &mut dcx)
    }

    /// Receives and delivers batches until the socket is empty, the budget is spent, or
    /// reading should stop (paused, queue over the high mark, closing).
    fn receive<S: 'static>(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Net<S>>)
    where
        P: Datagram<S>,
    {
        let slot = self.config.max_datagram;
        let need = self.config.batch * slot;
        let mut buf = std::mem::take(&mut cx.state().dgram_buf);
        if buf.len() < need {
            buf = vec![0; need]; // zeroed: untouched pages stay unallocated
        }
        let mut budget = self.config.read_budget;
        while budget > 0 && self.wants_read() {
            let want = budget.min(self.config.batch);
            self.batch.clear();
            self.stats.recv_calls += 1;
            cx.state().stats.datagram_recv_calls += 1;
            let got = match self.receiver.receive(fd, &mut buf, slot, want, &mut self.batch) {
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => break,
                Err(e) => {
                    // ECONNREFUSED and friends: an ICMP report on a connected socket.
                    self.send_error(None, &e.into(), cx);
                    break;
                }
            };
            budget = budget.saturating_sub(got);
            let mut batch = std::mem::take(&mut self.batch);
            for (i, msg) in batch.drain(..).enumerate() {
                if self.control.close || self.closed {
                    break; // the rest of the batch is dropped with the socket
                }
                if msg.truncated {
                    self.stats.truncated += 1;
                    cx.state().stats.datagrams_truncated += 1;
                    self.hook(cx, |p, out, dcx| p.on_truncated(&msg.from, msg.size, out, dcx));
                    continue;
                }
                self.stats.received += 1;
                self.stats.bytes_received += msg.size as u64;
                cx.state().stats.datagrams_received += 1;
                let data = &buf[i * slot..i * slot + msg.size];
                self.hook(cx, |p, out, dcx| p.on_datagram(data, &msg.from, out, dcx));
            }
            self.batch = batch;
            if self.out.queued_bytes() > self.config.high_water {
                self.flush(fd, cx); // room for the rest of the budget, if the socket takes it
                if self.out.queued_bytes() > self.config.high_water {
                    break; // `settle` pauses reading until the queue is down to the low mark
                }
            }
            if got < want {
                break; // the socket is empty
            }
        }
        cx.state().dgram_buf = buf;
    }

    fn wants_read(&self) -> bool {
        !self.control.paused && !self.queue_paused && !self.control.close && !self.closed
    }

    /// After every callback: send, apply the watermarks, `on_room`, interest, close.
    fn settle<S: 'static>(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Net<S>>)
    where
        P: Datagram<S>,
    {
        if self.closed {
            return;
        }
        self.flush(fd, cx);
        let held = self.out.queued_bytes();
        if self.queue_paused && held <= self.config.low_water {
            self.queue_paused = false;
            self.out.refused = true; // owe on_room
        } else if !self.queue_paused && held > self.config.high_water {
            self.queue_paused = true;
            self.stats.read_pauses += 1;
        }
        if self.out.refused && held <= self.config.low_water && !self.control.close {
            self.out.refused = false;
            self.hook(cx, |p, out, dcx| p.on_room(out, dcx));
            self.flush(fd, cx);
            if self.out.queued_bytes() > self.config.high_water {
                self.queue_paused = true;
                self.stats.read_pauses += 1;
            }
        }
        if self.control.close {
            return self.finish(cx);
        }
        let mut interest = None;
        if self.wants_read() {
            interest = Some(Interest::READ);
        }
        if !self.out.is_empty() && !self.retrying {
            interest = Some(interest.map_or(Interest::WRITE, |i| i | Interest::WRITE));
        }
        if cx.interest() != interest {
            cx.set_interest(interest);
        }
    }

    /// Sends queued datagrams in `sendmmsg` batches, within the send budget. A datagram the
    /// kernel refuses is dropped and reported; `EAGAIN` leaves the rest for the next writable
    /// event (or, on a Unix socket, for the retry timeout).
    fn flush<S: 'static>(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Net<S>>)
    where
        P: Datagram<S>,
    {
        let mut budget = self.config.send_budget;
        while !self.out.is_empty() && budget > 0 {
            let n = self.out.len().min(self.config.batch).min(budget);
            self.stats.send_calls += 1;
            cx.state().stats.datagram_send_calls += 1;
            match send_batch(fd, &self.out, n) {
                Ok(sent) => {
                    let bytes: usize = self.out.entries.iter().take(sent).map(|e| e.len).sum();
                    self.stats.sent += sent as u64;
                    self.stats.bytes_sent += bytes as u64;
                    cx.state().stats.datagrams_sent += sent as u64;
                    self.out.pop(sent);
                    budget = budget.saturating_sub(sent.max(1));
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => {
                    if self.unix && !self.retrying {
                        // epoll says a Unix datagram socket is writable even when the
                        // (unconnected) destination is full: wait on a timer instead.
                        self.retrying = true;
                        cx.set_timeout(Timeout::Idle(self.config.retry));
                    }
                    break;
                }
                Err(e) => {
                    let to = self.out.entries.front().and_then(|e| e.to.clone());
                    self.out.pop(1);
                    budget -= 1;
                    let to = to.map(DatagramAddr::from_any);
                    self.send_error(to.as_ref(), &e.into(), cx);
                }
            }
        }
        if self.retrying && self.out.is_empty() {
            self.retrying = false;
            cx.set_timeout(Timeout::Never);
        }
    }

    /// Counts, logs and reports one error about a destination (`None`: the connected peer).
    fn send_error<S: 'static>(
        &mut self,
        to: Option<&DatagramAddr>,
        error: &io::Error,
        cx: &mut Context<'_, Net<S>>,
    ) where
        P: Datagram<S>,
    {
        self.stats.send_errors += 1;
        cx.state().stats.datagram_send_errors += 1;
        let to = to.or(self.peer.as_ref()).cloned();
        tracing::debug!(socket = ?cx.key(), to = ?to, %error, "datagram refused or bounced");
        self.hook(cx, |p, out, dcx| p.on_send_error(to.as_ref(), error, out, dcx));
    }

    /// The protocol asked to close, or the socket failed: `on_close`, then the registration
    /// ends.
    fn finish<S: 'static>(&mut self, cx: &mut Context<'_, Net<S>>)
    where
        P: Datagram<S>,
    {
        if self.closed {
            return;
        }
        self.closed = true;
        self.hook(cx, |p, _out, dcx| p.on_close(dcx));
        let key = cx.key();
        cx.state().datagrams.retain(|k| *k != key);
        cx.close();
    }
}

/// One `sendmmsg` of the first `n` queued datagrams: how many the kernel took.
fn send_batch(fd: BorrowedFd<'_>, out: &DatagramOut, n: usize) -> Result<usize, Errno> {
    let mut iovs: Vec<[IoSlice<'_>; 1]> = Vec::with_capacity(n);
    let mut at = out.head;
    for entry in out.entries.iter().take(n) {
        iovs.push([IoSlice::new(&out.bytes[at..at + entry.len])]);
        at += entry.len;
    }
    let mut controls: Vec<SendAncillaryBuffer<'_, '_, '_>> =
        (0..n).map(|_| SendAncillaryBuffer::default()).collect();
    let mut msgs: Vec<MMsgHdr<'_>> = out
        .entries
        .iter()
        .zip(&iovs)
        .zip(controls.iter_mut())
        .map(|((entry, iov), control)| match &entry.to {
            Some(addr) => MMsgHdr::new_with_addr(addr, iov, control),
            None => MMsgHdr::new(iov, control),
        })
        .collect();
    sendmmsg(fd.as_fd(), &mut msgs, SendFlags::DONTWAIT | SendFlags::NOSIGNAL)
}
