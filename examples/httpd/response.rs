//! HTTP/1.1 response heads and canned error responses, written straight into a byte buffer (the
//! owned tail of the connection's outbox, `Outbox::vec`). File bodies are not written here:
//! `http.rs` queues them behind the head as a file region or a shared buffer.
//!
//! A head is written in three steps: [`start`] (status line, `Server`, `Date`), any fields
//! ([`content`], [`field`], [`http_date`]), then [`finish`] (`Connection`, blank line). The
//! `Date` comes from the site's clock, so tests that compare bytes use a fixed one. The
//! writers never allocate beyond growing the caller's buffer.

use super::mime::ContentType;
use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The statuses this server can answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 200: the file (or welcome page) follows.
    Ok,
    /// 206: one range of the file follows, described by `Content-Range`.
    PartialContent,
    /// 301: a directory named without its trailing slash; `Location` adds it.
    MovedPermanently,
    /// 304: the client's copy is current (`If-None-Match` / `If-Modified-Since`).
    NotModified,
    /// 400: unparsable head, bad framing, missing `Host`, bad percent-encoding or a `..` path
    /// segment.
    BadRequest,
    /// 403: permission denied inside the root (escapes from the root get 404).
    Forbidden,
    /// 404: no such file, or the path resolves outside the root.
    NotFound,
    /// 405: a known method other than GET or HEAD (sent with `Allow: GET, HEAD`).
    MethodNotAllowed,
    /// 408: the idle timeout fired while a request was incomplete.
    RequestTimeout,
    /// 412: `If-Match` or `If-Unmodified-Since` does not hold.
    PreconditionFailed,
    /// 413: the declared request body is larger than the limit.
    ContentTooLarge,
    /// 414: the request line does not fit in the head limit (its target is too long).
    UriTooLong,
    /// 416: the `Range` asks for bytes past the end of the file.
    RangeNotSatisfiable,
    /// 431: the request head is too large or has too many header fields.
    HeaderFieldsTooLarge,
    /// 500: a small file changed size (or failed) while being read into the cache.
    InternalServerError,
    /// 501: an unknown method, or a transfer coding other than `chunked`.
    NotImplemented,
    /// 505: an HTTP major version other than 1.
    VersionNotSupported,
}

impl Status {
    /// The numeric status code.
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::PartialContent => 206,
            Status::MovedPermanently => 301,
            Status::NotModified => 304,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestTimeout => 408,
            Status::PreconditionFailed => 412,
            Status::ContentTooLarge => 413,
            Status::UriTooLong => 414,
            Status::RangeNotSatisfiable => 416,
            Status::HeaderFieldsTooLarge => 431,
            Status::InternalServerError => 500,
            Status::NotImplemented => 501,
            Status::VersionNotSupported => 505,
        }
    }

    /// The reason phrase sent after the code.
    pub fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::PartialContent => "Partial Content",
            Status::MovedPermanently => "Moved Permanently",
            Status::NotModified => "Not Modified",
            Status::BadRequest => "Bad Request",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestTimeout => "Request Timeout",
            Status::PreconditionFailed => "Precondition Failed",
            Status::ContentTooLarge => "Content Too Large",
            Status::UriTooLong => "URI Too Long",
            Status::RangeNotSatisfiable => "Range Not Satisfiable",
            Status::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::InternalServerError => "Internal Server Error",
            Status::NotImplemented => "Not Implemented",
            Status::VersionNotSupported => "HTTP Version Not Supported",
        }
    }
}

/// Which `Connection` header (if any) a response carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionHeader {
    /// No header: the protocol default applies (HTTP/1.1 persistent connection).
    Omit,
    /// `Connection: keep-alive`, for HTTP/1.0 clients that asked for it.
    KeepAlive,
    /// `Connection: close`: the server closes after this response.
    Close,
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) is always this long.
pub const HTTP_DATE_LEN: usize = 29;

/// The `Date` of the responses a session writes, formatted once per second.
#[derive(Clone, Debug)]
pub struct DateCache {
    secs: Option<u64>,
    text: Vec<u8>,
}

impl Default for DateCache {
    fn default() -> DateCache {
        DateCache { secs: None, text: Vec::with_capacity(HTTP_DATE_LEN) }
    }
}

