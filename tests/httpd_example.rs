//! The `httpd` example end to end: its server module runs in-process (on a background loop
//! with the real clock, or turn by turn with a manual clock for the timeouts) and a small HTTP
//! client written here checks keep-alive, pipelining, HEAD, files, every error status,
//! traversal attempts, the idle timeout and the deadline for slowly trickled requests.

#[path = "support/net.rs"]
mod net;
#[path = "../examples/httpd/server.rs"]
mod server;

use ioman::net::{Connection, Net};
use ioman::{Config, Manager, ManualClock};
use net::*;
use server::proto::site::Site;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

const IDLE: Duration = Duration::from_secs(10);

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

fn serve(root: Option<PathBuf>) -> (std::net::SocketAddr, ioman::net::Loops) {
    spawn_server(move |socket| {
        let site = match &root {
            Some(dir) => Site::with_root(dir).expect("root"),
            None => Site::welcome(),
        };
        let mut m = Manager::with_state(Net::new(site))?;
        server::build(&mut m, socket, IDLE)?;
        Ok(m)
    })
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
    assert_eq!(docs.body, b"docs", "HEAD sent no body: the next response follows at once");
    // Still alive after four requests; HTTP/1.0 without keep-alive closes.
    send(&mut c, b"GET /small.txt HTTP/1.0\r\n\r\n");
    assert_eq!(read_response(&mut c, false).status, 200);
    assert_eof(&mut c);
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
        (b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", 501, true),
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
    // A head larger than the limit: 431, then close.
    let mut c = connect(addr);
    let mut huge = b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 16 * 1024));
    send(&mut c, &huge);
    assert_eq!(read_response(&mut c, false).status, 431);
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
