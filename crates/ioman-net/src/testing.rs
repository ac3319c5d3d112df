//! `ioman::net::testing`: drive a [`Protocol`] without sockets — the [`Harness`].

mod wire;

pub(crate) use wire::Wire;

use crate::transport::{Layer, Transport};
use crate::{CloseReason, ConnConfig, Connection, Endpoint, Net, Protocol};
use ioman_core::{Config, Key, Manager, ManualClock};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most turns [`Harness::run`] takes to reach a quiet loop before it gives up: a protocol
/// that wakes itself forever is a bug the harness reports instead of hanging the test.
pub const MAX_TURNS: usize = 10_000;

/// A loop of connections whose peers are the test: feed input in the pieces you choose, read
/// what the protocol sent, make the peer stop reading, finish or reset the stream, advance a
/// manual clock, and see how each connection ended — with no socket, no thread and no sleep.
///
/// It is the real thing underneath: a [`Manager`] with a [`ManualClock`], and each connection
/// a real [`Connection`] (same flow control, watermarks, kept input, idle and send timeouts,
/// timers, half-close, panics, [`Peer`](crate::Peer) mail and
/// [`wait_for`](crate::ProtoContext::wait_for)), registered without an fd and moving its bytes
/// through an in-memory wire instead of a socket. So what a protocol does here, it does on a
/// socket; only the kernel's buffers are gone, which makes the peer's pace exact: a peer that
/// [`stop_reading`](Self::stop_reading) takes nothing at all.
///
/// Every method that changes what the peer does runs the loop until it is quiet (no pending
/// wake, nothing left that epoll would report), like a real loop between two packets.
///
/// ```
/// use ioman::net::testing::Harness;
/// use ioman::Timeout;
/// use ioman::net::{CloseReason, ConnConfig, Outbox, ProtoContext, Protocol};
/// use std::time::Duration;
///
/// /// Answers each line with its length; closes after `quit`.
/// struct LineLen;
/// impl Protocol for LineLen {
///     fn on_data(&mut self, input: &[u8], out: &mut Outbox, cx: &mut ProtoContext<'_>) -> usize {
///         let mut used = 0;
///         while let Some(end) = input[used..].iter().position(|&b| b == b'\n') {
///             let line = &input[used..used + end];
///             used += end + 1;
///             if line == b"quit" {
///                 cx.close_after_flush();
///                 break;
///             }
///             out.extend_from_slice(format!("{}\n", line.len()).as_bytes());
///         }
///         used
///     }
/// }
///
/// let mut h = Harness::new();
/// let config = ConnConfig::default().idle(Timeout::Idle(Duration::from_secs(60)));
/// let conn = h.connect(LineLen, config.clone());
/// h.send(conn, b"hel");            // half a line: nothing yet
/// assert_eq!(h.received(conn), b"");
/// h.send(conn, b"lo\nab\n");       // the rest, and another line
/// assert_eq!(h.received(conn), b"5\n2\n");
/// h.send(conn, b"quit\n");
/// assert!(matches!(h.close_reason(conn), Some(CloseReason::Closed)));
///
/// let idle = h.connect(LineLen, config);
/// h.advance(Duration::from_secs(59)); // the manual clock: no sleeping
/// assert!(h.is_open(idle));
/// h.advance(Duration::from_secs(1)); // idle for 60 s: the default `on_idle` closes
/// assert!(!h.is_open(idle));
/// ```
pub struct Harness<S: 'static = ()> {
    manager: Manager<Net<S>>,
    clock: ManualClock,
    /// Every connection's wire, in the order they were opened (kept after the close, so
    /// what was sent before it can still be received).
    wires: Vec<(Key, Rc<RefCell<Wire>>)>,
    closed: HashMap<Key, CloseReason>,
}

impl Harness<()> {
    /// A harness whose application state is `()`.
    pub fn new() -> Harness<()> {
        Harness::with_state(())
    }
}

impl Default for Harness<()> {
    fn default() -> Harness<()> {
        Harness::new()
    }
}

