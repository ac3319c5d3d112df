//! The per-connection command loop of the memcached server: reads pipelined commands from the
//! bytes a connection received, runs them against the [`Cache`] and appends memcached's
//! replies, word for word, to an [`Outbox`]. Sans-IO: no socket, no clock (time comes in
//! [`Env`]).
//!
//! # Input: zero-copy, never buffered here
//! A command line is cut with [`Lines`] (at most [`MAX_LINE`] bytes, as memcached) and a data
//! block with [`block`]; both are slices of the input. A storage command whose data has not
//! all arrived consumes nothing: the connection keeps the bytes and offers them again with
//! more. Only what must outlive a call is state here: the rest of a retrieval's key list, a
//! refused data block still to swallow, a bad line still to skip.
//!
//! # Output: bounded by the room mark
//! Before each command, and before each key of a `get`, the loop checks [`Outbox::has_room`];
//! once the output reaches the connection's high watermark it returns what it consumed so far,
//! in the middle of a key list if need be (the keys not yet answered stay unconsumed and are
//! answered when the connection offers them again). So a `get` of ten thousand keys, or a
//! pipeline of `get`s of a large value, holds about one value beyond the watermark, and a key
//! list of any length is answered without being buffered (memcached buffers a long multiget
//! line whole). Values longer than [`SHARE_MIN`](super::store::SHARE_MIN) are queued as the
//! cache's own shared buffer, not copied.
//!
//! # Errors
//! `ERROR` for an unknown command, `CLIENT_ERROR <msg>` and `SERVER_ERROR <msg>` with
//! memcached's messages; `noreply` silences every reply of its command, errors included, as in
//! memcached. A line longer than [`MAX_LINE`] that is not a retrieval is answered
//! `CLIENT_ERROR request too long` and the connection is closed (memcached closes it without
//! a word). A data block too large for an item is refused with `SERVER_ERROR object too large
//! for cache` and swallowed as it arrives, never held.

use super::clock::Deadline;
use super::request::{self, BAD_FORMAT, Line, Refused, parse_i32};
use super::simple::{self, reply};
use super::stats::ConnStats;
use super::store::{Cache, Hit, MAX_ITEM, MAX_KEY, Mode, Outcome, Value, format_u64};
use ioman::net::Outbox;
use ioman::net::framing::{Decoder, Lines, block};
use std::time::Instant;

/// The longest command line, without its line ending (memcached's 2048).
pub const MAX_LINE: usize = 2048;

/// The first byte of a binary-protocol request, which this server does not speak: such a
/// connection is closed at once (no text command starts with it).
const BINARY_MAGIC: u8 = 0x80;

/// What a call needs to know besides the bytes: the time, and the loop's connection counts
/// for `stats`.
#[derive(Clone, Copy, Debug)]
pub struct Env {
    /// The current time (the event loop's turn time).
    pub now: Instant,
    /// Connections and bytes, for `stats`.
    pub conns: ConnStats,
}

impl Env {
    /// An environment at `now` with no connection counts (tests).
    pub fn at(now: Instant) -> Env {
        Env { now, conns: ConnStats::default() }
    }
}

/// What one call of [`Session::on_bytes`] did with its input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes used up; the rest must be passed again, with new bytes after it.
    pub consumed: usize,
    /// Close the connection once the output is flushed (after `quit` or an over-long line).
    pub close: bool,
}

/// Where a connection is in its input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    /// At the start of a command line.
    #[default]
    Ready,
    /// In the key list of a retrieval: `gets`/`gats` send CAS uniques, `gat`/`gats` touch.
    Keys { cas: bool, touch: Option<Deadline> },
    /// Discarding this many bytes of a refused data block (and its `\r\n`).
    Swallow(usize),
    /// Discarding the rest of a line with a bad key.
    SkipLine,
    /// `quit` or a fatal error: everything else is ignored.
    Closed,
}

/// The protocol state of one client connection.
#[derive(Debug, Default)]
pub struct Session {
    state: State,
}

