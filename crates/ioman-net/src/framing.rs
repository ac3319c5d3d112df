//! Framing helpers: split a [`Protocol`](crate::Protocol)'s `input` into frames and say how many
//! bytes each used, and write frames into an [`Outbox`]. Sans-IO and zero-copy: a decoded frame
//! is a slice of the input, nothing is allocated per frame, and every decoder has a size cap,
//! so a peer announcing gigabytes gets a [`FrameError`] instead of a buffer.
//!
//! | framing | decode | encode |
//! |---|---|---|
//! | lines ending in LF or CRLF, with a length cap | [`Lines`] | [`Lines::encode`] |
//! | frames ending in any delimiter | [`Delimited`] | [`Delimited::encode`] |
//! | a u8/u16/u32/u64 length prefix, big or little endian, counting the header or not | [`LengthPrefixed`] | [`LengthPrefixed::encode`] |
//! | a line, then N bytes and a terminator (memcached data blocks, RESP bulk strings) | [`block`] | [`encode_block`] |
//!
//! Every decoder answers the same way: `Ok(Some((frame, used)))` for a complete frame that
//! took `used` bytes from the start of `input`, `Ok(None)` when the frame is incomplete (leave
//! the input unconsumed: the connection offers it again with more bytes), or an error when it
//! can never become a valid frame. [`Frames`] walks a whole input with any decoder.
//!
//! ```
//! use ioman::net::framing::{Frames, Lines};
//! use ioman::net::{Outbox, ProtoContext, Protocol};
//!
//! /// Answers every line with its length; lines are at most 1 KiB.
//! struct Lengths;
//!
//! impl Protocol for Lengths {
//!     fn on_data(&mut self, input: &[u8], out: &mut Outbox, cx: &mut ProtoContext<'_>) -> usize {
//!         let mut frames = Frames::new(Lines::new(1024), input);
//!         for line in frames.by_ref() {
//!             match line {
//!                 Ok(line) => Lines::encode(line.len().to_string().as_bytes(), out),
//!                 Err(_) => cx.close(), // a line over 1 KiB
//!             }
//!             if !out.has_room() {
//!                 break; // the rest is offered again once the output drained
//!             }
//!         }
//!         frames.consumed()
//!     }
//! }
//! ```

use crate::Outbox;

/// Why input can never become a valid frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame is (or announces that it is) longer than the decoder's cap.
    #[error("frame longer than the limit of {limit} bytes")]
    TooLong {
        /// The cap that was passed.
        limit: usize,
    },
    /// The bytes are not a frame of this kind (e.g. a data block not followed by its
    /// terminator, or a length prefix smaller than its own header).
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
}

/// A decoded frame and the bytes it took from the start of the input; `None`: incomplete.
pub type Decoded<'a> = Result<Option<(&'a [u8], usize)>, FrameError>;

/// Something that cuts the first frame off the start of an input.
pub trait Decoder {
    /// The first frame of `input` (see the [module docs](self) for the three answers).
    fn decode<'a>(&self, input: &'a [u8]) -> Decoded<'a>;
}

/// Lines ending in `\n` or `\r\n`; the frame is the line without its ending. A line longer
/// than the cap (without its ending) is [`FrameError::TooLong`] as soon as that many bytes
/// arrived without an ending: the decoder never scans more than `max + 2` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lines {
    max: usize,
}

impl Lines {
    /// Lines of at most `max` bytes (without the ending).
    pub const fn new(max: usize) -> Lines {
        Lines { max }
    }

    /// Appends `line` and `\r\n` to `out`.
    pub fn encode(line: &[u8], out: &mut Outbox) {
        let v = out.vec();
        v.extend_from_slice(line);
        v.extend_from_slice(b"\r\n");
    }
}

impl Decoder for Lines {
    fn decode<'a>(&self, input: &'a [u8]) -> Decoded<'a> {
        let window = &input[..input.len().min(self.max.saturating_add(2))];
        match window.iter().position(|&b| b == b'\n') {
            Some(end) => {
                let line = &input[..end];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.len() > self.max {
                    return Err(FrameError::TooLong { limit: self.max });
                }
                Ok(Some((line, end + 1)))
            }
            // Past `max` bytes, only a `\r` right after them may still become a line ending.
            None if input.len() > self.max
                && !(input.len() == self.max + 1 && input[self.max] == b'\r') =>
            {
                Err(FrameError::TooLong { limit: self.max })
            }
            None => Ok(None),
        }
    }
}

