//! The connection's message path is allocation-free in steady state: after a warm-up, a
//! thousand rounds of 64 echo connections (read, `on_data`, direct reply, `on_drained`, idle
//! and send-timeout bookkeeping) allocate nothing. The loop's read buffer and scratch outbox
//! are reused; a connection's own queue is touched only when the socket does not take a reply.
//! Counted with dhat's global allocator (one test per binary: one profiler at a time).

mod support;

use ioman::net::{ConnConfig, Connection, Net, Outbox, ProtoContext, Protocol};
use ioman::{Config, Manager, ManualClock, Timeout};
use std::sync::Arc;
use std::time::Duration;
use support::{echo_round, socketpair};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Echoes every byte and counts them in the loop state.
struct Echo;

impl Protocol<u64> for Echo {
    fn on_data(&mut self, input: &[u8], out: &mut Outbox, cx: &mut ProtoContext<'_, u64>) -> usize {
        out.extend_from_slice(input);
        *cx.state() += input.len() as u64;
        input.len()
    }
}

#[test]
fn steady_state_connections_allocate_nothing_per_message() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let clock = ManualClock::new();
    let config = Config::default().clock(clock.clone());
    let mut m = Manager::with_config(Net::new(0u64), config).unwrap();
    let conn_config = Arc::new(ConnConfig::default().idle(Timeout::Idle(Duration::from_secs(60))));
    let mut peers = Vec::new();
    for _ in 0..64 {
        let (fd, peer) = socketpair();
        Connection::new(Echo, conn_config.clone()).register_with(&mut m, fd).unwrap();
        peers.push(peer);
    }
    for _ in 0..200 {
        echo_round(&mut m, &clock, &peers);
    }
    let before = dhat::HeapStats::get();
    for _ in 0..1000 {
        echo_round(&mut m, &clock, &peers);
    }
    let after = dhat::HeapStats::get();
    assert_eq!(*m.state().app(), 64 * 4 * 1200);
    assert_eq!(after.total_blocks - before.total_blocks, 0, "allocations in steady state");
}
