//! Two ways to play the peer of a connection, behind one [`Driver`] trait, so the same
//! contract tests run on both: [`Harnessed`] (ioman-net's socket-free
//! [`Harness`](ioman::net::testing::Harness)) and [`Sockets`] (a real loop with a manual clock,
//! each connection on a Unix socket pair whose other end the test reads and writes).
//! Include with `#[path = "support/drivers.rs"] mod drivers;` next to `support/net.rs`.
#![allow(dead_code)]

use crate::net::{Log, Script};
use ioman::net::testing::Harness;
use ioman::net::{ConnConfig, Connection, Net};
use ioman::{Config, Key, Manager, ManualClock};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::{AddressFamily, Shutdown, SocketFlags, SocketType};
use std::collections::HashMap;
use std::time::Duration;

/// The peer's side of one or more connections running [`Script`]s.
pub trait Driver {
    /// Opens a connection running `script`.
    fn open(&mut self, script: Script, config: ConnConfig) -> Key;
    /// The peer sends `bytes`; the loop runs until quiet.
    fn send(&mut self, key: Key, bytes: &[u8]);
    /// What the peer received since the last call.
    fn received(&mut self, key: Key) -> Vec<u8>;
    /// The peer finishes sending.
    fn finish(&mut self, key: Key);
    /// The peer stops reading.
    fn stop_reading(&mut self, key: Key);
    /// The peer reads again, everything.
    fn resume_reading(&mut self, key: Key);
    /// The manual clock moves on; the loop runs.
    fn advance(&mut self, by: Duration);
    /// Wakes a connection.
    fn wake(&mut self, key: Key);
    /// Whether the peer has read end of stream from the connection (after what it received).
    fn output_shut(&mut self, key: Key) -> bool;
    /// What the scripts logged.
    fn log(&mut self) -> &mut Log;
    /// Whether the connection is open.
    fn is_open(&self, key: Key) -> bool;
}

/// Ends the event names of `key` logged so far (e.g. `close:closed`).
pub fn events(d: &mut dyn Driver, key: Key) -> Vec<String> {
    d.log().events.iter().filter(|(k, _)| *k == key).map(|(_, e)| e.clone()).collect()
}

/// The socket-free driver.
pub struct Harnessed(pub Harness<Log>);

impl Harnessed {
    pub fn new() -> Harnessed {
        Harnessed(Harness::with_state(Log::default()))
    }
}

impl Driver for Harnessed {
    fn open(&mut self, script: Script, config: ConnConfig) -> Key {
        self.0.connect(script, config)
    }
    fn send(&mut self, key: Key, bytes: &[u8]) {
        self.0.send(key, bytes)
    }
    fn received(&mut self, key: Key) -> Vec<u8> {
        self.0.received(key)
    }
    fn finish(&mut self, key: Key) {
        self.0.finish(key)
    }
    fn stop_reading(&mut self, key: Key) {
        self.0.stop_reading(key)
    }
    fn resume_reading(&mut self, key: Key) {
        self.0.resume_reading(key)
    }
    fn advance(&mut self, by: Duration) {
        self.0.advance(by)
    }
    fn wake(&mut self, key: Key) {
        self.0.wake(key)
    }
    fn output_shut(&mut self, key: Key) -> bool {
        self.0.output_shut(key)
    }
    fn log(&mut self) -> &mut Log {
        self.0.state()
    }
    fn is_open(&self, key: Key) -> bool {
        self.0.is_open(key)
    }
}

/// The peer end of one connection of [`Sockets`].
struct PeerEnd {
    fd: Option<OwnedFd>,
    /// Bytes the test sent that the socket has not taken yet (the kernel pushes back; the
    /// harness's wire does not, so this driver keeps them, like a network that buffers).
    unsent: Vec<u8>,
    /// `finish` was asked: shut down once `unsent` is out.
    finishing: bool,
    received: Vec<u8>,
    reading: bool,
    eof: bool,
}

/// The real-socket driver: a loop with a manual clock, turned without sleeping.
pub struct Sockets {
    manager: Manager<Net<Log>>,
    clock: ManualClock,
    peers: HashMap<Key, PeerEnd>,
}

