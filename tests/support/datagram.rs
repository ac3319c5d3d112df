//! Helpers for the datagram tests: a recording echo protocol, managers on the manual clock,
//! an echo server on a background loop that hands back its counters, deterministic payloads.
#![allow(dead_code)] // each test binary uses a different subset

use ioman::net::{
    Datagram, DatagramAddr, DatagramConfig, DatagramContext, DatagramOut, DatagramSocket, Net,
    NetStats, SendRefused, bind_datagram, datagram_local_addr,
};
use ioman::{Config, Manager, ManualClock, Remote};
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// What a [`Recorder`] saw, in the loop-wide state.
#[derive(Default, Debug)]
pub struct Seen {
    pub datagrams: Vec<(DatagramAddr, Vec<u8>)>,
    pub truncated: Vec<(DatagramAddr, usize)>,
    /// `(destination, errno)` of each reported send error.
    pub errors: Vec<(Option<DatagramAddr>, Option<i32>)>,
    pub refused: Vec<SendRefused>,
    pub rooms: usize,
    pub opened: usize,
    pub closed: usize,
}

/// What [`Recorder`] answers to each datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Nothing.
    None,
    /// The datagram itself, `n` times.
    Echo(usize),
    /// Datagrams of `size` bytes until the queue refuses one.
    Flood(usize),
    /// One datagram of this many bytes, then the datagram itself.
    OversizedThenEcho(usize),
}

/// A protocol that records every hook in [`Seen`] and answers as told.
pub struct Recorder {
    pub reply: Reply,
    /// Sent with `out.send` (to the connected peer) from `on_open`.
    pub greeting: Option<Vec<u8>>,
    /// Whether to keep each datagram's bytes in `Seen::datagrams` (echo load: no).
    pub keep: bool,
}

impl Recorder {
    pub fn new(reply: Reply) -> Recorder {
        Recorder { reply, greeting: None, keep: true }
    }
}

impl Datagram<Seen> for Recorder {
    fn on_open(&mut self, out: &mut DatagramOut, cx: &mut DatagramContext<'_, Seen>) {
        cx.state().opened += 1;
        if let Some(greeting) = &self.greeting {
            out.send(greeting).expect("greeting queued");
        }
    }

    fn on_datagram(
        &mut self,
        data: &[u8],
        from: &DatagramAddr,
        out: &mut DatagramOut,
        cx: &mut DatagramContext<'_, Seen>,
    ) {
        if self.keep {
            cx.state().datagrams.push((from.clone(), data.to_vec()));
        }
        let mut send = |out: &mut DatagramOut, bytes: &[u8]| match out.send_to(from, bytes) {
            Ok(()) => true,
            Err(refused) => {
                cx.state().refused.push(refused);
                false
            }
        };
        match self.reply {
            Reply::None => {}
            Reply::Echo(n) => {
                for _ in 0..n {
                    send(out, data);
                }
            }
            Reply::Flood(size) => while send(out, &vec![7; size]) {},
            Reply::OversizedThenEcho(size) => {
                send(out, &vec![0; size]);
                send(out, data);
            }
        }
    }

    fn on_truncated(
        &mut self,
        from: &DatagramAddr,
        size: usize,
        _: &mut DatagramOut,
        cx: &mut DatagramContext<'_, Seen>,
    ) {
        cx.state().truncated.push((from.clone(), size));
    }

    fn on_send_error(
        &mut self,
        to: Option<&DatagramAddr>,
        error: &io::Error,
        _: &mut DatagramOut,
        cx: &mut DatagramContext<'_, Seen>,
    ) {
        cx.state().errors.push((to.cloned(), error.raw_os_error()));
    }

    fn on_room(&mut self, _: &mut DatagramOut, cx: &mut DatagramContext<'_, Seen>) {
        cx.state().rooms += 1;
    }

    fn on_close(&mut self, cx: &mut DatagramContext<'_, Seen>) {
        cx.state().closed += 1;
    }
}

pub type M = Manager<Net<Seen>>;

/// A manager whose time moves only when the returned clock is advanced.
pub fn manual() -> (M, ManualClock) {
    let clock = ManualClock::new();
    let m = Manager::with_config(Net::new(Seen::default()), Config::default().clock(clock.clone()))
        .expect("manager");
    (m, clock)
}

/// A UDP socket on 127.0.0.1 registered with `proto`; returns its key and address.
pub fn udp_server(m: &mut M, proto: Recorder, config: DatagramConfig) -> (ioman::Key, SocketAddr) {
    let fd = bind_datagram(&"127.0.0.1:0".parse().expect("endpoint"), false).expect("bind");
    let DatagramAddr::Ip(addr) = datagram_local_addr(&fd).expect("local") else { panic!("not IP") };
    let key = DatagramSocket::new(proto, config).register(m, fd).expect("register");
    (key, addr)
}

/// A blocking client socket on 127.0.0.1 that gives up reading after 10 s (a failure, not a
/// timing assumption: answers on loopback take microseconds).
pub fn client() -> std::net::UdpSocket {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("client bind");
    socket.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    socket
}

/// Turns (each waiting at most 100 ms, none of them sleeping on a clock) until `done`.
#[track_caller]
pub fn turn_until(m: &mut M, mut done: impl FnMut(&mut M) -> bool) {
    for _ in 0..200 {
        if done(m) {
            return;
        }
        m.turn(Some(Duration::from_millis(100))).expect("turn");
    }
    assert!(done(m), "condition not reached in 200 turns");
}

/// The bytes of datagram `seq` of client `client`, `size` long: a header naming both, then a
/// pattern derived from them, so every byte of an echo can be checked.
pub fn payload(client: u32, seq: u32, size: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(size);
    data.extend_from_slice(&client.to_le_bytes());
    data.extend_from_slice(&seq.to_le_bytes());
    let seed = client.wrapping_mul(31).wrapping_add(seq) as usize;
    data.extend((8..size.max(8)).map(|i| ((i + seed) % 251) as u8));
    data.truncate(size.max(8));
    data
}

/// A small deterministic generator (xorshift64*): the same sizes on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// An echo server on its own loop thread; [`stop`](Self::stop) shuts it down and returns
/// the loop's counters.
pub struct Background {
    pub addr: SocketAddr,
    remote: Remote<Net<Seen>, ioman::Boxed<Net<Seen>>>,
    thread: JoinHandle<NetStats>,
}

impl Background {
    pub fn echo(config: DatagramConfig) -> Background {
        let (tx, rx) = mpsc::channel();
        let thread = thread::spawn(move || {
            let mut m: M = Manager::with_state(Net::new(Seen::default())).expect("manager");
            let mut echo = Recorder::new(Reply::Echo(1));
            echo.keep = false;
            let (_, addr) = udp_server(&mut m, echo, config);
            tx.send((addr, m.remote())).expect("hand over");
            m.run().expect("run");
            m.state().stats()
        });
        let (addr, remote) = rx.recv().expect("server started");
        Background { addr, remote, thread }
    }

    #[track_caller]
    pub fn stop(self) -> NetStats {
        self.remote
            .post(|m| ioman::net::shutdown::begin(m, Duration::ZERO))
            .expect("post shutdown");
        self.thread.join().expect("server thread")
    }
}
