//! [`Peer`]: how code reaches *another* connection of the same loop by its [`Key`] — send it
//! bytes, wake it, ask it to half-close or close. This is what lets handlers cooperate (a chat
//! room's broadcast, a proxy's two sides) without holding pointers to each other.
//!
//! Each request lands in the target's mailbox in the loop state ([`Net`]), and the target is
//! woken with [`Context::wake`]: its `on_wake` reads the mailbox later in this turn (or right
//! after the current callback, if the target is the connection being called). A key that is
//! no longer a live connection is [`NetError::Gone`], never a crash.

use crate::{Net, NetError, Outbox};
use ioman_core::{Context, Key};

/// Requests in a mailbox.
pub(crate) const WAKE: u8 = 1;
pub(crate) const SHUTDOWN_WRITE: u8 = 2;
pub(crate) const CLOSE_AFTER_FLUSH: u8 = 4;
pub(crate) const CLOSE: u8 = 8;
/// A connection this one waited for ([`ProtoContext::wait_for`]) has drained: read again.
///
/// [`ProtoContext::wait_for`]: crate::ProtoContext::wait_for
pub(crate) const RESUME: u8 = 16;
/// The connection's own timer ([`ProtoContext::set_timer`]) fired: call `on_timer`.
///
/// [`ProtoContext::set_timer`]: crate::ProtoContext::set_timer
pub(crate) const TIMER: u8 = 32;

/// One connection's mailbox: what others sent it since it last ran, and what it last
/// published about its own output backlog.
#[derive(Default)]
pub(crate) struct Mail {
    pub(crate) out: Outbox,
    /// The owner's queued output as of its last run (so senders can apply backpressure).
    pub(crate) backlog: usize,
    /// The owner was woken (its `on_wake` is pending) to read this mailbox.
    pub(crate) poked: bool,
    pub(crate) requests: u8,
    /// Connections whose reading waits until the owner's output drains.
    pub(crate) waiters: Vec<Key>,
}

impl Mail {
    pub(crate) fn is_idle(&self) -> bool {
        self.out.is_empty()
            && self.backlog == 0
            && self.requests == 0
            && !self.poked
            && self.waiters.is_empty()
    }
}

/// Another connection of this loop, named by its [`Key`]: obtained from
/// [`ProtoContext::conn`](crate::ProtoContext::conn), or with [`Peer::new`] from any
/// [`Context`] (a listener's factory, a timer, a raw handler).
///
/// Requests take effect when the target next runs, at the latest at the end of this turn, in
/// the order they were made; bytes sent are queued after the target's own pending output.
/// Mail is activity for the target: it restarts its idle timeout (a chat member who only
/// receives is not idle); the target's own timer firing is not.
///
/// Bytes sent count against the target's
/// [`ConnConfig::max_output`](crate::ConnConfig::max_output) at once: what would pass it is
/// refused (not stored) and the target is closed as a slow consumer
/// ([`CloseReason::OutputOverflow`](crate::CloseReason::OutputOverflow)). For backpressure
/// instead of disconnection, the sender checks [`pending`](Self::pending) (or what
/// [`send`](Self::send) returns) and waits with
/// [`ProtoContext::wait_for`](crate::ProtoContext::wait_for).
///
/// ```
/// use ioman::net::{Net, NetError, Peer};
/// use ioman::{Context, Key};
///
/// /// Sends `line` to every member but `from`; forgets members that are gone.
/// fn broadcast(cx: &mut Context<'_, Net<Vec<Key>>>, from: Key, line: &[u8]) {
///     let members = cx.state().app().clone();
///     for key in members.into_iter().filter(|&k| k != from) {
///         if let Err(NetError::Gone(_)) = Peer::new(cx, key).send(line) {
///             cx.state().app_mut().retain(|&k| k != key);
///         }
///     }
/// }
/// ```
pub struct Peer<'a, 'b, S: 'static> {
    cx: &'a mut Context<'b, Net<S>>,
    key: Key,
}

