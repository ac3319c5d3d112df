//! Dispatch: how one event or one due timer reaches its handler. The handler (and fd) are taken
//! out of their slot for the call, so the handler can reach the whole registry through its
//! [`Context`] — even close itself — without a double borrow; afterwards they are put back, or
//! released in the close order if the registration ended. A panicking handler is caught here:
//! it loses its own registration and nothing else.

use crate::context::Change;
use crate::registry::{Kind, Parts, Registry, touch_entry};
use crate::timer_queue::{NEVER, Tick};
use crate::{Context, Failure, Handler, Interest, Key, PanicReport};
use ioman_sys::Readiness;
use rustix::event::epoll::EventFlags;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Delivers one epoll event.
///
/// The hot path: one slot lookup to decide what to call (and reset the idle deadline), the
/// calls, one lookup to put the handler back. What to call is one mask: the event's flags
/// against the entry's [`Interest::triggers`], kept with its interest. Interest is looked up again only where a callback may have
/// changed it and it matters (a write after a read). Inlined into its one caller, the turn
/// loop: the call's own prologue was a measurable part of the per-event cost.
#[inline(always)]
pub(crate) fn event<S, R: Handler<S, R>>(
    reg: &mut Registry<R>,
    state: &mut S,
    key: Key,
    ready: Readiness,
) {
    let Some(entry) = reg.slots.get_mut(key) else {
        reg.stats.stale_events += 1;
        return;
    };
    let hit = ready.epoll_flags() & entry.triggers;
    if !hit.is_empty() {
        touch_entry(&mut reg.timers, &reg.time, key, entry);
    }
    // Only fd registrations are in epoll, and dispatch is not nested: both are there.
    // Only fd registrations are in epoll (their token is only ever given by `add_fd`, which
    // has the fd), and dispatch is not nested, so both are always there. (Putting a fd-less
    // entry back on this unreachable path measured 12 instructions more per event.)
    let Some(Parts { mut handler, fd: Some(fd) }) = entry.parts.take() else { return };
    reg.stats.events_dispatched += 1;
    reg.cur.key = key;
    reg.cur.readiness = ready;
    let read = hit.intersects(EventFlags::IN | EventFlags::RDHUP);
    let write = hit.contains(EventFlags::OUT);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut cx = Context { reg: &mut *reg, state };
        let bfd = fd.as_fd();
        if ready.is_error() {
            let error = socket_error(bfd);
            let cleared = error.is_some();
            cx.reg.cur.keep = false;
            handler.on_error(bfd, Failure::Error(error), &mut cx);
            // Terminal unless the handler kept it and the error was a pending SO_ERROR, which
            // the read above cleared (so the next wait does not report it again).
            if !(cleared && cx.reg.cur.keep) {
                cx.close();
            }
            return;
        }
        if read {
            handler.on_read(bfd, &mut cx);
        }
        // on_read may have closed the registration or dropped the write interest.
        if write && (!read || (!cx.is_closed() && cx.interest().is_some_and(Interest::is_writable)))
        {
            handler.on_write(bfd, &mut cx);
        }
        if ready.is_hup() && !read && !cx.is_closed() {
            handler.on_error(bfd, Failure::Hangup, &mut cx);
            cx.close(); // terminal
        }
    }));
    // `finish`'s fast path, written out here: through `finish` this path measured 12
    // instructions more per event (callgrind, pingpong-ioman), so the I/O path keeps its copy.
    if outcome.is_ok() && matches!(reg.cur.change, Change::None) {
        if let Some(entry) = reg.slots.get_mut(key) {
            entry.put_back(Parts { handler, fd: Some(fd) });
            return;
        }
    }
    end(reg, key, handler, Some(fd), outcome);
}

/// Calls `on_timeout` for a registration the timer queue found due at the turn's "now".
pub(crate) fn timeout<S, R: Handler<S, R>>(reg: &mut Registry<R>, state: &mut S, key: Key) {
    let now = reg.time.now_tick();
    let Some(entry) = reg.slots.get_mut(key) else { return };
    let at = entry.deadline.at;
    // Disarmed, re-armed or moved by an earlier handler of this turn: not due any more.
    if at == NEVER || entry.deadline.queued != NEVER || at > now {
        return;
    }
    let Some(Parts { handler, fd }) = entry.parts.take() else { return };
    let kind = entry.kind;
    entry.deadline.at = NEVER;
    if let Kind::Timer { period } = kind {
        if period != NEVER {
            reg.arm(key, next_tick(at, period, now));
        }
    }
    reg.stats.timeouts_fired += 1;
    call(reg, state, key, handler, fd, |h, fd, cx| h.on_timeout(fd, cx));
    // Still idle and no new timeout chosen: another full period.
    if let Kind::Fd { idle } = kind {
        let rearm = reg.slots.get(key).is_some_and(|e| e.deadline.at == NEVER);
        if rearm && idle != NEVER && idle != 0 {
            reg.arm(key, now.saturating_add(idle));
        }
    }
}

