//! The `httpd` core held to RFC 9110/9112 where nginx also follows them, byte level: `Date` on
//! every response; `ETag`/`Last-Modified` and 304 for `If-None-Match`/`If-Modified-Since`;
//! single byte ranges (206/416, `If-Range`); chunked request bodies decoded and discarded with
//! the connection kept; absolute-form targets; `HTTP/1.x` minor versions and 505; 301 for
//! directories; and a path resolution that sees symlink swaps and removals at once.

#[path = "support/httpd.rs"]
mod httpd;
#[path = "../examples/httpd/proto.rs"]
mod proto;

use httpd::*;
use ioman::net::Outbox;
use proto::http::{HttpSession, Progress};
use proto::site::{Limits, Site};
use std::fs;
use std::os::unix::fs::symlink;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn request(method: &str, target: &str, fields: &[(&str, &str)]) -> String {
    let mut r = format!("{method} {target} HTTP/1.1\r\nHost: t\r\n");
    for (name, value) in fields {
        r.push_str(&format!("{name}: {value}\r\n"));
    }
    r + "\r\n"
}

/// A root holding `data.bin`: 100 bytes, byte `i` is `i`.
fn data_site() -> (Fixture, Vec<u8>) {
    let fx = fixture();
    let data: Vec<u8> = (0..100u8).collect();
    fs::write(fx.root.0.join("data.bin"), &data).unwrap();
    (fx, data)
}

fn etag_of(site: &Site, target: &str) -> String {
    one(site, &get(target), 200).0.header("ETag").expect("ETag").to_owned()
}

#[test]
fn every_response_is_dated_by_the_sites_clock() {
    let fx = fixture();
    for site in [&welcome(), &fx.site] {
        for r in [get("/"), get("/nope"), request("POST", "/", &[]), request("FOO", "/", &[])] {
            let (out, _) = run(site, r.as_bytes());
            for resp in responses(&out, &[]) {
                assert_eq!(resp.header("Date"), Some(FIXED_DATE), "{r:?}");
            }
        }
    }
    // Errors that close, and the 408.
    let (out, _) = run(&welcome(), b"GARBAGE\r\n\r\n");
    assert_eq!(responses(&out, &[])[0].header("Date"), Some(FIXED_DATE));
    let mut session = HttpSession::new();
    session.on_bytes(&welcome(), b"GET / HTTP/1.1\r\n", &mut Outbox::new());
    let mut out = Outbox::new();
    assert!(session.on_idle_timeout(&welcome(), &mut out));
    assert_eq!(responses(&out.to_vec(), &[])[0].header("Date"), Some(FIXED_DATE));
    // With the real clock: an IMF-fixdate of now.
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let (out, _) = run(&Site::welcome(), get("/").as_bytes());
    let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let date = responses(&out, &[])[0].header("Date").unwrap().to_owned();
    assert_eq!(date.len(), 29, "{date}");
    let secs = httpdate::parse_http_date(&date).unwrap().duration_since(UNIX_EPOCH).unwrap();
    assert!((before..=after).contains(&secs.as_secs()), "{date}");
}

#[test]
fn files_carry_a_strong_etag_and_last_modified() {
    let (fx, _) = data_site();
    let path = fx.root.0.join("data.bin");
    let mtime = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    fs::File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
    let (resp, _) = one(&fx.site, &get("/data.bin"), 200);
    assert_eq!(resp.header("Last-Modified"), Some("Tue, 14 Nov 2023 22:13:20 GMT"));
    assert_eq!(resp.header("Accept-Ranges"), Some("bytes"));
    let etag = resp.header("ETag").unwrap();
    assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"), "{etag}");
    // HEAD has the same validators.
    let (head, _) = one(&fx.site, &request("HEAD", "/data.bin", &[]), 200);
    assert_eq!(head.header("ETag"), Some(etag));
    // Any change gives another tag: a write of the same size (mtime moves)...
    let before = etag.to_owned();
    fs::write(&path, [7u8; 100]).unwrap();
    let changed = etag_of(&fx.site, "/data.bin");
    assert_ne!(changed, before);
    // ...and a change of size with the mtime put back.
    fs::write(&path, [7u8; 101]).unwrap();
    fs::File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
    assert_ne!(etag_of(&fx.site, "/data.bin"), before);
    // An mtime in the future is sent as the response's Date (RFC 9110 section 8.8.2.1).
    let future = UNIX_EPOCH + Duration::from_secs(3_000_000_000);
    fs::File::options().write(true).open(&path).unwrap().set_modified(future).unwrap();
    let (resp, _) = one(&fx.site, &get("/data.bin"), 200);
    assert_eq!(resp.header("Last-Modified"), Some(FIXED_DATE));
    // The welcome page and errors have none.
    let (resp, _) = one(&welcome(), &get("/"), 200);
    assert_eq!(resp.header("ETag"), None);
}

