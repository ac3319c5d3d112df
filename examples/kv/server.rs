//! The `kv` server: the sans-IO RESP2 core ([`proto`]) wired to ioman-net connections, with
//! key expiry driven by an ioman timer. Kept apart from `main.rs` so that
//! `tests/kv_example.rs` can run the very same server in-process, with a manual clock.
//!
//! Memory per connection is bounded by [`conn_config`], whatever a client pipelines: the
//! session runs a command only while the output is below the high watermark (64 KiB), large
//! values are replied to by sharing the stored buffer, an MGET reply is limited to
//! [`Limits::max_reply`] (see `commands.rs`), and the output cap holds two maximal replies.
//! In time, a client that stops reading its replies is dropped after the send timeout
//! ([`SEND_TIMEOUT`] unless `--send-timeout` says otherwise): Redis has none (its idle
//! timeout is off by default, and so is kv's), but without one a client that never reads
//! could hold up to the output cap forever.
//!
//! Expiry is both lazy (a read of an expired key misses, inside the store) and active: one
//! standalone timer per loop is kept scheduled for the store's next wake-up (its next expiry,
//! or at once when FLUSHDB/FLUSHALL left data to free), so expired keys are freed even if
//! nobody asks for them. Each time it fires it does at most [`BACKGROUND_BUDGET`] keys of
//! each kind of work ([`Store::background`]) and, if more is due, fires again on the next turn
//! (after that turn's I/O), as Redis's active expire cycle and lazy free spread their work:
//! a million keys expiring at once, or a FLUSHALL of a million keys, never stall a turn.
//! Scheduling costs one peek per batch of commands; the timer is moved only when an earlier
//! wake-up appears.
//!
//! TLS: with a TLS configuration, [`build`] serves the same protocol with
//! [`Listener::serve_tls`] (what `redis-cli --tls` speaks; no ALPN).

#[path = "proto.rs"]
pub mod proto;

use ioman::net::tls::rustls::ServerConfig;
use ioman::net::{ConnConfig, Listener, Net, NetError, Outbox, ProtoContext, Protocol};
use ioman::{Context, Handler, Key, Manager, Modify, Timeout, Timer};
use proto::commands::KvSession;
use proto::resp::Limits;
use proto::store::Store;
use rustix::fd::{BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most unconsumed input a connection may hold: one maximal bulk string (64 MiB by
/// default) plus its framing.
const MAX_INPUT: usize = 64 * 1024 * 1024 + 64 * 1024;

/// The output memory one connection may hold (counted as `Outbox::held` does: shared values at
/// their length). A command starts only while less than the high watermark (64 KiB) waits, but
/// a partly sent buffer counts whole until all of it is sent, so up to one earlier reply may
/// still be held when the next one is written. Every reply is at most [`DEFAULT_MAX_REPLY`]
/// (an MGET is refused above it; any other reply is one bulk string of at most 64 MiB), so two
/// maximal replies plus slack for the watermark fit, and the session never meets this cap.
const MAX_OUTPUT: usize = 2 * DEFAULT_MAX_REPLY + 1024 * 1024;

/// [`Limits::max_reply`] of the sessions the server creates.
const DEFAULT_MAX_REPLY: usize = 128 * 1024 * 1024;

/// How long a client may leave pending replies unread (no progress at all) before it is
/// dropped, by default.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// The most keys the expiry timer expires, and the most flushed entries it frees, per turn.
pub const BACKGROUND_BUDGET: usize = 1000;

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
pub struct Kv {
    session: KvSession,
}

impl Default for Kv {
    fn default() -> Kv {
        let limits = Limits { max_reply: DEFAULT_MAX_REPLY, ..Limits::default() };
        Kv { session: KvSession::with_limits(limits) }
    }
}

impl Protocol<Db> for Kv {
    fn on_data(&mut self, input: &[u8], out: &mut Outbox, cx: &mut ProtoContext<'_, Db>) -> usize {
        let now = cx.now();
        let db = cx.state();
        let progress = self.session.on_bytes(&mut db.store, now, input, out);
        if let Some(next) = db.store.next_wakeup(now) {
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

/// The expiry timer: a budget of background work, then sleeps until the next wake-up (the
/// next turn if work is still due).
struct Expiry;

impl Handler<Net<Db>> for Expiry {
    fn on_timeout(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<Db>>) {
        let now = cx.now();
        let db = cx.state().app_mut();
        db.store.background(now, BACKGROUND_BUDGET);
        db.armed = db.store.next_wakeup(now);
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

/// The connection settings of the server: like Redis, no idle timeout; an input cap that fits
/// the largest bulk string, an output cap that fits two maximal replies, the default
/// watermarks (16 / 64 KiB) and a [`SEND_TIMEOUT`] (change it with
/// [`ConnConfig::send_timeout`]; `None` means never, as the idle timeout is off).
pub fn conn_config() -> ConnConfig {
    ConnConfig::default()
        .idle(Timeout::Never)
        .send_timeout(Some(SEND_TIMEOUT))
        .max_input(MAX_INPUT)
        .max_output(MAX_OUTPUT)
}

/// Serves RESP on `socket` (from [`ioman::net::listen`]) with `manager`, each connection set up
/// by `config` (normally [`conn_config`]); over TLS with a TLS configuration.
pub fn build(
    manager: &mut Manager<Net<Db>>,
    socket: OwnedFd,
    config: ConnConfig,
    tls: Option<Arc<ServerConfig>>,
) -> Result<Key, NetError> {
    let listener = match tls {
        Some(tls) => Listener::serve_tls(config, tls, Kv::default),
        None => Listener::serve(config, Kv::default),
    };
    listener.register(manager, socket)
}
