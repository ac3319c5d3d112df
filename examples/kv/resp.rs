//! RESP2 framing: an incremental parser for client commands (arrays of bulk strings, or inline
//! lines as telnet and `redis-cli` pipes send, split with Redis's quoting rules) and writers for
//! the reply types.
//!
//! Arguments of an array command are returned as ranges into the caller's input buffer, so
//! parsing a command allocates nothing once the range vector has grown. The parser remembers how
//! far it got in an incomplete command, so a large command arriving in many pieces is scanned
//! once, not once per piece; this relies on the caller passing the same unconsumed bytes again,
//! followed by new ones.
//!
//! # Limits are per argument; memory per command is bounded by `max_command`
//! A bulk string may be up to [`Limits::max_bulk_len`] (one argument, as Redis's
//! `proto-max-bulk-len`), whatever else the command holds, so an MSET of two values just under
//! the limit is valid. A command must be complete before it runs, so its arguments have to be
//! buffered somewhere; they must not all stay in the connection's input, which is capped at one
//! maximal argument plus framing (`server.rs`, `MAX_INPUT`). So once an incomplete command has
//! [`SPILL_MIN`] bytes of complete arguments, [`Parser::spill`] copies them into the parser's
//! own buffer and the caller drops them from its input: the input then holds at most
//! `SPILL_MIN` bytes plus the one argument still arriving. What bounds the memory of a command
//! is [`Limits::max_command`], the total of its argument bytes (checked as each `$<len>` is
//! read, so a command over it is refused before its data arrives); the held buffer's capacity
//! is at most twice that, and it is shrunk back after the command ran ([`Parser::release`]).
//! Redis has no such total (only `maxmemory-clients`, off by default).
//!
//! Inline arguments are unquoted into the same held buffer (they are at most [`MAX_LINE`]).
//!
//! Replies are written into an [`Outbox`]. Small ones are encoded into its owned buffer
//! ([`Outbox::vec`]); a stored value longer than [`SHARE_MIN`] is queued as the store's own
//! shared buffer ([`Outbox::push_shared`]) between its copied `$len\r\n` and `\r\n`, so
//! answering it costs a reference count, not a copy, however often it is asked for.

use ioman::net::Outbox;
use std::ops::Range;
use std::sync::Arc;

/// Longest `*<count>` / `$<len>` line or inline command accepted, as in Redis.
pub const MAX_LINE: usize = 64 * 1024;

/// Complete arguments of an incomplete command are moved out of the input once they reach this
/// many bytes (see the module documentation).
pub const SPILL_MIN: usize = 16 * 1024;

/// The held-argument capacity a parser keeps between commands.
const KEEP_HELD: usize = 64 * 1024;

/// Values longer than this are replied to by sharing the stored buffer; shorter ones are copied,
/// which is cheaper than a separate I/O vector entry and a reference count.
pub const SHARE_MIN: usize = 1024;

/// Limits on what one command may contain and produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk string (one argument), in bytes. Default 64 MiB (Redis allows up to 512 MiB).
    pub max_bulk_len: usize,
    /// Most arguments in one command. Default 1024 * 1024.
    pub max_args: usize,
    /// Most argument bytes one command may hold in total (the bound on what a command buffers
    /// before it runs). Default 256 MiB: four maximal arguments.
    pub max_command: usize,
    /// Largest reply one MGET may produce, in encoded bytes, shared values counted at their
    /// length (as the connection's output cap counts them). Default 128 MiB: two maximal values.
    /// Larger MGETs are answered with an error (see `commands.rs`). Every other reply is at most
    /// one bulk string, so at most `max_bulk_len` plus framing.
    pub max_reply: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bulk_len: 64 * 1024 * 1024,
            max_args: 1024 * 1024,
            max_command: 256 * 1024 * 1024,
            max_reply: 128 * 1024 * 1024,
        }
    }
}

/// A malformed request; the reply is written by [`ProtocolError::write`], then the connection
/// is closed, as Redis does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// `*<count>` is not an integer or exceeds `max_args`.
    InvalidMultibulkLength,
    /// `$<len>` is not an integer, negative, or exceeds `max_bulk_len`.
    InvalidBulkLength,
    /// An array element does not start with `$`; holds the byte found.
    ExpectedDollar(u8),
    /// No CRLF within [`MAX_LINE`] bytes after `*`.
    TooBigMultibulkCount,
    /// No CRLF within [`MAX_LINE`] bytes after `$`.
    TooBigBulkCount,
    /// No newline within [`MAX_LINE`] bytes of an inline command.
    TooBigInline,
    /// A bulk string is not followed by CRLF (Redis does not check this; we do).
    MissingBulkCrlf,
    /// An inline command has an unterminated quote, or a closing quote not followed by a space.
    UnbalancedQuotes,
    /// The command's arguments would exceed [`Limits::max_command`] bytes in total.
    TooBigCommand,
}