#[track_caller]
fn assert_not_modified(site: &Site, r: &str, etag: &str) {
    let (resp, progress) = one(site, r, 304);
    assert!(resp.body.is_empty());
    assert_eq!(resp.header("ETag"), Some(etag), "{r}");
    assert!(resp.header("Last-Modified").is_some());
    assert_eq!(resp.header("Content-Length"), None);
    assert_eq!(resp.header("Content-Type"), None);
    assert_eq!(resp.header("Accept-Ranges"), None);
    assert!(!progress.close);
}

#[test]
fn if_none_match_gives_304_by_weak_comparison() {
    let (fx, _) = data_site();
    let site = &fx.site;
    let etag = etag_of(site, "/data.bin");
    let weak = format!("W/{etag}");
    let list = format!("\"other\", W/\"x\",{etag} , \"y\"");
    for inm in [etag.as_str(), "*", weak.as_str(), list.as_str(), " * "] {
        assert_not_modified(site, &request("GET", "/data.bin", &[("If-None-Match", inm)]), &etag);
        assert_not_modified(site, &request("HEAD", "/data.bin", &[("If-None-Match", inm)]), &etag);
    }
    // Two field lines form one list.
    let two = request("GET", "/data.bin", &[("If-None-Match", "\"a\""), ("If-None-Match", &etag)]);
    assert_not_modified(site, &two, &etag);
    // No match, or a malformed list: the full response.
    let unquoted = etag.trim_matches('"').to_owned();
    for inm in ["\"other\"", "W/\"other\", \"x\"", unquoted.as_str(), "", "\"unterminated"] {
        let (resp, _) = one(site, &request("GET", "/data.bin", &[("If-None-Match", inm)]), 200);
        assert_eq!(resp.body.len(), 100, "{inm:?}");
    }
    // `*` needs a file: a missing one is still 404.
    one(site, &request("GET", "/missing", &[("If-None-Match", "*")]), 404);
    // The cached path answers the same.
    let cached = Site::with_root(&fx.root.0).unwrap().with_clock(fixed_now).with_cache_settle(
        1024,
        4096,
        Duration::ZERO,
    );
    one(&cached, &get("/data.bin"), 200);
    assert_eq!(cached.cache().unwrap().len(), 1);
    assert_not_modified(&cached, &request("GET", "/data.bin", &[("If-None-Match", &etag)]), &etag);
}

#[test]
fn if_modified_since_gives_304_unless_if_none_match_is_present() {
    let (fx, _) = data_site();
    let path = fx.root.0.join("data.bin");
    let mtime = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    fs::File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
    let site = &fx.site;
    let etag = etag_of(site, "/data.bin");
    let at = "Tue, 14 Nov 2023 22:13:20 GMT";
    let later = "Wed, 15 Nov 2023 00:00:00 GMT";
    let earlier = "Tue, 14 Nov 2023 22:13:19 GMT";
    for since in [at, later, "Tuesday, 14-Nov-23 22:13:20 GMT", "Tue Nov 14 22:13:20 2023"] {
        let r = request("GET", "/data.bin", &[("If-Modified-Since", since)]);
        assert_not_modified(site, &r, &etag);
    }
    for since in [earlier, "not a date", "", "Tue, 14 Nov 2023 22:13:20 PST"] {
        let r = request("GET", "/data.bin", &[("If-Modified-Since", since)]);
        one(site, &r, 200);
    }
    // Given twice: ignored.
    let twice =
        request("GET", "/data.bin", &[("If-Modified-Since", later), ("If-Modified-Since", later)]);
    one(site, &twice, 200);
    // If-None-Match present: it alone decides (RFC 9110 section 13.1.3).
    let r = request(
        "GET",
        "/data.bin",
        &[("If-None-Match", "\"other\""), ("If-Modified-Since", later)],
    );
    one(site, &r, 200);
    let r =
        request("GET", "/data.bin", &[("If-None-Match", &etag), ("If-Modified-Since", earlier)]);
    assert_not_modified(site, &r, &etag);
}

