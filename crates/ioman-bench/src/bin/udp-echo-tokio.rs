//! `udp-echo-tokio`: the UDP echo on tokio's `current_thread` runtime, the way tokio's own
//! UDP echo example is written: one task, `recv_from` then `send_to` per datagram.
//! `--listen ADDR` (default 127.0.0.1:0); SIGTERM ends it.
#![forbid(unsafe_code)]

use anyhow::{Context, Result};
use ioman_bench::server;
use tokio::net::UdpSocket;

fn main() -> Result<()> {
    let addr = server::listen_addr()?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    rt.block_on(async {
        let socket = UdpSocket::bind(addr).await.with_context(|| format!("bind {addr}"))?;
        server::announce(socket.local_addr()?)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let (n, from) = socket.recv_from(&mut buf).await.context("recv_from")?;
            let _ = socket.send_to(&buf[..n], from).await;
        }
    })
}
