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
//! Policy, in the order the checks run (RFC 9110 and RFC 9112 section numbers in brackets):
//! - unparsable head, bad/conflicting `Content-Length`, missing or repeated `Host` on HTTP/1.1
//!   [9112 §3.2]: 400, close;
//! - a request line that does not fit in `max_head_bytes`: 414 [9110 §15.5.15]; a head that
//!   does not, or more than `max_headers` fields: 431; both close;
//! - `HTTP/1.x` with a minor version above 1 is served as HTTP/1.1 [9112 §2.3]; a major version
//!   other than 1 gets 505 and a close [9110 §15.6.6];
//! - `Transfer-Encoding` with `Content-Length`, on HTTP/1.0, or not ending in `chunked`: 400,
//!   close [9112 §6.1, §6.3]; a coding other than `chunked`: 501, close [9112 §6.1];
//!   `chunked` alone: the body is decoded and discarded after the answer [9112 §7.1], and the
//!   connection goes on (a malformed or oversized one closes it, see `chunked`);
//! - `Content-Length` above `max_body_bytes`: 413, close; smaller bodies are discarded as they
//!   arrive, across calls;
//! - known methods other than GET and HEAD: 405 with `Allow: GET, HEAD`; unknown ones: 501
//!   [9110 §9.1]; the connection survives both;
//! - a target in neither origin- nor absolute-form [9112 §3.2], bad percent-encoding, NUL, or a
//!   `..` segment in the path: 400, close;
//! - missing file, or a path resolving outside the root (symlink): 404, so answers reveal
//!   nothing about files outside the root; permission denied inside the root: 403;
//! - a directory named without its trailing slash: 301 to the name with it (query kept);
//! - a file: 412 if `If-Match` (or, without it, `If-Unmodified-Since`) fails; 304 if
//!   `If-None-Match` (or, without it, `If-Modified-Since`) says the client's copy is current
//!   [9110 §13.2.2]; else 206 for one satisfiable byte range of a GET (`If-Range`
//!   honoured), 416 for a range past the end, or 200 with the whole file (see `range`).
//!
//! Every response has `Date` [9110 §6.6.1]; files have `ETag`, `Last-Modified` and
//! `Accept-Ranges: bytes`. HTTP/1.1 keeps the connection alive unless `Connection: close`;
//! HTTP/1.0 closes unless `Connection: keep-alive`. Every closing response carries
//! `Connection: close`.

use super::chunked::{ChunkedBody, Skipped};
use super::conditional::Validators;
use super::files::{self, CachedFile, Lookup};
use super::mime::{self, ContentType};
use super::path;
use super::range::{self, RangeAnswer};
use super::request::{Fields, KNOWN_METHODS, Transfer, Version, too_large, version};
use super::response::{self, ConnectionHeader, DateCache, Status, write_error, write_error_with};
use super::site::{Site, WELCOME_PAGE};
use ioman::net::Outbox;
use std::mem::MaybeUninit;
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

/// The body of the last request, still to be discarded.
#[derive(Debug, Default)]
enum Body {
    /// None left.
    #[default]
    None,
    /// This many bytes (`Content-Length`).
    Length(u64),
    /// A `chunked` body, decoded as it arrives.
    Chunked(ChunkedBody),
}

/// The protocol state of one HTTP connection.
#[derive(Debug, Default)]
pub struct HttpSession {
    /// The body of the last request still to be discarded.
    body: Body,
    /// The last call left an incomplete request head unconsumed.
    partial_head: bool,
    /// A closing response has been written; everything else is ignored.
    closed: bool,
    /// Reused buffer for the percent-decoded path.
    path: Vec<u8>,
    /// Reused buffer for a head whose `HTTP/1.x` version is rewritten to `HTTP/1.1`.
    scratch: Vec<u8>,
    /// The `Date` value, formatted once a second.
    date: DateCache,
    /// Reused buffer for the validators of the file being served.
    validators: Validators,
    /// Reused buffer for the path the cache's fast path `stat`s.
    stat_path: Vec<u8>,
}