impl ProtocolError {
    /// Appends the Redis-style error reply, e.g. `-ERR Protocol error: invalid bulk length`.
    pub fn write(self, out: &mut Outbox) {
        let out = out.vec();
        out.extend_from_slice(b"-ERR Protocol error: ");
        let text: &[u8] = match self {
            ProtocolError::InvalidMultibulkLength => b"invalid multibulk length",
            ProtocolError::InvalidBulkLength => b"invalid bulk length",
            ProtocolError::ExpectedDollar(found) => {
                out.extend_from_slice(b"expected '$', got '");
                // Keep the reply one line even if the offending byte is CR or LF.
                out.push(if found.is_ascii_graphic() || found == b' ' { found } else { b'?' });
                b"'"
            }
            ProtocolError::TooBigMultibulkCount => b"too big mbulk count string",
            ProtocolError::TooBigBulkCount => b"too big bulk count string",
            ProtocolError::TooBigInline => b"too big inline request",
            ProtocolError::MissingBulkCrlf => b"expected CRLF after bulk string",
            ProtocolError::UnbalancedQuotes => b"unbalanced quotes in request",
            ProtocolError::TooBigCommand => b"too big command",
        };
        out.extend_from_slice(text);
        out.extend_from_slice(b"\r\n");
    }
}

/// The outcome of [`Parser::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// The command is incomplete; call again with the same bytes plus more.
    NeedMore,
    /// An empty command (`*0`, `*-1` or a blank inline line) of this many bytes: skip it.
    Empty(usize),
    /// A command of this many bytes; its arguments are in [`Parser::args`].
    Command(usize),
    /// The input is malformed.
    Error(ProtocolError),
}

/// Where the parser stopped inside an incomplete command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    /// Nothing parsed yet.
    #[default]
    Start,
    /// `remaining` bulk strings still to read, the next one starting at `pos`.
    Multibulk { remaining: usize, pos: usize },
    /// An inline command with no newline in its first `scanned` bytes.
    Inline { scanned: usize },
}

/// Where an argument's bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Arg {
    /// In the buffer being parsed.
    Input(Range<usize>),
    /// In the parser's held buffer (unquoted inline arguments, spilled arguments).
    Held(Range<usize>),
}

/// An incremental RESP2 command parser; one per connection.
#[derive(Debug, Default)]
pub struct Parser {
    limits: Limits,
    state: State,
    args: Vec<Arg>,
    /// Argument bytes that are not in the input (see the module documentation).
    held: Vec<u8>,
    /// Argument bytes of the command being parsed, announced so far.
    total: usize,
}