impl DateCache {
    /// The formatted date for `now` (whole seconds; reformatted only when the second changed).
    pub fn at(&mut self, now: SystemTime) -> &[u8] {
        let secs = unix_secs(now);
        if self.secs != Some(secs) {
            self.text.clear();
            push_http_date(&mut self.text, secs);
            self.secs = Some(secs);
        }
        &self.text
    }

    /// The second of the last formatted date.
    pub fn secs(&self) -> Option<u64> {
        self.secs
    }
}

/// Whole seconds since the Unix epoch (0 for times before it).
pub fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Appends `secs` (since the Unix epoch) as an IMF-fixdate, with `httpdate`.
pub fn push_http_date(out: &mut Vec<u8>, secs: u64) {
    let time = UNIX_EPOCH + Duration::from_secs(secs);
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{}", httpdate::HttpDate::from(time));
}

/// Appends the status line and the fields every response has: `Server` and `Date`.
pub fn start(out: &mut Vec<u8>, status: Status, date: &[u8]) {
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(status.code()));
    out.push(b' ');
    out.extend_from_slice(status.reason().as_bytes());
    out.extend_from_slice(b"\r\nServer: ioman\r\nDate: ");
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n");
}

/// Appends `Content-Type` and `Content-Length`.
pub fn content(out: &mut Vec<u8>, content_type: ContentType, len: u64) {
    out.extend_from_slice(b"Content-Type: ");
    out.extend_from_slice(content_type.essence.as_bytes());
    if content_type.utf8 {
        out.extend_from_slice(b"; charset=utf-8");
    }
    out.extend_from_slice(b"\r\nContent-Length: ");
    push_decimal(out, len);
    out.extend_from_slice(b"\r\n");
}

/// Appends one field line; `value` must be a valid field value (no CR, LF or NUL).
pub fn field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends a field whose value is an HTTP date, `secs` since the Unix epoch.
pub fn http_date(out: &mut Vec<u8>, name: &str, secs: u64) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    push_http_date(out, secs);
    out.extend_from_slice(b"\r\n");
}

/// Appends `Content-Range: bytes FIRST-LAST/SIZE`, or `bytes */SIZE` without a range.
pub fn content_range(out: &mut Vec<u8>, range: Option<(u64, u64)>, size: u64) {
    out.extend_from_slice(b"Content-Range: bytes ");
    match range {
        Some((first, last)) => {
            push_decimal(out, first);
            out.push(b'-');
            push_decimal(out, last);
        }
        None => out.push(b'*'),
    }
    out.push(b'/');
    push_decimal(out, size);
    out.extend_from_slice(b"\r\n");
}

/// Appends the `Connection` field (if any) and the blank line that ends the head.
pub fn finish(out: &mut Vec<u8>, connection: ConnectionHeader) {
    match connection {
        ConnectionHeader::Omit => {}
        ConnectionHeader::KeepAlive => out.extend_from_slice(b"Connection: keep-alive\r\n"),
        ConnectionHeader::Close => out.extend_from_slice(b"Connection: close\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a complete error (or redirect) response whose `text/plain` body is
/// `"<code> <reason>\n"`; with `head_only` (a HEAD request) the body is left out but
/// `Content-Length` still describes it. A 405 carries `Allow: GET, HEAD`.
pub fn write_error(
    out: &mut Vec<u8>,
    status: Status,
    date: &[u8],
    connection: ConnectionHeader,
    head_only: bool,
) {
    write_error_with(out, status, date, connection, head_only, |_| {});
}

/// [`write_error`] with more fields, appended by `fields` before the head ends.
pub fn write_error_with(
    out: &mut Vec<u8>,
    status: Status,
    date: &[u8],
    connection: ConnectionHeader,
    head_only: bool,
    fields: impl FnOnce(&mut Vec<u8>),
) {
    let reason = status.reason().as_bytes();
    // "NNN " + reason + "\n"
    let len = 4 + reason.len() as u64 + 1;
    start(out, status, date);
    content(out, ContentType::PLAIN, len);
    if status == Status::MethodNotAllowed {
        out.extend_from_slice(b"Allow: GET, HEAD\r\n");
    }
    fields(out);
    finish(out, connection);
    if !head_only {
        push_decimal(out, u64::from(status.code()));
        out.push(b' ');
        out.extend_from_slice(reason);
        out.push(b'\n');
    }
}

/// Appends `n` in decimal without allocating.
pub fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(slot) = digits.get_mut(start) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}
