//! [`Registry`]: the owner of every registration — the slotmap of entries, the epoll instance
//! and the timer queue — and the one place where a registration is added, changed or closed.
//! Both the [`Manager`](crate::Manager) (between turns) and a [`Context`](crate::Context)
//! (during dispatch) operate through it, so both follow the same rules.

use crate::clock::TurnTime;
use crate::clock::nanos;
use crate::context::{Change, Current};
use crate::timer_queue::{Deadline, NEVER, Tick, TimerQueue};
use crate::{Clock, PanicReport};
use crate::{Error, Interest, Key, Result, Stats, Timeout, Timer};
use ioman_sys::Epoll;
use rustix::event::epoll::EventFlags;
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use slotmap::SlotMap;
use std::time::{Duration, Instant};

/// What a registration is: an fd with an idle timeout, or a standalone timer. Durations are in
/// nanoseconds, [`NEVER`] meaning none (8 bytes each, like the timer queue's ticks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An fd; its idle timeout ([`NEVER`]: none).
    Fd { idle: Tick },
    /// A timer; its period ([`NEVER`]: one-shot).
    Timer { period: Tick },
}

/// An optional duration as the registry keeps it.
fn ticks(d: Option<Duration>) -> Tick {
    d.map_or(NEVER, nanos)
}

/// What a handler call takes out of its entry, as one value: one `Option` to take and put
/// back per call instead of two. Field order is drop order: the handler is dropped before the
/// fd closes.
pub(crate) struct Parts<R> {
    pub(crate) handler: R,
    /// `None` for timers and detached registrations.
    pub(crate) fd: Option<OwnedFd>,
}

/// One registration.
pub(crate) struct Entry<R> {
    /// The handler and fd; `None` only while the handler is being called.
    pub(crate) parts: Option<Parts<R>>,
    pub(crate) kind: Kind,
    /// What the owner asked for; consulted when events are dispatched.
    pub(crate) interest: Option<Interest>,
    /// [`Interest::triggers`] of `interest`, kept with it: the event flags that call for a
    /// callback, so the dispatcher masks instead of looking up.
    pub(crate) triggers: EventFlags,
    /// What epoll was last told.
    pub(crate) registered: Option<Interest>,
    /// Queued for an `epoll_ctl(MOD)` before the next wait.
    pub(crate) dirty: bool,
    /// Queued for `on_wake`.
    pub(crate) woken: bool,
    pub(crate) deadline: Deadline,
}

impl<R> Entry<R> {
    /// Puts a called handler's parts back. The slot is empty (they were taken for the call,
    /// and nothing else fills it), so nothing is dropped: written as an insert into `None`,
    /// which spares the put-back the drop glue of an assignment over an unknown old value.
    #[inline(always)]
    pub(crate) fn put_back(&mut self, parts: Parts<R>) {
        debug_assert!(self.parts.is_none(), "put back into a full slot");
        self.parts.get_or_insert(parts);
    }

    /// A new registration: its interest is what epoll is told at once; no deadline yet.
    fn new(handler: R, fd: Option<OwnedFd>, kind: Kind, interest: Option<Interest>) -> Entry<R> {
        Entry {
            parts: Some(Parts { handler, fd }),
            kind,
            interest,
            triggers: Interest::triggers(interest),
            registered: interest,
            dirty: false,
            woken: false,
            deadline: Deadline::default(),
        }
    }
}

pub(crate) type PanicHook = Box<dyn FnMut(&PanicReport)>;

pub(crate) struct Registry<R> {
    pub(crate) slots: SlotMap<Key, Entry<R>>,
    pub(crate) epoll: Epoll,
    pub(crate) timers: TimerQueue,
    pub(crate) time: TurnTime,
    pub(crate) dirty: Vec<Key>,
    /// Registrations to call `on_wake` for, in the order they were woken.
    pub(crate) woken: Vec<Key>,
    pub(crate) stats: Stats,
    pub(crate) stop: bool,
    pub(crate) panic_hook: Option<PanicHook>,
    /// The registration whose callback is running (meaningful during a call only).
    pub(crate) cur: Current<R>,
}

impl<R> Registry<R> {
    pub(crate) fn new(epoll: Epoll, clock: Clock) -> Registry<R> {
        Registry {
            slots: SlotMap::with_key(),
            epoll,
            timers: TimerQueue::default(),
            time: TurnTime::new(clock),
            dirty: Vec::new(),
            woken: Vec::new(),
            stats: Stats::default(),
            stop: false,
            panic_hook: None,
            cur: Current::new(),
        }
    }