impl Session {
    /// A session at the start of its input.
    pub fn new() -> Session {
        Session::default()
    }

    /// Runs the commands at the start of `input` while `out` has room, appending their
    /// replies to `out`. `input` must begin with the bytes the previous call left unconsumed.
    pub fn on_bytes(
        &mut self,
        cache: &mut Cache,
        env: &Env,
        input: &[u8],
        out: &mut Outbox,
    ) -> Progress {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            let used = match self.state {
                State::Closed => return Progress { consumed: input.len(), close: true },
                State::Swallow(left) => {
                    let n = left.min(rest.len());
                    self.state = if n == left { State::Ready } else { State::Swallow(left - n) };
                    Some(n)
                }
                State::SkipLine => match rest.iter().position(|&b| b == b'\n') {
                    Some(end) => {
                        self.state = State::Ready;
                        Some(end + 1)
                    }
                    None => Some(rest.len()),
                },
                _ if !out.has_room() => None,
                State::Keys { cas, touch } => self.next_key(cache, env, rest, cas, touch, out),
                State::Ready => self.command(cache, env, rest, out),
            };
            match used {
                Some(n) if n > 0 => pos += n,
                _ => return Progress { consumed: pos, close: self.state == State::Closed },
            }
        }
    }

    /// One command at the start of `input`; `None`: it is incomplete.
    fn command(
        &mut self,
        cache: &mut Cache,
        env: &Env,
        input: &[u8],
        out: &mut Outbox,
    ) -> Option<usize> {
        if input.first() == Some(&BINARY_MAGIC) {
            self.state = State::Closed; // a binary-protocol client: it would wait forever
            return Some(input.len());
        }
        let (line, used) = match Lines::new(MAX_LINE).decode(input) {
            Ok(Some(found)) => found,
            Ok(None) => return None,
            Err(_) => return Some(self.long_line(cache, env, input, out)),
        };
        if used < 4 {
            reply(out, false, BAD_FORMAT); // memcached: shorter than "xx\r\n"
            return Some(used);
        }
        let tokens = Line::parse(line);
        let mode = match tokens.get(0) {
            b"get" | b"gets" | b"gat" | b"gats" => {
                return Some(self.retrieval(cache, env, line, used, out));
            }
            b"set" => Mode::Set,
            b"add" => Mode::Add,
            b"replace" => Mode::Replace,
            b"append" => Mode::Append,
            b"prepend" => Mode::Prepend,
            b"cas" => Mode::Cas(0),
            b"quit" => {
                self.state = State::Closed;
                return Some(used);
            }
            _ => {
                simple::run(cache, env, &tokens, out);
                return Some(used);
            }
        };
        self.storage(cache, env, input, &tokens, used, mode, out)
    }

    /// `set`, `add`, `replace`, `append`, `prepend`, `cas`: the line (`used` bytes of `input`)
    /// and its data block; `None` until the whole block is there.
    #[allow(clippy::too_many_arguments, reason = "the parts of one command, passed once")]
    fn storage(
        &mut self,
        cache: &mut Cache,
        env: &Env,
        input: &[u8],
        tokens: &Line<'_>,
        used: usize,
        mode: Mode,
        out: &mut Outbox,
    ) -> Option<usize> {
        let cmd = match request::storage(tokens, mode) {
            Ok(cmd) => cmd,
            Err(Refused::NoBlock) => {
                reply(out, false, BAD_FORMAT);
                return Some(used);
            }
            Err(Refused::Swallow { len, noreply }) => {
                reply(out, noreply, BAD_FORMAT);
                self.state = State::Swallow(len + 2);
                return Some(used);
            }
        };
        let charge = Cache::charge(cmd.key.len(), cmd.len);
        if charge > MAX_ITEM || charge > cache.limit() {
            // Refused before the data arrives; a failed set also drops the old value.
            cache.counters.cmd_set += 1;
            let text = match charge > MAX_ITEM {
                true => {
                    cache.counters.store_too_large += 1;
                    "SERVER_ERROR object too large for cache"
                }
                false => {
                    cache.counters.store_no_memory += 1;
                    "SERVER_ERROR out of memory storing object"
                }
            };
            if cmd.mode == Mode::Set {
                cache.delete(cmd.key, env.now);
            }
            reply(out, cmd.noreply, text);
            self.state = State::Swallow(cmd.len + 2);
            return Some(used);
        }
        let (data, block_len) = match block(&input[used..], cmd.len, b"\r\n", usize::MAX) {
            Ok(None) => return None,
            Ok(Some(found)) => found,
            Err(_) => {
                reply(out, cmd.noreply, "CLIENT_ERROR bad data chunk");
                let (total, here) = (cmd.len + 2, input.len() - used);
                if here < total {
                    self.state = State::Swallow(total - here);
                }
                return Some(used + here.min(total));
            }
        };
        cache.counters.cmd_set += 1;
        let deadline = cache.clock().deadline(cmd.exptime, env.now);
        let result = cache.store(cmd.mode, cmd.key, cmd.flags, deadline, data, env.now);
        let c = &mut cache.counters;
        let text = match result {
            Outcome::Stored if matches!(cmd.mode, Mode::Cas(_)) => {
                c.cas_hits += 1;
                "STORED"
            }
            Outcome::Stored => "STORED",
            Outcome::NotStored => "NOT_STORED",
            Outcome::Exists => {
                c.cas_badval += 1;
                "EXISTS"
            }
            Outcome::NotFound => {
                c.cas_misses += 1;
                "NOT_FOUND"
            }
            Outcome::TooLarge => {
                c.store_too_large += 1;
                "SERVER_ERROR object too large for cache"
            }
            Outcome::NoMemory => {
                c.store_no_memory += 1;
                "SERVER_ERROR out of memory storing object"
            }
        };
        reply(out, cmd.noreply, text);
        Some(used + block_len)
    }

    /// `get|gets <key>*`, `gat|gats <exptime> <key>*` on a complete line: checks the line and
    /// consumes up to the first key; the keys are answered one by one from the input.
    fn retrieval(
        &mut self,
        cache: &mut Cache,
        env: &Env,
        line: &[u8],
        used: usize,
        out: &mut Outbox,
    ) -> usize {
        let Some((cas, exptime, keys_at)) = retrieval_prefix(line) else { return used };
        let has_keys = line[keys_at..].iter().any(|&b| b != b' ');
        if !has_keys || exptime.is_some_and(<[u8]>::is_empty) {
            reply(out, false, BAD_FORMAT);
            return used;
        }
        let touch = match exptime.map(parse_i32) {
            None => None,
            Some(Some(exptime)) => Some(cache.clock().deadline(exptime.into(), env.now)),
            Some(None) => {
                reply(out, false, "CLIENT_ERROR invalid exptime argument");
                return used;
            }
        };
        self.state = State::Keys { cas, touch };
        keys_at
    }

    /// A line over [`MAX_LINE`] bytes: a retrieval's key list is answered as it arrives; any
    /// other line is refused and the connection closed.
    fn long_line(&mut self, cache: &mut Cache, env: &Env, input: &[u8], out: &mut Outbox) -> usize {
        let window = &input[..MAX_LINE];
        match retrieval_prefix(window) {
            Some((cas, exptime, keys_at)) if keys_at < window.len() => {
                match exptime.map(parse_i32) {
                    None => self.state = State::Keys { cas, touch: None },
                    Some(Some(exptime)) => {
                        let touch = Some(cache.clock().deadline(exptime.into(), env.now));
                        self.state = State::Keys { cas, touch };
                    }
                    Some(None) => {
                        reply(out, false, "CLIENT_ERROR invalid exptime argument");
                        self.state = State::SkipLine;
                    }
                }
                keys_at
            }
            _ => {
                reply(out, false, "CLIENT_ERROR request too long");
                self.state = State::Closed;
                input.len()
            }
        }
    }

    /// The next key of a retrieval, or its end (`END`); `None` when the key is incomplete.
    fn next_key(
        &mut self,
        cache: &mut Cache,
        env: &Env,
        input: &[u8],
        cas: bool,
        touch: Option<Deadline>,
        out: &mut Outbox,
    ) -> Option<usize> {
        let spaces = input.iter().take_while(|&&b| b == b' ').count();
        let rest = &input[spaces..];
        let end_of_line = match rest {
            [b'\n', ..] => 1,
            [b'\r', b'\n', ..] => 2,
            [] | [b'\r'] => return Some(spaces),
            _ => 0,
        };
        if end_of_line > 0 {
            out.vec().extend_from_slice(b"END\r\n");
            self.state = State::Ready;
            return Some(spaces + end_of_line);
        }
        let window = &rest[..rest.len().min(MAX_KEY + 2)];
        let Some(end) = window.iter().position(|&b| b == b' ' || b == b'\n') else {
            if rest.len() <= MAX_KEY + 1 {
                return Some(spaces); // the key may still be completed
            }
            reply(out, false, BAD_FORMAT); // a key over 250 bytes
            self.state = State::SkipLine;
            return Some(spaces + window.len());
        };
        let key = &rest[..end];
        let key = if rest[end] == b'\n' { key.strip_suffix(b"\r").unwrap_or(key) } else { key };
        if !request::valid_key(key) {
            reply(out, false, BAD_FORMAT);
            self.state = State::SkipLine;
            return Some(spaces + end);
        }
        let found = match touch {
            None => cache.get(key, env.now).map(|hit| write_value(out, &hit, cas)),
            Some(deadline) => {
                cache.get_and_touch(key, deadline, env.now).map(|hit| write_value(out, &hit, cas))
            }
        };
        let c = &mut cache.counters;
        let (count, hits, misses) = match touch {
            None => (&mut c.cmd_get, &mut c.get_hits, &mut c.get_misses),
            Some(_) => (&mut c.cmd_touch, &mut c.touch_hits, &mut c.touch_misses),
        };
        *count += 1;
        *if found.is_some() { hits } else { misses } += 1;
        Some(spaces + key.len())
    }
}

