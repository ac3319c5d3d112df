//! Graceful shutdown: stop accepting, let open connections finish, and return from
//! `Manager::run` — by the drain deadline at the latest.
//!
//! [`begin`] (or [`begin_in`] from a callback) closes every [`Listener`](crate::Listener)
//! and [`DatagramSocket`](crate::DatagramSocket),
//! marks the loop as draining and wakes every connection, whose protocol gets
//! [`on_shutdown`](crate::Protocol::on_shutdown) (by default: close once the output is
//! flushed). When the last connection closes, the manager is stopped; if some are still open
//! when `grace` has passed, they are closed (without `on_close`) and the manager is stopped.
//! Calling `begin` again while draining skips the rest of the grace period.
//!
//! [`on_signals`] does this on SIGINT or SIGTERM: signal-hook writes a byte to a socket pair
//! (all it does in the signal handler), whose other end is an ordinary registration of the
//! loop. A second signal ends the drain at once.

use crate::{Net, NetError};
use ioman_core::{Context, Handler, Interest, Key, Manager, Timeout, Timer};
use rustix::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// Starts a graceful shutdown of this manager's connections, between turns (or from a
/// [`Remote`](ioman_core::Remote) job: `remote.post(move |m| shutdown::begin(m, grace))`).
pub fn begin<S: 'static>(manager: &mut Manager<Net<S>>, grace: Duration) {
    drain(manager, grace);
}

/// Starts a graceful shutdown from inside a callback.
pub fn begin_in<S: 'static>(cx: &mut Context<'_, Net<S>>, grace: Duration) {
    drain(cx, grace);
}

/// Starts a graceful shutdown with `grace` when the process gets SIGINT or SIGTERM (the
/// signals' default action, terminating the process, is replaced for good). Returns the key
/// of the registration that watches for them.
pub fn on_signals<S: 'static>(
    manager: &mut Manager<Net<S>>,
    grace: Duration,
) -> Result<Key, NetError> {
    let read = signal_pipe()?;
    Ok(manager.add(read, Interest::READ, Timeout::Never, SignalWatch { grace })?)
}

/// A non-blocking socket that becomes readable on SIGINT or SIGTERM: register it with any
/// handler (read and discard its bytes in `on_read`) to react to those signals on the loop,
/// for a manager that is not a `Manager<Net<S>>` (else use [`on_signals`]). The signals'
/// default action, terminating the process, is replaced for good; the signal handler only
/// writes a byte (signal-hook's self-pipe).
pub fn signal_pipe() -> Result<OwnedFd, NetError> {
    let io = |call| move |source| NetError::Os { call, source };
    let (read, write) = UnixStream::pair().map_err(io("socketpair"))?;
    read.set_nonblocking(true).map_err(io("fcntl"))?;
    write.set_nonblocking(true).map_err(io("fcntl"))?;
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let end = write.try_clone().map_err(io("dup"))?;
        signal_hook::low_level::pipe::register(signal, end).map_err(io("sigaction"))?;
    }
    Ok(read.into())
}

/// Reacts to the signal pipe.
struct SignalWatch {
    grace: Duration,
}

impl<S: 'static> Handler<Net<S>> for SignalWatch {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Net<S>>) {
        let mut buf = [0u8; 64];
        while let Ok(1..) = rustix::io::read(fd, &mut buf) {}
        begin_in(cx, self.grace);
    }
}

/// Closes whatever is still open when the grace period ends.
struct Deadline;

impl<S: 'static> Handler<Net<S>> for Deadline {
    fn on_timeout(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<S>>) {
        force(cx);
        cx.close();
    }
}

/// What a shutdown needs from a manager or a context.
trait Ops<S> {
    fn net(&mut self) -> &mut Net<S>;
    fn now(&self) -> Instant;
    fn close(&mut self, key: Key);
    fn wake(&mut self, key: Key) -> bool;
    fn deadline(&mut self, grace: Duration) -> Option<Key>;
    fn stop(&mut self);
}

impl<S: 'static> Ops<S> for Manager<Net<S>> {
    fn net(&mut self) -> &mut Net<S> {
        self.state_mut()
    }
    fn now(&self) -> Instant {
        Manager::now(self)
    }
    fn close(&mut self, key: Key) {
        let _ = Manager::close(self, key);
    }
    fn wake(&mut self, key: Key) -> bool {
        Manager::wake(self, key).is_ok()
    }
    fn deadline(&mut self, grace: Duration) -> Option<Key> {
        self.add_timer(Timer::once(grace), Deadline).ok()
    }
    fn stop(&mut self) {
        Manager::stop(self);
    }
}

impl<S: 'static> Ops<S> for Context<'_, Net<S>> {
    fn net(&mut self) -> &mut Net<S> {
        self.state()
    }
    fn now(&self) -> Instant {
        Context::now(self)
    }
    fn close(&mut self, key: Key) {
        let _ = self.close_key(key);
    }
    fn wake(&mut self, key: Key) -> bool {
        if key == self.key() {
            return true; // the connection being called settles after this callback
        }
        Context::wake(self, key).is_ok()
    }
    fn deadline(&mut self, grace: Duration) -> Option<Key> {
        self.add_timer(Timer::once(grace), Deadline).ok()
    }
    fn stop(&mut self) {
        Context::stop(self);
    }
}

fn drain<S, O: Ops<S>>(ops: &mut O, grace: Duration) {
    if ops.net().draining.is_some() {
        return force(ops); // asked twice: now
    }
    let deadline = ops.now().checked_add(grace).unwrap_or_else(|| ops.now());
    ops.net().draining = Some(deadline);
    for key in std::mem::take(&mut ops.net().listeners) {
        ops.close(key);
    }
    // Datagram sockets have no connections to drain: they close with the listeners.
    for key in std::mem::take(&mut ops.net().datagrams) {
        ops.close(key);
    }
    let conns: Vec<Key> = ops.net().conns.keys().copied().collect();
    for key in conns {
        if ops.wake(key) {
            ops.net().mail.entry(key).or_default().poked = true;
        } else {
            ops.net().forget(key);
        }
    }
    if ops.net().conns.is_empty() {
        return ops.stop();
    }
    let timer = ops.deadline(grace);
    ops.net().drain_timer = timer;
}

/// Closes every connection that is left and stops the manager.
fn force<S, O: Ops<S>>(ops: &mut O) {
    let net = ops.net();
    let conns: Vec<Key> = net.conns.drain().map(|(key, _)| key).collect();
    net.mail.clear();
    for key in conns {
        ops.close(key);
    }
    if let Some(timer) = ops.net().drain_timer.take() {
        ops.close(timer);
    }
    ops.stop();
}