impl<S: 'static> Harness<S> {
    /// A harness whose loop state is `Net::new(app)`.
    ///
    /// # Panics
    /// If the epoll instance cannot be created (the process is out of fds).
    pub fn with_state(app: S) -> Harness<S> {
        let clock = ManualClock::new();
        let config = Config::default().clock(clock.clone());
        let manager = Manager::with_config(Net::new(app), config).expect("epoll_create");
        Harness { manager, clock, wires: Vec::new(), closed: HashMap::new() }
    }

    /// Opens a connection running `proto`, as if a peer had just connected, and runs the loop
    /// (a greeting sent from `on_connect`, say, is then in [`received`](Self::received)).
    pub fn connect<P: Protocol<S> + 'static>(
        &mut self,
        proto: P,
        config: impl Into<Arc<ConnConfig>>,
    ) -> Key {
        self.add(Connection::new(proto, config))
    }

    /// Opens a prepared connection (e.g. one built [`with_output`](Connection::with_output)).
    pub fn add<P: Protocol<S> + 'static>(&mut self, conn: Connection<P>) -> Key {
        let wire = Rc::new(RefCell::new(Wire::default()));
        let conn = conn.over(Transport::layered(Layer::Memory(wire.clone())));
        let key = conn.register_detached(&mut self.manager);
        self.wires.push((key, wire));
        self.manager.wake(key).expect("the key was just registered");
        self.run();
        key
    }

    /// The peer sends `bytes` (one piece, as one read would see it), then the loop runs.
    pub fn send(&mut self, key: Key, bytes: &[u8]) {
        self.peer(key, |w| w.push_input(bytes));
    }

    /// The peer shuts down its sending side (the protocol sees end of stream after what was
    /// sent before), then the loop runs.
    pub fn finish(&mut self, key: Key) {
        self.peer(key, Wire::finish);
    }

    /// The peer resets the connection: it ends with an error, as a socket's `ECONNRESET`.
    pub fn reset(&mut self, key: Key) {
        self.peer(key, Wire::reset_by_peer);
    }

    /// Takes what the peer has received since the last call (and lets the loop run, as the
    /// peer reading is an event).
    pub fn received(&mut self, key: Key) -> Vec<u8> {
        let bytes = self.wire(key).map(|w| w.borrow_mut().take_received()).unwrap_or_default();
        self.run();
        bytes
    }

    /// [`received`](Self::received) as text (lossy UTF-8), for line protocols.
    pub fn received_string(&mut self, key: Key) -> String {
        String::from_utf8_lossy(&self.received(key)).into_owned()
    }

    /// The peer stops reading: nothing more is sent to it, so output queues up in the
    /// connection (its watermarks, cap and send timeout apply).
    pub fn stop_reading(&mut self, key: Key) {
        self.peer(key, |w| w.set_window(Some(0)));
    }

    /// A peer that stopped reading takes `bytes` more (a slow reader).
    pub fn read_more(&mut self, key: Key, bytes: usize) {
        self.peer(key, |w| w.widen(bytes));
    }

    /// The peer reads everything again.
    pub fn resume_reading(&mut self, key: Key) {
        self.peer(key, |w| w.set_window(None));
    }

    /// Sets the addresses [`ProtoContext::peer_addr`](crate::ProtoContext::peer_addr) and
    /// `local_addr` report for this connection (`None` until set).
    pub fn set_addrs(&mut self, key: Key, peer: Option<Endpoint>, local: Option<Endpoint>) {
        if let Some(wire) = self.wire(key) {
            wire.borrow_mut().set_addrs(peer, local);
        }
    }

    /// Bytes the peer sent that the connection has not read yet (it reads only while its
    /// protocol may be offered input).
    pub fn unread(&self, key: Key) -> usize {
        self.wire(key).map_or(0, |w| w.borrow().unread_input())
    }

    /// Whether the connection has shut down its sending side (the peer would read end of
    /// stream once it took what came before).
    pub fn output_shut(&self, key: Key) -> bool {
        self.wire(key).is_some_and(|w| w.borrow().is_write_shut())
    }

    /// Whether the connection is still open.
    pub fn is_open(&self, key: Key) -> bool {
        self.manager.contains(key)
    }

    /// How the connection ended (what its protocol's `on_close` was given), once it has.
    pub fn close_reason(&self, key: Key) -> Option<&CloseReason> {
        self.closed.get(&key)
    }

    /// Bytes the connection holds queued for a peer that does not take them.
    pub fn pending_output<P: 'static>(&self, key: Key) -> Option<usize> {
        self.connection::<P>(key).map(Connection::pending_output)
    }

    /// The protocol of an open connection, if it is a `P`.
    pub fn protocol<P: 'static>(&self, key: Key) -> Option<&P> {
        self.connection::<P>(key).map(Connection::protocol)
    }

    /// The protocol of an open connection, mutably, if it is a `P`.
    pub fn protocol_mut<P: 'static>(&mut self, key: Key) -> Option<&mut P> {
        let handler = self.manager.handler_mut(key)?;
        handler.downcast_mut::<Connection<P>>().map(Connection::protocol_mut)
    }

    /// Moves the manual clock on and runs the loop: idle and send timeouts and
    /// [`set_timer`](crate::ProtoContext::set_timer) timers that are due fire.
    pub fn advance(&mut self, by: Duration) {
        self.clock.advance(by);
        self.run();
    }

    /// The manual clock's time.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Wakes a registration (its `on_wake`; for a connection, pending mail and kept input are
    /// looked at again), then runs the loop.
    pub fn wake(&mut self, key: Key) {
        let _ = self.manager.wake(key);
        self.run();
    }

    /// The application state.
    pub fn state(&mut self) -> &mut S {
        self.manager.state_mut().app_mut()
    }

    /// The loop state: counters, connection count.
    pub fn net(&mut self) -> &mut Net<S> {
        self.manager.state_mut()
    }

    /// The manager, to add other registrations (timers, listeners of a real socket) beside
    /// the harnessed connections.
    pub fn manager(&mut self) -> &mut Manager<Net<S>> {
        &mut self.manager
    }

    /// Turns the loop until it is quiet: no wake pending, and no connection that epoll would
    /// report (input or end of stream it wants to read, room to send what it queued).
    ///
    /// # Panics
    /// After [`MAX_TURNS`] turns without getting quiet (a protocol that wakes itself forever).
    pub fn run(&mut self) {
        for _ in 0..MAX_TURNS {
            self.manager.turn(Some(Duration::ZERO)).expect("epoll_wait");
            self.collect_closed();
            self.wake_ready();
            if !self.manager.wakes_pending() {
                return;
            }
        }
        panic!("the loop did not get quiet in {MAX_TURNS} turns: a protocol wakes itself forever");
    }

    /// What level-triggered epoll would report again: a wire with something to read for a
    /// connection that reads, or room for one that waits to send.
    fn wake_ready(&mut self) {
        for (key, wire) in &self.wires {
            let key = *key;
            let Some(interest) = self.manager.interest(key) else { continue };
            let wire = wire.borrow();
            let read = (interest.is_readable() && wire.readable())
                || (interest.is_read_closed() && wire.fin_pending());
            if read || (interest.is_writable() && wire.writable()) || wire.is_reset() {
                let _ = self.manager.wake(key);
            }
        }
    }

    fn collect_closed(&mut self) {
        for (key, wire) in &self.wires {
            if let Some(reason) = wire.borrow_mut().take_close() {
                self.closed.insert(*key, reason);
            }
        }
    }

    fn peer(&mut self, key: Key, f: impl FnOnce(&mut Wire)) {
        if let Some(wire) = self.wire(key) {
            f(&mut wire.borrow_mut());
            let _ = self.manager.wake(key);
            self.run();
        }
    }

    fn wire(&self, key: Key) -> Option<&Rc<RefCell<Wire>>> {
        self.wires.iter().find(|(k, _)| *k == key).map(|(_, w)| w)
    }

    fn connection<P: 'static>(&self, key: Key) -> Option<&Connection<P>> {
        self.manager.handler(key)?.downcast_ref::<Connection<P>>()
    }
}
