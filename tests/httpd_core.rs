//! Tests for the sans-IO core of the `httpd` example (`examples/httpd/`): pipelining, splits at
//! every byte boundary, connection reuse, every error status and path-traversal attempts, and
//! bounded output: file bodies queued as file regions (never read), pipelines stopped at the
//! outbox's room mark and resumed from the unconsumed input.

#[path = "support/httpd.rs"]
mod httpd;
#[path = "../examples/httpd/proto.rs"]
mod proto;

use std::fs;
use std::time::{Duration, Instant};

use httpd::*;
use ioman::net::Outbox;
use proptest::prelude::*;
use proto::http::{HttpSession, Progress};
use proto::peeks::MAX_PATHS;
use proto::site::{Limits, Site, WELCOME_PAGE};

#[test]
fn welcome_site_serves_the_embedded_page() {
    let site = welcome();
    for target in ["/", "/index.html", "/?query=1"] {
        let (resp, progress) = one(&site, &get(target), 200);
        assert_eq!(resp.body, WELCOME_PAGE.as_bytes());
        assert_eq!(resp.header("Content-Type"), Some("text/html; charset=utf-8"));
        assert_eq!(resp.header("Connection"), None);
        assert!(!progress.close);
    }
    let (resp, progress) = one(&site, &get("/other.html"), 404);
    assert_eq!(resp.body, b"404 Not Found\n");
    assert_eq!(resp.header("Content-Type"), Some("text/plain; charset=utf-8"));
    assert!(!progress.close);
}

#[test]
fn head_sends_the_same_head_without_a_body() {
    let fx = fixture();
    for (site, target) in [(&welcome(), "/"), (&fx.site, "/notes.txt"), (&fx.site, "/nope")] {
        let (get_out, _) = run(site, get(target).as_bytes());
        let (head_out, progress) =
            run(site, format!("HEAD {target} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let head_end = get_out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(head_out, &get_out[..head_end]);
        assert!(!progress.close);
    }
}

#[test]
fn pipelined_requests_in_one_buffer_are_answered_in_order() {
    let fx = fixture();
    let input = format!(
        "{}{}HEAD /style.css HTTP/1.1\r\nHost: t\r\n\r\n{}",
        get("/notes.txt"),
        get("/missing"),
        get("/data.json")
    );
    let (out, progress) = run(&fx.site, input.as_bytes());
    assert_eq!(progress, Progress { consumed: input.len(), close: false });
    let all = responses(&out, &[false, false, true, false]);
    let statuses: Vec<u16> = all.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 404, 200, 200]);
    assert_eq!(all[0].body, b"contents of notes.txt");
    assert_eq!(all[2].header("Content-Type"), Some("text/css; charset=utf-8"));
    assert_eq!(all[2].header("Content-Length"), Some("21"));
    assert_eq!(all[3].body, b"contents of data.json");
}

#[test]
fn partial_request_stays_unconsumed_and_times_out_with_408() {
    let site = welcome();
    let mut session = HttpSession::new();
    let mut out = Outbox::new();
    let full = get("/");
    let partial = format!("{full}GET / HTTP/1.1\r\nHost:");
    let progress = session.on_bytes(&site, partial.as_bytes(), &mut out);
    assert_eq!(progress, Progress { consumed: full.len(), close: false });
    assert!(session.has_partial_request());
    assert_eq!(responses(&out.to_vec(), &[]).len(), 1);

    let mut timeout = Outbox::new();
    assert!(session.on_idle_timeout(&site, &mut timeout));
    let resp = &responses(&timeout.to_vec(), &[])[0];
    assert_eq!(resp.status, 408);
    assert_eq!(resp.header("Connection"), Some("close"));

    // The rest arrives after all: the request completes normally.
    let rest = format!("{} t\r\n\r\n", &partial[full.len()..]);
    out.clear();
    let progress = session.on_bytes(&site, rest.as_bytes(), &mut out);
    assert_eq!(progress, Progress { consumed: rest.len(), close: false });
    assert_eq!(responses(&out.to_vec(), &[])[0].status, 200);
    assert!(!session.has_partial_request());
}

