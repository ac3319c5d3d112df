//! Shared helpers for the ioman-net tests: socket pairs with a non-blocking server end,
//! blocking clients with a 10 s safety timeout, a scripted [`Script`] protocol that logs
//! every hook into the loop state [`Log`], servers on a background loop thread, and
//! `#[track_caller]` asserts. Include with `#[path = "support/net.rs"] mod net;`.
#![allow(dead_code)] // each test binary uses a different subset

use ioman::net::{CloseReason, Loops, Net, NetError, Outbox, ProtoContext, Protocol};
use ioman::{Key, Manager};
use rustix::fd::OwnedFd;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// The safety net for blocking client reads: a test that waits this long has failed.
pub const WAIT: Duration = Duration::from_secs(10);

/// The loop state of scripted tests: what the protocols saw.
#[derive(Default)]
pub struct Log {
    /// Every byte `on_data` consumed, all connections together.
    pub input: Vec<u8>,
    /// The `input.len()` of each `on_data` call.
    pub calls: Vec<usize>,
    /// Hooks other than `on_data`, as (connection, name).
    pub events: Vec<(Key, String)>,
    /// Keys the test wants protocols to reach.
    pub keys: Vec<Key>,
}

impl Log {
    /// How many times the hook `name` ran (any connection).
    pub fn count(&self, name: &str) -> usize {
        self.events.iter().filter(|(_, e)| e == name).count()
    }
}

type DataFn = Box<dyn FnMut(&[u8], &mut Outbox, &mut ProtoContext<'_, Log>) -> usize>;

/// A protocol whose `on_data` is a closure and whose other hooks log themselves and then
/// do the default (except `on_eof` with a `farewell`, and `on_wake`, which resumes reading).
pub struct Script {
    data: DataFn,
    /// On end of stream: send this, then `shutdown_write` (instead of closing).
    pub farewell: Option<&'static [u8]>,
    /// Sent from `on_open`.
    pub greeting: Option<&'static [u8]>,
}

impl Script {
    /// A script with this `on_data`.
    pub fn new(
        data: impl FnMut(&[u8], &mut Outbox, &mut ProtoContext<'_, Log>) -> usize + 'static,
    ) -> Script {
        Script { data: Box::new(data), farewell: None, greeting: None }
    }

    /// Echoes everything and logs it.
    pub fn echo() -> Script {
        Script::new(|input, out, cx| {
            cx.state().input.extend_from_slice(input);
            out.extend_from_slice(input);
            input.len()
        })
    }

    /// Consumes and logs everything, replies nothing.
    pub fn sink() -> Script {
        Script::new(|input, _, cx| {
            cx.state().input.extend_from_slice(input);
            input.len()
        })
    }

    /// Sets the greeting sent from `on_open`.
    pub fn greeting(mut self, bytes: &'static [u8]) -> Script {
        self.greeting = Some(bytes);
        self
    }

    /// Sets the end-of-stream farewell.
    pub fn farewell(mut self, bytes: &'static [u8]) -> Script {
        self.farewell = Some(bytes);
        self
    }
}

fn log(cx: &mut ProtoContext<'_, Log>, what: impl Into<String>) {
    let key = cx.key();
    cx.state().events.push((key, what.into()));
}

impl Protocol<Log> for Script {
    fn on_data(&mut self, input: &[u8], out: &mut Outbox, cx: &mut ProtoContext<'_, Log>) -> usize {
        cx.state().calls.push(input.len());
        (self.data)(input, out, cx)
    }

    fn on_open(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, Log>) {
        log(cx, "open");
        if let Some(bytes) = self.greeting {
            out.extend_from_slice(bytes);
        }
    }

    fn on_eof(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, Log>) {
        log(cx, "eof");
        match self.farewell {
            Some(bytes) => {
                out.extend_from_slice(bytes);
                cx.shutdown_write();
            }
            None => cx.close_after_flush(),
        }
    }

    fn on_drained(&mut self, _: &mut Outbox, cx: &mut ProtoContext<'_, Log>) {
        log(cx, "drained");
    }

    fn on_wake(&mut self, _: &mut Outbox, cx: &mut ProtoContext<'_, Log>) {
        log(cx, "wake");
        cx.resume_reading(); // a wake is how a test resumes a script that paused itself
    }

    fn on_timer(&mut self, _: &mut Outbox, cx: &mut ProtoContext<'_, Log>) {
        log(cx, "timer");
    }

    fn on_idle(&mut self, _: &mut Outbox, cx: &mut ProtoContext<'_, Log>) {
        log(cx, "idle");
        cx.close();
    }

    fn on_shutdown(&mut self, _: &mut Outbox, cx: &mut ProtoContext<'_, Log>) {
        log(cx, "shutdown");
        cx.close_after_flush();
    }

    fn on_close(&mut self, reason: &CloseReason, cx: &mut ProtoContext<'_, Log>) {
        log(cx, format!("close:{}", reason_name(reason)));
    }
}

/// A short name for a close reason, e.g. `error:ConnectionReset`.
pub fn reason_name(reason: &CloseReason) -> String {
    match reason {
        CloseReason::Closed => "closed".into(),
        CloseReason::Done => "done".into(),
        CloseReason::Hangup => "hangup".into(),
        CloseReason::Error(e) => format!("error:{:?}", e.kind()),
        CloseReason::ConnectFailed(e) => format!("connect:{:?}", e.kind()),
        CloseReason::OutputOverflow => "overflow".into(),
        CloseReason::InputTooLarge => "too-large".into(),
        CloseReason::SendTimeout => "send-timeout".into(),
        CloseReason::Panicked(_) => "panicked".into(),
        CloseReason::Tls(e) => format!("tls:{e}"),
        CloseReason::HandshakeTimeout => "handshake-timeout".into(),
        _ => "other".into(),
    }
}

/// A Unix stream socket pair: (server end, non-blocking; client end, blocking with
/// [`WAIT`] timeouts).
pub fn unix_pair() -> (OwnedFd, UnixStream) {
    let (server, client) = UnixStream::pair().expect("socketpair");
    server.set_nonblocking(true).expect("nonblocking");
    client.set_read_timeout(Some(WAIT)).expect("timeout");
    client.set_write_timeout(Some(WAIT)).expect("timeout");
    (server.into(), client)
}

/// A connected TCP pair on 127.0.0.1: (server end, non-blocking; client end, blocking with
/// [`WAIT`] timeouts).
pub fn tcp_pair() -> (OwnedFd, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = connect(listener.local_addr().expect("addr"));
    let (server, _) = listener.accept().expect("accept");
    server.set_nonblocking(true).expect("nonblocking");
    (server.into(), client)
}

/// A TCP client with [`WAIT`] timeouts.
#[track_caller]
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.set_write_timeout(Some(WAIT)).expect("timeout");
    stream
}

/// Reads exactly `n` bytes (failing after [`WAIT`] without progress).
#[track_caller]
pub fn read_n(stream: &mut impl Read, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    stream.read_exact(&mut buf).unwrap_or_else(|e| panic!("reading {n} bytes: {e}"));
    buf
}

/// Reads one `\n`-terminated line, byte by byte (so nothing after it is consumed).
#[track_caller]
pub fn read_line(stream: &mut impl Read) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8];
    while line.last() != Some(&b'\n') {
        match stream.read(&mut byte) {
            Ok(1) => line.push(byte[0]),
            Ok(_) => panic!("end of stream after {:?}", String::from_utf8_lossy(&line)),
            Err(e) => panic!("reading a line after {:?}: {e}", String::from_utf8_lossy(&line)),
        }
    }
    String::from_utf8(line).expect("utf-8 line")
}

