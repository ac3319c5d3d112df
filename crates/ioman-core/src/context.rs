//! [`Context`]: the handle a handler gets while it is called (its doc says what each
//! operation does, and when it takes effect).

use crate::registry::Registry;
use crate::{Boxed, Error, Interest, IntoHandler, Key, Modify, Result, Stats, Timeout, Timer};
use ioman_sys::Readiness;
use rustix::fd::OwnedFd;
use std::time::Instant;

/// The registration being dispatched, as the dispatcher tracks it. It lives in the
/// [`Registry`] (dispatch is never nested), so a [`Context`] is two pointers and the
/// dispatcher sets three fields per call instead of building a struct.
pub(crate) struct Current<R> {
    pub(crate) key: Key,
    pub(crate) readiness: Readiness,
    /// What the callback did to its own registration; [`Change::None`] between calls.
    pub(crate) change: Change<R>,
    /// Set by [`Context::keep_after_error`]; reset before each `on_error` with an error, the
    /// only call that reads it (so the hot path never touches it).
    pub(crate) keep: bool,
}

/// What a callback did to its own registration, applied when it returns. One field, so the
/// dispatcher's common case ("nothing") is one comparison.
pub(crate) enum Change<R> {
    /// Nothing: the handler goes back into its slot.
    None,
    /// Closed (by itself, or by a terminal error): its key is already dead; the handler is
    /// dropped and the fd closed when the callback returns.
    Closed,
    /// Replaced: the new handler goes into the slot, the old one is dropped.
    Replaced(R),
}

impl<R> Current<R> {
    pub(crate) fn new() -> Current<R> {
        let (key, readiness) = (Key::default(), Readiness::empty());
        Current { key, readiness, change: Change::None, keep: false }
    }

    pub(crate) fn closed(&self) -> bool {
        matches!(self.change, Change::Closed)
    }
}

/// The handle a [`Handler`](crate::Handler) callback gets: its own registration, the loop-wide
/// state `S`, and every operation of the manager.
///
/// # When a change takes effect
/// - **close** (own or another's): at once. The key is dead from that moment, so any event for
///   it still waiting in this turn's batch is dropped. Another registration's handler is dropped
///   and its fd closed immediately; a handler that closes *itself* is dropped, and its fd closed,
///   as soon as its callback returns (the fd it was handed stays valid until then).
/// - **interest**: at once for dispatch decisions (a registration whose write interest was just
///   removed gets no `on_write`, even for an event already in this batch); epoll itself is told
///   before the next wait, once per registration however often it changed.
/// - **timeout**: at once; the new deadline counts from this turn's [`now`](Context::now).
/// - **add**: at once in epoll; the new registration's first events come in the next turn.
/// - **replace own handler**: when the callback returns (the old handler is then dropped).
/// - **wake**: `on_wake` runs after this turn's I/O and timeouts (or in the next turn, if the
///   wake comes from an `on_wake` itself); the loop does not sleep while a wake is pending.
/// - **stop**: the current turn finishes, then `run` returns.
///
/// # Example
/// A pipe's reader that forwards each chunk to another registration by waking it, and closes
/// itself at end of stream — everything through its `Context`:
/// ```
/// use ioman::{Context, Handler, Interest, Key, Manager, Timeout};
/// use rustix::fd::BorrowedFd;
/// use std::time::Duration;
///
/// /// The loop-wide state: bytes seen, and who to tell.
/// struct Shared { bytes: usize, listener: Option<Key>, told: usize }
///
/// struct Reader;
/// impl Handler<Shared> for Reader {
///     fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Shared>) {
///         let mut buf = [0u8; 1024];
///         match rustix::io::read(fd, &mut buf) {
///             Ok(0) | Err(_) => cx.close(), // the fd is closed once this returns
///             Ok(n) => {
///                 cx.state().bytes += n;
///                 if let Some(listener) = cx.state().listener {
///                     let _ = cx.wake(listener); // its on_wake runs later this turn
///                 }
///             }
///         }
///     }
/// }
///
/// struct Listener;
/// impl Handler<Shared> for Listener {
///     fn on_wake(&mut self, _: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Shared>) {
///         cx.state().told += 1;
///     }
/// }
///
/// let state = Shared { bytes: 0, listener: None, told: 0 };
/// let mut manager: Manager<Shared> = Manager::with_state(state)?;
/// let listener = manager.add_detached(None, Timeout::Never, Listener);
/// manager.state_mut().listener = Some(listener);
/// let (read_end, write_end) = rustix::pipe::pipe()?;
/// let reader = manager.add(read_end, Interest::READ, Timeout::Never, Reader)?;
/// rustix::io::write(&write_end, b"hello")?;
/// manager.turn(Some(Duration::from_secs(5)))?;
/// assert_eq!((manager.state().bytes, manager.state().told), (5, 1));
/// drop(write_end); // end of stream: the reader closes itself
/// manager.turn(Some(Duration::from_secs(5)))?;
/// assert!(!manager.contains(reader));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Context<'a, S, R = Boxed<S>> {
    pub(crate) reg: &'a mut Registry<R>,
    pub(crate) state: &'a mut S,
}