#[test]
fn idle_timeout_without_a_partial_request_writes_nothing() {
    let site = welcome();
    let mut session = HttpSession::new();
    let mut out = Outbox::new();
    assert!(!session.on_idle_timeout(&site, &mut out));
    session.on_bytes(&site, get("/").as_bytes(), &mut out);
    out.clear();
    assert!(!session.has_partial_request());
    assert!(!session.on_idle_timeout(&site, &mut out));
    assert!(out.is_empty());
}

#[test]
fn idle_timeout_while_a_body_is_pending_is_408() {
    let site = welcome();
    let mut session = HttpSession::new();
    let mut out = Outbox::new();
    let input = "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc";
    let progress = session.on_bytes(&site, input.as_bytes(), &mut out);
    assert_eq!(progress, Progress { consumed: input.len(), close: false });
    assert!(session.has_partial_request());
    out.clear();
    assert!(session.on_idle_timeout(&site, &mut out));
    assert_eq!(responses(&out.to_vec(), &[])[0].status, 408);
}

#[test]
fn keep_alive_and_close_follow_the_http_version() {
    let site = welcome();
    let (resp, progress) =
        one(&site, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 200);
    assert_eq!((resp.header("Connection"), progress.close), (Some("close"), true));
    let (resp, progress) =
        one(&site, "GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, CLOSE\r\n\r\n", 200);
    assert_eq!((resp.header("Connection"), progress.close), (Some("close"), true));
    let (resp, progress) = one(&site, "GET / HTTP/1.0\r\n\r\n", 200);
    assert_eq!((resp.header("Connection"), progress.close), (Some("close"), true));
    let (resp, progress) = one(&site, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200);
    assert_eq!((resp.header("Connection"), progress.close), (Some("keep-alive"), false));
    let (resp, progress) = one(&site, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    assert_eq!((resp.header("Connection"), progress.close), (None, false));
}

#[test]
fn nothing_after_a_closing_response_is_processed() {
    let site = welcome();
    let first = "GET / HTTP/1.0\r\n\r\n";
    let input = format!("{first}{}", get("/"));
    let mut session = HttpSession::new();
    let mut out = Outbox::new();
    let progress = session.on_bytes(&site, input.as_bytes(), &mut out);
    assert_eq!(progress, Progress { consumed: first.len(), close: true });
    assert_eq!(responses(&out.to_vec(), &[]).len(), 1);
    // A closed session swallows anything else without answering.
    out.clear();
    let progress = session.on_bytes(&site, get("/").as_bytes(), &mut out);
    assert_eq!(progress, Progress { consumed: get("/").len(), close: true });
    assert!(out.is_empty());
    assert!(!session.has_partial_request());
}

#[test]
fn other_methods_get_405_and_their_body_is_skipped() {
    let site = welcome();
    let input = format!("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello{}", get("/"));
    let (out, progress) = run(&site, input.as_bytes());
    assert_eq!(progress, Progress { consumed: input.len(), close: false });
    let all = responses(&out, &[]);
    assert_eq!(all[0].status, 405);
    assert_eq!(all[0].header("Allow"), Some("GET, HEAD"));
    assert_eq!(all[0].body, b"405 Method Not Allowed\n");
    assert_eq!(all[1].status, 200);
    for method in ["DELETE", "PUT", "OPTIONS", "PATCH", "TRACE", "CONNECT", "PROPFIND"] {
        let (resp, progress) = one(&site, &format!("{method} / HTTP/1.1\r\nHost: t\r\n\r\n"), 405);
        assert_eq!(resp.header("Allow"), Some("GET, HEAD"));
        assert!(!progress.close);
    }
}

#[test]
fn unknown_methods_get_501_and_the_connection_survives() {
    let site = welcome();
    // Methods are case-sensitive (RFC 9110 section 9.1): `get` is not GET.
    for method in ["get", "FOO", "BREW", "QUERY"] {
        let input =
            format!("{method} / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc{}", get("/"));
        let (out, progress) = run(&site, input.as_bytes());
        assert_eq!(progress, Progress { consumed: input.len(), close: false }, "{method}");
        let all = responses(&out, &[]);
        assert_eq!(all[0].status, 501, "{method}");
        assert_eq!(all[0].header("Allow"), None);
        assert_eq!(all[0].body, b"501 Not Implemented\n");
        assert_eq!(all[1].status, 200);
    }
    let (resp, _) = one(&site, "FOO / HTTP/1.1\r\nHost: t\r\n\r\n", 501);
    assert_eq!(resp.header("Connection"), None);
}

#[test]
fn a_body_arriving_in_later_chunks_is_skipped() {
    let site = welcome();
    let mut session = HttpSession::new();
    let mut out = Outbox::new();
    let head = "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n";
    let first = format!("{head}012");
    let progress = session.on_bytes(&site, first.as_bytes(), &mut out);
    assert_eq!(progress, Progress { consumed: first.len(), close: false });
    assert_eq!(responses(&out.to_vec(), &[])[0].status, 200);
    let progress = session.on_bytes(&site, b"3456", &mut out);
    assert_eq!(progress, Progress { consumed: 4, close: false });
    assert!(session.has_partial_request());
    let second = format!("789{}", get("/nope"));
    let progress = session.on_bytes(&site, second.as_bytes(), &mut out);
    assert_eq!(progress, Progress { consumed: second.len(), close: false });
    let statuses: Vec<u16> = responses(&out.to_vec(), &[]).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 404]);
    assert!(!session.has_partial_request());
}

