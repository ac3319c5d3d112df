//! The `httpd` example end to end: its server module runs in-process (on a background loop
//! with the real clock, or turn by turn with a manual clock for the timeouts) and a small HTTP
//! client written here checks keep-alive, pipelining, HEAD, files, every error status,
//! traversal attempts, the idle timeout and the deadline for slowly trickled requests; and that
//! big files stream whole (to fast and slow readers, pipelined or not) while the server's
//! memory stays flat, and that a client that stops reading is evicted by the send timeout.
//! Over TLS (certificates made at test time), a rustls client gets the same answers: status
//! line and body, keep-alive and pipelining, a file bigger than the output cap, ALPN
//! `http/1.1`, and a clean `close_notify` after `Connection: close`. Over TCP too: `Date`,
//! 304 and a streamed 206 of a big file, chunked bodies and absolute-form targets on a kept
//! connection, a swapped release link served at once, and the command line's validation.

#[path = "../examples/httpd/cli.rs"]
mod cli;
#[path = "support/net.rs"]
mod net;
#[path = "../examples/httpd/server.rs"]
mod server;
#[path = "support/tls.rs"]
mod tls;

use ioman::net::{Connection, Net};
use ioman::{Config, Manager, ManualClock};
use net::*;
use server::proto::site::Site;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

const IDLE: Duration = Duration::from_secs(10);

/// The file cache `main.rs` configures: files up to 256 KiB, 64 MiB in all.
const CACHE_FILE: u64 = 256 * 1024;
const CACHE_TOTAL: u64 = 64 * 1024 * 1024;

const MIB: usize = 1024 * 1024;

/// One parsed response.
#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads one response (head, then `Content-Length` bytes unless `head_only`).
#[track_caller]
fn read_response(stream: &mut impl Read, head_only: bool) -> Response {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.extend_from_slice(&read_n(stream, 1));
    }
    let head = String::from_utf8(head).expect("utf-8 head");
    let status = head[9..12].parse().expect("status code");
    let mut r = Response { status, head, body: Vec::new() };
    let len: usize = r.header("content-length").map_or(0, |v| v.parse().expect("length"));
    if !head_only {
        r.body = read_n(stream, len);
    }
    r
}

/// A temporary document root with a few files and a symlink pointing outside it.
struct Root(PathBuf);

