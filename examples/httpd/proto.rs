//! The sans-IO core of the `httpd` example: bytes in, bytes out, no sockets and no event loop.
//!
//! This file only declares the module tree so that the same code can be included from the
//! example's `main.rs` (`mod proto;`) and from `tests/httpd_core.rs`
//! (`#[path = "../examples/httpd/proto.rs"] mod proto;`). The explicit `#[path]`s resolve
//! relative to this file's directory in both cases.

// The binary and the tests each use a different subset of this API.
#![allow(dead_code, reason = "shared by the example binary and its tests")]

#[path = "chunked.rs"]
pub mod chunked;
#[path = "conditional.rs"]
pub mod conditional;
#[path = "files.rs"]
pub mod files;
#[path = "http.rs"]
pub mod http;
#[path = "mime.rs"]
pub mod mime;
#[path = "path.rs"]
pub mod path;
#[path = "peeks.rs"]
pub mod peeks;
#[path = "range.rs"]
pub mod range;
#[path = "request.rs"]
pub mod request;
#[path = "response.rs"]
pub mod response;
#[path = "site.rs"]
pub mod site;