    /// Installs `handler` in place of the running one when its callback returns (dropped at
    /// once if the registration has closed itself).
    pub(crate) fn replace_current(&mut self, handler: R) {
        if !self.cur.closed() {
            self.cur.change = Change::Replaced(handler);
        }
    }

    /// "Now" (see [`TurnTime`]).
    pub(crate) fn now(&self) -> Instant {
        self.time.now()
    }

    /// Registers `fd` with epoll under a fresh key. On failure the entry (handler, then fd) is
    /// dropped and the fd closed, as it was handed over.
    pub(crate) fn add_fd(
        &mut self,
        fd: OwnedFd,
        interest: Option<Interest>,
        timeout: Timeout,
        handler: R,
    ) -> Result<Key> {
        let idle = ticks(timeout.duration());
        let key = self.slots.insert(Entry::new(handler, Some(fd), Kind::Fd { idle }, interest));
        let added = match self.slots[key].parts.as_ref().and_then(|p| p.fd.as_ref()) {
            Some(fd) => self.epoll.add(fd.as_fd(), key.token(), interest),
            None => Ok(()),
        };
        if let Err(e) = added {
            drop(self.slots.remove(key));
            return Err(add_error(e));
        }
        if idle != NEVER {
            let at = self.time.now_tick().saturating_add(idle);
            self.arm(key, at);
        }
        Ok(key)
    }

    /// Adds a registration with no fd that otherwise behaves like an fd registration: an
    /// interest (recorded, never told to epoll), an idle timeout, wakes.
    pub(crate) fn add_detached(
        &mut self,
        interest: Option<Interest>,
        timeout: Timeout,
        handler: R,
    ) -> Key {
        let idle = ticks(timeout.duration());
        let key = self.slots.insert(Entry::new(handler, None, Kind::Fd { idle }, interest));
        if idle != NEVER {
            let at = self.time.now_tick().saturating_add(idle);
            self.arm(key, at);
        }
        key
    }

    /// Adds a standalone timer.
    pub(crate) fn add_timer(&mut self, timer: Timer, handler: R) -> Result<Key> {
        let timer = timer.validate()?;
        let kind = Kind::Timer { period: ticks(timer.period) };
        let key = self.slots.insert(Entry::new(handler, None, kind, None));
        // A deadline beyond what a tick holds never comes: arming at NEVER leaves it unarmed.
        let at = self.time.after(timer.first);
        self.arm(key, at);
        Ok(key)
    }

    pub(crate) fn entry(&mut self, key: Key) -> Result<&mut Entry<R>> {
        self.slots.get_mut(key).ok_or(Error::UnknownKey(key))
    }

    /// Records a new interest; epoll hears of it before the next wait (one `epoll_ctl` per
    /// registration per turn, however often it changed).
    pub(crate) fn set_interest(&mut self, key: Key, interest: Option<Interest>) -> Result<()> {
        let entry = self.entry(key)?;
        if let Kind::Timer { .. } = entry.kind {
            return Err(Error::NotAnFd(key));
        }
        entry.interest = interest;
        entry.triggers = Interest::triggers(interest);
        if !entry.dirty && entry.registered != interest {
            entry.dirty = true;
            self.dirty.push(key);
        }
        Ok(())
    }

    /// Queues `on_wake` for a registration (once, however often it is woken before it runs).
    pub(crate) fn wake(&mut self, key: Key) -> Result<()> {
        let entry = self.entry(key)?;
        if !entry.woken {
            entry.woken = true;
            self.woken.push(key);
        }
        Ok(())
    }

    /// Sets a new timeout, counted from now. For a timer, `Idle(d)` reschedules it `d` from
    /// now and `Never` makes it dormant.
    pub(crate) fn set_timeout(&mut self, key: Key, timeout: Timeout) -> Result<()> {
        let at = timeout.duration().map_or(NEVER, |d| self.time.after(d));
        let entry = self.entry(key)?;
        if let Kind::Fd { idle } = &mut entry.kind {
            *idle = ticks(timeout.duration());
        }
        self.arm(key, at);
        Ok(())
    }

    pub(crate) fn arm(&mut self, key: Key, at: Tick) {
        if let Some(entry) = self.slots.get_mut(key) {
            self.timers.arm(key, &mut entry.deadline, at);
        }
    }

    /// Closes a registration that is not being dispatched: `EPOLL_CTL_DEL`, drop the handler,
    /// close the fd, in that order.
    pub(crate) fn close(&mut self, key: Key) -> Result<()> {
        let entry = self.slots.remove(key).ok_or(Error::UnknownKey(key))?;
        match entry.parts {
            Some(Parts { handler, fd }) => self.release(fd, Some(handler)),
            None => self.release(None, None), // unreachable: only a running handler is out
        }
        Ok(())
    }