#[test]
fn malformed_requests_get_400_and_close() {
    let site = welcome();
    for request in [
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /% HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /%4 HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /a%00b HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET index.html HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET * HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET ftp://t/ HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET http:///index.html HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET http://user@t/ HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET http://t/%zz HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET http://t/../etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET / HTTP/1.10\r\nHost: t\r\n\r\n",
        "GET / HTTP/1.x\r\nHost: t\r\n\r\n",
        "GET / HTTPS/1.1\r\nHost: t\r\n\r\n",
        "GET / HTTP/12.0\r\nHost: t\r\n\r\n",
        "HEAD /%zz HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        assert_closes_with(&site, request, 400);
    }
    // Repeating an identical Content-Length is allowed.
    one(&site, "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", 200);
}

#[test]
fn oversized_heads_and_too_many_headers_get_431_and_long_targets_414() {
    let limits = Limits { max_head_bytes: 64, max_headers: 4, ..Limits::default() };
    let site = welcome().with_limits(limits);
    // A request line that does not fit: its target is too long, 414, whether it is complete,
    // still arriving, or in absolute-form.
    let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(80));
    assert_closes_with(&site, &long, 414);
    assert_closes_with(&site, &format!("{long}Host: t\r\n\r\n"), 414);
    assert_closes_with(&site, &format!("GET /{}", "a".repeat(80)), 414);
    assert_closes_with(&site, &format!("GET http://t/{} HTTP/1.1\r\n", "a".repeat(80)), 414);
    // No space at all within the limit: not a request line, 400.
    assert_closes_with(&site, &"A".repeat(80), 400);
    // The request line fits, the fields do not: 431.
    let fields = format!("GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n", "b".repeat(60));
    assert_closes_with(&site, &fields, 431);
    assert_closes_with(&site, &fields[..fields.len() - 2], 431);
    // Exactly at the limit is fine.
    let at_limit = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(37));
    assert_eq!(at_limit.len(), 64);
    one(&site, &at_limit, 404);
    // Under the limit but incomplete: wait.
    assert_eq!(run(&site, b"GET / HTTP/1.1\r\n").1, Progress { consumed: 0, close: false });
    // One header too many.
    let many = "GET / HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    assert_closes_with(
        &welcome().with_limits(Limits { max_headers: 4, ..Limits::default() }),
        many,
        431,
    );
    one(&welcome().with_limits(Limits { max_headers: 5, ..Limits::default() }), many, 200);
}