/// Asserts the peer closed its sending side: the next read is end of stream.
#[track_caller]
pub fn assert_eof(stream: &mut impl Read) {
    let mut byte = [0u8; 64];
    match stream.read(&mut byte) {
        Ok(0) => {}
        Ok(n) => panic!("expected end of stream, got {:?}", String::from_utf8_lossy(&byte[..n])),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("expected end of stream, got {e}"),
    }
}

/// `n` bytes of a pattern that makes reordering or loss visible.
pub fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8 ^ seed).collect()
}

/// Turns until `done` holds, at most `max` turns (each waiting at most 100 ms for events).
#[track_caller]
pub fn turn_until<S, R: ioman::Handler<S, R>>(
    manager: &mut Manager<S, R>,
    max: usize,
    mut done: impl FnMut(&mut Manager<S, R>) -> bool,
) {
    for _ in 0..max {
        if done(manager) {
            return;
        }
        manager.turn(Some(Duration::from_millis(100))).expect("turn");
    }
    assert!(done(manager), "condition not reached in {max} turns");
}

/// Writes all of `bytes` to a non-blocking-server test while turning the manager, and reads
/// everything the server sends back until `expect` bytes arrived. For single-threaded tests
/// where the client and the loop share the thread.
#[track_caller]
pub fn exchange<S, R: ioman::Handler<S, R>>(
    manager: &mut Manager<S, R>,
    client: &mut UnixStream,
    bytes: &[u8],
    expect: usize,
) -> Vec<u8> {
    client.set_nonblocking(true).expect("nonblocking");
    let (mut sent, mut got) = (0, Vec::new());
    let mut buf = vec![0u8; 64 * 1024];
    for _ in 0..100_000 {
        if sent < bytes.len() {
            match client.write(&bytes[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("client write: {e}"),
            }
        }
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("client read: {e}"),
        }
        if sent == bytes.len() && got.len() >= expect {
            break;
        }
        manager.turn(Some(Duration::from_millis(100))).expect("turn");
    }
    client.set_nonblocking(false).expect("blocking");
    assert_eq!(sent, bytes.len(), "client could not send everything");
    got
}

