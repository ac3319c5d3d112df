//! Remembers, for the rest of one event-loop turn, what the cache's fast-path `stat` found for
//! a path, so that the requests of one busy turn share one `stat` per path instead of paying
//! one each (a `stat` of a short path costs about 2 µs on the benchmark machine, more than
//! the rest of answering a small cached request).
//!
//! Freshness: a memo is used only within the turn that made it, so a change to the file or to
//! any symlink or directory on its path that completed before a turn began is seen by every
//! request that turn answers; the window is at most the one turn being run (microseconds),
//! not a validity period as nginx's `open_file_cache_valid` (60 s by default). A site that is
//! never told the turn (the sans-IO tests) `stat`s on every request.

use super::files::Stamp;
use std::time::Instant;

/// At most this many paths are remembered per turn; beyond it, requests `stat` as without a
/// memo. Bounds the memo's memory and the cost of its linear lookup whatever paths one turn's
/// requests name.
pub const MAX_PATHS: usize = 64;

/// What one turn's `stat`s found, by relative path.
///
/// A short list searched in order, not a hash map: a turn names few paths, and the list's
/// path buffers are kept from turn to turn, so remembering a path allocates nothing once warm
/// (with one request per turn, a hash map's insert cost more than the lookup saved).
#[derive(Debug, Default)]
pub struct PeekMemo {
    /// The turn the memo belongs to (`None`: no turn told yet, nothing remembered).
    turn: Option<Instant>,
    /// Path buffers and their stamps; the first `used` belong to this turn (`None`: not a
    /// regular file, or no `stat`).
    paths: Vec<(Vec<u8>, Option<Stamp>)>,
    /// How many of `paths` this turn filled.
    used: usize,
}

impl PeekMemo {
    /// Starts the turn that began at `now` (the loop's turn time): if it is not the turn the
    /// memo belongs to, everything remembered is forgotten.
    pub fn enter_turn(&mut self, now: Instant) {
        if self.turn != Some(now) {
            self.turn = Some(now);
            self.used = 0;
        }
    }

    /// The stamp `relative` had when last peeked this turn, or `peek`'s answer now (then
    /// remembered, if a turn is known and there is room).
    pub fn stamp(
        &mut self,
        relative: &[u8],
        peek: impl FnOnce() -> Option<Stamp>,
    ) -> Option<Stamp> {
        if self.turn.is_none() {
            return peek();
        }
        let this_turn = self.paths.get(..self.used).unwrap_or_default();
        if let Some((_, stamp)) = this_turn.iter().find(|(path, _)| path == relative) {
            return *stamp;
        }
        let stamp = peek();
        if let Some((path, kept)) = self.paths.get_mut(self.used) {
            path.clear();
            path.extend_from_slice(relative);
            *kept = stamp;
            self.used += 1;
        } else if self.used < MAX_PATHS {
            self.paths.push((relative.to_vec(), stamp));
            self.used += 1;
        }
        stamp
    }

    /// How many paths are remembered now.
    pub fn len(&self) -> usize {
        self.used
    }

    /// Whether nothing is remembered now.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }
}
