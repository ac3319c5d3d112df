//! `ioman`: one place that owns every file descriptor of a program, waits on them with epoll
//! and calls the right [`Handler`] reaction: read, write, timeout, error.
//!
//! This facade re-exports the workspace's crates: [`ioman_core`] (the [`Manager`] and the
//! [`Handler`] trait), [`ioman_net`] (listeners and buffered connections) and [`ioman_sys`] (the
//! safe epoll layer). See README.md for a tour and ARCHITECTURE.md for the invariants.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use ioman_core::*;
pub use ioman_net as net;
pub use ioman_sys as sys;

/// README.md's code, compiled as doctests so the front page cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
