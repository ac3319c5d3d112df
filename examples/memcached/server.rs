//! The `memcached` server: the sans-IO core ([`proto`]) wired to ioman-net connections, with a
//! timer that reclaims expired items. Kept apart from `main.rs` so that
//! `tests/memcached_example.rs` can run the very same server in-process, with a manual clock.
//!
//! One loop owns one [`Cache`]; each connection has its own [`Session`]. Memory per connection
//! is bounded by [`conn_config`] whatever a client pipelines: a command (and each key of a
//! `get`) starts only while the output is below the high watermark (64 KiB), large values are
//! queued as the cache's shared buffers, and the output cap holds two maximal replies (one
//! partly sent, one new), so a session that checks the room never reaches it. Kept input holds
//! at most one command line and one data block ([`MAX_INPUT`]). A client that leaves its
//! replies unread for the send timeout is dropped; idle connections are kept, as memcached
//! keeps them.
//!
//! Expiry is lazy (an expired item is freed when a command finds it) and active: every
//! [`RECLAIM_PERIOD`] the timer looks at the next [`RECLAIM_BATCH`] item slots and frees the
//! expired ones among them, so an idle cache sheds expired items without a pause that grows
//! with its size. A delayed `flush_all` takes effect at its deadline the same way.

#[path = "proto.rs"]
pub mod proto;

use ioman::net::{ConnConfig, Listener, Net, NetError, Outbox, ProtoContext, Protocol};
use ioman::{Context, Handler, Key, Manager, Timeout, Timer};
use proto::clock::Clock;
use proto::commands::{Env, MAX_LINE, Session};
use proto::stats::ConnStats;
use proto::store::{Cache, MAX_ITEM};
use rustix::fd::{BorrowedFd, OwnedFd};
use std::time::Duration;

/// The most unconsumed input a connection may hold: a command line and the largest data
/// block, with room to spare.
pub const MAX_INPUT: usize = MAX_LINE + MAX_ITEM + 64 * 1024;

/// The output memory one connection may hold: two maximal replies and the watermark.
const MAX_OUTPUT: usize = 2 * MAX_ITEM + 1024 * 1024;

/// How long a client may leave pending replies unread before it is dropped, by default.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// How often the reclaim timer runs.
pub const RECLAIM_PERIOD: Duration = Duration::from_secs(1);

/// How many item slots one run of the reclaim timer looks at (32-byte slots, read in order:
/// about a megabyte of memory, a fraction of a millisecond).
pub const RECLAIM_BATCH: usize = 32 * 1024;

/// The loop-wide state: the cache.
pub struct Db {
    /// The items.
    pub cache: Cache,
}

/// One client connection.
#[derive(Default)]
pub struct Memcached {
    session: Session,
}

impl Protocol<Db> for Memcached {
    fn on_data(&mut self, input: &[u8], out: &mut Outbox, cx: &mut ProtoContext<'_, Db>) -> usize {
        let net = cx.net();
        let stats = net.stats();
        let conns = ConnStats {
            curr_connections: net.connections() as u64,
            total_connections: stats.opened,
            bytes_read: stats.bytes_read,
            bytes_written: stats.bytes_written,
            threads: 1,
        };
        let env = Env { now: cx.now(), conns };
        let progress = self.session.on_bytes(&mut cx.state().cache, &env, input, out);
        if progress.close {
            cx.close_after_flush();
        }
        progress.consumed
    }
}

/// The reclaim timer.
struct Reclaim;

impl Handler<Net<Db>> for Reclaim {
    fn on_timeout(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<Db>>) {
        let now = cx.now();
        cx.state().app_mut().cache.reclaim(now, RECLAIM_BATCH);
    }
}

/// A manager for the server whose cache holds at most `memory_limit` bytes, with its reclaim
/// timer registered; `config` sets the clock (tests pass a manual one), whose time now is the
/// cache's epoch (`uptime` 0).
pub fn manager(config: ioman::Config, memory_limit: usize) -> Result<Manager<Net<Db>>, NetError> {
    let placeholder = Cache::new(0, Clock::system(std::time::Instant::now()));
    let mut manager = Manager::with_config(Net::new(Db { cache: placeholder }), config)?;
    let epoch = manager.now();
    manager.state_mut().app_mut().cache = Cache::new(memory_limit, Clock::system(epoch));
    manager.add_timer(Timer::every(RECLAIM_PERIOD), Reclaim)?;
    Ok(manager)
}

/// The connection settings of the server: no idle timeout (as memcached), the default
/// watermarks (16 / 64 KiB), [`MAX_INPUT`], an output cap of two maximal replies and a
/// [`SEND_TIMEOUT`] (change it with [`ConnConfig::send_timeout`]; `None` means never).
pub fn conn_config() -> ConnConfig {
    ConnConfig::default()
        .idle(Timeout::Never)
        .send_timeout(Some(SEND_TIMEOUT))
        .max_input(MAX_INPUT)
        .max_output(MAX_OUTPUT)
}

/// Serves memcached's text protocol on `socket` (from [`ioman::net::listen`]) with `manager`,
/// each connection set up by `config` (normally [`conn_config`]).
pub fn build(
    manager: &mut Manager<Net<Db>>,
    socket: OwnedFd,
    config: ConnConfig,
) -> Result<Key, NetError> {
    Listener::serve(config, Memcached::default).register(manager, socket)
}
