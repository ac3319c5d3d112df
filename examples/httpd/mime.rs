//! Maps a file's extension to the `Content-Type` the server sends for it, with `mime_guess`'s
//! table (the one most Rust servers use) rather than a hand-kept list.
//!
//! Text types (`text/*`, and JavaScript under its older `application/` name) are declared UTF-8,
//! so browsers do not guess; anything unknown is `application/octet-stream`, so browsers download
//! rather than sniff.

use std::path::Path;

/// The type sent for files whose extension is unknown (or that have none).
pub const DEFAULT_TYPE: &str = "application/octet-stream";

/// A `Content-Type` value: a media type from `mime_guess`'s static table, and whether
/// `; charset=utf-8` follows it. Kept in two parts so that no response allocates for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentType {
    /// The media type, such as `text/html`.
    pub essence: &'static str,
    /// Whether `; charset=utf-8` is appended.
    pub utf8: bool,
}

impl ContentType {
    /// `text/html; charset=utf-8`: the welcome page.
    pub const HTML: ContentType = ContentType { essence: "text/html", utf8: true };
    /// `text/plain; charset=utf-8`: error and redirect bodies.
    pub const PLAIN: ContentType = ContentType { essence: "text/plain", utf8: true };

    /// The value as sent, e.g. `"text/css; charset=utf-8"` (allocates: for tests and logs).
    pub fn to_header_value(self) -> String {
        if self.utf8 { format!("{}; charset=utf-8", self.essence) } else { self.essence.to_owned() }
    }
}

/// Returns the `Content-Type` for `path`, chosen by its extension (case-insensitively).
pub fn content_type(path: &Path) -> ContentType {
    let essence = mime_guess::from_path(path).first_raw().unwrap_or(DEFAULT_TYPE);
    let utf8 = essence.starts_with("text/") || essence == "application/javascript";
    ContentType { essence, utf8 }
}