/// Calls `on_wake` for a registration woken by [`Context::wake`] or
/// [`Manager::wake`](crate::Manager::wake) (if it still exists and is still marked woken).
pub(crate) fn wake<S, R: Handler<S, R>>(reg: &mut Registry<R>, state: &mut S, key: Key) {
    let Some(entry) = reg.slots.get_mut(key) else { return };
    if !std::mem::take(&mut entry.woken) {
        return;
    }
    let Some(Parts { handler, fd }) = entry.parts.take() else { return };
    reg.stats.wakes += 1;
    call(reg, state, key, handler, fd, |h, fd, cx| h.on_wake(fd, cx));
}

/// Calls one callback of a registration that was taken out of its slot, then puts it back or
/// releases it (the path of timeouts and wakes; I/O events have their own, hotter one).
fn call<S, R: Handler<S, R>>(
    reg: &mut Registry<R>,
    state: &mut S,
    key: Key,
    mut handler: R,
    fd: Option<OwnedFd>,
    f: impl FnOnce(&mut R, Option<BorrowedFd<'_>>, &mut Context<'_, S, R>),
) {
    reg.cur.key = key;
    reg.cur.readiness = Readiness::empty();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut cx = Context { reg: &mut *reg, state };
        f(&mut handler, fd.as_ref().map(|f| f.as_fd()), &mut cx);
    }));
    finish(reg, key, handler, fd, outcome);
}

/// The first tick after `now` on the grid `at + k * period` (missed ticks are skipped);
/// [`NEVER`] when that lies beyond what a tick holds (the timer never fires again).
fn next_tick(at: Tick, period: Tick, now: Tick) -> Tick {
    let ahead = (now.saturating_sub(at) / period.max(1) + 1).saturating_mul(period);
    at.saturating_add(ahead)
}

/// The end of a timeout or wake call: puts the handler and fd back (the common case, inline),
/// or hands the rest to [`end`]. (I/O events inline the same fast path in [`event`].)
#[inline(always)]
fn finish<R>(
    reg: &mut Registry<R>,
    key: Key,
    handler: R,
    fd: Option<OwnedFd>,
    outcome: std::thread::Result<()>,
) {
    if outcome.is_ok() && matches!(reg.cur.change, Change::None) {
        if let Some(entry) = reg.slots.get_mut(key) {
            entry.put_back(Parts { handler, fd });
            return;
        }
    }
    end(reg, key, handler, fd, outcome);
}

/// The uncommon ends of a call: a replaced handler is installed, or the registration ended
/// (closed by itself, by a terminal error, or by a panic) and is released in the close order.
/// Leaves the registry's [`Change`] at `None` for the next call.
#[cold]
#[inline(never)]
fn end<R>(
    reg: &mut Registry<R>,
    key: Key,
    handler: R,
    fd: Option<OwnedFd>,
    outcome: std::thread::Result<()>,
) {
    let change = std::mem::replace(&mut reg.cur.change, Change::None);
    match (outcome, change) {
        (Ok(()), Change::Closed) => reg.release(fd, Some(handler)),
        (Ok(()), Change::None) => match reg.slots.get_mut(key) {
            Some(entry) => entry.parts = Some(Parts { handler, fd }),
            None => reg.release(fd, Some(handler)), // unreachable: only `Closed` removes it
        },
        (Ok(()), Change::Replaced(new)) => {
            match reg.slots.get_mut(key) {
                Some(entry) => entry.parts = Some(Parts { handler: new, fd }),
                None => reg.release(fd, Some(new)),
            }
            drop(handler);
        }
        (Err(payload), change) => {
            reg.stats.panics_caught += 1;
            if !matches!(change, Change::Closed) {
                reg.slots.remove(key);
            }
            if let Some(fd) = &fd {
                let _ = reg.epoll.delete(fd.as_fd());
            }
            // A handler that panicked may panic again in drop; keep that inside too.
            let _ = catch_unwind(AssertUnwindSafe(move || drop((change, handler))));
            drop(fd);
            report_panic(reg, Some(key), payload);
        }
    }
}

/// Hands a caught panic to the user's hook (the panic message itself was already printed by
/// Rust's panic hook).
pub(crate) fn report_panic<R>(
    reg: &mut Registry<R>,
    key: Option<Key>,
    payload: Box<dyn Any + Send>,
) {
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    };
    if let Some(hook) = reg.panic_hook.as_mut() {
        hook(&PanicReport { key, message });
    }
}

/// The pending `SO_ERROR` of a socket (which reading clears), or `None` for other fds.
fn socket_error(fd: BorrowedFd<'_>) -> Option<std::io::Error> {
    match rustix::net::sockopt::socket_error(fd) {
        Ok(Err(errno)) => Some(errno.into()),
        _ => None,
    }
}
