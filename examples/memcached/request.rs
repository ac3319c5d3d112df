//! Reading a memcached command line, without copying or allocating: splitting it into
//! space-separated tokens, the numbers as memcached reads them (decimal digits only; a `-` only
//! where a signed value is allowed), keys (at most 250 bytes, no control characters), the
//! trailing `noreply`, and the storage command line with its two kinds of failure (a line
//! whose data block cannot be found, and a line whose data block must be swallowed).

use super::store::{MAX_KEY, Mode};

/// Tokens kept by position; a command needs at most 7, the rest only count.
const KEPT: usize = 8;

/// `CLIENT_ERROR bad command line format`: memcached's answer to most malformed lines.
pub const BAD_FORMAT: &str = "CLIENT_ERROR bad command line format";

/// A command line split at spaces (runs of spaces count as one; leading and trailing spaces
/// are ignored).
#[derive(Clone, Copy, Debug)]
pub struct Line<'a> {
    kept: [&'a [u8]; KEPT],
    count: usize,
    last: &'a [u8],
}

impl<'a> Line<'a> {
    /// Splits `line` (without its line ending).
    pub fn parse(line: &'a [u8]) -> Line<'a> {
        let mut parsed = Line { kept: [&[]; KEPT], count: 0, last: &[] };
        for token in line.split(|&b| b == b' ').filter(|t| !t.is_empty()) {
            if let Some(slot) = parsed.kept.get_mut(parsed.count) {
                *slot = token;
            }
            parsed.count += 1;
            parsed.last = token;
        }
        parsed
    }

    /// The number of tokens, the command included.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the line has no token.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Token `i` (0: the command), or empty.
    pub fn get(&self, i: usize) -> &'a [u8] {
        if i < self.count { self.kept.get(i).copied().unwrap_or_default() } else { &[] }
    }

    /// Whether the last token (not the command) is `noreply`.
    pub fn noreply(&self) -> bool {
        self.count > 1 && self.last == b"noreply"
    }
}

/// A number of decimal digits only, as memcached's `mcmc_toktou64` reads it.
pub fn parse_u64(token: &[u8]) -> Option<u64> {
    if token.is_empty() || token.len() > 20 {
        return None;
    }
    token.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// A `u32` of decimal digits only.
pub fn parse_u32(token: &[u8]) -> Option<u32> {
    parse_u64(token).and_then(|n| u32::try_from(n).ok())
}

/// An `i32`: an optional `-`, then decimal digits.
pub fn parse_i32(token: &[u8]) -> Option<i32> {
    match token.strip_prefix(b"-") {
        Some(digits) => i32::try_from(-i64::try_from(parse_u64(digits)?).ok()?).ok(),
        None => i32::try_from(parse_u64(token)?).ok(),
    }
}

/// Whether `key` can be a key: 1 to 250 bytes, none of them a control character (spaces
/// cannot occur: they separate tokens).
pub fn valid_key(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY && !key.iter().any(|b| b.is_ascii_control())
}

/// A storage command line: `set|add|replace|append|prepend <key> <flags> <exptime> <bytes>
/// [noreply]` or `cas <key> <flags> <exptime> <bytes> <cas unique> [noreply]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Storage<'a> {
    /// What to do.
    pub mode: Mode,
    /// The key.
    pub key: &'a [u8],
    /// The client's flags.
    pub flags: u32,
    /// The expiration time as sent.
    pub exptime: i64,
    /// The data block's length.
    pub len: usize,
    /// Reply nothing.
    pub noreply: bool,
}

/// Why a storage line was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The data block's length is unknown (too few tokens, a bad or negative length): answer
    /// the error, and read what follows as commands.
    NoBlock,
    /// The line is bad but the length is known: answer `CLIENT_ERROR bad command line format`
    /// (unless `noreply`) and swallow `len` bytes of data and its `\r\n`, as memcached does.
    Swallow {
        /// The data block's length.
        len: usize,
        /// Reply nothing.
        noreply: bool,
    },
}

/// Reads a storage command line (`line.get(0)` is the command; `mode` what it means; the cas
/// unique of `cas` is read here).
pub fn storage<'a>(line: &Line<'a>, mode: Mode) -> Result<Storage<'a>, Refused> {
    if line.len() < 5 {
        return Err(Refused::NoBlock);
    }
    let len = parse_i32(line.get(4)).and_then(|n| usize::try_from(n).ok());
    let Some(len) = len.filter(|n| *n <= i32::MAX as usize - 2) else {
        return Err(Refused::NoBlock);
    };
    let noreply = line.noreply();
    let refused = Refused::Swallow { len, noreply };
    let key = line.get(1);
    let (Some(flags), Some(exptime)) = (parse_u32(line.get(2)), parse_i32(line.get(3))) else {
        return Err(refused);
    };
    if !valid_key(key) {
        return Err(refused);
    }
    let mode = match mode {
        Mode::Cas(_) => Mode::Cas(parse_u64(line.get(5)).ok_or(refused)?),
        mode => mode,
    };
    Ok(Storage { mode, key, flags, exptime: exptime.into(), len, noreply })
}