#[test]
fn bodies_over_the_limit_get_413() {
    let site = welcome().with_limits(Limits { max_body_bytes: 100, ..Limits::default() });
    assert_closes_with(&site, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n", 413);
    assert_closes_with(&site, "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n", 413);
    let at_limit =
        format!("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{}", "x".repeat(100));
    let (_, progress) = one(&site, &at_limit, 200);
    assert_eq!(progress, Progress { consumed: at_limit.len(), close: false });
}

#[test]
fn transfer_encodings_other_than_chunked_or_ambiguous_framing_close() {
    let site = welcome();
    for (request, status) in [
        // Both framings at once: the classic smuggling shape (RFC 9112 section 6.3).
        (
            "GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            400,
        ),
        (
            "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        // Chunked not last, twice, empty, or on HTTP/1.0.
        ("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        (
            "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        ("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n", 400),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        // A coding this server does not know, before chunked: 501.
        ("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (
            "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
            501,
        ),
    ] {
        assert_closes_with(&site, request, status);
    }
}

#[test]
fn traversal_attempts_never_leave_the_root() {
    let fx = fixture();
    for target in [
        "/../etc/passwd",
        "/..",
        "/%2e%2e/",
        "/.%2e/",
        "/%2E%2E/%2E%2E/etc/passwd",
        "/a/%2E%2E/%2E%2E/",
        "/..%2f..%2fetc%2fpasswd",
        "/%2e%2e%2f%2e%2e%2fetc/passwd",
        "/sub/../../",
        "/escape_dir/../escape",
    ] {
        assert_closes_with(&fx.site, &get(target), 400);
        assert_closes_with(&welcome(), &get(target), 400);
    }
    // Escapes through symlinks look exactly like missing files, whether the target exists or not.
    for target in
        ["/escape", "/escape_dir/secret.txt", "/escape_dir/nope", "/escape_dir/", "/escape_dir"]
    {
        let (resp, progress) = one(&fx.site, &get(target), 404);
        assert_eq!(resp.body, b"404 Not Found\n");
        assert!(!progress.close);
    }
    // Absolute paths and encoded slashes stay relative to the root.
    one(&fx.site, "GET //etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n", 404);
    one(&fx.site, &get("/%2fetc%2fpasswd"), 404);
    let (resp, _) = one(&fx.site, &get("/sub%2findex.html"), 200);
    assert_eq!(resp.body, b"sub index");
    // A symlink that stays inside the root is fine.
    let (resp, _) = one(&fx.site, &get("/inner_link"), 200);
    assert_eq!(resp.body, b"contents of notes.txt");
}

#[test]
fn unreadable_files_get_403() {
    use std::os::unix::fs::PermissionsExt;
    let fx = fixture();
    let locked = fx.root.0.join("locked.txt");
    fs::write(&locked, "locked").unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    // Root ignores file permissions; then the file is simply served.
    let expected = if fs::read(&locked).is_ok() { 200 } else { 403 };
    let (_, progress) = one(&fx.site, &get("/locked.txt"), expected);
    assert!(!progress.close);
    one(&fx.site, "HEAD /locked.txt HTTP/1.1\r\nHost: t\r\n\r\n", expected);
}

#[test]
fn content_types_follow_the_extension() {
    let fx = fixture();
    for (name, mime) in FILES {
        let (resp, _) = one(&fx.site, &get(&format!("/{name}")), 200);
        assert_eq!(resp.header("Content-Type"), Some(*mime), "{name}");
        assert_eq!(resp.body, format!("contents of {name}").as_bytes());
    }
}

#[test]
fn directories_map_to_their_index() {
    let fx = fixture();
    for target in ["/", "/index.html", "/./", "//"] {
        let (resp, _) = one(&fx.site, &get(target), 200);
        assert_eq!(resp.body, b"contents of index.html", "{target}");
    }
    for target in ["/sub/", "/sub/index.html", "/sub/.", "//sub//"] {
        let (resp, _) = one(&fx.site, &get(target), 200);
        assert_eq!(resp.body, b"sub index", "{target}");
    }
    one(&fx.site, &get("/empty/"), 404);
    one(&fx.site, &get("/empty/index.html/"), 404);
    one(&fx.site, &get("/missing/"), 404);
    one(&fx.site, &get("/notes.txt/"), 404);
    let (resp, _) = one(&fx.site, &get("/hello%20world.txt?x=1#frag"), 200);
    assert_eq!(resp.body, b"spaced");
    assert!(fx.root.0.join("notes.txt").exists());
}

#[test]
fn the_cache_serves_fresh_contents() {
    let fx = fixture();
    let site = Site::with_root(&fx.root.0).unwrap().with_clock(fixed_now).with_cache_settle(
        1024,
        4096,
        Duration::ZERO,
    );
    let cache = site.cache().unwrap();
    assert!(cache.is_empty());
    let (resp, _) = one(&site, &get("/notes.txt"), 200);
    assert_eq!(resp.body, b"contents of notes.txt");
    assert_eq!(cache.len(), 1);
    let (resp, _) = one(&site, &get("/notes.txt"), 200);
    assert_eq!(resp.body, b"contents of notes.txt");
    fs::write(fx.root.0.join("notes.txt"), "changed, and longer than before").unwrap();
    let (resp, _) = one(&site, &get("/notes.txt"), 200);
    assert_eq!(resp.body, b"changed, and longer than before");
    // Every request opens its path afresh: a file replaced by a symlink pointing outside the
    // root, and a deleted file, are seen at once.
    let notes = fx.root.0.join("notes.txt");
    fs::remove_file(&notes).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", &notes).unwrap();
    one(&site, &get("/notes.txt"), 404);
    fs::remove_file(&notes).unwrap();
    one(&site, &get("/notes.txt"), 404);
    // Too big to cache, still served.
    fs::write(fx.root.0.join("big.txt"), vec![b'x'; 2000]).unwrap();
    let (resp, _) = one(&site, &get("/big.txt"), 200);
    assert_eq!(resp.body.len(), 2000);
    assert!(cache.len() <= 1);
}

#[test]
fn one_stat_per_path_per_turn_and_cached_answers_match_uncached_ones() {
    let fx = fixture();
    let mut site = Site::with_root(&fx.root.0).unwrap().with_clock(fixed_now).with_cache_settle(
        1024,
        4096,
        Duration::ZERO,
    );
    let turn = Instant::now();
    site.enter_turn(turn);
    // The first answer comes from the open file (and fills the cache), the second from the
    // cache's fast path: byte for byte the same.
    let (first, _) = run(&site, get("/notes.txt").as_bytes());
    let (second, _) = run(&site, get("/notes.txt").as_bytes());
    assert_eq!(site.cache().unwrap().len(), 1);
    assert_eq!(String::from_utf8_lossy(&first), String::from_utf8_lossy(&second));
    assert_eq!(site.peeks_remembered(), 1, "one stat for both requests of the turn");
    // A change is seen from the next turn on.
    fs::write(fx.root.0.join("notes.txt"), "changed, and longer than before").unwrap();
    site.enter_turn(turn + Duration::from_micros(1));
    assert_eq!(site.peeks_remembered(), 0);
    let (resp, _) = one(&site, &get("/notes.txt"), 200);
    assert_eq!(resp.body, b"changed, and longer than before");
    // However many paths one turn's requests name, the memo stays bounded.
    site.enter_turn(turn + Duration::from_micros(2));
    for i in 0..MAX_PATHS + 10 {
        one(&site, &get(&format!("/missing-{i}")), 404);
    }
    assert_eq!(site.peeks_remembered(), MAX_PATHS);
    // A site never told the turn remembers nothing: every request stats.
    let untold = Site::with_root(&fx.root.0).unwrap().with_clock(fixed_now);
    let untold = untold.with_cache_settle(1024, 4096, Duration::ZERO);
    one(&untold, &get("/notes.txt"), 200);
    assert_eq!(untold.peeks_remembered(), 0);
}

#[test]
fn a_cached_file_never_claims_a_last_modified_after_the_date() {
    fn early() -> std::time::SystemTime {
        std::time::UNIX_EPOCH + Duration::from_secs(1000)
    }
    let fx = fixture();
    let site = Site::with_root(&fx.root.0).unwrap().with_clock(early);
    let site = site.with_cache_settle(1024, 4096, Duration::ZERO);
    for _ in 0..2 {
        let (out, _) = run(&site, get("/notes.txt").as_bytes());
        let resp = responses(&out, &[false]).remove(0);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("Date"), Some("Thu, 01 Jan 1970 00:16:40 GMT"));
        assert_eq!(resp.header("Last-Modified"), resp.header("Date"), "clamped, cached or not");
    }
    assert_eq!(site.cache().unwrap().len(), 1);
}

#[test]
fn empty_lines_before_a_request_are_ignored() {
    let site = welcome();
    let input = format!("\r\n\r\n{}\r\n", get("/"));
    let (out, progress) = run(&site, input.as_bytes());
    assert_eq!(progress, Progress { consumed: input.len(), close: false });
    assert_eq!(responses(&out, &[])[0].status, 200);
}

/// A pipeline touching every code path that keeps the connection open, then a closing request.
fn mixed_pipeline() -> String {
    [
        get("/"),
        "HEAD /notes.txt HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(),
        "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n\r\n1234567".to_owned(),
        "\r\n".to_owned(),
        get("/nope?x=%zz"),
        get("/escape"),
        get("/sub/"),
        "GET /data.json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".to_owned(),
        "GET /%2e%2e/ HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(),
    ]
    .concat()
}

#[test]
fn byte_by_byte_feeding_matches_feeding_at_once() {
    let fx = fixture();
    let out = assert_split_invariant(&fx.site, mixed_pipeline().as_bytes());
    let statuses: Vec<u16> = responses(&out, &[false, true]).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 405, 404, 404, 200, 200, 400]);
    for request in [
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n",
    ] {
        assert_split_invariant(&fx.site, request.as_bytes());
    }
    let small =
        welcome().with_limits(Limits { max_head_bytes: 40, max_headers: 2, ..Limits::default() });
    for request in [
        "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /aaaaaaaaaaaaaaaaaaaaaaaaaaaa\u{1}aaaaaaaaaaaaaa HTTP/1.1\r\n\r\n",
    ] {
        assert_split_invariant(&small, request.as_bytes());
    }
}