/// The result of looking at the start of the unconsumed input.
enum Step {
    /// The head is incomplete (and still within the size limit).
    NeedMore,
    /// A response was written for a head of `head_len` bytes followed by `body`.
    Answered { head_len: usize, body: Body, close: bool },
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
            let rest = input.get(pos..).unwrap_or_default();
            match &mut self.body {
                Body::None => {}
                Body::Length(remaining) => {
                    let skip =
                        usize::try_from(*remaining).map_or(rest.len(), |r| r.min(rest.len()));
                    pos += skip;
                    *remaining -= skip as u64;
                    if *remaining > 0 {
                        break;
                    }
                    self.body = Body::None;
                }
                Body::Chunked(chunked) => match chunked.skip(rest) {
                    Skipped::NeedMore => {
                        pos = input.len();
                        break;
                    }
                    Skipped::Done(used) => {
                        pos += used;
                        self.body = Body::None;
                    }
                    Skipped::Error(_) => {
                        // The answer is out already; nothing after this body can be framed.
                        self.body = Body::None;
                        self.closed = true;
                        break;
                    }
                },
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
                Step::Answered { head_len, body, close } => {
                    pos += head_len;
                    if close {
                        self.closed = true;
                        break;
                    }
                    self.body = body;
                }
            }
        }
        Progress { consumed: pos, close: self.closed }
    }

    /// Whether a request has started but not fully arrived (head or body).
    pub fn has_partial_request(&self) -> bool {
        !self.closed && (self.partial_head || !matches!(self.body, Body::None))
    }

    /// Called when the connection's idle timeout fires: if a request is incomplete, appends
    /// `408 Request Timeout` with `Connection: close` and returns `true`. Either way the caller
    /// closes the connection.
    pub fn on_idle_timeout(&mut self, site: &Site, out: &mut Outbox) -> bool {
        if !self.has_partial_request() {
            return false;
        }
        let date = self.date.at(site.now());
        write_error(out.vec(), Status::RequestTimeout, date, ConnectionHeader::Close, false);
        true
    }

    /// Parses the head at the start of `rest` and answers it.
    fn request(&mut self, site: &Site, rest: &[u8], out: &mut Outbox) -> Step {
        let mut scratch = std::mem::take(&mut self.scratch);
        let step = self.parse_and_answer(site, rest, &mut scratch, out);
        self.scratch = scratch;
        step
    }

    fn parse_and_answer(
        &mut self,
        site: &Site,
        rest: &[u8],
        scratch: &mut Vec<u8>,
        out: &mut Outbox,
    ) -> Step {
        let limits = site.limits();
        // Parsing only a window keeps the outcome independent of how the bytes were split.
        let window = rest.get(..limits.max_head_bytes).unwrap_or(rest);
        // Left uninitialized: httparse writes only the headers it finds, and filling 256 empty
        // ones first cost more than the rest of parsing a small request.
        let mut storage =
            [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS_CAP];
        let max_headers = limits.max_headers.min(MAX_HEADERS_CAP);
        let mut req = httparse::Request::new(&mut []);
        let headers = storage.get_mut(..max_headers).unwrap_or_default();
        let mut parsed = req.parse_with_uninit_headers(window, headers);
        if let Err(httparse::Error::Version) = parsed {
            match version(window) {
                Version::Minor(at) => {
                    // HTTP/1.2 and up: understood as HTTP/1.1 (RFC 9112 section 2.3).
                    scratch.clear();
                    scratch.extend_from_slice(window);
                    if let Some(minor) = scratch.get_mut(at) {
                        *minor = b'1';
                    }
                    req = httparse::Request::new(&mut []);
                    let headers = storage.get_mut(..max_headers).unwrap_or_default();
                    parsed = req.parse_with_uninit_headers(scratch, headers);
                }
                Version::Unsupported => {
                    return self.refuse(site, out, Status::VersionNotSupported, 0, false);
                }
                Version::Invalid => return self.refuse(site, out, Status::BadRequest, 0, false),
            }
        }
        let head_len = match parsed {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if rest.len() < limits.max_head_bytes => {
                return Step::NeedMore;
            }
            Ok(httparse::Status::Partial) => {
                return self.refuse(site, out, too_large(window), 0, false);
            }
            Err(httparse::Error::TooManyHeaders) => {
                return self.refuse(site, out, Status::HeaderFieldsTooLarge, 0, false);
            }
            Err(_) => return self.refuse(site, out, Status::BadRequest, 0, false),
        };
        let method = req.method.unwrap_or_default();
        let head_only = method == "HEAD";
        let version = req.version.unwrap_or(1);
        let fields = Fields::scan(req.headers);
        if fields.bad || fields.hosts > 1 || (version >= 1 && fields.hosts == 0) {
            return self.refuse(site, out, Status::BadRequest, head_len, head_only);
        }
        let body = match fields.transfer {
            Transfer::Chunked | Transfer::Other | Transfer::Bad
                if fields.content_length.is_some() || version == 0 =>
            {
                return self.refuse(site, out, Status::BadRequest, head_len, head_only);
            }
            Transfer::Bad => {
                return self.refuse(site, out, Status::BadRequest, head_len, head_only);
            }
            Transfer::Other => {
                return self.refuse(site, out, Status::NotImplemented, head_len, head_only);
            }
            Transfer::Chunked => {
                Body::Chunked(ChunkedBody::new(limits.max_body_bytes, limits.max_head_bytes))
            }
            Transfer::None => match fields.content_length.unwrap_or(0) {
                len if len > limits.max_body_bytes => {
                    return self.refuse(site, out, Status::ContentTooLarge, head_len, head_only);
                }
                0 => Body::None,
                len => Body::Length(len),
            },
        };
        let keep_alive = if version >= 1 { !fields.close } else { fields.keep_alive };
        let connection = match (keep_alive, version) {
            (false, _) => ConnectionHeader::Close,
            (true, 0) => ConnectionHeader::KeepAlive,
            (true, _) => ConnectionHeader::Omit,
        };
        let forced_close = match method {
            "GET" | "HEAD" => {
                let target = req.path.unwrap_or_default().as_bytes();
                let request = Request { target, head_only, connection, fields: &fields };
                self.serve(site, &request, out)
            }
            _ => {
                let status = if KNOWN_METHODS.contains(&method) {
                    Status::MethodNotAllowed
                } else {
                    Status::NotImplemented
                };
                let date = self.date.at(site.now());
                write_error(out.vec(), status, date, connection, head_only);
                false
            }
        };
        Step::Answered { head_len, body, close: forced_close || !keep_alive }
    }

    /// Writes an error response that closes the connection.
    fn refuse(
        &mut self,
        site: &Site,
        out: &mut Outbox,
        status: Status,
        head_len: usize,
        head_only: bool,
    ) -> Step {
        let date = self.date.at(site.now());
        write_error(out.vec(), status, date, ConnectionHeader::Close, head_only);
        Step::Answered { head_len, body: Body::None, close: true }
    }

    /// Writes the response for a GET or HEAD; returns whether it forced a close.
    fn serve(&mut self, site: &Site, request: &Request<'_, '_>, out: &mut Outbox) -> bool {
        let HttpSession { path: decoded, date, validators, stat_path, .. } = self;
        let now = site.now();
        let date = date.at(now);
        let head_only = request.head_only;
        let connection = request.connection;
        let target = path::split_target(request.target);
        let Ok(target) = target.and_then(|t| path::decode_path(t.path, decoded).map(|()| t)) else {
            write_error(out.vec(), Status::BadRequest, date, ConnectionHeader::Close, head_only);
            return true;
        };
        let Some(root) = site.root() else {
            if decoded == b"/" || decoded == b"/index.html" {
                let head = out.vec();
                response::start(head, Status::Ok, date);
                response::content(head, ContentType::HTML, WELCOME_PAGE.len() as u64);
                response::finish(head, connection);
                if !head_only {
                    head.extend_from_slice(WELCOME_PAGE.as_bytes()); // small: one send
                }
            } else {
                write_error(out.vec(), Status::NotFound, date, connection, head_only);
            }
            return false;
        };
        let relative = path::relative_path(decoded);
        let fields = request.fields;
        // The fast path: a cached small file, found by one `stat` (no open, and one per path
        // per loop turn) and served from memory, with its response fields made when it was
        // cached, when the file is the very version cached (see `Root::peek`, `PeekMemo`).
        if let (Some(cache), None) = (site.cache(), fields.range) {
            let cached = site.peek(&relative, stat_path).and_then(|stamp| cache.get_stamp(&stamp));
            if let Some(cached) = cached.filter(|c| !c.dated_before(response::unix_secs(now))) {
                serve_cached(out, date, fields, &cached, head_only, connection);
                return false;
            }
        }
        let mut file = match root.lookup(&relative) {
            Lookup::Found(file) => file,
            Lookup::Directory if !path::names_directory(decoded) => {
                let status = Status::MovedPermanently;
                write_error_with(out.vec(), status, date, connection, head_only, |head| {
                    head.extend_from_slice(b"Location: ");
                    path::push_directory_location(head, decoded, target.query);
                    head.extend_from_slice(b"\r\n");
                });
                return false;
            }
            Lookup::Directory | Lookup::NotFound | Lookup::Outside => {
                write_error(out.vec(), Status::NotFound, date, connection, head_only);
                return false;
            }
            Lookup::Forbidden => {
                write_error(out.vec(), Status::Forbidden, date, connection, head_only);
                return false;
            }
        };
        let content_type = mime::content_type(&relative);
        validators.set(&file.stamp, response::unix_secs(now));
        let len = file.len();
        if fields.conditions.precondition_failed(validators) {
            let status = Status::PreconditionFailed;
            write_error_with(out.vec(), status, date, connection, head_only, |head| {
                push_etag_and_date(head, validators);
            });
            return false;
        }
        if fields.conditions.not_modified(validators) {
            let head = out.vec();
            response::start(head, Status::NotModified, date);
            push_etag_and_date(head, validators);
            response::finish(head, connection);
            return false;
        }
        let answer = match fields.range {
            Some(value) if !head_only && fields.conditions.range_allowed(validators) => {
                range::evaluate(value, len)
            }
            _ => RangeAnswer::Full,
        };
        match answer {
            RangeAnswer::Unsatisfiable => {
                let status = Status::RangeNotSatisfiable;
                write_error_with(out.vec(), status, date, connection, false, |head| {
                    response::content_range(head, None, len);
                });
                return false;
            }
            RangeAnswer::Partial { first, last } => {
                let head = out.vec();
                response::start(head, Status::PartialContent, date);
                response::content(head, content_type, last - first + 1);
                push_validators(head, validators);
                response::content_range(head, Some((first, last)), len);
                response::finish(head, connection);
                // Streamed from the file like any body: never read into memory.
                out.push_file(file.file, first, last - first + 1);
                return false;
            }
            RangeAnswer::Full => {}
        }
        let head = out.vec();
        response::start(head, Status::Ok, date);
        response::content(head, content_type, len);
        push_validators(head, validators);
        response::finish(head, connection);
        if head_only {
            return false;
        }
        let Some(cache) = site.cache().filter(|c| c.admits(len)) else {
            // Not cached: the body goes from the open file to the socket with `sendfile`. If
            // the file shrinks before it is all sent, the connection closes (the head promised
            // its length); if it grows, only the promised bytes are sent.
            out.push_file(file.file, 0, len);
            return false;
        };
        let bytes = match cache.get(&file) {
            Some(cached) => Arc::clone(&cached.bytes),
            None if !cache.settled(&file) => {
                // Changed a moment ago: not trusted to the cache yet (see `FileCache`).
                out.push_file(file.file, 0, len);
                return false;
            }
            None => match files::read_small(&mut file) {
                Ok(Some(bytes)) => {
                    // Unclamped (settled means the mtime is in the past): a clock set back
                    // later makes `dated_before` send hits the slow way, clamped again.
                    let mut unclamped = Validators::default();
                    unclamped.set(&file.stamp, u64::MAX);
                    let mut fields = Vec::new();
                    response::content(&mut fields, content_type, len);
                    push_validators(&mut fields, &unclamped);
                    cache.insert(&file, bytes.clone(), &unclamped, &fields);
                    bytes
                }
                // The file changed size while being read, or could not be read: its head is
                // out, and its body cannot be sent as promised; close.
                Ok(None) | Err(_) => return true,
            },
        };
        send_bytes(out, bytes);
        false
    }
}