impl<S, R> Context<'_, S, R> {
    /// The same context for a shorter lifetime: a handle to pass on by value (as ioman-net's
    /// `ProtoContext` holds one) while this one is borrowed.
    pub fn reborrow(&mut self) -> Context<'_, S, R> {
        Context { reg: self.reg, state: self.state }
    }

    /// The key of the registration being called.
    pub fn key(&self) -> Key {
        self.reg.cur.key
    }

    /// The loop-wide state given to [`Manager::with_state`](crate::Manager::with_state).
    pub fn state(&mut self) -> &mut S {
        self.state
    }

    /// This turn's "now": the clock is read the first time a turn needs it (after
    /// `epoll_wait` returned) and that reading is the same for every later callback of the
    /// turn. Deadlines set during the turn count from it.
    pub fn now(&self) -> Instant {
        self.reg.now()
    }

    /// What epoll reported for this registration (empty for a timeout).
    pub fn readiness(&self) -> Readiness {
        self.reg.cur.readiness
    }

    /// Whether this registration has closed itself during this callback.
    pub fn is_closed(&self) -> bool {
        self.reg.cur.closed()
    }

    /// This registration's current interest (`None`: paused, or a timer, or closed).
    pub fn interest(&self) -> Option<Interest> {
        self.reg.slots.get(self.reg.cur.key).and_then(|e| e.interest)
    }

    /// Sets this registration's interest; `None` pauses it. Ignored after [`close`](Self::close).
    pub fn set_interest(&mut self, interest: impl Into<Option<Interest>>) {
        let _ = self.reg.set_interest(self.reg.cur.key, interest.into());
    }

    /// Adds to this registration's interest.
    pub fn add_interest(&mut self, interest: Interest) {
        let new = self.interest().map_or(interest, |i| i | interest);
        self.set_interest(new);
    }

    /// Removes from this registration's interest.
    pub fn remove_interest(&mut self, interest: Interest) {
        if let Some(i) = self.interest() {
            self.set_interest(i.remove(interest));
        }
    }

    /// Sets this registration's timeout, counted from [`now`](Self::now). Ignored after
    /// [`close`](Self::close).
    pub fn set_timeout(&mut self, timeout: Timeout) {
        let _ = self.reg.set_timeout(self.reg.cur.key, timeout);
    }

    /// From `on_error` with [`Failure::Error`](crate::Failure::Error)`(Some(_))`: the error was
    /// transient and is dealt with, keep the registration. For datagram sockets, whose pending
    /// error is an ICMP report about one earlier datagram (`ECONNREFUSED` on a connected UDP
    /// socket): reading `SO_ERROR`, which the manager did to fill in the failure, cleared it,
    /// so the socket is not reported again and the loop cannot spin on it.
    ///
    /// Ignored for a hang-up, for an error without a pending `SO_ERROR` (a condition reading
    /// it does not clear) and in any other callback: those stay terminal.
    pub fn keep_after_error(&mut self) {
        self.reg.cur.keep = true;
    }

    /// Closes this registration: it leaves epoll and its key dies now; the handler is dropped
    /// and the fd closed when this callback returns. Closing twice is harmless.
    pub fn close(&mut self) {
        if !self.reg.cur.closed() {
            self.reg.cur.change = Change::Closed; // drops a replacement, if any
            self.reg.slots.remove(self.reg.cur.key);
        }
    }

    /// Replaces this registration's handler once the current callback returns.
    pub fn replace_handler(&mut self, handler: impl IntoHandler<S, R>) {
        self.reg.replace_current(handler.into_handler());
    }

    /// Registers a new fd (see [`Manager::add`](crate::Manager::add)). Its first events arrive
    /// in the next turn.
    pub fn add(
        &mut self,
        fd: impl Into<OwnedFd>,
        interest: impl Into<Option<Interest>>,
        timeout: Timeout,
        handler: impl IntoHandler<S, R>,
    ) -> Result<Key> {
        self.reg.add_fd(fd.into(), interest.into(), timeout, handler.into_handler())
    }

    /// Adds a detached registration (see
    /// [`Manager::add_detached`](crate::Manager::add_detached)).
    pub fn add_detached(
        &mut self,
        interest: impl Into<Option<Interest>>,
        timeout: Timeout,
        handler: impl IntoHandler<S, R>,
    ) -> Key {
        self.reg.add_detached(interest.into(), timeout, handler.into_handler())
    }

    /// Adds a standalone timer (see [`Manager::add_timer`](crate::Manager::add_timer)).
    pub fn add_timer(&mut self, timer: Timer, handler: impl IntoHandler<S, R>) -> Result<Key> {
        self.reg.add_timer(timer, handler.into_handler())
    }

    /// Changes any registration, this one included.
    pub fn modify(&mut self, key: Key, change: Modify<S, R>) -> Result<()> {
        if key == self.reg.cur.key && self.reg.cur.closed() {
            return Err(Error::UnknownKey(key));
        }
        let handler = apply(self.reg, key, change)?;
        if let Some(h) = handler {
            if key == self.reg.cur.key {
                self.reg.replace_current(h);
            } else if let Some(parts) = self.reg.slots.get_mut(key).and_then(|e| e.parts.as_mut()) {
                parts.handler = h;
            }
        }
        Ok(())
    }

    /// Asks for `key`'s `on_wake` (this registration's included): it runs in this turn, after
    /// the I/O events and timeouts, or in the next turn if the turn is already past that point.
    /// A registration woken several times before it runs is called once.
    pub fn wake(&mut self, key: Key) -> Result<()> {
        if key == self.reg.cur.key && self.reg.cur.closed() {
            return Err(Error::UnknownKey(key));
        }
        self.reg.wake(key)
    }

    /// Closes any registration, this one included (then as [`close`](Self::close)).
    pub fn close_key(&mut self, key: Key) -> Result<()> {
        if key == self.reg.cur.key {
            if self.reg.cur.closed() {
                return Err(Error::UnknownKey(key));
            }
            self.close();
            return Ok(());
        }
        self.reg.close(key)
    }

    /// Whether `key` names a live registration.
    pub fn contains(&self, key: Key) -> bool {
        self.reg.slots.contains_key(key)
    }

    /// Asks [`Manager::run`](crate::Manager::run) to return once this turn is finished.
    pub fn stop(&mut self) {
        self.reg.stop = true;
    }

    /// The manager's counters.
    pub fn stats(&self) -> Stats {
        Stats { registrations: self.reg.slots.len(), ..self.reg.stats }
    }
}

/// Applies interest and timeout, and hands back a new handler for the caller to install.
pub(crate) fn apply<S, R>(
    reg: &mut Registry<R>,
    key: Key,
    change: Modify<S, R>,
) -> Result<Option<R>> {
    reg.entry(key)?;
    if let Some(interest) = change.interest {
        reg.set_interest(key, interest)?;
    }
    if let Some(timeout) = change.timeout {
        reg.set_timeout(key, timeout)?;
    }
    Ok(change.handler)
}