/// The room mark and cap the server's connections give their outbox (ioman-net's defaults).
const ROOM: usize = 64 * 1024;
const CAP: usize = 8 * 1024 * 1024;

/// Writes `len` bytes of a pattern with period 251 (so a shifted or repeated piece shows).
fn write_pattern(path: &std::path::Path, len: usize, seed: u8) -> Vec<u8> {
    let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8 ^ seed).collect();
    fs::write(path, &bytes).unwrap();
    bytes
}

/// The body of the single response in `out` (a GET), checked to be a 200 of `len` bytes.
#[track_caller]
fn body_of(out: &[u8], len: usize) -> Vec<u8> {
    let all = responses(out, &[false]);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, 200);
    assert_eq!(all[0].header("Content-Length"), Some(len.to_string().as_str()));
    all.into_iter().next().unwrap().body
}

/// Drives `input` like the connection does with a bounded outbox: each call's output is taken
/// (as if sent) before the unconsumed rest is offered again, with no new bytes. Checks every
/// call answers something and stops early only at the room mark; returns all output, the
/// number of calls and the session.
#[track_caller]
fn run_bounded(site: &Site, input: &[u8], room: usize) -> (Vec<u8>, usize, HttpSession) {
    let mut session = HttpSession::new();
    let mut pending = input;
    let mut all = Vec::new();
    let mut calls = 0;
    loop {
        let mut out = Outbox::bounded(room, CAP);
        let progress = session.on_bytes(site, pending, &mut out);
        calls += 1;
        assert!(!out.overflowed(), "call {calls} passed the cap");
        pending = &pending[progress.consumed..];
        all.extend_from_slice(&out.to_vec());
        if progress.close || pending.is_empty() || session.has_partial_request() {
            return (all, calls, session);
        }
        assert!(progress.consumed > 0, "call {calls} answered nothing with room");
        assert!(!out.has_room(), "call {calls} stopped with room left");
        assert!(
            !session.has_partial_request(),
            "stopping at the room mark is not a partial request"
        );
    }
}

