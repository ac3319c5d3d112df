//! The shared, read-mostly configuration of the static-file server: what to serve and the limits
//! that protect it from hostile clients.

use std::io;
use std::path::{Path, PathBuf};

use super::files::FileCache;

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
    /// Largest `Content-Length` accepted (the body is read and discarded). Default 1 MiB.
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
    root: Option<PathBuf>,
    limits: Limits,
    cache: Option<FileCache>,
}

impl Site {
    /// A site without a root: the embedded [`WELCOME_PAGE`] at `/` and `/index.html`, 404
    /// elsewhere.
    pub fn welcome() -> Site {
        Site { root: None, limits: Limits::default(), cache: None }
    }

    /// A site serving the files under `root`, which is canonicalized now (so it must exist and
    /// be a directory).
    pub fn with_root(root: impl AsRef<Path>) -> io::Result<Site> {
        let root = std::fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "site root is not a directory",
            ));
        }
        Ok(Site { root: Some(root), limits: Limits::default(), cache: None })
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: Limits) -> Site {
        self.limits = limits;
        self
    }

    /// Enables the in-memory file cache: files up to `max_file_bytes` are read once and kept,
    /// up to `max_total_bytes` in all. Larger files are never read into memory (they are sent
    /// with `sendfile`), cached or not.
    pub fn with_cache(mut self, max_file_bytes: u64, max_total_bytes: u64) -> Site {
        self.cache = Some(FileCache::new(max_file_bytes, max_total_bytes));
        self
    }

    /// The canonical root directory, or `None` for the welcome-page site.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
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