impl Sockets {
    pub fn new() -> Sockets {
        let clock = ManualClock::new();
        let config = Config::default().clock(clock.clone());
        let manager = Manager::with_config(Net::new(Log::default()), config).expect("manager");
        Sockets { manager, clock, peers: HashMap::new() }
    }

    /// Turns until a turn reports nothing and no wake is pending, reading for every peer that
    /// reads (bounded: a test that never quiets fails).
    fn run(&mut self) {
        for _ in 0..10_000 {
            let events = self.manager.turn(Some(Duration::ZERO)).expect("turn");
            let read = self.drain_peers();
            let wrote = self.feed_peers();
            if events == 0 && !read && !wrote && !self.manager.wakes_pending() {
                return;
            }
        }
        panic!("the loop did not get quiet");
    }

    /// Writes what each peer still has to send; whether anything went out.
    fn feed_peers(&mut self) -> bool {
        let mut any = false;
        for peer in self.peers.values_mut() {
            let Some(fd) = &peer.fd else { continue };
            while !peer.unsent.is_empty() {
                match rustix::io::write(fd, &peer.unsent) {
                    Ok(n) => {
                        peer.unsent.drain(..n);
                        any = true;
                    }
                    Err(Errno::INTR) => {}
                    Err(_) => break, // EAGAIN, or the connection is gone
                }
            }
            if peer.finishing && peer.unsent.is_empty() {
                peer.finishing = false;
                let _ = rustix::net::shutdown(fd, Shutdown::Write);
                any = true;
            }
        }
        any
    }

    /// Reads what is waiting for each reading peer; whether anything (or end of stream) came.
    fn drain_peers(&mut self) -> bool {
        let mut any = false;
        let mut buf = vec![0u8; 64 * 1024];
        for peer in self.peers.values_mut().filter(|p| p.reading && !p.eof) {
            let Some(fd) = &peer.fd else { continue };
            loop {
                match rustix::io::read(fd, &mut buf) {
                    Ok(0) => {
                        peer.eof = true;
                        any = true;
                        break;
                    }
                    Ok(n) => {
                        peer.received.extend_from_slice(&buf[..n]);
                        any = true;
                    }
                    Err(Errno::INTR) => {}
                    Err(_) => break, // EAGAIN, or the connection is gone
                }
            }
        }
        any
    }
}

impl Driver for Sockets {
    fn open(&mut self, script: Script, config: ConnConfig) -> Key {
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        let (ours, theirs) =
            rustix::net::socketpair(AddressFamily::UNIX, SocketType::STREAM, flags, None)
                .expect("socketpair");
        let key = Connection::new(script, config)
            .register_with(&mut self.manager, ours)
            .expect("register");
        let peer = PeerEnd {
            fd: Some(theirs),
            unsent: Vec::new(),
            finishing: false,
            received: Vec::new(),
            reading: true,
            eof: false,
        };
        self.peers.insert(key, peer);
        self.run();
        key
    }
    fn send(&mut self, key: Key, bytes: &[u8]) {
        self.peers.get_mut(&key).expect("peer").unsent.extend_from_slice(bytes);
        self.run();
    }
    fn received(&mut self, key: Key) -> Vec<u8> {
        self.drain_peers();
        std::mem::take(&mut self.peers.get_mut(&key).expect("peer").received)
    }
    fn finish(&mut self, key: Key) {
        self.peers.get_mut(&key).expect("peer").finishing = true;
        self.run();
    }
    fn stop_reading(&mut self, key: Key) {
        self.peers.get_mut(&key).expect("peer").reading = false;
        self.run();
    }
    fn resume_reading(&mut self, key: Key) {
        self.peers.get_mut(&key).expect("peer").reading = true;
        self.run();
    }
    fn advance(&mut self, by: Duration) {
        self.clock.advance(by);
        self.run();
    }
    fn wake(&mut self, key: Key) {
        let _ = self.manager.wake(key);
        self.run();
    }
    fn output_shut(&mut self, key: Key) -> bool {
        self.drain_peers();
        self.peers[&key].eof
    }
    fn log(&mut self) -> &mut Log {
        self.manager.state_mut().app_mut()
    }
    fn is_open(&self, key: Key) -> bool {
        self.manager.contains(key)
    }
}
