//! Decodes (and discards) a `chunked` request body (RFC 9112 §7.1), a byte at a time across
//! any split of the input, so that a request with such a body can be answered and the
//! connection go on with the next request.
//!
//! Strict where smuggling lives: sizes are hex digits only (at most 16, no overflow), every line
//! ends in CRLF (a bare LF or a CR followed by anything else is an error), the data of a chunk
//! is followed by CRLF. Bounded: the decoded data may not exceed the body limit, a chunk
//! extension line is at most [`MAX_EXTENSION`] bytes, and the trailer section at most the head
//! limit; so however a client splits or pads a body, skipping it costs no memory and ends.

/// The longest chunk-size line extension (`;name=value...`) accepted.
pub const MAX_EXTENSION: usize = 4096;

/// Why a chunked body was refused: the connection is closed (the response to its request has
/// already been written, and no other framing can be trusted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkedError {
    /// Not valid chunked syntax.
    Malformed,
    /// More data than the body limit, or an overlong extension or trailer section.
    TooLarge,
}

/// The outcome of one [`ChunkedBody::skip`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skipped {
    /// All input was consumed and the body goes on.
    NeedMore,
    /// The body ended after this many input bytes; what follows is the next request.
    Done(usize),
    /// The body is malformed or too large.
    Error(ChunkedError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading the chunk size's hex digits.
    Size {
        value: u64,
        digits: u8,
    },
    /// Whitespace after the size, which must lead to a `;`.
    SizeBws,
    /// Skipping a chunk extension up to its CR.
    Extension,
    /// After the size line's CR.
    SizeLf {
        value: u64,
    },
    /// Skipping this many data bytes.
    Data(u64),
    /// After a chunk's data: CR, then LF.
    DataCr,
    DataLf,
    /// At the start of a trailer line (or the final CRLF).
    TrailerStart,
    /// Inside a trailer field line.
    Trailer,
    /// After a trailer line's CR.
    TrailerLf,
    /// After the final CR.
    FinalLf,
}

/// The state of one chunked body being skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkedBody {
    state: State,
    /// Data bytes declared so far (counted when a size line ends).
    data: u64,
    max_data: u64,
    /// Bytes of the current extension, or of the trailer section.
    line: usize,
    max_trailer: usize,
    /// The size of the chunk whose extension is being skipped.
    pending: u64,
}

impl ChunkedBody {
    /// A body at its start, allowed `max_data` bytes of data and a trailer section of
    /// `max_trailer` bytes.
    pub fn new(max_data: u64, max_trailer: usize) -> ChunkedBody {
        ChunkedBody {
            state: State::Size { value: 0, digits: 0 },
            data: 0,
            max_data,
            line: 0,
            max_trailer,
            pending: 0,
        }
    }

    /// Skips what `input` holds of the body.
    pub fn skip(&mut self, input: &[u8]) -> Skipped {
        let mut pos = 0;
        while pos < input.len() {
            if let State::Data(left) = self.state {
                let available = (input.len() - pos) as u64;
                let take = left.min(available);
                pos += take as usize; // at most the input's length
                self.state = if take == left { State::DataCr } else { State::Data(left - take) };
                continue;
            }
            let Some(&byte) = input.get(pos) else { break };
            pos += 1;
            match self.step(byte) {
                Ok(true) => return Skipped::Done(pos),
                Ok(false) => {}
                Err(err) => return Skipped::Error(err),
            }
        }
        Skipped::NeedMore
    }

    /// Takes one byte outside chunk data; `Ok(true)` when the body is complete.
    fn step(&mut self, byte: u8) -> Result<bool, ChunkedError> {
        use ChunkedError::{Malformed, TooLarge};
        self.state = match self.state {
            State::Size { value, digits } => match (byte, hex(byte)) {
                (_, Some(digit)) if digits < 16 => {
                    State::Size { value: value << 4 | u64::from(digit), digits: digits + 1 }
                }
                (_, Some(_)) => return Err(TooLarge),
                (b';', None) if digits > 0 => {
                    self.line = 0;
                    self.pending_size(value)?;
                    State::Extension
                }
                (b' ' | b'\t', None) if digits > 0 => {
                    self.line = 0;
                    self.pending_size(value)?;
                    State::SizeBws
                }
                (b'\r', None) if digits > 0 => State::SizeLf { value },
                _ => return Err(Malformed),
            },
            State::SizeBws => match byte {
                b' ' | b'\t' | b';' => {
                    self.line += 1;
                    if self.line > MAX_EXTENSION {
                        return Err(TooLarge);
                    }
                    if byte == b';' { State::Extension } else { State::SizeBws }
                }
                _ => return Err(Malformed),
            },
            State::Extension => match byte {
                b'\r' => State::SizeLf { value: self.extension_size() },
                b'\n' | 0 => return Err(Malformed),
                _ => {
                    self.line += 1;
                    if self.line > MAX_EXTENSION {
                        return Err(TooLarge);
                    }
                    State::Extension
                }
            },
            State::SizeLf { value } => {
                if byte != b'\n' {
                    return Err(Malformed);
                }
                self.data = self.data.checked_add(value).ok_or(TooLarge)?;
                if self.data > self.max_data {
                    return Err(TooLarge);
                }
                if value == 0 {
                    self.line = 0;
                    State::TrailerStart
                } else {
                    State::Data(value)
                }
            }
            State::Data(_) => return Err(Malformed), // handled by `skip`
            State::DataCr if byte == b'\r' => State::DataLf,
            State::DataLf if byte == b'\n' => State::Size { value: 0, digits: 0 },
            State::DataCr | State::DataLf => return Err(Malformed),
            State::TrailerStart if byte == b'\r' => State::FinalLf,
            State::TrailerStart | State::Trailer => match byte {
                b'\r' => State::TrailerLf,
                b'\n' | 0 => return Err(Malformed),
                _ => {
                    self.line += 1;
                    if self.line > self.max_trailer {
                        return Err(TooLarge);
                    }
                    State::Trailer
                }
            },
            State::TrailerLf if byte == b'\n' => State::TrailerStart,
            State::FinalLf if byte == b'\n' => return Ok(true),
            State::TrailerLf | State::FinalLf => return Err(Malformed),
        };
        Ok(false)
    }

    /// Remembers the size of a chunk whose extension is being skipped.
    fn pending_size(&mut self, value: u64) -> Result<(), ChunkedError> {
        if value > self.max_data.saturating_sub(self.data) {
            return Err(ChunkedError::TooLarge);
        }
        self.pending = value;
        Ok(())
    }

    fn extension_size(&self) -> u64 {
        self.pending
    }
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}
