//! `udp-echo-raw`: the baseline for datagrams. A plain rustix loop on one blocking UDP
//! socket: one `recvfrom` and one `sendto` per datagram, no batching, no framework — what a
//! hand-written UDP server usually is. Single thread. `--listen ADDR` (default
//! 127.0.0.1:0); SIGTERM ends it.
#![forbid(unsafe_code)]

use anyhow::{Context, Result};
use ioman_bench::server;
use rustix::io::Errno;
use rustix::net::{self, AddressFamily, RecvFlags, SendFlags, SocketType};

fn main() -> Result<()> {
    let addr = server::listen_addr()?;
    let family = if addr.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
    let fd = net::socket(family, SocketType::DGRAM, None).context("socket")?;
    net::bind(&fd, &addr).with_context(|| format!("bind {addr}"))?;
    server::announce(server::local_addr(&fd)?)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let (n, _, from) = match net::recvfrom(&fd, &mut buf, RecvFlags::empty()) {
            Ok(got) => got,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e).context("recvfrom"),
        };
        let Some(from) = from else { continue };
        // A send that fails (the client went away) drops that datagram, as UDP does.
        let _ = net::sendto(&fd, &buf[..n], SendFlags::empty(), &from);
    }
}
