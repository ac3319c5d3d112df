//! The per-connection timer behind [`ProtoContext::set_timer`](crate::ProtoContext::set_timer):
//! one dormant one-shot core timer per connection that uses one (found through a map in
//! [`Net`], so connections without a timer pay nothing), re-armed in place, closed with its
//! connection. When it fires it posts a request to the connection's mailbox, and the
//! connection calls [`Protocol::on_timer`](crate::Protocol::on_timer) as it settles.

use crate::peer::{Peer, TIMER};
use crate::{Net, NetError};
use ioman_core::{Context, Handler, Key, Modify, Timeout, Timer};
use rustix::fd::BorrowedFd;
use std::time::Duration;

/// The timer registration of connection `conn`.
struct ConnTimer {
    conn: Key,
}

impl<S: 'static> Handler<Net<S>> for ConnTimer {
    fn on_timeout(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<S>>) {
        // Dormant after firing (a one-shot timer stays registered); the connection re-arms it.
        if Peer::new(cx, self.conn).request(TIMER).is_err() {
            cx.state().timers.remove(&self.conn);
            cx.close(); // the connection is gone (closed from outside its close path)
        }
    }
}

/// Arms (or re-arms) connection `conn`'s timer to fire `after` from now.
pub(crate) fn set<S: 'static>(
    cx: &mut Context<'_, Net<S>>,
    conn: Key,
    after: Duration,
) -> Result<(), NetError> {
    if let Some(&timer) = cx.state().timers.get(&conn) {
        if cx.modify(timer, Modify::new().timeout(Timeout::Idle(after))).is_ok() {
            return Ok(());
        }
    }
    let timer = cx.add_timer(Timer::once(after), ConnTimer { conn })?;
    cx.state().timers.insert(conn, timer);
    Ok(())
}

/// Disarms connection `conn`'s timer, if it has one (it stays registered, dormant).
pub(crate) fn cancel<S: 'static>(cx: &mut Context<'_, Net<S>>, conn: Key) {
    if let Some(&timer) = cx.state().timers.get(&conn) {
        let _ = cx.modify(timer, Modify::new().timeout(Timeout::Never));
    }
}

/// Closes connection `conn`'s timer registration, if any (when the connection closes).
pub(crate) fn remove<S: 'static>(cx: &mut Context<'_, Net<S>>, conn: Key) {
    if let Some(timer) = cx.state().timers.remove(&conn) {
        let _ = cx.close_key(timer);
    }
}