#[track_caller]
fn partial(site: &Site, r: &str) -> (Vec<u8>, String) {
    let (resp, progress) = one(site, r, 206);
    assert!(!progress.close);
    assert_eq!(resp.header("Content-Length"), Some(resp.body.len().to_string().as_str()));
    assert!(resp.header("ETag").is_some() && resp.header("Last-Modified").is_some());
    (resp.body.clone(), resp.header("Content-Range").expect("Content-Range").to_owned())
}

#[test]
fn a_single_byte_range_gets_206_with_content_range() {
    let (fx, data) = data_site();
    let site = &fx.site;
    let range = |spec: &str| request("GET", "/data.bin", &[("Range", spec)]);
    for (spec, first, last) in [
        ("bytes=0-9", 0, 9),
        ("bytes=90-", 90, 99),
        ("bytes=-5", 95, 99),
        ("bytes=-500", 0, 99),
        ("bytes=50-5000", 50, 99),
        ("bytes=99-99", 99, 99),
        ("BYTES=10-19", 10, 19),
        ("bytes= 10-19 ,", 10, 19),
        ("bytes=0-99999999999999999999999", 0, 99),
    ] {
        let (body, content_range) = partial(site, &range(spec));
        assert_eq!(body, &data[first..=last], "{spec}");
        assert_eq!(content_range, format!("bytes {first}-{last}/100"), "{spec}");
    }
    // Past the end: 416 with the size; the connection goes on.
    for spec in ["bytes=100-", "bytes=100-200", "bytes=-0", "bytes=99999999999999999999999-"] {
        let (resp, progress) = one(site, &range(spec), 416);
        assert_eq!(resp.header("Content-Range"), Some("bytes */100"), "{spec}");
        assert!(!progress.close);
    }
    // Not a usable single range: ignored, the whole file with 200 (several ranges too).
    for spec in [
        "bytes=0-1,5-6",
        "items=0-1",
        "bytes = 0-1",
        "bytes=5-1",
        "bytes=a-b",
        "bytes=",
        "bytes=--1",
        "0-1",
    ] {
        let (resp, _) = one(site, &range(spec), 200);
        assert_eq!(resp.body, data, "{spec}");
    }
    // Only GET has ranges (RFC 9110 section 14.2): HEAD gets the 200 head.
    one(site, &request("HEAD", "/data.bin", &[("Range", "bytes=0-9")]), 200);
    // Range given twice: ignored.
    let twice = request("GET", "/data.bin", &[("Range", "bytes=0-1"), ("Range", "bytes=2-3")]);
    assert_eq!(one(site, &twice, 200).0.body, data);
    // An empty file is served whole, as nginx does (no range of it can be expressed).
    fs::write(fx.root.0.join("empty.bin"), "").unwrap();
    for spec in ["bytes=0-", "bytes=-5", "bytes=-0", "bytes=10-"] {
        one(site, &request("GET", "/empty.bin", &[("Range", spec)]), 200);
    }
}

#[test]
fn if_range_lets_a_range_through_only_for_the_same_version() {
    let (fx, data) = data_site();
    let path = fx.root.0.join("data.bin");
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .unwrap();
    let site = &fx.site;
    let etag = etag_of(site, "/data.bin");
    let with = |if_range: &str| {
        request("GET", "/data.bin", &[("Range", "bytes=0-9"), ("If-Range", if_range)])
    };
    partial(site, &with(&etag));
    partial(site, &with("Tue, 14 Nov 2023 22:13:20 GMT"));
    let weak = format!("W/{etag}");
    for stale in ["\"other\"", weak.as_str(), "Tue, 14 Nov 2023 22:13:21 GMT", "garbage"] {
        let (resp, _) = one(site, &with(stale), 200);
        assert_eq!(resp.body, data, "{stale}");
    }
}