/// Frames ending in a delimiter (any non-empty byte string); the frame is what comes before
/// it. A frame longer than the cap is [`FrameError::TooLong`] as soon as that is certain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delimited<D = &'static [u8]> {
    delimiter: D,
    max: usize,
}

impl<D: AsRef<[u8]>> Delimited<D> {
    /// Frames of at most `max` bytes before `delimiter`, which must not be empty (an empty
    /// delimiter is taken as `\0`).
    pub fn new(delimiter: D, max: usize) -> Delimited<D> {
        Delimited { delimiter, max }
    }

    fn delimiter(&self) -> &[u8] {
        match self.delimiter.as_ref() {
            [] => b"\0",
            d => d,
        }
    }

    /// Appends `frame` and the delimiter to `out`.
    pub fn encode(&self, frame: &[u8], out: &mut Outbox) {
        let v = out.vec();
        v.extend_from_slice(frame);
        v.extend_from_slice(self.delimiter());
    }
}

impl<D: AsRef<[u8]>> Decoder for Delimited<D> {
    fn decode<'a>(&self, input: &'a [u8]) -> Decoded<'a> {
        let delimiter = self.delimiter();
        let window = &input[..input.len().min(self.max.saturating_add(delimiter.len()))];
        match window.windows(delimiter.len()).position(|w| w == delimiter) {
            Some(end) => Ok(Some((&input[..end], end + delimiter.len()))),
            None if input.len() >= self.max.saturating_add(delimiter.len()) => {
                Err(FrameError::TooLong { limit: self.max })
            }
            None => Ok(None),
        }
    }
}

/// The width of a length prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// One byte.
    U8,
    /// Two bytes.
    U16,
    /// Four bytes.
    U32,
    /// Eight bytes.
    U64,
}

impl Width {
    /// The header's size in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            Width::U8 => 1,
            Width::U16 => 2,
            Width::U32 => 4,
            Width::U64 => 8,
        }
    }
}

/// Frames preceded by their length: a `u8`, `u16`, `u32` or `u64`, big endian (network order,
/// the default) or little endian, counting only the payload (the default) or the header too.
/// The frame is the payload. A length above the cap is [`FrameError::TooLong`] as soon as the
/// header arrived, before any payload is waited for.
///
/// ```
/// use ioman::net::framing::{Decoder, LengthPrefixed, Width};
/// let codec = LengthPrefixed::new(Width::U16, 1024);
/// assert_eq!(codec.decode(b"\x00\x03abcNEXT"), Ok(Some((&b"abc"[..], 5))));
/// assert_eq!(codec.decode(b"\x00\x03ab"), Ok(None));
/// assert!(codec.decode(b"\xff\xff").is_err()); // 65,535 > 1,024: refused at once
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LengthPrefixed {
    width: Width,
    little_endian: bool,
    includes_header: bool,
    max: usize,
}

impl LengthPrefixed {
    /// Big-endian `width` prefixes counting the payload only; payloads of at most `max` bytes.
    pub const fn new(width: Width, max: usize) -> LengthPrefixed {
        LengthPrefixed { width, little_endian: false, includes_header: false, max }
    }

    /// The prefix is little endian.
    pub const fn little_endian(mut self) -> LengthPrefixed {
        self.little_endian = true;
        self
    }

    /// The prefix counts its own bytes too (the whole frame's length).
    pub const fn length_includes_header(mut self) -> LengthPrefixed {
        self.includes_header = true;
        self
    }

    /// The largest payload this codec accepts: the cap, and what the prefix can express.
    fn limit(&self) -> u64 {
        let header = self.width.bytes() as u64;
        let expressible = match self.width {
            Width::U8 => u8::MAX as u64,
            Width::U16 => u16::MAX as u64,
            Width::U32 => u32::MAX as u64,
            Width::U64 => u64::MAX,
        };
        let expressible = if self.includes_header { expressible - header } else { expressible };
        expressible.min(self.max as u64)
    }

    /// Appends the prefix and `payload` to `out`; [`FrameError::TooLong`] (and nothing
    /// written) if the payload is over the cap or what the prefix can express.
    pub fn encode(&self, payload: &[u8], out: &mut Outbox) -> Result<(), FrameError> {
        let len = payload.len() as u64;
        if len > self.limit() {
            return Err(FrameError::TooLong { limit: self.limit() as usize });
        }
        let n = len + if self.includes_header { self.width.bytes() as u64 } else { 0 };
        let bytes = if self.little_endian { n.to_le_bytes() } else { n.to_be_bytes() };
        let header = match self.little_endian {
            true => &bytes[..self.width.bytes()],
            false => &bytes[8 - self.width.bytes()..],
        };
        let v = out.vec();
        v.extend_from_slice(header);
        v.extend_from_slice(payload);
        Ok(())
    }
}

