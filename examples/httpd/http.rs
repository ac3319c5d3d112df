//! The per-connection HTTP/1.1 state machine: parses pipelined request heads with `httparse`,
//! answers each one into the connection's [`Outbox`] and skips request bodies.
//!
//! Shape of the hook (what ioman's connection helper calls): the bytes received so far and not
//! yet consumed go in, responses are appended to `out`, and [`Progress`] says how many input
//! bytes were used and whether to close once `out` is flushed. An incomplete request is left
//! unconsumed and parsed again, from its start, when more bytes arrive.
//!
//! Memory stays bounded whatever a client pipelines:
//! - a file's body is never read on the loop: it is queued as a file region
//!   ([`Outbox::push_file`]) and sent with `sendfile`; only a small file filling the cache is
//!   read, and cached bodies and the welcome page are queued without a copy;
//! - before answering each request, [`Outbox::has_room`] is checked: at the connection's room
//!   mark (its high watermark) the session stops and returns what it consumed so far. The
//!   requests left are complete bytes the connection offers again once the output drained;
//!   they are not a partial request, so no request deadline runs for them.
//!
//! Policy, in the order the checks run:
//! - unparsable head, bad/conflicting `Content-Length`, missing or repeated `Host` on HTTP/1.1:
//!   400, close;
//! - a head that does not complete within `max_head_bytes`, or more than `max_headers` fields:
//!   431, close;
//! - any `Transfer-Encoding` (chunked request bodies): 501 Not Implemented, close;
//! - `Content-Length` above `max_body_bytes`: 413, close; smaller bodies are discarded as they
//!   arrive, across calls;
//! - methods other than GET and HEAD: 405 with `Allow: GET, HEAD` (the connection survives);
//! - bad percent-encoding, NUL, or a `..` segment in the path: 400, close;
//! - missing file, or a path resolving outside the root (symlink): 404, so answers reveal
//!   nothing about files outside the root; permission denied inside the root: 403.
//!
//! HTTP/1.1 keeps the connection alive unless `Connection: close`; HTTP/1.0 closes unless
//! `Connection: keep-alive`. Every closing response carries `Connection: close`.

use super::files::{self, Lookup};
use super::mime;
use super::path;
use super::response::{ConnectionHeader, Status, write_error, write_head};
use super::site::{Site, WELCOME_PAGE};
use ioman::net::Outbox;
use std::sync::Arc;

/// Hard cap on `Limits::max_headers`: the header array lives on the stack (8 KiB).
pub const MAX_HEADERS_CAP: usize = 256;

/// What one call of [`HttpSession::on_bytes`] did with its input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes used up (complete requests and discarded body bytes); the rest must be
    /// passed again on the next call, followed by any new bytes. Less than the input also when
    /// the output reached its room mark: the rest is then passed again once it drained.
    pub consumed: usize,
    /// Close the connection once the output has been flushed; no further input is processed.
    pub close: bool,
}

/// The protocol state of one HTTP connection.
#[derive(Debug, Default)]
pub struct HttpSession {
    /// Body bytes of the last request still to be discarded.
    body_remaining: u64,
    /// The last call left an incomplete request head unconsumed.
    partial_head: bool,
    /// A closing response has been written; everything else is ignored.
    closed: bool,
    /// Reused buffer for the percent-decoded path.
    path: Vec<u8>,
}

/// The result of looking at the start of the unconsumed input.
enum Step {
    /// The head is incomplete (and still within the size limit).
    NeedMore,
    /// A response was written for a head of `head_len` bytes followed by `body_len` body bytes.
    Answered { head_len: usize, body_len: u64, close: bool },
}

impl HttpSession {
    /// A fresh session for a new connection.
    pub fn new() -> HttpSession {
        HttpSession::default()
    }