    /// The close sequence, for an entry already out of the slotmap.
    pub(crate) fn release(&mut self, fd: Option<OwnedFd>, handler: Option<R>) {
        if let Some(fd) = &fd {
            // DEL can only fail if the fd is not registered, which ownership rules out.
            let _ = self.epoll.delete(fd.as_fd());
        }
        drop(handler);
        drop(fd);
    }

    /// Tells epoll about every interest changed since the last wait. A registration epoll
    /// refuses to modify (only possible under memory pressure) is closed rather than left in a
    /// state its owner did not ask for.
    #[inline]
    pub(crate) fn flush_interest(&mut self) {
        if !self.dirty.is_empty() {
            self.flush_dirty();
        }
    }

    /// The work of [`flush_interest`](Self::flush_interest), kept out of line so that the
    /// usual empty check costs the turn nothing more.
    fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for key in dirty.drain(..) {
            let Some(entry) = self.slots.get_mut(key) else { continue };
            entry.dirty = false;
            if entry.registered == entry.interest {
                continue;
            }
            let Some(fd) = entry.parts.as_ref().and_then(|p| p.fd.as_ref()) else { continue };
            match self.epoll.modify(fd.as_fd(), key.token(), entry.interest) {
                Ok(()) => entry.registered = entry.interest,
                Err(_) => {
                    let _ = self.close(key);
                }
            }
        }
        self.dirty = dirty; // keeps its capacity: no allocation next turn
    }

    /// How long the next wait may sleep: the caller's limit, shortened to the next deadline
    /// (unless time is manual, when sleeping would not bring a deadline closer).
    pub(crate) fn wait_timeout(&mut self, limit: Option<Duration>) -> Option<Duration> {
        if !self.woken.is_empty() {
            return Some(Duration::ZERO); // wakes are pending: poll, do not sleep
        }
        let Some(next) = self.timers.next() else { return limit };
        let now = self.time.read_tick();
        let until = Duration::from_nanos(next.saturating_sub(now));
        if self.time.clock.is_manual() && !until.is_zero() {
            return limit; // sleeping would not bring a manual deadline closer
        }
        Some(limit.map_or(until, |l| l.min(until)))
    }

    /// Sweeps the timer heap when dead entries outnumber live registrations.
    pub(crate) fn compact_timers(&mut self) {
        if self.timers.needs_compaction(self.slots.len()) {
            self.timers.compact(self.slots.iter_mut().map(|(k, e)| (k, &mut e.deadline)));
        }
    }
}

/// Moves an fd registration's idle deadline to now + idle (O(1)); the turn's "now" is read
/// only if the registration has an idle timeout. A free function over the registry's fields so
/// that the dispatcher can call it while it holds the entry.
pub(crate) fn touch_entry<R>(
    timers: &mut TimerQueue,
    time: &TurnTime,
    key: Key,
    entry: &mut Entry<R>,
) {
    let Kind::Fd { idle } = entry.kind else { return };
    if idle != NEVER {
        timers.arm(key, &mut entry.deadline, time.now_tick().saturating_add(idle));
    }
}

/// What a refused `EPOLL_CTL_ADD` means to the user.
fn add_error(e: Errno) -> Error {
    match e {
        Errno::EXIST => Error::AlreadyRegistered,
        Errno::PERM => Error::NotPollable,
        e => Error::os("epoll_ctl(ADD)")(e),
    }
}

impl<R> Drop for Registry<R> {
    /// Dropping the manager closes everything it owns, each in the close order.
    fn drop(&mut self) {
        let keys: Vec<Key> = self.slots.keys().collect();
        for key in keys {
            let _ = self.close(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every registration pays for an entry: keep it small (deadlines and durations are 8-byte
    // ticks, not 16-byte `Instant`s and `Option<Duration>`s).
    #[test]
    fn an_entry_fits_in_64_bytes() {
        assert!(std::mem::size_of::<Entry<crate::Boxed<()>>>() <= 64);
    }

    // EEXIST cannot be provoked from safe code (two `OwnedFd`s would have to share a number),
    // so its mapping is checked here.
    #[test]
    fn refused_adds_map_to_typed_errors() {
        assert!(matches!(add_error(Errno::EXIST), Error::AlreadyRegistered));
        assert!(matches!(add_error(Errno::PERM), Error::NotPollable));
        assert!(matches!(add_error(Errno::NOMEM), Error::Os { call: "epoll_ctl(ADD)", .. }));
    }
}
