//! Shared helpers for the tests of the `httpd` example's sans-IO core (`tests/httpd_core.rs`,
//! `tests/httpd_rfc.rs`): a fixed clock, a fixture root, a response splitter, and drivers that
//! feed a session whole, split or byte by byte. Each test crate includes the core as
//! `mod proto` and this file as `mod httpd`.

#![allow(dead_code, reason = "each test crate uses some of these")]

use crate::proto::http::{HttpSession, Progress};
use crate::proto::site::Site;
use ioman::net::Outbox;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The clock of every site here: responses carry a `Date`, and comparing bytes needs a fixed
/// one. Far in the future, so `Last-Modified` is each file's real mtime.
pub fn fixed_now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(2_000_000_000)
}

/// `Date` as [`fixed_now`] formats it.
pub const FIXED_DATE: &str = "Wed, 18 May 2033 03:33:20 GMT";

/// The welcome-page site with the fixed clock.
pub fn welcome() -> Site {
    Site::welcome().with_clock(fixed_now)
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("ioman-httpd-{}-{tag}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A site root with one file per content type, subdirectories and symlinks, plus a sibling
/// directory outside the root holding a secret.
pub struct Fixture {
    pub root: TempDir,
    pub outside: TempDir,
    pub site: Site,
}

pub const FILES: &[(&str, &str)] = &[
    ("index.html", "text/html; charset=utf-8"),
    ("style.css", "text/css; charset=utf-8"),
    ("app.js", "text/javascript; charset=utf-8"),
    ("data.json", "application/json"),
    ("notes.txt", "text/plain; charset=utf-8"),
    ("img.png", "image/png"),
    ("photo.jpg", "image/jpeg"),
    ("anim.gif", "image/gif"),
    ("logo.svg", "image/svg+xml"),
    ("favicon.ico", "image/x-icon"),
    ("mod.wasm", "application/wasm"),
    ("doc.pdf", "application/pdf"),
    ("UPPER.HTML", "text/html; charset=utf-8"),
    ("blob.bin", "application/octet-stream"),
    ("noext", "application/octet-stream"),
    ("feed.xml", "text/xml; charset=utf-8"),
    ("clip.mp4", "video/mp4"),
    ("font.woff2", "font/woff2"),
    ("archive.zip", "application/zip"),
    ("module.mjs", "application/javascript; charset=utf-8"),
    ("README.md", "text/markdown; charset=utf-8"),
];

pub fn fixture() -> Fixture {
    let root = TempDir::new("root");
    let outside = TempDir::new("outside");
    for (name, _) in FILES {
        fs::write(root.0.join(name), format!("contents of {name}")).unwrap();
    }
    fs::create_dir(root.0.join("sub")).unwrap();
    fs::write(root.0.join("sub/index.html"), "sub index").unwrap();
    fs::create_dir(root.0.join("empty")).unwrap();
    fs::write(root.0.join("hello world.txt"), "spaced").unwrap();
    fs::write(outside.0.join("secret.txt"), "TOP SECRET").unwrap();
    symlink(outside.0.join("secret.txt"), root.0.join("escape")).unwrap();
    symlink(&outside.0, root.0.join("escape_dir")).unwrap();
    symlink(root.0.join("notes.txt"), root.0.join("inner_link")).unwrap();
    let site = Site::with_root(&root.0).unwrap().with_clock(fixed_now);
    Fixture { root, outside, site }
}

/// One parsed response.
#[derive(Debug, PartialEq)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Splits `out` into responses; response `i` has no body if `head_only[i]`.
#[track_caller]
pub fn responses(mut out: &[u8], head_only: &[bool]) -> Vec<Resp> {
    let mut all = Vec::new();
    while !out.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut resp = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(len) = resp.parse(out).expect("valid response") else {
            panic!("incomplete response head: {:?}", String::from_utf8_lossy(out));
        };
        let headers: Vec<(String, String)> = resp
            .headers
            .iter()
            .map(|h| (h.name.to_owned(), String::from_utf8(h.value.to_vec()).unwrap()))
            .collect();
        let status = resp.code.unwrap();
        // A 304 has no body and (here) no Content-Length; every other response has one.
        let content_length: usize = match headers.iter().find(|(n, _)| n == "Content-Length") {
            Some((_, v)) => v.parse().unwrap(),
            None if status == 304 => 0,
            None => panic!("no Content-Length: {:?}", String::from_utf8_lossy(out)),
        };
        let body_len = if head_only.get(all.len()).copied().unwrap_or(false) || status == 304 {
            0
        } else {
            content_length
        };
        let body = out[len..len + body_len].to_vec();
        all.push(Resp { status, headers, body });
        out = &out[len + body_len..];
    }
    all
}

/// Feeds `input` in one call to a fresh session (with an unbounded outbox); returns the bytes
/// it queued, file regions read back.
pub fn run(site: &Site, input: &[u8]) -> (Vec<u8>, Progress) {
    let mut out = Outbox::new();
    let progress = HttpSession::new().on_bytes(site, input, &mut out);
    (out.to_vec(), progress)
}

/// Feeds `input` in chunks ending at `cuts` (plus the end), keeping unconsumed bytes like the
/// connection helper does; returns the output, whether it closed, and the session.
pub fn run_split(site: &Site, input: &[u8], cuts: &[usize]) -> (Vec<u8>, bool, HttpSession) {
    let mut session = HttpSession::new();
    let mut pending = Vec::new();
    let mut out = Outbox::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([input.len()]) {
        let end = end.clamp(start, input.len());
        pending.extend_from_slice(&input[start..end]);
        start = end;
        let progress = session.on_bytes(site, &pending, &mut out);
        assert!(progress.consumed <= pending.len());
        pending.drain(..progress.consumed);
        if progress.close {
            return (out.to_vec(), true, session);
        }
    }
    (out.to_vec(), false, session)
}

/// Asserts that feeding `input` whole and byte by byte gives identical output and closing.
#[track_caller]
pub fn assert_split_invariant(site: &Site, input: &[u8]) -> Vec<u8> {
    let (whole, progress) = run(site, input);
    let cuts: Vec<usize> = (1..input.len()).collect();
    let (bytewise, closed, _) = run_split(site, input, &cuts);
    assert_eq!(String::from_utf8_lossy(&bytewise), String::from_utf8_lossy(&whole));
    assert_eq!(closed, progress.close);
    whole
}

/// Sends one request and expects one response with `status`; returns it and the progress.
#[track_caller]
pub fn one(site: &Site, request: &str, status: u16) -> (Resp, Progress) {
    let (out, progress) = run(site, request.as_bytes());
    let head_only = request.starts_with("HEAD ");
    let mut all = responses(&out, &[head_only]);
    assert_eq!(all.len(), 1, "{request:?} -> {:?}", String::from_utf8_lossy(&out));
    let resp = all.remove(0);
    assert_eq!(resp.status, status, "{request:?} -> {:?}", String::from_utf8_lossy(&out));
    assert_eq!(resp.header("Server"), Some("ioman"));
    assert_eq!(resp.header("Date"), Some(FIXED_DATE), "every response is dated");
    (resp, progress)
}

/// Expects `status` with `Connection: close` and a closing [`Progress`].
#[track_caller]
pub fn assert_closes_with(site: &Site, request: &str, status: u16) {
    let (resp, progress) = one(site, request, status);
    assert_eq!(resp.header("Connection"), Some("close"), "{request:?}");
    assert!(progress.close, "{request:?}");
}

pub fn get(target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: test\r\n\r\n")
}
