//! The bytes every load-generator message carries, chosen so that any corrupt, lost,
//! duplicated or reordered byte is detected by comparing slices.
//!
//! The pattern is the sequence `0, 1, 2, ..., 250, 0, 1, ...` (period 251, a prime). Message
//! `seq` of connection `conn` is the `size` bytes starting at offset `(seq + 7 * conn) % 251`,
//! so consecutive messages differ, a shifted or dropped byte breaks the run, and two messages
//! can only look alike if they are 251 apart, more than any pipeline keeps in flight
//! ([`MAX_DEPTH`]). Checking and generating are plain `memcmp`/`memcpy` over one shared
//! buffer: nothing is allocated per message.

/// The period of the pattern.
const PERIOD: usize = 251;

/// The deepest pipeline the pattern can police: two messages in flight are never alike.
pub const MAX_DEPTH: usize = PERIOD - 1;

/// The shared source of every message's bytes for one message size.
#[derive(Debug, Clone)]
pub struct Pattern {
    bytes: Vec<u8>,
    size: usize,
}

impl Pattern {
    /// The pattern for messages of `size` bytes.
    pub fn new(size: usize) -> Pattern {
        let bytes = (0..size + PERIOD).map(|i| (i % PERIOD) as u8).collect();
        Pattern { bytes, size }
    }

    /// The message size.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The exact bytes of message `seq` on connection `conn`.
    #[inline]
    pub fn message(&self, conn: u64, seq: u64) -> &[u8] {
        let start = (seq.wrapping_add(conn.wrapping_mul(7)) % PERIOD as u64) as usize;
        &self.bytes[start..start + self.size]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_in_flight_never_repeat() {
        let p = Pattern::new(64);
        for a in 0..MAX_DEPTH as u64 {
            for b in a + 1..=MAX_DEPTH as u64 {
                assert_ne!(p.message(3, a), p.message(3, b));
            }
        }
        assert_eq!(p.message(0, 0).len(), 64);
    }

    #[test]
    fn one_byte_messages_differ_between_neighbours() {
        let p = Pattern::new(1);
        assert_ne!(p.message(0, 0), p.message(0, 1));
    }
}