impl Parser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> Parser {
        Parser { limits, state: State::Start, args: Vec::new(), held: Vec::new(), total: 0 }
    }

    /// After [`Parsed::NeedMore`]: if the incomplete command at the start of `buf` has at least
    /// [`SPILL_MIN`] bytes of complete arguments, copies them into the parser and returns how
    /// many bytes of `buf` they (with their framing) took; the caller drops those bytes and
    /// passes the rest, followed by new ones, next time. Otherwise returns 0.
    pub fn spill(&mut self, buf: &[u8]) -> usize {
        let State::Multibulk { remaining, pos } = self.state else { return 0 };
        if pos < SPILL_MIN || pos > buf.len() {
            return 0;
        }
        let Parser { args, held, .. } = self;
        for arg in args.iter_mut() {
            if let Arg::Input(range) = arg {
                let start = held.len();
                held.extend_from_slice(buf.get(range.clone()).unwrap_or_default());
                *arg = Arg::Held(start..held.len());
            }
        }
        self.state = State::Multibulk { remaining, pos: 0 };
        pos
    }

    /// Frees what the last command held beyond a small reserve; call after running it.
    pub fn release(&mut self) {
        self.held.clear();
        self.held.shrink_to(KEEP_HELD);
    }

    /// Bytes the parser holds for the command being parsed (spilled or unquoted arguments).
    pub fn held_len(&self) -> usize {
        self.held.len()
    }

    /// Parses the command at the start of `buf`.
    ///
    /// After [`Parsed::NeedMore`], the next call must pass the same bytes followed by more.
    pub fn parse(&mut self, buf: &[u8]) -> Parsed {
        let resume_at = match self.state {
            State::Start => 0,
            State::Multibulk { pos, .. } => pos,
            State::Inline { scanned } => scanned,
        };
        if resume_at > buf.len() {
            // The caller broke the contract; start over rather than index out of bounds.
            self.state = State::Start;
        }
        if self.state == State::Start {
            self.args.clear();
            self.held.clear();
            self.total = 0;
        }
        // After a spill, the input of a multibulk command resumes at an argument, not at `*`.
        let parsed = match (self.state, buf.first()) {
            (State::Multibulk { .. }, _) => self.multibulk(buf),
            (_, None) => Parsed::NeedMore,
            (_, Some(b'*')) => self.multibulk(buf),
            (_, Some(_)) => self.inline(buf),
        };
        if parsed != Parsed::NeedMore {
            self.state = State::Start;
        }
        parsed
    }

    /// The arguments of the command last returned as [`Parsed::Command`], as views into `buf`
    /// (the same buffer that was parsed).
    pub fn args<'a>(&'a self, buf: &'a [u8]) -> Args<'a> {
        Args { buf, held: &self.held, ranges: &self.args }
    }

    fn multibulk(&mut self, buf: &[u8]) -> Parsed {
        let (mut remaining, mut pos) = match self.state {
            State::Multibulk { remaining, pos } => (remaining, pos),
            _ => match line(buf, 1) {
                Line::Incomplete if buf.len() > MAX_LINE => {
                    return Parsed::Error(ProtocolError::TooBigMultibulkCount);
                }
                Line::Incomplete => return Parsed::NeedMore,
                Line::Bad => return Parsed::Error(ProtocolError::InvalidMultibulkLength),
                Line::Done { value, next } => match parse_i64(value) {
                    Some(count) if count <= 0 => return Parsed::Empty(next),
                    Some(count) if count as u64 <= self.limits.max_args as u64 => {
                        (count as usize, next)
                    }
                    _ => return Parsed::Error(ProtocolError::InvalidMultibulkLength),
                },
            },
        };
        while remaining > 0 {
            match self.bulk(buf, pos) {
                Ok(Some((range, next))) => {
                    self.args.push(Arg::Input(range));
                    pos = next;
                    remaining -= 1;
                }
                Ok(None) => {
                    self.state = State::Multibulk { remaining, pos };
                    return Parsed::NeedMore;
                }
                Err(err) => return Parsed::Error(err),
            }
        }
        Parsed::Command(pos)
    }

    /// Parses the bulk string at `pos`: its data range and where the next element starts, or
    /// `None` if incomplete.
    fn bulk(
        &mut self,
        buf: &[u8],
        pos: usize,
    ) -> Result<Option<(Range<usize>, usize)>, ProtocolError> {
        match buf.get(pos) {
            None => return Ok(None),
            Some(b'$') => {}
            Some(&other) => return Err(ProtocolError::ExpectedDollar(other)),
        }
        let (value, start) = match line(buf, pos + 1) {
            Line::Incomplete if buf.len() - pos > MAX_LINE => {
                return Err(ProtocolError::TooBigBulkCount);
            }
            Line::Incomplete => return Ok(None),
            Line::Bad => return Err(ProtocolError::InvalidBulkLength),
            Line::Done { value, next } => (value, next),
        };
        let len = match parse_i64(value) {
            Some(len) if len >= 0 && len as u64 <= self.limits.max_bulk_len as u64 => len as usize,
            _ => return Err(ProtocolError::InvalidBulkLength),
        };
        if self.total.saturating_add(len) > self.limits.max_command {
            return Err(ProtocolError::TooBigCommand);
        }
        let Some(end) = start.checked_add(len).filter(|end| end.checked_add(2).is_some()) else {
            return Err(ProtocolError::InvalidBulkLength);
        };
        match buf.get(end..end + 2) {
            None => Ok(None),
            Some(b"\r\n") => {
                // Counted once the argument is complete, so resuming never counts it twice.
                self.total = self.total.saturating_add(len);
                Ok(Some((start..end, end + 2)))
            }
            Some(_) => Err(ProtocolError::MissingBulkCrlf),
        }
    }

    fn inline(&mut self, buf: &[u8]) -> Parsed {
        let scanned = match self.state {
            State::Inline { scanned } => scanned,
            _ => 0,
        };
        let unscanned = buf.get(scanned..).unwrap_or_default();
        let Some(newline) = unscanned.iter().position(|&b| b == b'\n').map(|i| i + scanned) else {
            if buf.len() > MAX_LINE {
                return Parsed::Error(ProtocolError::TooBigInline);
            }
            self.state = State::Inline { scanned: buf.len() };
            return Parsed::NeedMore;
        };
        let mut line = buf.get(..newline).unwrap_or_default();
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        if split_inline(line, &mut self.held, &mut self.args).is_none() {
            return Parsed::Error(ProtocolError::UnbalancedQuotes);
        }
        if self.args.is_empty() { Parsed::Empty(newline + 1) } else { Parsed::Command(newline + 1) }
    }
}