/// A server on one background loop: `setup` builds the manager around the socket.
pub fn spawn_server<S: 'static>(
    setup: impl Fn(OwnedFd) -> Result<Manager<Net<S>>, NetError> + Send + Sync + 'static,
) -> (SocketAddr, Loops) {
    let loops =
        Loops::spawn(1, &"127.0.0.1:0".parse().expect("endpoint"), move |_, socket| setup(socket))
            .expect("spawn server");
    let ioman::net::Endpoint::Tcp(addr) = loops.local_addr().clone() else {
        panic!("not a TCP address")
    };
    (addr, loops)
}

/// Stops a server started with [`spawn_server`] and waits for it.
#[track_caller]
pub fn stop(loops: Loops) {
    loops.shutdown(Duration::ZERO);
    loops.join().expect("server loop");
}

/// Sets a socket's send buffer as small as the kernel allows.
pub fn tiny_send_buffer(fd: &OwnedFd) {
    rustix::net::sockopt::set_socket_send_buffer_size(fd, 4096).expect("SO_SNDBUF");
}

/// Reads everything until end of stream (with the [`WAIT`] safety net).
#[track_caller]
pub fn read_to_end(stream: &mut impl Read) -> Vec<u8> {
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap_or_else(|e| panic!("read to end: {e}"));
    all
}

/// Writes everything.
#[track_caller]
pub fn send(stream: &mut impl Write, bytes: &[u8]) {
    stream.write_all(bytes).unwrap_or_else(|e| panic!("write: {e}"));
}

/// An address where connections are refused, held so that no other test can take the port:
/// a socket bound to 127.0.0.1:0 that never listens. Keep the fd alive while using the address.
pub fn refused_addr() -> (OwnedFd, SocketAddr) {
    let fd = tcp_socket();
    rustix::net::bind(&fd, &SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind");
    let addr = rustix::net::getsockname(&fd).expect("getsockname");
    let addr = SocketAddr::try_from(addr).expect("an IP address");
    (fd, addr)
}

/// A blocking, close-on-exec IPv4 TCP socket, neither bound nor connected (for tests that set
/// options before `bind` or `connect`).
pub fn tcp_socket() -> OwnedFd {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    rustix::net::socket_with(AddressFamily::INET, SocketType::STREAM, SocketFlags::CLOEXEC, None)
        .expect("socket")
}

/// Whether this process is the child that runs test `name`'s scenario. In the parent (the
/// test as cargo runs it), re-runs the test binary for `name` alone with `env_flag` set (see
/// [`rerun_as_child`]), asserts the child succeeded and printed `done`, and returns `false`.
/// Use: `if in_child(NAME, FLAG, "scenario: ok") { scenario() }`, the scenario printing `done`
/// at its end.
#[track_caller]
pub fn in_child(name: &str, env_flag: &str, done: &str) -> bool {
    if std::env::var_os(env_flag).is_some() {
        return true;
    }
    let output = rerun_as_child(name, env_flag).output().expect("running the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(done), "the child did not run the scenario:\n{stdout}");
    false
}

/// A command that re-runs this test binary for test `name` alone, with `env_flag` set: how a
/// test runs its scenario in a child process (a lowered fd limit, a signal) without touching
/// the other tests. The test checks `env_flag` first and runs the child part when it is set.
pub fn rerun_as_child(name: &str, env_flag: &str) -> std::process::Command {
    let exe = std::env::current_exe().expect("test binary");
    let mut command = std::process::Command::new(exe);
    command.args(["--exact", name, "--nocapture", "--test-threads=1"]).env(env_flag, "1");
    command
}

/// The highest fd number open in this process.
pub fn highest_fd() -> u64 {
    let entries = std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd");
    entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).max().unwrap_or(2)
}

/// Opens `/dev/null` until the process is out of fds (filling the holes below the limit);
/// the fds are returned so the caller can free them later.
pub fn exhaust_fds() -> Vec<OwnedFd> {
    use rustix::fs::{Mode, OFlags, open};
    let mut hogs = Vec::new();
    for _ in 0..100_000 {
        match open("/dev/null", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => hogs.push(fd),
            Err(e) => {
                assert_eq!(e, rustix::io::Errno::MFILE);
                return hogs;
            }
        }
    }
    panic!("the fd limit did not take effect");
}

/// Sets this process's soft limit on open files (the hard limit stays).
pub fn set_fd_limit(soft: u64) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let hard = getrlimit(Resource::Nofile).maximum;
    setrlimit(Resource::Nofile, Rlimit { current: Some(soft), maximum: hard }).expect("setrlimit");
}