#[test]
fn a_range_of_a_big_file_is_a_file_region_not_memory() {
    let fx = fixture();
    let len = 8 * 1024 * 1024;
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    fs::write(fx.root.0.join("big.bin"), &data).unwrap();
    let r = request("GET", "/big.bin", &[("Range", "bytes=1000000-")]);
    let mut out = Outbox::bounded(64 * 1024, 1024 * 1024);
    let progress = HttpSession::new().on_bytes(&fx.site, r.as_bytes(), &mut out);
    assert_eq!(progress, Progress { consumed: r.len(), close: false });
    assert!(!out.overflowed() && out.held() < 128 * 1024, "a file region: {out:?}");
    let resp = &responses(&out.to_vec(), &[])[0];
    assert_eq!(resp.status, 206);
    assert_eq!(
        resp.header("Content-Range"),
        Some(format!("bytes 1000000-{}/{len}", len - 1).as_str())
    );
    assert!(resp.body == data[1_000_000..]);
}

const CHUNKED: &str = "Transfer-Encoding: chunked\r\n";

fn chunked(method: &str, body: &str) -> String {
    format!("{method} / HTTP/1.1\r\nHost: t\r\n{CHUNKED}\r\n{body}")
}

#[test]
fn chunked_bodies_are_decoded_and_discarded_and_the_connection_goes_on() {
    let site = welcome();
    for body in [
        "5\r\nhello\r\n0\r\n\r\n",
        "0\r\n\r\n",
        "000\r\n\r\n",
        "A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
        "5;name=value\r\nhello\r\n0;last\r\n\r\n",
        "5 ; name = \"v\"\r\nhello\r\n0\r\n\r\n",
        "5\r\nhello\r\n0\r\nTrailer: x\r\nOther: y\r\n\r\n",
        "4\r\n\r\n\r\n\r\n0\r\n\r\n", // data may hold CRLFs
    ] {
        for method in ["POST", "GET", "FOO"] {
            let input = format!("{}{}", chunked(method, body), get("/"));
            let out = assert_split_invariant(&site, input.as_bytes());
            let (_, progress) = run(&site, input.as_bytes());
            assert_eq!(progress, Progress { consumed: input.len(), close: false }, "{body:?}");
            let statuses: Vec<u16> = responses(&out, &[]).iter().map(|r| r.status).collect();
            let first = match method {
                "POST" => 405,
                "GET" => 200,
                _ => 501,
            };
            assert_eq!(statuses, [first, 200], "{method} {body:?}");
        }
    }
}

#[test]
fn a_malformed_chunked_body_closes_after_the_answer() {
    let site = welcome();
    for body in [
        "5\nhello\r\n0\r\n\r\n",         // bare LF after the size
        "5\r\nhelloX\r\n0\r\n\r\n",      // data longer than its size
        "5\r\nhell\r\n0\r\n\r\n",        // shorter
        "g\r\n",                         // not hex
        "\r\n",                          // no size
        "-1\r\n",                        // a sign
        "0x5\r\n",                       // a prefix
        "+5\r\n",                        //
        "5 \r\nhello\r\n0\r\n\r\n",      // whitespace not leading to `;`
        "5\r\nhello\r\n0\r\nX: y\n\r\n", // bare LF in the trailer
        "5\r\nhello\r\n0\r\n\r\r",       // CR CR at the end
        "5\r\nhello\n0\r\n\r\n",         // data not followed by CRLF
        "10000000000000000\r\n",         // 17 hex digits
        "5\r\x00\r\n",                   //
    ] {
        let input = format!("{}{}", chunked("GET", body), get("/"));
        let (out, progress) = run(&site, input.as_bytes());
        assert!(progress.close, "{body:?}");
        let all = responses(&out, &[]);
        assert_eq!(all.len(), 1, "only the request's own answer: {body:?}");
        assert_eq!(all[0].status, 200);
        assert_split_invariant(&site, input.as_bytes());
    }
}