    /// Handles the complete requests at the start of `input`, appending the responses to
    /// `out`, until the input runs out, a request is incomplete, or `out` has no room left
    /// ([`Outbox::has_room`]; at least the first request is answered when it has room on
    /// entry).
    ///
    /// `input` must begin with the bytes left unconsumed by the previous call.
    pub fn on_bytes(&mut self, site: &Site, input: &[u8], out: &mut Outbox) -> Progress {
        if self.closed {
            return Progress { consumed: input.len(), close: true };
        }
        self.partial_head = false;
        let mut pos = 0;
        loop {
            if self.body_remaining > 0 {
                let available = input.len().saturating_sub(pos);
                let skip =
                    usize::try_from(self.body_remaining).map_or(available, |r| r.min(available));
                pos += skip;
                self.body_remaining -= skip as u64;
                if self.body_remaining > 0 {
                    break;
                }
            }
            // Empty lines before a request line are ignored (RFC 9112 section 2.2).
            while let Some(b'\r' | b'\n') = input.get(pos) {
                pos += 1;
            }
            let rest = input.get(pos..).unwrap_or_default();
            if rest.is_empty() {
                break;
            }
            if !out.has_room() {
                // Not a partial request: complete or not, `rest` is looked at again once the
                // output drained, so `partial_head` stays false and no deadline is armed.
                break;
            }
            match self.request(site, rest, out) {
                Step::NeedMore => {
                    self.partial_head = true;
                    break;
                }
                Step::Answered { head_len, body_len, close } => {
                    pos += head_len;
                    if close {
                        self.closed = true;
                        break;
                    }
                    self.body_remaining = body_len;
                }
            }
        }
        Progress { consumed: pos, close: self.closed }
    }

    /// Whether a request has started but not fully arrived (head or body).
    pub fn has_partial_request(&self) -> bool {
        !self.closed && (self.partial_head || self.body_remaining > 0)
    }

    /// Called when the connection's idle timeout fires: if a request is incomplete, appends
    /// `408 Request Timeout` with `Connection: close` and returns `true`. Either way the caller
    /// closes the connection.
    pub fn on_idle_timeout(&self, out: &mut Outbox) -> bool {
        if !self.has_partial_request() {
            return false;
        }
        write_error(out.vec(), Status::RequestTimeout, ConnectionHeader::Close, false);
        true
    }

    /// Parses the head at the start of `rest` and answers it.
    fn request(&mut self, site: &Site, rest: &[u8], out: &mut Outbox) -> Step {
        let limits = site.limits();
        // Parsing only a window keeps the outcome independent of how the bytes were split.
        let window = rest.get(..limits.max_head_bytes).unwrap_or(rest);
        let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS_CAP];
        let (headers, _) = storage.split_at_mut(limits.max_headers.min(MAX_HEADERS_CAP));
        let mut req = httparse::Request::new(headers);
        let head_len = match req.parse(window) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if rest.len() < limits.max_head_bytes => {
                return Step::NeedMore;
            }
            Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
                return refuse(out, Status::HeaderFieldsTooLarge, 0, false);
            }
            Err(_) => return refuse(out, Status::BadRequest, 0, false),
        };
        let head_only = req.method == Some("HEAD");
        let version = req.version.unwrap_or(1);
        let framing = Framing::scan(req.headers);
        if framing.bad || framing.hosts > 1 || (version >= 1 && framing.hosts == 0) {
            return refuse(out, Status::BadRequest, head_len, head_only);
        }
        if framing.transfer_encoding {
            return refuse(out, Status::NotImplemented, head_len, head_only);
        }
        let body_len = framing.content_length.unwrap_or(0);
        if body_len > limits.max_body_bytes {
            return refuse(out, Status::ContentTooLarge, head_len, head_only);
        }
        let keep_alive = if version >= 1 { !framing.close } else { framing.keep_alive };
        let connection = match (keep_alive, version) {
            (false, _) => ConnectionHeader::Close,
            (true, 0) => ConnectionHeader::KeepAlive,
            (true, _) => ConnectionHeader::Omit,
        };
        let forced_close = match req.method {
            Some("GET" | "HEAD") => {
                let target = req.path.unwrap_or_default().as_bytes();
                self.serve(site, target, head_only, connection, out)
            }
            _ => {
                write_error(out.vec(), Status::MethodNotAllowed, connection, false);
                false
            }
        };
        Step::Answered { head_len, body_len, close: forced_close || !keep_alive }
    }

    /// Writes the response for a GET or HEAD of `target`; returns whether it forced a close.
    fn serve(
        &mut self,
        site: &Site,
        target: &[u8],
        head_only: bool,
        connection: ConnectionHeader,
        out: &mut Outbox,
    ) -> bool {
        if path::decode_target(target, &mut self.path).is_err() {
            write_error(out.vec(), Status::BadRequest, ConnectionHeader::Close, head_only);
            return true;
        }
        let Some(root) = site.root() else {
            if self.path == b"/" || self.path == b"/index.html" {
                let len = WELCOME_PAGE.len() as u64;
                write_head(out.vec(), Status::Ok, "text/html; charset=utf-8", len, connection);
                if !head_only {
                    out.vec().extend_from_slice(WELCOME_PAGE.as_bytes()); // small: one send
                }
            } else {
                write_error(out.vec(), Status::NotFound, connection, head_only);
            }
            return false;
        };
        let cache = site.cache();
        if let Some((content_type, bytes)) = cache.and_then(|c| c.get_by_request(&self.path)) {
            send_bytes(out, content_type, bytes, connection, head_only);
            return false;
        }
        let mut file = match files::lookup(root, &path::relative_path(&self.path)) {
            Lookup::Found(file) => file,
            Lookup::NotFound | Lookup::Outside => {
                write_error(out.vec(), Status::NotFound, connection, head_only);
                return false;
            }
            Lookup::Forbidden => {
                write_error(out.vec(), Status::Forbidden, connection, head_only);
                return false;
            }
        };
        let content_type = mime::content_type(&file.path);
        if head_only {
            write_head(out.vec(), Status::Ok, content_type, file.len, connection);
            return false;
        }
        let Some(cache) = cache.filter(|c| c.admits(file.len)) else {
            // Not cached: the body goes from the open file to the socket with `sendfile`. If
            // the file shrinks before it is all sent, the connection closes (the head promised
            // its length); if it grows, only the promised bytes are sent.
            write_head(out.vec(), Status::Ok, content_type, file.len, connection);
            out.push_file(file.file, 0, file.len);
            return false;
        };
        let bytes = match cache.get(&file) {
            Some(bytes) => bytes,
            None => match files::read_small(&mut file) {
                Ok(Some(bytes)) => {
                    cache.insert(&file, bytes.clone());
                    bytes
                }
                // The file changed size while being read, or could not be read: nothing has
                // been promised yet, so say so and close.
                Ok(None) | Err(_) => {
                    let close = ConnectionHeader::Close;
                    write_error(out.vec(), Status::InternalServerError, close, false);
                    return true;
                }
            },
        };
        cache.remember_request(&self.path, &file, content_type);
        send_bytes(out, content_type, bytes, connection, false);
        false
    }
}