impl Root {
    fn new(tag: &str) -> Root {
        let dir = std::env::temp_dir().join(format!("ioman-httpd-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("docs")).unwrap();
        std::fs::write(dir.join("index.html"), "<h1>home</h1>").unwrap();
        std::fs::write(dir.join("small.txt"), "hello, file\n").unwrap();
        std::fs::write(dir.join("docs/index.html"), "docs").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.join("escape")).unwrap();
        Root(dir)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn serve(root: Option<PathBuf>) -> (SocketAddr, ioman::net::Loops) {
    serve_site(move || match &root {
        Some(dir) => Site::with_root(dir).expect("root"),
        None => Site::welcome(),
    })
}

/// The server on a background loop, serving the site `site` builds.
fn serve_site(site: impl Fn() -> Site + Send + Sync + 'static) -> (SocketAddr, ioman::net::Loops) {
    spawn_server(move |socket| {
        let mut m = Manager::with_state(Net::new(site()))?;
        server::build(&mut m, socket, IDLE, None)?;
        Ok(m)
    })
}

/// The server over TLS with `certs`, offering ALPN `http/1.1` as `main.rs` does, serving
/// `root`.
fn serve_tls(certs: &tls::Certs, root: PathBuf) -> (SocketAddr, ioman::net::Loops) {
    let config = tls::server_config(certs, &[b"http/1.1"]);
    spawn_server(move |socket| {
        let mut m = Manager::with_state(Net::new(Site::with_root(&root).expect("root")))?;
        server::build(&mut m, socket, IDLE, Some(config.clone()))?;
        Ok(m)
    })
}

/// The period of [`Pattern`]: a prime, so no power-of-two buffer or offset lines up with it.
const PERIOD: usize = 251;

/// File contents whose byte `i` is `(i % 251) ^ seed`: a lost, repeated or shifted piece, or a
/// piece of another file (another seed), shows. Written and checked a block at a time, so a
/// file of any size costs one block of memory (the checks are `memcmp`s, quick in debug).
struct Pattern {
    block: Vec<u8>,
}

impl Pattern {
    fn new(seed: u8) -> Pattern {
        Pattern { block: (0..PERIOD * 1024).map(|i| (i % PERIOD) as u8 ^ seed).collect() }
    }

    /// Writes `len` bytes of the pattern to a new file at `path`.
    fn write(&self, path: &Path, len: usize) {
        let mut file = std::fs::File::create(path).expect("create");
        let mut left = len;
        while left > 0 {
            let n = left.min(self.block.len()); // whole periods: the next block starts in phase
            file.write_all(&self.block[..n]).expect("write");
            left -= n;
        }
    }

    /// Whether `got` is the pattern's bytes from offset `at`.
    fn matches(&self, mut at: usize, mut got: &[u8]) -> bool {
        while !got.is_empty() {
            let phase = at % PERIOD;
            let n = got.len().min(self.block.len() - phase);
            if got[..n] != self.block[phase..phase + n] {
                return false;
            }
            at += n;
            got = &got[n..];
        }
        true
    }
}

/// Reads a `len`-byte body with reads of at most `chunk` bytes, checking it against `pattern`
/// as it comes (nothing is kept); `pause` runs after every read, e.g. to read slowly.
#[track_caller]
fn read_pattern_body(
    stream: &mut impl Read,
    len: usize,
    pattern: &Pattern,
    chunk: usize,
    mut pause: impl FnMut(usize),
) {
    let mut buf = vec![0; chunk];
    let mut at = 0;
    while at < len {
        let want = chunk.min(len - at);
        let n = match stream.read(&mut buf[..want]) {
            Ok(0) => panic!("end of stream at byte {at} of {len}"),
            Ok(n) => n,
            Err(e) => panic!("reading byte {at} of {len}: {e}"),
        };
        assert!(pattern.matches(at, &buf[..n]), "wrong bytes in {at}..{}", at + n);
        at += n;
        pause(at);
    }
}

/// Reads one 200 response to a GET of a pattern file of `len` bytes, checking it.
#[track_caller]
fn read_pattern_response(stream: &mut impl Read, len: usize, pattern: &Pattern, chunk: usize) {
    let head = read_response(stream, true);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(len.to_string().as_str()));
    read_pattern_body(stream, len, pattern, chunk, |_| {});
}

/// A TCP client whose receive buffer is as small as the kernel allows, set before connecting
/// (so the window it announces is small from the start): a slow reader.
#[track_caller]
fn connect_small_window(addr: SocketAddr) -> TcpStream {
    let fd = tcp_socket();
    rustix::net::sockopt::set_socket_recv_buffer_size(&fd, 4096).expect("SO_RCVBUF");
    rustix::net::connect(&fd, &addr).expect("connect");
    let stream = TcpStream::from(fd);
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.set_write_timeout(Some(WAIT)).expect("timeout");
    stream
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n")
}

#[test]
fn keep_alive_pipelining_head_and_files() {
    let root = Root::new("files");
    let (addr, loops) = serve(Some(root.0.clone()));
    let mut c = connect(addr);
    send(
        &mut c,
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n\
          HEAD /docs/ HTTP/1.1\r\nHost: t\r\n\r\nGET /docs HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let home = read_response(&mut c, false);
    assert_eq!((home.status, home.body.as_slice()), (200, &b"<h1>home</h1>"[..]));
    assert_eq!(home.header("content-type"), Some("text/html; charset=utf-8"));
    let file = read_response(&mut c, false);
    assert_eq!((file.status, file.body.as_slice()), (200, &b"hello, file\n"[..]));
    assert!(file.header("content-type").unwrap().starts_with("text/plain"));
    let head = read_response(&mut c, true);
    assert_eq!((head.status, head.header("content-length")), (200, Some("4")));
    let docs = read_response(&mut c, false);
    assert_eq!(docs.status, 301, "HEAD sent no body: the next response follows at once");
    assert_eq!(docs.header("location"), Some("/docs/"), "a directory's name ends in a slash");
    // Still alive after four requests; HTTP/1.0 without keep-alive closes.
    send(&mut c, b"GET /small.txt HTTP/1.0\r\n\r\n");
    assert_eq!(read_response(&mut c, false).status, 200);
    assert_eof(&mut c);
    stop(loops);
}

#[test]
fn https_get_keep_alive_pipelining_and_a_big_file() {
    let root = Root::new("tls");
    let pattern = Pattern::new(0x5a);
    let len = 12 * MIB; // more than the output cap: read and encrypted a piece at a time
    pattern.write(&root.0.join("big.bin"), len);
    let certs = tls::certs(&["localhost"]);
    let (addr, loops) = serve_tls(&certs, root.0.clone());
    let config = tls::client_config(&certs, &[b"http/1.1"]);
    let mut c = tls::client(addr, &config, "localhost");
    send(&mut c, get("/").as_bytes());
    let home = read_response(&mut c, false);
    assert!(home.head.starts_with("HTTP/1.1 200 OK\r\n"), "{}", home.head);
    assert_eq!(home.body, b"<h1>home</h1>");
    assert_eq!(c.conn.alpn_protocol(), Some(&b"http/1.1"[..]), "ALPN agreed on http/1.1");
    // Keep-alive: a second request on the same connection, then two pipelined ones.
    send(&mut c, get("/small.txt").as_bytes());
    let file = read_response(&mut c, false);
    assert_eq!((file.status, file.body.as_slice()), (200, &b"hello, file\n"[..]));
    send(&mut c, format!("{}{}", get("/docs/"), get("/missing")).as_bytes());
    let docs = read_response(&mut c, false);
    assert_eq!((docs.status, docs.body.as_slice()), (200, &b"docs"[..]));
    assert_eq!(read_response(&mut c, false).status, 404);
    send(&mut c, get("/big.bin").as_bytes());
    read_pattern_response(&mut c, len, &pattern, 256 * 1024);
    // `Connection: close`: the answer, then close_notify (a clean end, not a truncation).
    send(&mut c, b"GET /small.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let last = read_response(&mut c, false);
    assert_eq!((last.status, last.header("connection")), (200, Some("close")));
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).expect("a clean close");
    assert!(rest.is_empty());
    stop(loops);
}

#[test]
fn https_refuses_a_plaintext_request_without_answering_it() {
    let certs = tls::certs(&["localhost"]);
    let root = Root::new("tls-plain");
    let (addr, loops) = serve_tls(&certs, root.0.clone());
    let mut c = connect(addr);
    send(&mut c, get("/").as_bytes());
    let answer = tls::read_until_closed(&mut c);
    assert!(!answer.starts_with(b"HTTP/"), "plaintext was served: {answer:?}");
    stop(loops);
}

#[test]
fn every_error_status() {
    let (addr, loops) = serve(None);
    let cases: &[(&[u8], u16, bool)] = &[
        (b"GARBAGE\r\n\r\n", 400, true),
        (b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n", 404, false),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc", 405, false),
        (b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n", 413, true),
        (b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, true),
        (b"FOO / HTTP/1.1\r\nHost: t\r\n\r\n", 501, false),
        (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505, true),
        (b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n", 400, true),
    ];
    for (request, status, closes) in cases {
        let mut c = connect(addr);
        send(&mut c, request);
        let r = read_response(&mut c, false);
        assert_eq!(r.status, *status, "{}", String::from_utf8_lossy(request));
        if *closes {
            assert_eq!(r.header("connection"), Some("close"));
            assert_eof(&mut c);
        } else {
            send(&mut c, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
            assert_eq!(read_response(&mut c, false).status, 200, "kept alive after {status}");
        }
    }
    // A head larger than the limit: 431, then close; a request line larger than it: 414.
    let mut c = connect(addr);
    let mut huge = b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 16 * 1024));
    send(&mut c, &huge);
    assert_eq!(read_response(&mut c, false).status, 431);
    let mut c = connect(addr);
    let mut long = b"GET /".to_vec();
    long.extend(std::iter::repeat_n(b'a', 16 * 1024));
    send(&mut c, &long);
    let r = read_response(&mut c, false);
    assert_eq!((r.status, r.header("connection")), (414, Some("close")));
    assert_eof(&mut c);
    stop(loops);
}

#[test]
fn no_path_escapes_the_root() {
    let root = Root::new("escape");
    let (addr, loops) = serve(Some(root.0.clone()));
    for path in
        ["/../Cargo.toml", "/%2e%2e/%2e%2e/etc/passwd", "/docs/..%2f..%2fetc/passwd", "/escape"]
    {
        let mut c = connect(addr);
        send(&mut c, format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let r = read_response(&mut c, false);
        assert!(matches!(r.status, 400 | 404), "{path}: {}", r.status);
        assert!(!String::from_utf8_lossy(&r.body).contains("root:"), "{path} leaked");
    }
    stop(loops);
}

/// A server connection driven on this thread with a manual clock.
fn manual_server() -> (Manager<Net<Site>>, ManualClock, std::os::unix::net::UnixStream) {
    let clock = ManualClock::new();
    let mut m =
        Manager::with_config(Net::new(Site::welcome()), Config::default().clock(clock.clone()))
            .unwrap();
    let (fd, client) = unix_pair();
    Connection::new(server::Http::new(IDLE), server::conn_config(IDLE))
        .register_with(&mut m, fd)
        .unwrap();
    (m, clock, client)
}

#[track_caller]
fn settle(m: &mut Manager<Net<Site>>) {
    for _ in 0..4 {
        m.turn(Some(Duration::ZERO)).unwrap();
    }
}

#[test]
fn a_half_sent_request_gets_408_when_idle() {
    let (mut m, clock, mut client) = manual_server();
    send(&mut client, b"GET / HTTP/1.1\r\nHost:");
    settle(&mut m);
    clock.advance(IDLE);
    settle(&mut m);
    let r = read_response(&mut client, false);
    assert_eq!((r.status, r.header("connection")), (408, Some("close")));
    assert_eof(&mut client);
}

#[test]
fn a_trickled_request_is_cut_off_at_its_deadline() {
    let (mut m, clock, mut client) = manual_server();
    // One byte every 4 s keeps the connection from ever being idle for 10 s...
    let start = clock.now();
    for byte in b"GET / HTTP/1.1\r\n" {
        if m.state().connections() == 0 {
            break;
        }
        send(&mut client, &[*byte]);
        settle(&mut m);
        clock.advance(Duration::from_secs(4));
        settle(&mut m);
    }
    // ...but the request as a whole had 10 s: then it was answered 408 and closed.
    assert_eq!(m.state().connections(), 0);
    assert!(clock.now() - start <= Duration::from_secs(12), "cut off at the deadline");
    let r = read_response(&mut client, false);
    assert_eq!(r.status, 408);
    assert_eof(&mut client);
}

#[test]
fn an_idle_keep_alive_connection_is_closed_without_a_response() {
    let (mut m, clock, mut client) = manual_server();
    send(&mut client, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    settle(&mut m);
    assert_eq!(read_response(&mut client, false).status, 200);
    clock.advance(IDLE);
    settle(&mut m);
    assert_eof(&mut client);
}

#[test]
fn a_big_file_streams_whole_to_fast_and_slow_readers() {
    let root = Root::new("big");
    let pattern = Pattern::new(0x3c);
    let len = 24 * MIB; // three times the output cap, and 3 x the old 8 MiB cut-off
    pattern.write(&root.0.join("big.bin"), len);
    let dir = root.0.clone();
    let (addr, loops) = serve_site(move || Site::with_root(&dir).expect("root"));

    let mut fast = connect(addr);
    send(&mut fast, get("/big.bin").as_bytes());
    read_pattern_response(&mut fast, len, &pattern, 256 * 1024);

    // A slow reader: a tiny window, small reads and pauses, so the server's sends stop short
    // again and again and go on when the socket is writable.
    let mut slow = connect_small_window(addr);
    send(&mut slow, get("/big.bin").as_bytes());
    let head = read_response(&mut slow, true);
    assert_eq!(head.header("content-length"), Some(len.to_string().as_str()));
    let mut next_pause = 0;
    read_pattern_body(&mut slow, len, &pattern, 4096, |at| {
        if at >= next_pause {
            next_pause += MIB;
            std::thread::sleep(Duration::from_millis(5));
        }
    });

    // Both connections are still in step: the next response follows the body exactly.
    for c in [&mut fast, &mut slow] {
        send(c, get("/small.txt").as_bytes());
        assert_eq!(read_response(c, false).body, b"hello, file\n");
    }
    stop(loops);
}

#[test]
fn fifty_pipelined_gets_of_a_256k_file_all_arrive() {
    let root = Root::new("fifty");
    let pattern = Pattern::new(0x11);
    let len = 256 * 1024; // the cache's per-file limit: cached when the cache is on
    pattern.write(&root.0.join("quarter.bin"), len);
    let dir = root.0.clone();
    let (plain, plain_loops) = serve_site(move || Site::with_root(&dir).expect("root"));
    let dir = root.0.clone();
    let (cached, cached_loops) = serve_site(move || {
        Site::with_root(&dir).expect("root").with_cache(CACHE_FILE, CACHE_TOTAL)
    });
    // 50 x 256 KiB is 12.5 MiB: past the 8 MiB output cap if queued at once.
    let batch = get("/quarter.bin").repeat(50) + &get("/small.txt");
    for addr in [plain, cached] {
        let mut c = connect(addr);
        send(&mut c, batch.as_bytes());
        for _ in 0..50 {
            read_pattern_response(&mut c, len, &pattern, 64 * 1024);
        }
        assert_eq!(read_response(&mut c, false).body, b"hello, file\n");
    }
    stop(plain_loops);
    stop(cached_loops);
}

/// The child's flag for [`pipelined_big_files_keep_memory_flat`].
const MEMORY_CHILD: &str = "IOMAN_HTTPD_MEMORY_CHILD";

/// A `kB` figure from `/proc/self/status` (`VmRSS`, `VmHWM`), in bytes.
fn proc_status(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with(field)).expect("field");
    let kb: usize = line[field.len()..].trim().trim_end_matches("kB").trim().parse().expect("kB");
    kb * 1024
}

#[test]
fn pipelined_big_files_keep_memory_flat() {
    // In a child process alone: its peak memory is this scenario's, not other tests'.
    if in_child("pipelined_big_files_keep_memory_flat", MEMORY_CHILD, "memory child: ok") {
        memory_child();
    }
}

/// 64 pipelined GETs of two 8 MiB files in one write (512 MiB of responses), read through a
/// small window: everything arrives, in order, and the process's peak resident memory (server
/// and client together) grows by far less than one response.
fn memory_child() {
    const REQUESTS: usize = 64;
    const LEN: usize = 8 * MIB;
    const BOUND: usize = 64 * MIB;
    let root = Root::new("memory");
    let patterns = [Pattern::new(0xa5), Pattern::new(0x0f)];
    patterns[0].write(&root.0.join("a.bin"), LEN);
    patterns[1].write(&root.0.join("b.bin"), LEN);
    let dir = root.0.clone();
    let (addr, loops) = serve_site(move || {
        Site::with_root(&dir).expect("root").with_cache(CACHE_FILE, CACHE_TOTAL)
    });
    let mut c = connect_small_window(addr);
    send(&mut c, get("/small.txt").as_bytes()); // the connection and its buffers exist now
    assert_eq!(read_response(&mut c, false).status, 200);
    let base = proc_status("VmRSS:");

    let batch: String = (0..REQUESTS).map(|i| get(["/a.bin", "/b.bin"][i % 2])).collect();
    send(&mut c, batch.as_bytes());
    // Not reading for a moment gives a server that would queue every response (the old one
    // read all 512 MiB into memory in one call) the time to do it; a correct one stops at its
    // watermark and waits. The bound below holds for it however long this is.
    std::thread::sleep(Duration::from_millis(200));
    let mut peak = proc_status("VmRSS:");
    for i in 0..REQUESTS {
        read_pattern_response(&mut c, LEN, &patterns[i % 2], 64 * 1024);
        peak = peak.max(proc_status("VmRSS:"));
    }
    send(&mut c, get("/small.txt").as_bytes());
    assert_eq!(read_response(&mut c, false).body, b"hello, file\n", "in step to the end");
    // The high-water mark also catches a peak between two samples.
    peak = peak.max(proc_status("VmHWM:"));
    let growth = peak.saturating_sub(base);
    assert!(growth < BOUND, "memory grew by {} MiB serving the pipeline", growth / MIB);
    stop(loops);
    println!("memory child: ok (grew {} KiB)", growth / 1024);
}

/// A server connection driven on this thread with a manual clock, serving the files in `root`.
fn manual_file_server(
    root: &Path,
) -> (Manager<Net<Site>>, ManualClock, std::os::unix::net::UnixStream) {
    let clock = ManualClock::new();
    let site = Site::with_root(root).expect("root");
    let mut m =
        Manager::with_config(Net::new(site), Config::default().clock(clock.clone())).unwrap();
    let (fd, client) = unix_pair();
    Connection::new(server::Http::new(IDLE), server::conn_config(IDLE))
        .register_with(&mut m, fd)
        .unwrap();
    (m, clock, client)
}

#[test]
fn a_client_that_never_reads_is_closed_by_the_send_timeout() {
    let root = Root::new("stuck");
    let pattern = Pattern::new(0x77);
    let len = 8 * MIB; // far more than the socket buffers hold
    pattern.write(&root.0.join("big.bin"), len);
    // Keep-alive, and `Connection: close` (the server closes after flushing, which never
    // happens with a peer that does not read).
    for request in [
        get("/big.bin"),
        "GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_owned(),
    ] {
        let (mut m, clock, mut client) = manual_file_server(&root.0);
        send(&mut client, request.as_bytes());
        settle(&mut m);
        assert_eq!(m.state().connections(), 1);
        clock.advance(IDLE - Duration::from_millis(1));
        settle(&mut m);
        assert_eq!(m.state().connections(), 1, "not before the send timeout");
        clock.advance(Duration::from_millis(1));
        settle(&mut m);
        assert_eq!(m.state().connections(), 0, "evicted: {request:?}");
        assert_eq!(m.state().stats().send_timeouts, 1);
        // What was sent is a prefix of the response; then the stream ends.
        let got = read_to_end(&mut client);
        let head_len = got.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
        assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(got.len() - head_len < len);
        assert!(pattern.matches(0, &got[head_len..]));
    }
}

#[test]
fn a_slow_but_steady_reader_is_not_evicted() {
    let root = Root::new("steady");
    let pattern = Pattern::new(0x42);
    let len = 4 * MIB;
    pattern.write(&root.0.join("big.bin"), len);
    let (mut m, clock, mut client) = manual_file_server(&root.0);
    send(&mut client, get("/big.bin").as_bytes());
    settle(&mut m);
    // The client takes what has arrived every 6 s: the response takes several idle timeouts, but
    // the send timeout counts from the last progress, so it never fires.
    client.set_nonblocking(true).expect("nonblocking");
    let mut got = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    let start = clock.now();
    let mut steps = 0;
    let body_len = |got: &[u8]| {
        let head = got[..got.len().min(1024)].windows(4).position(|w| w == b"\r\n\r\n");
        head.map(|h| got.len() - h - 4)
    };
    while body_len(&got) != Some(len) {
        steps += 1;
        assert!(steps < 10_000, "no end after {} bytes", got.len());
        clock.advance(Duration::from_secs(6));
        settle(&mut m);
        assert_eq!(m.state().connections(), 1, "evicted after {} bytes", got.len());
        // Takes what the socket holds (a Unix socket's sender is writable again only once
        // most of its buffer is free).
        loop {
            match client.read(&mut buf) {
                Ok(0) => panic!("end of stream after {} bytes", got.len()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
    }
    assert!(clock.now() - start > 3 * IDLE, "the download outlasted several timeouts");
    assert!(pattern.matches(0, &got[got.len() - len..]));
    assert_eq!(m.state().stats().send_timeouts, 0);
}

/// Connects, sends `request`, reads one response.
#[track_caller]
fn exchange(c: &mut TcpStream, request: &str, head_only: bool) -> Response {
    send(c, request.as_bytes());
    read_response(c, head_only)
}

#[test]
fn dates_validators_304_and_ranges_over_tcp() {
    let root = Root::new("rfc");
    let pattern = Pattern::new(0x29);
    let len = 24 * MIB; // three times the output cap
    pattern.write(&root.0.join("big.bin"), len);
    let dir = root.0.clone();
    let (addr, loops) = serve_site(move || {
        Site::with_root(&dir).expect("root").with_cache(CACHE_FILE, CACHE_TOTAL)
    });
    let mut c = connect(addr);
    let r = exchange(&mut c, &get("/small.txt"), false);
    let date = r.header("date").expect("Date");
    assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
    let etag = r.header("etag").expect("ETag").to_owned();
    let modified = r.header("last-modified").expect("Last-Modified").to_owned();
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    // Revalidation on the same connection: 304 without a body, then the next response.
    let inm = format!("GET /small.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n");
    let r = exchange(&mut c, &inm, true);
    assert_eq!((r.status, r.header("etag")), (304, Some(etag.as_str())));
    assert_eq!(r.header("content-length"), None);
    let ims =
        format!("GET /small.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: {modified}\r\n\r\n");
    assert_eq!(exchange(&mut c, &ims, true).status, 304);
    // A range in the middle of a big file, streamed; then one past its end.
    let (first, last) = (10 * MIB + 7, 20 * MIB);
    let range = format!("GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes={first}-{last}\r\n\r\n");
    send(&mut c, range.as_bytes());
    let head = read_response(&mut c, true);
    assert_eq!(head.status, 206);
    assert_eq!(head.header("content-range"), Some(format!("bytes {first}-{last}/{len}").as_str()));
    let part = last - first + 1;
    assert_eq!(head.header("content-length"), Some(part.to_string().as_str()));
    let mut buf = vec![0; 256 * 1024];
    let mut at = 0;
    while at < part {
        let want = buf.len().min(part - at);
        let n = c.read(&mut buf[..want]).expect("read");
        assert!(n > 0, "end of stream at {at} of {part}");
        assert!(pattern.matches(first + at, &buf[..n]), "wrong bytes at {}", first + at);
        at += n;
    }
    let past = format!("GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes={len}-\r\n\r\n");
    let r = exchange(&mut c, &past, false);
    assert_eq!(
        (r.status, r.header("content-range")),
        (416, Some(format!("bytes */{len}").as_str()))
    );
    // Still in step.
    assert_eq!(exchange(&mut c, &get("/small.txt"), false).body, b"hello, file\n");
    stop(loops);
}

#[test]
fn chunked_bodies_absolute_form_versions_and_redirects_over_tcp() {
    let root = Root::new("forms");
    let (addr, loops) = serve(Some(root.0.clone()));
    let mut c = connect(addr);
    // A chunked body in pieces, with an extension and a trailer: decoded, discarded, and the
    // connection goes on.
    send(
        &mut c,
        b"POST /small.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhel",
    );
    assert_eq!(read_response(&mut c, false).status, 405);
    send(&mut c, b"lo\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nT: v\r\n\r\n");
    assert_eq!(exchange(&mut c, &get("/small.txt"), false).body, b"hello, file\n");
    let chunked_get =
        "GET /small.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(exchange(&mut c, chunked_get, false).body, b"hello, file\n");
    // Absolute-form, and HTTP/1.2 served as 1.1 (kept alive).
    let absolute = "GET http://example.com:8080/small.txt HTTP/1.1\r\nHost: example.com\r\n\r\n";
    assert_eq!(exchange(&mut c, absolute, false).body, b"hello, file\n");
    let r = exchange(&mut c, "GET /small.txt HTTP/1.2\r\nHost: t\r\n\r\n", false);
    assert!(r.head.starts_with("HTTP/1.1 200 OK\r\n"), "{}", r.head);
    // A directory without its slash.
    let r = exchange(&mut c, &get("/docs?page=2"), false);
    assert_eq!((r.status, r.header("location")), (301, Some("/docs/?page=2")));
    assert_eq!(exchange(&mut c, &get("/docs/?page=2"), false).body, b"docs");
    // A malformed chunked body: the answer, then the connection closes.
    send(&mut c, b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    assert_eq!(read_response(&mut c, false).status, 405);
    assert_eof(&mut c);
    stop(loops);
}

#[test]
fn a_swapped_release_link_is_served_at_once_over_tcp() {
    let root = Root::new("swap");
    for n in 1..=2 {
        std::fs::create_dir(root.0.join(format!("release-{n}"))).unwrap();
        std::fs::write(root.0.join(format!("release-{n}/app.js")), format!("v{n}")).unwrap();
    }
    let current = root.0.join("current");
    std::os::unix::fs::symlink("release-1", &current).unwrap();
    // The server's root is the link itself, as with `--root /srv/current`; caching on.
    let link = current.clone();
    let (addr, loops) = serve_site(move || {
        Site::with_root(&link).expect("root").with_cache(CACHE_FILE, CACHE_TOTAL)
    });
    let mut c = connect(addr);
    for n in 1..=2 {
        assert_eq!(exchange(&mut c, &get("/app.js"), false).body, format!("v{n}").as_bytes());
        let tmp = root.0.join("current.tmp");
        std::os::unix::fs::symlink(format!("release-{}", 3 - n), &tmp).unwrap();
        std::fs::rename(&tmp, &current).unwrap();
        assert_eq!(
            exchange(&mut c, &get("/app.js"), false).body,
            format!("v{}", 3 - n).as_bytes(),
            "the next request sees the swap"
        );
        let tmp = root.0.join("current.tmp");
        std::os::unix::fs::symlink(format!("release-{n}"), &tmp).unwrap();
        std::fs::rename(&tmp, &current).unwrap();
        std::fs::remove_file(root.0.join(format!("release-{n}/app.js"))).unwrap();
        assert_eq!(exchange(&mut c, &get("/app.js"), false).status, 404, "removal seen");
        std::fs::write(root.0.join(format!("release-{n}/app.js")), format!("v{n}")).unwrap();
        if n == 1 {
            let tmp = root.0.join("current.tmp");
            std::os::unix::fs::symlink("release-2", &tmp).unwrap();
            std::fs::rename(&tmp, &current).unwrap();
        }
    }
    stop(loops);
}

#[test]
fn command_line_values_are_validated_with_a_clear_error() {
    use clap::Parser as _;
    let parse = |value: &str| cli::Args::try_parse_from(["httpd", "--idle-timeout", value]);
    for (value, message) in [
        ("-1", "non-negative"),
        ("nan", "finite"),
        ("inf", "finite"),
        ("1e30", "too many seconds"),
        ("0", "more than 0"),
        ("0.0", "more than 0"),
        ("ten", "expected a number of seconds"),
    ] {
        let err = parse(value).expect_err(value).to_string();
        assert!(err.contains("--idle-timeout") && err.contains(message), "{value}: {err}");
    }
    for (value, secs) in [("0.5", 0.5), ("10", 10.0), ("86400", 86400.0)] {
        let args = parse(value).expect(value);
        assert_eq!(args.idle_timeout.0, Duration::from_secs_f64(secs));
    }
    let defaults = cli::Args::try_parse_from(["httpd"]).expect("defaults");
    assert_eq!(defaults.idle_timeout.0, IDLE);
    for bad in [&["--threads", "0"][..], &["--threads", "-2"], &["--listen", "nowhere"]] {
        let err = cli::Args::try_parse_from(std::iter::once("httpd").chain(bad.iter().copied()));
        assert!(err.is_err(), "{bad:?}");
    }
}