/// Splits an inline command line into arguments exactly as Redis's `sdssplitargs` does,
/// appending their bytes to `held`: blanks separate arguments; `"..."` may hold the escapes
/// `\n \r \t \b \a \xHH` (any other escaped byte stands for itself), `'...'` only `\'`; a
/// quote may start inside an argument (`a"b c"` is `ab c`), `""` is an empty argument, and a
/// closing quote must be followed by a blank or the end. As in C, a NUL byte ends the line.
/// Returns `None` for unbalanced quotes.
fn split_inline(line: &[u8], held: &mut Vec<u8>, args: &mut Vec<Arg>) -> Option<()> {
    let line = line.get(..line.iter().position(|&b| b == 0).unwrap_or(line.len()))?;
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    // C's isspace; unquoted arguments end only at the first four and NUL, as in Redis.
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let mut p = 0;
    loop {
        while p < line.len() && is_space(at(p)) {
            p += 1;
        }
        if p >= line.len() {
            return Some(());
        }
        let start = held.len();
        let (mut in_double, mut in_single, mut done) = (false, false, false);
        while !done {
            let c = at(p);
            if in_double {
                match (c, at(p + 1)) {
                    (b'\\', b'x') if hex(at(p + 2)).is_some() && hex(at(p + 3)).is_some() => {
                        held.push(hex(at(p + 2))? * 16 + hex(at(p + 3))?);
                        p += 3;
                    }
                    (b'\\', escaped) if escaped != 0 => {
                        p += 1;
                        held.push(match escaped {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    (b'"', next) if next == 0 || is_space(next) => done = true,
                    (b'"', _) | (0, _) => return None,
                    _ => held.push(c),
                }
            } else if in_single {
                match (c, at(p + 1)) {
                    (b'\\', b'\'') => {
                        p += 1;
                        held.push(b'\'');
                    }
                    (b'\'', next) if next == 0 || is_space(next) => done = true,
                    (b'\'', _) | (0, _) => return None,
                    _ => held.push(c),
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => held.push(c),
                }
            }
            if c != 0 {
                p += 1;
            }
        }
        args.push(Arg::Held(start..held.len()));
    }
}

/// The value of a hexadecimal digit.
fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// A `\r\n`-terminated line starting at some offset.
enum Line<'a> {
    /// No `\r\n` yet.
    Incomplete,
    /// A `\r` not followed by `\n`.
    Bad,
    /// The line's bytes and the offset after its `\r\n`.
    Done { value: &'a [u8], next: usize },
}

fn line(buf: &[u8], from: usize) -> Line<'_> {
    let rest = buf.get(from..).unwrap_or_default();
    let Some(cr) = rest.iter().position(|&b| b == b'\r') else {
        return Line::Incomplete;
    };
    match rest.get(cr + 1) {
        None => Line::Incomplete,
        Some(b'\n') => {
            Line::Done { value: rest.get(..cr).unwrap_or_default(), next: from + cr + 2 }
        }
        Some(_) => Line::Bad,
    }
}

/// The arguments of one command, borrowed from the input buffer.
#[derive(Clone, Copy, Debug)]
pub struct Args<'a> {
    buf: &'a [u8],
    held: &'a [u8],
    ranges: &'a [Arg],
}

impl<'a> Args<'a> {
    /// The number of arguments, including the command name.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether there are no arguments (never true for a parsed command).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Argument `i` (0 is the command name); empty if out of range.
    pub fn get(&self, i: usize) -> &'a [u8] {
        self.ranges.get(i).map(|arg| self.resolve(arg)).unwrap_or_default()
    }

    /// The arguments from `i` on.
    pub fn iter_from(&self, i: usize) -> impl Iterator<Item = &'a [u8]> + Clone + use<'a> {
        let this = *self;
        let ranges = self.ranges.get(i..).unwrap_or_default();
        ranges.iter().map(move |arg| this.resolve(arg))
    }

    fn resolve(&self, arg: &Arg) -> &'a [u8] {
        let (from, range) = match arg {
            Arg::Input(range) => (self.buf, range),
            Arg::Held(range) => (self.held, range),
        };
        from.get(range.clone()).unwrap_or_default()
    }
}