#[test]
fn chunked_bodies_obey_the_body_limit() {
    let limits = Limits { max_body_bytes: 100, max_head_bytes: 256, ..Limits::default() };
    let site = welcome().with_limits(limits);
    let data = |n: usize| "x".repeat(n);
    // Exactly at the limit, in one chunk or several: fine.
    for body in [
        format!("64\r\n{}\r\n0\r\n\r\n", data(100)),
        format!("3c\r\n{}\r\n28\r\n{}\r\n0\r\n\r\n", data(60), data(40)),
    ] {
        let input = format!("{}{}", chunked("POST", &body), get("/"));
        let (_, progress) = run(&site, input.as_bytes());
        assert_eq!(progress, Progress { consumed: input.len(), close: false });
    }
    // One byte over, declared in one chunk (caught at its size line, before any data) or
    // across chunks; a huge size; an overlong extension; an overlong trailer section.
    for body in [
        "65\r\n".to_owned(),
        format!("3c\r\n{}\r\n29\r\n", data(60)),
        "ffffffffffffffff\r\n".to_owned(),
        format!("5;{}\r\n", "e".repeat(5000)),
        format!("5{}", " ".repeat(5000)),
        format!("0\r\nX: {}\r\n", "t".repeat(300)),
    ] {
        let input = chunked("POST", &body);
        let (out, progress) = run(&site, input.as_bytes());
        assert!(progress.close, "{}", &body[..body.len().min(40)]);
        assert_eq!(responses(&out, &[]).len(), 1);
    }
}

#[test]
fn a_pending_chunked_body_is_a_partial_request() {
    let site = welcome();
    let mut session = HttpSession::new();
    let mut out = Outbox::new();
    let input = chunked("POST", "5\r\nhel");
    let progress = session.on_bytes(&site, input.as_bytes(), &mut out);
    assert_eq!(progress, Progress { consumed: input.len(), close: false });
    assert!(session.has_partial_request());
    let rest = format!("lo\r\n0\r\n\r\n{}", get("/"));
    let progress = session.on_bytes(&site, rest.as_bytes(), &mut out);
    assert_eq!(progress, Progress { consumed: rest.len(), close: false });
    assert!(!session.has_partial_request());
    let statuses: Vec<u16> = responses(&out.to_vec(), &[]).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [405, 200]);
    // Stalled mid-body: the idle timeout answers 408.
    let mut session = HttpSession::new();
    session.on_bytes(&site, chunked("POST", "5\r\nhel").as_bytes(), &mut Outbox::new());
    let mut out = Outbox::new();
    assert!(session.on_idle_timeout(&site, &mut out));
    assert_eq!(responses(&out.to_vec(), &[])[0].status, 408);
}

#[test]
fn absolute_form_targets_are_served_by_their_path() {
    let fx = fixture();
    let site = &fx.site;
    for target in [
        "http://t/notes.txt",
        "HTTP://example.com:8080/notes.txt?q=1",
        "https://t/notes.txt#frag",
        "http://[::1]:80/notes%2etxt",
    ] {
        let (resp, _) = one(site, &format!("GET {target} HTTP/1.1\r\nHost: other\r\n\r\n"), 200);
        assert_eq!(resp.body, b"contents of notes.txt", "{target}");
    }
    for target in ["http://t", "http://t?x=1", "http://t/"] {
        let (resp, _) = one(site, &get(target), 200);
        assert_eq!(resp.body, b"contents of index.html", "{target}");
    }
    let (resp, _) = one(site, &get("http://t/sub?a=1"), 301);
    assert_eq!(resp.header("Location"), Some("/sub/?a=1"));
    // HTTP/1.1 still needs a Host field (RFC 9112 section 3.2); HTTP/1.0 does not.
    assert_closes_with(site, "GET http://t/notes.txt HTTP/1.1\r\n\r\n", 400);
    one(site, "GET http://t/notes.txt HTTP/1.0\r\n\r\n", 200);
    // The authority cannot smuggle a path out of the root.
    one(site, &get("http://t/escape"), 404);
}

#[test]
fn http_1_minor_versions_are_served_as_1_1_and_other_majors_get_505() {
    let site = welcome();
    for version in ["1.2", "1.9"] {
        let input = format!("GET / HTTP/{version}\r\nHost: t\r\n\r\n{}", get("/"));
        let out = assert_split_invariant(&site, input.as_bytes());
        assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
        let all = responses(&out, &[]);
        assert_eq!(all.len(), 2, "kept alive as HTTP/1.1");
        assert_eq!(all[0].header("Connection"), None);
        // And held to 1.1's rules: Host is required.
        assert_closes_with(&site, &format!("GET / HTTP/{version}\r\n\r\n"), 400);
    }
    for request in [
        "GET / HTTP/2.0\r\nHost: t\r\n\r\n",
        "GET / HTTP/3.0\r\nHost: t\r\n\r\n",
        "GET / HTTP/0.9\r\nHost: t\r\n\r\n",
        "GET / HTTP/2\r\nHost: t\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ] {
        assert_closes_with(&site, request, 505);
        assert_split_invariant(&site, request.as_bytes());
    }
}