#[test]
fn pipelined_big_files_stop_at_the_room_mark_and_resume_from_the_rest() {
    let fx = fixture();
    let big = write_pattern(&fx.root.0.join("big.bin"), 1024 * 1024, 0x5a);
    let one = get("/big.bin");
    let input = format!("{}{}", one.repeat(5), get("/notes.txt"));

    // The first call answers one request: its body alone is past the room mark.
    let mut session = HttpSession::new();
    let mut out = Outbox::bounded(ROOM, CAP);
    let progress = session.on_bytes(&fx.site, input.as_bytes(), &mut out);
    assert_eq!(progress, Progress { consumed: one.len(), close: false });
    assert!(!out.has_room() && !out.overflowed());
    assert!(!session.has_partial_request(), "no request deadline for complete requests");
    assert!(out.held() < 2 * ROOM, "the body is a file region, not memory: {out:?}");
    assert_eq!(body_of(&out.to_vec(), big.len()), big);

    // Offered again with the rest (no new bytes), the pipeline goes on where it stopped and
    // gives exactly what one unbounded call gives.
    let (bounded, calls, session) = run_bounded(&fx.site, input.as_bytes(), ROOM);
    assert_eq!(calls, 6, "one call per big response, then the small one");
    assert!(!session.has_partial_request());
    let (whole, progress) = run(&fx.site, input.as_bytes());
    assert_eq!(progress, Progress { consumed: input.len(), close: false });
    assert!(bounded == whole, "bounded calls gave other bytes than one call");
    let all = responses(&bounded, &[]);
    assert_eq!(all.len(), 6);
    assert!(all[..5].iter().all(|r| r.body == big));
    assert_eq!(all[5].body, b"contents of notes.txt");
}

