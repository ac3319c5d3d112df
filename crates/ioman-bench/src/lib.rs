//! `ioman-bench`: the peers and the measuring stick for `cargo xtask bench`.
//!
//! This crate exists so that ioman is measured against fair, hand-written peers that live in
//! one place, share one load generator and are built with the same profile:
//!
//! - [`loadgen`]: a single-threaded echo client on ioman's own `Connector` and `Protocol`
//!   that keeps a fixed number of messages in flight per connection, verifies every echoed
//!   byte against a [`pattern`] and records round-trip latency in a fixed-bucket
//!   [`histogram`]; [`loadgen_epoll`] is the first one, on plain rustix epoll, kept to show
//!   the switch costs nothing;
//! - the binaries `echo-raw` (plain rustix epoll, the ceiling), `echo-mio`, `echo-tokio` and
//!   `pingpong-raw` (the dispatch-cost workload counted under callgrind), which share the
//!   small helpers in [`cli`] and [`server`];
//! - the binaries `pingpong-ioman` (the same workload through ioman-core),
//!   `ioman-bench-timers` (timer costs against a `BinaryHeap`) and `idle-conns` (memory per
//!   idle connection), which print [`record`]s for the harness.
//!
//! - [`udp_load`] (`udp-load`): the verifying UDP echo client, against `udp-echo-raw` (one
//!   `recvfrom`/`sendto` per datagram), `udp-echo-tokio` and ioman's `udp_echo` example.
//!
//! Nothing here is published; mio and tokio are dependencies of this crate only.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cli;
pub mod cpu;
pub mod histogram;
pub mod loadgen;
pub mod loadgen_epoll;
pub mod pattern;
pub mod pingpong;
pub mod record;
pub mod server;
pub mod udp_load;