/// Answers a GET or HEAD (without `Range`) of a cached file version: 412 or 304 as the
/// conditions say, else 200 with the fields and bytes made when it was cached.
fn serve_cached(
    out: &mut Outbox,
    date: &[u8],
    fields: &Fields<'_>,
    cached: &Arc<CachedFile>,
    head_only: bool,
    connection: ConnectionHeader,
) {
    let validators = &cached.validators;
    if fields.conditions.precondition_failed(validators) {
        let status = Status::PreconditionFailed;
        write_error_with(out.vec(), status, date, connection, head_only, |head| {
            push_etag_and_date(head, validators);
        });
        return;
    }
    let head = out.vec();
    if fields.conditions.not_modified(validators) {
        response::start(head, Status::NotModified, date);
        push_etag_and_date(head, validators);
        response::finish(head, connection);
        return;
    }
    response::start(head, Status::Ok, date);
    head.extend_from_slice(&cached.fields);
    response::finish(head, connection);
    if !head_only {
        send_bytes(out, Arc::clone(&cached.bytes));
    }
}

/// What `serve` needs to know of a GET or HEAD.
struct Request<'a, 'f> {
    target: &'a [u8],
    head_only: bool,
    connection: ConnectionHeader,
    fields: &'f Fields<'a>,
}

/// Appends `ETag`, `Last-Modified` and `Accept-Ranges` for a file.
fn push_validators(head: &mut Vec<u8>, validators: &Validators) {
    push_etag_and_date(head, validators);
    head.extend_from_slice(b"Accept-Ranges: bytes\r\n");
}

/// Appends `ETag` and `Last-Modified` (all a 304 repeats, RFC 9110 section 15.4.5).
fn push_etag_and_date(head: &mut Vec<u8>, validators: &Validators) {
    response::field(head, "ETag", &validators.etag);
    response::http_date(head, "Last-Modified", validators.last_modified);
}

/// Bodies up to this size are copied after their head (one contiguous send); larger ones are
/// queued as the shared buffer itself. Below it, a copy costs less than a separate chunk and an
/// I/O vector (measured: a 6-byte page went 6% slower when shared).
pub const SHARE_MIN: usize = 1024;

/// Queues a cached body after its head: copied if small, else shared (see [`SHARE_MIN`]).
fn send_bytes(out: &mut Outbox, bytes: Arc<[u8]>) {
    if bytes.len() <= SHARE_MIN {
        out.vec().extend_from_slice(&bytes);
    } else {
        out.push_shared(bytes);
    }
}