#[test]
fn a_partial_request_behind_the_room_mark_arms_its_deadline_only_once_looked_at() {
    let fx = fixture();
    write_pattern(&fx.root.0.join("big.bin"), 256 * 1024, 1);
    let one = get("/big.bin");
    let input = format!("{one}GET /notes.txt HTTP/1.1\r\nHo");
    let mut session = HttpSession::new();
    let mut out = Outbox::bounded(ROOM, CAP);
    let progress = session.on_bytes(&fx.site, input.as_bytes(), &mut out);
    assert_eq!(progress, Progress { consumed: one.len(), close: false });
    assert!(!session.has_partial_request(), "not looked at yet: no 408 deadline");
    assert!(!session.on_idle_timeout(&fx.site, &mut Outbox::new()));
    // Drained: now the session sees the request is incomplete and waits for it.
    let rest = &input.as_bytes()[one.len()..];
    let mut out = Outbox::bounded(ROOM, CAP);
    let progress = session.on_bytes(&fx.site, rest, &mut out);
    assert_eq!(progress, Progress { consumed: 0, close: false });
    assert!(session.has_partial_request() && out.is_empty());
    let full = format!("{}st: t\r\n\r\n", String::from_utf8_lossy(rest));
    let progress = session.on_bytes(&fx.site, full.as_bytes(), &mut out);
    assert_eq!(progress, Progress { consumed: full.len(), close: false });
    assert_eq!(responses(&out.to_vec(), &[])[0].body, b"contents of notes.txt");
}

#[test]
fn small_responses_fill_the_room_then_stop() {
    let fx = fixture();
    let input = get("/notes.txt").repeat(200);
    let (whole, _) = run(&fx.site, input.as_bytes());
    for room in [1, 100, 1000, 4096] {
        let (bounded, calls, _) = run_bounded(&fx.site, input.as_bytes(), room);
        assert!(bounded == whole, "room {room}: other bytes than one call");
        let per_response = whole.len() / 200;
        assert_eq!(calls, 200usize.div_ceil(room.div_ceil(per_response)), "room {room}");
    }
}

#[test]
fn head_of_a_big_file_sends_the_length_and_no_body() {
    let fx = fixture();
    let big = fs::File::create(fx.root.0.join("huge.iso")).unwrap();
    big.set_len(5 << 30).unwrap(); // sparse: 5 GiB that take no disk space
    let head = "HEAD /huge.iso HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut out = Outbox::bounded(ROOM, CAP);
    let progress = HttpSession::new().on_bytes(&fx.site, head.as_bytes(), &mut out);
    assert_eq!(progress, Progress { consumed: head.len(), close: false });
    let bytes = out.to_vec();
    assert_eq!(out.len(), bytes.len(), "nothing but the head is queued");
    let resp = &responses(&bytes, &[true])[0];
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("Content-Length"), Some("5368709120"));
    assert!(resp.body.is_empty());
    // Pipelined HEADs are small: many fit under the room mark, and all are answered.
    let (out, calls, _) = run_bounded(&fx.site, head.repeat(50).as_bytes(), ROOM);
    assert_eq!(calls, 1);
    assert_eq!(responses(&out, &[true; 50]).len(), 50);
}