/// Parses a decimal `i64` exactly as Redis's `string2ll` does: optional `-`, no `+`, no
/// leading zeros, no spaces, at most 20 bytes.
pub fn parse_i64(text: &[u8]) -> Option<i64> {
    if text == b"0" {
        return Some(0);
    }
    let (negative, digits) = match text.split_first() {
        Some((b'-', digits)) => (true, digits),
        _ => (false, text),
    };
    if text.len() > 20 || !matches!(digits.first(), Some(b'1'..=b'9')) {
        return None;
    }
    digits.iter().try_fold(0i64, |acc, &b| {
        let digit = i64::from(b.checked_sub(b'0').filter(|d| *d <= 9)?);
        let acc = acc.checked_mul(10)?;
        if negative { acc.checked_sub(digit) } else { acc.checked_add(digit) }
    })
}

/// Formats `n` in decimal into `buf` (20 bytes hold `i64::MIN`); returns the digits.
pub fn format_i64(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut rest = n.unsigned_abs();
    let mut start = buf.len();
    loop {
        start -= 1;
        if let Some(slot) = buf.get_mut(start) {
            *slot = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
        if rest == 0 || start == 0 {
            break;
        }
    }
    if n < 0 && start > 0 {
        start -= 1;
        if let Some(slot) = buf.get_mut(start) {
            *slot = b'-';
        }
    }
    buf.get(start..).unwrap_or_default()
}

/// Appends `n` in decimal without allocating.
pub fn push_i64(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(format_i64(n, &mut [0; 20]));
}

/// The number of decimal digits of `n`.
fn digits(mut n: usize) -> usize {
    let mut count = 1;
    while n >= 10 {
        n /= 10;
        count += 1;
    }
    count
}

/// The encoded size of a bulk string reply of `len` bytes: `$len\r\n` + data + `\r\n`.
pub fn bulk_reply_len(len: usize) -> usize {
    (1 + digits(len) + 2).saturating_add(len).saturating_add(2)
}

/// The encoded size of an array header for `len` elements: `*len\r\n`.
pub fn array_header_len(len: usize) -> usize {
    1 + digits(len) + 2
}

/// The encoded size of the null bulk reply, `$-1\r\n`.
pub const NULL_REPLY_LEN: usize = 5;

/// Appends a simple string reply: `+text\r\n`.
pub fn write_simple(out: &mut Outbox, text: &str) {
    let out = out.vec();
    out.push(b'+');
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends an error reply: `-text\r\n`, where `text` starts with the error code (`ERR ...`).
pub fn write_error(out: &mut Outbox, text: &str) {
    let out = out.vec();
    out.push(b'-');
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends an integer reply: `:n\r\n`.
pub fn write_integer(out: &mut Outbox, n: i64) {
    let out = out.vec();
    out.push(b':');
    push_i64(out, n);
    out.extend_from_slice(b"\r\n");
}

/// Appends a bulk string reply, `$len\r\ndata\r\n`, copying `data`.
pub fn write_bulk(out: &mut Outbox, data: &[u8]) {
    let out = out.vec();
    push_bulk_header(out, data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends a stored value as a bulk string reply: copied if it is at most [`SHARE_MIN`] bytes,
/// otherwise queued as the shared buffer itself (no copy, however large).
pub fn write_value(out: &mut Outbox, value: &Arc<[u8]>) {
    if value.len() <= SHARE_MIN {
        return write_bulk(out, value);
    }
    push_bulk_header(out.vec(), value.len());
    out.push_shared(Arc::clone(value));
    out.vec().extend_from_slice(b"\r\n");
}

/// `$len\r\n`
fn push_bulk_header(out: &mut Vec<u8>, len: usize) {
    out.push(b'$');
    push_i64(out, i64::try_from(len).unwrap_or(i64::MAX));
    out.extend_from_slice(b"\r\n");
}

/// Appends the null bulk reply: `$-1\r\n`.
pub fn write_null(out: &mut Outbox) {
    out.vec().extend_from_slice(b"$-1\r\n");
}

/// Appends an array header, `*len\r\n`; the `len` elements follow.
pub fn write_array_len(out: &mut Outbox, len: usize) {
    let out = out.vec();
    out.push(b'*');
    push_i64(out, i64::try_from(len).unwrap_or(i64::MAX));
    out.extend_from_slice(b"\r\n");
}
