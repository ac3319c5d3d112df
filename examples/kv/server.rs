//! The `kv` server: the sans-IO RESP2 core ([`proto`]) wired to ioman-net connections, with
//! key expiry driven by an ioman timer. Kept apart from `main.rs` so that
//! `tests/kv_example.rs` can run the very same server in-process, with a manual clock.
//!
//! Expiry is both lazy (a read of an expired key misses, inside the store) and active: one
//! standalone timer per loop is kept scheduled for the store's next expiry, so expired keys
//! are freed even if nobody asks for them. Scheduling costs one heap peek per batch of
//! commands; the timer is moved only when a new earliest expiry appears.

#[path = "proto.rs"]
pub mod proto;

use ioman::net::{ConnConfig, Listener, Net, NetError, Outbox, ProtoContext, Protocol};
use ioman::{Context, Handler, Key, Manager, Modify, Timeout, Timer};
use proto::commands::KvSession;
use proto::store::Store;
use rustix::fd::{BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

/// The most unconsumed input a connection may hold: one maximal bulk string (64 MiB by
/// default) plus its framing.
const MAX_INPUT: usize = 64 * 1024 * 1024 + 64 * 1024;

/// The loop-wide state: the store and its expiry timer.
pub struct Db {
    /// The keys and values.
    pub store: Store,
    /// The standalone timer that expires keys.
    timer: Key,
    /// When that timer is due, if armed.
    armed: Option<Instant>,
}

/// One client connection.
#[derive(Default)]
pub struct Kv {
    session: KvSession,
}

impl Protocol<Db> for Kv {
    fn on_data(
        &mut self,
        input: &[u8],
        out: &mut Outbox,
        cx: &mut ProtoContext<'_, '_, Db>,
    ) -> usize {
        let now = cx.now();
        let db = cx.state();
        let progress = self.session.on_bytes(&mut db.store, now, input, out.vec());
        if let Some(next) = db.store.next_expiry() {
            if db.armed.is_none_or(|armed| next < armed) {
                db.armed = Some(next);
                let change =
                    Modify::new().timeout(Timeout::Idle(next.saturating_duration_since(now)));
                let timer = db.timer;
                let _ = cx.context().modify(timer, change);
            }
        }
        if progress.close {
            cx.close_after_flush();
        }
        progress.consumed
    }
}

/// The expiry timer: frees the keys that are due, then sleeps until the next expiry.
struct Expiry;

impl Handler<Net<Db>> for Expiry {
    fn on_timeout(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<Db>>) {
        let now = cx.now();
        let db = cx.state().app_mut();
        db.store.expire_due(now);
        db.armed = db.store.next_expiry();
        let next = db.armed.map(|at| at.saturating_duration_since(now));
        cx.set_timeout(next.map_or(Timeout::Never, Timeout::Idle));
    }
}

/// A manager for the server, with its (dormant) expiry timer registered; `config` sets the
/// clock (tests pass a manual one).
pub fn manager(config: ioman::Config) -> Result<Manager<Net<Db>>, NetError> {
    let db = Db { store: Store::new(), timer: Key::default(), armed: None };
    let mut manager = Manager::with_config(Net::new(db), config)?;
    let timer = manager.add_timer(Timer::once(Duration::from_secs(1)), Expiry)?;
    manager.set_timeout(timer, Timeout::Never)?;
    manager.state_mut().app_mut().timer = timer;
    Ok(manager)
}

/// The connection settings of the server: like Redis, no idle timeout; input and output caps
/// that fit the largest bulk string.
pub fn conn_config() -> ConnConfig {
    ConnConfig::default().idle(Timeout::Never).max_input(MAX_INPUT).max_output(4 * MAX_INPUT)
}

/// Serves RESP on `socket` (from [`ioman::net::listen`]) with `manager`.
pub fn build(manager: &mut Manager<Net<Db>>, socket: OwnedFd) -> Result<Key, NetError> {
    Listener::serve(conn_config(), Kv::default).register(manager, socket)
}