#[test]
fn directories_without_their_slash_are_redirected_with_the_query_kept() {
    let fx = fixture();
    let site = &fx.site;
    for (target, location) in [
        ("/sub", "/sub/"),
        ("/sub?a=1&b=%20", "/sub/?a=1&b=%20"),
        ("/sub?", "/sub/?"),
        ("/s%75b", "/sub/"),
        ("//sub", "/sub/"), // never `//sub/`: that would be another host
        ("/./sub", "/sub/"),
        ("/empty", "/empty/"),
        ("/escape_dir/..%2fsub", ""), // refused before any lookup
    ] {
        if location.is_empty() {
            assert_closes_with(site, &get(target), 400);
            continue;
        }
        let (resp, progress) = one(site, &get(target), 301);
        assert_eq!(resp.header("Location"), Some(location), "{target}");
        assert!(!progress.close);
        let (head, _) = one(site, &request("HEAD", target, &[]), 301);
        assert!(head.body.is_empty());
    }
    // Names outside ASCII are percent-encoded in the Location.
    fs::create_dir(fx.root.0.join("caf\u{e9} d")).unwrap();
    let (resp, _) = one(site, &get("/caf%C3%A9%20d"), 301);
    assert_eq!(resp.header("Location"), Some("/caf%C3%A9%20d/"));
    // A symlink to a directory inside the root is a directory too; one out of it is 404.
    symlink(fx.root.0.join("sub"), fx.root.0.join("sub_link")).unwrap();
    one(site, &get("/sub_link"), 301);
    assert_eq!(one(site, &get("/sub_link/"), 200).0.body, b"sub index");
    one(site, &get("/escape_dir"), 404);
}

/// `current -> release-1` inside the root, each release with `f.txt` naming itself.
fn releases(fx: &Fixture) {
    for n in 1..=2 {
        let dir = fx.root.0.join(format!("release-{n}"));
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("f.txt"), format!("release {n}")).unwrap();
        fs::write(dir.join("index.html"), format!("index {n}")).unwrap();
    }
    symlink("release-1", fx.root.0.join("current")).unwrap();
}

/// Points `link` at `target` atomically, as deploy tools do (a new link renamed over it).
fn swap(link: &std::path::Path, target: &str) {
    let tmp = link.with_extension("tmp");
    symlink(target, &tmp).unwrap();
    fs::rename(&tmp, link).unwrap();
}

#[test]
fn a_swapped_or_removed_symlink_on_the_path_is_seen_by_the_next_request() {
    let fx = fixture();
    releases(&fx);
    let cached = Site::with_root(&fx.root.0).unwrap().with_clock(fixed_now).with_cache_settle(
        1024,
        1 << 20,
        Duration::ZERO,
    );
    for site in [&fx.site, &cached] {
        let current = fx.root.0.join("current");
        swap(&current, "release-1");
        for _ in 0..2 {
            assert_eq!(one(site, &get("/current/f.txt"), 200).0.body, b"release 1");
            assert_eq!(one(site, &get("/current/"), 200).0.body, b"index 1");
        }
        swap(&current, "release-2");
        assert_eq!(one(site, &get("/current/f.txt"), 200).0.body, b"release 2");
        assert_eq!(one(site, &get("/current/"), 200).0.body, b"index 2");
        // An absolute link is resolved the slow way, and still followed at once.
        swap(&current, fx.root.0.join("release-1").to_str().unwrap());
        assert_eq!(one(site, &get("/current/f.txt"), 200).0.body, b"release 1");
        // Pointed outside the root: gone, like a missing file.
        swap(&current, fx.outside.0.to_str().unwrap());
        one(site, &get("/current/f.txt"), 404);
        // Removed: 404 at once.
        fs::remove_file(&current).unwrap();
        one(site, &get("/current/f.txt"), 404);
        one(site, &get("/current/"), 404);
        symlink("release-1", &current).unwrap();
        // A file removed, or replaced by another (rename over it).
        let f = fx.root.0.join("release-1/f.txt");
        assert_eq!(one(site, &get("/current/f.txt"), 200).0.body, b"release 1");
        fs::remove_file(&f).unwrap();
        one(site, &get("/current/f.txt"), 404);
        fs::write(f.with_extension("new"), "renamed over").unwrap();
        fs::rename(f.with_extension("new"), &f).unwrap();
        assert_eq!(one(site, &get("/current/f.txt"), 200).0.body, b"renamed over");
        fs::write(&f, "release 1").unwrap();
    }
    assert!(!cached.cache().unwrap().is_empty(), "the cached site did cache");
}