impl<'a, 'b, S: 'static> Peer<'a, 'b, S> {
    /// The connection `key`, reached through `cx`.
    pub fn new(cx: &'a mut Context<'b, Net<S>>, key: Key) -> Peer<'a, 'b, S> {
        Peer { cx, key }
    }

    /// The target's key.
    pub fn key(&self) -> Key {
        self.key
    }

    /// Whether the target is still a live connection.
    pub fn is_alive(&mut self) -> bool {
        let key = self.key;
        self.cx.contains(key) && self.cx.state().conns.contains_key(&key)
    }

    /// Bytes waiting for the target: sent to its mailbox since it last ran, plus its own
    /// queued output as of then. Use it for backpressure (stop reading from a source while a
    /// sink is backed up).
    pub fn pending(&mut self) -> usize {
        let key = self.key;
        self.cx.state().mail.get(&key).map_or(0, |m| m.out.len() + m.backlog)
    }

    /// Queues a copy of `bytes` for the target; returns [`pending`](Self::pending)
    /// afterwards. For the same bytes to many targets, [`send_shared`](Self::send_shared)
    /// copies nothing.
    pub fn send(&mut self, bytes: &[u8]) -> Result<usize, NetError> {
        self.deposit(|out| out.extend_from_slice(bytes))
    }

    /// Queues a shared buffer for the target without copying it (a broadcast sends one
    /// `Arc` to every member); returns [`pending`](Self::pending) afterwards.
    pub fn send_shared(&mut self, bytes: std::sync::Arc<[u8]>) -> Result<usize, NetError> {
        self.deposit(|out| out.push_shared(bytes))
    }

    /// Appends to the target's mailbox under the target's cap.
    fn deposit(&mut self, put: impl FnOnce(&mut Outbox)) -> Result<usize, NetError> {
        let key = self.key;
        let cap = self.cx.state().conns.get(&key).copied().unwrap_or(usize::MAX);
        let mail = self.mailbox()?;
        mail.out.set_limits(usize::MAX, cap.saturating_sub(mail.backlog));
        put(&mut mail.out);
        Ok(mail.out.len() + mail.backlog)
    }

    /// Records that `waiter` waits for the target to drain, and makes sure the target looks.
    pub(crate) fn add_waiter(&mut self, waiter: Key) -> Result<(), NetError> {
        let mail = self.mailbox()?;
        if !mail.waiters.contains(&waiter) {
            mail.waiters.push(waiter);
        }
        Ok(())
    }

    /// Calls the target's [`Protocol::on_wake`](crate::Protocol::on_wake).
    pub fn wake(&mut self) -> Result<(), NetError> {
        self.request(WAKE)
    }

    /// Shuts down the target's sending side once everything queued for it (including bytes
    /// sent through this `Peer` before) has been sent: forwards a half-close.
    pub fn shutdown_write(&mut self) -> Result<(), NetError> {
        self.request(SHUTDOWN_WRITE)
    }

    /// Closes the target once everything queued for it has been sent.
    pub fn close_after_flush(&mut self) -> Result<(), NetError> {
        self.request(CLOSE_AFTER_FLUSH)
    }

    /// Closes the target when it next runs, discarding its pending output; its
    /// [`on_close`](crate::Protocol::on_close) sees [`CloseReason::Closed`](crate::CloseReason).
    pub fn close(&mut self) -> Result<(), NetError> {
        self.request(CLOSE)
    }

    pub(crate) fn request(&mut self, what: u8) -> Result<(), NetError> {
        self.mailbox()?.requests |= what;
        Ok(())
    }

    /// The target's mailbox, after making sure the target will look at it.
    fn mailbox(&mut self) -> Result<&mut Mail, NetError> {
        let key = self.key;
        let is_current = self.cx.key() == key; // it looks at its mail after this callback
        let gone = !self.is_alive()
            || (!is_current
                && !self.cx.state().mail.get(&key).is_some_and(|m| m.poked)
                && self.cx.wake(key).is_err());
        if gone {
            let waiters = self.cx.state().forget(key);
            release(self.cx, waiters);
            return Err(NetError::Gone(key));
        }
        let mail = self.cx.state().mail.entry(key).or_default();
        mail.poked |= !is_current;
        Ok(mail)
    }
}

/// Tells each of `waiters` that what it waited for has drained (or is gone): its reading
/// resumes. Waiters that closed in the meantime are skipped.
pub(crate) fn release<S: 'static>(cx: &mut Context<'_, Net<S>>, waiters: Vec<Key>) {
    for waiter in waiters {
        let _ = Peer::new(cx, waiter).request(RESUME);
    }
}
