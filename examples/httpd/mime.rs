//! Maps a file's extension to the `Content-Type` the server sends for it.
//!
//! A short fixed table is enough for a static-file example; anything unknown is served as
//! `application/octet-stream` so browsers download rather than guess.

use std::path::Path;

/// The type sent for extensions that are not in the table.
pub const DEFAULT_TYPE: &str = "application/octet-stream";

const TABLE: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("json", "application/json"),
    ("txt", "text/plain; charset=utf-8"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("svg", "image/svg+xml"),
    ("ico", "image/x-icon"),
    ("wasm", "application/wasm"),
    ("pdf", "application/pdf"),
];

/// Returns the `Content-Type` for `path`, chosen by its extension (case-insensitively).
pub fn content_type(path: &Path) -> &'static str {
    let Some(ext) = path.extension().and_then(|ext| ext.to_str()) else {
        return DEFAULT_TYPE;
    };
    TABLE
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(ext))
        .map_or(DEFAULT_TYPE, |&(_, mime)| mime)
}
