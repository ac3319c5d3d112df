//! What the ping-pong dispatch workloads (`pingpong-raw`, `pingpong-ioman`, `pingpong-net`)
//! share: the `--events N` command line and the non-blocking socketpair both ends bounce one
//! byte over, so they differ only in their event loops.

use crate::cli::Flags;
use anyhow::{Context, Result, ensure};
use rustix::fd::OwnedFd;
use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};

/// `--events N` (default 100,000): how many events the workload runs; at least 1.
pub fn events() -> Result<u64> {
    let flags = Flags::parse(std::env::args().skip(1), &["events"])?;
    let target: u64 = flags.get("events", 100_000)?;
    ensure!(target > 0, "--events must be positive");
    Ok(target)
}

/// A connected, non-blocking, close-on-exec Unix stream socket pair.
pub fn pair() -> Result<(OwnedFd, OwnedFd)> {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    socketpair(AddressFamily::UNIX, SocketType::STREAM, flags, None).context("socketpair")
}
