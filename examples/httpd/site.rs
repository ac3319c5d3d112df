//! The shared, read-mostly configuration of the static-file server: what to serve and the limits
//! that protect it from hostile clients.

use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::files::{FileCache, Root, Stamp};
use super::peeks::PeekMemo;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// The page served at `/` and `/index.html` when no root directory is configured.
pub const WELCOME_PAGE: &str = "<!DOCTYPE html>
<html lang=\"en\">
<head><meta charset=\"utf-8\"><title>ioman httpd</title></head>
<body>
<h1>It works!</h1>
<p>This page is served by the <code>ioman</code> httpd example. Start it with a directory to
serve static files from there.</p>
</body>
</html>
";

/// Limits on what a client may send; every limit violation is answered and the connection
/// closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request head (request line + headers + blank line), in bytes. Default 8 KiB.
    pub max_head_bytes: usize,
    /// Most header fields in one request. Default 64; values above
    /// [`MAX_HEADERS_CAP`](super::http::MAX_HEADERS_CAP) act as that cap.
    pub max_headers: usize,
    /// Largest request body accepted, by `Content-Length` (413 before it is read) or decoded
    /// from `chunked` (the connection closes once past it). Bodies are read and discarded.
    /// Default 1 MiB.
    pub max_body_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_head_bytes: 8 * 1024, max_headers: 64, max_body_bytes: 1024 * 1024 }
    }
}

/// What the server serves, shared by all connections.
#[derive(Debug)]
pub struct Site {
    root: Option<Root>,
    limits: Limits,
    cache: Option<FileCache>,
    clock: fn() -> SystemTime,
    /// The cache's fast-path `stat`s of this loop turn (a mutex only to keep `Site` `Sync`;
    /// each loop has its own `Site`, so it is never contended).
    peeks: Mutex<PeekMemo>,
}

impl Site {
    /// A site without a root: the embedded [`WELCOME_PAGE`] at `/` and `/index.html`, 404
    /// elsewhere.
    pub fn welcome() -> Site {
        Site {
            root: None,
            limits: Limits::default(),
            cache: None,
            clock: SystemTime::now,
            peeks: Mutex::default(),
        }
    }

    /// A site serving the files under `root`, which must exist and be a directory. The path is
    /// resolved again for every request (see [`Root`]; a cached file's `stat` is shared by
    /// the requests of one loop turn, see [`PeekMemo`]): if it is a symlink that is swapped
    /// later, the new target is served from the next turn on.
    pub fn with_root(root: impl AsRef<Path>) -> io::Result<Site> {
        let root = Root::open(root.as_ref())?;
        Ok(Site { root: Some(root), ..Site::welcome() })
    }

    /// Replaces the clock the `Date` header (and the `Last-Modified` clamp) reads: tests
    /// use a fixed one so that responses can be compared byte for byte.
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Site {
        self.clock = clock;
        self
    }

    /// The time now, by the site's clock.
    pub fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: Limits) -> Site {
        self.limits = limits;
        self
    }

    /// Enables the in-memory file cache: files up to `max_file_bytes` are read once and kept,
    /// up to `max_total_bytes` in all, once unchanged for [`SETTLE`](super::files::SETTLE).
    /// Larger files are never read into memory (they are sent with `sendfile`), cached or not.
    pub fn with_cache(self, max_file_bytes: u64, max_total_bytes: u64) -> Site {
        self.with_cache_settle(max_file_bytes, max_total_bytes, super::files::SETTLE)
    }

    /// [`Self::with_cache`] with another settle time (tests use zero to cache files they
    /// have just written).
    pub fn with_cache_settle(mut self, max_file: u64, max_total: u64, settle: Duration) -> Site {
        self.cache = Some(FileCache::new(max_file, max_total).with_settle(settle));
        self
    }

    /// Tells the site that the loop turn which began at `now` is running (the connection does
    /// so before each delivery): within one turn, requests for the same path share one `stat`
    /// (see [`PeekMemo`]). A site never told `stat`s on every request.
    pub fn enter_turn(&mut self, now: Instant) {
        self.peeks.get_mut().unwrap_or_else(PoisonError::into_inner).enter_turn(now);
    }

    /// The stamp of the regular file `relative` names under the root now, as seen this turn
    /// ([`Root::peek`] through the turn's [`PeekMemo`]); `None` without a root.
    pub fn peek(&self, relative: &Path, scratch: &mut Vec<u8>) -> Option<Stamp> {
        use std::os::unix::ffi::OsStrExt;
        let root = self.root.as_ref()?;
        let mut peeks = self.peeks.lock().unwrap_or_else(PoisonError::into_inner);
        peeks.stamp(relative.as_os_str().as_bytes(), || root.peek(relative, scratch))
    }

    /// How many paths the current turn's memo holds (for tests).
    pub fn peeks_remembered(&self) -> usize {
        self.peeks.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// The root directory, or `None` for the welcome-page site.
    pub fn root(&self) -> Option<&Root> {
        self.root.as_ref()
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The file cache, if enabled.
    pub fn cache(&self) -> Option<&FileCache> {
        self.cache.as_ref()
    }
}
