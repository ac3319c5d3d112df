//! Turns a request target into a safe relative file path, or says why it cannot.
//!
//! This is the lexical half of path safety: strip the query, percent-decode, refuse NUL and
//! `..` segments. The other half (canonicalizing and checking the result stays under the root,
//! which also catches symlinks) lives in `files`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Why a request target was refused; both are answered with 400.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetError {
    /// Not origin-form (`/...`), a bad `%XX` escape, or a NUL byte.
    Malformed,
    /// A `..` segment after decoding (including `%2e%2e` and `..%2f` tricks).
    Traversal,
}

/// Decodes the path part of an origin-form `target` into `decoded` (cleared first).
///
/// The query (`?...`) and fragment (`#...`) are dropped. On success `decoded` starts with `/`
/// and contains no NUL byte and no `..` segment; it may contain any other byte (Linux file names
/// are bytes, not UTF-8).
pub fn decode_target(target: &[u8], decoded: &mut Vec<u8>) -> Result<(), TargetError> {
    decoded.clear();
    if target.first() != Some(&b'/') {
        return Err(TargetError::Malformed);
    }
    let end = target.iter().position(|&b| b == b'?' || b == b'#').unwrap_or(target.len());
    let mut rest = target.get(..end).unwrap_or_default();
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

/// Builds the relative file path for a decoded target: empty and `.` segments are dropped, and a
/// target ending in `/` (including `/` itself) names that directory's `index.html`.
pub fn relative_path(decoded: &[u8]) -> PathBuf {
    let mut path = PathBuf::new();
    for segment in decoded.split(|&b| b == b'/') {
        if !segment.is_empty() && segment != b"." {
            // A segment holds no `/`, so pushing it can never make the path absolute.
            path.push(OsStr::from_bytes(segment));
        }
    }
    if decoded.ends_with(b"/") || path.as_os_str().is_empty() {
        path.push("index.html");
    }
    path
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}
