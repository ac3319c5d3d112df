//! What a request head says, apart from its target: the version of a request line `httparse`
//! refused, the status for a head over the limit, the method's kind, and one pass over the
//! header fields for framing (`Content-Length`, `Transfer-Encoding`), connection reuse and the
//! conditional and range fields.

use super::conditional::Conditions;
use super::response::Status;

/// Known methods this server does not allow (405, not 501): RFC 9110's, PATCH and WebDAV's.
pub const KNOWN_METHODS: &[&str] = &[
    "POST",
    "PUT",
    "DELETE",
    "CONNECT",
    "OPTIONS",
    "TRACE",
    "PATCH",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
];

/// The status for a head that does not fit in the limit: 414 if its request line alone does
/// not (after a method and a space: the target is what is long), else 431.
pub fn too_large(window: &[u8]) -> Status {
    match (window.contains(&b'\n'), window.contains(&b' ')) {
        (true, _) => Status::HeaderFieldsTooLarge,
        (false, true) => Status::UriTooLong,
        (false, false) => Status::BadRequest,
    }
}

/// What the request line's version says, when `httparse` refused it.
pub enum Version {
    /// `HTTP/1.x` with x above 1: the offset of x, to be read as 1.
    Minor(usize),
    /// A well-formed version with another major number (`HTTP/2.0`, `HTTP/0.9`).
    Unsupported,
    /// Not an HTTP version.
    Invalid,
}

/// Looks at the version of the request line at the start of `window` (the part after its last
/// space).
pub fn version(window: &[u8]) -> Version {
    let line_end = window.iter().position(|&b| b == b'\n').unwrap_or(window.len());
    let line = window.get(..line_end).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(space) = line.iter().rposition(|&b| b == b' ') else { return Version::Invalid };
    let at = space + 1;
    match line.get(at..).unwrap_or_default() {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit() => {
            Version::Minor(at + 7)
        }
        [b'H', b'T', b'T', b'P', b'/', major, rest @ ..]
            if major.is_ascii_digit()
                && *major != b'1'
                && matches!(rest, [] | [b'.'] | [b'.', b'0'..=b'9']) =>
        {
            Version::Unsupported
        }
        _ => Version::Invalid,
    }
}

/// How the request body is framed by `Transfer-Encoding`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transfer {
    /// No `Transfer-Encoding`.
    #[default]
    None,
    /// Exactly `chunked`.
    Chunked,
    /// Other codings, then `chunked`.
    Other,
    /// Not ending in `chunked`, `chunked` twice, or empty.
    Bad,
}

/// What the header fields say about framing, connection reuse and conditions, gathered in
/// one pass.
#[derive(Default)]
pub struct Fields<'a> {
    pub content_length: Option<u64>,
    pub transfer: Transfer,
    pub hosts: usize,
    pub close: bool,
    pub keep_alive: bool,
    /// An unparsable or conflicting `Content-Length`.
    pub bad: bool,
    pub conditions: Conditions<'a>,
    /// `Range`, if it appeared exactly once.
    pub range: Option<&'a [u8]>,
}

impl<'a> Fields<'a> {
    pub fn scan(headers: &[httparse::Header<'a>]) -> Fields<'a> {
        let mut fields = Fields::default();
        let (mut codings, mut chunked, mut last_chunked, mut te_lines) = (0, 0, false, 0);
        let (mut ranges, mut none_match, mut matches) = (0, 0, 0);
        for header in headers {
            let name = header.name;
            let value = header.value;
            if name.eq_ignore_ascii_case("host") {
                fields.hosts += 1;
            } else if name.eq_ignore_ascii_case("content-length") {
                match parse_length(value) {
                    Some(len) if fields.content_length.is_none_or(|seen| seen == len) => {
                        fields.content_length = Some(len);
                    }
                    _ => fields.bad = true,
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                te_lines += 1;
                for coding in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    if coding.is_empty() {
                        continue;
                    }
                    codings += 1;
                    last_chunked = coding.eq_ignore_ascii_case(b"chunked");
                    chunked += usize::from(last_chunked);
                }
            } else if name.eq_ignore_ascii_case("connection") {
                for token in value.split(|&b| b == b',') {
                    let token = token.trim_ascii();
                    fields.close |= token.eq_ignore_ascii_case(b"close");
                    fields.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            } else if name.eq_ignore_ascii_case("if-none-match") {
                match none_match {
                    0 => fields.conditions.if_none_match = Some(value),
                    n => {
                        if let Some(slot) = fields.conditions.more_none_match.get_mut(n - 1) {
                            *slot = Some(value);
                        }
                    }
                }
                none_match += 1;
            } else if name.eq_ignore_ascii_case("if-match") {
                match matches {
                    0 => fields.conditions.if_match = Some(value),
                    n => {
                        if let Some(slot) = fields.conditions.more_match.get_mut(n - 1) {
                            *slot = Some(value);
                        }
                    }
                }
                matches += 1;
            } else if name.eq_ignore_ascii_case("if-unmodified-since") {
                fields.conditions.repeated |= fields.conditions.if_unmodified_since.is_some();
                fields.conditions.if_unmodified_since = Some(value);
            } else if name.eq_ignore_ascii_case("if-modified-since") {
                fields.conditions.repeated |= fields.conditions.if_modified_since.is_some();
                fields.conditions.if_modified_since = Some(value);
            } else if name.eq_ignore_ascii_case("if-range") {
                fields.conditions.repeated |= fields.conditions.if_range.is_some();
                fields.conditions.if_range = Some(value);
            } else if name.eq_ignore_ascii_case("range") {
                ranges += 1;
                fields.range = Some(value);
            }
        }
        if ranges > 1 {
            fields.range = None;
        }
        if fields.conditions.repeated {
            // A field defined as one value, given twice: ignored (RFC 9110 section 13.1.3).
            fields.conditions.if_modified_since = None;
            fields.conditions.if_unmodified_since = None;
        }
        fields.transfer = match (te_lines, codings, chunked, last_chunked) {
            (0, ..) => Transfer::None,
            (_, 1, 1, true) => Transfer::Chunked,
            (_, _, 1, true) => Transfer::Other,
            _ => Transfer::Bad,
        };
        fields.keep_alive &= !fields.close;
        fields
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
