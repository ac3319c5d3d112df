//! What the ping-pong dispatch workloads (`pingpong-raw`, `pingpong-mio`, `pingpong-ioman`,
//! `pingpong-calloop`, `pingpong-net`) share: the command line and the non-blocking socketpairs
//! they bounce one byte over, so that they differ only in their event loops.
//!
//! With `--pairs 1` every wait returns one event, so a figure per event is the whole cost of a
//! turn. With `--pairs 64`, 64 bytes are in flight on 64 pairs and a wait returns up to 64
//! events: the per-turn work (interest flush, clock, timer check, wakes, jobs) is shared by
//! them, and the difference between the two figures is what a turn costs on its own.

use crate::cli::Flags;
use anyhow::{Context, Result, ensure};
use rustix::fd::OwnedFd;
use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};

/// The workload's command line.
#[derive(Clone, Copy, Debug)]
pub struct Args {
    /// `--events N` (default 100,000): how many events to dispatch; at least 1. A binary stops
    /// counting (and writing back) at exactly this many.
    pub events: u64,
    /// `--pairs P` (default 1, at most 1,024): how many socketpairs carry a byte at once.
    pub pairs: usize,
}

/// Parses `--events N --pairs P`.
pub fn args() -> Result<Args> {
    let flags = Flags::parse(std::env::args().skip(1), &["events", "pairs"])?;
    let events: u64 = flags.get("events", 100_000)?;
    let pairs: usize = flags.get("pairs", 1)?;
    ensure!(events > 0, "--events must be positive");
    ensure!((1..=1024).contains(&pairs), "--pairs must be in 1..=1024");
    Ok(Args { events, pairs })
}

/// A connected, non-blocking, close-on-exec Unix stream socket pair.
pub fn pair() -> Result<(OwnedFd, OwnedFd)> {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    socketpair(AddressFamily::UNIX, SocketType::STREAM, flags, None).context("socketpair")
}

/// `pairs` socketpairs, each as its two ends.
pub fn pairs(pairs: usize) -> Result<Vec<(OwnedFd, OwnedFd)>> {
    (0..pairs).map(|_| pair()).collect()
}