/// A retrieval command at the start of `line`: (send CAS uniques, the exptime token of
/// `gat`/`gats`, where the keys start). `None` if `line` is no retrieval.
fn retrieval_prefix(line: &[u8]) -> Option<(bool, Option<&[u8]>, usize)> {
    let token = |from: usize| {
        let start = from + line[from..].iter().take_while(|&&b| b == b' ').count();
        let end = start + line[start..].iter().take_while(|&&b| b != b' ').count();
        (&line[start..end], end)
    };
    let (command, end) = token(0);
    let (cas, touch) = match command {
        b"get" => (false, false),
        b"gets" => (true, false),
        b"gat" => (false, true),
        b"gats" => (true, true),
        _ => return None,
    };
    if !touch {
        return Some((cas, None, end));
    }
    let (exptime, end) = token(end);
    Some((cas, Some(exptime), end))
}

/// `VALUE <key> <flags> <bytes> [<cas unique>]\r\n<data>\r\n`; a large value is queued as the
/// cache's shared buffer.
fn write_value(out: &mut Outbox, hit: &Hit<'_>, cas: bool) {
    let v = out.vec();
    let mut digits = [0; 20];
    v.extend_from_slice(b"VALUE ");
    v.extend_from_slice(hit.key);
    v.push(b' ');
    v.extend_from_slice(format_u64(hit.flags.into(), &mut digits));
    v.push(b' ');
    v.extend_from_slice(format_u64(hit.value.bytes().len() as u64, &mut digits));
    if cas {
        v.push(b' ');
        v.extend_from_slice(format_u64(hit.cas, &mut digits));
    }
    v.extend_from_slice(b"\r\n");
    match hit.value {
        Value::Inline(bytes) => v.extend_from_slice(bytes),
        Value::Shared(bytes) => out.push_shared(bytes.clone()),
    }
    out.vec().extend_from_slice(b"\r\n");
}
