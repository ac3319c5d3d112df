//! The sans-IO core of the `kv` example, a RESP2 key-value server: bytes in, replies out into
//! an ioman [`Outbox`](ioman::net::Outbox) (a queue of buffers, with a room mark and a cap, but
//! no socket), no event loop; time is passed in explicitly.
//!
//! This file only declares the module tree so that the same code can be included from the
//! example's `main.rs` (`mod proto;`) and from `tests/kv_core.rs`
//! (`#[path = "../examples/kv/proto.rs"] mod proto;`). The explicit `#[path]`s resolve
//! relative to this file's directory in both cases.

// The binary and the tests each use a different subset of this API.
#![allow(dead_code, reason = "shared by the example binary and its tests")]

#[path = "admin.rs"]
pub mod admin;
#[path = "commands.rs"]
pub mod commands;
#[path = "expiry.rs"]
pub mod expiry;
#[path = "float.rs"]
pub mod float;
#[path = "glob.rs"]
pub mod glob;
#[path = "info.rs"]
pub mod info;
#[path = "keyspace.rs"]
pub mod keyspace;
#[path = "resp.rs"]
pub mod resp;
#[path = "store.rs"]
pub mod store;
#[path = "strings.rs"]
pub mod strings;
