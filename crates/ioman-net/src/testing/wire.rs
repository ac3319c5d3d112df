//! [`Wire`]: the in-memory stand-in for a socket and its peer, shared between a harnessed
//! [`Connection`](crate::Connection) (which reads and sends through it, as its
//! [`Transport`](crate::transport::Transport)) and the [`Harness`](super::Harness) (which plays
//! the peer). It reports exactly what a non-blocking socket reports: `EAGAIN` when nothing is
//! there, `0` at end of stream, `ECONNRESET` after a reset, a short send when the peer's
//! window is full.

use crate::{CloseReason, Endpoint, Outbox};
use rustix::io::Errno;
use std::collections::VecDeque;
use std::io;

/// One connection's wire (see the module docs).
#[derive(Default)]
pub(crate) struct Wire {
    /// Bytes the peer sent that the connection has not read yet.
    input: VecDeque<u8>,
    /// The peer finished sending (after `input`).
    fin: bool,
    /// The peer reset the connection.
    reset: bool,
    /// Bytes the connection sent that the test has not taken yet.
    output: Vec<u8>,
    /// How many more bytes the peer takes; `None`: all of them.
    window: Option<usize>,
    /// The connection shut down its sending side.
    write_shut: bool,
    /// How the connection ended, once it has.
    closed: Option<CloseReason>,
    peer: Option<Endpoint>,
    local: Option<Endpoint>,
}

impl Wire {
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> rustix::io::Result<usize> {
        if self.reset {
            return Err(Errno::CONNRESET);
        }
        if self.input.is_empty() {
            return if self.fin { Ok(0) } else { Err(Errno::AGAIN) };
        }
        let n = buf.len().min(self.input.len());
        for (to, from) in buf.iter_mut().zip(self.input.drain(..n)) {
            *to = from;
        }
        Ok(n)
    }

    /// Moves what the peer's window takes (at most `budget`) from `out` to the output.
    pub(crate) fn take_output(&mut self, out: &mut Outbox, budget: usize) -> io::Result<usize> {
        if self.reset {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        let max = budget.min(self.window.unwrap_or(usize::MAX));
        let output = &mut self.output;
        let n = out.drain_into(max, &mut |bytes| output.extend_from_slice(bytes))?;
        if let Some(window) = &mut self.window {
            *window -= n;
        }
        Ok(n)
    }

    pub(crate) fn shut_write(&mut self) {
        self.write_shut = true;
    }

    /// Epoll would report `EPOLLIN`: input, its end, or a reset.
    pub(crate) fn readable(&self) -> bool {
        !self.input.is_empty() || self.fin || self.reset
    }

    /// Epoll would report `EPOLLRDHUP`.
    pub(crate) fn fin_pending(&self) -> bool {
        self.fin || self.reset
    }

    pub(crate) fn is_reset(&self) -> bool {
        self.reset
    }

    /// Epoll would report `EPOLLOUT`.
    pub(crate) fn writable(&self) -> bool {
        self.window != Some(0) && !self.reset
    }

    pub(crate) fn peer_addr(&self) -> Option<Endpoint> {
        self.peer.clone()
    }

    pub(crate) fn local_addr(&self) -> Option<Endpoint> {
        self.local.clone()
    }

    pub(crate) fn record_close(&mut self, reason: CloseReason) {
        self.closed.get_or_insert(reason);
    }

    // The peer's side, for the harness.

    pub(crate) fn push_input(&mut self, bytes: &[u8]) {
        self.input.extend(bytes);
    }

    pub(crate) fn finish(&mut self) {
        self.fin = true;
    }

    pub(crate) fn reset_by_peer(&mut self) {
        self.reset = true;
    }

    pub(crate) fn take_received(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    pub(crate) fn unread_input(&self) -> usize {
        self.input.len()
    }

    pub(crate) fn set_window(&mut self, window: Option<usize>) {
        self.window = window;
    }

    pub(crate) fn widen(&mut self, bytes: usize) {
        if let Some(window) = &mut self.window {
            *window = window.saturating_add(bytes);
        }
    }

    pub(crate) fn is_write_shut(&self) -> bool {
        self.write_shut
    }

    pub(crate) fn take_close(&mut self) -> Option<CloseReason> {
        self.closed.take()
    }

    pub(crate) fn set_addrs(&mut self, peer: Option<Endpoint>, local: Option<Endpoint>) {
        (self.peer, self.local) = (peer, local);
    }
}