impl Decoder for LengthPrefixed {
    fn decode<'a>(&self, input: &'a [u8]) -> Decoded<'a> {
        let header = self.width.bytes();
        let Some(prefix) = input.get(..header) else { return Ok(None) };
        let mut bytes = [0u8; 8];
        match self.little_endian {
            true => bytes[..header].copy_from_slice(prefix),
            false => bytes[8 - header..].copy_from_slice(prefix),
        }
        let n =
            if self.little_endian { u64::from_le_bytes(bytes) } else { u64::from_be_bytes(bytes) };
        let len = match self.includes_header {
            true => n.checked_sub(header as u64).ok_or(FrameError::Malformed(
                "the length prefix is smaller than the prefix itself",
            ))?,
            false => n,
        };
        if len > self.limit() {
            return Err(FrameError::TooLong { limit: self.limit() as usize });
        }
        let len = len as usize; // at most `max`, a usize
        match input.get(header..header.saturating_add(len)) {
            Some(payload) => Ok(Some((payload, header + len))),
            None => Ok(None),
        }
    }
}

impl<T: Decoder + ?Sized> Decoder for &T {
    fn decode<'a>(&self, input: &'a [u8]) -> Decoded<'a> {
        (**self).decode(input)
    }
}

/// A data block of `len` bytes followed by `terminator` at the start of `input` (the part after
/// a line that announced `len`, as in memcached's `set` or RESP's `$len`): the block without
/// its terminator. [`FrameError::TooLong`] if `len` is over `max`, [`FrameError::Malformed`] if
/// the bytes after the block are not the terminator.
///
/// ```
/// use ioman::net::framing::{Decoder, Lines, block};
/// let input = b"set k 0 0 5\r\nhello\r\nget k\r\n";
/// let (line, used) = Lines::new(256).decode(input)?.unwrap();
/// let len: usize = std::str::from_utf8(line.rsplit(|&b| b == b' ').next().unwrap())?.parse()?;
/// let (data, n) = block(&input[used..], len, b"\r\n", 1 << 20)?.unwrap();
/// assert_eq!((data, used + n), (&b"hello"[..], 20));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn block<'a>(input: &'a [u8], len: usize, terminator: &[u8], max: usize) -> Decoded<'a> {
    if len > max {
        return Err(FrameError::TooLong { limit: max });
    }
    let total = len.saturating_add(terminator.len());
    let Some(frame) = input.get(..total) else {
        // What arrived of the terminator must already match.
        let tail = input.get(len..).unwrap_or_default();
        return match terminator.starts_with(tail) {
            true => Ok(None),
            false => Err(FrameError::Malformed("the data block is not followed by its terminator")),
        };
    };
    match frame.ends_with(terminator) {
        true => Ok(Some((&frame[..len], total))),
        false => Err(FrameError::Malformed("the data block is not followed by its terminator")),
    }
}

/// Appends a data block: `data` and `terminator` (the line announcing it is the caller's).
pub fn encode_block(data: &[u8], terminator: &[u8], out: &mut Outbox) {
    let v = out.vec();
    v.extend_from_slice(data);
    v.extend_from_slice(terminator);
}

/// The frames at the start of an input, one after another, with the bytes they used: iterate,
/// stop whenever you like (out of room, say), and return [`consumed`](Frames::consumed) from
/// `on_data`. Iteration ends at the first incomplete frame, or after the first error.
#[derive(Debug)]
pub struct Frames<'a, D> {
    decoder: D,
    input: &'a [u8],
    consumed: usize,
    failed: bool,
}

impl<'a, D: Decoder> Frames<'a, D> {
    /// Walks `input` with `decoder`.
    pub fn new(decoder: D, input: &'a [u8]) -> Frames<'a, D> {
        Frames { decoder, input, consumed: 0, failed: false }
    }

    /// Bytes taken by the frames returned so far (not by an error).
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    /// The input after the frames returned so far.
    pub fn rest(&self) -> &'a [u8] {
        &self.input[self.consumed..]
    }
}

impl<'a, D: Decoder> Iterator for Frames<'a, D> {
    type Item = Result<&'a [u8], FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.decoder.decode(self.rest()) {
            Ok(Some((frame, used))) => {
                self.consumed += used;
                Some(Ok(frame))
            }
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
