//! HTTP/1.1 response heads and canned error responses, written straight into a byte buffer (the
//! owned tail of the connection's outbox, `Outbox::vec`). File bodies are not written here:
//! `http.rs` queues them behind the head as a file region or a shared buffer.
//!
//! Responses are deterministic (no `Date` header) so tests can compare bytes exactly, and the
//! writers never allocate beyond growing the caller's buffer.

/// The statuses this server can answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 200: the file (or welcome page) follows.
    Ok,
    /// 400: unparsable head, bad `Content-Length`, missing `Host`, bad percent-encoding or a
    /// `..` path segment.
    BadRequest,
    /// 403: permission denied inside the root (escapes from the root get 404).
    Forbidden,
    /// 404: no such file, or the path resolves outside the root.
    NotFound,
    /// 405: a method other than GET or HEAD (sent with `Allow: GET, HEAD`).
    MethodNotAllowed,
    /// 408: the idle timeout fired while a request was incomplete.
    RequestTimeout,
    /// 413: the declared request body is larger than the limit.
    ContentTooLarge,
    /// 431: the request head is too large or has too many header fields.
    HeaderFieldsTooLarge,
    /// 500: a small file changed size (or failed) while being read into the cache.
    InternalServerError,
    /// 501: the request uses `Transfer-Encoding` (chunked request bodies are not implemented).
    NotImplemented,
}

impl Status {
    /// The numeric status code.
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestTimeout => 408,
            Status::ContentTooLarge => 413,
            Status::HeaderFieldsTooLarge => 431,
            Status::InternalServerError => 500,
            Status::NotImplemented => 501,
        }
    }

    /// The reason phrase sent after the code.
    pub fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadRequest => "Bad Request",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestTimeout => "Request Timeout",
            Status::ContentTooLarge => "Content Too Large",
            Status::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::InternalServerError => "Internal Server Error",
            Status::NotImplemented => "Not Implemented",
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

/// Appends a response head (status line, headers, blank line) to `out`.
pub fn write_head(
    out: &mut Vec<u8>,
    status: Status,
    content_type: &str,
    content_length: u64,
    connection: ConnectionHeader,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(status.code()));
    out.push(b' ');
    out.extend_from_slice(status.reason().as_bytes());
    out.extend_from_slice(b"\r\nServer: ioman\r\nContent-Type: ");
    out.extend_from_slice(content_type.as_bytes());
    out.extend_from_slice(b"\r\nContent-Length: ");
    push_decimal(out, content_length);
    out.extend_from_slice(b"\r\n");
    if status == Status::MethodNotAllowed {
        out.extend_from_slice(b"Allow: GET, HEAD\r\n");
    }
    match connection {
        ConnectionHeader::Omit => {}
        ConnectionHeader::KeepAlive => out.extend_from_slice(b"Connection: keep-alive\r\n"),
        ConnectionHeader::Close => out.extend_from_slice(b"Connection: close\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a complete error response whose `text/plain` body is `"<code> <reason>\n"`; with
/// `head_only` (a HEAD request) the body is left out but `Content-Length` still describes it.
pub fn write_error(
    out: &mut Vec<u8>,
    status: Status,
    connection: ConnectionHeader,
    head_only: bool,
) {
    let reason = status.reason().as_bytes();
    // "NNN " + reason + "\n"
    let len = 4 + reason.len() as u64 + 1;
    write_head(out, status, "text/plain; charset=utf-8", len, connection);
    if !head_only {
        push_decimal(out, u64::from(status.code()));
        out.push(b' ');
        out.extend_from_slice(reason);
        out.push(b'\n');
    }
}

/// Appends `n` in decimal without allocating.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
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
