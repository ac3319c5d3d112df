//! The sans-IO core of the `memcached` example, a memcached text-protocol server: bytes in,
//! replies out into an ioman [`Outbox`](ioman::net::Outbox) (a queue of buffers with a room
//! mark and a cap, but no socket), no event loop; time is passed in explicitly.
//!
//! This file only declares the module tree so that the same code can be included from the
//! example's `server.rs` and from `tests/memcached_core.rs`
//! (`#[path = "../examples/memcached/proto.rs"] mod proto;`). The explicit `#[path]`s resolve
//! relative to this file's directory in both cases.

// The binary and the tests each use a different subset of this API.
#![allow(dead_code, reason = "shared by the example binary and its tests")]

#[path = "clock.rs"]
pub mod clock;
#[path = "commands.rs"]
pub mod commands;
#[path = "index.rs"]
pub mod index;
#[path = "item.rs"]
pub mod item;
#[path = "request.rs"]
pub mod request;
#[path = "simple.rs"]
pub mod simple;
#[path = "stats.rs"]
pub mod stats;
#[path = "store.rs"]
pub mod store;