#[test]
fn a_root_given_as_a_symlink_follows_its_swaps() {
    let fx = fixture();
    releases(&fx);
    let current = fx.root.0.join("current");
    let site = Site::with_root(&current).unwrap().with_clock(fixed_now);
    assert_eq!(one(&site, &get("/f.txt"), 200).0.body, b"release 1");
    swap(&current, "release-2");
    assert_eq!(one(&site, &get("/f.txt"), 200).0.body, b"release 2");
    // Containment follows the new root: release-1 is now outside it.
    symlink(fx.root.0.join("release-1/f.txt"), fx.root.0.join("release-2/old")).unwrap();
    one(&site, &get("/old"), 404);
    fs::remove_file(&current).unwrap();
    one(&site, &get("/f.txt"), 404);
    swap(&current, "release-1");
    assert_eq!(one(&site, &get("/f.txt"), 200).0.body, b"release 1");
}

#[test]
fn a_file_rewritten_within_one_timestamp_tick_is_never_served_stale() {
    // Same size, mtime put back: only the ctime (same tick, possibly) and the contents differ.
    // The cache trusts no file changed in the last second, so the new bytes are sent.
    let fx = fixture();
    let site = Site::with_root(&fx.root.0).unwrap().with_clock(fixed_now).with_cache(1024, 4096);
    let path = fx.root.0.join("tick.txt");
    fs::write(&path, "aaaa").unwrap();
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();
    assert_eq!(one(&site, &get("/tick.txt"), 200).0.body, b"aaaa");
    fs::write(&path, "bbbb").unwrap();
    fs::File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
    assert_eq!(one(&site, &get("/tick.txt"), 200).0.body, b"bbbb");
    assert!(site.cache().unwrap().is_empty(), "a file changed a moment ago is not cached");
}

#[test]
fn if_match_and_if_unmodified_since_give_412() {
    let (fx, data) = data_site();
    let path = fx.root.0.join("data.bin");
    let mtime = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    fs::File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
    let site = &fx.site;
    let etag = etag_of(site, "/data.bin");
    let weak = format!("W/{etag}");
    let list = format!("\"a\", {etag}");
    // If-Match holds (strong comparison; `*` for any file): the normal answer.
    for value in [etag.as_str(), "*", list.as_str()] {
        let (resp, _) = one(site, &request("GET", "/data.bin", &[("If-Match", value)]), 200);
        assert_eq!(resp.body, data);
    }
    // It fails: 412, with the current validators; a weak tag never matches strongly.
    for value in ["\"other\"", weak.as_str(), "", "garbage"] {
        let (resp, progress) = one(site, &request("GET", "/data.bin", &[("If-Match", value)]), 412);
        assert_eq!(resp.header("ETag"), Some(etag.as_str()), "{value:?}");
        assert!(!progress.close);
    }
    one(site, &request("HEAD", "/data.bin", &[("If-Match", "\"other\"")]), 412);
    // If-Unmodified-Since: 412 only when the file changed after the date.
    one(
        site,
        &request("GET", "/data.bin", &[("If-Unmodified-Since", "Tue, 14 Nov 2023 22:13:20 GMT")]),
        200,
    );
    one(
        site,
        &request("GET", "/data.bin", &[("If-Unmodified-Since", "Tue, 14 Nov 2023 22:13:19 GMT")]),
        412,
    );
    one(site, &request("GET", "/data.bin", &[("If-Unmodified-Since", "nonsense")]), 200);
    // If-Match present: If-Unmodified-Since is not looked at (RFC 9110 section 13.2.2).
    let both =
        [("If-Match", etag.as_str()), ("If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")];
    one(site, &request("GET", "/data.bin", &both), 200);
    // 412 comes before 304 and 206.
    let r = request(
        "GET",
        "/data.bin",
        &[("If-Match", "\"x\""), ("If-None-Match", &etag), ("Range", "bytes=0-1")],
    );
    one(site, &r, 412);
}