#[test]
fn a_file_bigger_than_the_cap_is_served_completely() {
    let fx = fixture();
    let cap = 1024 * 1024;
    let big = write_pattern(&fx.root.0.join("big.bin"), 4 * cap, 7);
    // With the cache on too: the file is over its per-file limit, so never read into it.
    let site = Site::with_root(&fx.root.0)
        .unwrap()
        .with_clock(fixed_now)
        .with_cache(256 * 1024, 64 * 1024 * 1024);
    for site in [&fx.site, &site] {
        let mut out = Outbox::bounded(ROOM, cap);
        let request = get("/big.bin");
        let progress = HttpSession::new().on_bytes(site, request.as_bytes(), &mut out);
        assert_eq!(progress, Progress { consumed: request.len(), close: false });
        assert!(!out.overflowed(), "a file region does not count its bytes against the cap");
        assert!(out.held() < cap / 8, "{out:?}");
        assert_eq!(body_of(&out.to_vec(), big.len()), big);
    }
    assert!(site.cache().unwrap().is_empty(), "a big file never enters the cache");
}

#[test]
fn cached_files_are_shared_not_copied() {
    let fx = fixture();
    let limit = 256 * 1024;
    let at_limit = write_pattern(&fx.root.0.join("cached.bin"), limit, 3);
    let site = Site::with_root(&fx.root.0).unwrap().with_clock(fixed_now).with_cache_settle(
        limit as u64,
        64 * 1024 * 1024,
        Duration::ZERO,
    );
    let request = get("/cached.bin");
    // First request fills the cache, the second takes the fast path: same bytes both times.
    let (first, calls, _) = run_bounded(&site, request.repeat(2).as_bytes(), ROOM);
    assert_eq!(calls, 2, "a 256 KiB body is past the room mark");
    let all = responses(&first, &[]);
    assert!(all.iter().all(|r| r.status == 200 && r.body == at_limit));
    assert_eq!(site.cache().unwrap().len(), 1);
    // A cached body counts against the cap once per response (shared, not copied); with a
    // cap below two bodies, the room mark is what keeps a pipeline from passing it.
    let mut out = Outbox::bounded(ROOM, limit + ROOM);
    let progress = HttpSession::new().on_bytes(&site, request.repeat(3).as_bytes(), &mut out);
    assert_eq!(progress.consumed, request.len());
    assert!(!out.overflowed());
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_split_gives_the_same_output(mut cuts in proptest::collection::vec(0usize..400, 0..12)) {
        let site = welcome();
        let input = [
            get("/"),
            "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world".to_owned(),
            "HEAD /index.html HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(),
            get("/missing"),
            "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_owned(),
        ]
        .concat();
        cuts.sort_unstable();
        let (whole, progress) = run(&site, input.as_bytes());
        let (split, closed, _) = run_split(&site, input.as_bytes(), &cuts);
        prop_assert_eq!(whole, split);
        prop_assert!(progress.close && closed);
    }

    #[test]
    fn any_room_mark_gives_the_same_output(room in 1usize..3000) {
        let fx = fixture();
        let input = mixed_pipeline();
        let (whole, _) = run(&fx.site, input.as_bytes());
        let (bounded, _, _) = run_bounded(&fx.site, input.as_bytes(), room);
        prop_assert_eq!(whole, bounded);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        let site = welcome().with_limits(Limits { max_head_bytes: 128, ..Limits::default() });
        let (_, progress) = run(&site, &input);
        prop_assert!(progress.consumed <= input.len());
        let mut with_prefix = b"GET /".to_vec();
        with_prefix.extend_from_slice(&input);
        let (_, progress) = run(&site, &with_prefix);
        prop_assert!(progress.consumed <= with_prefix.len());
    }
}
