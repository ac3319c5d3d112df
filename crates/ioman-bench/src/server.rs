//! What every benchmark echo server shares: its command line (`--listen ADDR`), its
//! listening socket (127.0.0.1 only by default, a deep backlog) and the `listening on ADDR`
//! line the harness reads, so the servers differ only in their event loops.

use crate::cli::Flags;
use anyhow::{Context, Result};
use rustix::fd::OwnedFd;
use rustix::net::{self, AddressFamily, SocketAddrAny, SocketFlags, SocketType};
use std::io::Write;
use std::net::SocketAddr;

/// Buffer size every echo server reads into: 64 KiB per connection.
pub const BUF_SIZE: usize = 64 * 1024;

/// The listen backlog every server uses, so 1,000 simultaneous connects are not dropped.
pub const BACKLOG: i32 = 1024;

/// Parses the echo servers' command line: `--listen ADDR` (default `127.0.0.1:0`).
pub fn listen_addr() -> Result<SocketAddr> {
    let flags = Flags::parse(std::env::args().skip(1), &["listen"])?;
    flags.get("listen", SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// A non-blocking, close-on-exec TCP listener on `addr` with `SO_REUSEADDR` and
/// [`BACKLOG`], built with rustix so the raw server owns every syscall it makes.
pub fn listen(addr: SocketAddr) -> Result<OwnedFd> {
    let family = if addr.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let fd = net::socket_with(family, SocketType::STREAM, flags, None).context("socket")?;
    net::sockopt::set_socket_reuseaddr(&fd, true).context("SO_REUSEADDR")?;
    net::bind(&fd, &addr).with_context(|| format!("bind {addr}"))?;
    net::listen(&fd, BACKLOG).context("listen")?;
    Ok(fd)
}

/// The address a bound socket actually got (the port, when asked for port 0).
pub fn local_addr(fd: &OwnedFd) -> Result<SocketAddr> {
    let any: SocketAddrAny = net::getsockname(fd).context("getsockname")?;
    SocketAddr::try_from(any).map_err(|_| anyhow::anyhow!("listener has a non-IP address"))
}

/// Prints `listening on ADDR` as the first line of stdout and flushes it: the harness waits
/// for this line.
pub fn announce(addr: SocketAddr) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {addr}")?;
    out.flush()?;
    Ok(())
}