/// Bodies up to this size are copied after their head (one contiguous send); larger ones are
/// queued as the shared buffer itself. Below it, a copy costs less than a separate chunk and an
/// I/O vector (measured: a 6-byte page went 6% slower when shared).
pub const SHARE_MIN: usize = 1024;

/// Writes a 200 whose body is `bytes` (left out for a HEAD request): copied if small, else
/// shared (see [`SHARE_MIN`]).
fn send_bytes(
    out: &mut Outbox,
    content_type: &str,
    bytes: Arc<[u8]>,
    connection: ConnectionHeader,
    head_only: bool,
) {
    let head = out.vec();
    write_head(head, Status::Ok, content_type, bytes.len() as u64, connection);
    match (head_only, bytes.len() <= SHARE_MIN) {
        (true, _) => {}
        (false, true) => head.extend_from_slice(&bytes),
        (false, false) => out.push_shared(bytes),
    }
}

/// Writes an error response that closes the connection.
fn refuse(out: &mut Outbox, status: Status, head_len: usize, head_only: bool) -> Step {
    write_error(out.vec(), status, ConnectionHeader::Close, head_only);
    Step::Answered { head_len, body_len: 0, close: true }
}

/// What the header fields say about framing and connection reuse, gathered in one pass.
#[derive(Default)]
struct Framing {
    content_length: Option<u64>,
    transfer_encoding: bool,
    hosts: usize,
    close: bool,
    keep_alive: bool,
    /// An unparsable or conflicting `Content-Length`.
    bad: bool,
}

impl Framing {
    fn scan(headers: &[httparse::Header<'_>]) -> Framing {
        let mut framing = Framing::default();
        for header in headers {
            let name = header.name;
            if name.eq_ignore_ascii_case("host") {
                framing.hosts += 1;
            } else if name.eq_ignore_ascii_case("content-length") {
                match parse_length(header.value) {
                    Some(len) if framing.content_length.is_none_or(|seen| seen == len) => {
                        framing.content_length = Some(len);
                    }
                    _ => framing.bad = true,
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                framing.transfer_encoding = true;
            } else if name.eq_ignore_ascii_case("connection") {
                for token in header.value.split(|&b| b == b',') {
                    let token = token.trim_ascii();
                    framing.close |= token.eq_ignore_ascii_case(b"close");
                    framing.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
        }
        framing.keep_alive &= !framing.close;
        framing
    }
}

/// Parses a `Content-Length` value: ASCII digits only, no sign, no overflow.
fn parse_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}
