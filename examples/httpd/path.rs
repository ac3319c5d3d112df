//! Turns a request target into a safe relative file path, or says why it cannot; and builds the
//! `Location` of a directory's redirect.
//!
//! This is the lexical half of path safety: take the path of an origin-form (`/a/b?q`) or
//! absolute-form (`http://host/a/b?q`, RFC 9112 §3.2.2) target, percent-decode it, refuse NUL
//! and `..` segments. The other half (resolving beneath the root, which also catches symlinks)
//! lives in `files`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Why a request target was refused; both are answered with 400.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetError {
    /// Neither origin-form nor an `http`/`https` absolute-form with a host and no userinfo, a
    /// bad `%XX` escape, or a NUL byte.
    Malformed,
    /// A `..` segment after decoding (including `%2e%2e` and `..%2f` tricks).
    Traversal,
}

/// The parts of a request target the server uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target<'a> {
    /// The path, still percent-encoded; always starts with `/`.
    pub path: &'a [u8],
    /// The query after `?` (without it), if any; the fragment is dropped.
    pub query: Option<&'a [u8]>,
}

/// Splits an origin-form or absolute-form `target` into path and query. The authority of an
/// absolute-form target replaces `Host` (RFC 9112 §3.2.2); as this server has no virtual hosts
/// it is only checked to be present and without userinfo (RFC 9110 §4.2.4).
pub fn split_target(target: &[u8]) -> Result<Target<'_>, TargetError> {
    let rest = if target.first() == Some(&b'/') {
        target
    } else {
        let after_scheme = strip_prefix_ignore_case(target, b"http://")
            .or_else(|| strip_prefix_ignore_case(target, b"https://"))
            .ok_or(TargetError::Malformed)?;
        let end = after_scheme
            .iter()
            .position(|&b| matches!(b, b'/' | b'?' | b'#'))
            .unwrap_or(after_scheme.len());
        let (authority, rest) = after_scheme.split_at(end);
        if authority.is_empty() || authority.contains(&b'@') {
            return Err(TargetError::Malformed);
        }
        rest
    };
    let end = rest.iter().position(|&b| b == b'#').unwrap_or(rest.len());
    let rest = rest.get(..end).unwrap_or_default();
    let (path, query) = match rest.iter().position(|&b| b == b'?') {
        Some(q) => (rest.get(..q).unwrap_or_default(), rest.get(q + 1..)),
        None => (rest, None),
    };
    // `http://host` and `http://host?q` name the root (RFC 9112 §3.2.2).
    let path = if path.is_empty() { b"/".as_slice() } else { path };
    Ok(Target { path, query })
}

fn strip_prefix_ignore_case<'a>(bytes: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = bytes.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| bytes.get(prefix.len()..).unwrap_or_default())
}

/// Decodes a target's `path` (from [`split_target`]) into `decoded` (cleared first).
///
/// On success `decoded` starts with `/` and contains no NUL byte and no `..` segment; it may
/// contain any other byte (Linux file names are bytes, not UTF-8).
pub fn decode_path(path: &[u8], decoded: &mut Vec<u8>) -> Result<(), TargetError> {
    decoded.clear();
    if path.first() != Some(&b'/') {
        return Err(TargetError::Malformed);
    }
    let mut rest = path;
    while let Some((&byte, tail)) = rest.split_first() {
        let (byte, tail) = if byte == b'%' {
            match tail {
                [hi, lo, tail @ ..] => match (hex(*hi), hex(*lo)) {
                    (Some(hi), Some(lo)) => (hi << 4 | lo, tail),
                    _ => return Err(TargetError::Malformed),
                },
                _ => return Err(TargetError::Malformed),
            }
        } else {
            (byte, tail)
        };
        if byte == 0 {
            return Err(TargetError::Malformed);
        }
        decoded.push(byte);
        rest = tail;
    }
    if decoded.split(|&b| b == b'/').any(|segment| segment == b"..") {
        return Err(TargetError::Traversal);
    }
    Ok(())
}

/// Decodes the path of an origin-form or absolute-form `target` into `decoded`: [`split_target`]
/// then [`decode_path`].
pub fn decode_target(target: &[u8], decoded: &mut Vec<u8>) -> Result<(), TargetError> {
    decode_path(split_target(target)?.path, decoded)
}

/// Whether a decoded path names a directory's contents: it ends in `/` (or `/.`).
pub fn names_directory(decoded: &[u8]) -> bool {
    decoded.ends_with(b"/") || decoded.ends_with(b"/.")
}

/// Builds the relative file path for a decoded target: empty and `.` segments are dropped, and a
/// target naming a directory ([`names_directory`], including `/` itself) names its
/// `index.html`.
pub fn relative_path(decoded: &[u8]) -> PathBuf {
    let mut path = PathBuf::new();
    for segment in decoded.split(|&b| b == b'/') {
        if !segment.is_empty() && segment != b"." {
            // A segment holds no `/`, so pushing it can never make the path absolute.
            path.push(OsStr::from_bytes(segment));
        }
    }
    if names_directory(decoded) || path.as_os_str().is_empty() {
        path.push("index.html");
    }
    path
}

/// Appends the `Location` of the redirect for a directory named without its trailing slash:
/// the decoded path's segments re-encoded, then `/`, then the query as received (bytes outside
/// ASCII percent-encoded). Empty and `.` segments are dropped, so the value is always a path
/// starting with one `/`, never `//host` (an open redirect).
pub fn push_directory_location(out: &mut Vec<u8>, decoded: &[u8], query: Option<&[u8]>) {
    for segment in decoded.split(|&b| b == b'/') {
        if !segment.is_empty() && segment != b"." {
            out.push(b'/');
            for &b in segment {
                push_encoded(out, b, b"-._~!$&'()*+,;=:@");
            }
        }
    }
    out.push(b'/');
    if let Some(query) = query {
        out.push(b'?');
        for &b in query {
            push_encoded(out, b, b"-._~!$&'()*+,;=:@/?%");
        }
    }
}

/// Appends `b` as is if it is alphanumeric or in `keep`, else as `%XX`.
fn push_encoded(out: &mut Vec<u8>, b: u8, keep: &[u8]) {
    if b.is_ascii_alphanumeric() || keep.contains(&b) {
        out.push(b);
    } else {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
    }
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}
